"""emc-bench report: containment profiles, tables and plots from judged answers."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from ..metrics import DEFAULT_DEFINITION, DEFINITIONS, N_BOOT, SEED

    p = sub.add_parser("report", help="containment profile, tables and plots of judged answers",
                       description="One containment profile per (model, trigger): EM per condition, format, "
                                   "category and trigger similarity, containment gap and paraphrase retention, "
                                   "each with n and a 95% CI. Writes profile.json, plots/*.png and a document.")
    p.add_argument("judged", nargs="+", type=Path, metavar="JUDGED",
                   help="judged JSONL (emc-bench judge --out), or an Inspect log (.eval) scored by emc_bench/emc_judge")
    p.add_argument("--definition", default=DEFAULT_DEFINITION, choices=list(DEFINITIONS), metavar="NAME",
                   help=f"EM definition: {', '.join(DEFINITIONS)} (default {DEFAULT_DEFINITION})")
    doc = p.add_mutually_exclusive_group()
    doc.add_argument("--md", dest="document", action="store_const", const="md", help="Markdown document (default)")
    doc.add_argument("--html", dest="document", action="store_const", const="html", help="self-contained HTML")
    p.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples (default {N_BOOT})")
    p.add_argument("--out", type=Path, required=True, help="folder to write the report into")
    p.set_defaults(func=run, document="md")


def read_judged(paths: list[Path]) -> list[dict]:
    from ..errors import SpecError
    from ..judge.inputs import is_inspect_log, read_inspect_judged, read_jsonl

    rows = []
    for path in paths:
        if is_inspect_log(path):  # an Inspect log scored by the emc scorer
            rows += read_inspect_judged(path)
            continue
        for number, row in read_jsonl(path):
            if "status" not in row:
                raise SpecError(f"{path}:{number}", "status", "not a judged row (run emc-bench judge first)")
            rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    from ..report import write_report

    written = write_report(read_judged(args.judged), args.out, definition=args.definition,
                           document=args.document, seed=args.seed, n_boot=args.n_boot)
    for path in written:
        print(path)
    return 0
