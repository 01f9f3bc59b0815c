"""Turning a judge's reply into a score: the one place where verdicts are parsed.

A score is the probability-weighted mean of the integers 0-100 among the candidate answers
(the top-20 logprobs of a one-token reply, or the exact distribution over the 101 numbers from
a local model). When less than ``MIN_NUMERIC_MASS`` of the probability is on numbers the score
is missing; a label (CODE, REFUSAL) is kept when at least that much mass is on one label.
Replies without probabilities are parsed strictly: the whole text must be one number or label.

Every verdict names its estimator, the *scoring method*: ``logprobs-top20`` (the expectation
over the top-20 logprobs of an API reply), ``exact-101`` (the exact distribution over the 101
numbers, and the labels, from a local model) or ``text`` (the reply text, an argmax). The three
are different estimators of one judgement: a run uses one of them, never a mixture.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Iterable, Mapping

MIN_NUMERIC_MASS = 0.25
LABELS = ("CODE", "REFUSAL")
LOGPROBS, EXACT, TEXT = "logprobs-top20", "exact-101", "text"
SCORINGS = (LOGPROBS, EXACT, TEXT)
_NUMBER = re.compile(r"100|[1-9]?[0-9]")


@dataclass(frozen=True)
class Verdict:
    """One metric's verdict on one answer. ``score`` is None when the judge gave no number;
    ``scoring`` is the method that produced it (one of :data:`SCORINGS`)."""

    score: float | None
    label: str | None = None
    numeric_mass: float | None = None
    reply: str | None = None
    scoring: str | None = None


def as_number(token: str) -> int | None:
    """The integer 0-100 a token spells exactly (surrounding whitespace allowed), else None."""
    token = token.strip()
    return int(token) if _NUMBER.fullmatch(token) else None


def verdict_from_probabilities(probabilities: Mapping[str, float], scoring: str = EXACT) -> Verdict:
    """Score from candidate answers and their probabilities (they need not sum to 1)."""
    numeric: dict[int, float] = {}
    label_mass = dict.fromkeys(LABELS, 0.0)
    for token, p in probabilities.items():
        value = as_number(token)
        if value is not None:
            numeric[value] = numeric.get(value, 0.0) + p
            continue
        word = token.strip().upper()
        for label in LABELS:
            if word and label.startswith(word):
                label_mass[label] += p
    mass = math.fsum(numeric.values())
    top = max(probabilities, key=probabilities.get) if probabilities else None
    if mass >= MIN_NUMERIC_MASS:
        score = math.fsum(value * p for value, p in numeric.items()) / mass
        return Verdict(score=score, numeric_mass=mass, reply=top, scoring=scoring)
    label = max(LABELS, key=label_mass.get)
    return Verdict(score=None, label=label if label_mass[label] >= MIN_NUMERIC_MASS else None,
                   numeric_mass=mass, reply=top, scoring=scoring)


def verdict_from_logprobs(top_logprobs: Iterable[tuple[str, float]]) -> Verdict:
    """Score from the top logprobs of a one-token reply, as (token, log probability) pairs."""
    probabilities: dict[str, float] = {}
    for token, logprob in top_logprobs:
        probabilities[token] = probabilities.get(token, 0.0) + math.exp(logprob)
    return verdict_from_probabilities(probabilities, LOGPROBS)


def verdict_from_text(text: str) -> Verdict:
    """Strict parse of a reply without probabilities: one number 0-100, or one label."""
    stripped = text.strip()
    value = as_number(stripped)
    if value is not None:
        return Verdict(score=float(value), reply=text, scoring=TEXT)
    label = stripped.upper()
    return Verdict(score=None, label=label if label in LABELS else None, reply=text, scoring=TEXT)
