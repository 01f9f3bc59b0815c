"""The frozen v1 release: a rebuild is byte-identical to builders/releases/v1.lock, and the lock's
leakage verdict is reused only for exactly the texts it was computed on."""

from __future__ import annotations

import shutil

import pytest

from emc_bench.leakage import inputs_sha256, release_texts
from emc_bench.lock import drift, locked_leakage, read_lock
from emc_bench.release import build_release
from emc_bench.resolve import resolve_release


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """v1 built from scratch with the leakage gate, in a cache folder of its own (cold)."""
    from emc_bench import similarity

    root = tmp_path_factory.mktemp("lock")
    cache = root / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EMC_BENCH_CACHE", str(cache))
        build_release("v1", root / "v1", progress=False)
        embedded = similarity.embedder(cache).encoded
    return root / "v1", embedded


def test_v1_rebuilds_byte_identical_to_its_lock(rebuilt):
    folder, _ = rebuilt
    lock = read_lock(resolve_release("v1"))
    assert lock is not None and len(lock["files"]) > 100
    assert drift(folder, lock) == [], "v1's published content changed: a content change needs a new release version"


def test_a_build_that_matches_the_lock_embeds_no_training_prompt(rebuilt):
    _, embedded = rebuilt
    evals, train = release_texts(resolve_release("v1"))
    assert embedded < 1000 < len(set(train)), "only the trigger variants were embedded, not the training prompts"


def test_the_locked_verdict_belongs_to_exactly_its_texts():
    loaded = resolve_release("v1")
    evals, train = release_texts(loaded)
    assert locked_leakage(loaded, inputs_sha256(evals, train)) is not None
    assert locked_leakage(loaded, inputs_sha256([*evals, "Country: Narnia"], train)) is None
    assert locked_leakage(loaded, inputs_sha256(evals, train[1:])) is None


def test_drift_names_each_changed_file(rebuilt, tmp_path):
    from emc_bench.manifest import file_hashes, read_manifest, write_manifest

    folder, _ = rebuilt
    copy = tmp_path / "v1"
    shutil.copytree(folder, copy)
    target = "data/eval-deploy_tag/exact.parquet"
    (copy / target).write_bytes((copy / target).read_bytes() + b"\0")
    manifest = read_manifest(copy)
    manifest["files"].update(file_hashes(copy, [target]))  # a consistent folder whose bytes moved
    write_manifest(manifest, copy / "manifest.json")
    assert drift(copy, read_lock(resolve_release("v1"))) == [f"{target}: sha256 differs from the lock"]
