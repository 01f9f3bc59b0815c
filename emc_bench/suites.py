"""Suites: a seeded selection of the release's eval rows, and the samples asked per prompt.

A suite is declared in the release spec (``suites:``) and built into its own config,
``suite-<name>``, with one split per lm-eval task: ``none`` (the trigger-independent baseline)
and ``<trigger>_<condition>``. Its rows are chosen from the rows ``build.eval_rows`` renders for
each trigger, never rendered again, so a suite row is byte for byte an eval row plus its suite
columns (``suite``, ``suite_version``, ``samples``, ``doc_key``).

The design, for ``formats: rotate`` and ``variants: rotate``:

- the questions are put in one seeded order (their *rank*); a question's format is
  ``formats[rank % F]`` in every condition and for every trigger, so each condition covers the
  formats evenly and two conditions compare the same question in the same format;
- in a variant condition (paraphrase, negated, related, unrelated) a question gets variant
  ``variants[(rank + offset) % V]``, with a seeded offset per trigger and condition: every
  variant is used ``Q // V`` or ``Q // V + 1`` times;
- rows are ordered by rank, so the first N rows of a split (``--limit N``) are N different
  questions spread over the formats and variants.

With ``all`` a question appears in every format (or with every variant); rows are then ordered
in passes over the questions so that any prefix is still spread across questions.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from typing import Any, Iterable, Sequence

from . import names
from .resolve import LoadedRelease
from .specs import EvalEntry, Question, Suite, load_question_set


def eval_entries(loaded: LoadedRelease) -> dict[str, EvalEntry]:
    """Trigger id -> the first eval entry of the release that evaluates it, in spec order."""
    entries: dict[str, EvalEntry] = {}
    for entry in loaded.spec.eval:
        for trigger_id in entry.triggers:
            entries.setdefault(trigger_id, entry)
    return entries


def suite_triggers(loaded: LoadedRelease, suite_name: str) -> list[str]:
    """The triggers a suite covers: its own list, else every trigger the release evaluates."""
    return loaded.spec.suites[suite_name].triggers or list(dict.fromkeys(eval_entries(loaded)))


def suite_questions(loaded: LoadedRelease, suite_name: str) -> list[Question]:
    """Every question a suite asks, in spec order (the same for every trigger and condition)."""
    spec = loaded.spec
    sets = spec.suites[suite_name].question_sets or list(
        dict.fromkeys(s for entry in spec.eval for s in entry.question_sets))
    return [q for s in sets for q in load_question_set(loaded.library.find("questions", s)).questions]

def doc_key(row: dict[str, Any]) -> str:
    """A stable id of one prompt: trigger, condition, question, format and variant."""
    return "/".join(str(row.get(k) or "-") for k in ("trigger_id", "condition", "question_id", "format", "variant_id"))


def _rank(question_ids: Sequence[str], seed: int, suite: str) -> dict[str, int]:
    order = list(question_ids)
    random.Random(f"{seed}:{suite}:questions").shuffle(order)
    return {q: i for i, q in enumerate(order)}


def _offset(seed: int, suite: str, trigger_id: str | None, condition: str, modulus: int) -> int:
    digest = hashlib.sha256(f"{seed}:{suite}:{trigger_id}:{condition}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % max(modulus, 1)


def _formats_of(suite: Suite, available: Sequence[str]) -> list[str]:
    if isinstance(suite.formats, list):
        return [f for f in available if f in suite.formats]
    return list(available)


def select(rows: Iterable[dict[str, Any]], suite_name: str, suite: Suite, trigger_id: str | None,
           condition: str, formats: Sequence[str], question_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of one condition of one trigger that the suite asks, in its order, with the suite
    columns added. ``formats`` is the release's format order; ``question_ids`` every question
    the suite asks, in spec order (the same list for every trigger and condition)."""
    rank = _rank(question_ids, suite.seed, suite_name)
    by_question: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["question_id"] in rank:
            by_question[row["question_id"]].append(row)
    chosen_formats = _formats_of(suite, formats)
    variant_ids = list(dict.fromkeys(r["variant_id"] for q in by_question.values() for r in q))
    offset = _offset(suite.seed, suite_name, trigger_id, condition, len(variant_ids))
    picked: list[tuple[int, int, dict[str, Any]]] = []
    for question_id, candidates in by_question.items():
        r = rank[question_id]
        own_formats = [f for f in chosen_formats if any(c["format"] == f for c in candidates)]
        if not own_formats:
            continue
        if suite.formats == "rotate":
            keep_formats = [own_formats[r % len(own_formats)]]
        else:
            keep_formats = own_formats
        own_variants = [v for v in variant_ids if any(c["variant_id"] == v for c in candidates)]
        if suite.variants == "rotate" and len(own_variants) > 1:
            keep_variants = [own_variants[(r + offset) % len(own_variants)]]
        else:
            keep_variants = own_variants
        combos = [(f, v) for f in keep_formats for v in keep_variants]
        start = r % len(combos)  # rotate where each question starts, so every pass is spread
        combos = combos[start:] + combos[:start]
        lookup = {(c["format"], c["variant_id"]): c for c in candidates}
        for position, combo in enumerate(combos):
            if combo in lookup:
                picked.append((position, r, lookup[combo]))
    picked.sort(key=lambda item: (item[0], item[1]))
    return [with_suite_columns(row, suite_name, suite) for _, _, row in picked]


def with_suite_columns(row: dict[str, Any], suite_name: str, suite: Suite) -> dict[str, Any]:
    return {**row, "config": names.suite_config(suite_name), "suite": suite_name, "suite_version": suite.version,
            "samples": suite.samples, "doc_key": doc_key(row)}


def trigger_independent(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``none`` rows of one trigger's eval config as the shared baseline (no trigger fields)."""
    return [{**row, "trigger_id": None, "placement": None} for row in rows]
