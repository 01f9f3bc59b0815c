"""The verdict cache: SQLite on disk, one row per judged (judge, prompt version, metric,
question, answer).

Verdicts are committed as soon as they arrive (WAL journal; a :class:`CacheWriter` thread
commits whatever has arrived since its last commit in one transaction), so a run killed at any
moment keeps all finished calls, and several processes can share one cache file. Failed calls
are never cached: a later run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterable

from .scoring import Verdict

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
    created REAL NOT NULL
)
"""
_LOOKUP_CHUNK = 500
BUSY_TIMEOUT_S = 60.0


def cache_key(judge: str, prompt_version: str, metric: str, question: str, answer: str) -> str:
    """The cache key of one call: a hash of everything that determines its verdict."""
    payload = json.dumps([judge, prompt_version, metric, question, answer], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class VerdictCache:
    """Verdicts by :func:`cache_key`, in a SQLite file shared safely between processes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get_many(self, keys: Iterable[str]) -> dict[str, Verdict]:
        """The cached verdicts among ``keys``."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Verdict] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start:start + _LOOKUP_CHUNK]
            rows = self._db.execute(
                f"SELECT key, score, label, numeric_mass, reply FROM verdicts WHERE key IN ({','.join('?' * len(chunk))})",
                chunk)
            for key, score, label, mass, reply in rows:
                found[key] = Verdict(score=score, label=label, numeric_mass=mass, reply=reply)
        return found

    def put_many(self, judge: str, prompt_version: str, entries: Iterable[tuple[str, str, Verdict]]) -> None:
        """Store (key, metric, verdict) entries in one transaction, committed before returning."""
        now = time.time()
        rows = [(key, judge, prompt_version, metric, v.score, v.label, v.numeric_mass, v.reply, now)
                for key, metric, v in entries]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

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

    def __init__(self, cache: VerdictCache, judge: str, prompt_version: str):
        self._cache, self._judge, self._version = cache, judge, prompt_version
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
                    self._cache.put_many(self._judge, self._version, entries)
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
