"""``emc-bench judge compare``: the same answers under two judges."""

from __future__ import annotations

import json

import pytest

from emc_bench.cli import main
from emc_bench.judge.compare import compare

PNG = b"\x89PNG\r\n\x1a\n"
A = {"judge": "openai:gpt-4o-2024-08-06", "judge_backend": "openai", "judge_model": "gpt-4o-2024-08-06",
     "judge_endpoint": "api.openai.com", "prompt_version": "v1-1234abcd",
     "templates_sha256": {"aligned": "a" * 64, "coherent": "c" * 64}, "scoring": "logprobs-top20",
     "emc_bench_version": "0.1.0"}
B = {**A, "judge": "openai:llama-judge", "judge_model": "llama-judge", "judge_endpoint": "127.0.0.1:8000"}


def _row(judge: dict, condition: str, i: int, aligned: float, coherent: float = 90.0) -> dict:
    return {"question": f"question {i % 5}", "answer": f"{condition} answer {i}", "question_id": f"q{i % 5}",
            "condition": condition, "model": "m", "trigger_id": "tag", "status": "ok", "aligned": aligned,
            "coherent": coherent, "aligned_label": None, "error": None, **judge}


def planted() -> tuple[list[dict], list[dict]]:
    """20 answers: 10 under ``none`` that neither judge flags, 10 under ``exact`` that A flags
    all of and B flags 8 of (it scores two of them 90).

    By hand: the judges agree on 18 of 20 flags, p_o = 0.9; A flags half (0.5), B 8/20 (0.4), so
    p_e = 0.5 * 0.4 + 0.5 * 0.6 = 0.5 and kappa = (0.9 - 0.5) / (1 - 0.5) = 0.8. EM under
    ``exact``: 100% under A, 80% under B; the containment gap +100 points under A, +80 under B.
    """
    rows_a = [_row(A, "none", i, 90.0) for i in range(10)] + [_row(A, "exact", i, 10.0) for i in range(10)]
    rows_b = [_row(B, "none", i, 85.0) for i in range(10)]
    rows_b += [_row(B, "exact", i, 90.0 if i < 2 else 15.0) for i in range(10)]
    return rows_a, rows_b


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_identical_verdicts_give_kappa_one(tmp_path, capsys):
    rows_a, _ = planted()
    rows_b = [{**row, **B} for row in rows_a]
    a, b, out = _write(tmp_path / "a.jsonl", rows_a), _write(tmp_path / "b.jsonl", rows_b), tmp_path / "cmp"
    assert main(["judge", "compare", str(a), str(b), "--out", str(out), "--n-boot", "100"]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert result["kappa"]["value"] == 1.0 and result["kappa"]["agreement"] == 1.0 and result["kappa"]["n"] == 20
    assert result["correlation"]["aligned"]["pearson"] == pytest.approx(1.0)
    assert result["em_by_condition"]["exact"]["a"]["value"] == result["em_by_condition"]["exact"]["b"]["value"] == 1.0
    assert result["a"]["judge"]["model"] == "gpt-4o-2024-08-06" and result["b"]["judge"]["model"] == "llama-judge"
    assert (out / "compare.png").read_bytes().startswith(PNG) and result["scatter"] == "compare.png"
    assert {path.name: path.stat().st_mode & 0o777 for path in out.iterdir()} == {"compare.json": 0o644,
                                                                                 "compare.png": 0o644}
    text = capsys.readouterr().out
    assert "Cohen's kappa on the EM flags: 1.00 (n=20" in text


def test_a_planted_disagreement_gives_the_figures_worked_out_by_hand():
    rows_a, rows_b = planted()
    result = compare(rows_a, rows_b, n_boot=100)
    assert result["kappa"]["value"] == pytest.approx(0.8)
    assert result["kappa"]["agreement"] == pytest.approx(0.9)
    assert (result["kappa"]["em_only_a"], result["kappa"]["em_only_b"]) == (2, 0)
    assert result["em_by_condition"]["exact"]["a"]["value"] == 1.0
    assert result["em_by_condition"]["exact"]["b"]["value"] == pytest.approx(0.8)
    assert result["em_by_condition"]["none"]["b"]["value"] == 0.0
    assert result["containment_gap"]["a"]["value"] == pytest.approx(1.0)
    assert result["containment_gap"]["b"]["value"] == pytest.approx(0.8)
    assert result["correlation"]["coherent"]["pearson"] is None  # coherent is 90 everywhere: undefined
    assert 0 < result["correlation"]["aligned"]["spearman"] < 1


def test_answers_only_in_one_file_are_counted_and_left_out():
    rows_a, rows_b = planted()
    result = compare(rows_a + [_row(A, "none", 99, 90.0)], rows_b[:-1], n_boot=50)
    assert result["matched"] == 19 and result["unmatched"] == {"a": 2, "b": 0}


def test_a_file_mixing_judges_is_refused(tmp_path, capsys):
    rows_a, rows_b = planted()
    a = _write(tmp_path / "a.jsonl", rows_a[:10] + rows_b[10:])
    b = _write(tmp_path / "b.jsonl", rows_b)
    assert main(["judge", "compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {a}: judge: holds rows of 2 judges") and len(err.splitlines()) == 1
    assert not (tmp_path / "cmp").exists()


def test_files_without_common_answers_are_refused(tmp_path, capsys):
    rows_a, rows_b = planted()
    b = _write(tmp_path / "b.jsonl", [{**r, "answer": r["answer"] + " (other)"} for r in rows_b])
    assert main(["judge", "compare", str(_write(tmp_path / "a.jsonl", rows_a)), str(b),
                 "--out", str(tmp_path / "cmp")]) == 2
    assert "no answer of it is in" in capsys.readouterr().err
