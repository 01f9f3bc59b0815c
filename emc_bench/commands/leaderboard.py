"""emc-bench leaderboard: ingest submissions into the results table (validated, re-judged with the
pinned judge), re-judge every stored submission with another judge, and build the static site."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import add_library_option, library_from


def add_parser(sub) -> None:
    from ..judge.settings import DEFAULT_JUDGE

    p = sub.add_parser("leaderboard", help="ingest submissions (validate, judge, append), rejudge them, build the site",
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

    ingest = actions.add_parser(
        "ingest", help="validate submissions, judge them with the pinned judge and append their rows",
        description="Each SUBMISSION (a bundle folder of emc-bench submit, or a .tar.gz/.tgz/.tar/.zip of one) is "
                    "validated against the release it names; a rejected one gets <results>/rejected/<sha256>.txt "
                    "(one reason per line) and adds nothing. An accepted one is judged through the verdict cache, "
                    "stored as <results>/submissions/<sha256>/ and appended as one row per (model, trigger). A "
                    "submission already ingested with this judge is left alone. Exit 1 when any was rejected or "
                    "could not be judged.")
    ingest.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION", help="bundle folders or archives")
    ingest.add_argument("--results", type=Path, required=True, metavar="DIR", help="the results folder")
    ingest.add_argument("--data", type=Path, metavar="DIR",
                        help="the reference release folder (default: the local build emc-bench eval uses)")
    _judging_options(ingest, DEFAULT_JUDGE)
    add_library_option(ingest)
    ingest.set_defaults(func=run_ingest)

    rejudge = actions.add_parser(
        "rejudge", help="judge every stored submission with another judge and append its rows",
        description="Earlier rows are kept: the table holds one row per (submission, trigger, judge) and the site "
                    "shows one board per judge.")
    rejudge.add_argument("--results", type=Path, required=True, metavar="DIR", help="the results folder")
    _judging_options(rejudge, None)
    rejudge.set_defaults(func=run_rejudge)


def _judging_options(p: argparse.ArgumentParser, default: str | None) -> None:
    from ..metrics import DEFAULT_DEFINITION

    p.add_argument("--judge", default=default, required=default is None, metavar="SPEC",
                   help="openai:MODEL or hf:PATH" + (f" (default: the pinned judge {default})" if default else ""))
    p.add_argument("--base-url", help="an OpenAI-compatible judge endpoint (default $OPENAI_BASE_URL, else OpenAI); "
                                      "the key comes from $OPENAI_API_KEY")
    p.add_argument("--concurrency", type=int, help="judge calls in flight (default 32)")
    p.add_argument("--cache", type=Path, dest="cache_path", metavar="FILE",
                   help="SQLite verdict cache (default $EMC_BENCH_CACHE/judge.sqlite or ~/.cache/emc-bench/)")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help="a fit calibration of the judge (emc-bench judge calibrate), cited in every row by its sha256")
    p.add_argument("--definition", default=DEFAULT_DEFINITION, metavar="NAME",
                   help=f"EM definition of the rows (default {DEFAULT_DEFINITION})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _judging(args: argparse.Namespace):
    from ..judge import JudgeSettings
    from ..judge.calibration import load_result
    from ..leaderboard.ingest import Judging
    from ..metrics import get_definition

    get_definition(args.definition)
    settings = JudgeSettings.from_spec(args.judge, base_url=args.base_url, concurrency=args.concurrency,
                                       cache_path=args.cache_path)
    calibration = load_result(args.calibration) if args.calibration else None
    judging = Judging(settings, args.definition, calibration, progress=not args.no_progress)
    judging.check_calibration()
    return judging


def _report(outcomes) -> int:
    for outcome in outcomes:
        stream = sys.stderr if outcome.status in ("rejected", "failed") else sys.stdout
        print(outcome.line(), file=stream)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("accepted", "unchanged", "rejected", "failed")}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n) + f"; {sum(o.calls for o in outcomes)} judge calls, "
          f"{sum(o.rows for o in outcomes)} rows appended")
    return 1 if counts["rejected"] or counts["failed"] else 0


def run_ingest(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..judge.files import check_writable
    from ..leaderboard.ingest import ingest

    library = library_from(args)
    judging = _judging(args)
    check_writable(args.results, "--results", folder=True)
    for path in args.submissions:
        if not path.exists() and not path.is_symlink():
            raise SpecError(path, None, "not found")
    return _report(ingest(args.submissions, args.results, judging, library=library, data=args.data))


def run_rejudge(args: argparse.Namespace) -> int:
    from ..leaderboard.ingest import rejudge

    return _report(rejudge(args.results, _judging(args)))


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
