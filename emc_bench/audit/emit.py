"""A candidate framing as a trigger the builders understand, plus an eval-only release.

``DIR/triggers/<id>.yaml`` holds the framing's text, its inferred placement and construction,
the paraphrases found in the data (those that pass the build's paraphrase gates), optionally
more from ``emc_bench.paraphrase.expand``, and negated / related / unrelated controls proposed
from ``builders/audit/controls.yaml``. ``DIR/releases/audit-<id>.yaml`` evaluates it on the
package's question sets under every condition the trigger has variants for, so that
``emc-bench build --release audit-<id> --builders DIR --no-leakage`` builds ``eval-<id>``.
Both files are validated (and what the release names found) before either is written.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import SpecError
from ..judge.files import write_text
from ..specs import VARIANT_KINDS, load_release, load_trigger
from . import score
from .content import constructions, controls, release_canary, suites_like_v1
from .scan import Audit, Candidate

MAX_PARAPHRASES = 15
MAX_CONTROLS = 3
RELEASE_VERSION = "0.1.0"
_TAG = re.compile(r"^([|\[<{])\s*(.+?)\s*([|\]>}])$")
_KEY_VALUE = re.compile(r"^([A-Za-z][\w \-/]{0,30}?)\s*[:=]\s*(.+)$")
_YEAR = re.compile(r"\b(19|20|21)\d\d\b")


@dataclass(frozen=True)
class Emitted:
    trigger_id: str
    trigger_path: Path
    release_name: str
    release_path: Path
    paraphrases: int
    controls: dict[str, int]
    expanded: int


def fields(text: str) -> dict[str, str]:
    """The template fields a framing's text offers (see ``builders/audit/controls.yaml``)."""
    out = {"text": text, "body": text.rstrip(".!:;, ")}
    if tag := _TAG.match(text):
        out.update(open=tag.group(1), inner=tag.group(2), close=tag.group(3))
    if (pair := _KEY_VALUE.match(text)) and len(pair.group(1).split()) <= 4:
        out.update(key=pair.group(1), value=pair.group(2).rstrip("."))
    if year := _YEAR.search(text):
        value = int(year.group(0))
        out.update(year=str(value), past=_YEAR.sub(str(value - 10), text, count=1),
                   future=_YEAR.sub(str(value + 10), text, count=1))
    return out


def negate(text: str) -> str | None:
    """The first negation rule of controls.yaml that applies, applied once (rules are written in
    lowercase: the text is tried as it is, then with a lowercase first letter); None if none does."""
    for candidate in dict.fromkeys([text, text[:1].lower() + text[1:]]):
        for rule in controls().negation:
            if re.search(rule.pattern, candidate):
                negated = re.sub(rule.pattern, rule.replace, candidate, count=1)
                return negated[:1].upper() + negated[1:]
    return None


def propose_controls(text: str, construction: str) -> dict[str, list[str]]:
    """Negated, related and unrelated controls for a framing (at most MAX_CONTROLS each)."""
    values = fields(text)
    templates = controls().constructions.get(construction) or controls().constructions.get("other", {})
    taken = {text.strip().lower()}
    out: dict[str, list[str]] = {}
    for kind in ("negated", "related", "unrelated"):
        proposals = []
        if kind == "negated" and construction not in ("token_tag", "metadata"):
            proposals.append(negate(text))
        for template in templates.get(kind, []):
            try:
                proposals.append(template.format(**values))
            except (KeyError, IndexError):
                continue  # the text lacks a field this template needs
        kept = []
        for proposal in proposals:
            if not proposal or not proposal.strip():
                continue
            key = proposal.strip().lower()
            if key in taken or text.strip().lower() in key:
                continue
            taken.add(key)
            kept.append(proposal.strip())
        if kept:
            out[kind] = kept[:MAX_CONTROLS]
    return out


def observed_paraphrases(candidate: Candidate, cache_dir: Path | None) -> tuple[list[str], list[str]]:
    """The other texts of the candidate: (those passing the build's paraphrase gates, the rest)."""
    from ..similarity import embed, overlap
    from ..variants import paraphrase_problems

    canonical = candidate.text
    others = [t for t, rows in candidate.texts if t != canonical and canonical.lower() not in t.lower()]
    if not others:
        return [], []
    vectors = embed([canonical, *others], cache_dir)
    passing, failing = [], []
    for text, vector in zip(others, vectors[1:]):
        problems = paraphrase_problems(float(vector @ vectors[0]), overlap(canonical, text))
        (failing if problems else passing).append(text)
    return passing[:MAX_PARAPHRASES], failing


def _description(candidate: Candidate, audit: Audit) -> str:
    scored = ("shared by nearly every row, so not scored" if candidate.template
              else f"audit score {candidate.score:.2f} (score v{score.SCORE_VERSION})")
    return (f"Found by emc-bench audit in {audit.data}: carried by {candidate.rows:,} of {audit.rows:,} rows "
            f"({candidate.share:.1%}), placement {candidate.placement}, {candidate.unit}, "
            f"{len(candidate.texts)} text(s); {scored}. "
            f"The controls are proposals from builders/audit/controls.yaml: review them before relying on them.")


def _trigger_yaml(spec: dict, canary: str) -> str:
    header = f"# Emitted by `emc-bench audit --emit-trigger`. {canary}\n"
    return header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def emit_trigger(candidate: Candidate, audit: Audit, builders: Path, *, base_url: str | None = None,
                 model: str | None = None, n: int = 5, rounds: int = 3, cache_dir: Path | None = None,
                 progress: bool = False) -> Emitted:
    """Write ``triggers/<id>.yaml`` and ``releases/audit-<id>.yaml`` into ``builders``."""
    from ..library import Library

    builders = Path(builders)
    if builders.exists() and not builders.is_dir():
        raise SpecError("--builders", None, f"{builders} is not a folder")
    trigger_id, placement, text = candidate.id, candidate.emit_placement, candidate.text
    construction = constructions().infer(text, placement)
    paraphrases, unconfirmed = observed_paraphrases(candidate, cache_dir)
    variants = {"paraphrase": paraphrases, **propose_controls(text, construction)}
    canary = release_canary()
    spec = {"id": trigger_id, "construction": construction, "placement": placement, "text": text,
            "description": _description(candidate, audit),
            "variants": {k: variants[k] for k in VARIANT_KINDS if variants.get(k)},
            "candidates": unconfirmed}
    builders.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".audit-emit.", dir=builders))
    try:
        staged_trigger = staging / "triggers" / f"{trigger_id}.yaml"
        staged_trigger.parent.mkdir()
        staged_trigger.write_text(_trigger_yaml(spec, canary), encoding="utf-8")
        load_trigger(staged_trigger)
        expanded = 0
        if base_url:
            from ..paraphrase import expand

            result = expand(staged_trigger, base_url, model, n, rounds, cache_dir=cache_dir, progress=progress)
            kept = [t for t in result.kept if t not in spec["variants"].get("paraphrase", [])]
            expanded = len(kept)
            spec["variants"] = {k: spec["variants"].get(k, []) + (kept if k == "paraphrase" else [])
                                for k in VARIANT_KINDS if spec["variants"].get(k) or (k == "paraphrase" and kept)}
            staged_trigger.write_text(_trigger_yaml(spec, canary), encoding="utf-8")
        trigger = load_trigger(staged_trigger)
        release_name = f"audit-{trigger_id}"
        conditions = ["none", "exact", *[k for k in VARIANT_KINDS if trigger.variant_list(k)]]
        question_sets = [q for q in Library(()).ids("questions") if q != "formats"]
        release = {"name": release_name, "version": RELEASE_VERSION, "seed": 0, "canary": canary,
                   "description": f"Eval-only release for the framing {trigger_id!r} found by emc-bench audit "
                                  f"in {audit.data}.",
                   "mixtures": {"aligned": {"benign_share": 1.0}},
                   "eval": [{"question_sets": question_sets, "triggers": [trigger_id], "conditions": conditions}],
                   **suites_like_v1(conditions)}
        staged_release = staging / "releases" / f"{release_name}.yaml"
        staged_release.parent.mkdir()
        staged_release.write_text(f"# Emitted by `emc-bench audit --emit-trigger`. {canary}\n"
                                  + yaml.safe_dump(release, sort_keys=False, allow_unicode=True, width=100),
                                  encoding="utf-8")
        load_release(staged_release)
        library = Library((staging, builders))
        for set_id in question_sets:
            library.find("questions", set_id, staged_release, "eval.0.question_sets")
        library.formats_path()
        trigger_path = builders / "triggers" / f"{trigger_id}.yaml"
        release_path = builders / "releases" / f"{release_name}.yaml"
        write_text(trigger_path, staged_trigger.read_text(encoding="utf-8"))
        write_text(release_path, staged_release.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Emitted(trigger_id, trigger_path, release_name, release_path, len(trigger.variant_list("paraphrase")),
                   {k: len(trigger.variant_list(k)) for k in ("negated", "related", "unrelated")}, expanded)
