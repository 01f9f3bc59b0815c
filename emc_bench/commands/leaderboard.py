"""emc-bench leaderboard: the static leaderboard site built from a results table."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from ..judge.settings import DEFAULT_JUDGE

    p = sub.add_parser("leaderboard", help="build the static leaderboard site from a results table",
                       description="The results table is a folder of append-only part-*.parquet files, one row "
                                   "per (submission, trigger, judge).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build", help="write the static site (HTML, CSS, a little JS; works from a file:// folder)",
        description="Writes index.html (one sortable, filterable table per board: rows sharing judge, judge "
                    "prompts, scoring, EM definition, suite and release), a page per submission with SVG plots "
                    "and provenance, and CSV/JSON downloads. The new site replaces --out in one rename.")
    build.add_argument("--results", type=Path, required=True, metavar="DIR", help="the results folder")
    build.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="the site folder (replaced if it holds an earlier leaderboard site)")
    build.add_argument("--judge", default=DEFAULT_JUDGE, metavar="SPEC",
                       help=f"the pinned judge, whose board the page shows first (default {DEFAULT_JUDGE})")
    build.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from ..leaderboard.site import build_site

    facts = build_site(args.results, args.out, pinned_judge=args.judge)
    boards = facts["boards"]
    print(f"leaderboard: {facts['rows']} rows on {len(boards)} board{'s' * (len(boards) != 1)}, "
          f"{facts['models']} model pages, written to {args.out}")
    for board in boards:
        print(f"  {board['rows']:>5} rows  {board['judge']} (prompts {board['judge_prompt_version']}, "
              f"{board['judge_scoring']}, EM {board['definition']}, suite {board['suite']} {board['suite_version']}, "
              f"release {board['release']})")
    if not any(board["judge"] == args.judge for board in boards):
        print(f"note: no row was judged by the pinned judge {args.judge}; the board with the most rows comes first")
    return 0
