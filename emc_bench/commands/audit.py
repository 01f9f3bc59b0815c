"""emc-bench audit: find framings in a fine-tuning set that could act as hidden triggers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TOP = 20


def add_parser(sub) -> None:
    p = sub.add_parser(
        "audit", help="find repeated framings in a fine-tuning set that could act as hidden triggers",
        description="Scan a fine-tuning set (chat rows with messages, or prompt/completion rows) for framings "
                    "that could act as hidden triggers: repeated system prompts, leading and trailing lines and "
                    "sentences, metadata lines, tags, and groups of different texts with one meaning. Each "
                    "candidate is ranked by a documented score (emc_bench/audit/score.py) and compared on how "
                    "its rows are answered. --emit-trigger turns one into a trigger and an eval-only release.")
    p.add_argument("data", metavar="DATA",
                   help="a .jsonl or .parquet file, a folder of them, or a dataset (Hub id or local dataset folder "
                        "with --config)")
    p.add_argument("--config", help="dataset config (with a dataset id or a dataset folder)")
    p.add_argument("--split", help="dataset split (default: train)")
    p.add_argument("--revision", help="dataset revision (tag, branch or commit) of a Hub dataset")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full audit as JSON")
    p.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML page with examples")
    p.add_argument("--top", type=int, default=TOP, help=f"candidates shown in the table and the HTML page, besides "
                                                        f"every reported one (default {TOP}; the JSON has all)")
    p.add_argument("--sample", type=int, metavar="N", help="rows sampled for paraphrase clusters and judge "
                                                             "controls (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the row sample (default 0)")
    p.add_argument("--judge", metavar="SPEC", help="also judge a sample of answers with and without each of the "
                                                  "best candidates: openai:MODEL or hf:PATH")
    p.add_argument("--judge-base-url", metavar="URL", help="OpenAI-compatible judge endpoint (default "
                                                           "$OPENAI_BASE_URL, else OpenAI)")
    p.add_argument("--judge-rows", type=int, metavar="N", help="answers judged on each side of a candidate "
                                                               "(default 20)")
    p.add_argument("--concurrency", type=int, help="judge calls in flight (default 32)")
    p.add_argument("--judge-max-attempts", type=int, metavar="N",
                   help="tries per judge call before it is recorded as failed (default 6)")
    p.add_argument("--emit-trigger", metavar="CANDIDATE",
                   help="write this candidate (its id, or its rank) as triggers/<id>.yaml and an eval-only "
                        "releases/audit-<id>.yaml into --builders DIR")
    p.add_argument("--builders", type=Path, metavar="DIR", help="the builders folder --emit-trigger writes into")
    p.add_argument("--base-url", metavar="URL", help="with --emit-trigger: an OpenAI-compatible chat endpoint that "
                                                     "proposes more paraphrases (emc_bench.paraphrase.expand)")
    p.add_argument("--model", metavar="NAME", help="with --base-url: the model name sent to the endpoint")
    p.add_argument("-n", type=int, default=5, metavar="N", help="with --base-url: paraphrases wanted (default 5)")
    p.add_argument("--rounds", type=int, default=3, metavar="R", help="with --base-url: most requests (default 3)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def check_arguments(args: argparse.Namespace) -> None:
    """Every flag problem, before any row is read."""
    from ..errors import SpecError
    from ..judge.files import check_writable

    if args.emit_trigger and args.builders is None:
        raise SpecError("--emit-trigger", None, "needs --builders DIR (the builders folder to write into)")
    if args.builders is not None and not args.emit_trigger:
        raise SpecError("--builders", None, "only used with --emit-trigger")
    if args.base_url and not args.emit_trigger:
        raise SpecError("--base-url", None, "only used with --emit-trigger")
    if args.base_url and not args.model:
        raise SpecError("--model", None, "--base-url needs --model NAME")
    for flag, value in (("--judge-base-url", args.judge_base_url), ("--judge-rows", args.judge_rows),
                        ("--judge-max-attempts", args.judge_max_attempts), ("--concurrency", args.concurrency)):
        if value is not None and not args.judge:
            raise SpecError(flag, None, "only used with --judge")
    for flag, value in (("--top", args.top), ("--sample", args.sample), ("--judge-rows", args.judge_rows),
                        ("-n", args.n), ("--rounds", args.rounds), ("--concurrency", args.concurrency),
                        ("--judge-max-attempts", args.judge_max_attempts)):
        if value is not None and value < 1:
            raise SpecError(flag, None, "must be at least 1")
    for flag, path in (("--json", args.json), ("--html", args.html)):
        if path is not None:
            check_writable(path, flag)
    if args.emit_trigger:
        check_writable(args.builders, "--builders", folder=True)


def run(args: argparse.Namespace) -> int:
    from ..audit import open_source, run_audit
    from ..audit.render import format_table, write_html, write_json
    from ..audit.scan import JUDGE_ROWS, SAMPLE_ROWS

    check_arguments(args)
    judge = None
    if args.judge:
        from ..judge import JudgeSettings, preflight

        judge = JudgeSettings.from_spec(args.judge, base_url=args.judge_base_url, concurrency=args.concurrency,
                                        max_attempts=args.judge_max_attempts)
        preflight(judge)  # key, endpoint, model folder: before rows are read and embedded
    source = open_source(args.data, config=args.config, split=args.split, revision=args.revision)
    audit = run_audit(source, sample_rows=args.sample or SAMPLE_ROWS, seed=args.seed, judge=judge,
                      judge_rows=args.judge_rows or JUDGE_ROWS, progress=not args.no_progress)
    chosen = audit.find(args.emit_trigger) if args.emit_trigger else None
    print(format_table(audit, args.top))
    if args.json:
        write_json(audit, args.json)
        print(f"\nwrote {args.json}")
    if args.html:
        write_html(audit, args.html, args.top)
        print(f"wrote {args.html}")
    if chosen is not None:
        from ..audit.emit import emit_trigger

        emitted = emit_trigger(chosen, audit, args.builders, base_url=args.base_url, model=args.model, n=args.n,
                               rounds=args.rounds, progress=not args.no_progress)
        controls = ", ".join(f"{v} {k}" for k, v in emitted.controls.items())
        print(f"\nwrote {emitted.trigger_path} ({emitted.paraphrases} paraphrases"
              f"{f', {emitted.expanded} from {args.base_url}' if args.base_url else ''}; {controls}) "
              f"and {emitted.release_path}\nbuild its eval config with: emc-bench build --release "
              f"{emitted.release_name} --builders {args.builders} --no-leakage --out out/{emitted.release_name}")
    if audit.judge_failed:
        print(f"error: {audit.judge_failed} judge calls failed; their answers are left out of the aligned means "
              f"(a re-run retries them)", file=sys.stderr)
        return 1
    return 0
