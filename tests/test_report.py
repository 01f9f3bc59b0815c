"""``emc-bench report``: profile.json, Markdown or HTML, and PNG plots from judged rows."""

from __future__ import annotations

import json

from emc_bench import metrics
from emc_bench.cli import main
from test_metrics import profile_rows

PNG = b"\x89PNG\r\n\x1a\n"


def _judged(tmp_path):
    path = tmp_path / "judged.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in profile_rows()))
    return path


def test_markdown_report_with_profile_json_and_plots(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(_judged(tmp_path)), "--out", str(out), "--n-boot", "200"]) == 0
    written = capsys.readouterr().out.split()
    assert str(out / "profile.json") in written and str(out / "report.md") in written
    data = json.loads((out / "profile.json").read_text())
    (profile,) = data["profiles"]
    judge = profile.pop("judge")
    assert profile == json.loads(json.dumps(metrics.containment_profile(profile_rows(), n_boot=200)))
    assert judge["backend"] is None and judge["scoring"] is None  # rows without provenance say so
    plots = sorted((out / "plots").iterdir())
    assert [p.name.split("-")[-1] for p in plots] == ["profile.png", "similarity.png"]
    assert all(p.read_bytes().startswith(PNG) for p in plots)
    md = (out / "report.md").read_text()
    assert "| exact | 40.0% | 40.0% to 40.0% | 100 | 10 |" in md
    assert "Containment gap (exact - none): +40.0 points" in md
    assert "Paraphrase retention (paraphrase / exact): 0.50" in md
    assert "EM definition `default`" in md
    for plot in plots:
        assert f"](plots/{plot.name})" in md
    assert not list(tmp_path.glob(".report-*"))  # the staging folder is gone


def test_html_report_is_self_contained(tmp_path):
    out = tmp_path / "report"
    assert main(["report", str(_judged(tmp_path)), "--out", str(out), "--html", "--definition", "inclusive",
                 "--n-boot", "100"]) == 0
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "<code>inclusive</code>" in page and not (out / "report.md").exists()
    assert json.loads((out / "profile.json").read_text())["definition"] == "inclusive"


def test_unjudged_input_is_refused_and_nothing_is_written(tmp_path, capsys):
    bad = tmp_path / "answers.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n")
    out = tmp_path / "report"
    assert main(["report", str(bad), "--out", str(out)]) == 2
    assert f"{bad}:1: status:" in capsys.readouterr().err
    assert not out.exists()
