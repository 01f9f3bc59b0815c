"""`emc-bench eval` up to the point where a model would load: the exact lm-eval command built for
the hf and vllm backends (vLLM itself needs a GPU and cannot run here, so its cases stop at the
command boundary), the run record and when a rerun may reuse generations, and every check that
must stop a bad run before anything expensive starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emc_bench import eval_run
from emc_bench.cli import main
from emc_bench.errors import SpecError

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"


def adapter_folder(tmp_path: Path, rank: int) -> Path:
    folder = tmp_path / f"adapter-r{rank}"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": 2 * rank}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights of rank %d" % rank)
    return folder


def record(tmp_path: Path, model: str, peft: str | None = None, **options) -> dict:
    backend_options = {"tensor_parallel_size": 1, "data_parallel_size": 1, "model_args": [], **options}
    return eval_run.new_record(
        model=eval_run.model_record(model, None), adapter=eval_run.adapter_record(peft),
        generation={"samples": 4, "max_gen_toks": 600, "temperature": 1.0, "top_p": 1.0, "limit": None},
        suite={"name": "standard", "version": "1.0.0"}, triggers=["t"], tasks=["emc_none"],
        release={"name": "v1", "version": "1.0.0", "manifest_sha256": "0" * 64},
        backend_options=backend_options, argv=["emc-bench", "eval"])


def model_args(argv: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in argv[argv.index("--model_args") + 1].split(","))


def test_hf_backend_gets_the_adapter_through_peft(tmp_path):
    adapter = adapter_folder(tmp_path, 32)
    argv = eval_run.lm_eval_argv(record(tmp_path, "hf:org/model", str(adapter)), ["dtype=bfloat16"],
                                 tmp_path / "tasks", ["emc_none"], tmp_path / "out", tmp_path / "data")
    assert argv[argv.index("--model") + 1] == "hf"
    assert model_args(argv) == {"pretrained": "org/model", "revision": "main", "peft": str(adapter.resolve()),
                                "dtype": "bfloat16"}
    assert "--predict_only" in argv and argv[argv.index("--include_path") + 1] == str(tmp_path / "tasks")


@pytest.mark.parametrize("rank, max_rank", [(1, 8), (8, 8), (16, 16), (32, 32), (48, 64), (300, 320)])
def test_vllm_reads_the_lora_rank_from_the_adapter(tmp_path, rank, max_rank):
    adapter = adapter_folder(tmp_path, rank)
    argv = eval_run.lm_eval_argv(record(tmp_path, "vllm:org/model", str(adapter), tensor_parallel_size=2,
                                        data_parallel_size=4), [], tmp_path / "tasks", ["emc_none"],
                                 tmp_path / "out", tmp_path / "data")
    args = model_args(argv)
    assert argv[argv.index("--model") + 1] == "vllm"
    assert args["lora_local_path"] == str(adapter.resolve()) and args["max_lora_rank"] == str(max_rank)
    assert args["enable_prefix_caching"] == "True" and args["seed"] == str(eval_run.VLLM_SEED)
    assert args["tensor_parallel_size"] == "2" and args["data_parallel_size"] == "4"
    assert not any(a.startswith("n=") for a in argv), "samples come from lm-eval repeats, never vLLM's n"


def test_vllm_refuses_a_rank_it_cannot_load_and_a_hub_adapter(tmp_path):
    with pytest.raises(SpecError, match="LoRA rank 1024 is above vLLM's largest max_lora_rank 512"):
        eval_run.model_args(record(tmp_path, "vllm:org/model", str(adapter_folder(tmp_path, 1024))), [])
    with pytest.raises(SpecError, match="vLLM loads adapters from a local folder"):
        eval_run.model_args(record(tmp_path, "vllm:org/model", "org/some-adapter"), [])


def test_the_adapter_record_names_the_weights_by_sha256(tmp_path):
    import hashlib

    adapter = adapter_folder(tmp_path, 4)
    entry = eval_run.adapter_record(str(adapter))
    assert entry["sha256"] == hashlib.sha256((adapter / "adapter_model.safetensors").read_bytes()).hexdigest()
    assert entry["rank"] == 4


def test_a_rerun_with_other_settings_is_refused_naming_the_field(tmp_path):
    old = record(tmp_path, "hf:org/model")
    for change, field in [({"generation": {**old["generation"], "samples": 2}}, "generation.samples"),
                          ({"generation": {**old["generation"], "limit": 3}}, "generation.limit"),
                          ({"model": {**old["model"], "id": "org/other"}}, "model.id"),
                          ({"adapter": {"path": "a", "sha256": "b", "rank": 1}}, "adapter"),
                          ({"release": {**old["release"], "manifest_sha256": "1" * 64}}, "release.manifest_sha256")]:
        with pytest.raises(SpecError, match=f"run.json: {field}: differs from the run already in this folder"):
            eval_run.check_same(old, {**old, **change}, tmp_path / "run.json")
    eval_run.check_same(old, {**old, "command": ["emc-bench", "eval", "--judge", "x"]}, tmp_path / "run.json")


@pytest.fixture
def mini_args(tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMC_BENCH_CACHE", str(tmp_path / "cache"))
    return ["eval", "--release", "mini", "--builders", str(TEST_BUILDERS), "--model", f"hf:{tiny_model_dir}",
            "--judge", f"hf:{tiny_model_dir}", "--limit", "1", "--out", str(tmp_path / "run")]


def nothing_written(tmp_path: Path) -> bool:
    return not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra, message", [
    (["--samples", "0"], "argument --samples: must be at least 1, not 0"),
    (["--limit", "-1"], "argument --limit: must be at least 1, not -1"),
    (["--limit", "0"], "argument --limit: must be at least 1, not 0"),
    (["--max-gen-toks", "0"], "argument --max-gen-toks: must be at least 1, not 0"),
    (["--concurrency", "x"], "argument --concurrency: 'x' is not a whole number"),
    (["--max-cost", "-1"], "argument --max-cost: must be 0 or more, not -1"),
    (["--trigger", "nope"], "--trigger: unknown trigger 'nope' for suite standard"),
    (["--suite", "huge"], "--suite: unknown suite 'huge'"),
    (["--model", "tgi:x"], "--model: 'tgi:x': expected hf:PATH_OR_ID or vllm:PATH_OR_ID"),
    (["--peft", "/no/such/adapter"], "--peft: '/no/such/adapter' is not a folder"),
    (["--judge", "hf:/no/such/judge"], "--judge: hf:/no/such/judge: no such model folder"),
    (["--judge", "openai:gpt-4o-2024-08-06"], "environment: OPENAI_API_KEY: is not set"),
    (["--data", "/no/such/release"], "manifest.json missing"),
    (["--builders", "/no/such/builders"], "--builders: /no/such/builders: no such folder"),
    (["--max-cost", "0", "--judge", "openai:gpt-4o-2024-08-06", "--base-url", "http://127.0.0.1:9/v1"],
     "--max-cost: the judge's estimated cost"),
    (["--judge", "openai:gpt-4o-2024-08-06", "--base-url", "http://127.0.0.1:9/v1"],
     "http://127.0.0.1:9/v1/models: connection refused"),
])
def test_bad_input_stops_before_any_model_loads_with_one_line(mini_args, tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert exit_code([*mini_args, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert nothing_written(tmp_path)


def exit_code(argv: list[str]) -> int:
    """The exit code of the command: returned, or raised by argparse as SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit:
        return int(exit.code)


def test_an_unwritable_out_folder_stops_before_generation(mini_args, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: a file in the way stands in
            locked.chmod(0o700)
            locked.rmdir()
            locked.write_text("a file, not a folder")
        args = [a if a != str(tmp_path / "run") else str(locked / "run") for a in mini_args]
        assert exit_code(args) == 2
        err = capsys.readouterr().err
        assert "--out:" in err and "cannot write there" in err
    finally:
        if locked.is_dir():
            locked.chmod(0o700)


def test_the_plan_and_max_cost_count_the_samples_and_limit_the_run_asks(tiny_model_dir, tmp_path, monkeypatch, capsys):
    """`--samples` and `--limit` change what a run costs: the plan printed and the `--max-cost`
    check count them, so a run of 10x the suite's samples cannot slip under a cap set for the suite."""
    from emc_bench import protocol
    from emc_bench.library import Library
    from emc_bench.resolve import resolve_release

    loaded = resolve_release("mini", Library((TEST_BUILDERS,)))
    suite = loaded.spec.suites["standard"]
    default = protocol.estimate(loaded, "standard", judge_model="gpt-4o-2024-08-06")
    more = protocol.estimate(loaded, "standard", judge_model="gpt-4o-2024-08-06", samples=10 * suite.samples)
    assert more["answers"] == 10 * default["answers"] and more["samples"] == 10 * suite.samples
    assert more["cost"]["list_usd"] > 9 * default["cost"]["list_usd"]
    limited = protocol.estimate(loaded, "standard", limit=1)
    assert limited["prompts"] == len(limited["tasks"]) and all(t["prompts"] == 1 for t in limited["tasks"])

    monkeypatch.setenv("EMC_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    cap = 2 * default["cost"]["list_usd"]  # above the suite's cost, below ten times its samples
    code = exit_code(["eval", "--release", "mini", "--builders", str(TEST_BUILDERS), "--model", f"hf:{tiny_model_dir}",
                      "--judge", "openai:gpt-4o-2024-08-06", "--base-url", "http://127.0.0.1:9/v1",
                      "--samples", str(10 * suite.samples), "--max-cost", f"{cap:.6f}", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--max-cost: the judge's estimated cost" in err[0], err
    assert nothing_written(tmp_path)


def test_a_folder_with_generations_but_no_run_record_is_not_reused(mini_args, tmp_path, capsys):
    """Samples files with no run.json beside them (another tool's run, an older layout) say nothing
    of the model or settings that made them: the run stops before anything loads instead of
    taking them as its own, and names --fresh."""
    stale = tmp_path / "run" / "lm_eval" / "old-model" / "samples_emc_none_2026-01-01T00-00-00.000000.jsonl"
    stale.parent.mkdir(parents=True)
    stale.write_text('{"doc_id": 0}\n')
    assert exit_code(mini_args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run.json: missing, yet" in err[0] and "lm_eval" in err[0] and "--fresh" in err[0], err
    assert stale.is_file() and not (tmp_path / "run" / "run.json").exists()
