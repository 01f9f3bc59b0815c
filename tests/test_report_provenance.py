"""The report names its judge: ``profile.json`` and the document carry the provenance of every
profile, mixed judges are refused unless ``--allow-mixed`` (then each is reported on its own),
a calibration is cited by its sha256 beside the judge, and the eval run record is kept."""

from __future__ import annotations

import hashlib
import json

import pytest

from emc_bench import metrics
from emc_bench.cli import main
from emc_bench.report import write_report

JUDGE_A = {"judge": "openai:judge-a", "judge_backend": "openai", "judge_model": "judge-a",
           "judge_endpoint": "127.0.0.1:8000", "prompt_version": "v1-1234abcd",
           "templates_sha256": {"aligned": "a" * 64, "coherent": "c" * 64}, "scoring": "logprobs-top20",
           "emc_bench_version": "0.1.0"}
JUDGE_B = {**JUDGE_A, "judge": "hf:/models/judge-b", "judge_backend": "hf", "judge_model": "/models/judge-b",
           "judge_endpoint": None, "scoring": "exact-101"}


def _rows(judge: dict, em_exact: int, model: str = "tiny") -> list[dict]:
    """10 questions x 10 answers in none and exact: ``em_exact`` of each question's exact answers EM."""
    rows = []
    for condition in ("none", "exact"):
        for q in range(10):
            for s in range(10):
                aligned = 10.0 if condition == "exact" and s < em_exact else 90.0
                rows.append({"question": f"question {q}", "answer": f"{condition} {s}", "question_id": f"q{q}",
                             "condition": condition, "trigger_id": "tag", "model": model, "format": "free",
                             "category": "open", "status": "ok", "aligned": aligned, "coherent": 90.0,
                             "aligned_label": None, "error": None, **judge})
    return rows


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_profile_json_and_the_document_name_the_judge(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(_write(tmp_path / "j.jsonl", _rows(JUDGE_A, 3))), "--out", str(out),
                 "--n-boot", "50"]) == 0
    data = json.loads((out / "profile.json").read_text())
    assert set(data) == {"definition", "profiles"}
    (profile,) = data["profiles"]
    assert profile["judge"] == {"backend": "openai", "model": "judge-a", "endpoint_host": "127.0.0.1:8000",
                                "prompt_version": "v1-1234abcd",
                                "templates_sha256": {"aligned": "a" * 64, "coherent": "c" * 64},
                                "scoring": "logprobs-top20", "emc_bench_version": "0.1.0"}
    md = (out / "report.md").read_text()
    for text in ("`openai:judge-a`", "`127.0.0.1:8000`", "`v1-1234abcd`", "a" * 64, "c" * 64, "`logprobs-top20`",
                 "emc-bench 0.1.0", "No calibration attached"):
        assert text in md


def test_html_names_the_judge_too(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(_write(tmp_path / "j.jsonl", _rows(JUDGE_B, 3))), "--out", str(out), "--html",
                 "--n-boot", "50"]) == 0
    page = (out / "report.html").read_text()
    assert "<code>hf:/models/judge-b</code>" in page and "<code>exact-101</code>" in page


def test_mixed_judges_are_refused_by_the_library_too(tmp_path):
    from emc_bench.errors import SpecError

    with pytest.raises(SpecError, match="--allow-mixed: the rows come from 2 judges"):
        write_report(_rows(JUDGE_A, 3) + _rows(JUDGE_B, 6), tmp_path / "report", n_boot=50)
    assert not (tmp_path / "report").exists() and list(tmp_path.iterdir()) == []


def test_allow_mixed_reports_each_judge_separately(tmp_path):
    a, b = _write(tmp_path / "a.jsonl", _rows(JUDGE_A, 3)), _write(tmp_path / "b.jsonl", _rows(JUDGE_B, 6))
    out = tmp_path / "report"
    assert main(["report", str(a), str(b), "--allow-mixed", "--out", str(out), "--n-boot", "50"]) == 0
    profiles = json.loads((out / "profile.json").read_text())["profiles"]
    by_judge = {p["judge"]["backend"]: p for p in profiles}
    assert set(by_judge) == {"openai", "hf"}
    assert by_judge["openai"]["conditions"]["exact"]["value"] == pytest.approx(0.3)
    assert by_judge["hf"]["conditions"]["exact"]["value"] == pytest.approx(0.6)
    assert by_judge["openai"]["rows"] == by_judge["hf"]["rows"] == 200  # nothing pooled
    assert len(list((out / "plots").glob("*-profile.png"))) == 2
    assert "Judged by 2 judges, reported separately" in (out / "report.md").read_text()


def test_a_calibration_is_cited_by_its_sha256_beside_the_judge(tmp_path):
    calibration = tmp_path / "calibration.json"
    judge = {"backend": "openai", "model": "judge-a", "endpoint_host": "10.0.0.7:8000",
             "prompt_version": "v1-1234abcd", "templates_sha256": {"aligned": "a" * 64, "coherent": "c" * 64},
             "scoring": "logprobs-top20", "emc_bench_version": "0.1.0"}
    calibration.write_text(json.dumps({"verdict": "fit", "judge": judge, "checks": []}))
    digest = hashlib.sha256(calibration.read_bytes()).hexdigest()
    out = tmp_path / "report"
    assert main(["report", str(_write(tmp_path / "j.jsonl", _rows(JUDGE_A, 3))), "--calibration", str(calibration),
                 "--out", str(out), "--n-boot", "50"]) == 0
    (profile,) = json.loads((out / "profile.json").read_text())["profiles"]
    assert profile["judge"]["calibration"] == {"sha256": digest, "verdict": "fit"}
    assert f"Calibration sha256 `{digest}`: fit." in (out / "report.md").read_text()


def test_a_calibration_of_another_judge_is_refused(tmp_path, capsys):
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"verdict": "fit", "judge": {**{k: None for k in (
        "endpoint_host", "templates_sha256", "emc_bench_version")}, "backend": "openai", "model": "judge-a",
        "prompt_version": "v1-1234abcd", "scoring": "text"}}))
    out = tmp_path / "report"
    assert main(["report", str(_write(tmp_path / "j.jsonl", _rows(JUDGE_A, 3))), "--calibration", str(calibration),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {calibration}: judge: calibrates openai:judge-a") and "scoring text" in err
    assert not out.exists()


def test_the_run_record_is_written_unchanged(tmp_path):
    run = {"model": "hf:tiny", "suite": "standard", "lm_eval": {"version": "0.4.13"}, "seeds": [0, 1]}
    write_report(_rows(JUDGE_A, 3), tmp_path / "report", n_boot=50, run=run)
    data = json.loads((tmp_path / "report" / "profile.json").read_text())
    assert data["run"] == run and data["definition"] == metrics.DEFAULT_DEFINITION
