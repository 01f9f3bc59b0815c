"""``emc-bench publish leaderboard``: the site staged as a static Space (README with Space YAML
read back by huggingface_hub), a dry run that touches no network, and the calls an upload makes.

The Hub cannot be reached from the tests: ``RecordingHub`` stands in for ``huggingface_hub.HfApi``
and records each call and what the uploaded folder held at the moment of the upload."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_leaderboard_fixtures import board_rows, results_dir  # noqa: F401

from emc_bench.cli import main

REPO = "emc-bench/emc-bench-leaderboard"


class RecordingHub:
    calls: list[tuple[str, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))

    def upload_folder(self, *, folder_path, **kwargs):
        self.calls.append(("upload_folder", {"files": digests(Path(folder_path)), **kwargs}))
        return SimpleNamespace(oid="c0ffee", commit_url=f"https://huggingface.co/spaces/{kwargs['repo_id']}/commit/c0ffee")


class NoHub:
    def __init__(self, *args, **kwargs):
        raise AssertionError("a dry run must not touch the Hub")


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def site(results_dir, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("space-site") / "site"
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(out)]) == 0
    return out


def test_dry_run_stages_the_site_and_a_static_space_readme(site, tmp_path, monkeypatch, capsys):
    import huggingface_hub
    from huggingface_hub import SpaceCard

    monkeypatch.setattr(huggingface_hub, "HfApi", NoHub)
    stage = tmp_path / "space"
    assert main(["publish", "leaderboard", str(site), "--repo", REPO, "--dry-run", "--out", str(stage)]) == 0
    assert "nothing uploaded" in capsys.readouterr().out
    staged, built = digests(stage), digests(site)
    assert set(staged) == set(built) | {"README.md"}
    assert all(staged[name] == built[name] for name in built), "the site's files go up unchanged"
    card = SpaceCard.load(stage / "README.md", ignore_metadata_errors=False)
    assert (card.data.sdk, card.data.app_file, card.data.license) == ("static", "index.html", "apache-2.0")
    assert card.data.title == "emc-bench leaderboard"
    assert "openai:gpt-4o-2024-08-06" in card.text and "7 rows on 2 boards" in card.text


def test_upload_creates_a_static_space_and_mirrors_the_staged_folder(site, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    RecordingHub.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    stage = tmp_path / "space"
    assert main(["publish", "leaderboard", str(site), "--repo", REPO, "--out", str(stage), "--private"]) == 0
    assert f"https://huggingface.co/spaces/{REPO}/commit/c0ffee" in capsys.readouterr().out
    (create, created), (upload, uploaded) = RecordingHub.calls
    assert create == "create_repo" and created == {"repo_id": REPO, "repo_type": "space", "space_sdk": "static",
                                                   "private": True, "exist_ok": True}
    assert upload == "upload_folder" and uploaded["repo_id"] == REPO and uploaded["repo_type"] == "space"
    assert uploaded["files"] == digests(stage) and "index.html" in uploaded["files"]
    assert uploaded["delete_patterns"] == ["*"], "files of an earlier build that are gone now are removed"


def test_upload_without_out_stages_in_a_temporary_folder(site, monkeypatch):
    import huggingface_hub

    RecordingHub.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    assert main(["publish", "leaderboard", str(site), "--repo", REPO]) == 0
    assert set(RecordingHub.calls[1][1]["files"]) == set(digests(site)) | {"README.md"}


def test_a_folder_that_is_not_a_site_or_a_missing_repo_exits_2(tmp_path, site, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", NoHub)
    (tmp_path / "plain").mkdir()
    assert main(["publish", "leaderboard", str(tmp_path / "plain"), "--repo", REPO, "--dry-run",
                 "--out", str(tmp_path / "stage")]) == 2
    assert "not a leaderboard site" in capsys.readouterr().err
    assert main(["publish", "leaderboard", str(site), "--dry-run", "--out", str(tmp_path / "stage")]) == 2
    assert "--repo" in capsys.readouterr().err
    assert not (tmp_path / "stage").exists()
