"""Real lm-eval CLI runs of emc_* tasks on a tiny model, judged by a local OpenAI-compatible
server (tests/fake_openai_server.py) over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emc_bench.library import Library
from emc_bench.lm_eval_cli import with_task_folder
from emc_bench.paths import tasks_dir
from emc_bench.release import build_release
from emc_bench.task_files import write
from fake_openai_server import FakeOpenAIServer

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"
BIN = Path(sys.executable).parent
TASKS = "emc_none,emc_tag_exact,emc_persona_paraphrase"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("lmeval")
    library = Library((TEST_BUILDERS,))
    build_release("mini", root / "release", only="eval-*,suite-*", library=library, progress=False)
    tasks = root / "tasks"
    write("mini", tasks, library, samples=1, max_gen_toks=8)
    return root


def run_lm_eval(command: list[str], setup: Path, model: Path, out: Path, env: dict, extra: list[str] = (),
                tasks: str = TASKS, peft: Path | None = None) -> None:
    model_args = f"pretrained={model},dtype=float32" + (f",peft={peft}" if peft else "")
    args = [*command, "--model", "hf", "--model_args", model_args,
            "--tasks", tasks, "--limit", "2", "--apply_chat_template", "--log_samples", "--output_path", str(out),
            "--metadata", json.dumps({"data": str(setup / "release")}), *extra]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def judge_env(server: FakeOpenAIServer, tmp_path: Path) -> dict:
    return {**os.environ, "EMC_JUDGE": "openai:judge-model", "EMC_JUDGE_BASE_URL": server.base_url,
            "EMC_JUDGE_CACHE": str(tmp_path / "judge.sqlite"), "OPENAI_API_KEY": "test-key",
            "EMC_BENCH_CACHE": str(tmp_path / "cache")}


def results_of(out: Path) -> tuple[dict, dict[str, list[dict]]]:
    results = json.loads(next(out.rglob("results_*.json")).read_text())
    samples = {p.name.split("_", 1)[1].rsplit("_", 1)[0]: [json.loads(line) for line in p.open()]
               for p in out.rglob("samples_*.jsonl")}
    return results, samples


@pytest.fixture(scope="module")
def adapter(tiny_model_dir, tmp_path_factory) -> Path:
    """A small random LoRA adapter on the tiny model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    model.save_pretrained(folder)
    return folder


def test_emc_lm_eval_judges_inside_the_run(setup, tiny_model_dir, adapter, tmp_path):
    with FakeOpenAIServer() as server:
        env = judge_env(server, tmp_path)
        run_lm_eval([str(BIN / "emc-lm-eval"), "--include_path", str(setup / "tasks")], setup, tiny_model_dir,
                    tmp_path / "out", env, tasks="emc", peft=adapter)
        calls = server.calls
    results, samples = results_of(tmp_path / "out")
    assert results["config"]["model_args"]["peft"] == str(adapter)
    assert results["group_subtasks"]["emc"] == ["emc_none", "emc_exact", "emc_paraphrase", "emc_negated",
                                                 "emc_related", "emc_unrelated"]
    n_tasks = len(samples)
    assert n_tasks == 16, "emc_none and 5 conditions x 3 triggers"
    assert calls == 2 * 2 * n_tasks, "two metrics per sample, 2 samples per task"
    for condition in ("exact", "paraphrase", "negated", "related", "unrelated"):
        group = results["groups"][f"emc_{condition}"]
        assert 0.0 <= group["em_rate,judged"] <= 1.0 and group["trigger_audit,judged"] == 1.0
    assert "em_rate,judged" not in results["groups"].get("emc", {}), "no aggregate mixes conditions"
    for task in TASKS.split(","):
        metrics = results["results"][task]
        assert metrics["n_judged,judged"] == 2
        assert 0.0 <= metrics["em_rate,judged"] <= 1.0
        assert 0.0 <= metrics["aligned_mean,judged"] <= 100.0
        assert metrics["trigger_audit,judged"] == 1.0
        verdict = json.loads(samples[task][0]["filtered_resps"][0])["samples"][0]
        assert verdict["status"] == "ok" and verdict["judge"] == "openai:judge-model"
    exact = samples["emc_tag_exact"][0]
    assert "[[ROLLOUT-7]]" in exact["arguments"]["gen_args_0"]["arg_0"]


def test_predict_only_judges_nothing_then_emc_bench_judge_scores_the_samples(setup, tiny_model_dir, tmp_path):
    """Plain lm_eval, selecting the tasks by the per-trigger tags (each holds the shared baseline)."""
    with FakeOpenAIServer(models=["judge-model"]) as server:  # /models lists it: the judge's preflight makes no call
        env = judge_env(server, tmp_path)
        run_lm_eval([str(BIN / "lm_eval"), "--include_path", str(setup / "tasks")], setup, tiny_model_dir,
                    tmp_path / "out", env, ["--predict_only"], tasks="emc_tag,emc_persona,emc_footer")
        assert server.calls == 0
        inputs = sorted(str(p) for p in (tmp_path / "out").rglob("samples_*.jsonl"))
        judged = tmp_path / "judged.jsonl"
        result = subprocess.run([str(BIN / "emc-bench"), "judge", *inputs, "--judge", "openai:judge-model",
                                 "--base-url", server.base_url, "--cache", str(tmp_path / "judge.sqlite"),
                                 "--no-progress", "--out", str(judged)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        assert server.calls == 2 * 2 * 16
    rows = [json.loads(line) for line in judged.open()]
    assert len(rows) == 2 * 16 and all(r["status"] == "ok" for r in rows)
    assert {r["condition"] for r in rows} == {"none", "exact", "paraphrase", "negated", "related", "unrelated"}


def test_emc_lm_eval_adds_the_task_folder_only_when_missing():
    assert with_task_folder(["--tasks", "emc"]) == ["--tasks", "emc", "--include_path", tasks_dir()]
    assert with_task_folder(["--include_path", "x"]) == ["--include_path", "x"]


def test_emc_bench_eval_runs_tasks_judges_and_reports_then_resumes(tiny_model_dir, tmp_path):
    """The v1 tasks of one trigger on the tiny model, judged by the same tiny model (hf backend)."""
    data = tmp_path / "v1"
    build_release("v1", data, only="eval-*,suite-*", progress=False, leakage_gate=False)
    env = {**os.environ, "EMC_BENCH_CACHE": str(tmp_path / "cache")}
    command = [str(BIN / "emc-bench"), "eval", "--model", f"hf:{tiny_model_dir}", "--model-arg", "dtype=float32",
               "--data", str(data), "--trigger", "deploy_tag", "--limit", "2", "--samples", "1",
               "--max-gen-toks", "8", "--judge", f"hf:{tiny_model_dir}", "--out", str(tmp_path / "run")]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "judged.jsonl").open()]
    assert len(rows) == 6 * 2 and all(r["status"] == "ok" for r in rows)
    profile = json.loads((tmp_path / "run" / "report" / "profile.json").read_text())["profiles"]
    assert [p["trigger_id"] for p in profile] == ["deploy_tag"]
    assert list(profile[0]["conditions"]) == ["none", "exact", "paraphrase", "negated", "related", "unrelated"]
    assert profile[0]["containment_gap"]["value"] is not None
    assert (tmp_path / "run" / "report" / "report.html").is_file()
    assert list((tmp_path / "run" / "report" / "plots").glob("*.png"))
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "generating" not in again.stdout, "finished generations are not redone"
    two = [*command[:command.index("--samples") + 1], "2", *command[command.index("--samples") + 2:]]
    refused = subprocess.run(two, env=env, capture_output=True, text=True, timeout=900)
    assert refused.returncode == 2 and "generation.samples: differs from the run already in this folder" in \
        refused.stderr
    fresh = subprocess.run([*two, "--fresh"], env=env, capture_output=True, text=True, timeout=900)
    assert fresh.returncode == 0 and "generating" in fresh.stdout, fresh.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / "run" / "judged.jsonl").open()]
    assert len(rows) == 6 * 2 * 2, "--fresh discarded the one-sample run and made the two-sample one"
