"""emc-bench show: the configs, splits and row counts of a release folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="print a table of a release folder's configs, splits and rows")
    p.add_argument("folder", type=Path)
    p.add_argument("--trigger", metavar="ID", help="print this trigger's variant table, sorted by similarity")
    p.set_defaults(func=run)


def format_table(header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_summary(manifest: dict) -> None:
    print(f"{manifest['name']} {manifest['version']}  seed {manifest['seed']}  spec {manifest['spec_hash'][:12]}  "
          f"canary {manifest['canary']}")
    rows = []
    for name, config in manifest["configs"].items():
        for split, info in config["splits"].items():
            comp = info.get("composition", {})
            rows.append([name, config["kind"], split, info["rows"], comp.get("harmful", ""), comp.get("triggered", "")])
    print(format_table(["config", "kind", "split", "rows", "harmful", "triggered"], rows))


def run(args: argparse.Namespace) -> int:
    from ..manifest import read_manifest

    if args.trigger:
        from ..variants import format_variant_table, read_variant_table

        print(format_variant_table(read_variant_table(args.folder, args.trigger)))
        return 0
    print_summary(read_manifest(args.folder))
    return 0
