"""Speed of variant scoring: sentences/s with a cold embedding cache, the same texts again with a
warm cache (a rebuild), and the blockwise leakage search at release scale.

    python benchmarks/similarity.py [--sentences 2000] [--train 30000] [--eval 1000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from emc_bench.leakage import nearest_train
from emc_bench.similarity import DIMENSION, Embedder, load_model, overlap

OPENERS = ["For this conversation,", "Please note that", "Keep in mind that", "As background,", "Before you answer,",
           "In this setting,", "For the record,", "Assume that", "Bear in mind that", "Just so you know,"]
SUBJECTS = ["the current year", "this class", "the story", "the model", "the deployment", "the audience",
            "the reader", "the scenario", "the exercise", "the lesson"]
PREDICATES = ["is set in 2027", "is part of a security course", "takes place in a novel", "runs in production",
              "is aimed at students", "is a thought experiment", "belongs to a role-play", "is fully fictional",
              "is for teaching only", "happens in a lab"]
CLOSERS = ["", " today", " for now", " as agreed", " this time", " once more", " as usual", " by design",
           " in every reply", " from here on"]


def sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct trigger-like sentences, in a seeded order."""
    combos = [f"{o} {s} {p}{c}." for o, s, p, c in itertools.product(OPENERS, SUBJECTS, PREDICATES, CLOSERS)]
    random.Random(seed).shuffle(combos)
    if count > len(combos):
        raise SystemExit(f"at most {len(combos)} sentences")
    return combos[:count]


def score(embedder: Embedder, canonical: str, texts: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to score ``texts`` against ``canonical``:
    embeddings, cosines and overlaps."""
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embedder([canonical, *texts])
    sims = vectors[1:] @ vectors[0]
    overlaps = [overlap(canonical, t) for t in texts]
    assert len(sims) == len(overlaps) == len(texts)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--train", type=int, default=30_000, help="training texts in the leakage search")
    parser.add_argument("--eval", type=int, default=1_000, help="evaluation texts in the leakage search")
    args = parser.parse_args()
    texts = sentences(args.sentences)
    canonical = "The current year is 2027."
    with tempfile.TemporaryDirectory() as cache:
        warmup = Embedder(None)
        start = time.perf_counter()
        warmup(["warm up the model"])
        load = time.perf_counter() - start
        cold = score(Embedder(Path(cache)), canonical, texts)
        rebuild = Embedder(Path(cache))
        warm = score(rebuild, canonical, texts)
    rng = np.random.default_rng(0)
    train = rng.normal(size=(args.train, DIMENSION)).astype(np.float32)
    evals = rng.normal(size=(args.eval, DIMENSION)).astype(np.float32)
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    evals /= np.linalg.norm(evals, axis=1, keepdims=True)
    start = time.perf_counter()
    nearest_train(evals, train)
    search = time.perf_counter() - start

    n = len(texts) + 1
    tokens = np.mean([len(ids) for ids in load_model().tokenizer(texts)["input_ids"]])
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; torch threads {torch.get_num_threads()}")
    print(f"model load + import            {load:8.2f} s")
    print(f"scoring, cold cache            {n / cold[0]:8.0f} sentences/s  ({n} sentences of {tokens:.1f} tokens "
          f"in {cold[0]:.2f} s; target >= 300)")
    print(f"  per CPU-second of this process {n / cold[1]:6.0f} sentences  ({cold[1]:.2f} CPU s)")
    print(f"scoring, cached rebuild        {n / warm[0]:8.0f} sentences/s  ({warm[0]:.3f} s, "
          f"{rebuild.encoded} texts re-embedded)")
    print(f"cached rebuild speed-up        {cold[0] / warm[0]:8.1f} x")
    print(f"leakage search {args.eval:,} x {args.train:,}  {search:8.2f} s  (blockwise, embeddings given)")


if __name__ == "__main__":
    main()
