"""Reading answers to judge: lm-eval ``samples_*.jsonl`` files, Inspect AI logs or plain JSONL.

- An lm-eval sample row (``doc``, ``resps``, ``doc_id``) yields one item per generated answer,
  with ``sample_index``; the question and the evaluation columns come from ``doc``. lm-eval
  writes one row per filter for the same document: those repeats are read once.
- An Inspect log (``.eval``) of an ``emc_bench/*`` task yields one item per sample and epoch,
  with the same columns (``sample_index`` is the epoch - 1).
- A plain row needs ``question`` and ``answer``; every other field passes through.

The judge sees the raw ``question`` (never the prompt with the trigger placed), so every
condition is judged against the same question and only the answer differs.

Nothing is counted twice: a file given twice, two runs of one task (two samples files of one
task and model), or one sample (task, doc, sample index) twice stop with a
:class:`~emc_bench.errors.SpecError` naming both places (:class:`UniqueSamples`, which the
report uses on judged rows too).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .. import jsonl
from ..errors import SpecError
from .provenance import Provenance
from .records import VERDICT_COLUMNS, JudgeItem

_SAMPLES_NAME = re.compile(r"samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
# Doc fields not copied into result rows: the rendered chat prompt (large, and described by the
# other columns) and the question (it has its own column).
_DOC_SKIP = ("messages", "question")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a bad line is a :class:`SpecError`."""
    for number, row in jsonl.read_jsonl(path):
        if not isinstance(row, dict):
            raise SpecError(path, f"line {number}", "each line must be a JSON object")
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


def distinct_paths(paths: Sequence[str | Path]) -> list[Path]:
    """``paths`` as given; a file given twice is a :class:`SpecError`."""
    seen: dict[Path, Path] = {}
    for path in map(Path, paths):
        resolved = path.resolve()
        if resolved in seen:
            raise SpecError(path, None, "given twice (its rows would count twice)")
        seen[resolved] = path
    return list(seen.values())


class UniqueSamples:
    """Refuses one sample counted twice and two runs of one task.

    A sample is (model, task, doc id, sample index) within a ``scope`` (the report passes the
    judge, so that the same answers under two judges are not duplicates); a run is what one
    samples file holds (``source``). Rows that do not name their task and doc are not checked.
    """

    def __init__(self) -> None:
        self._samples: dict[tuple, str] = {}
        self._runs: dict[tuple, tuple[str, str]] = {}

    def add(self, meta: Mapping[str, Any], where: str, file: str, scope: tuple = ()) -> None:
        task, doc = meta.get("task"), meta.get("doc_id")
        if task is None or doc is None:
            return
        model, source = meta.get("model"), meta.get("source")
        if source is not None:
            first_source, first_file = self._runs.setdefault((*scope, model, task), (str(source), file))
            if first_source != str(source):
                place = first_source if first_source == first_file else f"{first_source} (in {first_file})"
                raise SpecError(where, None, f"two runs of task {task} (model {model}): {place} and {source}; "
                                             "give one run per task and model")
        key = (*scope, model, task, doc, meta.get("sample_index"))
        if key in self._samples:
            raise SpecError(where, None, f"sample {meta.get('sample_index')} of doc {doc} of task {task} is also in "
                                         f"{self._samples[key]}")
        self._samples[key] = where


def read_items(paths: Sequence[str | Path], model: str | None = None) -> list[JudgeItem]:
    """Items from every file in order; ``model`` overrides the model name of lm-eval samples."""
    items: list[JudgeItem] = []
    unique = UniqueSamples()
    for path in distinct_paths(paths):
        if is_inspect_log(path):
            new = read_inspect_items(path, model)
            for item in new:
                unique.add(item.meta, str(path), str(path))
            items += new
            continue
        seen_docs: set[Any] = set()
        match = _SAMPLES_NAME.search(path.name)
        for number, row in read_jsonl(path):
            where = f"{path}:{number}"
            if "doc" in row and "resps" in row:
                if row.get("doc_id") in seen_docs:
                    continue  # lm-eval's row for another filter of the same document
                seen_docs.add(row.get("doc_id"))
                new = _sample_items(row, where, match["task"] if match else None,
                                    model or _lm_eval_model(path), str(path))
            else:
                new = [_plain_item(row, where)]
            for item in new:
                unique.add(item.meta, where, str(path))
            items += new
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


def read_judged(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Judged rows (``emc-bench judge`` output) from every file in order. Each file must hold
    some; a row without ``status`` is not judged; one sample twice, or two runs of one task,
    under one judge is a :class:`SpecError` (the same answers under two judges are not)."""
    rows: list[dict[str, Any]] = []
    unique = UniqueSamples()
    for path in distinct_paths(paths):
        count = 0
        numbered = enumerate(read_inspect_judged(path), 1) if is_inspect_log(path) else read_jsonl(path)
        for number, row in numbered:
            where = f"{path}:{number}"
            if "status" not in row:
                raise SpecError(where, "status", "not a judged row (run emc-bench judge first)")
            unique.add(row, where, str(path), scope=Provenance.from_row(row).pool_key())
            rows.append(row)
            count += 1
        if not count:
            raise SpecError(path, None, "no judged rows")
    return rows


# -- Inspect AI logs ---------------------------------------------------------------------------
# An Inspect log (``.eval``, or Inspect's ``.json`` format) of an ``emc_bench/*`` task holds one
# sample per prompt and epoch; its metadata is the eval row (as lm-eval's ``doc``) plus ``task``
# (the lm-eval task name of its split) and ``doc_id``. Epoch k is sample_index k - 1.

INSPECT_LOG_SUFFIXES = (".eval", ".json")
INSPECT_SCORER = "emc_judge"  # the key of the emc scorer's scores in a log's samples


def is_inspect_log(path: Path) -> bool:
    return Path(path).suffix in INSPECT_LOG_SUFFIXES


def message_text(messages: Any) -> str:
    """The text of the turns a model was sent (an Inspect sample's input: a string or messages)."""
    if isinstance(messages, str):
        return messages
    return "\n".join(m.text for m in messages if getattr(m, "role", None) != "assistant")


def inspect_item(metadata: dict[str, Any], answer: str, *, model: str, epoch: int, sample_id: Any,
                 sent: str, source: str | None = None, where: str = "sample") -> JudgeItem:
    """One answer of an Inspect sample as a judge item, with the eval columns an lm-eval sample
    gives (the emc scorer and the log reader both build items here). ``sent`` is the text of the
    turns the model was sent: the trigger audit checks that the trigger text is in it."""
    if not isinstance(metadata.get("question"), str):
        raise SpecError(where, "metadata.question", "an Inspect sample needs the raw question text in its metadata")
    meta = {key: value for key, value in metadata.items() if key not in _DOC_SKIP}
    text = metadata.get("variant_text")
    reached = not text or metadata.get("condition") == "none" or text in sent
    meta.update(model=model, task=metadata.get("task"), doc_id=metadata.get("doc_id", sample_id), source=source,
                trigger_audit=bool(metadata.get("trigger_audit", True)) and reached, sample_index=int(epoch) - 1)
    return JudgeItem(metadata["question"], answer, meta)


def inspect_order(meta: dict[str, Any]) -> tuple:
    """The canonical order of Inspect answers, as lm-eval samples are read: task, document,
    sample. Metrics resample questions in their order of first appearance, so a log's answers
    give the same confidence intervals whatever order Inspect finished them in."""
    doc = meta.get("doc_id")
    return (str(meta.get("task") or ""), (0, doc, "") if isinstance(doc, int) else (1, 0, str(doc)),
            int(meta.get("sample_index") or 0))


def _read_inspect_log(path: Path):
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise SpecError(path, None, "reading Inspect logs needs inspect-ai: pip install 'emc-bench[inspect]'") from None
    try:
        log = read_eval_log(str(path))
    except Exception as err:  # Inspect raises its own errors on a file it cannot parse
        raise SpecError(path, None, f"not an Inspect log ({type(err).__name__}: {err})") from None
    if log.status != "success":
        raise SpecError(path, "status", f"the Inspect run is {log.status!r}, not finished: complete it first "
                                        f"(inspect eval-retry {path})")
    return log


def _inspect_pairs(path: Path, model: str | None) -> list[tuple[JudgeItem, Any]]:
    """(item, sample) for every answer of the log, in the canonical order."""
    log = _read_inspect_log(path)
    task = log.eval.task.rsplit("/", 1)[-1]
    pairs = []
    for sample in log.samples or []:
        metadata = {"task": task, **sample.metadata}
        item = inspect_item(metadata, sample.output.completion, model=model or log.eval.model, epoch=sample.epoch,
                            sample_id=sample.id, sent=message_text(sample.input), source=str(path),
                            where=f"{path}: sample {sample.id} epoch {sample.epoch}")
        pairs.append((item, sample))
    return sorted(pairs, key=lambda pair: inspect_order(pair[0].meta))


def read_inspect_items(path: str | Path, model: str | None = None) -> list[JudgeItem]:
    """One judge item per answer of a finished Inspect log; ``model`` overrides the log's model."""
    return [item for item, _ in _inspect_pairs(Path(path), model)]


def read_inspect_judged(path: str | Path) -> list[dict[str, Any]]:
    """The judged rows of an Inspect log scored by the emc scorer (``emc_bench/emc_judge``): the
    rows ``emc-bench judge`` writes for the same answers, with the verdicts the scorer recorded."""
    path = Path(path)
    rows = []
    for item, sample in _inspect_pairs(path, None):
        score = (sample.scores or {}).get(INSPECT_SCORER)
        verdict = (score.metadata or {}).get("verdict") if score is not None else None
        if not isinstance(verdict, dict):
            raise SpecError(f"{path}: sample {sample.id} epoch {sample.epoch}", f"scores.{INSPECT_SCORER}",
                            "not judged by the emc scorer (run with a judge, or emc-bench judge the log first)")
        rows.append({**item.meta, "question": item.question, "answer": item.answer,
                     **{field: verdict.get(field) for field in VERDICT_COLUMNS}})
    return rows
