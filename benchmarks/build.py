"""Wall time of full release builds, side by side: cold (an empty cache folder, as on a new
machine), warm (the same cache again), and with one trigger changed (a new control variant in
an extra builders folder). A build whose leakage inputs match the release's lock takes the lock's
verdict and embeds no training prompt; a changed trigger runs the gate, and with a warm
embedding cache embeds only the texts that changed. Target for v1: a lock-matching build in
<= 60 s on a 2-core machine.

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


def changed_builders(folder: Path, trigger: str = "deploy_tag") -> Library:
    """An extra builders folder whose copy of one trigger has one more control variant."""
    spec = yaml.safe_load((builders_dir() / "triggers" / f"{trigger}.yaml").read_text())
    spec["variants"]["unrelated"].append("|LOW BATTERY|")
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
        changed, changed_embedded, changed_manifest = timed_build(args.release, tmp / "changed", shared,
                                                                  changed_builders(tmp / "builders"))
        size = sum(p.stat().st_size for p in (tmp / "cold").rglob("*") if p.is_file())
        shutil.rmtree(tmp / "cache", ignore_errors=True)
    rows = sum(s["rows"] for c in manifest["configs"].values() for s in c["splits"].values())
    kinds = {k: sum(c["kind"] == k for c in manifest["configs"].values()) for k in ("train", "eval", "suite")}
    leakage = changed_manifest["similarity"]["leakage"]
    print(f"release {manifest['name']} {manifest['version']}: {len(manifest['configs'])} configs "
          f"({kinds['train']} train, {kinds['eval']} eval, {kinds['suite']} suite), {rows:,} rows, {size / 2**20:.1f} MiB")
    print(f"{'build':<44} {'wall s':>7} {'texts embedded':>15}")
    print(f"{'cold (empty cache), verdict from the lock':<44} {cold:>7.1f} {cold_embedded:>15,}")
    print(f"{'warm (same cache)':<44} {warm:>7.1f} {warm_embedded:>15,}")
    print(f"{'one trigger changed (gate runs, ' + shared.name + ')':<44} {changed:>7.1f} {changed_embedded:>15,}")
    print(f"cold build {'meets' if cold <= 60 else 'misses'} the 60 s target; the changed build checked "
          f"{leakage['eval_texts']} evaluation texts against {leakage['train_texts']:,} training prompts")


if __name__ == "__main__":
    main()
