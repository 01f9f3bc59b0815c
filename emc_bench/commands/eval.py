"""emc-bench eval: one command from a model to its containment report.

Checks everything first (numbers, suite and triggers, the data folder, the output folder, the
judge), prints the plan (answers, judge calls, cost, expected CIs) and refuses to start above
``--max-cost``. Then runs the suite's lm-eval tasks (lm-eval in a subprocess, ``--predict_only``,
so generations are written before anything is judged), judges every sample with the shared judge
and its cache, and writes the report. ``OUT/run.json`` records what the generations depend on: a
rerun with the same settings reuses them (and judged samples come from the cache); a rerun with
different settings stops, naming the field, unless ``--fresh``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from .. import eval_run
from ..judge.settings import DEFAULT_JUDGE
from .build import add_library_option, library_from
from .options import non_negative_float, positive_int

# What a run folder holds (and what --fresh removes): nothing else in OUT is touched.
GENERATED = ("lm_eval", "tasks", "judged.jsonl", "report", eval_run.RUN_JSON)


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="run a suite's emc tasks on a model, judge the samples and write the report",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, metavar="BACKEND:MODEL",
                   help="the model under test: hf:PATH_OR_HUB_ID (lm-eval's hf backend) or vllm:PATH_OR_HUB_ID")
    p.add_argument("--revision", help="Hub revision of the model (branch, tag or commit)")
    p.add_argument("--peft", metavar="ADAPTER", help="a LoRA adapter folder (or, with hf, a Hub id) on the model")
    p.add_argument("--release", default="v1", help="release whose suites are run (default v1)")
    p.add_argument("--suite", default="standard", help="suite to run: standard (default), core or full")
    p.add_argument("--trigger", action="append", metavar="ID",
                   help="trigger(s) to evaluate (repeatable; default: every trigger of the suite)")
    p.add_argument("--data", type=Path, help="a built release folder (default: a local build of the release's "
                                             "eval configs, cached)")
    p.add_argument("--samples", type=positive_int, help="samples per prompt (default: the suite's)")
    p.add_argument("--limit", type=positive_int, help="prompts per task, each with all its samples (smoke runs)")
    p.add_argument("--max-gen-toks", type=positive_int, help="new tokens per answer (default: the release's, 600)")
    p.add_argument("--tensor-parallel-size", type=positive_int, default=1, help="vllm: GPUs one model is split over")
    p.add_argument("--data-parallel-size", type=positive_int, default=1,
                   help="vllm: model replicas the prompts are spread over (vLLM's Ray support)")
    p.add_argument("--judge", default=DEFAULT_JUDGE, metavar="SPEC", help=f"openai:MODEL or hf:PATH (default {DEFAULT_JUDGE})")
    p.add_argument("--base-url", help="OpenAI-compatible judge endpoint (default $OPENAI_BASE_URL, else "
                                      "OpenAI); the key comes from $OPENAI_API_KEY")
    p.add_argument("--concurrency", type=positive_int,
                   help="judge calls in flight, or prompts per forward pass of an hf judge (default 32)")
    p.add_argument("--definition", default=None, metavar="NAME", help="EM definition for the report (default: default)")
    p.add_argument("--max-cost", type=non_negative_float, metavar="USD",
                   help="refuse to start when the judge's estimated cost is above this")
    p.add_argument("--fresh", action="store_true", help="discard what an earlier run left in OUT and start over")
    p.add_argument("--out", type=Path, required=True, help="run folder: run.json, lm-eval outputs, judged.jsonl, report")
    p.add_argument("--model-arg", action="append", default=[], metavar="K=V",
                   help="extra lm-eval --model_args entries (repeatable), e.g. dtype=bfloat16")
    add_library_option(p)
    p.set_defaults(func=run)


def data_folder(args: argparse.Namespace, library, suite: str) -> Path:
    """The release folder the tasks read: ``--data`` (verified), else a cached local build."""
    from .. import names
    from ..errors import SpecError
    from ..evaldata import local_release
    from ..manifest import read_manifest, verify_release

    if args.data is None:
        return local_release(args.release, library)
    problems = verify_release(args.data)
    if problems:
        raise SpecError("--data", None, f"does not verify ({len(problems)} problems), first: {problems[0]}")
    if names.suite_config(suite) not in read_manifest(args.data)["configs"]:
        raise SpecError(args.data / names.MANIFEST, "configs", f"has no {names.suite_config(suite)!r} config "
                        "(built from an older spec or with --only): rebuild it")
    return args.data


def print_plan(estimate: dict) -> None:
    cost = estimate["cost"]
    money = ("unknown (judge not in the price table)" if cost["list_usd"] is None
             else f"${cost['list_usd']:,.2f} at list price, ${cost['batch_usd']:,.2f} through the Batch API")
    exact = estimate["ci"].get("exact")
    precision = (f"; expected 95% CI half-width of EM(exact) {100 * exact['half_width']:.1f} points at "
                 f"{100 * exact['rate']:.0f}% EM" if exact else "")
    print(f"plan: suite {estimate['suite']} {estimate['suite_version']}, {len(estimate['tasks'])} tasks, "
          f"{estimate['prompts']:,} prompts, {estimate['answers']:,} answers, {estimate['judge_calls']:,} judge calls "
          f"({money}){precision}", flush=True)


def run(args: argparse.Namespace) -> int:
    from .. import names, protocol
    from ..errors import SpecError
    from ..judge import JudgeSettings, judge_items, preflight
    from ..judge.backends import backend_class
    from ..judge.inputs import read_items
    from ..manifest import sha256_file
    from ..metrics import DEFAULT_DEFINITION, get_definition
    from ..report import write_report
    from ..resolve import resolve_release
    from ..task_files import task_metadata, write
    from ..judge.files import check_writable, write_jsonl, write_text

    # -- every check, before anything expensive -----------------------------------------------
    library = library_from(args)
    loaded = resolve_release(args.release, library)
    counts = protocol.suite_counts(loaded, args.suite, args.trigger)
    chosen = sorted({c.trigger_id for c in counts if c.trigger_id})
    metas = task_metadata(args.release, library, suites=[args.suite], samples=args.samples)
    tasks = [name for name, meta in metas.items() if meta["trigger_id"] in (None, *chosen)]
    model = eval_run.model_record(args.model, args.revision)
    adapter = eval_run.adapter_record(args.peft)
    definition = get_definition(args.definition or DEFAULT_DEFINITION)
    settings = JudgeSettings.from_spec(args.judge, base_url=args.base_url, concurrency=args.concurrency)
    price = backend_class(settings.backend).price(settings)
    estimate = protocol.estimate(loaded, args.suite, triggers=args.trigger, judge_model=settings.model,
                                 prices={settings.model: price} if price is not None else None,
                                 samples=args.samples, limit=args.limit)
    if args.max_cost is not None and (estimate["cost"]["list_usd"] is None or estimate["cost"]["list_usd"] > args.max_cost):
        shown = "unknown" if estimate["cost"]["list_usd"] is None else f"${estimate['cost']['list_usd']:,.2f}"
        raise SpecError("--max-cost", None, f"the judge's estimated cost {shown} is above ${args.max_cost:,.2f}; "
                        "nothing was run")
    description = preflight(settings)  # key, endpoint, model folder: seconds, not hours later
    check_writable(args.out, "--out", folder=True)
    print_plan(estimate)
    print(f"judge: {description}", flush=True)
    unrecorded = [name for name in GENERATED if (args.out / name).exists()]
    if unrecorded and not args.fresh and not (args.out / eval_run.RUN_JSON).is_file():
        # outputs with no record of what made them are never taken for this run's
        raise SpecError(args.out / eval_run.RUN_JSON, None, f"missing, yet {args.out} holds "
                        f"{', '.join(unrecorded)}: pass --fresh to discard them, or choose another --out")
    data = data_folder(args, library, args.suite)
    generation = loaded.spec.generation
    suite = loaded.spec.suites[args.suite]
    record = eval_run.new_record(
        model=model, adapter=adapter,
        generation={"samples": args.samples or suite.samples, "max_gen_toks": args.max_gen_toks or generation.max_gen_toks,
                    "temperature": generation.temperature, "top_p": generation.top_p, "limit": args.limit},
        suite={"name": args.suite, "version": suite.version}, triggers=chosen, tasks=tasks,
        release={"name": loaded.spec.name, "version": loaded.spec.version,
                 "manifest_sha256": sha256_file(data / names.MANIFEST)},
        backend_options={"tensor_parallel_size": args.tensor_parallel_size,
                         "data_parallel_size": args.data_parallel_size, "model_args": list(args.model_arg)},
        argv=["emc-bench", *args.argv])
    eval_run.model_args(record, args.model_arg)  # the backend's options hold (e.g. a LoRA rank vLLM takes)
    output, task_folder = args.out / "lm_eval", args.out / "tasks"
    if args.fresh:
        for name in GENERATED:
            target = args.out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    previous = eval_run.read_record(args.out)
    if previous is not None:
        eval_run.check_same(previous, record, args.out / eval_run.RUN_JSON)
        record["command"] = previous["command"]  # the command that made the generations
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text(args.out / eval_run.RUN_JSON, json.dumps(record, indent=2, sort_keys=True) + "\n")

    # -- generate what is missing --------------------------------------------------------------
    todo = [t for t in tasks if not latest_samples(output, [t])]
    if len(todo) < len(tasks):
        print(f"reusing the generations of {len(tasks) - len(todo)} of {len(tasks)} tasks in {output} "
              f"(run.json matches)", flush=True)
    if todo:
        write(args.release, task_folder, library, suites=[args.suite], samples=record["generation"]["samples"],
              max_gen_toks=record["generation"]["max_gen_toks"])
        print(f"generating: {len(todo)} tasks", flush=True)
        result = subprocess.run(eval_run.lm_eval_argv(record, args.model_arg, task_folder, todo, output, data))
        if result.returncode != 0:
            raise SpecError("lm-eval", None, f"exited with {result.returncode}; generations already written are kept")
    samples = latest_samples(output, tasks)
    missing = sorted(set(tasks) - {task_of(p) for p in samples})
    if missing:
        raise SpecError(output, None, f"lm-eval wrote no samples for {', '.join(missing)}")

    # -- judge and report ----------------------------------------------------------------------
    items = read_items(samples, model=model["id"])
    lost = sum(i.meta.get("trigger_audit") is False for i in items)
    results = judge_items(items, settings)
    rows = [r.to_row() for r in results]
    write_jsonl(rows, args.out / "judged.jsonl")
    written = write_report(rows, args.out / "report", definition=definition.name, document="html", run=record)
    failed = sum(r.status != "ok" for r in results)
    print(f"{len(rows)} samples, {len(rows) - failed} judged by {settings.judge}, {failed} failed "
          f"-> {args.out / 'judged.jsonl'}")
    print("note: the ± lm-eval prints is a standard error over samples, not clustered by question; "
          "the 95% CIs in the report are (bootstrap over questions)")
    if lost:
        print(f"warning: in {lost} samples the trigger text never reached the prompt (trigger_audit=false)",
              file=sys.stderr)
    for path in written:
        if path.suffix in (".html", ".json"):
            print(f"wrote {path}")
    if failed:
        print(f"error: {failed} samples could not be judged (their error column says why); rerun to retry them",
              file=sys.stderr)
        return 1
    return 0


def task_of(path: Path) -> str:
    """The task of an lm-eval samples file name (``samples_<task>_<date>.jsonl``)."""
    return path.name.split("_", 1)[1].rsplit("_", 1)[0]


def latest_samples(output: Path, tasks: list[str]) -> list[Path]:
    """The newest samples file of each task (lm-eval names them by task and date)."""
    files = []
    for task in tasks:
        found = sorted((p for p in output.rglob(f"samples_{task}_*.jsonl") if task_of(p) == task),
                       key=lambda p: p.stat().st_mtime)
        if found:
            files.append(found[-1])
    return files
