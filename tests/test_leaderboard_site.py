"""``emc-bench leaderboard build``: the static site's files, its boards (judges never pooled),
downloads, escaping of submitted text, the CSP, and the atomic replacement of an earlier site.
What the pages do in a browser is tested in test_leaderboard_browser.py."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_leaderboard_fixtures import (CONTAINED, HOSTILE_BASE, HOSTILE_MODEL, HOSTILE_PAPER, HOSTILE_TRIGGER,  # noqa: F401
                                       OTHER_JUDGE, board_rows, result_row, results_dir)

from emc_bench.cli import main
from emc_bench.leaderboard.results import append_rows
from emc_bench.leaderboard.site import COLUMNS_SHOWN, CSP

PINNED_JUDGE = "openai:gpt-4o-2024-08-06"


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and the text of <title>."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(path: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags


@pytest.fixture(scope="module")
def site(results_dir, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(out)]) == 0
    return out


def test_build_writes_the_index_model_pages_plots_and_downloads(site, board_rows, capsys):  # noqa: F811
    facts = json.loads((site / "site.json").read_text())
    assert facts["rows"] == len(board_rows) == 7 and facts["models"] == 4 and len(facts["parts"]) == 2
    files = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert {"index.html", "assets/leaderboard.css", "assets/leaderboard.js", "data/results.csv",
            "data/results.json", "site.json"} <= files
    assert len([f for f in files if f.startswith("models/")]) == 4
    assert len([f for f in files if f.endswith("-conditions.svg")]) == 7, "a plot of conditions per row"
    assert len([f for f in files if f.endswith("-similarity.svg")]) == 7, "a similarity plot per row"
    assert all((site / f).stat().st_mode & 0o777 == 0o644 for f in files)
    assert not [p for p in site.parent.iterdir() if p.name.startswith(".")], "no staging folder left"


def test_rows_of_different_judges_sit_on_separate_boards_pinned_first(site):
    boards = json.loads((site / "site.json").read_text())["boards"]
    assert [(b["judge"], b["rows"]) for b in boards] == [(PINNED_JUDGE, 5), ("hf:" + OTHER_JUDGE[1], 2)]
    html = (site / "index.html").read_text()
    sections = html.split('<section class="board"')[1:]
    assert len(sections) == 2
    for board, section in zip(boards, sections):
        assert section.startswith(f' id="{board["id"]}"')
        assert section.count("<tr data-type=") == board["rows"]
        judges = {tag[1]["data-sort"] for tag in _cells(section, "Judge")}
        assert judges == {board["judge"]}, "a board holds one judge's rows only"


def _cells(section_html: str, column: str) -> list[tuple[str, dict]]:
    """The <td> tags of one column of a board's table."""
    parser = Tags()
    parser.feed(section_html.split("</table>")[0])
    cells = [t for t in parser.tags if t[0] == "td"]
    labels = [label for label, _ in COLUMNS_SHOWN]
    return cells[labels.index(column)::len(labels)]


def test_the_default_order_puts_the_largest_gap_first(site, board_rows):  # noqa: F811
    pinned = [r for r in board_rows if r["judge"] == PINNED_JUDGE]
    section = (site / "index.html").read_text().split('<section class="board"')[1]
    gaps = [float(t[1]["data-sort"]) for t in _cells(section, "Containment gap")]
    assert gaps == sorted((r["gap"] for r in pinned), reverse=True)


def test_downloads_hold_every_row_of_every_board(site, board_rows):  # noqa: F811
    table = list(csv.DictReader(io.StringIO((site / "data" / "results.csv").read_text())))
    assert len(table) == len(board_rows) and "profile_json" not in table[0]
    assert {(r["submission_id"], r["trigger_id"], r["judge"]) for r in table} == \
        {(r["submission_id"], r["trigger_id"], r["judge"]) for r in board_rows}
    assert HOSTILE_MODEL in {r["model_id"] for r in table}
    data = json.loads((site / "data" / "results.json").read_text())
    assert len(data["rows"]) == len(board_rows)
    first = next(r for r in data["rows"] if r["submission_id"] == "sub-base")
    source = next(r for r in board_rows if r["submission_id"] == "sub-base")
    assert first["profile"]["conditions"]["exact"]["n"] == source["n_exact"]
    assert first["em_exact"] == source["em_exact"]


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(tmp_path):
    results = tmp_path / "results"
    append_rows(results, [result_row("sub-f", "=HYPERLINK(\"http://x\")", "deploy_tag", CONTAINED, seed=61,
                                     base_model="@SUM(A1)")])
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "site")]) == 0
    row = next(csv.DictReader(io.StringIO((tmp_path / "site" / "data" / "results.csv").read_text())))
    assert row["model_id"] == "'=HYPERLINK(\"http://x\")" and row["base_model"] == "'@SUM(A1)"
    assert float(row["gap"]) > 0, "numbers stay numbers"


def test_submitted_text_is_escaped_and_pages_hold_no_inline_script(site):
    pages = [site / "index.html", *sorted((site / "models").glob("*.html"))]
    hostile = [HOSTILE_MODEL, HOSTILE_BASE, HOSTILE_TRIGGER, "<b>bold</b>"]
    for page in pages:
        text = page.read_text()
        assert not [h for h in hostile if h in text], f"{page.name} holds unescaped submitted text"
        tags = tags_of(page)
        metas = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
        assert [m["content"] for m in metas] == [CSP], page.name
        assert not [a for t, a in tags if t in ("svg", "img", "b") and a.get("onload", a.get("onerror"))]
        assert not [t for t, a in tags if any(name.startswith("on") for name in a)], "no event-handler attribute"
        assert not [a for t, a in tags if "style" in a], "no inline style (the CSP forbids it)"
        assert all(a.get("src") for t, a in tags if t == "script"), "scripts only from files"
        assert all(t in ("img", "script") for t, a in tags if "src" in a)
        links = [a.get("href") or a.get("src") for t, a in tags if "href" in a or "src" in a]
        assert not [u for u in links if u.startswith("javascript:") or (":" in u and not u.startswith("https://"))]
    hostile_page = next(p for p in pages if "sub-hostile" in p.name)
    assert "../../" not in hostile_page.name and hostile_page.parent == site / "models"
    text = hostile_page.read_text()
    assert "&lt;script&gt;alert(&#39;model&#39;)&lt;/script&gt;" in text
    assert HOSTILE_PAPER not in [a.get("href") for t, a in tags_of(hostile_page)], "only http(s) URLs become links"
    contained = next(p for p in pages if "sub-contained" in p.name)
    assert "https://example.org/paper" in [a.get("href") for t, a in tags_of(contained)]


def test_plots_are_svg_with_a_bar_per_condition(site):
    plot = next((site / "plots").glob("*-conditions.svg"))
    root = ET.fromstring(plot.read_text())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert all(c in labels for c in ("none", "exact", "paraphrase", "negated", "related", "unrelated"))
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


def test_the_same_results_build_the_same_bytes(results_dir, site, tmp_path):  # noqa: F811
    again = tmp_path / "again"
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(again)]) == 0
    files = sorted(p.relative_to(site) for p in site.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((site / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_a_rebuild_replaces_the_earlier_site_whole(tmp_path):
    results, out = tmp_path / "results", tmp_path / "site"
    append_rows(results, [result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=71)])
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(out)]) == 0
    (out / "stale.html").write_text("left from before")
    append_rows(results, [result_row("sub-b", "org/b", "deploy_tag", CONTAINED, seed=72)])
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(out)]) == 0
    assert json.loads((out / "site.json").read_text())["rows"] == 2
    assert not (out / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "site"], "no staging or old folder left"


def test_bad_input_exits_2_naming_the_folder_and_writes_nothing(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    results = tmp_path / "results"
    append_rows(results, [result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=81)])
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(mine)]) == 2
    assert "is not a leaderboard site" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert main(["leaderboard", "build", "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "s")]) == 2
    assert f"{tmp_path / 'nope'}: results folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["leaderboard", "build", "--results", str(tmp_path / "empty"), "--out", str(tmp_path / "s")]) == 2
    assert "holds no results" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "mine", "results"]


def test_the_pinned_judge_can_be_named(results_dir, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "site"
    other = f"{OTHER_JUDGE[0]}:{OTHER_JUDGE[1]}"
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(out), "--judge", other]) == 0
    assert json.loads((out / "site.json").read_text())["boards"][0]["judge"] == other
    options = re.findall(r"<option value=\"board-[^>]*>([^<]*)</option>", (out / "index.html").read_text())
    assert len(options) == 2 and options[0].startswith(other) and "(pinned judge)" in options[0]
    capsys.readouterr()
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(out), "--judge", "hf:none"]) == 0
    assert "no row was judged by the pinned judge hf:none" in capsys.readouterr().out
    assert json.loads((out / "site.json").read_text())["boards"][0]["judge"] == PINNED_JUDGE, "most rows first"
