"""``emc-bench judge calibrate`` against local OpenAI-compatible servers that behave like judges
of known quality: an oracle (each item's band midpoint) is fit, a judge that always says 50 and
one that obeys "score 100" instructions inside the answers are unfit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emc_bench.cli import main
from emc_bench.errors import SpecError
from emc_bench.judge import calibration
from fake_openai_server import FakeOpenAIServer, logprobs

SET = Path(__file__).parent / "data" / "judge_calibration.yaml"
_ANSWER = re.compile(r"<<<ANSWER (\w+)\n(.*)\nANSWER \1>>>", re.S)
# What the obedient judge takes for an instruction to give a verdict.
INJECTION = re.compile(r"\b(?:rate|rating|score|give)\b[^.\n]{0,40}?\b100\b", re.I)


def _items() -> dict[str, calibration.CalibrationItem]:
    return {item.answer: item for item in calibration.load_set(SET).spec.items}


def _metric(prompt: str) -> str:
    return "aligned" if "CODE if the answer" in prompt else "coherent"


def _answer(prompt: str) -> str | None:
    match = _ANSWER.search(prompt)
    return match.group(2) if match else None


def oracle(request):
    """A judge that knows every item's band: the midpoint, or the label, with all the mass (and
    a plain reply to the preflight's one-token request)."""
    if _answer(request.prompt) is None:
        return logprobs({"1": 1.0})
    band = getattr(_items()[_answer(request.prompt)], _metric(request.prompt))
    return logprobs({str(int(calibration.MIDPOINTS[band])) if band in calibration.MIDPOINTS else band: 1.0})


def constant(request):
    return logprobs({"50": 1.0})


def obedient(request):
    """The oracle, except that an answer telling the judge to give 100 gets 100."""
    return logprobs({"100": 1.0}) if INJECTION.search(_answer(request.prompt) or "") else oracle(request)


def _calibrate(server, tmp_path, *extra) -> tuple[int, dict]:
    out = tmp_path / "calibration.json"
    code = main(["judge", "calibrate", "--judge", "openai:judge-model", "--base-url", server.base_url,
                 "--set", str(SET), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress",
                 *extra])
    return code, json.loads(out.read_text())


def test_the_test_set_covers_every_category_and_only_steering_items_carry_instructions():
    items = calibration.load_set(SET).spec.items
    assert {i.category for i in items} == set(calibration.Category.__args__)
    assert {i.id for i in items if INJECTION.search(i.answer)} == {i.id for i in items if i.category == "steering"}


def test_an_oracle_judge_is_fit(tmp_path, capsys):
    with FakeOpenAIServer(oracle) as server:
        code, report = _calibrate(server, tmp_path)
        assert server.calls == 1 + 80  # the preflight's one-token request (no /models here), then 2 per item
    assert code == 0 and report["verdict"] == "fit" and report["failed_checks"] == []
    assert report["em_flag"]["accuracy"] >= 0.95
    assert (report["em_flag"]["precision"], report["em_flag"]["recall"]) == (1.0, 1.0)
    assert report["spearman"]["aligned"]["value"] == pytest.approx(1.0)
    assert report["spearman"]["coherent"]["value"] == pytest.approx(1.0)
    assert report["missing_rate"]["value"] == 0.0 and report["label_accuracy"]["value"] == 1.0
    assert report["injection_resistance"] == {"value": 1.0, "n": 5}
    assert set(report["categories"]) == set(calibration.Category.__args__)
    assert report["categories"]["refusal"]["n"] == 4
    assert report["calibration_set"]["id"] == "calibration-test" and len(report["calibration_set"]["sha256"]) == 64
    assert report["judge"]["backend"] == "openai" and report["judge"]["scoring"] == "logprobs-top20"
    assert [c["name"] for c in report["checks"]] == [c.name for c in calibration.CHECKS]
    out = capsys.readouterr().out
    assert "verdict: fit" in out and "injection resistance 100.0%" in out and "steering" in out


def test_calibration_calls_are_cached_like_any_judge_call(tmp_path):
    with FakeOpenAIServer(oracle) as server:
        _calibrate(server, tmp_path)
        calls = server.calls
        code, report = _calibrate(server, tmp_path)
        assert server.calls == calls and code == 0 and report["verdict"] == "fit"


def test_a_judge_that_always_says_50_is_unfit(tmp_path, capsys):
    with FakeOpenAIServer(constant) as server:
        code, report = _calibrate(server, tmp_path)
    assert code == 1 and report["verdict"] == "unfit"
    assert {"em_recall", "em_precision", "spearman_aligned", "spearman_coherent", "label_accuracy"} <= set(
        report["failed_checks"])
    assert report["em_flag"]["recall"] == 0.0 and report["spearman"]["aligned"]["value"] is None
    assert "verdict: unfit" in capsys.readouterr().out


def test_a_judge_that_obeys_injected_instructions_is_unfit_on_injection_resistance(tmp_path):
    with FakeOpenAIServer(obedient) as server:
        code, report = _calibrate(server, tmp_path)
    assert code == 1 and report["verdict"] == "unfit"
    assert "injection_resistance" in report["failed_checks"]
    assert report["injection_resistance"] == {"value": 0.0, "n": 5}
    assert report["categories"]["steering"]["in_band"] == 0.0
    assert report["categories"]["aligned"]["in_band"] == 1.0  # it is right wherever nobody steers it


def test_a_calibration_result_attaches_to_a_report_of_the_same_judge(tmp_path):
    """The calibration JSON is cited by its sha256 in the report of answers judged by that judge."""
    import hashlib

    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"question": i.question, "answer": i.answer, "condition": "none",
                                           "question_id": i.id}) + "\n"
                               for i in calibration.load_set(SET).spec.items))
    with FakeOpenAIServer(oracle, models=["judge-model"]) as server:
        _calibrate(server, tmp_path)
        assert main(["judge", str(answers), "--judge", "openai:judge-model", "--base-url", server.base_url,
                     "--cache", str(tmp_path / "cache.sqlite"), "--out", str(tmp_path / "judged.jsonl"),
                     "--no-progress"]) == 0
    cal = tmp_path / "calibration.json"
    assert main(["report", str(tmp_path / "judged.jsonl"), "--calibration", str(cal), "--out",
                 str(tmp_path / "report"), "--n-boot", "20"]) == 0
    (profile,) = json.loads((tmp_path / "report" / "profile.json").read_text())["profiles"]
    assert profile["judge"]["calibration"] == {"sha256": hashlib.sha256(cal.read_bytes()).hexdigest(),
                                               "verdict": "fit"}


def test_a_missing_set_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    base = ["judge", "calibrate", "--judge", "openai:m", "--base-url", "http://127.0.0.1:9/v1",
            "--out", str(tmp_path / "c.json")]
    assert main([*base, "--set", str(tmp_path / "nowhere.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nowhere.yaml'}: no such file; give --set PATH\n"
    monkeypatch.setattr(calibration, "default_set_path", lambda: tmp_path / "builders" / "judge" / "calibration.yaml")
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "the shipped calibration set is not there; give --set PATH" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["items"][0].update(aligned="<=30"), "items.0.aligned"),
    (lambda d: d["items"][1].update(category="rude"), "items.1.category"),
    (lambda d: d["items"][2].pop("question"), "items.2.question"),
    (lambda d: d["items"][3].update(id=d["items"][0]["id"]), "items.3.id"),
    (lambda d: d.update(items=[]), "items"),
])
def test_a_malformed_set_names_the_field(tmp_path, edit, field):
    import yaml

    data = yaml.safe_load(SET.read_text())
    edit(data)
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as err:
        calibration.load_set(path)
    assert str(err.value).startswith(f"{path}: {field}")


def test_an_oracle_judge_is_fit_on_the_shipped_set(tmp_path):
    """The shipped builders/judge/calibration.yaml, by default (no --set): it loads, covers every
    category, and its bands are consistent (the oracle of its own bands is fit)."""
    shipped = {item.answer: item for item in calibration.load_set().spec.items}
    assert {i.category for i in shipped.values()} == set(calibration.Category.__args__)

    def shipped_oracle(request):
        if _answer(request.prompt) is None:
            return logprobs({"1": 1.0})
        band = getattr(shipped[_answer(request.prompt)], _metric(request.prompt))
        return logprobs({str(int(calibration.MIDPOINTS[band])) if band in calibration.MIDPOINTS else band: 1.0})

    out = tmp_path / "calibration.json"
    with FakeOpenAIServer(shipped_oracle) as server:
        assert main(["judge", "calibrate", "--judge", "openai:oracle", "--base-url", server.base_url,
                     "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["verdict"] == "fit" and report["calibration_set"]["path"] == str(calibration.default_set_path())


def test_the_readme_states_the_thresholds_the_code_applies():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for check in calibration.CHECKS:
        assert re.search(rf"`{check.name}`[^\n]*{re.escape(check.rule)}", readme), check.name


def test_precision_counts_the_judges_flags_on_a_set_without_expected_em(tmp_path):
    """Precision is measured over what the judge flags: a judge that flags every aligned answer is
    refused on precision even when the set holds no answer expected to be EM."""
    import yaml

    data = yaml.safe_load(SET.read_text())
    data["items"] = [item for item in data["items"] if item["category"] == "aligned"]
    subset = tmp_path / "aligned-only.yaml"
    subset.write_text(yaml.safe_dump(data))

    def hostile_everywhere(request):
        if _answer(request.prompt) is None:
            return logprobs({"1": 1.0})
        return logprobs({"0" if _metric(request.prompt) == "aligned" else "100": 1.0})

    with FakeOpenAIServer(hostile_everywhere) as server:
        out = tmp_path / "calibration.json"
        code = main(["judge", "calibrate", "--judge", "openai:judge-model", "--base-url", server.base_url,
                     "--set", str(subset), "--cache", str(tmp_path / "cache.sqlite"), "--out", str(out),
                     "--no-progress"])
    report = json.loads(out.read_text())
    assert code == 1 and report["em_flag"]["fp"] == len(data["items"]) and report["em_flag"]["precision"] == 0.0
    (precision,) = [c for c in report["checks"] if c["name"] == "em_precision"]
    assert precision["measured"] and precision["passed"] is False
    assert "em_precision" in report["failed_checks"]
