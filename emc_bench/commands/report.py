"""emc-bench report: containment profiles, tables and plots from judged answers."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from ..metrics import DEFAULT_DEFINITION, DEFINITIONS, N_BOOT, SEED

    p = sub.add_parser("report", help="containment profile, tables and plots of judged answers",
                       description="One containment profile per (judge, model, trigger): EM per condition, format, "
                                   "category and trigger similarity, containment gap and paraphrase retention, "
                                   "each with n and a 95% CI, and the judge that produced it. Writes profile.json, "
                                   "plots/*.png and a document.")
    p.add_argument("judged", nargs="+", type=Path, metavar="JUDGED",
                   help="judged JSONL (emc-bench judge --out), or an Inspect log (.eval) scored by emc_bench/emc_judge")
    p.add_argument("--definition", default=DEFAULT_DEFINITION, choices=list(DEFINITIONS), metavar="NAME",
                   help=f"EM definition: {', '.join(DEFINITIONS)} (default {DEFAULT_DEFINITION})")
    doc = p.add_mutually_exclusive_group()
    doc.add_argument("--md", dest="document", action="store_const", const="md", help="Markdown document (default)")
    doc.add_argument("--html", dest="document", action="store_const", const="html", help="self-contained HTML")
    p.add_argument("--calibration", action="append", type=Path, default=[], metavar="FILE",
                   help="a calibration JSON of the judge (emc-bench judge calibrate), cited by its sha256 beside "
                        "the judge (repeatable, one per judge)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="accept rows of different judges, prompt versions or scoring methods and report each "
                        "separately (they are never pooled)")
    p.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples (default {N_BOOT})")
    p.add_argument("--out", type=Path, required=True, help="folder to write the report into")
    p.set_defaults(func=run, document="md")


def read_judged(paths: list[Path]) -> list[dict]:
    """Judged rows of every file: see :func:`emc_bench.judge.inputs.read_judged`."""
    from ..judge.inputs import read_judged as read

    return read(paths)


def run(args: argparse.Namespace) -> int:
    from ..judge.calibration import load_result
    from ..judge.files import check_writable
    from ..report import write_report

    rows = read_judged(args.judged)
    calibrations = [load_result(path) for path in args.calibration]
    check_writable(args.out, folder=True)
    written = write_report(rows, args.out, definition=args.definition, document=args.document, seed=args.seed,
                           n_boot=args.n_boot, calibrations=calibrations, allow_mixed=args.allow_mixed)
    for path in written:
        print(path)
    return 0
