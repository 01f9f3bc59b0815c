"""Reading JSON Lines files: one value per non-blank line, streamed, and every fault (unreadable,
not UTF-8, a line that is not JSON) a one-line :class:`SpecError` naming the file (and the line,
for a line that is not JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .errors import SpecError


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) for every non-blank line of ``path``."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise SpecError(path, None, f"cannot read: {err.strerror or err}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as err:
                    raise SpecError(path, f"line {number}", f"not JSON ({err.msg})") from None
                yield number, value
        except UnicodeDecodeError:
            raise SpecError(path, None, "not UTF-8 text: not a JSONL file") from None
