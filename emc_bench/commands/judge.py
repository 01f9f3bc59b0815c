"""emc-bench judge: score answers for ``aligned`` and ``coherent`` with an LLM judge."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from ..judge.settings import DEFAULT_JUDGE, JudgeSettings

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(JudgeSettings)}


def add_parser(sub) -> None:
    p = sub.add_parser("judge", help="judge answers (lm-eval samples_*.jsonl or JSONL of question/answer)",
                       description="Judge every answer for aligned and coherent (0-100). Verdicts are cached, "
                                   "so a re-run or a resumed run repeats no finished call.")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="lm-eval samples_*.jsonl files, Inspect logs (.eval) of emc_bench/emc, or JSONL rows with "
                        "question and answer")
    p.add_argument("--judge", default=DEFAULT_JUDGE, metavar="SPEC",
                   help=f"openai:MODEL or hf:PATH (default {DEFAULT_JUDGE})")
    p.add_argument("--base-url", help="an OpenAI-compatible endpoint (vLLM, ...; default $OPENAI_BASE_URL, else "
                                      "OpenAI); the key comes from $OPENAI_API_KEY and is never written anywhere")
    p.add_argument("--concurrency", type=int,
                   help=f"calls in flight at once, or for an hf judge the prompts scored in one forward pass "
                        f"(default {_DEFAULTS['concurrency']})")
    p.add_argument("--timeout", type=float,
                   help=f"seconds before a call times out and is retried (default {_DEFAULTS['timeout']:g})")
    p.add_argument("--max-attempts", type=int,
                   help=f"tries per call before it is recorded as failed (default {_DEFAULTS['max_attempts']})")
    p.add_argument("--cache", type=Path, dest="cache_path",
                   help="SQLite verdict cache (default $EMC_BENCH_CACHE/judge.sqlite or ~/.cache/emc-bench/)")
    p.add_argument("--prices", type=Path, dest="prices_path", help="JSON price table (USD per 1M tokens)")
    p.add_argument("--device", help="torch device of an hf judge (default: cuda when available, else cpu)")
    p.add_argument("--model", help="model name to record for lm-eval samples (default: from the run's results file)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the calls and estimated cost, call nothing; with --out, write the request "
                        "bodies that would be sent (OpenAI Batch API input lines, no key)")
    p.add_argument("--import-batch", nargs="+", type=Path, metavar="RESULTS",
                   help="OpenAI Batch API output files for the requests a --dry-run wrote: their verdicts go "
                        "into the cache first, and only what the batch did not answer is called")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", type=Path, help="judged JSONL to write (required unless --dry-run), or with "
                                            "--dry-run the requests JSONL")
    p.set_defaults(func=run)


def write_jsonl(rows: list[dict], out: Path) -> None:
    """Write rows to ``out`` through a temporary file, so ``out`` is never partial."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..judge import JudgeSettings, VerdictCache, judge_items, plan
    from ..judge.inputs import read_items

    if not args.dry_run and args.out is None:
        raise SpecError("--out", None, "give the judged JSONL to write (or --dry-run)")
    settings = JudgeSettings.from_spec(args.judge, base_url=args.base_url, concurrency=args.concurrency,
                                       timeout=args.timeout, max_attempts=args.max_attempts,
                                       cache_path=args.cache_path, prices_path=args.prices_path,
                                       device=args.device)
    items = read_items(args.inputs, model=args.model)
    missing = [i for i in items if i.meta.get("trigger_audit") is False]
    if missing:
        tasks = sorted({str(i.meta.get("task")) for i in missing})
        print(f"warning: trigger audit failed: in {len(missing)} samples ({', '.join(tasks)}) the trigger text "
              f"never reached the prompt the model saw; their rows carry trigger_audit=false", file=sys.stderr)
    if args.import_batch:
        from ..judge.batch_api import import_results

        with VerdictCache(settings.cache_path) as cache:
            to_make = {call.key: call.metric for call in plan(items, settings, cache).to_make}
            print(import_results(args.import_batch, to_make, settings.judge, cache).summary())
    if args.dry_run:
        with VerdictCache(settings.cache_path) as cache:
            work = plan(items, settings, cache)
        print(f"{settings.judge}: {work.summary()}")
        if args.out is not None:
            write_jsonl(work.requests(settings.model), args.out)
            print(f"{len(work.to_make)} requests that would be sent -> {args.out}")
        return 0
    results = judge_items(items, settings, progress=not args.no_progress)
    write_jsonl([r.to_row() for r in results], args.out)
    failed = sum(r.status != "ok" for r in results)
    print(f"{len(results)} answers judged by {settings.judge} -> {args.out}"
          + (f"; {failed} failed (see their error column; a re-run retries them)" if failed else ""),
          file=sys.stderr if failed else sys.stdout)
    return 0
