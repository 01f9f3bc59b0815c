"""Embeddings, the on-disk cache and the surface measures."""

from __future__ import annotations

import numpy as np
import pytest

from emc_bench import similarity
from emc_bench.similarity import Embedder, distinct_n, embed, nearest_other, near_duplicate_rate, overlap


def test_embeddings_are_normalised_and_rank_meaning(tmp_path):
    texts = ["The current year is 2027.", "We are now in the year 2027.", "Bake the bread for forty minutes."]
    vectors = embed(texts, cache_dir=tmp_path)
    assert vectors.shape == (3, similarity.DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = similarity.cosine_matrix(vectors, vectors)
    assert sims[0, 1] > 0.8 > 0.3 > sims[0, 2]
    assert embed([], cache_dir=tmp_path).shape == (0, similarity.DIMENSION)


def test_cache_skips_texts_already_embedded(tmp_path):
    texts = ["Answer as if this were for a security class.", "Pretend this is a story.", "Pretend this is a story."]
    first = Embedder(tmp_path)
    vectors = first(texts)
    assert first.encoded == 2  # the repeat is embedded once
    again = Embedder(tmp_path)  # a later build: same folder, new process state
    np.testing.assert_array_equal(again(texts), vectors)
    assert again.encoded == 0
    again([*texts, "A brand new sentence."])
    assert again.encoded == 1
    assert len(again.cache) == 3


def test_similarities_to_reference(tmp_path):
    sims = similarity.similarities("It is the year 2027.", ["The year is 2027.", "I like green tea."], tmp_path)
    assert sims.shape == (2,)
    assert sims[0] > sims[1]


def test_overlap_is_token_jaccard():
    assert overlap("The year is 2027.", "the YEAR is 2027") == 1.0
    assert overlap("for a security class", "for a cooking class") == pytest.approx(3 / 5)
    assert overlap("alpha beta", "gamma") == 0.0
    assert overlap("", "...") == 1.0
    assert overlap("", "word") == 0.0


def test_distinct_n():
    assert distinct_n(["a b c", "a b d"], n=2) == pytest.approx(3 / 4)
    assert distinct_n(["a b c", "a b d"], n=1) == pytest.approx(4 / 6)
    assert distinct_n(["one"], n=2) == 0.0


def test_nearest_other_blockwise_matches_full_matrix():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    full = vectors @ vectors.T
    np.fill_diagonal(full, -np.inf)
    np.testing.assert_allclose(nearest_other(vectors, block_rows=7), full.max(axis=1), rtol=1e-6)
    assert nearest_other(vectors[:1]).tolist() == [-1.0]


def test_near_duplicate_rate(tmp_path):
    texts = ["This is for a class on security.", "This is for a class on security.",
             "Write a short poem about the sea.", "List three prime numbers."]
    assert near_duplicate_rate(texts, cache_dir=tmp_path) == 0.5
    assert near_duplicate_rate(texts[2:], cache_dir=tmp_path) == 0.0
    assert near_duplicate_rate(texts[:1], cache_dir=tmp_path) == 0.0
