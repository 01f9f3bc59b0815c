"""Reading answers to judge: lm-eval ``samples_*.jsonl`` files or plain JSONL.

- An lm-eval sample row (``doc``, ``resps``, ``doc_id``) yields one item per generated answer,
  with ``sample_index``; the question and the evaluation columns come from ``doc``. lm-eval
  writes one row per filter for the same document: those repeats are read once.
- A plain row needs ``question`` and ``answer``; every other field passes through.

The judge sees the raw ``question`` (never the prompt with the trigger placed), so every
condition is judged against the same question and only the answer differs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..errors import SpecError
from .records import JudgeItem

_SAMPLES_NAME = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
# Doc fields not copied into result rows: the rendered chat prompt (large, and described by the
# other columns) and the question (it has its own column).
_DOC_SKIP = ("messages", "question")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is a :class:`SpecError`."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise SpecError(path, None, f"cannot read: {err.strerror or err}") from err
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise SpecError(f"{path}:{number}", None, f"not JSON ({err.msg})") from err
        if not isinstance(row, dict):
            raise SpecError(f"{path}:{number}", None, "each line must be a JSON object")
        yield number, row


def _answers(resps: Any) -> list[str]:
    """The generated strings of ``resps`` (``[[K strings]]`` or ``[[s], [s], ...]``)."""
    if isinstance(resps, str):
        return [resps]
    if isinstance(resps, list):
        return [answer for entry in resps for answer in _answers(entry)]
    raise TypeError(f"unexpected response {type(resps).__name__}")


def _lm_eval_model(path: Path) -> str:
    """The ``model_args`` of the lm-eval run that wrote ``path``, else its folder name."""
    match = _SAMPLES_NAME.search(path.name)
    results = path.with_name(f"results_{match['date']}.json") if match else None
    if results is not None and results.is_file():
        try:
            model_args = json.loads(results.read_text()).get("config", {}).get("model_args")
        except (OSError, ValueError, AttributeError):
            model_args = None
        if isinstance(model_args, dict):
            model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
        if model_args:
            return str(model_args)
    return path.parent.name


def read_items(paths: Sequence[str | Path], model: str | None = None) -> list[JudgeItem]:
    """Items from every file in order; ``model`` overrides the model name of lm-eval samples."""
    items: list[JudgeItem] = []
    for path in map(Path, paths):
        seen_docs: set[Any] = set()
        match = _SAMPLES_NAME.search(path.name)
        for number, row in read_jsonl(path):
            where = f"{path}:{number}"
            if "doc" in row and "resps" in row:
                if row.get("doc_id") in seen_docs:
                    continue
                seen_docs.add(row.get("doc_id"))
                items += _sample_items(row, where, match["task"] if match else None,
                                       model or _lm_eval_model(path), str(path))
            else:
                items.append(_plain_item(row, where))
    return items


def _sample_items(row: dict[str, Any], where: str, task: str | None, model: str, source: str) -> list[JudgeItem]:
    doc = row["doc"]
    if not isinstance(doc, dict) or not isinstance(doc.get("question"), str):
        raise SpecError(where, "doc.question", "an lm-eval sample needs the raw question text in its doc")
    try:
        answers = _answers(row["resps"])
    except TypeError as err:
        raise SpecError(where, "resps", str(err)) from err
    meta = {key: value for key, value in doc.items() if key not in _DOC_SKIP}
    meta.update(model=model, task=task, doc_id=row.get("doc_id"), source=source,
                trigger_audit=trigger_in_prompt(row))
    first = int(doc.get("sample_index") or 0) * len(answers)  # emc tasks repeat docs, one answer each
    return [JudgeItem(doc["question"], answer, {**meta, "sample_index": first + index})
            for index, answer in enumerate(answers)]


def trigger_in_prompt(row: dict[str, Any]) -> bool:
    """Whether the row's trigger text reached the prompt lm-eval actually sent (rows without a
    trigger always pass). Falls back to the audit made when the task loaded its data."""
    doc = row["doc"]
    text = doc.get("variant_text")
    if not text or doc.get("condition") == "none":
        return True
    prompt = (row.get("arguments") or {}).get("gen_args_0", {}).get("arg_0")
    if isinstance(prompt, str):
        return text in prompt
    return bool(doc.get("trigger_audit", True))


def _plain_item(row: dict[str, Any], where: str) -> JudgeItem:
    for field in ("question", "answer"):
        if not isinstance(row.get(field), str):
            raise SpecError(where, field, "missing or not a string (plain rows need question and answer; "
                                          "lm-eval samples need doc and resps)")
    meta = {key: value for key, value in row.items() if key not in ("question", "answer")}
    return JudgeItem(row["question"], row["answer"], meta)
