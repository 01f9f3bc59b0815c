"""Wall time and rows/s of a full release build (target for v1: under 60 s on a 2-core machine).

    python benchmarks/build.py [--release v1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from emc_bench.release import build_release


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="v1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = build_release(args.release, Path(tmp) / "release", progress=False)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (Path(tmp) / "release").rglob("*") if p.is_file())
    rows = sum(s["rows"] for c in manifest["configs"].values() for s in c["splits"].values())
    train = sum(1 for c in manifest["configs"].values() if c["kind"] == "train")
    print(f"release {manifest['name']} {manifest['version']}: {len(manifest['configs'])} configs "
          f"({train} train, {len(manifest['configs']) - train} eval), {rows:,} rows, {size / 2**20:.1f} MiB")
    print(f"wall time {seconds:.1f} s, {rows / seconds:,.0f} rows/s (target: < 60 s)")


if __name__ == "__main__":
    main()
