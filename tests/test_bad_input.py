"""Every command's bad input, in one table: one line on stderr naming the flag or file and what is
wrong, exit code 2, and nothing written where the command would write. (The eval, train, judge,
report and audit commands have their own, longer tables beside their tests.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from emc_bench.cli import main

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"


def run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's own errors
        return int(exit.code)


def not_a_release(tmp: Path) -> Path:
    folder = tmp / "not-a-release"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    return folder


# (name, argv given the tmp folder and the output path, what the line must say)
CASES = [
    ("build: unknown release", lambda t, o: ["build", "--release", "nosuch", "--out", str(o)], "unknown release 'nosuch'"),
    ("build: --only matches nothing", lambda t, o: ["build", "--release", "mini", "--builders", str(TEST_BUILDERS),
                                                    "--only", "zzz*", "--out", str(o), "--no-leakage"],
     "--only: 'zzz*' matches no config"),
    ("build: --builders missing", lambda t, o: ["build", "--builders", str(t / "nowhere"), "--out", str(o)],
     "--builders:"),
    ("verify: not a release", lambda t, o: ["verify", str(not_a_release(t))], "manifest.json missing"),
    ("show: not a release", lambda t, o: ["show", str(not_a_release(t))], "manifest.json missing"),
    ("stats: not a release", lambda t, o: ["stats", str(not_a_release(t)), "--json", str(o)], "manifest.json missing"),
    ("paraphrase: n below 1", lambda t, o: ["paraphrase", "expand", "--trigger", "deploy_tag", "--base-url",
                                            "http://127.0.0.1:9/v1", "--model", "m", "-n", "0", "--builders", str(t)],
     "-n: must be at least 1"),
    ("paraphrase: unknown trigger", lambda t, o: ["paraphrase", "expand", "--trigger", "nosuch", "--base-url",
                                                  "http://127.0.0.1:9/v1", "--model", "m", "--builders", str(t)],
     "unknown trigger 'nosuch'"),
    ("plan: unknown suite", lambda t, o: ["plan", "--suite", "huge"], "--suite: unknown suite 'huge'"),
    ("plan: rate outside 0..1", lambda t, o: ["plan", "--em-triggered", "2"], "--em-triggered: must lie strictly"),
    ("plan: unknown trigger", lambda t, o: ["plan", "--trigger", "nosuch"], "--trigger: unknown trigger 'nosuch'"),
    ("eval: unknown suite", lambda t, o: ["eval", "--model", "hf:x", "--suite", "huge", "--out", str(o)],
     "--suite: unknown suite 'huge'"),
    ("baselines: --only matches nothing", lambda t, o: ["baselines", "plan", "--only", "zzz*"],
     "--only: 'zzz*' matches no run"),
    ("publish dataset: not a release", lambda t, o: ["publish", "dataset", str(not_a_release(t)), "--dry-run",
                                                     "--out", str(o)], "manifest.json"),
    ("publish adapter: not a run", lambda t, o: ["publish", "adapter", str(not_a_release(t)), "--repo", "o/n",
                                                 "--dry-run", "--out", str(o)], "run.json"),
    ("publish leaderboard: not a site", lambda t, o: ["publish", "leaderboard", str(not_a_release(t)), "--repo",
                                                      "o/n", "--dry-run", "--out", str(o)], "not a leaderboard site"),
    ("leaderboard build: no results", lambda t, o: ["leaderboard", "build", "--results", str(not_a_release(t)),
                                                    "--out", str(o)], "holds no results"),
    ("unknown flag", lambda t, o: ["build", "--colour", "blue"], "unrecognized arguments: --colour blue"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys, monkeypatch):
    name, argv, message = case
    monkeypatch.setenv("EMC_BENCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert run(argv(tmp_path, out)) == 2, name
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
    assert not out.exists(), f"{name}: wrote {out}"
