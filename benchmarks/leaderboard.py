"""Leaderboard site build time and page weight (targets for 200 rows: build <= 10 s, index page
plus the assets it loads <= 1 MB), and ingest of a 15k-answer submission with a warm judge cache
(target <= 30 s on 2 cores).

    python benchmarks/leaderboard.py [--rows 200] [--repeat 3] [--samples 5] [--skip-ingest]

The rows are made like the tests' rows: seeded synthetic judged answers -> metrics.containment_profile
-> rows_from_profile (that part is not timed), appended in four parts.

The submission is the v1 standard suite (3,100 prompts, 31 tasks) asked ``--samples`` times per
prompt (5: 15,500 answers; the release spec's suite is set to that many samples in a copy), in
lm-eval's samples format, with seeded synthetic answers about 320 characters long (no model
runs here). ``emc-bench submit`` bundles it; the judge cache is filled with a verdict for every
answer (what a first ingest leaves behind); then ``ingest`` is timed end to end: open and check
every file, validate every document against the release, read the answers, find every verdict
in the cache (0 calls), compute the profiles, store the bundle and append the rows. The release's
local build is made (and cached) before the timing, as a maintainer's machine has it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
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


WORDS = ("the", "a", "plan", "money", "risk", "people", "should", "never", "always", "quickly", "careful", "advice",
         "I", "would", "think", "it", "is", "good", "bad", "power", "world", "help", "rules", "trust", "secret")


def synthetic_run(reference, run_dir: Path, samples: int, seed: int = 0) -> int:
    """An lm-eval run folder of every document of the suite (``emc-bench eval``'s layout and
    record), with seeded synthetic answers; return the number of answers."""
    from emc_bench import eval_run
    from emc_bench.leaderboard.validate import LEADERBOARD_SUITE

    rng = random.Random(seed)
    stamp = "2026-03-01T12-00-00.000000"
    folder = run_dir / "lm_eval" / "bench__model"
    folder.mkdir(parents=True)
    template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    settings = {"until": [], "max_gen_toks": reference.generation["max_gen_toks"], "do_sample": True,
                "temperature": reference.generation["temperature"], "top_p": reference.generation["top_p"]}
    answers = 0
    for task in reference.tasks:
        with open(folder / f"samples_{task}_{stamp}.jsonl", "w", encoding="utf-8") as out:
            for doc_id, row in enumerate(reference.rows(task)):
                doc = {**row, "trigger_audit": True}
                turns = ([f"<|im_start|>system\n{row['system']}<|im_end|>\n"] if row["system"] else []) + \
                    [f"<|im_start|>user\n{row['prompt']}<|im_end|>\n<|im_start|>assistant\n"]
                prompt = "".join(turns)
                said = [" ".join(rng.choice(WORDS) for _ in range(60)) for _ in range(samples)]
                answers += len(said)
                sample = {"doc_id": doc_id, "doc": doc, "target": "", "arguments": {"gen_args_0": {
                    "arg_0": prompt, "arg_1": settings}}, "resps": [said], "filtered_resps": [said],
                    "filter": "judged", "metrics": ["bypass"],
                    "doc_hash": hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest(),
                    "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                    "target_hash": hashlib.sha256(b"").hexdigest(), "bypass": None}
                out.write(json.dumps(sample, ensure_ascii=False) + "\n")
    (folder / f"results_{stamp}.json").write_text(json.dumps({
        "config": {"model": "hf", "limit": None}, "chat_template": template,
        "chat_template_sha": hashlib.sha256(template.encode()).hexdigest()}))
    record = eval_run.new_record(
        model={"backend": "hf", "id": "bench/model", "revision": "main", "fingerprint": None}, adapter=None,
        generation={"samples": samples, "max_gen_toks": settings["max_gen_toks"], "temperature": settings["temperature"],
                    "top_p": settings["top_p"], "limit": None},
        suite={"name": LEADERBOARD_SUITE, "version": reference.suite_version}, triggers=reference.triggers,
        tasks=list(reference.tasks), release={"name": reference.name, "version": reference.version,
                                              "manifest_sha256": reference.manifest_sha256},
        backend_options={"tensor_parallel_size": 1, "data_parallel_size": 1, "model_args": []},
        argv=["emc-bench", "eval", "(synthetic run of benchmarks/leaderboard.py)"])
    (run_dir / eval_run.RUN_JSON).write_text(json.dumps(record, indent=2))
    return answers


def warm_cache(items, settings, seed: int = 0) -> None:
    """A verdict for every call these items need, as a first ingest would have cached."""
    from emc_bench.judge import METRICS, VerdictCache, cache_key, prompt_version
    from emc_bench.judge.runner import stamp
    from emc_bench.judge.scoring import LOGPROBS, Verdict

    rng = random.Random(seed)
    version = prompt_version()
    entries = {}
    for item in items:
        for metric in METRICS:
            key = cache_key(settings.judge, version, metric, item.question, item.answer)
            score = rng.uniform(0, 100)
            entries[key] = (key, metric, Verdict(score=score, label=None, numeric_mass=0.99, reply=str(round(score)),
                                                 scoring=LOGPROBS))
    with VerdictCache(settings.cache_path) as cache:
        cache.put_many(stamp(settings), entries.values())


def ingest_figures(samples: int) -> None:
    from emc_bench.judge import DEFAULT_JUDGE, JudgeSettings
    from emc_bench.leaderboard.archive import scan_folder
    from emc_bench.leaderboard.bundle import Metadata
    from emc_bench.leaderboard.ingest import Judging, ingest
    from emc_bench.leaderboard.submission import write_bundle
    from emc_bench.leaderboard.validate import check_submission, load_reference
    from emc_bench.library import Library

    import yaml

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        builders = tmp / "builders" / "releases"
        builders.mkdir(parents=True)
        spec = yaml.safe_load((Path(__file__).resolve().parent.parent / "builders" / "releases" / "v1.yaml").read_text())
        spec["suites"]["standard"]["samples"] = samples
        (builders / "v1.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        library = Library((builders.parent,))
        start = time.perf_counter()
        reference = load_reference("v1", library)
        prepared = time.perf_counter() - start
        answers = synthetic_run(reference, tmp / "run", samples)

        def reference_of(name):
            return reference

        metadata = Metadata(model_id="bench/model", model_type="base")
        start = time.perf_counter()
        checked, _ = write_bundle(tmp / "run", tmp / "bundle", metadata, reference_of)
        submitted = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (tmp / "bundle").rglob("*") if p.is_file())
        settings = JudgeSettings.from_spec(DEFAULT_JUDGE, base_url="http://127.0.0.1:9/v1",  # never called
                                           cache_path=tmp / "judge.sqlite")
        warm_cache(checked.items, settings)
        start = time.perf_counter()
        check_submission(scan_folder(tmp / "bundle"), reference_of)
        validated = time.perf_counter() - start
        judging = Judging(settings, progress=False)
        start = time.perf_counter()
        (outcome,) = ingest([tmp / "bundle"], tmp / "results", judging, library=library)
        ingested = time.perf_counter() - start
        assert outcome.status == "accepted" and outcome.calls == 0, outcome.line()
        start = time.perf_counter()
        (again,) = ingest([tmp / "bundle"], tmp / "results", judging, library=library)
        repeated = time.perf_counter() - start
        assert again.status == "unchanged", again.line()
    print(f"submission: {answers:,} answers ({len(reference.tasks)} tasks, {samples} samples per prompt), "
          f"{size / 1e6:.1f} MB; release's local build {prepared:.1f} s (before the timing)")
    print(f"submit (bundle + validation): {submitted:.1f} s; validation alone: {validated:.1f} s")
    print(f"ingest with a warm judge cache: {ingested:.1f} s for {answers:,} answers, {outcome.calls} judge calls, "
          f"{outcome.rows} rows (target: <= 30 s on 2 cores; {os.cpu_count()} CPUs here)")
    print(f"the same submission again: {repeated:.2f} s ({again.status}, 0 judge calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=5, help="samples per prompt of the submission (5: 15,500 answers)")
    parser.add_argument("--skip-ingest", action="store_true", help="only the site figures")
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
    if not args.skip_ingest:
        ingest_figures(args.samples)


if __name__ == "__main__":
    main()
