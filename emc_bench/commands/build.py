"""emc-bench build: render a release spec into a folder of parquet files, card and manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_library_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--builders", action="append", default=[], metavar="DIR",
                        help="extra content folder searched before the package's builders/ (repeatable)")


def library_from(args: argparse.Namespace):
    from ..errors import SpecError
    from ..library import Library

    for folder in map(Path, args.builders):
        if not folder.is_dir():
            raise SpecError("--builders", None, f"{folder}: no such folder")
    return Library(tuple(Path(p) for p in args.builders))


def add_parser(sub) -> None:
    p = sub.add_parser("build", help="build a release (training configs and eval splits) into a folder",
                       description="Build every config a release spec declares into OUT: parquet per config "
                                   "and split, a dataset card and manifest.json. Atomic: OUT is replaced whole.")
    p.add_argument("--release", default="v1", help="release name in builders/releases/ or a YAML path (default: v1)")
    p.add_argument("--out", type=Path, help="output folder (default: out/<release>)")
    p.add_argument("--only", metavar="GLOB", help="build only configs matching these comma-separated globs")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--no-leakage", action="store_true",
                   help="skip the leakage-by-meaning gate (it embeds every training prompt once; the manifest "
                        "records that it was not checked): for quick local builds, never for a published release")
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..release import build_release
    from .show import print_summary

    out = args.out or Path("out") / Path(str(args.release)).stem
    start = time.perf_counter()
    manifest = build_release(args.release, out, only=args.only, library=library_from(args), progress=not args.quiet,
                             leakage_gate=not args.no_leakage)
    if not args.quiet:
        print_summary(manifest)
        rows = sum(s["rows"] for c in manifest["configs"].values() for s in c["splits"].values())
        print(f"\nbuilt {len(manifest['configs'])} configs, {rows:,} rows into {out} "
              f"in {time.perf_counter() - start:.1f} s")
    return 0
