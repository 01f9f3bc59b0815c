"""emc-bench tasks-path: the folder of the emc_* lm-eval tasks, for ``--include_path``."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("tasks-path", help="print the emc_* task folder (lm_eval --include_path \"$(emc-bench tasks-path)\")")
    p.add_argument("--config", action="store_true", help="print the recommended lm-eval --config file instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..paths import tasks_dir

    print(Path(tasks_dir()) / "lm_eval_config.yaml" if args.config else tasks_dir())
    return 0
