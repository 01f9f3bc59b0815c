"""One error type for bad input: it names the file and the field, and the CLI exits 2."""

from __future__ import annotations

from pathlib import Path


class SpecError(Exception):
    """Bad input. ``str(err)`` is one line: ``<file>: <field>: <message>``."""

    exit_code = 2

    def __init__(self, path: str | Path, field: str | None, message: str):
        self.path = str(path)
        self.field = field
        self.message = " ".join(str(message).split())
        super().__init__(f"{self.path}: {field}: {self.message}" if field else f"{self.path}: {self.message}")
