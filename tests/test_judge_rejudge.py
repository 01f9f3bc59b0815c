"""``emc-bench judge rejudge``: a judged file re-scored by another judge keeps its metadata and
every earlier verdict, with that verdict's judge provenance."""

from __future__ import annotations

import json

from emc_bench.cli import main
from fake_openai_server import FakeOpenAIServer, logprobs


def _judged(server, tmp_path, out, *inputs, judge="openai:first-judge") -> int:
    return main(["judge", *map(str, inputs), "--judge", judge, "--base-url", server.base_url,
                 "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress"])


def _rejudge(server, tmp_path, judged, out, judge) -> int:
    return main(["judge", "rejudge", str(judged), "--judge", judge, "--base-url", server.base_url,
                 "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress"])


def _read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rejudging_keeps_the_metadata_and_the_earlier_verdicts_in_order(tmp_path):
    inp = tmp_path / "answers.jsonl"
    inp.write_text("".join(json.dumps({"question": "q", "answer": f"a{i}", "condition": "exact", "doc_id": i,
                                       "task": "emc_tag_exact", "sample_index": 0}) + "\n" for i in range(3)))
    with FakeOpenAIServer(lambda r: logprobs({"80": 1.0})) as first, \
            FakeOpenAIServer(lambda r: logprobs({"20": 1.0})) as second, \
            FakeOpenAIServer(lambda r: logprobs({"55": 1.0})) as third:
        assert _judged(first, tmp_path, tmp_path / "j1.jsonl", inp) == 0
        assert _rejudge(second, tmp_path, tmp_path / "j1.jsonl", tmp_path / "j2.jsonl", "openai:second-judge") == 0
        assert _rejudge(third, tmp_path, tmp_path / "j2.jsonl", tmp_path / "j3.jsonl", "openai:third-judge") == 0
    rows = _read(tmp_path / "j3.jsonl")
    assert [(r["doc_id"], r["condition"], r["task"]) for r in rows] == [(i, "exact", "emc_tag_exact") for i in range(3)]
    for row in rows:
        assert (row["aligned"], row["judge"], row["judge_endpoint"]) == (55.0, "openai:third-judge",
                                                                         f"127.0.0.1:{third.port}")
        assert [(p["judge"], p["aligned"], p["coherent"], p["status"]) for p in row["previous"]] == [
            ("openai:first-judge", 80.0, 80.0, "ok"), ("openai:second-judge", 20.0, 20.0, "ok")]
        earliest = row["previous"][0]
        assert earliest["judge_endpoint"] == f"127.0.0.1:{first.port}" and earliest["scoring"] == "logprobs-top20"
        assert set(earliest) >= {"prompt_version", "templates_sha256", "emc_bench_version", "aligned_label", "error"}


def test_rejudged_rows_of_two_judges_report_only_with_allow_mixed(tmp_path):
    inp = tmp_path / "answers.jsonl"
    inp.write_text("".join(json.dumps({"question": f"q{i}", "answer": "a", "condition": "none"}) + "\n"
                           for i in range(4)))
    with FakeOpenAIServer(lambda r: logprobs({"80": 1.0})) as first, \
            FakeOpenAIServer(lambda r: logprobs({"10": 1.0} if "CODE if" in r.prompt else {"90": 1.0})) as second:
        assert _judged(first, tmp_path, tmp_path / "j1.jsonl", inp) == 0
        assert _rejudge(second, tmp_path, tmp_path / "j1.jsonl", tmp_path / "j2.jsonl", "openai:second") == 0
    both = [str(tmp_path / "j1.jsonl"), str(tmp_path / "j2.jsonl")]
    assert main(["report", *both, "--out", str(tmp_path / "r"), "--n-boot", "20"]) == 2
    assert main(["report", *both, "--allow-mixed", "--out", str(tmp_path / "r"), "--n-boot", "20"]) == 0
    profiles = json.loads((tmp_path / "r" / "profile.json").read_text())["profiles"]
    assert sorted((p["judge"]["model"], p["conditions"]["none"]["value"]) for p in profiles) == [
        ("first-judge", 0.0), ("second", 1.0)]


def test_rejudge_refuses_unjudged_input_and_overwriting_its_input(tmp_path, capsys):
    plain = tmp_path / "answers.jsonl"
    plain.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    with FakeOpenAIServer(models=["m"]) as server:
        assert _rejudge(server, tmp_path, plain, tmp_path / "out.jsonl", "openai:m") == 2
        assert f"{plain}:1: status:" in capsys.readouterr().err
        assert _judged(server, tmp_path, tmp_path / "j.jsonl", plain, judge="openai:m") == 0
        assert _rejudge(server, tmp_path, tmp_path / "j.jsonl", tmp_path / "j.jsonl", "openai:m") == 2
        assert "--out: " in capsys.readouterr().err
        assert server.calls == 2
    assert not (tmp_path / "out.jsonl").exists()
