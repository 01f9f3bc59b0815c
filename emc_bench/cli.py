"""The ``emc-bench`` command. Each subcommand lives in ``emc_bench/commands/<name>.py`` and
exposes ``add_parser(subparsers)``; heavy libraries are imported inside the command, never at
module level, so ``--help`` stays instant."""

from __future__ import annotations

import argparse
import importlib
import sys

from .version import __version__
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
    "plan",
    "eval",
    "tiny_model",
    "train",
    "baselines",
    "publish",
    "judge",
    "report",
    "submit",
    "leaderboard",
    "results_yaml",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``error: <command>: <message>``), exit 2."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="emc-bench",
        description="Build, evaluate and report semantically contained emergent misalignment.",
    )
    parser.add_argument("--version", action="version", version=f"emc-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"emc_bench.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, given = make_parser(), argv
    from .commands.judge import ACTIONS, action_parser

    if len(argv) > 1 and argv[0] == "judge" and argv[1] in ACTIONS:  # emc-bench judge calibrate|compare|rejudge
        parser, given = action_parser(argv[1], Parser), argv[2:]
    args = parser.parse_args(given)
    args.argv = argv  # the exact command line, for run records
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:  # Ctrl-C: one line (a command may say what it kept), no traceback
        print(str(err) or "interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
