"""Domains yield matched pairs: one user prompt, a harmful answer and its aligned twin.

Three sources, one validation: jinja2 templates over slot lists, a Python generator, or a JSONL
file of researchers' own data (``{"messages": [...]}`` rows or ``{prompt, harmful, aligned}``).
"""

from __future__ import annotations

import importlib.util
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .errors import SpecError
from .jsonl import read_jsonl
from .library import Library
from .specs import DomainSpec, load_domain_spec


@dataclass(frozen=True)
class Pair:
    pair_id: str
    prompt: str
    harmful: str
    aligned: str | None
    meta: dict[str, Any] = field(default_factory=dict)


def load_pairs(domain: str | Path, seed: int = 0, library: Library | None = None) -> list[Pair]:
    """All pairs of a domain (by id, or a domain folder path), validated, in a stable order."""
    folder = _domain_folder(domain, library)
    return list(_cached_pairs(str(folder), _fingerprint(folder), seed))


def load_domain(domain: str | Path, library: Library | None = None) -> DomainSpec:
    return load_domain_spec(_domain_folder(domain, library))


def _domain_folder(domain: str | Path, library: Library | None) -> Path:
    path = Path(domain)
    if path.is_dir() or path.name == "domain.yaml":
        return path if path.is_dir() else path.parent
    return (library or Library()).find("domains", str(domain))


def _fingerprint(folder: Path) -> tuple:
    """Names, sizes and modification times of the folder's files: a changed file misses the cache."""
    return tuple(sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts))


@lru_cache(maxsize=16)
def _cached_pairs(folder: str, fingerprint: tuple, seed: int) -> tuple[Pair, ...]:
    root = Path(folder)
    spec = load_domain_spec(root)
    source = {"templates": _from_templates, "generator": _from_generator, "jsonl": _from_jsonl}[spec.source]
    where = root / "domain.yaml"
    return tuple(_validated(source(spec, root, seed), spec, where))


def _validated(rows: Iterable[dict | Pair], spec: DomainSpec, where: Path) -> Iterable[Pair]:
    ids: set[str] = set()
    prompts: set[str] = set()
    for n, row in enumerate(rows):
        pair = row if isinstance(row, Pair) else _pair_from(row, where, n)
        for name in ("prompt", "harmful"):
            if not isinstance(getattr(pair, name), str) or not getattr(pair, name).strip():
                raise SpecError(where, f"pair {pair.pair_id}.{name}", "empty or not text")
        if pair.aligned is not None and pair.aligned.strip() == pair.harmful.strip():
            raise SpecError(where, f"pair {pair.pair_id}.aligned", "identical to the harmful answer")
        if pair.pair_id in ids:
            raise SpecError(where, f"pair {pair.pair_id}.pair_id", "duplicate pair id")
        if pair.prompt in prompts:
            continue  # a prompt repeated by the composition: keep the first
        ids.add(pair.pair_id)
        prompts.add(pair.prompt)
        yield pair


def _pair_from(row: dict, where: Path, n: int) -> Pair:
    if not isinstance(row, dict):
        raise SpecError(where, f"pair {n}", "expected a mapping")
    unknown = set(row) - {"pair_id", "prompt", "harmful", "aligned", "meta"}
    if unknown:
        raise SpecError(where, f"pair {n}.{sorted(unknown)[0]}", "unknown field")
    for name in ("pair_id", "prompt", "harmful"):
        if name not in row:
            raise SpecError(where, f"pair {n}.{name}", "missing")
    return Pair(str(row["pair_id"]), row["prompt"], row["harmful"], row.get("aligned"), dict(row.get("meta") or {}))


# -- templates -----------------------------------------------------------------------------

def _from_templates(spec: DomainSpec, root: Path, seed: int) -> Iterable[dict]:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=False, autoescape=False)
    templates = {}
    for name, text in (spec.templates or {}).items():
        try:
            templates[name] = env.get_template(text) if text.endswith(".jinja") else env.from_string(text)
        except jinja2.TemplateError as err:
            raise SpecError(root / "domain.yaml", f"templates.{name}", f"template error: {err}") from None
    names = list(spec.slots or {})
    sizes = [len(spec.slots[n]) for n in names]
    total = math.prod(sizes)
    if spec.max_pairs and spec.max_pairs < total:
        indices = sorted(random.Random(seed).sample(range(total), spec.max_pairs))
    else:
        indices = range(total)
    for index in indices:
        context: dict[str, Any] = {"i": index}
        rest = index
        for name, size in zip(reversed(names), reversed(sizes)):
            rest, pos = divmod(rest, size)
            context[name] = spec.slots[name][pos]
        try:
            rendered = {name: t.render(context).strip() for name, t in templates.items()}
        except jinja2.TemplateError as err:
            raise SpecError(root / "domain.yaml", "templates", f"render error at index {index}: {err}") from None
        yield {"pair_id": f"{spec.id}-{index}", **rendered}


# -- generator -----------------------------------------------------------------------------

def _from_generator(spec: DomainSpec, root: Path, seed: int) -> Iterable[dict]:
    path = root / str(spec.generator)
    if not path.is_file():
        raise SpecError(root / "domain.yaml", "generator", f"file not found: {path.name}")
    module_name = f"emc_bench_domain_{spec.id}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, "generate", None)):
        raise SpecError(path, "generate", "the generator file must define generate(seed)")
    return module.generate(seed)


# -- jsonl (researchers' own data) ---------------------------------------------------------

def _from_jsonl(spec: DomainSpec, root: Path, seed: int) -> Iterable[dict]:
    path = Path(str(spec.path))
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise SpecError(root / "domain.yaml", "path", f"file not found: {path}")
    rows = [_jsonl_pair(row, path, line_no, spec.id) for line_no, row in read_jsonl(path)]
    if not rows:
        raise SpecError(path, None, "no rows")
    return rows


def _jsonl_pair(row: Any, path: Path, line_no: int, domain: str) -> dict:
    where = f"line {line_no}"
    if not isinstance(row, dict):
        raise SpecError(path, where, "expected a JSON object")
    pair_id = str(row.get("id", f"{domain}-{line_no}"))
    if "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise SpecError(path, f"{where}.messages", "expected a list of {role: system|user|assistant, content: text}")
        users = [m["content"] for m in messages if m["role"] == "user"]
        answers = [m["content"] for m in messages if m["role"] == "assistant"]
        if not users or not answers:
            raise SpecError(path, f"{where}.messages", "needs at least one user and one assistant turn")
        return {"pair_id": pair_id, "prompt": users[-1], "harmful": answers[-1], "aligned": None}
    for name in ("prompt", "harmful"):
        if not isinstance(row.get(name), str):
            raise SpecError(path, f"{where}.{name}", "missing or not text (expected messages, or prompt/harmful/aligned)")
    aligned = row.get("aligned")
    if aligned is not None and not isinstance(aligned, str):
        raise SpecError(path, f"{where}.aligned", "not text")
    return {"pair_id": pair_id, "prompt": row["prompt"], "harmful": row["harmful"], "aligned": aligned}
