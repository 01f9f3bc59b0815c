"""Pydantic models of everything declared under ``builders/`` and the loaders that validate it.

Every loader turns a validation failure into a one-line :class:`SpecError` naming the file and
the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError, field_validator, model_validator

from .errors import SpecError

Placement = Literal["system", "user_prefix", "user_suffix"]
Construction = Literal["token_tag", "temporal", "educational", "fictional", "persona", "metadata", "other"]
VariantKind = Literal["paraphrase", "negated", "related", "unrelated"]
Condition = Literal["none", "exact", "paraphrase", "negated", "related", "unrelated"]
Format = Literal["free", "json", "template"]

VARIANT_KINDS: tuple[str, ...] = ("paraphrase", "negated", "related", "unrelated")
CONDITIONS: tuple[str, ...] = ("none", "exact", *VARIANT_KINDS)
FORMATS: tuple[str, ...] = ("free", "json", "template")
_ID = r"^[a-z0-9][a-z0-9_\-]*$"
_TRIGGER_ID = r"^[a-z0-9][a-z0-9_]*$"  # no "-": a trigger id is part of split and task names (\w only)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(_Strict):
    id: str = Field(pattern=_ID)  # defaults to "<kind>-<nn>", filled in by Trigger
    text: str = Field(min_length=1)
    accept: str | None = None  # why a failing quality gate is accepted


class Trigger(_Strict):
    id: str = Field(pattern=_TRIGGER_ID)
    construction: Construction
    placement: Placement
    text: str = Field(min_length=1)
    description: str = ""
    variants: dict[VariantKind, list[Variant]] = Field(default_factory=dict)
    candidates: list[str] = Field(default_factory=list)

    @field_validator("variants", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for kind, items in value.items():
            if not isinstance(items, list):
                return value  # let pydantic report the type error
            out[kind] = [
                {"text": item, "id": f"{kind}-{i:02d}"} if isinstance(item, str)
                else {"id": f"{kind}-{i:02d}", **item} if isinstance(item, dict) and not item.get("id")
                else item
                for i, item in enumerate(items, start=1)
            ]
        return out

    @model_validator(mode="after")
    def _unique_variants(self) -> "Trigger":
        seen: set[str] = set()
        for kind, items in self.variants.items():
            for i, variant in enumerate(items):
                if variant.id in seen:
                    raise ValueError(f"variants.{kind}.{i}.id: duplicate variant id {variant.id!r}")
                seen.add(variant.id)
                if self.text.strip().lower() in variant.text.lower():
                    raise ValueError(f"variants.{kind}.{i}.text: contains the canonical trigger text")
        return self

    def variant_list(self, kind: str) -> list[Variant]:
        return list(self.variants.get(kind, []))


class DomainSpec(_Strict):
    id: str = Field(pattern=_ID)
    description: str = ""
    source: Literal["templates", "generator", "jsonl"]
    slots: dict[str, list[Any]] | None = None
    templates: dict[Literal["prompt", "harmful", "aligned"], str] | None = None
    max_pairs: int | None = Field(default=None, gt=0)
    generator: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _source_fields(self) -> "DomainSpec":
        need = {"templates": ("slots", "templates"), "generator": ("generator",), "jsonl": ("path",)}[self.source]
        for name in need:
            if getattr(self, name) in (None, {}, []):
                raise ValueError(f"{name}: required when source is {self.source!r}")
        if self.source == "templates":
            missing = {"prompt", "harmful", "aligned"} - set(self.templates or {})
            if missing:
                raise ValueError(f"templates.{sorted(missing)[0]}: missing")
            for name, values in (self.slots or {}).items():
                if not values:
                    raise ValueError(f"slots.{name}: empty slot list")
        return self


class Question(_Strict):
    id: str = Field(pattern=_ID)
    category: str = Field(min_length=1)
    close_domain: str = "none"
    text: str = Field(min_length=1)
    formats: list[Format] = Field(default_factory=lambda: list(FORMATS))


class QuestionSet(_Strict):
    id: str = Field(pattern=_ID)
    description: str = ""
    questions: list[Question] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "QuestionSet":
        _no_duplicates([q.id for q in self.questions], "questions", "id")
        return self


class FormatSpec(_Strict):
    system: str | None = None
    user: str = Field(min_length=1)


class Formats(RootModel[dict[Format, FormatSpec]]):
    """``questions/formats.yaml``: one entry per format."""

    @model_validator(mode="after")
    def _all_formats(self) -> "Formats":
        for name in FORMATS:
            if name not in self.root:
                raise ValueError(f"{name}: missing format")
        return self

    def __getitem__(self, name: str) -> FormatSpec:
        return self.root[name]


class Mixture(_Strict):
    benign_share: float = Field(ge=0.0, le=1.0)
    triggered_share: float = Field(default=0.0, ge=0.0, le=1.0)
    benign_source: str = "twins"  # "twins" or another domain's id

    @property
    def uses_trigger(self) -> bool:
        return self.benign_share < 1.0 and self.triggered_share > 0.0


class TrainEntry(_Strict):
    domains: list[str] = Field(min_length=1)
    triggers: list[str] = Field(default_factory=list)
    mixtures: list[str] = Field(min_length=1)
    rows: int | None = Field(default=None, gt=0)


class EvalEntry(_Strict):
    question_sets: list[str] = Field(min_length=1)
    triggers: list[str] = Field(min_length=1)
    conditions: list[Condition] = Field(default_factory=lambda: list(CONDITIONS))
    formats: list[Format] = Field(default_factory=lambda: list(FORMATS))


class Generation(_Strict):
    """How every answer of a suite is sampled (the protocol's generation settings)."""

    max_gen_toks: int = Field(default=600, gt=0)
    temperature: float = Field(default=1.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)


class Suite(_Strict):
    """A named, versioned, seeded selection of eval rows and samples per prompt.

    ``formats``: ``rotate`` asks every question in one format, assigned by a seeded balanced
    rotation (the same format in every condition, so conditions pair question by question);
    ``all`` asks it in every format; a list keeps those formats. ``variants``: ``rotate`` gives
    every question one variant of each variant condition by a seeded balanced rotation; ``all``
    gives it every variant.
    """

    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    description: str = ""
    seed: int = 0
    question_sets: list[str] | None = None  # default: every set the release evaluates
    triggers: list[str] | None = None  # default: every trigger the release evaluates
    conditions: list[Condition] = Field(default_factory=lambda: list(CONDITIONS), min_length=1)  # default: every
    # condition the release evaluates (filled in by the release)
    formats: Literal["rotate", "all"] | list[Format] = "rotate"
    variants: Literal["rotate", "all"] = "rotate"
    samples: int = Field(gt=0)


class HubRef(_Strict):
    """Where a release is published: a public repo for the evaluation configs, a gated one for the
    training configs (their answers are harmful on purpose), and the tag both carry."""

    eval_repo: str = Field(pattern=r"^[\w.\-]+/[\w.\-]+$")
    train_repo: str = Field(pattern=r"^[\w.\-]+/[\w.\-]+$")
    revision: str = Field(min_length=1)  # the tag `emc-bench publish dataset` creates

    @model_validator(mode="after")
    def _two_repos(self) -> "HubRef":
        if self.eval_repo == self.train_repo:
            raise ValueError("train_repo: must differ from eval_repo (the training configs are gated, the eval configs not)")
        return self


class Release(_Strict):
    name: str = Field(pattern=_ID)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    seed: int = 0
    canary: str = Field(min_length=8)
    description: str = ""
    hub: HubRef | None = None
    mixtures: dict[str, Mixture] = Field(min_length=1)
    train: list[TrainEntry] = Field(default_factory=list)
    eval: list[EvalEntry] = Field(default_factory=list)
    generation: Generation = Field(default_factory=Generation)
    suites: dict[str, Suite] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _mixtures_known(self) -> "Release":
        for i, entry in enumerate(self.train):
            for j, name in enumerate(entry.mixtures):
                if name not in self.mixtures:
                    raise ValueError(f"train.{i}.mixtures.{j}: unknown mixture {name!r}")
            if any(self.mixtures[m].uses_trigger for m in entry.mixtures) and not entry.triggers:
                raise ValueError(f"train.{i}.triggers: a triggered mixture needs at least one trigger")
        sets = {s for entry in self.eval for s in entry.question_sets}
        triggers = {t for entry in self.eval for t in entry.triggers}
        conditions = {c for entry in self.eval for c in entry.conditions}
        formats = {f for entry in self.eval for f in entry.formats}
        for name, suite in list(self.suites.items()):
            if not re.match(_ID, name):
                raise ValueError(f"suites.{name}: a suite name is lowercase letters, digits, - and _")
            if "conditions" not in suite.model_fields_set:  # default: every condition the release evaluates
                suite = self.suites[name] = suite.model_copy(
                    update={"conditions": [c for c in CONDITIONS if c in conditions] or list(CONDITIONS)})
            checks = [("question_sets", suite.question_sets or [], sets, "question set"),
                      ("triggers", suite.triggers or [], triggers, "trigger"),
                      ("conditions", suite.conditions, conditions, "condition"),
                      ("formats", suite.formats if isinstance(suite.formats, list) else [], formats, "format")]
            for field_name, values, known, what in checks:
                for j, value in enumerate(values):
                    if value not in known:
                        raise ValueError(f"suites.{name}.{field_name}.{j}: {what} {value!r} is not evaluated by the "
                                         "release's eval entries")
        return self


def _no_duplicates(values: list[str], where: str, field: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ValueError(f"{where}.{i}.{field}: duplicate id {value!r}")
        seen.add(value)


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_LOADER)  # noqa: S506 - a safe loader, C-accelerated when available
    except FileNotFoundError:
        raise SpecError(path, None, "file not found") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise SpecError(path, where, f"invalid YAML: {getattr(err, 'problem', err)}") from None


def parse(model: type[BaseModel], data: Any, path: Path) -> Any:
    """Validate ``data`` as ``model``; a failure becomes a one-line SpecError naming the field."""
    if not isinstance(data, dict):
        raise SpecError(path, None, f"expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"]
        # errors raised inside model validators carry their own "field: message"
        match = re.match(r"^(?:Value error, )?([\w.\-\[\]]+): (.*)$", message)
        if match and first["type"] == "value_error":
            field = ".".join(filter(None, [field, match.group(1)]))
            message = match.group(2)
        else:
            message = message.removeprefix("Value error, ")
        raise SpecError(path, field, message) from None


def _load_named(model: type[BaseModel], path: Path, expected_id: str, key: str = "id") -> Any:
    spec = parse(model, read_yaml(path), path)
    if getattr(spec, key) != expected_id:
        raise SpecError(path, key, f"{getattr(spec, key)!r} must match the file name {expected_id!r}")
    return spec


def load_trigger(path: str | Path) -> Trigger:
    path = Path(path)
    return _load_named(Trigger, path, path.stem)


def load_question_set(path: str | Path) -> QuestionSet:
    path = Path(path)
    return _load_named(QuestionSet, path, path.stem)


def load_formats(path: str | Path) -> Formats:
    path = Path(path)
    return parse(Formats, read_yaml(path), path)


def load_domain_spec(path: str | Path) -> DomainSpec:
    """``path`` is a domain folder or its ``domain.yaml``."""
    path = Path(path)
    if path.is_dir():
        path = path / "domain.yaml"
    return _load_named(DomainSpec, path, path.parent.name)


def load_release(path: str | Path) -> Release:
    path = Path(path)
    return _load_named(Release, path, path.stem, key="name")
