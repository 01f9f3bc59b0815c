"""Leakage by meaning: evaluation texts must not lie close in meaning to any training user turn.

Each unique text is embedded once (and cached); the nearest training text of every evaluation
text comes from blockwise matrix products, so 30k training prompts against 1k evaluation texts
never build more than one block of the cosine matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import SpecError
from .similarity import blocks, embed

if TYPE_CHECKING:
    from .resolve import LoadedRelease

LEAKAGE_THRESHOLD = 0.9
CLOSEST_SHOWN = 10
EVAL_BLOCK_ROWS = 256


@dataclass(frozen=True)
class NearestPair:
    cosine: float
    eval_text: str
    train_text: str

    def to_dict(self) -> dict:
        return {"cosine": round(self.cosine, 4), "eval": self.eval_text, "train": self.train_text}


@dataclass(frozen=True)
class LeakageReport:
    """Per unique evaluation text, its nearest training text; ``leaks`` are those at or over the threshold."""

    threshold: float
    eval_texts: int
    train_texts: int
    leaks: list[NearestPair]
    closest: list[NearestPair]
    inputs_sha256: str = ""  # what was compared: see inputs_sha256()

    @property
    def ok(self) -> bool:
        return not self.leaks

    def format(self) -> str:
        lines = [f"leakage by meaning: {len(self.leaks)} of {self.eval_texts} evaluation texts within cosine "
                 f"{self.threshold} of one of {self.train_texts} training user turns"]
        if self.closest:
            lines.append("closest pairs:")
            lines += [f"  {p.cosine:.3f}  eval {_clip(p.eval_text)!r}  train {_clip(p.train_text)!r}"
                      for p in self.closest]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready summary (for a manifest): counts and the closest pairs."""
        return {"threshold": self.threshold, "eval_texts": self.eval_texts, "train_texts": self.train_texts,
                "leaks": len(self.leaks), "closest": [p.to_dict() for p in self.closest],
                "inputs_sha256": self.inputs_sha256}


def _clip(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def nearest_train(eval_vectors: np.ndarray, train_vectors: np.ndarray,
                  block_rows: int = EVAL_BLOCK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """For each evaluation row: (index of the nearest training row, its cosine), blockwise."""
    index = np.zeros(len(eval_vectors), dtype=np.int64)
    best = np.full(len(eval_vectors), -1.0, dtype=np.float32)
    if len(train_vectors):
        for rows in blocks(len(eval_vectors), block_rows):
            sims = eval_vectors[rows] @ train_vectors.T
            index[rows] = sims.argmax(axis=1)
            best[rows] = sims[np.arange(sims.shape[0]), index[rows]]
    return index, best


def check_leakage(eval_texts: Sequence[str], train_texts: Sequence[str], threshold: float = LEAKAGE_THRESHOLD,
                  cache_dir: Path | None = None, progress: bool = False) -> LeakageReport:
    """Compare every unique evaluation text with every unique training text by meaning."""
    evals = sorted(set(eval_texts))
    trains = sorted(set(train_texts))
    vectors = embed([*evals, *trains], cache_dir, progress=progress)
    index, best = nearest_train(vectors[: len(evals)], vectors[len(evals):])
    order = np.argsort(-best, kind="stable")
    pairs = [NearestPair(float(best[i]), evals[i], trains[index[i]]) for i in order] if trains else []
    return LeakageReport(threshold, len(evals), len(trains),
                         leaks=[p for p in pairs if p.cosine >= threshold], closest=pairs[:CLOSEST_SHOWN],
                         inputs_sha256=inputs_sha256(evals, trains))


def inputs_sha256(eval_texts: Sequence[str], train_texts: Sequence[str]) -> str:
    """A hash of everything the check reads: the unique evaluation texts and training prompts
    (a stored verdict is reused only for the same hash)."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for group in (sorted(set(eval_texts)), sorted(set(train_texts))):
        digest.update(json.dumps(group, ensure_ascii=False).encode() + b"\0")
    return digest.hexdigest()


def release_texts(loaded: LoadedRelease) -> tuple[list[str], list[str]]:
    """(evaluation texts, training prompts) of a release.

    Evaluation texts are the rendered user turns of every question in every format it is asked
    in, and every trigger variant the release evaluates; training prompts are the user prompts of
    every domain its training configs draw from (before any trigger is placed).
    """
    from .domains import load_pairs
    from .questions import render_question
    from .specs import load_formats, load_question_set

    spec, library = loaded.spec, loaded.library
    domains = {d for entry in spec.train for d in entry.domains}
    domains |= {spec.mixtures[m].benign_source for entry in spec.train for m in entry.mixtures} - {"twins"}
    train = [pair.prompt for domain in sorted(domains) for pair in load_pairs(domain, spec.seed, library)]
    evals: list[str] = []
    formats = load_formats(library.formats_path()) if spec.eval else None
    for entry in spec.eval:
        for set_id in entry.question_sets:
            for question in load_question_set(library.find("questions", set_id)).questions:
                evals += [render_question(question, formats[f]).user for f in entry.formats if f in question.formats]
        for trigger_id in entry.triggers:
            trigger = loaded.trigger(trigger_id)
            evals += [v.text for kind in entry.conditions for v in trigger.variant_list(kind)]
    return evals, train


def gate_release_leakage(loaded: LoadedRelease, threshold: float = LEAKAGE_THRESHOLD, progress: bool = False,
                         texts: tuple[list[str], list[str]] | None = None) -> LeakageReport:
    """The leakage report of a release; SpecError naming the release file if anything leaks.
    ``texts`` are the release's (evaluation texts, training prompts) when already read."""
    evals, train = texts or release_texts(loaded)
    report = check_leakage(evals, train, threshold, progress=progress)
    if not report.ok:
        worst = report.leaks[0]
        raise SpecError(loaded.path, "eval",
                        f"{len(report.leaks)} evaluation text(s) lie within cosine {threshold} of a training "
                        f"prompt; closest {worst.cosine:.3f}: {_clip(worst.eval_text)!r} ~ {_clip(worst.train_text)!r}")
    return report
