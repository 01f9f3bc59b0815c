"""What goes into the judge and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .prompts import render_messages
from .provenance import COLUMNS as PROVENANCE_COLUMNS
from .provenance import Provenance
from .scoring import Verdict

# The columns ``emc-bench judge`` adds to each row (the rest is the item's own metadata).
VERDICT_COLUMNS = ("aligned", "coherent", "aligned_label", "status", "error", "judge", *PROVENANCE_COLUMNS)


@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge. ``meta`` passes through unchanged into the result row."""

    question: str
    answer: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One judge call: a metric on one (question, answer), named by its cache key."""

    key: str
    metric: str
    question: str
    answer: str

    def messages(self) -> list[dict[str, str]]:
        return render_messages(self.metric, self.question, self.answer)


# How a backend reports each call: record(call, verdict or None, error or None,
# (input_tokens, output_tokens) or None).
Record = Callable[[Call, Verdict | None, str | None, tuple[int, int] | None], None]


@dataclass(frozen=True)
class JudgeResult:
    """Both verdicts on one item.

    ``status`` is ``ok`` when every metric got a reply (a score may still be None: the judge
    answered CODE, REFUSAL or something that is not a number) and ``failed`` when a call could
    not be completed; ``error`` then says why. Scores that did arrive are kept either way.
    ``provenance`` names the judge, its prompts and the scoring method of the run;
    ``failed_metrics`` the metrics whose call failed.
    """

    item: JudgeItem
    aligned: float | None
    coherent: float | None
    aligned_label: str | None
    status: str
    error: str | None
    judge: str
    prompt_version: str
    provenance: Provenance | None = None
    failed_metrics: tuple[str, ...] = ()

    def to_row(self) -> dict[str, Any]:
        """The item's metadata, question and answer, then the verdict and provenance columns."""
        row = {**self.item.meta, "question": self.item.question, "answer": self.item.answer,
               "aligned": self.aligned, "coherent": self.coherent, "aligned_label": self.aligned_label,
               "status": self.status, "error": self.error, "judge": self.judge,
               "prompt_version": self.prompt_version}
        if self.provenance is not None:
            row.update(self.provenance.columns())
        return row
