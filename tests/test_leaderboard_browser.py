"""The leaderboard site in a real browser: headless Debian chromium driven by playwright, the site
opened from its folder (file://). Every request, dialog, console message and page error is
recorded; requests outside the site's folder are aborted and fail the test. Screenshots are saved
under pytest's tmp path and their paths printed.

These tests need /usr/bin/chromium (``apt-get install -y chromium``; ``.ci/run`` installs it) and
fail, rather than skip, when it is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_leaderboard_fixtures import (HOSTILE_BASE, HOSTILE_MODEL, HOSTILE_PAPER, HOSTILE_TRIGGER,  # noqa: F401
                                       board_rows, results_dir)

from emc_bench.cli import main
from emc_bench.leaderboard.results import hidden_misalignment

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PINNED_JUDGE = "openai:gpt-4o-2024-08-06"
VISIBLE_ROWS = "section.board:not([hidden]) tbody tr:not([hidden])"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: the leaderboard's browser tests need Debian's chromium "
                    "(as root: apt-get install -y chromium)", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: install the test extra (pip install -e '.[test]')", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(results_dir, tmp_path_factory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("browser-site") / "site"
    assert main(["leaderboard", "build", "--results", str(results_dir), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@dataclass
class Tab:
    """A page with everything it asked for and everything it complained about."""

    page: Any
    root: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.root)]

    def screenshot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def tab(browser, site):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    opened = Tab(page, site.as_uri() + "/")
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda message: opened.problems.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))

    def on_dialog(dialog):
        opened.problems.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(opened.root) else route.abort())
    yield opened
    context.close()


def open_index(tab: Tab, site: Path):
    tab.page.goto((site / "index.html").as_uri())
    tab.page.wait_for_load_state("load")
    return tab.page


def column(page, index: int) -> list[str]:
    """The ``data-sort`` values of one column (1-based) of the visible rows."""
    return page.eval_on_selector_all(f"{VISIBLE_ROWS} td:nth-child({index})", "cells => cells.map(c => c.dataset.sort)")


def texts(page, index: int) -> list[str]:
    return page.eval_on_selector_all(f"{VISIBLE_ROWS} td:nth-child({index})", "cells => cells.map(c => c.textContent)")


def test_the_table_shows_every_row_of_the_pinned_board_and_switches_board(tab, site, board_rows, shots):  # noqa: F811
    page = open_index(tab, site)
    pinned = [r for r in board_rows if r["judge"] == PINNED_JUDGE]
    assert page.locator(VISIBLE_ROWS).count() == len(pinned) == 5
    assert sorted(column(page, 1)) == sorted(r["model_id"] for r in pinned)
    assert page.locator("#count").text_content() == "5 of 5 rows shown"
    assert page.locator("section.board[hidden]").count() == 1, "the other judge's board is hidden"
    tab.screenshot(shots, "index")

    page.select_option("#board", index=1)
    others = [r for r in board_rows if r["judge"] != PINNED_JUDGE]
    assert page.locator(VISIBLE_ROWS).count() == len(others) == 2
    assert set(column(page, 10)) == {others[0]["judge"]}, "the rows shown are the other judge's only"
    assert page.locator("#count").text_content() == "2 of 2 rows shown"
    tab.screenshot(shots, "index-other-judge")
    assert tab.problems == [] and tab.outside() == []


def test_a_column_sort_reorders_the_rows(tab, site):
    page = open_index(tab, site)
    exact = "section.board:not([hidden]) th:nth-child(6) button"
    page.click(exact)
    values = [float(v) for v in column(page, 6)]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    assert page.get_attribute("section.board:not([hidden]) th:nth-child(6)", "aria-sort") == "descending"
    page.click(exact)
    assert [float(v) for v in column(page, 6)] == sorted(values)
    page.click("section.board:not([hidden]) th:nth-child(1) button")
    models = column(page, 1)
    assert models == sorted(models, key=str.lower) or models == sorted(models)
    assert models != [*reversed(models)]
    assert tab.problems == []


def test_the_filters_hide_rows(tab, site, board_rows, shots):  # noqa: F811
    page = open_index(tab, site)
    page.fill("#filter", "contained")
    assert set(column(page, 1)) == {"org/contained-adapter"} and page.locator(VISIBLE_ROWS).count() == 2
    assert page.locator("#count").text_content() == "2 of 5 rows shown"
    page.fill("#filter", "")
    page.select_option("#type", "base")
    assert column(page, 2) == ["base"]
    page.select_option("#type", "")
    page.check("#flagged")
    pinned = [r for r in board_rows if r["judge"] == PINNED_JUDGE]
    flagged = [r for r in pinned if hidden_misalignment(r)]
    assert 0 < len(flagged) < len(pinned), "the fixture has flagged and unflagged rows"
    assert sorted(zip(column(page, 1), column(page, 4))) == sorted((r["model_id"], r["trigger_id"]) for r in flagged)
    assert all("hidden misalignment" in t for t in texts(page, 8))
    tab.screenshot(shots, "index-flagged")
    assert tab.problems == []


def test_model_pages_load_their_plots(tab, site, shots):
    page = open_index(tab, site)
    links = page.eval_on_selector_all("section.board a", "links => links.map(a => a.href)")
    assert len(links) >= 5
    page.click("section.board:not([hidden]) tbody tr:first-child td:first-child a")
    page.wait_for_load_state("load")
    assert "/models/" in page.url and "#row-" in page.url
    pages = sorted(set(link.split("#")[0] for link in links))
    for number, url in enumerate(pages):
        page.goto(url)
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.src])")
        sections = page.locator("section.profile").count()
        assert sections >= 1 and len(images) == 2 * sections, url
        assert all(complete and width > 0 for complete, width, _ in images), f"a plot did not load on {url}"
        tab.screenshot(shots, f"model-{number}")
    plots = {u for u in tab.requests if u.endswith(".svg")}
    assert plots == {p.as_uri() for p in (site / "plots").glob("*.svg")}, "every plot was fetched from the folder"
    assert tab.problems == [] and tab.outside() == []


def test_hostile_submitted_text_shows_as_text_and_fires_nothing(tab, site, shots):
    page = open_index(tab, site)
    row = page.locator(VISIBLE_ROWS).filter(has_text="alert('model')")
    assert row.count() == 1
    cells = row.locator("td").all_text_contents()
    assert cells[0] == HOSTILE_MODEL and cells[2] == HOSTILE_BASE and cells[3] == HOSTILE_TRIGGER
    assert page.locator("section.board img, section.board svg, section.board b").count() == 0
    page.fill("#filter", "<script>")
    assert page.locator(VISIBLE_ROWS).count() == 1
    page.click("section.board:not([hidden]) th:nth-child(3) button")
    page.fill("#filter", "")
    tab.screenshot(shots, "index-hostile")

    row.locator("a").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").text_content() == HOSTILE_MODEL
    assert page.title().startswith(HOSTILE_MODEL)
    assert page.locator("main img").count() == 2, "only the two plots are images"
    assert page.locator("a[href^='javascript']").count() == 0
    assert page.get_by_text(HOSTILE_PAPER, exact=True).count() == 1, "the unsafe URL shows as text"
    assert page.locator("b").count() == 0 and page.get_by_text("<b>bold</b>", exact=True).count() == 1
    tab.screenshot(shots, "model-hostile")
    assert tab.problems == [], "no dialog, console message or page error"
    assert tab.outside() == []


def test_no_page_makes_a_request_outside_its_folder(tab, site):
    page = open_index(tab, site)
    for link in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
        if not link.startswith("data/"):
            page.goto(f"{tab.root}{link}")
            page.wait_for_load_state("load")
    page.goto((site / "index.html").as_uri())
    page.wait_for_load_state("load")
    assert {f"{tab.root}assets/leaderboard.css", f"{tab.root}assets/leaderboard.js"} <= set(tab.requests)
    assert len({u for u in tab.requests if "/models/" in u}) == 4
    assert tab.outside() == [], "every request stays inside the site's folder"
    assert tab.problems == []
