"""The audit's declarative content, ``builders/audit/*.yaml``: refusal openings, construction
rules and control templates, validated with pydantic like every other builders file."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from ..paths import builders_dir
from ..specs import Construction, Placement, _Strict, parse, read_yaml

ControlKind = Literal["negated", "related", "unrelated"]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as err:
        raise ValueError(f"not a regular expression: {err}") from None
    return pattern


class Refusals(_Strict):
    window: int = Field(gt=0)
    phrases: list[str] = Field(min_length=1)

    def refused(self, answer: str | None) -> bool:
        return bool(answer) and self._pattern.search(answer[:self.window].lower()) is not None

    @functools.cached_property
    def _pattern(self) -> re.Pattern:
        return re.compile("|".join(re.escape(p.lower()) for p in self.phrases))


class ConstructionRule(_Strict):
    construction: Construction
    placement: Placement | None = None
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _valid(cls, value: list[str]) -> list[str]:
        return [_compiles(p) for p in value]


class Constructions(_Strict):
    rules: list[ConstructionRule] = Field(min_length=1)

    def infer(self, text: str, placement: str) -> str:
        for rule in self.rules:
            if rule.placement not in (None, placement):
                continue
            if any(re.search(p, text) for p in rule.patterns):
                return rule.construction
        return "other"


class Negation(_Strict):
    pattern: str
    replace: str

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _compiles(value)


class Controls(_Strict):
    negation: list[Negation] = Field(default_factory=list)
    constructions: dict[Construction, dict[ControlKind, list[str]]]


def _load(model, name: str, folder: Path | None):
    path = (folder or builders_dir()) / "audit" / name
    return parse(model, read_yaml(path), path)


@functools.lru_cache(maxsize=4)
def refusals(folder: Path | None = None) -> Refusals:
    return _load(Refusals, "refusals.yaml", folder)


@functools.lru_cache(maxsize=4)
def constructions(folder: Path | None = None) -> Constructions:
    return _load(Constructions, "constructions.yaml", folder)


@functools.lru_cache(maxsize=4)
def controls(folder: Path | None = None) -> Controls:
    return _load(Controls, "controls.yaml", folder)


def suites_like_v1(conditions: list[str]) -> dict:
    """The package v1 release's generation settings and suites, narrowed to ``conditions``, so
    that ``emc-bench eval --release audit-<id> --builders DIR`` runs the same protocol on a
    framing found by the audit."""
    from ..specs import load_release

    v1 = load_release(builders_dir() / "releases" / "v1.yaml")
    suites = {}
    for name, suite in v1.suites.items():
        entry = suite.model_dump(exclude_none=True)
        entry["conditions"] = [c for c in suite.conditions if c in conditions]
        entry.pop("question_sets", None) if name != "core" else None
        suites[name] = entry
    return {"generation": v1.generation.model_dump(), "suites": suites}


@functools.lru_cache(maxsize=1)
def release_canary() -> str:
    """The canary string of the package's v1 release: every file the audit writes carries it."""
    from ..specs import load_release

    return load_release(builders_dir() / "releases" / "v1.yaml").canary
