"""Finds declared content (triggers, domains, question sets, releases) by id.

The package's own ``builders/`` folder is always searched last; folders given with
``--builders`` come first, so researchers add or override content without editing the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import SpecError
from .paths import builders_dir

_LAYOUT = {
    "triggers": "triggers/{id}.yaml",
    "domains": "domains/{id}",
    "questions": "questions/{id}.yaml",
    "releases": "releases/{id}.yaml",
}


@dataclass(frozen=True)
class Library:
    extra_roots: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def roots(self) -> tuple[Path, ...]:
        return (*self.extra_roots, builders_dir())

    def find(self, kind: str, item_id: str, referenced_from: Path | None = None, field_name: str | None = None) -> Path:
        for root in self.roots:
            candidate = root / _LAYOUT[kind].format(id=item_id)
            if candidate.exists():
                return candidate
        where = referenced_from or self.roots[-1] / kind
        raise SpecError(where, field_name, f"unknown {kind[:-1].replace('question', 'question set')} {item_id!r}")

    def ids(self, kind: str) -> list[str]:
        pattern = _LAYOUT[kind].format(id="*")
        found = {Path(p).stem if kind != "domains" else Path(p).name for root in self.roots for p in root.glob(pattern)}
        return sorted(found)

    def formats_path(self) -> Path:
        return self.find("questions", "formats")
