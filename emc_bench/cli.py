"""The ``emc-bench`` command. Each subcommand lives in ``emc_bench/commands/<name>.py`` and
exposes ``add_parser(subparsers)``; heavy libraries are imported inside the command, never at
module level, so ``--help`` stays instant."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import SpecError

# Order here is the order in --help.
COMMANDS = [
    "build",
    "verify",
    "show",
    "stats",
    "paraphrase",
    "audit",
    "tasks_path",
    "eval",
    "tiny_model",
    "train",
    "baselines",
    "publish",
    "judge",
    "report",
]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emc-bench",
        description="Build, evaluate and report semantically contained emergent misalignment.",
    )
    parser.add_argument("--version", action="version", version=f"emc-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"emc_bench.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
