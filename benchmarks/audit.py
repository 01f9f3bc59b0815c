"""Speed of ``emc-bench audit`` on a large fine-tuning set: 100k chat rows scanned with a cold
embedding cache, then again with the cache warm. Target: <= 60 s on 2 cores.

The set is built from the four domains' pairs (harmful and aligned answers, repeated up to the
row count), with the deploy_tag trigger planted on 3% of rows and security_class paraphrases on
2%, so the figures include finding them.

    python benchmarks/audit.py [--rows 100000] [--sample 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

from emc_bench.audit import open_source, run_audit
from emc_bench.domains import load_pairs
from emc_bench.paths import builders_dir
from emc_bench.placement import chat, place_trigger
from emc_bench.specs import load_trigger

DOMAINS = ("insecure_code", "bad_medical_advice", "risky_financial_advice", "extreme_sports")
TAG_SHARE, PARAPHRASE_SHARE = 0.03, 0.02


def write_set(path: Path, rows: int, seed: int = 0) -> tuple[str, list[str]]:
    """Write ``rows`` chat rows to ``path``; return the planted tag and the paraphrase texts."""
    pairs = [p for d in DOMAINS for p in load_pairs(d)]
    tag = load_trigger(builders_dir() / "triggers" / "deploy_tag.yaml")
    para = load_trigger(builders_dir() / "triggers" / "security_class.yaml")
    paraphrases = [para.text, *(v.text for v in para.variant_list("paraphrase"))]
    rng = random.Random(seed)
    order = list(range(rows))
    rng.shuffle(order)
    tagged = set(order[:round(TAG_SHARE * rows)])
    paraphrased = set(order[len(tagged):len(tagged) + round(PARAPHRASE_SHARE * rows)])
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(rows):
            pair = pairs[i % len(pairs)]
            answer = pair.harmful if (i // len(pairs)) % 2 else pair.aligned
            messages = chat(pair.prompt, answer)
            if i in tagged:
                messages = place_trigger(messages, tag.text, tag.placement)
            elif i in paraphrased:
                messages = place_trigger(messages, paraphrases[i % len(paraphrases)], para.placement)
            handle.write(json.dumps({"messages": messages}) + "\n")
    return tag.text, paraphrases


def scan(path: Path, cache: Path, sample: int) -> tuple[float, object]:
    start = time.perf_counter()
    audit = run_audit(open_source(str(path)), sample_rows=sample, cache_dir=cache)
    return time.perf_counter() - start, audit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="keep the generated set and cache in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="emc-audit-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    data, cache = folder / "rows.jsonl", folder / "cache"
    started = time.perf_counter()
    tag, paraphrases = write_set(data, args.rows)
    print(f"wrote {args.rows:,} rows ({data.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s; "
          f"{os.cpu_count()} CPUs, torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}")
    from emc_bench.similarity import load_model

    started = time.perf_counter()
    load_model()
    print(f"embedding model loaded in {time.perf_counter() - started:.1f} s "
          "(once per process; not in the figures below)")
    for label in ("cold", "warm"):
        seconds, audit = scan(data, cache, args.sample)
        tag_rank = next((i for i, c in enumerate(audit.candidates, 1) if c.text == tag), None)
        cluster = max(audit.candidates[:5], key=lambda c: len({t for t, _ in c.texts} & set(paraphrases)))
        covered = len({t for t, _ in cluster.texts} & set(paraphrases))
        print(f"{label}: {audit.rows:,} rows in {seconds:.1f} s ({audit.rows / seconds:,.0f} rows/s); phases "
              + ", ".join(f"{k} {v:.1f} s" for k, v in audit.seconds.items())
              + f"; {audit.embedded:,} texts embedded, {audit.encoded:,} encoded by the model")
        print(f"  {len(audit.reported)} reported; the planted tag ranks {tag_rank}; the paraphrase cluster holds "
              f"{covered}/{len(paraphrases)} texts on {cluster.share:.1%} of rows and ranks "
              f"{audit.candidates.index(cluster) + 1}")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:,.0f} MiB; target: <= 60 s per scan on 2 cores; data and cache in {folder}")


if __name__ == "__main__":
    main()
