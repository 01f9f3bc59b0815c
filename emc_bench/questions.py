"""Questions rendered in their formats (free, json, template)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .specs import FormatSpec, Question


@dataclass(frozen=True)
class RenderedQuestion:
    system: str | None
    user: str


@lru_cache(maxsize=8)
def _template(source: str):
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(source)


def render_question(question: Question, fmt: FormatSpec) -> RenderedQuestion:
    user = _template(fmt.user).render(question=question.text, question_id=question.id).strip()
    return RenderedQuestion(system=fmt.system.strip() if fmt.system else None, user=user)
