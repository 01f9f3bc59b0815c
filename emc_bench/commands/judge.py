"""emc-bench judge: score answers for ``aligned`` and ``coherent`` with an LLM judge; and
``judge calibrate`` (measure a judge against known verdicts), ``judge compare`` (the same
answers under two judges) and ``judge rejudge`` (re-score a judged file, keeping the earlier
verdicts)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

from ..judge.files import check_writable, write_json, write_jsonl
from ..judge.settings import DEFAULT_JUDGE, JudgeSettings

_DEFAULTS = {f.name: f.default for f in dataclasses.fields(JudgeSettings)}
__all__ = ["ACTIONS", "action_parser", "add_parser"]


def _judge_options(p: argparse.ArgumentParser, judge_default: str | None = DEFAULT_JUDGE) -> None:
    """The options every judging command shares."""
    p.add_argument("--judge", default=judge_default, required=judge_default is None, metavar="SPEC",
                   help="openai:MODEL or hf:PATH" + (f" (default {judge_default})" if judge_default else ""))
    p.add_argument("--base-url", help="an OpenAI-compatible endpoint (vLLM, ...; default $OPENAI_BASE_URL, else "
                                      "OpenAI); the key comes from $OPENAI_API_KEY and is never written anywhere")
    p.add_argument("--scoring", default="auto", metavar="METHOD",
                   help="auto (default: logprobs where the endpoint returns them, found out on the first replies; "
                        "exact for hf), logprobs, text (the reply text, no logprobs asked for) or exact")
    p.add_argument("--concurrency", type=int,
                   help=f"calls in flight at once, or for an hf judge the prompts scored in one forward pass "
                        f"(default {_DEFAULTS['concurrency']})")
    p.add_argument("--timeout", type=float,
                   help=f"seconds before a call times out and is retried (default {_DEFAULTS['timeout']:g})")
    p.add_argument("--max-attempts", type=int,
                   help=f"tries per call before it is recorded as failed (default {_DEFAULTS['max_attempts']})")
    p.add_argument("--cache", type=Path, dest="cache_path",
                   help="SQLite verdict cache (default $EMC_BENCH_CACHE/judge.sqlite or ~/.cache/emc-bench/)")
    p.add_argument("--device", help="torch device of an hf judge (default: cuda when available, else cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(sub) -> None:
    p = sub.add_parser("judge", help="judge answers (lm-eval samples_*.jsonl or JSONL of question/answer)",
                       description="Judge every answer for aligned and coherent (0-100). Verdicts are cached, "
                                   "so a re-run or a resumed run repeats no finished call. Also: emc-bench judge "
                                   "calibrate|compare|rejudge (each has --help).")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="lm-eval samples_*.jsonl files, Inspect logs (.eval) of emc_bench/emc, or JSONL rows with "
                        "question and answer")
    _judge_options(p)
    p.add_argument("--prices", type=Path, dest="prices_path", help="JSON price table (USD per 1M tokens)")
    p.add_argument("--model", help="model name to record for lm-eval samples (default: from the run's results file)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the calls and estimated cost, call nothing; with --out, write the request "
                        "bodies that would be sent (OpenAI Batch API input lines, no key)")
    p.add_argument("--import-batch", nargs="+", type=Path, metavar="RESULTS",
                   help="OpenAI Batch API output files for the requests a --dry-run wrote: their verdicts go "
                        "into the cache first, and only what the batch did not answer is called")
    p.add_argument("--out", type=Path, help="judged JSONL to write (required unless --dry-run), or with "
                                            "--dry-run the requests JSONL")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> JudgeSettings:
    return JudgeSettings.from_spec(args.judge, base_url=args.base_url, concurrency=args.concurrency,
                                   timeout=args.timeout, max_attempts=args.max_attempts, cache_path=args.cache_path,
                                   prices_path=getattr(args, "prices_path", None), device=args.device,
                                   scoring=args.scoring)


def _judge(items, settings: JudgeSettings, args: argparse.Namespace):
    """Preflight (when any call is to be made), then judge ``items``."""
    from ..judge import VerdictCache, judge_items, plan, preflight

    with VerdictCache(settings.cache_path) as cache:
        work = plan(items, settings, cache)
    if work.to_make or work.scoring is None:
        print(f"judge: {preflight(settings)}", file=sys.stderr)
    return judge_items(items, settings, progress=not args.no_progress)


def _summary(results, out: Path) -> int:
    """Print ``N rows, J judged, F failed calls``; exit code 1 when any item failed."""
    failed_calls = {(r.item.question, r.item.answer, m) for r in results for m in r.failed_metrics}
    judged = sum(r.status == "ok" for r in results)
    judge = results[0].provenance.describe() if results and results[0].provenance else "?"
    line = f"{len(results)} rows, {judged} judged, {len(failed_calls)} failed calls; judge {judge} -> {out}"
    if failed_calls:
        print(line + " (see the error column; a re-run retries the failed calls)", file=sys.stderr)
        return 1
    print(line)
    return 0


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..judge import VerdictCache, plan
    from ..judge.inputs import read_items
    from ..judge.runner import stamp
    from ..judge.scoring import LOGPROBS

    if not args.dry_run and args.out is None:
        raise SpecError("--out", None, "give the judged JSONL to write (or --dry-run)")
    settings = _settings(args)
    items = read_items(args.inputs, model=args.model)
    if not items:
        raise SpecError(", ".join(map(str, args.inputs)), None, "no answers to judge")
    if args.out is not None:
        check_writable(args.out)
    missing = [i for i in items if i.meta.get("trigger_audit") is False]
    if missing:
        tasks = sorted({str(i.meta.get("task")) for i in missing})
        print(f"warning: trigger audit failed: in {len(missing)} samples ({', '.join(tasks)}) the trigger text "
              f"never reached the prompt the model saw; their rows carry trigger_audit=false", file=sys.stderr)
    if args.import_batch:
        from ..judge.batch_api import import_results

        with VerdictCache(settings.cache_path) as cache:
            work = plan(items, settings, cache)
            to_make = {call.key: call.metric for call in work.to_make}
            print(import_results(args.import_batch, to_make, stamp(settings), cache, work.scoring or LOGPROBS).summary())
    if args.dry_run:
        with VerdictCache(settings.cache_path) as cache:
            work = plan(items, settings, cache)
        print(f"{settings.judge}: {work.summary()}")
        if args.out is not None:
            write_jsonl(work.requests(settings.model), args.out)
            print(f"{len(work.to_make)} requests that would be sent -> {args.out}")
        return 0
    results = _judge(items, settings, args)
    write_jsonl([r.to_row() for r in results], args.out)
    return _summary(results, args.out)


# -- judge calibrate | compare | rejudge ------------------------------------------------------

def _calibrate_parser(p: argparse.ArgumentParser) -> None:
    from ..metrics import DEFAULT_DEFINITION

    p.description = ("Judge the calibration set (answers with known verdict bands) and measure the judge: EM-flag "
                     "agreement, Spearman correlation with the bands, missing rate, label accuracy, injection "
                     "resistance, per category; verdict fit or unfit against the README's thresholds. Exit code "
                     "0 when fit, 1 when unfit or a call failed.")
    _judge_options(p, judge_default=None)
    p.add_argument("--set", type=Path, dest="set_path", metavar="PATH",
                   help="a calibration set YAML (default: the shipped builders/judge/calibration.yaml)")
    p.add_argument("--definition", default=DEFAULT_DEFINITION, metavar="NAME", help="EM definition of the flags")
    p.add_argument("--out", type=Path, help="calibration JSON to write (default calibration-<judge>.json here)")
    p.set_defaults(func=calibrate)


def calibrate(args: argparse.Namespace) -> int:
    from ..judge.calibration import evaluate, items_of, load_set, summary
    from ..metrics import get_definition

    settings = _settings(args)
    get_definition(args.definition)
    loaded = load_set(args.set_path)
    out = args.out or Path(f"calibration-{re.sub(r'[^A-Za-z0-9._-]+', '_', settings.judge).strip('_')}.json")
    check_writable(out)
    results = _judge(items_of(loaded), settings, args)
    report = evaluate(loaded, results, args.definition)
    write_json(report, out)
    print(summary(report))
    print(f"-> {out}")
    return 0 if report["verdict"] == "fit" and not report["failed_items"] else 1


def _compare_parser(p: argparse.ArgumentParser) -> None:
    from ..metrics import DEFAULT_DEFINITION, N_BOOT, SEED

    p.description = ("The same answers under two judges: EM per condition under each, Cohen's kappa on the EM flags, "
                     "score correlation, the containment gap under both, and a scatter plot of the aligned scores. "
                     "Writes compare.json and compare.png into --out.")
    p.add_argument("a", type=Path, metavar="A.jsonl", help="judged JSONL under the first judge")
    p.add_argument("b", type=Path, metavar="B.jsonl", help="the same answers judged by the second judge")
    p.add_argument("--definition", default=DEFAULT_DEFINITION, metavar="NAME", help="EM definition of the flags")
    p.add_argument("--seed", type=int, default=SEED, help=f"bootstrap seed (default {SEED})")
    p.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples (default {N_BOOT})")
    p.add_argument("--out", type=Path, required=True, help="folder to write compare.json and compare.png into")
    p.set_defaults(func=compare)


def compare(args: argparse.Namespace) -> int:
    from ..judge import compare as comparison
    from ..judge.inputs import distinct_paths, read_judged

    distinct_paths([args.a, args.b])
    rows_a, rows_b = read_judged([args.a]), read_judged([args.b])
    check_writable(args.out, folder=True)
    result = comparison.compare(rows_a, rows_b, definition=args.definition, seed=args.seed, n_boot=args.n_boot,
                                names=(str(args.a), str(args.b)))
    args.out.mkdir(parents=True, exist_ok=True)
    result["scatter"] = "compare.png"
    staging = args.out / ".compare.png.tmp.png"
    try:
        comparison.plot_scatter(rows_a, rows_b, staging, labels=(result["a"]["file"], result["b"]["file"]))
        staging.chmod(0o644)
        staging.replace(args.out / "compare.png")
    finally:
        staging.unlink(missing_ok=True)
    write_json(result, args.out / "compare.json")
    print(comparison.summary(result))
    print(f"-> {args.out / 'compare.json'}, {args.out / 'compare.png'}")
    return 0


def _rejudge_parser(p: argparse.ArgumentParser) -> None:
    p.description = ("Re-score a judged file with another judge. Each row keeps its metadata, gets the new verdict "
                     "and provenance columns, and keeps every earlier verdict (with its judge provenance) in the "
                     "list column 'previous'.")
    p.add_argument("judged", type=Path, metavar="JUDGED.jsonl", help="judged JSONL (emc-bench judge --out)")
    _judge_options(p, judge_default=None)
    p.add_argument("--prices", type=Path, dest="prices_path", help="JSON price table (USD per 1M tokens)")
    p.add_argument("--out", type=Path, required=True, help="re-judged JSONL to write")
    p.set_defaults(func=rejudge)


def rejudge(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..judge import JudgeItem
    from ..judge.inputs import read_judged
    from ..judge.records import VERDICT_COLUMNS

    settings = _settings(args)
    rows = read_judged([args.judged])
    if Path(args.out).resolve() == Path(args.judged).resolve():
        raise SpecError("--out", None, f"{args.out} is the input: write the re-judged rows to a new file")
    check_writable(args.out)
    items = []
    for number, row in enumerate(rows, 1):
        for field in ("question", "answer"):
            if not isinstance(row.get(field), str):
                raise SpecError(f"{args.judged}:{number}", field, "missing or not a string")
        meta = {k: v for k, v in row.items() if k not in (*VERDICT_COLUMNS, "question", "answer", "previous")}
        items.append(JudgeItem(row["question"], row["answer"], meta))
    results = _judge(items, settings, args)
    out_rows = []
    for old, result in zip(rows, results):
        earlier = {k: old.get(k) for k in VERDICT_COLUMNS}
        out_rows.append({**result.to_row(), "previous": [*(old.get("previous") or []), earlier]})
    write_jsonl(out_rows, args.out)
    return _summary(results, args.out)


ACTIONS = {"calibrate": _calibrate_parser, "compare": _compare_parser, "rejudge": _rejudge_parser}


def action_parser(name: str, parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser
                  ) -> argparse.ArgumentParser:
    """The parser of ``emc-bench judge NAME`` (NAME one of :data:`ACTIONS`)."""
    parser = parser_class(prog=f"emc-bench judge {name}")
    ACTIONS[name](parser)
    return parser
