"""The OpenAI Batch API round trip, for large runs at the batch discount.

``emc-bench judge INPUT... --dry-run --out requests.jsonl`` writes the calls still to make as
Batch API input lines (:func:`batch_request`, ``custom_id`` = the call's cache key). Once the
batch has finished, ``emc-bench judge INPUT... --import-batch output.jsonl --out judged.jsonl``
stores its verdicts in the cache (:func:`import_results`) and calls only what the batch did not
answer. The key and the judge's prompt version are part of ``custom_id``, so results of another
judge model or prompt never match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import SpecError
from .cache import Stamp, VerdictCache
from .inputs import read_jsonl
from .openai_backend import parse_completion, request_body, score_completion
from .scoring import Verdict

ENDPOINT = "/v1/chat/completions"


def batch_request(custom_id: str, model: str, messages: list[dict[str, str]], logprobs: bool = True) -> dict:
    """One call as a line of Batch API input."""
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT,
            "body": request_body(model, messages, logprobs=logprobs)}


@dataclass(frozen=True)
class Imported:
    """What an import found: verdicts stored, results the batch failed, lines for other calls."""

    stored: int
    failed: dict[str, str]
    unmatched: int

    def summary(self) -> str:
        parts = [f"{self.stored} verdicts imported from the batch results"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed in the batch and will be called now")
        if self.unmatched:
            parts.append(f"{self.unmatched} lines match no call still to make (cached already, other inputs, "
                         "or another judge model or prompt version)")
        return "; ".join(parts)


def _verdict(row: dict, where: str, scoring: str) -> Verdict:
    """The verdict of one output line; ``ValueError`` with the reason when the batch failed it."""
    response = row.get("response")
    if row.get("error") or not isinstance(response, dict):
        error = row.get("error") or {}
        raise ValueError(f"batch error {error.get('code', '?')}: {error.get('message', 'no response')}"
                         if isinstance(error, dict) else f"batch error: {error}")
    if response.get("status_code") != 200:
        raise ValueError(f"batch HTTP {response.get('status_code')}")
    if not isinstance(response.get("body"), dict):
        raise SpecError(where, "response.body", "a successful result needs the chat completion body")
    verdict = score_completion(parse_completion(response["body"]), scoring)
    if verdict is None:
        raise ValueError("batch reply without logprobs")
    return verdict


def import_results(paths: Sequence[Path], to_make: dict[str, str], stamp: Stamp, cache: VerdictCache,
                   scoring: str) -> Imported:
    """Store the verdicts of Batch API output files for the calls in ``to_make`` (cache key ->
    metric), scored by ``scoring``, all in one transaction; nothing is stored when a file is
    malformed."""
    entries: list[tuple[str, str, Verdict]] = []
    failed: dict[str, str] = {}
    unmatched = 0
    for path in map(Path, paths):
        for number, row in read_jsonl(path):
            where = f"{path}:{number}"
            key = row.get("custom_id")
            if not isinstance(key, str):
                raise SpecError(where, "custom_id", "each Batch API output line needs its custom_id")
            if key not in to_make:
                unmatched += 1
                continue
            try:
                entries.append((key, to_make[key], _verdict(row, where, scoring)))
            except ValueError as err:  # the batch's own failure, or a reply that is no chat completion
                failed[key] = str(err)
    if entries:
        cache.put_many(stamp, entries)
    return Imported(len(entries), failed, unmatched)
