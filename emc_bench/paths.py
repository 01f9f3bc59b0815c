"""Where the content folders (builders/, tasks/, baselines/, cards/) are.

In a wheel they ship inside the package as ``emc_bench/<folder>``; in a source checkout
(editable install) they sit at the top of the repository. Both layouts are found here and
nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def content_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"content folder {name!r} not found next to {_PACKAGE}")


def builders_dir() -> Path:
    return content_dir("builders")


def tasks_dir() -> str:
    """The lm-eval task folder (a string, for ``--include_path`` and the entry point)."""
    return str(content_dir("tasks"))


def baselines_dir() -> Path:
    return content_dir("baselines")


def cards_dir() -> Path:
    return content_dir("cards")


def cache_dir() -> Path:
    """Where embeddings, judge verdicts and local builds are cached: ``$EMC_BENCH_CACHE``, else
    ``~/.cache/emc-bench``."""
    return Path(os.environ.get("EMC_BENCH_CACHE") or Path.home() / ".cache" / "emc-bench")
