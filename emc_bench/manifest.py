"""The manifest of a release folder: reading, writing, hashing and verifying it.

``manifest.json`` lists every file of the folder with its sha256 and size, and carries
``self_sha256``, the hash of its own content (canonical JSON without that field). A folder
verifies when the manifest matches its own hash, every listed file is present with its hash,
and nothing else is there. (The self-hash catches an accidental edit, not someone who rewrites
the manifest and recomputes it: the Hub tag and the lock file pin the published bytes.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import SpecError
from .names import MANIFEST


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_hashes(root: Path, relatives: list[str]) -> dict[str, dict[str, Any]]:
    """``{relative path: {sha256, bytes}}`` for files under ``root``."""
    return {r: {"sha256": sha256_file(root / r), "bytes": (root / r).stat().st_size} for r in relatives}


SELF_HASH = "self_sha256"


def manifest_sha256(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, compact), its ``self_sha256`` left out."""
    body = {key: value for key, value in manifest.items() if key != SELF_HASH}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Write ``manifest`` with its ``self_sha256`` (not atomic: callers write into a staging folder)."""
    manifest[SELF_HASH] = manifest_sha256(manifest)
    Path(path).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise SpecError(path, None, "not a release folder (manifest.json missing)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SpecError(path, f"line {err.lineno}", f"invalid JSON: {err.msg}") from None


def verify_release(folder: str | Path) -> list[str]:
    """Problems found (empty when every file matches the manifest). Each names the file."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    if manifest.get(SELF_HASH) != manifest_sha256(manifest):
        problems.append(f"{folder / MANIFEST}: edited after the build (its content does not match its {SELF_HASH})")
    for relative, expected in sorted(manifest["files"].items()):
        path = folder / relative
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != expected["sha256"]:
            problems.append(f"{path}: sha256 differs from manifest.json")
    listed = set(manifest["files"]) | {MANIFEST}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.relative_to(folder).as_posix() not in listed:
            problems.append(f"{path}: not listed in manifest.json")
    return problems
