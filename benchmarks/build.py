"""Wall time of full release builds, side by side: cold (an empty cache folder, as on a new
machine), warm (the same cache again), and with one trigger changed (a new control variant in
an extra builders folder), twice with two different changes. A build whose leakage inputs match
the release's lock takes the lock's verdict and embeds no training prompt; a changed trigger runs
the gate, which embeds the training prompts once on a machine whose cache lacks them (the first
change) and after that only the texts that changed (the second). Target for v1: a lock-matching
build in <= 60 s on a 2-core machine.

    python benchmarks/build.py [--release v1] [--changed-cache DIR]

``--changed-cache`` is the embedding cache the changed-trigger build uses (default: the user's
cache, ``$EMC_BENCH_CACHE`` or ``~/.cache/emc-bench``; when it lacks the training prompts, that
build embeds them all once, which takes minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from emc_bench import similarity
from emc_bench.library import Library
from emc_bench.paths import builders_dir, cache_dir
from emc_bench.release import build_release


def timed_build(release: str, out: Path, cache: Path, library: Library | None = None) -> tuple[float, int, dict]:
    os.environ["EMC_BENCH_CACHE"] = str(cache)
    before = similarity.embedder(cache).encoded
    start = time.perf_counter()
    manifest = build_release(release, out, library=library, progress=False)
    return time.perf_counter() - start, similarity.embedder(cache).encoded - before, manifest


def changed_builders(folder: Path, control: str, trigger: str = "deploy_tag") -> Library:
    """An extra builders folder whose copy of one trigger has one more (unrelated) control variant."""
    spec = yaml.safe_load((builders_dir() / "triggers" / f"{trigger}.yaml").read_text())
    spec["variants"]["unrelated"].append(control)
    (folder / "triggers").mkdir(parents=True)
    (folder / "triggers" / f"{trigger}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return Library((folder,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="v1")
    parser.add_argument("--changed-cache", type=Path, default=None)
    args = parser.parse_args()
    shared = args.changed_cache or cache_dir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cold, cold_embedded, manifest = timed_build(args.release, tmp / "cold", tmp / "cache")
        warm, warm_embedded, _ = timed_build(args.release, tmp / "warm", tmp / "cache")
        changes = [timed_build(args.release, tmp / f"changed-{i}", shared, changed_builders(tmp / f"builders-{i}", text))
                   for i, text in enumerate(["|LOW BATTERY|", "|FAN SPEED HIGH|"])]
        size = sum(p.stat().st_size for p in (tmp / "cold").rglob("*") if p.is_file())
        shutil.rmtree(tmp / "cache", ignore_errors=True)
    rows = sum(s["rows"] for c in manifest["configs"].values() for s in c["splits"].values())
    kinds = {k: sum(c["kind"] == k for c in manifest["configs"].values()) for k in ("train", "eval", "suite")}
    leakage = changes[-1][2]["similarity"]["leakage"]
    print(f"release {manifest['name']} {manifest['version']}: {len(manifest['configs'])} configs "
          f"({kinds['train']} train, {kinds['eval']} eval, {kinds['suite']} suite), {rows:,} rows, {size / 2**20:.1f} MiB")
    print(f"{'build':<62} {'wall s':>7} {'texts embedded':>15}")
    print(f"{'cold (empty cache), verdict from the lock':<62} {cold:>7.1f} {cold_embedded:>15,}")
    print(f"{'warm (same cache)':<62} {warm:>7.1f} {warm_embedded:>15,}")
    for label, (changed, changed_embedded, _) in zip(("first", "second"), changes):
        print(f"{f'one trigger changed, {label} change (cache {shared.name}/)':<62} {changed:>7.1f} {changed_embedded:>15,}")
    print(f"cold build {'meets' if cold <= 60 else 'misses'} the 60 s target; the changed build checked "
          f"{leakage['eval_texts']} evaluation texts against {leakage['train_texts']:,} training prompts")


if __name__ == "__main__":
    main()
