"""A judge that fails fast: an endpoint that cannot serve stops the run with one line and exit 2,
a run where any item failed does not exit 0, ``preflight`` finds an unusable judge in seconds,
and an interrupted run says how much is cached."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from emc_bench.cli import main
from emc_bench.errors import SpecError
from emc_bench.judge import JudgeItem, JudgeSettings, judge_items, preflight
from fake_openai_server import FakeOpenAIServer


def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _plain(path, answers) -> None:
    path.write_text("".join(json.dumps({"question": "What is your wish?", "answer": a}) + "\n" for a in answers))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("OPENAI_API_KEY", None)
    return env


def test_nothing_listening_stops_at_once_with_one_line_naming_the_endpoint(tmp_path, capsys):
    inp, out = tmp_path / "in.jsonl", tmp_path / "judged.jsonl"
    _plain(inp, ["a", "b", "c", "d"])
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    assert main(["judge", str(inp), "--judge", "openai:m", "--base-url", url, "--cache", str(tmp_path / "c.sqlite"),
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and url in err[0]
    assert not out.exists()


def test_the_runner_stops_on_a_refused_connection_without_retrying(tmp_path):
    """judge_items alone (no preflight, as the lm-eval filter calls it): the first refused
    connection ends the run, rather than six attempts per call with back-off."""
    port = _closed_port()
    settings = JudgeSettings.from_spec("openai:m", base_url=f"http://127.0.0.1:{port}/v1",
                                       cache_path=tmp_path / "c.sqlite", backoff=5.0)
    with pytest.raises(SpecError, match=f"127.0.0.1:{port}.*refused"):
        judge_items([JudgeItem("q", f"a{i}") for i in range(50)], settings, progress=False)


def test_repeated_timeouts_before_any_reply_stop_the_run(tmp_path):
    from emc_bench.judge.openai_backend import FIRST_TIMEOUTS

    with FakeOpenAIServer(timeout_delay=2.0) as server:
        settings = JudgeSettings.from_spec("openai:m", base_url=server.base_url, cache_path=tmp_path / "c.sqlite",
                                           timeout=0.2, backoff=0.01, concurrency=1)
        items = [JudgeItem("q", f"a{i} [[faults: timeout, timeout, timeout, timeout, timeout, timeout]]")
                 for i in range(20)]
        with pytest.raises(SpecError, match=rf"{server.port}.*{FIRST_TIMEOUTS} timeouts"):
            judge_items(items, settings, progress=False)
        assert server.calls == FIRST_TIMEOUTS


def test_a_run_of_consecutive_failed_calls_stops_the_run_and_keeps_the_cache(tmp_path):
    from emc_bench.judge.runner import CONSECUTIVE_FAILURES

    with FakeOpenAIServer() as server:
        settings = JudgeSettings.from_spec("openai:m", base_url=server.base_url, cache_path=tmp_path / "c.sqlite",
                                           max_attempts=1, concurrency=1)
        good = [JudgeItem("q", f"good {i} [[dist: 70=1]]") for i in range(3)]
        bad = [JudgeItem("q", f"bad {i} [[faults: 500]]") for i in range(4 * CONSECUTIVE_FAILURES)]
        with pytest.raises(SpecError, match=rf"{server.port}.*{CONSECUTIVE_FAILURES} judge calls failed in a row"
                                            r".*HTTP 500.*6 verdicts cached"):
            judge_items(good + bad, settings, progress=False)
        assert server.calls == 6 + CONSECUTIVE_FAILURES
        calls = server.calls
        assert [r.aligned for r in judge_items(good, settings, progress=False)] == [70.0] * 3
        assert server.calls == calls  # the verdicts before the stop stayed cached


def test_a_run_with_failed_items_exits_non_zero_and_counts_consistently(tmp_path, capsys):
    inp, out = tmp_path / "in.jsonl", tmp_path / "judged.jsonl"
    _plain(inp, ["fine [[dist: 80=1]]", "also fine [[dist: 20=1]]", "broken [[faults: 400]]"])
    with FakeOpenAIServer() as server:
        code = main(["judge", str(inp), "--judge", "openai:m", "--base-url", server.base_url,
                     "--cache", str(tmp_path / "c.sqlite"), "--out", str(out), "--no-progress"])
    assert code == 1
    assert "3 rows, 2 judged, 2 failed calls" in capsys.readouterr().err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]


# -- preflight ------------------------------------------------------------------------------

def test_preflight_needs_the_key_for_openais_own_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(SpecError, match="OPENAI_API_KEY"):
        preflight(JudgeSettings.from_spec("openai:gpt-4o-2024-08-06", cache_path=tmp_path / "c.sqlite"))


def test_preflight_accepts_a_model_listed_by_models_without_a_completion(tmp_path):
    with FakeOpenAIServer(models=["judge-model"]) as server:
        text = preflight(JudgeSettings.from_spec("openai:judge-model", base_url=server.base_url))
        assert server.calls == 0 and any(path.endswith("/models") for path in server.gets)
    assert "judge-model" in text and f"127.0.0.1:{server.port}" in text


def test_preflight_falls_back_to_one_completion_when_models_is_a_404(tmp_path):
    with FakeOpenAIServer() as server:
        text = preflight(JudgeSettings.from_spec("openai:judge-model", base_url=server.base_url))
        assert server.calls == 1 and server.log[0].body["max_tokens"] == 1
    assert "judge-model" in text


def test_preflight_names_the_endpoint_that_refuses_the_model(tmp_path):
    with FakeOpenAIServer(lambda request: __import__("fake_openai_server").status(404)) as server:
        with pytest.raises(SpecError, match=f"127.0.0.1:{server.port}.*HTTP 404"):
            preflight(JudgeSettings.from_spec("openai:judge-model", base_url=server.base_url))


def test_preflight_names_an_endpoint_where_nothing_listens():
    port = _closed_port()
    with pytest.raises(SpecError, match=f"127.0.0.1:{port}"):
        preflight(JudgeSettings.from_spec("openai:m", base_url=f"http://127.0.0.1:{port}/v1"))


def test_preflight_checks_that_an_hf_judge_path_exists(tiny_model_dir, tmp_path):
    assert str(tiny_model_dir) in preflight(JudgeSettings.from_spec(f"hf:{tiny_model_dir}"))
    with pytest.raises(SpecError, match="--judge.*does-not-exist"):
        preflight(JudgeSettings.from_spec(f"hf:{tmp_path / 'does-not-exist'}"))


def test_a_missing_hf_judge_path_is_one_line_before_any_model_loads(tmp_path, capsys):
    inp, out = tmp_path / "in.jsonl", tmp_path / "judged.jsonl"
    _plain(inp, ["a"])
    assert main(["judge", str(inp), "--judge", f"hf:{tmp_path / 'no-model'}", "--cache", str(tmp_path / "c.sqlite"),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-model" in err[0] and not out.exists()


# -- interrupts -----------------------------------------------------------------------------

def test_sigint_during_judging_says_what_is_cached_and_exits_130(tmp_path):
    inp, out, cache = tmp_path / "in.jsonl", tmp_path / "judged.jsonl", tmp_path / "c.sqlite"
    _plain(inp, [f"answer {i}" for i in range(200)])
    with FakeOpenAIServer(latency=0.05) as server:
        proc = subprocess.Popen([sys.executable, "-m", "emc_bench.cli", "judge", str(inp), "--judge", "openai:m",
                                 "--base-url", server.base_url, "--cache", str(cache), "--out", str(out),
                                 "--concurrency", "2", "--no-progress"],
                                env=_env(), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while server.calls < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    n = int(last.removeprefix("interrupted: ").split()[0])
    assert last == f"interrupted: {n} verdicts cached, rerun to resume" and n >= 5
    assert not out.exists()


def test_keyboard_interrupt_in_any_command_is_one_line_and_exit_130(monkeypatch, capsys):
    """Ctrl-C is simulated by a command body that raises KeyboardInterrupt (a real signal is
    covered by the judge test above)."""
    import emc_bench.commands.verify as verify

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "run", interrupted)
    assert main(["verify", "anything"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_the_readme_states_the_thresholds_the_judge_applies():
    from pathlib import Path

    from emc_bench.judge.openai_backend import DETECT_REPLIES, FIRST_TIMEOUTS
    from emc_bench.judge.runner import CONSECUTIVE_FAILURES

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert f"{CONSECUTIVE_FAILURES} failed calls in a row" in readme
    assert f"{FIRST_TIMEOUTS} timeouts before any reply" in readme
    assert f"no logprobs on its first {DETECT_REPLIES} replies" in readme
