"""emc-bench tiny-model: write a tiny random chat model for offline smoke runs (meaningless scores)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("tiny-model", help="write a tiny random chat model (offline smoke runs; scores mean nothing)")
    p.add_argument("out", type=Path)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..tiny_model import make_tiny_model

    print(make_tiny_model(args.out))
    return 0
