"""emc-bench verify: recompute every hash of a release folder against its manifest, and the
manifest's own hash (``self_sha256``, computed over its content without that field)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check a release folder against its manifest, and the manifest against its "
                                      "own sha256 (exit 1 on any change)")
    p.add_argument("folder", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..manifest import SELF_HASH, read_manifest, verify_release

    problems = verify_release(args.folder)
    for problem in problems:
        print(f"verify: {problem}", file=sys.stderr)
    if problems:
        return 1
    manifest = read_manifest(args.folder)
    print(f"ok: {len(manifest['files'])} files of {manifest['name']} {manifest['version']} match manifest.json, and manifest.json its {SELF_HASH}")
    return 0
