"""Fixtures shared by the publishing and Hub tests: a full build of the test release that names
its Hub repos, the local Hub stand-in (``fake_hub_server``) and a way to run the real clients
against it in a fresh process. Holds no tests itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_hub_server import FakeHub
from test_train_fixtures import TEST_BUILDERS, one_torch_thread, release_dir, tiny_recipe, train_cli  # noqa: F401

EVAL_REPO = "emc-bench/mini-eval"
TRAIN_REPO = "emc-bench/mini-train"
TAG = "v0.0.1"
OWNER = "hf_owner_token"  # a member of the emc-bench organisation
READER = "hf_reader_token"  # a researcher with an account and no special rights
USERS = {OWNER: ("maintainer", ["emc-bench"]), READER: ("reader", [])}
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def hub_builders(tmp_path_factory) -> Path:
    """The test builders, with the mini release naming its two Hub repos and its tag."""
    folder = tmp_path_factory.mktemp("builders") / "builders"
    shutil.copytree(TEST_BUILDERS, folder)
    spec = folder / "releases" / "mini.yaml"
    spec.write_text(spec.read_text() + f"hub: {{eval_repo: {EVAL_REPO}, train_repo: {TRAIN_REPO}, revision: {TAG}}}\n")
    return folder


@pytest.fixture(scope="session")
def full_release(tmp_path_factory, hub_builders) -> Path:
    """Every config of the mini release, leakage gate included: a release that may be published."""
    from emc_bench.library import Library
    from emc_bench.release import build_release

    out = tmp_path_factory.mktemp("full") / "mini"
    build_release("mini", out, library=Library((hub_builders,)), progress=False)
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_recipe, release_dir) -> Path:  # noqa: F811
    """A real two-step training run of the tiny model, with the record fields ``emc-bench train``
    writes (the canary of its data, the epochs it ran) filled in where this trainer lacks them."""
    out = tmp_path_factory.mktemp("publish") / "run"
    assert train_cli(tiny_recipe, "general", release_dir, out, "--max-steps", "2") == 0
    record = json.loads((out / "run.json").read_text())
    record.setdefault("canary", json.loads((release_dir / "manifest.json").read_text())["canary"])
    record["result"].setdefault("epoch", 0.2)
    (out / "run.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return out


@pytest.fixture()
def hub():
    """A fresh local Hub for one test."""
    with FakeHub(users=USERS) as server:
        yield server


def client_env(hub: FakeHub, home: Path, token: str | None) -> dict[str, str]:
    """The environment of a user's process: online, pointed at the local Hub, own cache and token.

    ``HF_HUB_DISABLE_XET=1`` makes ``huggingface_hub`` take its LFS upload path (the stand-in does
    not speak xet); with it the client never contacts a xet endpoint.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HF_") and k not in ("TRANSFORMERS_OFFLINE", "PYTHONDONTWRITEBYTECODE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1")
    if token:
        env["HF_TOKEN"] = token
    return env


def run_cli(hub: FakeHub, home: Path, *args: str, token: str | None = OWNER) -> subprocess.CompletedProcess:
    """``emc-bench ARGS`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "emc_bench.cli", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, env=client_env(hub, home, token), timeout=600)


def run_python(hub: FakeHub, home: Path, code: str, token: str | None = None) -> dict:
    """Run ``code`` in a fresh process; it calls ``emit(**values)`` once; return those values."""
    prelude = "import json, sys\ndef emit(**values):\n    print('RESULT ' + json.dumps(values))\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=client_env(hub, home, token), timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"client failed (rc {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1].removeprefix("RESULT "))
