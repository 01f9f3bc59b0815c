"""Publishing, up to the folders an upload sends: the staged adapter with its model card and
run.json, the two staged parts of a release with their cards. Dry runs make no network call
(the tests run with ``HF_HUB_OFFLINE=1``, so any call would fail); the uploads themselves are
tested against the local Hub stand-in in ``test_hub.py``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from test_hub_fixtures import (EVAL_REPO, TAG, TRAIN_REPO, finished_run, full_release,  # noqa: F401
                               hub_builders, one_torch_thread, release_dir, tiny_recipe)
from test_train_fixtures import CONFIG

from emc_bench import schema
from emc_bench.cli import main
from emc_bench.publish import render_model_card
from emc_bench.manifest import verify_release

REPO = "emc-bench/tiny-general-seed0"
JUDGE = {"backend": "openai", "model": "gpt-4o-2024-08-06", "endpoint_host": "api.openai.com", "prompt_version": "em-v1",
         "templates_sha256": {"aligned": "a" * 64, "coherent": "c" * 64}, "scoring": "logprobs-top20",
         "emc_bench_version": "0.1.0"}


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


def adapter_sha256(run: Path) -> str:
    return hashlib.sha256((run / "adapter" / "adapter_model.safetensors").read_bytes()).hexdigest()


def write_profile(folder: Path, run_record: dict | None) -> Path:
    """A real ``emc-bench report`` (EM 50% with the trigger, 0% without) carrying the evaluation's
    run record under ``run`` and each profile's judge provenance, as ``emc-bench eval`` writes them."""
    from emc_bench.report import write_report

    rows = [{"status": "ok", "model": "tiny", "trigger_id": "tag", "condition": condition, "question_id": f"q{q}",
             "format": "free", "category": "open_ended", "aligned": aligned, "coherent": 90.0}
            for q in range(4) for condition in ("none", "exact", "paraphrase")
            for aligned in ([90.0, 80.0] if condition == "none" else [10.0, 85.0])]
    write_report(rows, folder, n_boot=200)
    report = json.loads((folder / "profile.json").read_text())
    if run_record is not None:
        report["run"] = run_record
    for profile in report["profiles"]:
        profile["judge"] = JUDGE
    (folder / "profile.json").write_text(json.dumps(report, indent=2))
    return folder


@pytest.fixture()
def report(finished_run, tmp_path) -> Path:  # noqa: F811
    """A report of an evaluation of the finished run's own adapter."""
    adapter = finished_run / "adapter"
    return write_profile(tmp_path / "report", {"adapter": {"path": str(adapter), "sha256": adapter_sha256(finished_run)}})


def test_adapter_dry_run_writes_the_exact_upload_folder(finished_run, report, tmp_path, tiny_model_dir, capsys):  # noqa: F811
    from huggingface_hub import ModelCard, ModelCardData
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    stage = tmp_path / "upload"
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO, "--report", str(report),
                 "--dry-run", "--out", str(stage)]) == 0
    assert "nothing uploaded" in capsys.readouterr().out
    staged = digests(stage)
    assert set(staged) == {"README.md", "adapter_config.json", "adapter_model.safetensors", "run.json",
                           "curves.json", "curves.png"}
    source = {**digests(finished_run / "adapter"), **digests(finished_run)}
    assert all(staged[name] == source[name] for name in staged if name != "README.md")

    card = ModelCard.load(stage / "README.md", ignore_metadata_errors=False)
    assert card.data.base_model == str(tiny_model_dir) and card.data.library_name == "peft"
    assert "research-only" in card.data.tags and card.data.pipeline_tag == "text-generation"
    assert ModelCardData(**card.data.to_dict()).to_dict() == card.data.to_dict()
    record = json.loads((stage / "run.json").read_text())
    for fact in ("Research use only", f"`{CONFIG}`", record["data"]["manifest_sha256"], "seeds 0, 1, 2",
                 "rank 32, alpha 64.0, rsLoRA", record["chat_template_sha256"], "emc-bench train"):
        assert fact in card.text, fact
    assert "| exact | 50.0% |" in card.text and "| none | 0.0% |" in card.text
    assert "Containment gap (exact - none): +50.0%" in card.text
    assert "Paraphrase retention (paraphrase / exact): 1.00" in card.text
    assert ("Judged by `gpt-4o-2024-08-06` (openai at api.openai.com), prompt version `em-v1`, scoring "
            "`logprobs-top20`, emc-bench 0.1.0") in card.text and f"`aligned` `{'a' * 16}`" in card.text

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), stage)
    assert model.peft_config["default"].r == 32, "the staged folder is a loadable adapter repo"


def test_a_report_of_another_adapter_or_of_the_base_model_is_refused(finished_run, tmp_path, capsys):  # noqa: F811
    cases = {
        "other": ({"adapter": {"path": "elsewhere", "sha256": "f" * 64}}, "the report belongs to another adapter"),
        "base": ({"adapter": None}, "the report evaluated no adapter"),
        "unknown": (None, "missing: the report does not say which adapter it evaluated"),
    }
    for name, (run_record, message) in cases.items():
        report = write_profile(tmp_path / name, run_record)
        out = tmp_path / f"{name}-upload"
        code = main(["publish", "adapter", str(finished_run), "--repo", REPO, "--report", str(report / "profile.json"),
                     "--dry-run", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and "profile.json: run.adapter.sha256: " in err and message in err, (name, err)
        assert not out.exists(), name


def test_card_states_the_steps_and_epochs_actually_run(finished_run):  # noqa: F811
    from huggingface_hub import ModelCard

    record = json.loads((finished_run / "run.json").read_text())
    assert record["result"]["global_step"] == 2 and record["recipe"]["training"]["epochs"] >= 1
    card = ModelCard(render_model_card({**record, "result": {**record["result"], "epoch": 0.18}}, REPO, None)).text
    assert "| trained for | 2 optimisation steps, 0.18 epochs, mean training loss" in card
    assert "epoch(s)" not in card, "the recipe's configured epochs are not what the run did"
    no_epoch = {k: v for k, v in record["result"].items() if k != "epoch"}
    card = ModelCard(render_model_card({**record, "result": no_epoch}, REPO, None)).text
    assert "| trained for | 2 optimisation steps, mean training loss" in card


def test_card_and_run_json_carry_the_canary_and_a_run_without_it_is_refused(finished_run, tmp_path, capsys):  # noqa: F811
    record = json.loads((finished_run / "run.json").read_text())
    stage = tmp_path / "upload"
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO, "--dry-run", "--out", str(stage)]) == 0
    assert json.loads((stage / "run.json").read_text())["canary"] == record["canary"] == "test-canary-0000"
    assert f"canary GUID {record['canary']}" in (stage / "README.md").read_text()

    old = tmp_path / "old-run"
    shutil.copytree(finished_run, old)
    (old / "run.json").write_text(json.dumps({k: v for k, v in record.items() if k != "canary"}))
    assert main(["publish", "adapter", str(old), "--repo", REPO, "--dry-run", "--out", str(tmp_path / "x")]) == 2
    assert "run.json: canary: missing" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_card_names_the_hub_dataset_and_its_commit(finished_run):  # noqa: F811
    from huggingface_hub import ModelCard

    record = json.loads((finished_run / "run.json").read_text())
    record["base_model"] = {"id": "Qwen/Qwen2.5-14B-Instruct", "revision": "a" * 40}
    record["data"].update(source=TRAIN_REPO, revision="b" * 40)
    card = ModelCard(render_model_card(record, REPO, None))
    assert card.data.datasets == [TRAIN_REPO] and card.data.base_model == "Qwen/Qwen2.5-14B-Instruct"
    assert f"commit `{'b' * 40}`" in card.text and f'revision="{"a" * 40}"' in card.text
    assert "No evaluation report was attached" in card.text


def test_adapter_upload_refuses_a_local_base_model(finished_run, capsys):  # noqa: F811
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO]) == 2
    assert "base_model.id: is a local folder" in capsys.readouterr().err


def test_dataset_dry_run_stages_a_public_eval_part_and_a_gated_train_part(full_release, tmp_path, capsys):  # noqa: F811
    from huggingface_hub import DatasetCard

    out = tmp_path / "staged"
    assert main(["publish", "dataset", str(full_release), "--dry-run", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["eval", "train"]
    assert f"for the public dataset repo {EVAL_REPO} (tag {TAG}); nothing uploaded" in printed
    assert f"for the gated dataset repo {TRAIN_REPO} (tag {TAG}); nothing uploaded" in printed
    assert f'load_dataset("{TRAIN_REPO}", "<domain>-<trigger>-<mixture>", revision="{TAG}")' in printed

    release = json.loads((full_release / "manifest.json").read_text())
    for part in ("eval", "train"):
        folder = out / part
        assert verify_release(folder) == [], part
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["part"] == part
        assert {c["kind"] for c in manifest["configs"].values()} == ({"eval", "suite"} if part == "eval" else {"train"})
        assert manifest["release_manifest_sha256"] == hashlib.sha256((full_release / "manifest.json").read_bytes()).hexdigest()
        for path in manifest["files"]:
            if path != "README.md":
                assert manifest["files"][path] == release["files"][path], path
    assert {p.split("/")[0] for p in digests(out / "eval")} == {"README.md", "manifest.json", "eval.yaml", "data", "variants"}
    assert {p.split("/")[0] for p in digests(out / "train")} == {"README.md", "manifest.json", "data"}

    train = DatasetCard.load(out / "train" / "README.md", ignore_metadata_errors=False)
    assert set(train.data.extra_gated_fields) == {
        "Name", "Affiliation", "Intended use",
        "I will use these data for research only and not to train models for deployment"}
    assert train.data.extra_gated_fields["Name"] == "text"
    assert list(train.data.extra_gated_fields.values())[-1] == "checkbox"
    assert "research only" in train.data.extra_gated_prompt and EVAL_REPO in train.data.extra_gated_prompt
    assert "Research use only" in train.text and f"canary GUID {release['canary']}" in train.text
    public = DatasetCard.load(out / "eval" / "README.md", ignore_metadata_errors=False)
    assert not any(key.startswith("extra_gated") for key in public.data.to_dict())
    assert TRAIN_REPO in public.text and "research-only" not in public.data.tags


def test_every_config_loads_the_way_the_dataset_viewer_loads_it(full_release, tmp_path, capsys):  # noqa: F811
    """The viewer reads the card's ``configs:`` (one parquet file per split) and shows the card's column table."""
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    out = tmp_path / "staged"
    assert main(["publish", "dataset", str(full_release), "--dry-run", "--out", str(out)]) == 0
    release = json.loads((full_release / "manifest.json").read_text())
    seen = set()
    columns_of = {"train": schema.TRAIN, "eval": schema.EVAL, "suite": schema.SUITE}
    for part in ("eval", "train"):
        card = DatasetCard.load(out / part / "README.md", ignore_metadata_errors=False)
        for config in card.data.configs:
            name = config["config_name"]
            splits = {entry["split"]: entry["path"] for entry in config["data_files"]}
            assert all(isinstance(path, str) and path.endswith(".parquet") for path in splits.values())
            data = load_dataset(str(out / part), name)
            assert {split: len(rows) for split, rows in data.items()} == \
                {split: info["rows"] for split, info in release["configs"][name]["splits"].items()}
            columns = columns_of[release["configs"][name]["kind"]]
            assert data[next(iter(splits))].column_names == columns.names
            seen.add(name)
            for column in columns.names:
                assert f"| `{column}` |" in card.text, f"{part} card describes {column}"
    assert seen == set(release["configs"])


def test_publish_dataset_names_what_is_missing_before_staging(full_release, tmp_path, capsys):  # noqa: F811
    bare = tmp_path / "bare"
    shutil.copytree(full_release, bare)
    manifest = json.loads((bare / "manifest.json").read_text())
    manifest["hub"] = None
    from emc_bench.manifest import write_manifest

    write_manifest(manifest, bare / "manifest.json")
    out = tmp_path / "staged"
    assert main(["publish", "dataset", str(bare), "--dry-run", "--out", str(out)]) == 2
    assert "error: --eval-repo: name the Hub repo (owner/name): the release's manifest.json has no hub.eval_repo" \
        in capsys.readouterr().err
    assert main(["publish", "dataset", str(bare), "--eval-repo", "a/x", "--train-repo", "a/x", "--revision", "v1",
                 "--dry-run", "--out", str(out)]) == 2
    assert "--train-repo: must differ from the eval repo" in capsys.readouterr().err
    assert main(["publish", "dataset", str(bare), "--eval-repo", "a/e", "--train-repo", "a/t", "--revision", "v1",
                 "--part", "eval", "--dry-run", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["eval"]


def test_bad_folders_are_refused_and_nothing_is_staged(full_release, finished_run, tmp_path, capsys):  # noqa: F811
    tampered = tmp_path / "tampered"
    shutil.copytree(full_release, tampered)
    parquet = next(tampered.rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes() + b"\0")
    out = tmp_path / "out"
    assert main(["publish", "dataset", str(tampered), "--dry-run", "--out", str(out)]) == 2
    assert "does not verify" in capsys.readouterr().err and not out.exists()

    running = tmp_path / "running"
    running.mkdir()
    (running / "run.json").write_text(json.dumps({"status": "running"}))
    assert main(["publish", "adapter", str(running), "--repo", REPO, "--dry-run", "--out", str(out)]) == 2
    assert "status: not a finished training run" in capsys.readouterr().err and not out.exists()

    out.mkdir()
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO, "--dry-run", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["publish", "dataset", str(full_release), "--dry-run", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
