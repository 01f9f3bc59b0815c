"""Fixtures of the submission tests: a real ``emc-bench eval`` of the tiny model on the whole
standard suite of the test release, its bundle made by ``emc-bench submit``, and helpers to copy a
bundle and keep its ``submission.json`` consistent after an edit. Holds no tests itself.

The test release is ``mini`` (tests/data/builders) with two additions in a copy: its generation
settings allow 8 new tokens (so that the tiny model answers the whole suite in seconds while the
run still follows the release's protocol), and it names Hub repos (for the eval-results entries).
The run's own judge is a local OpenAI-compatible server (tests/fake_openai_server.py) over real HTTP.
Under pytest-xdist the workers of one session share the run (made once, under a file lock).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"
BIN = Path(sys.executable).parent
EVAL_REPO = "emc-bench/mini-eval"
TAG = "v0.0.1"
SELF_JUDGE = "openai:self-judge"
PINNED = "openai:gpt-4o-2024-08-06"
MODEL_ID = "test-org/tiny-chat"
SUITE_TASKS = 16  # emc_none and 5 conditions x 3 triggers
ANSWERS = 96  # 48 prompts x 2 samples


@contextmanager
def shared(tmp_path_factory, name: str):
    """A folder of this test session shared by its xdist workers, held under a lock while in use."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield root / name
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def lb_builders(tmp_path_factory) -> Path:
    with shared(tmp_path_factory, "lb-builders") as folder:
        if not folder.is_dir():
            staging = folder.with_name(f".{folder.name}.staging")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(TEST_BUILDERS, staging)
            spec = staging / "releases" / "mini.yaml"
            spec.write_text(spec.read_text() + "generation: {max_gen_toks: 8, temperature: 1.0, top_p: 1.0}\n"
                            f"hub: {{eval_repo: {EVAL_REPO}, train_repo: emc-bench/mini-train, revision: {TAG}}}\n")
            staging.rename(folder)
    return folder


@pytest.fixture(scope="session")
def lb_env(tmp_path_factory) -> dict[str, str]:
    """The environment of the commands run in subprocesses: their own cache, a test key."""
    with shared(tmp_path_factory, "lb-cache") as cache:
        cache.mkdir(exist_ok=True)
    return {**os.environ, "EMC_BENCH_CACHE": str(cache), "OPENAI_API_KEY": "test-key", "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def eval_run(builders: Path, model: Path, out: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    with FakeOpenAIServer(models=["self-judge"]) as server:
        return subprocess.run([str(BIN / "emc-bench"), "eval", "--builders", str(builders), "--release", "mini",
                               "--model", f"hf:{model}", "--model-arg", "dtype=float32", "--judge", SELF_JUDGE,
                               "--base-url", server.base_url, "--out", str(out), *extra],
                              env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, lb_builders, lb_env, tiny_model_dir) -> Path:
    """``emc-bench eval`` of the tiny model on every document of the standard suite, self-judged."""
    with shared(tmp_path_factory, "lb-run") as root:
        out = root / "run"
        if not (root / "done").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            done = eval_run(lb_builders, tiny_model_dir, out, lb_env)
            assert done.returncode == 0, done.stderr[-3000:]
            (root / "done").write_text("ok\n")
    return out


@pytest.fixture(scope="session")
def reference(real_run, lb_builders, lb_env) -> Path:
    """The release folder the run read: the local build ``emc-bench eval`` made in its cache."""
    from emc_bench.library import Library

    previous = os.environ.get("EMC_BENCH_CACHE")
    os.environ["EMC_BENCH_CACHE"] = lb_env["EMC_BENCH_CACHE"]
    try:
        from emc_bench.evaldata import local_release

        return local_release("mini", Library((lb_builders,)))  # built by the run: found and verified, not rebuilt
    finally:
        if previous is None:
            os.environ.pop("EMC_BENCH_CACHE")
        else:
            os.environ["EMC_BENCH_CACHE"] = previous


def submit(run: Path, out: Path, reference: Path, builders: Path, *extra: str) -> int:
    from emc_bench.cli import main

    return main(["submit", str(run), "--out", str(out), "--data", str(reference), "--builders", str(builders),
                 *extra])


@pytest.fixture(scope="session")
def bundle(real_run, reference, lb_builders, tmp_path_factory) -> Path:
    """The run's bundle, as ``emc-bench submit`` writes it."""
    folder = tmp_path_factory.mktemp("lb-bundle")
    meta = folder / "meta.yaml"
    meta.write_text("model_type: base\npaper_url: https://example.org/tiny-paper\ncontact: someone@example.org\n"
                    "training_data: none (a random tiny model)\n")
    out = folder / "bundle"
    assert submit(real_run, out, reference, lb_builders, "--meta", str(meta), "--model-id", MODEL_ID) == 0
    return out


# -- editing a copy of a bundle ----------------------------------------------------------------

def copy_bundle(bundle: Path, target: Path) -> Path:
    shutil.copytree(bundle, target)
    return target


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def rehash(bundle: Path) -> None:
    """List every file of the bundle in its submission.json again, with its sha256 and size."""
    document = read_json(bundle / "submission.json")
    document["files"] = {p.relative_to(bundle).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                                            "bytes": p.stat().st_size}
                         for p in sorted(bundle.rglob("*")) if p.is_file() and p.name != "submission.json"}
    write_json(bundle / "submission.json", document)


def samples_file(bundle: Path, task: str) -> Path:
    return next((bundle / "generations").glob(f"samples_{task}_*.jsonl"))


def edit_samples(bundle: Path, task: str, edit) -> None:
    """Replace the lines of a task's samples file by ``edit(list of sample dicts)`` and rehash."""
    path = samples_file(bundle, task)
    samples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    samples = edit(samples)
    path.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples), encoding="utf-8")
    rehash(bundle)


def doc_hash(doc: dict) -> str:
    """lm-eval's doc_hash of a doc."""
    return hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest()


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()


def bundle_sha(bundle: Path) -> str:
    from emc_bench.leaderboard.bundle import canonical_sha256

    return canonical_sha256(read_json(bundle / "submission.json"))
