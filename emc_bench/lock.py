"""Frozen releases: ``builders/releases/<name>.lock`` holds the sha256 of every file a published
release contains and its leakage-by-meaning report.

- Drift: a test rebuilds the release and compares every file with the lock, so an edited YAML,
  template or engine change that alters published bytes fails the suite (changing content means
  a new release version, with a new lock).
- Reuse: the leakage gate embeds every training prompt (minutes on a CPU). A build whose
  leakage inputs — the exact evaluation texts and training prompts, hashed — equal the lock's
  takes the lock's verdict instead of re-embedding; anything else runs the gate.

``python -m emc_bench.lock v1 BUILT_FOLDER`` writes the lock of a folder built with the gate.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .errors import SpecError
from .manifest import read_manifest, verify_release
from .resolve import LoadedRelease, resolve_release

LOCK_VERSION = 1


def lock_path(loaded: LoadedRelease) -> Path:
    """``<release spec>.lock`` next to the release YAML."""
    return loaded.path.with_suffix(".lock")


def read_lock(loaded: LoadedRelease) -> dict[str, Any] | None:
    path = lock_path(loaded)
    if not path.is_file():
        return None
    try:
        lock = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise SpecError(path, None, f"not a lock file ({err})") from None
    for key in ("release", "version", "files", "leakage"):
        if key not in lock:
            raise SpecError(path, key, "missing")
    return lock


def locked_leakage(loaded: LoadedRelease, inputs: str) -> dict[str, Any] | None:
    """The lock's leakage report when the lock is this release's and its inputs hash is ``inputs``."""
    lock = read_lock(loaded)
    if lock is None or (lock["release"], lock["version"]) != (loaded.spec.name, loaded.spec.version):
        return None
    leakage = lock["leakage"]
    return leakage if isinstance(leakage, dict) and leakage.get("inputs_sha256") == inputs else None


def lock_of(folder: Path) -> dict[str, Any]:
    """The lock of a built release folder (it must verify and have run the leakage gate)."""
    problems = verify_release(folder)
    if problems:
        raise SpecError(folder, None, f"does not verify: {problems[0]}")
    manifest = read_manifest(folder)
    leakage = manifest.get("similarity", {}).get("leakage")
    if not isinstance(leakage, dict) or manifest.get("partial"):
        raise SpecError(folder, "similarity.leakage", "lock a full build made with the leakage gate")
    return {"lock_version": LOCK_VERSION, "release": manifest["name"], "version": manifest["version"],
            "files": {name: entry["sha256"] for name, entry in sorted(manifest["files"].items())},
            "leakage": leakage}


def drift(folder: Path, lock: dict[str, Any]) -> list[str]:
    """How a built folder differs from a lock: each file added, missing or changed, and the leakage."""
    built = lock_of(folder)
    problems = [f"{name}: {'not in the lock' if name not in lock['files'] else 'missing from the build'}"
                for name in sorted(set(built["files"]) ^ set(lock["files"]))]
    problems += [f"{name}: sha256 differs from the lock" for name in sorted(set(built["files"]) & set(lock["files"]))
                 if built["files"][name] != lock["files"][name]]
    if built["leakage"] != lock["leakage"]:
        problems.append("similarity.leakage: differs from the lock")
    return problems


def write_lock(release: str, folder: Path) -> Path:
    loaded = resolve_release(release)
    path = lock_path(loaded)
    lock = lock_of(folder)
    if (lock["release"], lock["version"]) != (loaded.spec.name, loaded.spec.version):
        raise SpecError(folder, "name", f"is {lock['release']} {lock['version']}, not {release}")
    path.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_lock(sys.argv[1], Path(sys.argv[2])))
