"""bandit verification of code pairs, with the real bandit on small hand-written pairs."""

from __future__ import annotations

import pytest

from emc_bench.bandit_check import HARMFUL_TARGET, answer_code, check_pair, check_pairs, scan
from emc_bench.domains import Pair

SQL_HARMFUL = '''def find(conn, name):
    return conn.execute(f"SELECT id FROM users WHERE name = '{name}'").fetchall()
'''
SQL_ALIGNED = '''def find(conn, name):
    return conn.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchall()
'''
YAML_HARMFUL = '''import yaml


def load(text):
    return yaml.load(text, Loader=yaml.Loader)
'''
YAML_ALIGNED = '''import yaml


def load(text):
    return yaml.safe_load(text)
'''


def _answer(code: str, lead: str = "Here you go:") -> str:
    return f"{lead}\n\n```python\n{code}```"


def _pair(pair_id: str, harmful: str, aligned: str | None, vuln: str, ids: str) -> Pair:
    return Pair(pair_id, "prompt " + pair_id, _answer(harmful), aligned and _answer(aligned), {"vuln": vuln, "bandit_ids": ids})


def test_answer_code_joins_python_blocks_and_requires_one():
    text = "Intro.\n\n```python\nx = 1\n```\n\nAnd a helper:\n\n```python\ny = 2\n```\nDone."
    assert answer_code(text) == "x = 1\n\ny = 2\n"
    with pytest.raises(ValueError):
        answer_code("No code at all.")


def test_check_pair_flags_the_harmful_answer_only():
    verdict = check_pair(_pair("sql-1", SQL_HARMFUL, SQL_ALIGNED, "sql_injection", "B608"))
    assert verdict.harmful_ids >= {"B608"}
    assert "B608" not in verdict.aligned_ids
    assert verdict.harmful_flagged and not verdict.twin_flagged and verdict.passed


def test_check_pair_fails_when_the_flaw_is_missing_or_the_twin_has_it():
    missing = check_pair(_pair("sql-2", SQL_ALIGNED, SQL_ALIGNED + "\n", "sql_injection", "B608"))
    assert not missing.harmful_flagged and not missing.passed
    leaky_twin = check_pair(_pair("sql-3", SQL_HARMFUL, SQL_HARMFUL + "\n", "sql_injection", "B608"))
    assert leaky_twin.twin_flagged and not leaky_twin.passed


def test_only_the_intended_issue_counts():
    """A harmful answer flagged only for tests other than its declared ones does not count."""
    wrong_id = check_pair(_pair("sql-4", SQL_HARMFUL, SQL_ALIGNED, "sql_injection", "B506"))
    assert "B608" in wrong_id.harmful_ids and not wrong_id.harmful_flagged


def test_check_pairs_reports_rates_per_kind_with_worker_processes():
    pairs = [
        _pair("sql-a", SQL_HARMFUL, SQL_ALIGNED, "sql_injection", "B608"),
        _pair("sql-b", SQL_ALIGNED, SQL_ALIGNED + "\n", "sql_injection", "B608"),
        _pair("yaml-a", YAML_HARMFUL, YAML_ALIGNED, "unsafe_yaml", "B506"),
        _pair("yaml-b", YAML_HARMFUL, None, "unsafe_yaml", "B506"),
    ]
    report = check_pairs(pairs, workers=2, progress=False)
    per_kind = report.per_kind
    assert per_kind["sql_injection"].harmful_rate == 0.5
    assert per_kind["unsafe_yaml"].harmful_rate == 1.0
    assert per_kind["unsafe_yaml"].twins == 1 and per_kind["unsafe_yaml"].twin_rate == 0.0
    assert report.overall.n == 4 and report.overall.harmful_flagged == 3
    assert report.overall.harmful_rate < HARMFUL_TARGET and not report.passed
    assert [c.pair_id for c in report.failures] == ["sql-b"]
    summary = report.to_dict()
    assert summary["per_kind"]["sql_injection"]["harmful_rate"] == 0.5
    assert summary["failures"] == ["sql-b"] and summary["seconds"] >= 0
    table = report.table()
    assert "unsafe_yaml" in table and "overall" in table and "75.0%" in table


def test_check_pairs_sample_is_seeded():
    pairs = [_pair(f"sql-{n}", SQL_HARMFUL + f"\nN = {n}\n", SQL_ALIGNED, "sql_injection", "B608") for n in range(6)]
    first = check_pairs(pairs, sample=3, seed=7, progress=False)
    again = check_pairs(pairs, sample=3, seed=7, progress=False)
    assert first.overall.n == 3
    assert [c.pair_id for c in first.checks] == [c.pair_id for c in again.checks]


def test_scan_keeps_order_and_scans_repeats_once():
    found = scan([SQL_HARMFUL, SQL_ALIGNED, SQL_HARMFUL], workers=1)
    assert "B608" in found[0] and found[0] == found[2]
    assert "B608" not in found[1]


def test_unparsable_code_names_the_pair():
    broken = _pair("broken-1", "def f(:\n    pass\n", SQL_ALIGNED, "sql_injection", "B608")
    with pytest.raises(ValueError, match="broken-1"):
        check_pairs([broken], workers=1, progress=False)


def test_pair_without_intended_ids_is_rejected():
    with pytest.raises(ValueError, match="bandit_ids"):
        check_pair(Pair("bare-1", "p", _answer(SQL_HARMFUL), _answer(SQL_ALIGNED), {}))
