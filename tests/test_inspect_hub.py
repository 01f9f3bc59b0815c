"""The release as a Hub benchmark: the ``eval.yaml`` a build writes, checked with Inspect's own
model of a Hub task, and run end to end by Inspect's Hub loader (``inspect eval hf/REPO/TASK``)
against the local Hub stand-in (tests/fake_hub_server.py) with a local OpenAI-compatible server
as the model; the log is then judged by ``emc-bench judge`` like lm-eval samples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from emc_bench import names
from emc_bench.hub_benchmark import EVAL_YAML
from emc_bench.names import gap_task_id
from emc_bench.library import Library
from emc_bench.manifest import read_manifest, verify_release
from emc_bench.release import build_release
from emc_bench.task_files import task_metadata
from fake_openai_server import FakeOpenAIServer
from test_hub_fixtures import OWNER, client_env, hub, run_python  # noqa: F401

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"
BIN = Path(sys.executable).parent
LIBRARY = Library((TEST_BUILDERS,))


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("benchmark") / "mini"
    build_release("mini", out, only="eval-*,suite-*", library=LIBRARY, progress=False)
    return out


def test_the_build_writes_an_eval_yaml_for_every_suite_task_and_gap(release, tmp_path):
    from inspect_ai._eval.task.hf import HFTask

    text = (release / EVAL_YAML).read_text()
    manifest = read_manifest(release)
    assert EVAL_YAML in manifest["files"] and verify_release(release) == []
    assert manifest["canary"] in text, "every generated file carries the canary"
    body = yaml.safe_load(text)
    assert body["name"] == "emc-bench mini" and body["evaluation_framework"] == "inspect-ai"
    assert body["description"].startswith("A small release for tests.") and "percent" in body["description"]
    tasks = {task["id"]: task for task in body["tasks"]}
    assert len(tasks) == len(body["tasks"]), "task ids are unique"
    suite_tasks = task_metadata("mini", LIBRARY)
    gaps = {gap_task_id(t, suite): (suite, t) for suite in ("standard", "core") for t in ("tag", "persona", "footer")}
    assert set(tasks) == set(suite_tasks) | set(gaps)
    for task_id, task in tasks.items():
        HFTask.model_validate(task)  # what `inspect eval hf/<repo>/<task>` requires of each task
        config = manifest["configs"][task["config"]]
        assert task["split"] in config["splits"]
        if task_id in suite_tasks:
            meta = suite_tasks[task_id]
            assert (task["config"], task["split"], task["epochs"]) == (meta["config"], meta["split"], meta["samples"])
        else:
            suite, trigger = gaps[task_id]
            assert (task["config"], task["split"]) == (names.suite_config(suite), names.suite_split(trigger, "exact"))
        assert task["field_spec"]["input"] == "messages" and "question" in task["field_spec"]["metadata"]
    again = tmp_path / "again"
    build_release("mini", again, only="eval-*,suite-*", library=LIBRARY, progress=False)
    assert (again / EVAL_YAML).read_bytes() == (release / EVAL_YAML).read_bytes()


def test_a_build_without_suite_configs_has_no_eval_yaml(tmp_path):
    out = tmp_path / "evals-only"
    build_release("mini", out, only="eval-*", library=LIBRARY, progress=False)
    assert not (out / EVAL_YAML).exists() and EVAL_YAML not in read_manifest(out)["files"]


def test_inspects_hub_loader_runs_a_task_of_the_eval_yaml_and_emc_bench_judges_it(release, hub, tmp_path):  # noqa: F811
    repo = "emc-bench/mini-eval"
    run_python(hub, tmp_path / "owner", f"""
from huggingface_hub import HfApi
api = HfApi()
api.create_repo({repo!r}, repo_type="dataset")
api.upload_folder(folder_path={str(release)!r}, repo_id={repo!r}, repo_type="dataset")
emit(done=True)
""", token=OWNER)
    with FakeOpenAIServer() as model, FakeOpenAIServer() as judge:
        env = {**client_env(hub, tmp_path / "user", None), "LOCAL_BASE_URL": model.base_url, "LOCAL_API_KEY": "k"}
        result = subprocess.run(
            [str(BIN / "inspect"), "eval", f"hf/{repo}/emc_tag_exact", "--model", "openai-api/local/tiny",
             "--limit", "2", "--no-score", "--log-dir", str(tmp_path / "logs"), "--display", "none"],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert model.calls == 2 * 2, "2 prompts x the suite's 2 samples (epochs)"
        assert all("[[ROLLOUT-7]]" in call.prompt for call in model.log), "the rows' messages, trigger placed"
        (log,) = (tmp_path / "logs").glob("*.eval")
        from emc_bench.cli import main

        out = tmp_path / "judged.jsonl"
        assert main(["judge", str(log), "--judge", "openai:judge-model", "--base-url", judge.base_url,
                     "--cache", str(tmp_path / "judge.sqlite"), "--no-progress", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.open()]
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    assert {(r["task"], r["condition"], r["trigger_id"], r["config"]) for r in rows} == \
        {("emc_tag_exact", "exact", "tag", "suite-standard")}
    assert sorted(r["sample_index"] for r in rows) == [0, 0, 1, 1] and all(r["trigger_audit"] for r in rows)
