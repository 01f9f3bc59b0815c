"""Leaderboard site build time and page weight (targets for 200 rows: build <= 10 s, index page
plus the assets it loads <= 1 MB).

    python benchmarks/leaderboard.py [--rows 200] [--repeat 3]

The rows are made like the tests' rows: seeded synthetic judged answers -> metrics.containment_profile
-> rows_from_profile (that part is not timed), appended in four parts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_leaderboard_fixtures import many_rows  # noqa: E402

from emc_bench.judge.settings import DEFAULT_JUDGE  # noqa: E402
from emc_bench.leaderboard.results import append_rows  # noqa: E402
from emc_bench.leaderboard.site import build_site  # noqa: E402


class Loads(HTMLParser):
    """What a page loads by itself: stylesheets, scripts and images."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.urls.append(attrs["href"])
        elif tag in ("script", "img") and attrs.get("src"):
            self.urls.append(attrs["src"])


def weight(page: Path) -> tuple[int, int]:
    """Bytes of ``page`` plus everything it loads, and how many files that is."""
    parser = Loads()
    parser.feed(page.read_text(encoding="utf-8"))
    files = [page, *((page.parent / url).resolve() for url in dict.fromkeys(parser.urls))]
    return sum(f.stat().st_size for f in files), len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = many_rows(args.rows)
    made = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        quarter = max(1, len(rows) // 4)
        for i in range(0, len(rows), quarter):
            append_rows(results, rows[i:i + quarter])
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            facts = build_site(results, Path(tmp) / "site", pinned_judge=DEFAULT_JUDGE)
            times.append(time.perf_counter() - start)
        site = Path(tmp) / "site"
        index_bytes, index_files = weight(site / "index.html")
        pages = sorted((site / "models").glob("*.html"))
        page_bytes = [weight(p)[0] for p in pages]
        total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        count = sum(1 for p in site.rglob("*") if p.is_file())
    print(f"{len(rows)} rows ({made:.1f} s to synthesise and profile), {len(facts['boards'])} boards, "
          f"{facts['models']} model pages")
    print(f"site build: first {times[0]:.2f} s, best {min(times):.2f} s of {args.repeat} (target: <= 10 s)")
    print(f"index page weight: {index_bytes / 1e6:.3f} MB in {index_files} files (target: <= 1 MB)")
    print(f"model page weight (with its plots): median {sorted(page_bytes)[len(page_bytes) // 2] / 1e3:.1f} kB, "
          f"largest {max(page_bytes) / 1e3:.1f} kB")
    print(f"whole site: {total / 1e6:.2f} MB in {count} files (downloads included)")


if __name__ == "__main__":
    main()
