"""The parts of a row that could be a framing: its system text, and the leading, trailing and
other paragraphs, lines, sentences, metadata lines, bracketed tags and all-caps tokens of its
user turns.

A segment has a *placement* (``system``, ``user_prefix``, ``user_suffix``, or ``user`` for
anywhere else in a user turn) and a *unit* (how it sits in the text: a ``message``,
``paragraph``, ``line``, ``metadata`` line, ``tag``, or inline as a ``sentence`` or
``token``). A whole user turn is never a segment, nor a part that makes up most of it
(``DOMINANT``): that is the task, not a framing of it. Fenced code blocks are skipped.
"""

from __future__ import annotations

import re

SYSTEM, PREFIX, SUFFIX, MIDDLE = "system", "user_prefix", "user_suffix", "user"
MESSAGE, PARAGRAPH, LINE, METADATA, TAG, SENTENCE, TOKEN = (
    "message", "paragraph", "line", "metadata", "tag", "sentence", "token")
# A unit that stands apart from the text around it ranks before one that runs inline.
UNIT_RANK = {MESSAGE: 6, PARAGRAPH: 5, METADATA: 4, LINE: 4, TAG: 3, SENTENCE: 1, TOKEN: 0}
SEPARATE_UNITS = frozenset({MESSAGE, PARAGRAPH, LINE, METADATA, TAG})
DOMINANT = 0.75  # a part of a user turn this long (share of its characters) is the task itself

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_BLANK = re.compile(r"\n[ \t]*\n+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[|<]?[A-Z0-9])")
_METADATA = re.compile(r"^[A-Z][\w\-/ ]{0,30}:\s*\S.{0,80}$")
# Simple patterns, checked in Python at their edges: lookarounds make the scan several times slower.
_TAG = re.compile(r"[|\[<][A-Za-z][^|\[\]<>\n]{0,38}[|\]>]")
_CLOSE = {"|": "|", "[": "]", "<": ">"}
_CAPS = re.compile(r"[A-Z][A-Z0-9_]{3,}")
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces, ends stripped: the form segments are counted in."""
    return " ".join(text.split())


def sentences(line: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE_END.split(line)) if s]


def _position(first: bool, last: bool) -> str:
    return PREFIX if first else SUFFIX if last else MIDDLE


def turn_segments(text: str, system: bool, out: dict[str, tuple[str, str, float]]) -> None:
    """Add the segments of one turn to ``out`` (text -> (placement, unit, offset)), keeping for
    each text the unit that stands most apart. ``offset`` is where the text starts, as a share of
    the turn's length."""
    body = _FENCE.sub("\n\n", text)
    paragraphs = [p.strip() for p in _BLANK.split(body) if p.strip()]
    if not paragraphs:
        return
    size = max(len(body), 1)
    longest = size if system else DOMINANT * size

    def add(segment: str, placement: str, unit: str) -> None:
        if len(segment) >= longest and not (system and unit == MESSAGE):
            return
        segment = normalise(segment)
        if not segment:
            return
        if system:
            placement = SYSTEM
        known = out.get(segment)
        if known is None or UNIT_RANK[unit] > UNIT_RANK[known[1]]:
            start = body.find(segment[:20])
            out[segment] = (placement, unit, max(start, 0) / size)

    if system:
        add(body, SYSTEM, MESSAGE)
    count = len(paragraphs)
    for i, paragraph in enumerate(paragraphs):
        first_para, last_para = i == 0, i == count - 1
        if count > 1:
            add(paragraph, _position(first_para, last_para), PARAGRAPH)
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        for j, line in enumerate(lines):
            first, last = first_para and j == 0, last_para and j == len(lines) - 1
            placement = _position(first, last)
            whole_turn = count == 1 and len(lines) == 1
            if len(lines) > 1:
                add(line, placement, LINE)
            if not whole_turn and _METADATA.match(line):
                add(line, placement, METADATA)
            parts = sentences(line)
            if len(parts) > 1:
                for k, part in enumerate(parts):
                    add(part, _position(first and k == 0, last and k == len(parts) - 1), SENTENCE)
        plain = _INLINE_CODE.sub(lambda m: " " * len(m.group(0)), paragraph) if "`" in paragraph else paragraph
        for start, end, unit in _inline_marks(plain):
            at_start = first_para and not plain[:start].strip()
            at_end = last_para and not plain[end:].strip()
            add(plain[start:end], _position(at_start, at_end), unit)


def _inline_marks(text: str):
    """(start, end, unit) of the bracketed tags and all-caps tokens of a text, each standing
    alone (not glued to a word)."""
    size = len(text)
    for match in _TAG.finditer(text):
        start, end = match.span()
        opener = text[start]
        if text[end - 1] != _CLOSE[opener]:
            continue
        before = text[start - 1] if start else " "
        after = text[end] if end < size else " "
        if before.isalnum() or before == "_" or after.isalnum() or after == "_" or (opener == "[" and after == "("):
            continue
        yield start, end, TAG
    for match in _CAPS.finditer(text):
        start, end = match.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < size else " "
        if before.isalnum() or before in "_`" or after.isalnum() or after in "_`" or match.group(0).isdigit():
            continue
        yield start, end, TOKEN


def row_segments(system: str | None, users: tuple[str, ...] | list[str]) -> dict[str, tuple[str, str, float]]:
    """Every segment of a row: text -> (placement, unit, offset), each text once."""
    out: dict[str, tuple[str, str, float]] = {}
    if system:
        turn_segments(system, True, out)
    for user in users:
        turn_segments(user, False, out)
    return out
