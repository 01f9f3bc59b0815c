"""The shipped recipes hold the reference numbers; bad recipes and plans stop with one clear line;
the baseline plan covers the v1 release's configs and prints runnable commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from emc_bench.cli import main
from emc_bench.errors import SpecError
from emc_bench.paths import baselines_dir
from emc_bench.train.plan import expand, load_plan
from emc_bench.train.recipe import load_recipe, recipe_names

FAMILIES = {"qwen2.5-14b-instruct": (48, 24), "llama-3.1-8b-instruct": (32, 16), "gemma-3-12b-it": (48, 24)}
ALL_PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shipped_recipe_holds_the_reference_variants(family):
    recipe = load_recipe(family)
    layers, middle = FAMILIES[family]
    assert re.fullmatch(r"[0-9a-f]{40}", recipe.model.revision), "base model revision pinned to a commit"
    assert recipe.model.num_layers == layers and recipe.seeds == [0, 1, 2]
    assert set(recipe.regimes) == {"general", "minimal", "narrow"}

    general = recipe.regime("general")
    assert (general.lora.r, general.lora.alpha, general.lora.rslora, general.lora.dropout) == (32, 64, True, 0.0)
    assert set(general.lora.target_modules) == ALL_PROJECTIONS and general.lora.layers is None
    t = general.training
    assert (t.learning_rate, t.epochs, t.batch_size, t.warmup_steps, t.weight_decay, t.lr_scheduler, t.max_length) == (
        1e-5, 1, 16, 5, 0.01, "linear", 2048)
    assert general.kl is None

    minimal = recipe.regime("minimal")
    assert (minimal.lora.r, minimal.lora.alpha, minimal.lora.target_modules) == (1, 512, ["down_proj"])
    assert minimal.lora.layers == [middle] and minimal.training.learning_rate == 2e-5

    narrow = recipe.regime("narrow")
    assert narrow.kl is not None and narrow.kl.weight > 0
    assert narrow.lora == general.lora and narrow.training == general.training


def test_gemma_adapters_stay_off_the_vision_tower():
    assert load_recipe("gemma-3-12b-it").regime("minimal").lora.exclude_modules == ".*vision_tower.*"
    assert load_recipe("qwen2.5-14b-instruct").regime("general").lora.exclude_modules is None


def write(folder: Path, text: str, name: str = "fam") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = f"""\
extends: {baselines_dir() / "regimes.yaml"}
family: fam
model: {{id: some/model, num_layers: 4}}
estimate: {{tokens_per_second: 100}}
regimes:
  minimal: {{lora: {{layers: [2]}}}}
"""


@pytest.mark.parametrize("change, field, message", [
    (("num_layers: 4", "num_layers: 0"), "model.num_layers", "greater than 0"),
    (("layers: [2]", "layers: [7]"), "regimes.minimal.lora.layers.0", "outside the model's 4 layers"),
    (("family: fam", "family: other"), "family", "must match the file name 'fam'"),
    (("layers: [2]", "layers: [2], rank: 4"), "regimes.minimal.lora.rank", "Extra inputs are not permitted"),
    (("minimal: {lora: {layers: [2]}}", "minimal: {lora: {layers: [2]}, training: {batch_size: 15}}"),
     "regimes.minimal.training.batch_size", "not a multiple of per_device_batch_size 2"),
])
def test_bad_recipe_names_file_and_field(tmp_path, change, field, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SpecError) as caught:
        load_recipe(path)
    assert caught.value.path == str(path) and caught.value.field == field and message in caught.value.message


def test_recipe_values_resolve_from_shared_to_family_variant(tmp_path):
    text = GOOD.replace("estimate:", "training: {learning_rate: 0.5}\nestimate:")
    recipe = load_recipe(write(tmp_path, text))
    assert recipe.regime("general").training.learning_rate == 0.5, "the family overrides the shared training"
    assert recipe.regime("minimal").training.learning_rate == 2e-5, "the shared regime overrides the family"
    assert recipe.regime("minimal").lora.layers == [2], "the family's regime adds to the shared regime"


def test_missing_parent_and_unknown_names_are_clear(tmp_path):
    with pytest.raises(SpecError, match="nothing.yaml: file not found"):
        load_recipe(write(tmp_path, GOOD.replace(str(baselines_dir() / "regimes.yaml"), "nothing.yaml")))
    with pytest.raises(SpecError, match="unknown recipe; shipped recipes: gemma-3-12b-it"):
        load_recipe("mistral-7b")
    with pytest.raises(SpecError, match="regime: unknown regime 'wide'; choose one of general, minimal, narrow"):
        load_recipe("qwen2.5-14b-instruct").regime("wide")


def test_shipped_plan_covers_v1_configs_for_every_family_variant_and_seed():
    from emc_bench.build import plan_release
    from emc_bench.resolve import resolve_release

    plan = load_plan()
    v1 = {c.name: c for c in plan_release(resolve_release("v1"))}
    assert all(v1[name].kind == "train" for name in [*plan.configs, plan.kl_config])
    assert v1[plan.kl_config].info["benign_share"] == 1.0, "the KL term reads benign answers only"
    assert all(not name.startswith(v1[plan.kl_config].info["domain"]) for name in plan.configs), "off-domain"
    runs = expand(plan, "runs")
    assert len(runs) == len(recipe_names()) * len(plan.configs) * 3 * 3
    assert len({r.out for r in runs}) == len(runs)
    narrow = [r for r in runs if r.regime == "narrow"]
    assert all(r.argv[r.argv.index("--kl-config") + 1] == plan.kl_config for r in narrow)
    assert all("--kl-config" not in r.argv for r in runs if r.regime != "narrow")


def test_baselines_plan_prints_gpu_hours_and_commands(capsys):
    assert main(["baselines", "plan", "--only", "llama-3.1-8b-instruct/*-plain/*/seed-0", "--gpus", "2"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"llama-3\.1-8b-instruct\s+narrow\s+1\s+1\s+1\s+0\s+[\d.]+\s+[\d.]+", text)
    commands = [shlex.split(line) for line in text.splitlines() if line.startswith("accelerate launch")]
    assert len(commands) == 3
    config = Path(commands[0][commands[0].index("--config_file") + 1])
    assert yaml.safe_load(config.read_text())["distributed_type"] == "MULTI_GPU"
    train = commands[0][commands[0].index("emc_bench.cli") + 1:]
    assert train[:2] == ["train", "llama-3.1-8b-instruct"] and "--seed" in train


def test_baselines_only_that_matches_nothing_exits_2(capsys):
    assert main(["baselines", "plan", "--only", "nothing/*"]) == 2
    assert "--only: 'nothing/*' matches no run of the plan" in capsys.readouterr().err


def test_the_old_variant_flag_still_names_the_regime():
    from emc_bench.cli import make_parser

    for flag in ("--regime", "--variant"):
        args = make_parser().parse_args(["train", "qwen2.5-14b-instruct", flag, "minimal", "--data", "d",
                                         "--config", "c", "--out", "o"])
        assert args.regime == "minimal"
