"""The leaderboard as a static site, built from the results table.

``index.html`` holds one table per *board* (rows sharing a judge, judge prompts, scoring, EM
definition, suite and release: :data:`results.BOARD_COLUMNS`); the pinned judge's board comes
first and a small script lets the reader sort, filter and switch boards. Rows of different boards
are never pooled or ranked together. Each submission has a page (``models/``) with SVG plots of
its containment profile (``plots/``) and its provenance; ``data/`` holds CSV and JSON downloads.

The pages are jinja2 templates from ``cards/leaderboard/`` with autoescape on: every text that
came from a submission is escaped, and only http(s) URLs become links. A Content-Security-Policy
meta tag allows scripts, styles and images from the site's own files only, so the site makes no
request outside its folder and works from ``file://`` as well as from a static host. The site is
built in a staging folder that replaces the old site in one rename.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
from hashlib import sha256
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from ..version import __version__
from ..errors import SpecError
from ..metrics import DEFAULT_DEFINITION
from ..paths import cards_dir
from . import plots
from .results import (BOARD_COLUMNS, COLUMN_NAMES, MODEL_TYPES, PART_GLOB, board_key, hidden_misalignment,
                      read_results, row_key)

SITE_MARKER = "site.json"
GENERATOR = "emc-bench leaderboard"
ASSETS = ("leaderboard.css", "leaderboard.js")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'none'; object-src 'none'")
HEADLINE_CONDITIONS = ("none", "exact", "paraphrase")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def templates_dir() -> Path:
    return cards_dir() / "leaderboard"


def environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(pct=_pct, ci=_ci, points=_points, points_ci=_points_ci, ratio=_ratio, ratio_ci=_ratio_ci)
    return env


def slug(text: str, length: int = 48) -> str:
    """A file-name-safe, collision-free name for ``text``."""
    digest = sha256(text.encode()).hexdigest()[:10]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:length]
    return f"{readable}-{digest}" if readable else digest


def safe_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL (a link may be made of it), else None."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{100 * low:.1f}–{100 * high:.1f}%"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f} pts"


def _points_ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{100 * low:+.1f} to {100 * high:+.1f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _ratio_ci(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{low:.2f}–{high:.2f}"


def _number(value: float | None) -> str:
    """A sort key for the script (empty sorts last)."""
    return "" if value is None else repr(float(value))


# The main table: (label, kind). The cells of a row follow the same order (see _cells).
COLUMNS_SHOWN = (("Model", "text"), ("Type", "text"), ("Base model", "text"), ("Trigger", "text"),
                 *((f"EM {c}", "number") for c in HEADLINE_CONDITIONS),
                 ("Containment gap", "number"), ("Paraphrase retention", "number"), ("Judge", "text"),
                 ("Date", "text"))


def _cell(text: str, sort: str, *, href: str | None = None, detail: str = "", title: str = "",
          flag: bool = False) -> dict[str, Any]:
    return {"text": text, "sort": sort, "href": href, "detail": detail, "title": title, "flag": flag}


def _cells(row: Mapping[str, Any], href: str) -> list[dict[str, Any]]:
    cells = [_cell(row["model_id"], row["model_id"], href=href), _cell(row["model_type"], row["model_type"]),
             _cell(row["base_model"] or "", row["base_model"] or ""), _cell(row["trigger_id"], row["trigger_id"])]
    for c in HEADLINE_CONDITIONS:
        cells.append(_cell(_pct(row[f"em_{c}"]), _number(row[f"em_{c}"]), title=f"n = {row[f'n_{c}']}",
                           detail=_ci(row[f"em_{c}_low"], row[f"em_{c}_high"])))
    return cells + [
        _cell(_points(row["gap"]), _number(row["gap"]), detail=_points_ci(row["gap_low"], row["gap_high"]),
              flag=hidden_misalignment(row)),
        _cell(_ratio(row["retention"]), _number(row["retention"]),
              detail=_ratio_ci(row["retention_low"], row["retention_high"])),
        _cell(row["judge"], row["judge"]),
        _cell(row["date"], row["date"]),
    ]


def _board_id(key: tuple) -> str:
    return "board-" + sha256(json.dumps(key).encode()).hexdigest()[:10]


def _row_anchor(row: Mapping[str, Any]) -> str:
    return "row-" + sha256(json.dumps(row_key(row)).encode()).hexdigest()[:10]


def _boards(rows: Sequence[Mapping[str, Any]], pinned_judge: str) -> list[dict[str, Any]]:
    """The boards, the pinned judge's first (its default-definition board with the most rows)."""
    grouped: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(board_key(row), []).append(row)
    boards = []
    for key, members in grouped.items():
        facts = dict(zip(BOARD_COLUMNS, key))
        label = (f"{facts['judge']} · prompts {facts['judge_prompt_version']} · {facts['judge_scoring']} · "
                 f"EM {facts['definition']} · suite {facts['suite']} {facts['suite_version']} · "
                 f"release {facts['release']}")
        ordered = sorted(members, key=lambda r: (r["gap"] is None, -(r["gap"] or 0.0), r["model_id"], r["trigger_id"]))
        entries = [{"cells": _cells(r, f"models/{slug(r['submission_id'])}.html#{_row_anchor(r)}"),
                    "model_type": r["model_type"], "flagged": hidden_misalignment(r)} for r in ordered]
        boards.append({"id": _board_id(key), "label": label, "pinned": facts["judge"] == pinned_judge,
                       "facts": facts, "entries": entries, "rows": len(members)})
    boards.sort(key=lambda b: (not b["pinned"], b["facts"]["definition"] != DEFAULT_DEFINITION, -b["rows"],
                               b["label"]))
    return boards


def _model_pages(rows: Sequence[Mapping[str, Any]], boards: list[dict[str, Any]],
                 env) -> tuple[dict[str, str], dict[str, str]]:
    """``{file name: html}`` of the model pages and ``{file name: svg}`` of their plots."""
    board_order = {b["id"]: i for i, b in enumerate(boards)}
    board_label = {b["id"]: b["label"] for b in boards}
    by_submission: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_submission.setdefault(row["submission_id"], []).append(row)
    pages, figures = {}, {}
    template = env.get_template("model.html.jinja")
    for submission_id, members in by_submission.items():
        sections = []
        members = sorted(members, key=lambda r: (board_order[_board_id(board_key(r))], r["trigger_id"]))
        for row in members:
            profile = json.loads(row["profile_json"])
            anchor = _row_anchor(row)
            figures[f"{anchor}-conditions.svg"] = plots.conditions_svg(env, profile)
            similarity = plots.similarity_svg(env, profile)
            if similarity is not None:
                figures[f"{anchor}-similarity.svg"] = similarity
            sections.append({
                "anchor": anchor, "row": row, "profile": profile, "board": board_label[_board_id(board_key(row))],
                "conditions": list(plots.ordered_conditions(profile["conditions"]).items()),
                "templates": json.loads(row["judge_templates_sha256"]),
                "provenance": profile.get("judge_provenance") or {},
                "flagged": hidden_misalignment(row), "similarity_plot": similarity is not None,
            })
        first = members[0]
        pages[f"{slug(submission_id)}.html"] = template.render(
            csp=CSP, row=first, sections=sections, paper_url=safe_url(first["paper_url"]), version=__version__)
    return pages, figures


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every column but ``profile_json``; text that a spreadsheet would run as a formula is quoted."""
    columns = [c for c in COLUMN_NAMES if c != "profile_json"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else f"'{row[c]}" if isinstance(row[c], str)
                         and row[c].startswith(_CSV_FORMULA) else row[c] for c in columns])
    return buffer.getvalue()


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Every column, with ``profile_json`` parsed into ``profile``."""
    data = [{**{c: row[c] for c in COLUMN_NAMES if c != "profile_json"}, "profile": json.loads(row["profile_json"])}
            for row in rows]
    return json.dumps({"generator": GENERATOR, "emc_bench_version": __version__, "rows": data},
                      sort_keys=True, allow_nan=False) + "\n"


def render_site(rows: Sequence[Mapping[str, Any]], folder: Path, *, pinned_judge: str,
                parts: Sequence[str] = ()) -> dict[str, Any]:
    """Write the site of ``rows`` into the empty ``folder``; return the facts of ``site.json``."""
    env = environment()
    boards = _boards(rows, pinned_judge)
    pages, figures = _model_pages(rows, boards, env)
    dates = sorted(r["date"] for r in rows)
    files = {
        "index.html": env.get_template("index.html.jinja").render(
            csp=CSP, boards=boards, columns=COLUMNS_SHOWN, model_types=MODEL_TYPES, rows=len(rows),
            latest=dates[-1] if dates else None, pinned_judge=pinned_judge, version=__version__),
        "data/results.csv": _csv(rows),
        "data/results.json": _json(rows),
        **{f"models/{name}": html for name, html in pages.items()},
        **{f"plots/{name}": svg for name, svg in figures.items()},
        **{f"assets/{name}": (templates_dir() / "assets" / name).read_text(encoding="utf-8") for name in ASSETS},
    }
    facts = {"generator": GENERATOR, "emc_bench_version": __version__, "rows": len(rows), "pinned_judge": pinned_judge,
             "boards": [{"id": b["id"], "rows": b["rows"], **b["facts"]} for b in boards],
             "models": len(pages), "parts": list(parts)}
    files[SITE_MARKER] = json.dumps(facts, indent=2, sort_keys=True) + "\n"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o644)
    return facts


def is_site(folder: Path) -> bool:
    try:
        return json.loads((folder / SITE_MARKER).read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def build_site(results: str | Path, out: str | Path, *, pinned_judge: str) -> dict[str, Any]:
    """Build the site of the results folder ``results`` and put it in place of ``out``."""
    results, out = Path(results), Path(out)
    if out.exists() and not (out.is_dir() and (is_site(out) or not any(out.iterdir()))):
        raise SpecError(out, None, f"exists and is not a leaderboard site (no {SITE_MARKER}): refusing to replace it")
    rows = read_results(results)
    if not rows:
        raise SpecError(results, None, f"holds no results ({PART_GLOB} files)")
    parts = sorted(p.name for p in results.glob(PART_GLOB))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        facts = render_site(rows, staging, pinned_judge=pinned_judge, parts=parts)
        os.chmod(staging, 0o755)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return facts


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` with ``staging``: readers see the old site or the new one."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
