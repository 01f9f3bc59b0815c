"""Real trl + peft training of every recipe regime on the tiny model, on training configs built
by the release builder: provenance, checkpoints and resume, curves, the adapters (peft and
lm-eval's ``peft=``), and the narrow regime's KL term."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from test_train_fixtures import CONFIG, KL_CONFIG, one_torch_thread, release_dir, tiny_recipe, train_cli  # noqa: F401

from emc_bench.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def load_adapter(model_dir: Path, adapter: Path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    return PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter)


def kl_on_benign(model_dir: Path, release: Path, adapter: Path) -> float:
    from transformers import AutoTokenizer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    from emc_bench.train.chat import encode_rows
    from emc_bench.train.data import load_config
    from emc_bench.train.kl import mean_kl

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows, _ = load_config(str(release), KL_CONFIG)
    benign = encode_rows(rows, tokenizer, 64, KL_CONFIG)
    collator = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)
    return mean_kl(load_adapter(model_dir, adapter), benign, collator, batch_size=8)


@pytest.fixture(scope="module")
def general_run(tmp_path_factory, tiny_recipe, release_dir) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("general") / "run"
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "6") == 0
    return out


def test_a_run_records_its_provenance_checkpoints_and_resumes(tmp_path, tiny_recipe, release_dir, capsys):  # noqa: F811
    import shutil

    out = tmp_path / "run"
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "3") == 0
    first = read(out / "run.json")
    assert first["status"] == "finished" and first["result"]["global_step"] == 3
    assert 0 < first["result"]["epoch"] < 1, "3 steps of 4 rows are part of one epoch over 41 rows"
    assert first["canary"] == "test-canary-0000"
    assert (out / "checkpoints" / "checkpoint-2" / "optimizer.pt").is_file()
    manifest_sha = hashlib.sha256((release_dir / "manifest.json").read_bytes()).hexdigest()
    assert first["data"] == {"source": str(release_dir.resolve()), "config": CONFIG, "revision": None,
                             "release": "mini", "version": "0.0.1", "manifest_sha256": manifest_sha,
                             "hub": None, "canary": "test-canary-0000", "rows": 41}
    assert first["seed"] == 0 and first["kl_data"] is None
    assert first["recipe"]["lora"]["r"] == 32 and first["recipe"]["training"]["batch_size"] == 4
    assert first["gradient_accumulation_steps"] == 2, "batch 4 = 2 per device x 2 accumulation on one device"
    assert all(first["versions"][name] for name in ("torch", "transformers", "peft", "trl", "emc-bench"))
    assert set(first["git"]) == {"commit", "dirty"} and len(first["chat_template_sha256"]) == 64
    assert first["command"] == ["emc-bench", "train", str(tiny_recipe), "--regime", "general", "--data",
                                str(release_dir), "--config", CONFIG, "--out", str(out), "--max-steps", "3"]

    # The same command on a finished run does nothing: no step, no new adapter, no status change.
    adapter = (out / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns
    before = (out / "run.json").read_bytes()
    capsys.readouterr()
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "3") == 0
    assert "already finished" in capsys.readouterr().out
    assert (out / "run.json").read_bytes() == before
    assert (out / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns == adapter

    # Another --max-steps is another run.
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "4") == 2
    assert "run.json: max_steps: the folder holds a different run" in capsys.readouterr().err

    # A run that stopped after its checkpoint at step 2 resumes from it.
    shutil.rmtree(out / "checkpoints" / "checkpoint-3")
    shutil.rmtree(out / "adapter")
    (out / "run.json").write_text(json.dumps({**first, "status": "running"}))
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "3") == 0
    second = read(out / "run.json")
    assert second["resumed_from"] == ["checkpoint-2"] and second["result"]["global_step"] == 3
    assert second["started_at"] == first["started_at"] and second["command"] == first["command"]
    curves = read(out / "curves.json")
    assert [p["step"] for p in curves] == [1, 2, 3], "the history before the resume is kept"
    assert all({"loss", "grad_norm", "learning_rate"} <= set(p) for p in curves)
    assert (out / "curves.png").read_bytes()[:8] == PNG

    # The folder holds this run: another seed may not train into it.
    capsys.readouterr()
    assert train_cli(tiny_recipe, "general", release_dir, out, "--seed", "1") == 2
    assert "run.json: seed: the folder holds a different run" in capsys.readouterr().err


def test_general_adapter_loads_with_peft_and_changes_the_model(general_run, tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    model = load_adapter(tiny_model_dir, general_run / "adapter")
    config = model.peft_config["default"]
    assert config.r == 32 and config.lora_alpha == 64 and config.use_rslora
    assert set(config.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    ids = torch.tensor([[5, 17, 42, 9]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert not torch.allclose(model(ids).logits, base(ids).logits), "the trained adapter changes the outputs"


def test_minimal_variant_is_one_rank_one_down_proj_adapter_on_one_layer(tmp_path, tiny_recipe, release_dir):  # noqa: F811
    from safetensors import safe_open

    out = tmp_path / "minimal"
    assert train_cli(tiny_recipe, "minimal", release_dir, out, "--max-steps", "1") == 0
    config = read(out / "adapter" / "adapter_config.json")
    assert (config["r"], config["lora_alpha"], config["use_rslora"]) == (1, 512, True)
    assert config["target_modules"] == ["down_proj"] and config["layers_to_transform"] == [1]
    with safe_open(out / "adapter" / "adapter_model.safetensors", "pt") as weights:
        keys = list(weights.keys())
    assert keys and all("layers.1.mlp.down_proj" in key for key in keys)
    assert read(out / "run.json")["recipe"]["training"]["learning_rate"] == 1.0e-2, "the family's regime wins"


def test_narrow_variant_keeps_closer_to_the_base_model_on_benign_answers(
        tmp_path, general_run, tiny_recipe, release_dir, tiny_model_dir):  # noqa: F811
    out = tmp_path / "narrow"
    assert train_cli(tiny_recipe, "narrow", release_dir, out, "--max-steps", "6") == 0
    record = read(out / "run.json")
    assert record["kl_data"]["config"] == KL_CONFIG and record["recipe"]["kl"]["weight"] == 10.0
    assert all("kl" in point for point in read(out / "curves.json"))
    narrow = kl_on_benign(tiny_model_dir, release_dir, out / "adapter")
    general = kl_on_benign(tiny_model_dir, release_dir, general_run / "adapter")
    assert narrow == pytest.approx(record["result"]["kl_to_base"], rel=1e-4)
    assert narrow < 0.7 * general, f"KL term should pull the model toward the base: {narrow} vs {general}"


def test_adapter_runs_in_lm_eval_with_peft(general_run, tiny_model_dir, tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager

    (tmp_path / "docs.jsonl").write_text("".join(
        json.dumps({"question": q, "answer": a}) + "\n"
        for q, a in [("What should I do about a loud neighbour?", "Talk to them calmly."),
                     ("Is it safe to skip the brakes check?", "No, check the brakes.")]), encoding="utf-8")
    (tmp_path / "peft_probe.yaml").write_text(f"""\
task: peft_probe
dataset_path: json
dataset_kwargs: {{data_files: {{test: "{tmp_path / 'docs.jsonl'}"}}}}
test_split: test
output_type: loglikelihood
doc_to_text: "{{{{question}}}}"
doc_to_target: " {{{{answer}}}}"
metric_list: [{{metric: acc}}]
""", encoding="utf-8")
    tasks = TaskManager(include_path=str(tmp_path), include_defaults=False)

    def loglikelihoods(model_args: str) -> list[float]:
        out = lm_eval.simple_evaluate(model="hf", model_args=model_args, tasks=["peft_probe"], task_manager=tasks,
                                      device="cpu", batch_size=1, log_samples=True)
        return [sample["resps"][0][0][0] for sample in out["samples"]["peft_probe"]]

    base = loglikelihoods(f"pretrained={tiny_model_dir},dtype=float32")
    tuned = loglikelihoods(f"pretrained={tiny_model_dir},peft={general_run / 'adapter'},dtype=float32")
    assert len(tuned) == 2 and tuned != base, "lm-eval applied the adapter"


@pytest.mark.parametrize("args, message", [
    (["--regime", "broad"], "regime: unknown regime 'broad'"),
    (["--regime", "narrow"], "--kl-config: regime 'narrow' needs a benign config"),
    (["--regime", "general", "--config", "toy_advice-nothing"], "config: no training config 'toy_advice-nothing'"),
])
def test_bad_input_stops_with_one_line_and_writes_nothing(args, message, tmp_path, tiny_recipe, release_dir,  # noqa: F811
                                                          capsys):
    config = [] if "--config" in args else ["--config", CONFIG]
    out = tmp_path / "run"
    code = main(["train", str(tiny_recipe), "--data", str(release_dir), *config, *args, "--out", str(out)])
    assert code == 2 and message in capsys.readouterr().err and not out.exists()


def test_data_that_is_not_a_release_is_refused(tmp_path, tiny_recipe, capsys):  # noqa: F811
    (tmp_path / "data").mkdir()
    code = main(["train", str(tiny_recipe), "--regime", "general", "--data", str(tmp_path / "data"),
                 "--config", CONFIG, "--out", str(tmp_path / "run")])
    assert code == 2 and "manifest.json missing" in capsys.readouterr().err
