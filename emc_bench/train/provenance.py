"""``run.json``: what a training run read, ran with and produced.

Written when a run starts (``status: running``) and rewritten when it ends (``finished``), so a
crashed run is recognisable and ``baselines run`` skips only finished ones.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .layout import RUN_JSON

LIBRARIES = ("emc-bench", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "huggingface-hub")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> dict[str, Any]:
    """The emc-bench source commit and whether the tree had changes; ``None`` outside a git checkout."""
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if commit else None}


def read_run(out: Path) -> dict[str, Any] | None:
    path = Path(out) / RUN_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_run(out: Path, record: dict[str, Any]) -> None:
    tmp = Path(out) / f".{RUN_JSON}.tmp"
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, Path(out) / RUN_JSON)


def is_finished(out: Path) -> bool:
    record = read_run(out)
    return bool(record) and record.get("status") == "finished"
