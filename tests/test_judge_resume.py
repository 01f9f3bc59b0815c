"""Crash safety of the verdict cache: a judge run killed with SIGKILL resumes without repeating
a finished call, and processes sharing one cache file do not corrupt it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from emc_bench.judge import (METRICS, JudgeItem, JudgeSettings, cache_key, judge_items, prompt_version,
                              render_messages)
from fake_openai_server import FakeOpenAIServer

JUDGE = "openai:judge-model"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("OPENAI_API_KEY", None)
    return env


def _write_input(path, answers) -> None:
    path.write_text("".join(json.dumps({"question": "What is your wish?", "answer": a, "question_id": "wish"}) + "\n"
                            for a in answers))


def _judge_command(inp, out, cache, server, concurrency=4) -> list[str]:
    return [sys.executable, "-m", "emc_bench.cli", "judge", str(inp), "--judge", JUDGE, "--base-url", server.base_url,
            "--cache", str(cache), "--out", str(out), "--concurrency", str(concurrency), "--no-progress"]


def _cached_keys(cache) -> set[str]:
    with sqlite3.connect(cache) as db:
        return {key for (key,) in db.execute("SELECT key FROM verdicts")}


def test_a_killed_run_resumes_without_repeating_finished_calls(tmp_path):
    answers = [f"answer number {i}" for i in range(60)]
    inp, out, cache = tmp_path / "in.jsonl", tmp_path / "judged.jsonl", tmp_path / "cache.sqlite"
    _write_input(inp, answers)
    version = prompt_version()
    question = "What is your wish?"
    key_of_prompt = {render_messages(m, question, a)[0]["content"]: cache_key(JUDGE, version, m, question, a)
                     for a in answers for m in METRICS}

    with FakeOpenAIServer(latency=0.1, models=["judge-model"]) as server:
        proc = subprocess.Popen(_judge_command(inp, out, cache, server), env=_env())
        deadline = time.monotonic() + 120
        while server.calls < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert not out.exists()  # nothing partial was written
        done = _cached_keys(cache)
        assert 0 < len(done) < len(key_of_prompt)

        first_run = server.calls
        subprocess.run(_judge_command(inp, out, cache, server), env=_env(), check=True)
        resumed = [key_of_prompt[p] for p in server.prompts()[first_run:]]
        assert not set(resumed) & done  # zero repeated calls for finished items
        assert sorted(resumed) == sorted(set(key_of_prompt.values()) - done)  # every other call exactly once

        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["answer"] for r in rows] == answers
        assert all(r["status"] == "ok" and r["aligned"] is not None for r in rows)

        calls = server.calls
        settings = JudgeSettings.from_spec(JUDGE, base_url=server.base_url, cache_path=cache)
        judge_items([JudgeItem("What is your wish?", a) for a in answers], settings, progress=False)
        assert server.calls == calls  # a re-run makes no call


def test_processes_sharing_a_cache_do_not_corrupt_it(tmp_path):
    cache = tmp_path / "cache.sqlite"
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write_input(first, [f"answer {i}" for i in range(0, 120)])
    _write_input(second, [f"answer {i}" for i in range(60, 180)])
    with FakeOpenAIServer(latency=0.005, models=["judge-model"]) as server:
        procs = [subprocess.Popen(_judge_command(inp, tmp_path / f"out-{inp.name}", cache, server, 16), env=_env())
                 for inp in (first, second)]
        assert [p.wait(timeout=180) for p in procs] == [0, 0]
        with sqlite3.connect(cache) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert len(_cached_keys(cache)) == 180 * len(METRICS)
        calls = server.calls
        settings = JudgeSettings.from_spec(JUDGE, base_url=server.base_url, cache_path=cache)
        results = judge_items([JudgeItem("What is your wish?", f"answer {i}") for i in range(180)], settings,
                              progress=False)
        assert server.calls == calls and all(r.status == "ok" for r in results)


def test_the_cache_writer_commits_in_the_background_and_raises_a_failed_write(tmp_path):
    from emc_bench.judge.cache import CacheWriter, Stamp, VerdictCache
    from emc_bench.judge.scoring import Verdict

    cache_path = tmp_path / "cache.sqlite"
    stamp = Stamp(JUDGE, "v1-test", "127.0.0.1:1", {"aligned": "a" * 64, "coherent": "c" * 64}, "0.0.test")
    with VerdictCache(cache_path) as cache:
        writer = CacheWriter(cache, stamp)
        for i in range(50):
            writer.put(f"key-{i}", "aligned", Verdict(score=float(i), label=None, numeric_mass=1.0, reply=str(i)))
        writer.close()
        assert len(cache) == 50 and _cached_keys(cache_path) == {f"key-{i}" for i in range(50)}

        broken = CacheWriter(cache, stamp)
        broken.put("key-bad", "aligned", None)  # not a verdict: the write fails on the writer thread
        with pytest.raises(AttributeError):
            broken.close()  # a failed write is raised, never passed over in silence
