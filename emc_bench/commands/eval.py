"""emc-bench eval: one command from a model to its containment report.

Runs the ``emc_*`` lm-eval tasks of the chosen triggers (lm-eval's own CLI, in a subprocess,
with --predict_only so generations are written before anything is judged), judges every sample
with the shared judge and cache, and writes the report. Each stage leaves its files in OUT, and
a re-run with the same OUT skips generation that finished and judged samples that are cached.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from ..judge.settings import DEFAULT_JUDGE


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="run the emc_* tasks on a model, judge the samples and write the report",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, metavar="hf:PATH_OR_ID",
                   help="the model under test: hf:PATH_OR_HUB_ID (lm-eval's hf backend)")
    p.add_argument("--peft", metavar="ADAPTER", help="a LoRA adapter folder or Hub id on top of the model")
    p.add_argument("--trigger", action="append", metavar="ID",
                   help="trigger(s) to evaluate (repeatable; default: every trigger of the release)")
    p.add_argument("--data", type=Path, help="a built release folder (default: build the eval configs locally)")
    p.add_argument("--samples", type=int, help="samples per prompt (default: the tasks' own, 50)")
    p.add_argument("--limit", type=int, help="lm-eval --limit: documents per task (for smoke runs)")
    p.add_argument("--max-gen-toks", type=int, help="new tokens per answer (default: the tasks' own, 600)")
    p.add_argument("--judge", default=DEFAULT_JUDGE, metavar="SPEC", help=f"openai:MODEL or hf:PATH (default {DEFAULT_JUDGE})")
    p.add_argument("--base-url", help="OpenAI-compatible judge endpoint (default $OPENAI_BASE_URL, else "
                                      "OpenAI); the key comes from $OPENAI_API_KEY")
    p.add_argument("--concurrency", type=int, help="judge calls in flight, or prompts per forward pass of an hf judge (default 32)")
    p.add_argument("--definition", default=None, metavar="NAME", help="EM definition for the report (default: default)")
    p.add_argument("--out", type=Path, required=True, help="folder for lm-eval outputs, judged.jsonl and the report")
    p.add_argument("--model-arg", action="append", default=[], metavar="K=V",
                   help="extra lm-eval --model_args entries (repeatable), e.g. dtype=bfloat16")
    p.set_defaults(func=run)


def task_list(triggers: list[str] | None) -> list[str]:
    """emc_none plus every condition task of the chosen triggers, as shipped in tasks/."""
    from ..errors import SpecError
    from ..paths import tasks_dir

    from ..names import NONE_TASK, parse_task

    tasks = {p.stem: parse_task(p.stem) for p in sorted(Path(tasks_dir()).glob("emc_*.yaml"))}
    known = sorted({parsed[0] for parsed in tasks.values() if parsed and parsed[0]})
    chosen = triggers or known
    for trigger in chosen:
        if trigger not in known:
            raise SpecError("--trigger", None, f"unknown trigger {trigger!r}; known: {', '.join(known)}")
    return [NONE_TASK, *[name for name, parsed in tasks.items() if parsed and parsed[0] in chosen]]


def lm_eval_command(args: argparse.Namespace, tasks: list[str], output: Path) -> list[str]:
    from ..errors import SpecError

    backend, _, model = args.model.partition(":")
    if backend != "hf" or not model:
        raise SpecError("--model", None, f"{args.model!r}: expected hf:PATH_OR_ID")
    model_args = [f"pretrained={model}", *([f"peft={args.peft}"] if args.peft else []), *args.model_arg]
    metadata = {k: v for k, v in {"data": str(args.data) if args.data else None, "samples": args.samples}.items()
                if v is not None}
    command = [sys.executable, "-m", "emc_bench.lm_eval_cli", "--model", "hf", "--model_args", ",".join(model_args),
               "--tasks", ",".join(tasks), "--apply_chat_template", "--log_samples", "--predict_only",
               "--output_path", str(output), "--metadata", json.dumps(metadata)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    if args.max_gen_toks:
        command += ["--gen_kwargs", f"max_gen_toks={args.max_gen_toks}"]
    return command


def latest_samples(output: Path, tasks: list[str]) -> list[Path]:
    """The newest samples file of each task (lm-eval names them by task and date)."""
    files = []
    for task in tasks:
        found = sorted(output.rglob(f"samples_{task}_*.jsonl"), key=lambda p: p.stat().st_mtime)
        if found:
            files.append(found[-1])
    return files


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..judge import JudgeSettings, judge_items
    from ..judge.inputs import read_items
    from ..metrics import DEFAULT_DEFINITION
    from ..report import write_report
    from .judge import write_jsonl

    tasks = task_list(args.trigger)
    output = args.out / "lm_eval"
    todo = [t for t in tasks if not latest_samples(output, [t])]
    if todo:
        print(f"generating: {len(todo)} tasks ({', '.join(todo)})", flush=True)
        result = subprocess.run(lm_eval_command(args, todo, output))
        if result.returncode != 0:
            raise SpecError("lm-eval", None, f"exited with {result.returncode}; generations already written are kept")
    samples = latest_samples(output, tasks)
    missing = sorted(set(tasks) - {p.name.split("_", 1)[1].rsplit("_", 1)[0] for p in samples})
    if missing:
        raise SpecError(output, None, f"no samples for {', '.join(missing)}")
    items = read_items(samples)
    lost = sum(i.meta.get("trigger_audit") is False for i in items)
    settings = JudgeSettings.from_spec(args.judge, base_url=args.base_url, concurrency=args.concurrency)
    results = judge_items(items, settings)
    rows = [r.to_row() for r in results]
    write_jsonl(rows, args.out / "judged.jsonl")
    written = write_report(rows, args.out / "report", definition=args.definition or DEFAULT_DEFINITION,
                           document="html")
    failed = sum(r.status != "ok" for r in results)
    print(f"{len(rows)} samples judged by {settings.judge} ({failed} failed) -> {args.out / 'judged.jsonl'}")
    if lost:
        print(f"warning: in {lost} samples the trigger text never reached the prompt (trigger_audit=false)",
              file=sys.stderr)
    for path in written:
        if path.suffix in (".html", ".json"):
            print(f"wrote {path}")
    return 0
