"""The verdict cache: SQLite on disk, one row per judged (judge, prompt version, metric,
question, answer).

Verdicts are committed as soon as they arrive (WAL journal; a :class:`CacheWriter` thread
commits whatever has arrived since its last commit in one transaction), so a run killed at any
moment keeps all finished calls, and several processes can share one cache file. Failed calls
are never cached: a later run tries them again.

Every entry carries its provenance (:class:`Stamp`: judge, endpoint host, prompt version,
template hashes, emc-bench version) and its scoring method. A second table records what each
judge endpoint was found to return (logprobs or text only), so later runs against it use the
same estimator without finding out again. Cache files written before these columns existed are
upgraded in place; the scoring of their entries follows from what they hold.
"""

from __future__ import annotations

import hashlib
import json
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from .scoring import EXACT, LOGPROBS, TEXT, Verdict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    metric TEXT NOT NULL,
    score REAL,
    label TEXT,
    numeric_mass REAL,
    reply TEXT,
    created REAL NOT NULL,
    scoring TEXT,
    endpoint_host TEXT,
    templates_sha256 TEXT,
    emc_bench_version TEXT
)
"""
_ENDPOINTS = """
CREATE TABLE IF NOT EXISTS endpoints (
    judge TEXT NOT NULL,
    endpoint_host TEXT NOT NULL,
    scoring TEXT NOT NULL,
    detected REAL NOT NULL,
    PRIMARY KEY (judge, endpoint_host)
)
"""
_ADDED_COLUMNS = ("scoring", "endpoint_host", "templates_sha256", "emc_bench_version")
# Entries of caches written before the scoring column: hf judges scored exactly, an API reply
# with a numeric mass came from logprobs, one without from its text.
_INFER_SCORING = (f"UPDATE verdicts SET scoring = CASE WHEN judge LIKE 'hf:%' THEN '{EXACT}' "
                  f"WHEN numeric_mass IS NOT NULL THEN '{LOGPROBS}' ELSE '{TEXT}' END WHERE scoring IS NULL")
_LOOKUP_CHUNK = 500
BUSY_TIMEOUT_S = 60.0


def cache_key(judge: str, prompt_version: str, metric: str, question: str, answer: str) -> str:
    """The cache key of one call: a hash of everything that determines its verdict."""
    payload = json.dumps([judge, prompt_version, metric, question, answer], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Stamp:
    """The provenance written with every verdict of a run (the scoring comes with each verdict)."""

    judge: str
    prompt_version: str
    endpoint_host: str | None
    templates_sha256: Mapping[str, str]
    emc_bench_version: str


class VerdictCache:
    """Verdicts by :func:`cache_key`, in a SQLite file shared safely between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("BEGIN IMMEDIATE")  # one process at a time creates or upgrades the tables
        try:
            self._db.execute(_SCHEMA)
            self._db.execute(_ENDPOINTS)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(verdicts)")}
            missing = [column for column in _ADDED_COLUMNS if column not in present]
            for column in missing:
                self._db.execute(f"ALTER TABLE verdicts ADD COLUMN {column} TEXT")
            if missing:
                self._db.execute(_INFER_SCORING)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get_many(self, keys: Iterable[str]) -> dict[str, Verdict]:
        """The cached verdicts among ``keys``."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Verdict] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            rows = self._db.execute(
                "SELECT key, score, label, numeric_mass, reply, scoring FROM verdicts "
                f"WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            for key, score, label, mass, reply, scoring in rows:
                found[key] = Verdict(score=score, label=label, numeric_mass=mass, reply=reply, scoring=scoring)
        return found

    def put_many(self, stamp: Stamp, entries: Iterable[tuple[str, str, Verdict]]) -> None:
        """Store (key, metric, verdict) entries in one transaction, committed before returning."""
        now = time.time()
        templates = json.dumps(dict(stamp.templates_sha256), sort_keys=True)
        rows = [(key, stamp.judge, stamp.prompt_version, metric, v.score, v.label, v.numeric_mass, v.reply, now,
                 v.scoring, stamp.endpoint_host, templates, stamp.emc_bench_version) for key, metric, v in entries]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def endpoint_scoring(self, judge: str, endpoint_host: str | None) -> str | None:
        """The scoring method recorded for this judge at this endpoint, if it was ever found out."""
        row = self._db.execute("SELECT scoring FROM endpoints WHERE judge = ? AND endpoint_host = ?",
                               (judge, endpoint_host or "")).fetchone()
        return row[0] if row else None

    def record_endpoint(self, judge: str, endpoint_host: str | None, scoring: str) -> None:
        """Remember what this judge's endpoint returns (``logprobs-top20`` or ``text``)."""
        self._db.execute("INSERT OR REPLACE INTO endpoints VALUES (?, ?, ?, ?)",
                         (judge, endpoint_host or "", scoring, time.time()))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> VerdictCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CacheWriter:
    """Commits verdicts to a :class:`VerdictCache` on a background thread, as they arrive.

    ``put`` never blocks the caller (an event loop keeps serving replies while SQLite writes);
    under load each commit takes every verdict queued since the previous one. ``close`` waits
    until all are committed and re-raises a failed write.
    """

    def __init__(self, cache: VerdictCache, stamp: Stamp):
        self._cache, self._stamp = cache, stamp
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="verdict-cache-writer", daemon=True)
        self._thread.start()

    def put(self, key: str, metric: str, verdict: Verdict) -> None:
        self._queue.put((key, metric, verdict))

    def _run(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get())
            done = batch[-1] is None
            entries = [entry for entry in batch if entry is not None]
            if entries and self._error is None:
                try:
                    self._cache.put_many(self._stamp, entries)
                except BaseException as err:  # kept for close(); later verdicts are not written
                    self._error = err

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
