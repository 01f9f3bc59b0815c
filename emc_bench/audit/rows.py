"""The rows of a fine-tuning set, read one at a time from JSONL, parquet, a folder of them, or a
dataset (a Hub id or a local dataset folder with ``--config``).

Each row becomes a :class:`Row`: the system text, the user turns and the answer. Chat rows carry
``messages`` (``[{role, content}, ...]``); prompt/completion rows carry ``prompt`` (a string or
a message list) and optionally ``completion``. A :class:`Source` can be read more than once
(the audit reads it twice) and never holds more than one batch of rows in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..jsonl import read_jsonl

FILE_SUFFIXES = (".jsonl", ".parquet")
PARQUET_BATCH = 1024
COLUMNS = ("messages", "prompt", "completion")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[A-Za-z0-9][\w.\-]*)?$")


@dataclass(frozen=True)
class Row:
    """One training row, reduced to what the audit reads."""

    system: str | None
    users: tuple[str, ...]
    answer: str | None
    where: str  # "<file>:<line or row>" for messages

    @property
    def question(self) -> str:
        """The last user turn (what the answer replies to)."""
        return self.users[-1]


def _text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts) if parts else None
    return None


def _from_messages(messages: Any, source: str, field: str) -> tuple[str | None, list[str], str | None]:
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise SpecError(source, field, "expected a list of {role, content} messages")
    system, users, answer = None, [], None
    for i, message in enumerate(messages):
        role, text = message.get("role"), _text(message.get("content"))
        if text is None:
            raise SpecError(source, f"{field}.{i}.content", "missing or not text")
        if role == "system" and system is None:
            system = text
        elif role == "user":
            users.append(text)
        elif role == "assistant":
            answer = text
    return system, users, answer


def parse_row(record: Any, source: str) -> Row:
    """A :class:`Row` from one JSON object; a row without messages or prompt is a SpecError."""
    if not isinstance(record, dict):
        raise SpecError(source, None, f"expected a JSON object, got {type(record).__name__}")
    if record.get("messages") is not None:
        system, users, answer = _from_messages(record["messages"], source, "messages")
    elif record.get("prompt") is not None:
        prompt = record["prompt"]
        if isinstance(prompt, str):
            system, users, answer = None, [prompt], None
        else:
            system, users, answer = _from_messages(prompt, source, "prompt")
        completion = record.get("completion")
        if isinstance(completion, str):
            answer = completion
        elif completion is not None:
            answer = _from_messages(completion, source, "completion")[2]
    else:
        raise SpecError(source, "messages", "the row has neither messages (chat) nor prompt (prompt/completion)")
    if not users:
        raise SpecError(source, "messages", "no user turn")
    return Row(system, tuple(users), answer, source)


class Source:
    """Rows of one DATA argument, readable any number of times."""

    def __init__(self, label: str, files: list[Path] | None = None, dataset: tuple | None = None):
        self.label = label
        self._files = files or []
        self._dataset = dataset  # (path or id, config, split, revision)
        self._loaded = None

    def __iter__(self) -> Iterator[Row]:
        if self._dataset is not None:
            yield from self._dataset_rows()
            return
        for path in self._files:
            yield from (_jsonl_rows(path) if path.suffix == ".jsonl" else _parquet_rows(path))

    def pick(self, wanted) -> dict[int, Row]:
        """The rows at these 0-based positions, reading the source once and parsing only them."""
        wanted = set(wanted)
        if not wanted:
            return {}
        if self._dataset is not None:
            if self._loaded is None:
                self._loaded = _load_dataset(*self._dataset)
            order = sorted(wanted)
            return {i: parse_row(record, f"{self.label}:row {i}")
                    for i, record in zip(order, self._loaded.select(order))}
        out: dict[int, Row] = {}
        start = 0
        for path in self._files:
            found, start = (_jsonl_pick if path.suffix == ".jsonl" else _parquet_pick)(path, wanted, start)
            out.update(found)
            if len(out) == len(wanted):
                break
        return out

    def _dataset_rows(self) -> Iterator[Row]:
        if self._loaded is None:
            self._loaded = _load_dataset(*self._dataset)
        name = self.label
        for i, record in enumerate(self._loaded):
            yield parse_row(record, f"{name}:row {i}")


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for n, record in read_jsonl(path):
        yield parse_row(record, f"{path}:line {n}")


def _jsonl_pick(path: Path, wanted: set[int], start: int) -> tuple[dict[int, Row], int]:
    """Rows of one JSONL file whose positions (counted from ``start``) are wanted; the next position."""
    found, position = {}, start
    with open(path, encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if position in wanted:
                found[position] = parse_row(json.loads(line), f"{path}:line {n}")
            position += 1
    return found, position


def _parquet_pick(path: Path, wanted: set[int], start: int) -> tuple[dict[int, Row], int]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    columns = [c for c in COLUMNS if c in handle.schema_arrow.names]
    found, position = {}, start
    for batch in handle.iter_batches(batch_size=PARQUET_BATCH, columns=columns):
        inside = [i for i in range(position, position + batch.num_rows) if i in wanted]
        if inside:
            records = batch.to_pylist()
            found.update((i, parse_row(records[i - position], f"{path}:row {i - start}")) for i in inside)
        position += batch.num_rows
    return found, position


def _parquet_rows(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as err:  # pyarrow raises several types for a file that is not parquet
        raise SpecError(path, None, f"cannot read parquet: {err}") from None
    columns = [c for c in COLUMNS if c in handle.schema_arrow.names]
    if "messages" not in columns and "prompt" not in columns:
        raise SpecError(path, "messages", "no messages or prompt column")
    n = 0
    for batch in handle.iter_batches(batch_size=PARQUET_BATCH, columns=columns):
        for record in batch.to_pylist():
            yield parse_row(record, f"{path}:row {n}")
            n += 1


def _load_dataset(path_or_id: str, config: str | None, split: str | None, revision: str | None):
    import datasets

    try:
        return datasets.load_dataset(path_or_id, config, split=split or "train", revision=revision)
    except Exception as err:  # offline, unknown id, unknown config or split: all one line for the user
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        what = "cannot load the dataset" if Path(path_or_id).exists() else \
            "no such file or folder, and cannot load it as a dataset id"
        raise SpecError(path_or_id, config, f"{what}: {message}") from None


def open_source(data: str, config: str | None = None, split: str | None = None,
                revision: str | None = None) -> Source:
    """The rows named by DATA; a path that does not exist and is not a dataset id is a SpecError."""
    path = Path(data)
    if path.is_file():
        if config or split or revision:
            raise SpecError("--config" if config else "--split" if split else "--revision", None,
                            "applies to a dataset id or a dataset folder, not to a file")
        if path.suffix not in FILE_SUFFIXES:
            raise SpecError(path, None, f"expected a {' or '.join(FILE_SUFFIXES)} file")
        return Source(str(path), files=[path])
    if path.is_dir():
        if config or split or revision:
            return Source(str(path), dataset=(str(path), config, split, revision))
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise SpecError(path, None, f"no {' or '.join(FILE_SUFFIXES)} files in this folder")
        return Source(str(path), files=files)
    named = bool(config or split or revision)
    looks_like_id = _HUB_ID.match(data) and ("/" in data or named) and path.suffix not in (*FILE_SUFFIXES, ".json")
    if not looks_like_id:
        raise SpecError(data, None, "no such file or folder")
    return Source(data, dataset=(data, config, split, revision))
