"""What a release folder must say before it is published: the Hub repos it goes to, whether it
is a partial (``--only``) build, and a manifest that cannot be edited unnoticed."""

from __future__ import annotations

import json
import shutil

import pytest
from test_hub_fixtures import EVAL_REPO, TAG, TRAIN_REPO, full_release, hub_builders  # noqa: F401
from test_train_fixtures import CONFIG, TEST_BUILDERS, release_dir  # noqa: F401

from emc_bench.cli import main
from emc_bench.manifest import read_manifest, verify_release


def test_manifest_records_the_hub_repos_and_a_full_build(full_release):  # noqa: F811
    manifest = read_manifest(full_release)
    assert manifest["hub"] == {"eval_repo": EVAL_REPO, "train_repo": TRAIN_REPO, "revision": TAG}
    assert manifest["partial"] is False and "only" not in manifest


def test_manifest_of_an_only_build_says_partial_and_which_globs(release_dir):  # noqa: F811
    manifest = read_manifest(release_dir)
    assert manifest["partial"] is True and manifest["only"] == f"{CONFIG},toy_advice-aligned"
    assert manifest["hub"] is None, "the test release names no Hub repos"


def test_publish_refuses_a_partial_build(release_dir, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "staged"
    code = main(["publish", "dataset", str(release_dir), "--eval-repo", "a/b-eval", "--train-repo", "a/b-train",
                 "--revision", "v0.0.1", "--dry-run", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "manifest.json: partial:" in err and "--only" in err and not out.exists()


def test_verify_detects_an_edited_manifest(full_release, tmp_path, capsys):  # noqa: F811
    copy = tmp_path / "copy"
    shutil.copytree(full_release, copy)
    assert verify_release(copy) == []
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["configs"][CONFIG]["splits"]["train"]["rows"] += 1  # a count edited by hand
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert main(["verify", str(copy)]) == 1
    assert "manifest.json: edited after the build" in capsys.readouterr().err


def test_verify_accepts_a_reformatted_but_unchanged_manifest(full_release, tmp_path):  # noqa: F811
    copy = tmp_path / "copy"
    shutil.copytree(full_release, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest))  # same content, other layout
    assert verify_release(copy) == []


def test_a_release_spec_must_name_two_different_repos(tmp_path):
    from emc_bench.resolve import resolve_release
    from emc_bench.errors import SpecError
    from emc_bench.library import Library

    builders = tmp_path / "builders"
    shutil.copytree(TEST_BUILDERS, builders)
    spec = builders / "releases" / "mini.yaml"
    spec.write_text(spec.read_text() + "hub: {eval_repo: a/b, train_repo: a/b, revision: v1}\n")
    with pytest.raises(SpecError, match=r"mini.yaml: hub.train_repo: must differ from eval_repo"):
        resolve_release("mini", Library((builders,)))
