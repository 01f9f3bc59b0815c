"""emc-bench results-yaml: a model repo's ``.eval_results/emc-bench.yaml`` from an evaluated run."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    from .build import add_library_option

    p = sub.add_parser("results-yaml", help="the Hub eval results (.eval_results/emc-bench.yaml) of an evaluated run",
                       description="Write the entries a model repo's .eval_results/emc-bench.yaml holds for an "
                                   "emc-bench eval run folder (run.json, report/profile.json, judged.jsonl): EM per "
                                   "condition (percent) and the containment gap per trigger (points), each against "
                                   "its task of the release's eval.yaml, with the eval repo's commit, the date, a "
                                   "source and notes naming the judge, EM definition, suite and CI.")
    p.add_argument("run", type=Path, metavar="RUN", help="an emc-bench eval run folder")
    p.add_argument("--dataset", help="the benchmark's dataset repo (default: the release's eval repo)")
    p.add_argument("--revision", help="its commit, or a tag resolved to its commit on the Hub (default: the "
                                      "release's tag)")
    p.add_argument("--date", help="ISO 8601 date or datetime of the evaluation (default: when the report was written)")
    p.add_argument("--source-url", help="where the evaluation can be inspected, e.g. the repo holding the run's "
                                        "logs or the adapter (default: the benchmark's dataset page)")
    p.add_argument("--source-name", default="emc-bench eval", help="display name of the source (default: %(default)s)")
    p.add_argument("--out", type=Path, help="file to write (default: RUN/.eval_results/emc-bench.yaml)")
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import date, datetime

    from huggingface_hub import constants

    from ..errors import SpecError
    from ..resolve import resolve_release
    from ..judge.files import write_text
    from ..results_yaml import RESULTS_DIR, RESULTS_FILE, dataset_commit, entries, read_run, render, report_date
    from .build import library_from

    record, report, judges = read_run(args.run)
    spec = resolve_release(record["release"]["name"], library_from(args)).spec
    if spec.version != record["release"]["version"]:
        raise SpecError(args.run / "run.json", "release.version", f"is {record['release']['version']}, but the "
                        f"release spec {spec.name} is {spec.version}: results belong to the release that was run")
    dataset = args.dataset or (spec.hub.eval_repo if spec.hub else None)
    revision = args.revision or (spec.hub.revision if spec.hub else None)
    if not dataset or not revision:
        raise SpecError("--dataset" if not dataset else "--revision", None,
                        f"the release {spec.name} names no Hub repo: give --dataset and --revision")
    if args.date:
        try:
            (datetime if "T" in args.date else date).fromisoformat(args.date.replace("Z", "+00:00"))
        except ValueError:
            raise SpecError("--date", None, f"{args.date!r} is not an ISO 8601 date or datetime") from None
    commit = dataset_commit(dataset, revision)
    results = entries(record, report, judges, dataset=dataset, revision=commit, date=args.date or report_date(args.run),
                      source_url=args.source_url or f"{constants.ENDPOINT}/datasets/{dataset}",
                      source_name=args.source_name)
    out = args.out or args.run / RESULTS_DIR / RESULTS_FILE
    write_text(out, render(results, spec.canary))
    print(f"{len(results)} results for {record['model']['id']} on {dataset}@{commit[:12]} -> {out}")
    print(f"add it to the model repo as {RESULTS_DIR}/{RESULTS_FILE} (a pull request shows it as community-provided)")
    return 0
