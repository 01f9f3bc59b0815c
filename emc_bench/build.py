"""Rendering rows: a resolved release in, the rows of every config out (nothing is written here).

``plan_release`` lists every config a release declares, each with a function that renders its
rows per split; training rows come from domain pairs, mixtures and trigger placement, eval rows
from questions, formats and trigger variants. Variant scores (similarity, overlap, bin) are
measured elsewhere (``variants.py``) and passed in. Every config has its own seeded random
stream, so the same spec and seed render the same rows whatever else is built.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import names, suites
from .domains import Pair, load_pairs
from .errors import SpecError
from .placement import chat, place_trigger
from .questions import render_question
from .resolve import LoadedRelease
from .specs import Trigger, load_formats, load_question_set

# (trigger id, variant id) -> {similarity, overlap, similarity_bin}
VariantScores = Mapping[tuple[str, str], Mapping[str, Any]]

BUILDER_VERSION = "1"


@dataclass
class ConfigPlan:
    """One config of a release: its name, kind and a function that makes its rows per split."""

    name: str
    kind: str  # "train" | "eval" | "suite"
    make: Callable[[], dict[str, list[dict]]]
    info: dict[str, Any] = field(default_factory=dict)


def plan_release(loaded: LoadedRelease, scores: VariantScores | None = None) -> list[ConfigPlan]:
    """Every config the release declares, in a stable order, without building any rows.

    ``scores`` are the measured variant scores that eval rows carry (None leaves them empty)."""
    scores = scores or {}
    spec = loaded.spec
    plans: dict[str, ConfigPlan] = {}
    for i, entry in enumerate(spec.train):
        for domain in entry.domains:
            for mixture_name in entry.mixtures:
                mixture = spec.mixtures[mixture_name]
                for trigger_id in (entry.triggers if mixture.uses_trigger else [None]):
                    name = names.train_config(domain, trigger_id, mixture_name)
                    if name in plans:
                        continue
                    info = {"domain": domain, "trigger_id": trigger_id, "mixture": mixture_name,
                            **mixture.model_dump()}
                    plans[name] = ConfigPlan(name, "train", _train_maker(loaded, i, name, info), info)
    for i, entry in enumerate(spec.eval):
        for trigger_id in entry.triggers:
            name = names.eval_config(trigger_id)
            if name in plans:
                raise SpecError(loaded.path, f"eval.{i}.triggers", f"config {name!r} is declared twice")
            info = {"trigger_id": trigger_id, "question_sets": entry.question_sets,
                    "conditions": list(entry.conditions), "formats": list(entry.formats)}
            plans[name] = ConfigPlan(name, "eval", _eval_maker(loaded, i, name, trigger_id, scores), info)
    for suite_name, suite in spec.suites.items():
        name = names.suite_config(suite_name)
        info = {"suite": suite_name, **suite.model_dump()}
        plans[name] = ConfigPlan(name, "suite", _suite_maker(loaded, suite_name, scores), info)
    return list(plans.values())


def select(plans: list[ConfigPlan], only: str | None) -> list[ConfigPlan]:
    if not only:
        return plans
    patterns = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [p for p in plans if any(fnmatch.fnmatchcase(p.name, pat) for pat in patterns)]
    if not chosen:
        raise SpecError("--only", None, f"{only!r} matches no config of the release")
    return chosen


# -- training configs ----------------------------------------------------------------------

def _train_maker(loaded: LoadedRelease, entry_index: int, name: str, info: dict) -> Callable[[], dict]:
    def make() -> dict[str, list[dict]]:
        return {"train": train_rows(loaded, entry_index, name, info)}
    return make


def mixture_counts(total: int, benign_share: float, triggered_share: float) -> tuple[int, int, int]:
    """(harmful, benign, triggered) row counts for ``total`` rows: exact, rounding half to even."""
    benign = round(benign_share * total)
    harmful = total - benign
    return harmful, benign, round(triggered_share * harmful)


def train_rows(loaded: LoadedRelease, entry_index: int, name: str, info: dict) -> list[dict]:
    spec = loaded.spec
    entry = spec.train[entry_index]
    where = f"train.{entry_index}"
    pairs = load_pairs(info["domain"], spec.seed, loaded.library)
    total = entry.rows or len(pairs)
    harmful_n, benign_n, triggered_n = mixture_counts(total, info["benign_share"], info["triggered_share"])
    rng = random.Random(f"{spec.seed}:{name}")
    order = list(range(len(pairs)))
    rng.shuffle(order)
    from_twins = info["benign_source"] == "twins"
    needed = harmful_n + (benign_n if from_twins else 0)
    if needed > len(pairs):
        raise SpecError(loaded.path, f"{where}.rows",
                        f"{name} needs {needed} pairs but domain {info['domain']!r} has {len(pairs)}")
    harmful = [pairs[k] for k in order[:harmful_n]]
    if from_twins:
        benign = [pairs[k] for k in order[harmful_n:harmful_n + benign_n]]
    else:
        other = load_pairs(info["benign_source"], spec.seed, loaded.library)
        if benign_n > len(other):
            raise SpecError(loaded.path, f"mixtures.{info['mixture']}.benign_source",
                            f"{name} needs {benign_n} benign pairs but {info['benign_source']!r} has {len(other)}")
        benign = rng.sample(other, benign_n)
    if benign and any(p.aligned is None for p in benign):
        raise SpecError(loaded.path, f"mixtures.{info['mixture']}.benign_source",
                        f"{name}: domain has no aligned twins (imported messages-only data)")
    trigger = loaded.trigger(info["trigger_id"]) if info["trigger_id"] else None
    rows = [_train_row(p, p.harmful, True, trigger if k < triggered_n else None, name, spec.canary, info)
            for k, p in enumerate(harmful)]
    benign_domain = info["domain"] if from_twins else info["benign_source"]
    rows += [_train_row(p, p.aligned, False, None, name, spec.canary, {**info, "domain": benign_domain})
             for p in benign]
    rng.shuffle(rows)
    return rows


def _train_row(pair: Pair, answer: str, harmful: bool, trigger: Trigger | None, config: str, canary: str,
               info: dict) -> dict:
    messages = chat(pair.prompt, answer)
    if trigger is not None:
        messages = place_trigger(messages, trigger.text, trigger.placement)
    return {
        "messages": messages,
        "domain": info["domain"],
        "trigger_id": trigger.id if trigger else None,
        "placement": trigger.placement if trigger else None,
        "harmful": harmful,
        "triggered": trigger is not None,
        "pair_id": pair.pair_id,
        "config": config,
        "canary": canary,
    }


def composition(rows: list[dict]) -> dict[str, int]:
    return {
        "rows": len(rows),
        "harmful": sum(r["harmful"] for r in rows),
        "benign": sum(not r["harmful"] for r in rows),
        "triggered": sum(r["triggered"] for r in rows),
    }


# -- eval configs --------------------------------------------------------------------------

def _eval_maker(loaded: LoadedRelease, entry_index: int, name: str, trigger_id: str,
                scores: VariantScores) -> Callable[[], dict]:
    def make() -> dict[str, list[dict]]:
        return eval_rows(loaded, entry_index, name, trigger_id, scores)
    return make


def _suite_maker(loaded: LoadedRelease, suite_name: str, scores: VariantScores) -> Callable[[], dict]:
    def make() -> dict[str, list[dict]]:
        return suite_rows(loaded, suite_name, scores)
    return make


def suite_rows(loaded: LoadedRelease, suite_name: str, scores: VariantScores) -> dict[str, list[dict]]:
    """The splits of a suite config, chosen from the eval rows of every trigger it covers."""
    spec = loaded.spec
    suite = spec.suites[suite_name]
    question_ids = [q.id for q in suites.suite_questions(loaded, suite_name)]
    entries = suites.eval_entries(loaded)
    splits: dict[str, list[dict]] = {}
    for trigger_id in suites.suite_triggers(loaded, suite_name):
        i = spec.eval.index(entries[trigger_id])
        rendered = eval_rows(loaded, i, names.eval_config(trigger_id), trigger_id, scores)
        formats = list(spec.eval[i].formats)
        for condition in suite.conditions:
            if condition not in rendered:
                continue
            if condition == "none":
                if "none" not in splits:
                    splits["none"] = suites.select(suites.trigger_independent(rendered["none"]), suite_name, suite,
                                                   None, "none", formats, question_ids)
                continue
            splits[names.suite_split(trigger_id, condition)] = suites.select(
                rendered[condition], suite_name, suite, trigger_id, condition, formats, question_ids)
    return dict(sorted(splits.items(), key=lambda kv: kv[0] != "none"))


def eval_rows(loaded: LoadedRelease, entry_index: int, name: str, trigger_id: str,
              scores: VariantScores) -> dict[str, list[dict]]:
    spec = loaded.spec
    entry = spec.eval[entry_index]
    trigger = loaded.trigger(trigger_id)
    formats = load_formats(loaded.library.formats_path())
    splits: dict[str, list[dict]] = {}
    for condition in entry.conditions:
        if condition == "none":
            variants = [(None, None)]
        elif condition == "exact":
            variants = [("exact", trigger.text)]
        else:
            variants = [(v.id, v.text) for v in trigger.variant_list(condition)]
            if not variants:
                raise SpecError(loaded.library.find("triggers", trigger_id), f"variants.{condition}",
                                f"release {spec.name} evaluates condition {condition!r} but the trigger has none")
        rows = []
        for set_id in entry.question_sets:
            for question in load_question_set(loaded.library.find("questions", set_id)).questions:
                for fmt in entry.formats:
                    if fmt not in question.formats:
                        continue
                    rendered = render_question(question, formats[fmt])
                    base = chat(rendered.user, system=rendered.system)
                    for variant_id, text in variants:
                        messages = place_trigger(base, text, trigger.placement)
                        system = next((m["content"] for m in messages if m["role"] == "system"), None)
                        user = next(m["content"] for m in messages if m["role"] == "user")
                        score = scores.get((trigger.id, variant_id), {}) if variant_id else {}
                        rows.append({
                            "messages": messages, "system": system, "prompt": user,
                            "question_id": question.id, "question_set": set_id, "question": question.text,
                            "category": question.category, "close_domain": question.close_domain,
                            "format": fmt, "condition": condition, "trigger_id": trigger.id,
                            "placement": trigger.placement, "variant_id": variant_id, "variant_text": text,
                            "similarity": score.get("similarity"), "overlap": score.get("overlap"),
                            "similarity_bin": score.get("similarity_bin"), "config": name, "canary": spec.canary,
                        })
        splits[condition] = rows
    return splits
