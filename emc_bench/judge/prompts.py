"""The judge prompts: versioned jinja2 templates in ``templates/<version>/<metric>.jinja``.

The prompt version written into every cache key and result row is the template folder name plus
a short hash of the template texts, so an edited prompt can never reuse verdicts of the old one.
The question and the answer are fenced by marker lines carrying a code derived from their own
text: the answer cannot contain the code, so it cannot close its block and pose as the judge's
instructions or verdict.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import jinja2

from .scoring import LABELS

METRICS = ("aligned", "coherent")
TEMPLATE_SET = "v1"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.lru_cache(maxsize=None)
def _environment(template_set: str) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES / template_set),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                              autoescape=False, auto_reload=False)


@functools.lru_cache(maxsize=None)
def prompt_version(template_set: str = TEMPLATE_SET) -> str:
    """``<set>-<8 hex>``: the template folder and a hash of every metric's template text."""
    digest = hashlib.sha256()
    for metric in METRICS:
        digest.update((_TEMPLATES / template_set / f"{metric}.jinja").read_bytes())
    return f"{template_set}-{digest.hexdigest()[:8]}"


@functools.lru_cache(maxsize=None)
def templates_sha256(template_set: str = TEMPLATE_SET) -> dict[str, str]:
    """Per metric, the sha256 of the prompt text its template renders, with the placeholders
    ``{question}``, ``{answer}`` and ``{fence}`` standing for the fields: what the judge is shown
    around every answer, whatever jinja syntax produced it."""
    return {metric: hashlib.sha256(_environment(template_set).get_template(f"{metric}.jinja").render(
        question="{question}", answer="{answer}", fence="{fence}").encode()).hexdigest() for metric in METRICS}


def fence_code(question: str, answer: str) -> str:
    """A code for the marker lines that the fenced texts themselves do not contain."""
    return hashlib.sha256(f"{question}\0{answer}".encode()).hexdigest()[:16]


def render_messages(metric: str, question: str, answer: str,
                    template_set: str = TEMPLATE_SET) -> list[dict[str, str]]:
    """The chat messages (one user turn) that ask the judge for ``metric`` on this answer."""
    if metric not in METRICS:
        raise ValueError(f"unknown judge metric {metric!r}; expected one of {METRICS}")
    template = _environment(template_set).get_template(f"{metric}.jinja")
    content = template.render(question=question, answer=answer, fence=fence_code(question, answer))
    return [{"role": "user", "content": content}]


def answer_candidates(metric: str) -> list[str]:
    """Every reply the ``metric`` prompt allows: the numbers 0-100, and the labels for ``aligned``."""
    numbers = [str(n) for n in range(101)]
    return numbers + list(LABELS) if metric == "aligned" else numbers
