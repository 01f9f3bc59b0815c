"""``emc-lm-eval``: lm-eval's own CLI with the emc_* task folder already included.

Every flag is lm-eval's (``emc-lm-eval --model hf --model_args pretrained=... --tasks 'emc_*'``);
``--include_path`` is added unless given.
"""

from __future__ import annotations

import sys

from .paths import tasks_dir


def with_task_folder(argv: list[str]) -> list[str]:
    if any(a == "--include_path" or a.startswith("--include_path=") for a in argv):
        return list(argv)
    return [*argv, "--include_path", tasks_dir()]


def main() -> None:
    from lm_eval.__main__ import cli_evaluate

    sys.argv = [sys.argv[0], *with_task_folder(sys.argv[1:])]
    cli_evaluate()


if __name__ == "__main__":
    main()
