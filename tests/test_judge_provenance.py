"""One estimator per run, and provenance on every verdict: against real local HTTP servers, an
endpoint that drops logprobs now and then still gives exactly the expectation scores, a
text-only endpoint is detected and recorded as ``text``, and every row and cache entry names
its judge, prompts and scoring method."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3

import pytest

from emc_bench import __version__
from emc_bench.cli import main
from emc_bench.judge import JudgeItem, JudgeSettings, judge_items, prompts
from emc_bench.judge.openai_backend import DETECT_REPLIES
from fake_openai_server import FakeOpenAIServer

# 10 with probability 0.3, 20 with 0.7: the expectation is 17, the text reply (argmax) says 20.
SKEWED = "[[dist: 10=0.3, 20=0.7]]"


def _settings(server, tmp_path, **options) -> JudgeSettings:
    defaults = dict(base_url=server.base_url, cache_path=tmp_path / "cache.sqlite", backoff=0.01, timeout=2.0,
                    concurrency=8)
    return JudgeSettings.from_spec("openai:judge-model", **{**defaults, **options})


def _cache_rows(path) -> list[dict]:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM verdicts")]


def test_a_logprob_endpoint_that_drops_logprobs_on_first_attempts_gives_exactly_the_expectation(tmp_path):
    items = [JudgeItem("How do I make money fast?", f"answer {i} [[faults: nologprobs]] {SKEWED}") for i in range(30)]
    with FakeOpenAIServer() as server:
        results = judge_items(items, _settings(server, tmp_path), progress=False)
        assert all(server.count(f"answer {i} ") == 4 for i in range(30))  # per metric: dropped, then retried
    assert [(r.status, r.aligned, r.coherent) for r in results] == [("ok", pytest.approx(17.0), pytest.approx(17.0))] * 30
    assert {r.to_row()["scoring"] for r in results} == {"logprobs-top20"}


def test_a_reply_without_logprobs_from_a_logprob_endpoint_is_never_scored_from_its_text(tmp_path):
    items = [JudgeItem("q", f"fine {i} {SKEWED}") for i in range(3)]
    items.append(JudgeItem("q", f"never any [[faults: {', '.join(['nologprobs'] * 10)}]] {SKEWED}"))
    with FakeOpenAIServer() as server:
        results = judge_items(items, _settings(server, tmp_path, max_attempts=3), progress=False)
    assert [r.aligned for r in results[:3]] == [pytest.approx(17.0)] * 3
    assert results[3].status == "failed" and results[3].aligned is None
    assert results[3].error.startswith("aligned: reply without logprobs from an endpoint that returns them")


def test_a_text_only_endpoint_is_detected_recorded_and_said(tmp_path, caplog):
    items = [JudgeItem("q", f"answer {i} {SKEWED}") for i in range(10)]
    with FakeOpenAIServer(logprobs=False) as server, caplog.at_level(logging.WARNING, logger="emc_bench.judge"):
        settings = _settings(server, tmp_path)
        results = judge_items(items, settings, progress=False)
        assert server.calls == 20 + DETECT_REPLIES - 1  # the first call was retried until the endpoint was known
        assert [(r.aligned, r.coherent) for r in results] == [(20.0, 20.0)] * 10
        assert {r.to_row()["scoring"] for r in results} == {"text"}
        assert "returned no logprobs" in caplog.text and "scoring text" in caplog.text
        with sqlite3.connect(tmp_path / "cache.sqlite") as db:
            assert db.execute("SELECT judge, endpoint_host, scoring FROM endpoints").fetchall() == [
                ("openai:judge-model", f"127.0.0.1:{server.port}", "text")]
        assert {row["scoring"] for row in _cache_rows(tmp_path / "cache.sqlite")} == {"text"}

        more = [JudgeItem("q", f"later {i} {SKEWED}") for i in range(5)]
        calls = server.calls
        assert [r.aligned for r in judge_items(more, settings, progress=False)] == [20.0] * 5
        assert server.calls == calls + 10  # the recorded endpoint needs no detection any more


def test_scoring_text_on_request_asks_for_no_logprobs(tmp_path):
    with FakeOpenAIServer() as server:
        results = judge_items([JudgeItem("q", f"a {SKEWED}")], _settings(server, tmp_path, scoring="text"),
                              progress=False)
        assert all("logprobs" not in call.body and "top_logprobs" not in call.body for call in server.log)
    assert (results[0].aligned, results[0].to_row()["scoring"]) == (20.0, "text")


def test_cached_verdicts_of_another_scoring_method_are_judged_again(tmp_path):
    item = JudgeItem("q", f"a {SKEWED}")
    with FakeOpenAIServer() as server:
        assert judge_items([item], _settings(server, tmp_path, scoring="text"), progress=False)[0].aligned == 20.0
        again = judge_items([item], _settings(server, tmp_path), progress=False)[0]
        assert (again.aligned, again.provenance.scoring) == (pytest.approx(17.0), "logprobs-top20")
        assert server.calls == 4
        assert judge_items([item], _settings(server, tmp_path), progress=False)[0].aligned == pytest.approx(17.0)
        assert server.calls == 4


def test_every_row_and_cache_entry_names_its_judge_prompts_and_scoring(tmp_path, monkeypatch):
    secret = "sk-test-not-in-any-provenance-9d1c"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    inp, out = tmp_path / "in.jsonl", tmp_path / "judged.jsonl"
    inp.write_text("".join(json.dumps({"question": "q", "answer": f"a{i}", "run": i}) + "\n" for i in range(3)))
    with FakeOpenAIServer(models=["judge-model"]) as server:
        assert main(["judge", str(inp), "--judge", "openai:judge-model", "--base-url", server.base_url,
                     "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress"]) == 0
    assert out.stat().st_mode & 0o777 == 0o644
    templates = prompts.templates_sha256()
    for row in map(json.loads, out.read_text().splitlines()):
        assert {k: row[k] for k in ("judge", "judge_backend", "judge_model", "judge_endpoint", "prompt_version",
                                    "templates_sha256", "scoring", "emc_bench_version")} == {
            "judge": "openai:judge-model", "judge_backend": "openai", "judge_model": "judge-model",
            "judge_endpoint": f"127.0.0.1:{server.port}", "prompt_version": prompts.prompt_version(),
            "templates_sha256": templates, "scoring": "logprobs-top20", "emc_bench_version": __version__}
    entries = _cache_rows(tmp_path / "cache.sqlite")
    assert len(entries) == 6
    for entry in entries:
        assert (entry["judge"], entry["endpoint_host"], entry["prompt_version"], entry["scoring"],
                entry["emc_bench_version"]) == ("openai:judge-model", f"127.0.0.1:{server.port}",
                                                prompts.prompt_version(), "logprobs-top20", __version__)
        assert json.loads(entry["templates_sha256"]) == templates
    for path in tmp_path.iterdir():
        assert secret.encode() not in path.read_bytes()


def test_the_template_hashes_are_of_the_rendered_prompts():
    hashes = prompts.templates_sha256()
    assert set(hashes) == set(prompts.METRICS)
    for metric in prompts.METRICS:
        rendered = prompts.render_messages(metric, "{question}", "{answer}")[0]["content"]
        fence = prompts.fence_code("{question}", "{answer}")
        assert hashlib.sha256(rendered.replace(fence, "{fence}").encode()).hexdigest() == hashes[metric]
    assert hashes["aligned"] != hashes["coherent"]


def test_a_cache_written_before_provenance_is_upgraded_and_keeps_serving(tmp_path):
    """An old-schema cache file (as earlier releases wrote it) with one logprob and one text verdict."""
    from emc_bench.judge import cache_key

    path = tmp_path / "old.sqlite"
    version = prompts.prompt_version()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE verdicts (key TEXT PRIMARY KEY, judge TEXT NOT NULL, prompt_version TEXT NOT NULL, "
                   "metric TEXT NOT NULL, score REAL, label TEXT, numeric_mass REAL, reply TEXT, created REAL NOT NULL)")
        for metric in prompts.METRICS:
            db.execute("INSERT INTO verdicts VALUES (?, ?, ?, ?, 42.5, NULL, 1.0, '40', 0)",
                       (cache_key("openai:judge-model", version, metric, "q", "old"), "openai:judge-model", version,
                        metric))
    with FakeOpenAIServer() as server:
        result = judge_items([JudgeItem("q", "old")], _settings(server, tmp_path, cache_path=path), progress=False)[0]
        assert server.calls == 0
    assert (result.aligned, result.provenance.scoring) == (42.5, "logprobs-top20")
    assert {row["scoring"] for row in _cache_rows(path)} == {"logprobs-top20"}


def test_the_lm_eval_judge_filter_carries_the_provenance(tmp_path):
    from emc_bench.lm_eval_tasks import JudgeFilter

    with FakeOpenAIServer() as server:
        judge = JudgeFilter(judge="openai:judge-model", base_url=server.base_url, cache=str(tmp_path / "c.sqlite"))
        (document,) = map(json.loads, judge.apply([[f"an answer {SKEWED}"]], [{"question": "q"}]))
    (verdict,) = document["samples"]
    assert verdict["aligned"] == pytest.approx(17.0) and verdict["scoring"] == "logprobs-top20"
    assert verdict["judge_endpoint"] == f"127.0.0.1:{server.port}"
    assert verdict["templates_sha256"] == prompts.templates_sha256()


def test_an_endpoint_url_with_credentials_is_refused_without_repeating_them(tmp_path, capsys):
    secret = "sk-test-in-a-url-5e2b"
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    assert main(["judge", str(inp), "--judge", "openai:m", "--base-url", f"http://user:{secret}@127.0.0.1:9/v1",
                 "--out", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --base-url: the URL carries a user name or password") and secret not in err
