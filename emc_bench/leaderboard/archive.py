"""Opening a submission safely: a folder as it is, or a ``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.zip``.

Everything is checked before a byte is read or extracted: only plain files and folders, with
relative names of plain characters (no absolute path, no ``..``), within :class:`Limits` (files,
bytes per file, bytes in all). Links, devices, FIFOs and sockets are refused wherever they are.
An archive is extracted into a temporary folder only when every member passed, file by file,
never writing more bytes than a member declared. The archive may hold the bundle at its top or
inside one folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .bundle import SUBMISSION_JSON, Limits, safe_relative

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
_CHUNK = 1 << 20


@dataclass
class Opened:
    """A submission opened for reading: its bundle folder (None when it cannot be read), its files
    (relative path -> bytes) and what is wrong with it."""

    root: Path | None
    files: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def _kind(mode: int) -> str | None:
    """What a non-plain entry is, or None for a plain file or folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _name_reason(name: str) -> str | None:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\\" in name:
        return f"{name!r}: an absolute path (bundles hold relative paths only)"
    if ".." in name.split("/"):
        return f"{name!r}: a path that leaves the bundle (..)"
    if not safe_relative(name):
        return f"{name!r}: not a relative path of plain names (letters, digits, . _ -)"
    return None


class _Tally:
    """Counts files and bytes against the limits, one reason per excess."""

    def __init__(self, limits: Limits, reasons: list[str]):
        self.limits, self.reasons, self.files, self.total = limits, reasons, 0, 0

    def add(self, name: str, size: int) -> None:
        self.files += 1
        self.total += size
        if size > self.limits.max_file_bytes:
            self.reasons.append(f"{name}: {size:,} bytes, above the limit of {self.limits.max_file_bytes:,} per file")

    def close(self) -> None:
        if self.files > self.limits.max_files:
            self.reasons.append(f"{self.files} files, above the limit of {self.limits.max_files}")
        if self.total > self.limits.max_total_bytes:
            self.reasons.append(f"{self.total:,} bytes in all, above the limit of {self.limits.max_total_bytes:,}")


def scan_folder(root: Path, limits: Limits = Limits()) -> Opened:
    """The files of a bundle folder, checked in place (nothing is followed or read)."""
    opened = Opened(root)
    tally = _Tally(limits, opened.reasons)
    for folder, dirs, names in os.walk(root):
        for name in sorted(dirs + names):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            mode = os.lstat(path).st_mode
            kind = _kind(mode)
            if kind:
                opened.reasons.append(f"{relative}: {kind} (bundles hold plain files only)")
                if name in dirs:
                    dirs.remove(name)  # os.walk would not follow it; say so once
                continue
            problem = _name_reason(relative)
            if problem:
                opened.reasons.append(problem)
            elif stat.S_ISREG(mode):
                size = os.lstat(path).st_size
                tally.add(relative, size)
                opened.files[relative] = size
    tally.close()
    return opened


def _strip_top(names: list[str]) -> str:
    """The one folder an archive's bundle sits in ('' when it sits at the top)."""
    if SUBMISSION_JSON in names:
        return ""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and f"{next(iter(tops))}/{SUBMISSION_JSON}" in names:
        return next(iter(tops)) + "/"
    return ""


def _normal(name: str) -> str:
    """A member name without the ``./`` tar puts in front and the ``/`` after a folder."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/") if name not in ("/",) else name


def _members_tar(archive: tarfile.TarFile) -> list[tuple[str, int | None, str | None, object]]:
    out = []
    for member in archive.getmembers():
        kind = None
        if member.issym() or member.islnk():
            kind = "a link"
        elif member.ischr() or member.isblk():
            kind = "a device"
        elif member.isfifo():
            kind = "a FIFO"
        elif not (member.isfile() or member.isdir()):
            kind = "not a plain file"
        out.append((member.name, member.size if member.isfile() else None, kind, member))
    return out


def _members_zip(archive: zipfile.ZipFile) -> list[tuple[str, int | None, str | None, object]]:
    out = []
    for info in archive.infolist():
        mode = info.external_attr >> 16
        kind = _kind(mode) if mode and not info.is_dir() and stat.S_IFMT(mode) else None
        if info.flag_bits & 0x1:
            kind = "encrypted"
        out.append((info.filename.rstrip("/") if info.is_dir() else info.filename,
                    None if info.is_dir() else info.file_size, kind, info))
    return out


def _extract(source, destination: Path, size: int) -> bool:
    """Copy at most ``size`` bytes; False when the member holds more than it declared."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(destination, "wb") as out:
        while True:
            block = source.read(min(_CHUNK, size + 1 - written))
            if not block:
                break
            written += len(block)
            if written > size:
                return False
            out.write(block)
    os.chmod(destination, 0o644)
    return True


def _open_archive(path: Path, limits: Limits, into: Path) -> Opened:
    opened = Opened(None)
    name = path.name.lower()
    try:
        handle = zipfile.ZipFile(path) if name.endswith(".zip") else tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        opened.reasons.append(f"{path.name}: not a readable archive ({type(err).__name__}: {err})")
        return opened
    with handle:
        members = _members_zip(handle) if isinstance(handle, zipfile.ZipFile) else _members_tar(handle)
        names = [_normal(m[0]) for m in members]
        top = _strip_top([n for n, m in zip(names, members) if m[1] is not None])
        tally = _Tally(limits, opened.reasons)
        plain = []
        for name, (_, size, kind, member) in zip(names, members):
            if size is None and name in ("", "."):
                continue  # the archive's own top folder
            if kind:
                opened.reasons.append(f"{name!r}: {kind} (bundles hold plain files only)")
                continue
            problem = _name_reason(name)
            if problem:
                opened.reasons.append(problem)
                continue
            if size is None:
                continue  # a folder
            if not name.startswith(top):
                opened.reasons.append(f"{name!r}: outside the archive's bundle folder {top!r}")
                continue
            relative = name[len(top):]
            tally.add(relative, size)
            plain.append((relative, size, member))
        tally.close()
        if opened.reasons:
            return opened
        for relative, size, member in plain:
            if relative in opened.files:
                opened.reasons.append(f"{relative}: in the archive twice")
                continue
            try:
                source = handle.open(member) if isinstance(handle, zipfile.ZipFile) else handle.extractfile(member)
                with source:
                    complete = _extract(source, into / relative, size)
            except (OSError, tarfile.TarError, zipfile.BadZipFile, RuntimeError, EOFError) as err:
                opened.reasons.append(f"{relative}: cannot be extracted ({type(err).__name__}: {err})")
                continue
            if not complete:
                opened.reasons.append(f"{relative}: holds more bytes than the archive declares")
            opened.files[relative] = size
    if not opened.reasons:
        opened.root = into
    return opened


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


@contextmanager
def open_submission(path: str | Path, limits: Limits = Limits()) -> Iterator[Opened]:
    """Open a submission folder or archive for reading; an archive's temporary copy is removed after."""
    path = Path(path)
    if path.is_symlink():
        yield Opened(None, reasons=[f"{path.name}: a symbolic link (give the bundle itself)"])
    elif path.is_dir():
        yield scan_folder(path, limits)
    elif path.is_file() and is_archive(path):
        if path.stat().st_size > limits.max_total_bytes:
            yield Opened(None, reasons=[f"{path.name}: {path.stat().st_size:,} bytes, above the limit of "
                                        f"{limits.max_total_bytes:,}"])
            return
        temporary = Path(tempfile.mkdtemp(prefix="emc-bench-submission-"))
        try:
            yield _open_archive(path, limits, temporary)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    elif path.exists():
        yield Opened(None, reasons=[f"{path.name}: neither a bundle folder nor a {', '.join(ARCHIVE_SUFFIXES)} "
                                    "archive of one"])
    else:
        yield Opened(None, reasons=[f"{path}: not found"])
