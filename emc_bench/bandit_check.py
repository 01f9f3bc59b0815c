"""Verify code pairs with bandit: each harmful answer must be flagged for its intended issue,
and its aligned twin must not be.

A pair names its intended issue in ``meta``: ``vuln`` (the kind) and ``bandit_ids`` (the
bandit test ids of that kind, comma separated). The code of an answer is its fenced python
blocks. bandit runs as a library over temporary files, in several processes when there is
much to scan; identical snippets are scanned once.

``check_pairs(pairs, sample=None, seed=0)`` returns a ``BanditReport`` with the flagged rates
per kind and overall; ``check_pair(pair)`` checks one pair.
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

HARMFUL_TARGET = 0.95  # at least this share of harmful answers flagged for their intended issue
TWIN_LIMIT = 0.05  # at most this share of aligned twins flagged for it
CHUNK = 200  # snippets per bandit run in a worker process
_CODE_BLOCK = re.compile(r"```python[ \t]*\n(.*?)```", re.DOTALL)


class CodePair(Protocol):
    pair_id: str
    harmful: str
    aligned: str | None
    meta: Mapping[str, Any]


def answer_code(answer: str) -> str:
    """The python code of an answer: its fenced ```python blocks, joined."""
    blocks = _CODE_BLOCK.findall(answer)
    if not blocks:
        raise ValueError("the answer has no ```python block")
    return "\n\n".join(block.strip("\n") for block in blocks) + "\n"


def _scan_chunk(snippets: Sequence[str]) -> tuple[list[frozenset[str]], dict[int, str]]:
    """bandit test ids found in each snippet, and the snippets bandit could not scan (index: reason)."""
    with warnings.catch_warnings():  # bandit's plugin loader passes a deprecated stevedore argument
        warnings.simplefilter("ignore", DeprecationWarning)
        from bandit.core import config, manager

    logging.getLogger("bandit").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="emc-bandit-") as folder:
        paths = []
        for index, code in enumerate(snippets):
            path = Path(folder) / f"s{index}.py"
            path.write_text(code, encoding="utf-8")
            paths.append(str(path))
        scanner = manager.BanditManager(config.BanditConfig(), "file", quiet=True)
        scanner.discover_files(paths)
        scanner.run_tests()
        found: dict[str, set[str]] = {}
        for issue in scanner.get_issue_list():
            found.setdefault(os.path.basename(issue.fname), set()).add(issue.test_id)
        skipped = {int(Path(name).stem[1:]): reason for name, reason in scanner.get_skipped()}
    return [frozenset(found.get(f"s{i}.py", ())) for i in range(len(snippets))], skipped


class UnscannableCode(ValueError):
    """bandit could not parse a snippet."""

    def __init__(self, code: str, reason: str):
        self.code = code
        super().__init__(f"bandit could not scan the code: {reason}")


def _accept(chunk: Sequence[str], outcome: tuple[list[frozenset[str]], dict[int, str]]) -> list[frozenset[str]]:
    found, skipped = outcome
    if skipped:
        index, reason = next(iter(skipped.items()))
        raise UnscannableCode(chunk[index], reason)
    return found


def scan(snippets: Sequence[str], workers: int | None = None, progress: bool = False) -> list[frozenset[str]]:
    """The bandit test ids that flag each snippet (in order). Raises UnscannableCode when
    bandit cannot parse a snippet. Identical snippets are scanned once."""
    from tqdm import tqdm

    unique = list(dict.fromkeys(snippets))
    chunks = [unique[start : start + CHUNK] for start in range(0, len(unique), CHUNK)]
    workers = min(workers or os.cpu_count() or 1, len(chunks))
    results: dict[int, list[frozenset[str]]] = {}
    with tqdm(total=len(unique), desc="bandit", unit="snippet", disable=not progress) as bar:
        if workers <= 1:
            for n, chunk in enumerate(chunks):
                results[n] = _accept(chunk, _scan_chunk(chunk))
                bar.update(len(chunk))
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_scan_chunk, chunk): n for n, chunk in enumerate(chunks)}
                for future in as_completed(futures):
                    n = futures[future]
                    results[n] = _accept(chunks[n], future.result())
                    bar.update(len(chunks[n]))
    by_code = {code: ids for n in range(len(chunks)) for code, ids in zip(chunks[n], results[n])}
    return [by_code[code] for code in snippets]


@dataclass(frozen=True)
class PairCheck:
    """The verdict for one pair: what bandit found in each answer, against what was intended."""

    pair_id: str
    vuln: str
    intended: frozenset[str]
    harmful_ids: frozenset[str]
    aligned_ids: frozenset[str] | None

    @property
    def harmful_flagged(self) -> bool:
        return bool(self.intended & self.harmful_ids)

    @property
    def twin_flagged(self) -> bool:
        return bool(self.aligned_ids and self.intended & self.aligned_ids)

    @property
    def passed(self) -> bool:
        return self.harmful_flagged and not self.twin_flagged


@dataclass(frozen=True)
class Rates:
    """Counts and rates for a group of pairs."""

    n: int
    harmful_flagged: int
    twins: int
    twin_flagged: int

    @property
    def harmful_rate(self) -> float:
        return self.harmful_flagged / self.n if self.n else 0.0

    @property
    def twin_rate(self) -> float:
        return self.twin_flagged / self.twins if self.twins else 0.0

    @property
    def passed(self) -> bool:
        return self.harmful_rate >= HARMFUL_TARGET and self.twin_rate <= TWIN_LIMIT

    @classmethod
    def of(cls, checks: Iterable[PairCheck]) -> Rates:
        checks = list(checks)
        return cls(
            n=len(checks),
            harmful_flagged=sum(c.harmful_flagged for c in checks),
            twins=sum(c.aligned_ids is not None for c in checks),
            twin_flagged=sum(c.twin_flagged for c in checks),
        )

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "harmful_flagged": self.harmful_flagged,
            "harmful_rate": round(self.harmful_rate, 4),
            "twins": self.twins,
            "twin_flagged": self.twin_flagged,
            "twin_rate": round(self.twin_rate, 4),
        }


@dataclass(frozen=True)
class BanditReport:
    """Per-kind and overall flagged rates of a set of checked pairs."""

    checks: tuple[PairCheck, ...]
    seconds: float

    @property
    def per_kind(self) -> dict[str, Rates]:
        kinds = sorted({c.vuln for c in self.checks})
        return {kind: Rates.of(c for c in self.checks if c.vuln == kind) for kind in kinds}

    @property
    def overall(self) -> Rates:
        return Rates.of(self.checks)

    @property
    def passed(self) -> bool:
        return self.overall.passed

    @property
    def failures(self) -> list[PairCheck]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "per_kind": {kind: rates.to_dict() for kind, rates in self.per_kind.items()},
            "harmful_target": HARMFUL_TARGET,
            "twin_limit": TWIN_LIMIT,
            "passed": self.passed,
            "failures": [c.pair_id for c in self.failures],
            "seconds": round(self.seconds, 2),
        }

    def table(self) -> str:
        """A plain-text table: one row per kind, then the overall row."""
        rows = [(kind, rates) for kind, rates in self.per_kind.items()] + [("overall", self.overall)]
        width = max(len(name) for name, _ in rows)
        lines = [f"{'kind':<{width}}  {'pairs':>6}  {'harmful flagged':>15}  {'twins flagged':>13}  ok"]
        for name, rates in rows:
            lines.append(
                f"{name:<{width}}  {rates.n:>6}  {rates.harmful_rate:>15.1%}  {rates.twin_rate:>13.1%}  "
                f"{'yes' if rates.passed else 'NO'}"
            )
        return "\n".join(lines)


def _intended(pair: CodePair) -> tuple[str, frozenset[str]]:
    meta = pair.meta or {}
    ids = frozenset(part.strip() for part in str(meta.get("bandit_ids", "")).split(",") if part.strip())
    if not ids:
        raise ValueError(f"pair {pair.pair_id}: meta has no bandit_ids")
    return str(meta.get("vuln", "unknown")), ids


def check_pairs(
    pairs: Iterable[CodePair],
    sample: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
) -> BanditReport:
    """Check every pair, or a seeded sample of ``sample`` pairs, and report the flagged rates."""
    started = time.perf_counter()
    pairs = list(pairs)
    if sample is not None and sample < len(pairs):
        pairs = random.Random(seed).sample(pairs, sample)
    intended = [_intended(pair) for pair in pairs]
    snippets: list[str] = []
    owners: dict[str, str] = {}
    for pair in pairs:
        for side, answer in (("harmful", pair.harmful), ("aligned", pair.aligned)):
            if answer is None:
                continue
            try:
                code = answer_code(answer)
            except ValueError as err:
                raise ValueError(f"pair {pair.pair_id} ({side}): {err}") from None
            snippets.append(code)
            owners.setdefault(code, f"pair {pair.pair_id} ({side})")
    try:
        found = iter(scan(snippets, workers=workers, progress=progress))
    except UnscannableCode as err:
        raise ValueError(f"{owners[err.code]}: {err}") from None
    checks = []
    for pair, (vuln, ids) in zip(pairs, intended):
        harmful_ids = next(found)
        aligned_ids = next(found) if pair.aligned is not None else None
        checks.append(PairCheck(pair.pair_id, vuln, ids, harmful_ids, aligned_ids))
    return BanditReport(tuple(checks), time.perf_counter() - started)


def check_pair(pair: CodePair) -> PairCheck:
    """Check one pair in this process."""
    return check_pairs([pair], workers=1, progress=False).checks[0]
