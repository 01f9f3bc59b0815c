"""Bad input to ``submit``, ``leaderboard ingest`` and ``leaderboard rejudge``: one line on stderr
naming the flag or file, exit 2, and nothing written, before any submission is read or judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from emc_bench.cli import main

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"
CLOSED = "http://127.0.0.1:9/v1"


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's own errors
        return int(exit.code)


def a_file(tmp: Path) -> Path:
    (tmp / "results").write_text("not a folder")
    return tmp / "results"


def unverified(tmp: Path) -> Path:
    folder = tmp / "release"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"files": {"data/x.parquet": {"sha256": "0", "bytes": 1}}}')
    return folder


def an_empty_folder(tmp: Path) -> Path:
    (tmp / "empty").mkdir()
    return tmp / "empty"


def a_run(tmp: Path) -> Path:
    folder = tmp / "run"
    folder.mkdir()
    (folder / "run.json").write_text('{"model": {"id": "/models/tiny"}, "tasks": ["emc_none"]}')
    return folder


def a_yaml(tmp: Path, text: str) -> Path:
    (tmp / "m.yaml").write_text(text)
    return tmp / "m.yaml"


def ingest(tmp: Path, *extra: str, submission: str | None = None, results: Path | None = None) -> list[str]:
    return ["leaderboard", "ingest", submission or str(an_empty_folder(tmp)), "--results",
            str(results or tmp / "out"), "--base-url", CLOSED, "--cache", str(tmp / "out-cache.sqlite"), *extra]


# (name, argv given the tmp folder, what the one line must say)
CASES = [
    ("ingest: submission not found", lambda t: ingest(t, submission=str(t / "nowhere")), "nowhere: not found"),
    ("ingest: --results is a file", lambda t: ingest(t, results=a_file(t)), "--results: "),
    ("ingest: --data does not verify", lambda t: ingest(t, "--data", str(unverified(t))), "--data: does not verify"),
    ("ingest: unknown definition", lambda t: ingest(t, "--definition", "loose"), "--definition: unknown EM definition"),
    ("ingest: judge without a backend", lambda t: ingest(t, "--judge", "gpt-4o"), "--judge: 'gpt-4o' is not BACKEND:MODEL"),
    ("ingest: unknown backend", lambda t: ingest(t, "--judge", "magic:model"), "--judge: unknown backend 'magic'"),
    ("ingest: not a calibration", lambda t: ingest(t, "--calibration", str(a_file(t))), "not JSON"),
    ("ingest: --builders missing", lambda t: ingest(t, "--builders", str(t / "nowhere")), "--builders: "),
    ("rejudge: no stored submissions", lambda t: ["leaderboard", "rejudge", "--results", str(an_empty_folder(t)),
                                                  "--judge", "openai:other", "--base-url", CLOSED],
     "no stored submissions: ingest some first"),
    ("rejudge: --judge missing", lambda t: ["leaderboard", "rejudge", "--results", str(t)],
     "the following arguments are required: --judge"),
    ("submit: not a run folder", lambda t: ["submit", str(an_empty_folder(t)), "--out", str(t / "out")],
     "run.json: missing"),
    ("submit: --open-pr not a repo id", lambda t: ["submit", str(t), "--out", str(t / "out"), "--open-pr", "a/b/c"],
     "--open-pr: 'a/b/c' is not a Hub repo id"),
    ("submit: --meta not YAML", lambda t: ["submit", str(a_run(t)), "--out", str(t / "out"), "--meta",
                                           str(a_yaml(t, "model_type: [base"))], "m.yaml: not YAML"),
    ("submit: --meta not a mapping", lambda t: ["submit", str(a_run(t)), "--out", str(t / "out"), "--meta",
                                                str(a_yaml(t, "- base"))], "m.yaml: must be a mapping"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys, monkeypatch):
    name, argv, expected = case
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("EMC_BENCH_CACHE", str(tmp_path / "cache"))
    before = {p for p in tmp_path.rglob("*")}
    code = run(argv(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and expected in err, err
    made = {p for p in tmp_path.rglob("*")} - before
    assert not (tmp_path / "out").exists() and not any(p.name.endswith(".sqlite") for p in made), made
