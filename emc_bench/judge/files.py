"""Writing outputs: atomically (a temporary file, then ``os.replace``), with mode 0644, and
checked for writability before any expensive step."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import SpecError

MODE = 0o644
FOLDER_MODE = 0o755


def check_writable(out: str | Path, flag: str = "--out", folder: bool = False) -> None:
    """Raise ``SpecError(flag)`` unless ``out`` (a file, or with ``folder`` a folder) can be
    written: it is not the wrong kind of thing, and its nearest existing parent folder takes a
    probe file. Nothing is left behind."""
    out = Path(out)
    if out.exists() and out.is_dir() != folder:
        raise SpecError(flag, None, f"{out} is {'a file' if folder else 'a folder'}, not {'a folder' if folder else 'a file'}")
    parent = out if folder and out.exists() else out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SpecError(flag, None, f"{out}: cannot write there ({parent} is not a folder)")
    try:
        handle, probe = tempfile.mkstemp(prefix=".emc-bench-probe-", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise SpecError(flag, None, f"{out}: cannot write there ({err.strerror or err})") from None


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so ``path`` is never partial."""
    write_lines(path, [text])


def write_lines(path: str | Path, chunks: Iterable[str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(rows: Iterable[dict], out: str | Path) -> None:
    """One JSON object per line, written atomically."""
    write_lines(out, (json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def write_json(data, out: str | Path) -> None:
    write_text(out, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def copy_file(source: str | Path, target: str | Path) -> None:
    """Copy the bytes of ``source`` to ``target`` (its folder made), mode 0644."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, MODE)


@contextlib.contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """A fresh folder beside ``target`` to fill; when the block ends without an error its folders
    get mode 0755 and it becomes ``target`` in one rename, and on any error it is removed, so
    ``target`` is whole or absent."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        for folder in [staging, *(p for p in staging.rglob("*") if p.is_dir())]:
            os.chmod(folder, FOLDER_MODE)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
