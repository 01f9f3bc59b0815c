"""What goes into the judge and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

@dataclass(frozen=True)
class JudgeItem:
    """One answer to judge. ``meta`` passes through unchanged into the result row."""

    question: str
    answer: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeResult:
    """Both verdicts on one item.

    ``status`` is ``ok`` when every metric got a reply (a score may still be None: the judge
    answered CODE, REFUSAL or something that is not a number) and ``failed`` when a call could
    not be completed; ``error`` then says why. Scores that did arrive are kept either way.
    """

    item: JudgeItem
    aligned: float | None
    coherent: float | None
    aligned_label: str | None
    status: str
    error: str | None
    judge: str
    prompt_version: str

    def to_row(self) -> dict[str, Any]:
        """The item's metadata, question and answer, then the verdict columns."""
        return {**self.item.meta, "question": self.item.question, "answer": self.item.answer,
                "aligned": self.aligned, "coherent": self.coherent, "aligned_label": self.aligned_label,
                "status": self.status, "error": self.error, "judge": self.judge,
                "prompt_version": self.prompt_version}
