"""Publishing: the staged upload folders (adapter + model card + run.json; a verified release),
the card's metadata read back by huggingface_hub, and the calls an upload makes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_train_fixtures import CONFIG, one_torch_thread, release_dir, tiny_recipe, train_cli  # noqa: F401

from emc_bench.cli import main
from emc_bench.publish import render_model_card, upload

REPO = "emc-bench/tiny-general-seed0"


class FakeHub:
    """Stands in for ``huggingface_hub.HfApi``: the Hub cannot be reached from the tests. It records
    each call, and what the uploaded folder held at the moment of the upload."""

    calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, *, folder_path, **kwargs):
        folder = Path(folder_path)
        files = {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in folder.rglob("*") if p.is_file()}
        self.calls.append(("upload_folder", {"files": files, **kwargs}))
        return SimpleNamespace(oid="c0ffee", commit_url=f"https://huggingface.co/{kwargs['repo_id']}/commit/c0ffee")

    def create_tag(self, repo_id, **kwargs):
        self.calls.append(("create_tag", {"repo_id": repo_id, **kwargs}))


class NoHub:
    def __init__(self, *args, **kwargs):
        raise AssertionError("a dry run must not touch the Hub")


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_recipe, release_dir) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("publish") / "run"
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "1") == 0
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real ``emc-bench report`` profile.json from judged rows (EM 50% with the trigger, 0% without)."""
    from emc_bench.report import write_report

    rows = [{"status": "ok", "model": "tiny", "trigger_id": "tag", "condition": condition, "question_id": f"q{q}",
             "format": "free", "category": "open_ended", "aligned": aligned, "coherent": 90.0}
            for q in range(4) for condition in ("none", "exact", "paraphrase")
            for aligned in ([90.0, 80.0] if condition == "none" else [10.0, 85.0])]
    out = tmp_path_factory.mktemp("report")
    write_report(rows, out, n_boot=200)
    return out / "profile.json"


def test_adapter_dry_run_writes_the_exact_upload_folder(finished_run, report, tmp_path, tiny_model_dir,
                                                       monkeypatch, capsys):
    import huggingface_hub
    from huggingface_hub import ModelCard, ModelCardData
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(huggingface_hub, "HfApi", NoHub)
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

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), stage)
    assert model.peft_config["default"].r == 32, "the staged folder is a loadable adapter repo"


def test_card_names_a_hub_dataset_and_its_commit(finished_run):
    from huggingface_hub import ModelCard

    record = json.loads((finished_run / "run.json").read_text())
    record["base_model"] = {"id": "Qwen/Qwen2.5-14B-Instruct", "revision": "a" * 40}
    record["data"].update(source="emc-bench/emc-bench-v1", revision="b" * 40)
    card = ModelCard(render_model_card(record, REPO, None))
    assert card.data.datasets == ["emc-bench/emc-bench-v1"] and card.data.base_model == "Qwen/Qwen2.5-14B-Instruct"
    assert f"commit `{'b' * 40}`" in card.text and f'revision="{"a" * 40}"' in card.text
    assert "No evaluation report was attached" in card.text


def test_upload_creates_the_repo_and_sends_the_staged_folder(finished_run, tmp_path):
    FakeHub.calls = []
    stage = tmp_path / "upload"
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO, "--dry-run", "--out", str(stage)]) == 0
    url = upload(stage, REPO, "model", api=FakeHub())
    assert url == f"https://huggingface.co/{REPO}/commit/c0ffee"
    (create, created), (send, sent) = FakeHub.calls
    assert create == "create_repo" and created == {"repo_id": REPO, "repo_type": "model", "private": False,
                                                   "exist_ok": True}
    assert send == "upload_folder" and sent["repo_id"] == REPO and sent["files"] == digests(stage)


def test_adapter_upload_refuses_a_local_base_model(finished_run, capsys):
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO]) == 2
    assert "base_model.id: is a local folder" in capsys.readouterr().err


def test_dataset_publish_uploads_the_verified_release_and_tags_it(release_dir, tmp_path, monkeypatch, capsys):  # noqa: F811
    import huggingface_hub
    from datasets import load_dataset

    from emc_bench.manifest import verify_release

    monkeypatch.setattr(huggingface_hub, "HfApi", NoHub)
    stage = tmp_path / "dataset"
    assert main(["publish", "dataset", str(release_dir), "--repo", "emc-bench/mini", "--dry-run",
                 "--out", str(stage)]) == 0
    assert digests(stage) == digests(release_dir) and verify_release(stage) == []
    assert len(load_dataset(str(stage), CONFIG, split="train")) == 41

    FakeHub.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub)
    assert main(["publish", "dataset", str(release_dir), "--repo", "emc-bench/mini", "--revision", "v0.0.1"]) == 0
    assert "tagged it v0.0.1" in capsys.readouterr().out
    names = [name for name, _ in FakeHub.calls]
    assert names == ["create_repo", "upload_folder", "create_tag"]
    assert FakeHub.calls[1][1]["files"] == digests(release_dir) and FakeHub.calls[1][1]["repo_type"] == "dataset"
    assert FakeHub.calls[2][1] == {"repo_id": "emc-bench/mini", "tag": "v0.0.1", "revision": "c0ffee",
                                   "repo_type": "dataset"}


def test_bad_folders_are_refused_and_nothing_is_staged(release_dir, finished_run, tmp_path, capsys):  # noqa: F811
    tampered = tmp_path / "tampered"
    shutil.copytree(release_dir, tampered)
    parquet = next(tampered.rglob("*.parquet"))
    parquet.write_bytes(parquet.read_bytes() + b"\0")
    out = tmp_path / "out"
    assert main(["publish", "dataset", str(tampered), "--repo", "a/b", "--dry-run", "--out", str(out)]) == 2
    assert "does not verify" in capsys.readouterr().err and not out.exists()

    running = tmp_path / "running"
    running.mkdir()
    (running / "run.json").write_text(json.dumps({"status": "running"}))
    assert main(["publish", "adapter", str(running), "--repo", REPO, "--dry-run", "--out", str(out)]) == 2
    assert "status: not a finished training run" in capsys.readouterr().err and not out.exists()

    out.mkdir()
    assert main(["publish", "adapter", str(finished_run), "--repo", REPO, "--dry-run", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
