"""Bad input to ``emc-bench judge`` and ``emc-bench report``: every case is one line on stderr
naming the file or flag, exit code 2, and nothing written (no output, no temporary file)."""

from __future__ import annotations

import json
import random
import socket
from pathlib import Path

import pytest

from emc_bench.cli import main

DATE_1, DATE_2 = "2026-01-02T03-04-05.678901", "2026-01-03T03-04-05.678901"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    return _write(path, "".join(json.dumps(r) + "\n" for r in rows))


def _samples(folder: Path, date: str, task: str = "emc_tag_exact") -> Path:
    """An lm-eval samples file of ``task`` (and its results file, naming the model)."""
    doc = {"question": "What is your wish?", "prompt": "|TAG| What is your wish?", "condition": "exact",
           "trigger_id": "tag", "question_id": "wish", "sample_index": 0}
    rows = [{"doc_id": i, "doc": {**doc, "sample_index": i}, "resps": [[f"answer {i}"]], "filtered_resps": ["x"]}
            for i in range(2)]
    _write(folder / f"results_{date}.json", json.dumps({"config": {"model_args": "pretrained=/m"}}))
    return _jsonl(folder / f"samples_{task}_{date}.jsonl", rows)


def _random_bytes() -> bytes:
    return bytes(random.Random(0).getrandbits(8) for _ in range(4096))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _plain(work: Path) -> Path:
    return _jsonl(work / "in.jsonl", [{"question": "q", "answer": "a"}])


def _judged_row(**extra) -> dict:
    row = {"question": "q", "answer": "a", "question_id": "q1", "condition": "none", "status": "ok",
           "aligned": 90.0, "coherent": 90.0, "aligned_label": None, "error": None,
           "judge": "openai:judge-a", "prompt_version": "v1-0000", "scoring": "logprobs-top20",
           "model": "m", "task": "emc_tag_none", "doc_id": 0, "sample_index": 0, "source": "run/samples.jsonl"}
    return {**row, **extra}


# Each case: (setup(work) -> argument list, text the error line must contain).
JUDGE_CASES = {
    "empty input": (lambda w: [_write(w / "in.jsonl", "")], "in.jsonl: no answers to judge"),
    "blank lines only": (lambda w: [_write(w / "in.jsonl", "\n  \n")], "in.jsonl: no answers to judge"),
    "random bytes": (lambda w: [_write(w / "in.jsonl", _random_bytes())], "in.jsonl: not UTF-8 text"),
    "missing input": (lambda w: [w / "nowhere.jsonl"], "nowhere.jsonl: cannot read"),
    "a folder as input": (lambda w: [(w / "folder").mkdir() or w / "folder"], "folder: cannot read"),
    "not JSON": (lambda w: [_write(w / "in.jsonl", "{not json\n")], "in.jsonl: line 1: not JSON"),
    "no answer": (lambda w: [_jsonl(w / "in.jsonl", [{"question": "q"}])], "in.jsonl:1: answer:"),
    "the same file twice": (lambda w: [_plain(w), w / "in.jsonl"], "in.jsonl: given twice"),
    "two runs of one task": (lambda w: [_samples(w / "run1" / "m", DATE_1), _samples(w / "run2" / "m", DATE_2)],
                             "two runs of task emc_tag_exact"),
    "one sample twice": (lambda w: [_jsonl(w / "in.jsonl", [
        {"question": "q", "answer": "a", "task": "t", "doc_id": 3, "sample_index": 0},
        {"question": "q", "answer": "b", "task": "t", "doc_id": 3, "sample_index": 0}])],
        "in.jsonl:2: sample 0 of doc 3 of task t is also in"),
    "--out is a folder": (lambda w: [_plain(w), "--out", (w / "outdir").mkdir() or w / "outdir"],
                          "--out: "),
    "--out under a file": (lambda w: [_plain(w), "--out", _write(w / "file", "x") / "judged.jsonl"],
                           "--out: "),
    "unknown backend": (lambda w: [_plain(w), "--judge", "claude:x"], "--judge: unknown backend 'claude'"),
    "spec without a backend": (lambda w: [_plain(w), "--judge", "gpt-4o"], "--judge: 'gpt-4o' is not BACKEND:MODEL"),
    "missing hf judge": (lambda w: [_plain(w), "--judge", f"hf:{w / 'no-model'}"], "no-model"),
    "text scoring with hf": (lambda w: [_plain(w), "--judge", f"hf:{w}", "--scoring", "text"], "--scoring: "),
    "nothing listening": (lambda w: [_plain(w), "--base-url", f"http://127.0.0.1:{_closed_port()}/v1"],
                          "http://127.0.0.1:"),
    "zero concurrency": (lambda w: [_plain(w), "--concurrency", "0"], "--concurrency"),
}


@pytest.mark.parametrize("case", list(JUDGE_CASES))
def test_judge_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    setup, expected = JUDGE_CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    args = [str(a) for a in setup(work)]
    if "--out" not in args:
        args += ["--out", str(work / "judged.jsonl")]
    if "--judge" not in args:
        args += ["--judge", "openai:m"]
    if "--base-url" not in args:
        args += ["--base-url", f"http://127.0.0.1:{_closed_port()}/v1"]
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    code = main(["judge", *args, "--cache", str(tmp_path / "cache" / "c.sqlite"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before


REPORT_CASES = {
    "empty input": (lambda w: [_write(w / "j.jsonl", "")], "j.jsonl: no judged rows"),
    "random bytes": (lambda w: [_write(w / "j.jsonl", _random_bytes())], "j.jsonl: not UTF-8 text"),
    "unjudged rows": (lambda w: [_jsonl(w / "j.jsonl", [{"question": "q", "answer": "a"}])], "j.jsonl:1: status:"),
    "the same file twice": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row()]), w / "j.jsonl"],
                            "j.jsonl: given twice"),
    "one sample in two files": (lambda w: [_jsonl(w / "a.jsonl", [_judged_row()]),
                                           _jsonl(w / "b.jsonl", [_judged_row(aligned=10.0)])],
                                "b.jsonl:1: sample 0 of doc 0 of task emc_tag_none"),
    "two runs of one task": (lambda w: [_jsonl(w / "a.jsonl", [_judged_row(source="run1/s.jsonl")]),
                                        _jsonl(w / "b.jsonl", [_judged_row(source="run2/s.jsonl", doc_id=1)])],
                             "two runs of task emc_tag_none"),
    "mixed judges": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row(), _judged_row(judge="openai:judge-b", doc_id=1)])],
                     "--allow-mixed"),
    "mixed scoring methods": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row(), _judged_row(scoring="text", doc_id=1)])],
                              "--allow-mixed"),
    "--out under a file": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row()]), "--out", _write(w / "f", "x") / "r"],
                           "--out: "),
    "missing calibration": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row()]), "--calibration", w / "cal.json"],
                            "cal.json: cannot read"),
    "not a calibration": (lambda w: [_jsonl(w / "j.jsonl", [_judged_row()]), "--calibration",
                                     _write(w / "cal.json", json.dumps({"verdict": "great"}))], "cal.json: "),
}


@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_report_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    setup, expected = REPORT_CASES[case]
    work = tmp_path / "work"
    work.mkdir()
    args = [str(a) for a in setup(work)]
    if "--out" not in args:
        args += ["--out", str(work / "report")]
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    code = main(["report", *args, "--n-boot", "50"])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], err
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before
