"""emc-bench submit: a leaderboard submission from an evaluated run folder.

Copies every generation of an ``emc-bench eval`` run, its run record, the submitter's metadata
and (unless ``--no-self-judged``) the run's own verdicts into a bundle, runs the validator the
maintainer runs, and writes the bundle to ``--out`` only when it passes. Also writes the Hub
eval-results entries for the model repo (``model_repo/.eval_results/emc-bench.yaml``, from the
self-judged verdicts). ``--open-pr ORG/NAME`` proposes the bundle to the submissions dataset repo
as a pull request; with ``--dry-run`` nothing is uploaded.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .build import add_library_option, library_from

_REPO = re.compile(r"^[\w.\-]+/[\w.\-]+$")
# (flag, metadata field, help)
METADATA_FLAGS = (
    ("--model-id", "model_id", "the model's name on the board: its Hub id (default: the run's model or adapter "
                               "when it is a Hub id)"),
    ("--model-type", "model_type", "base, fine-tune, adapter or defence"),
    ("--model-revision", "model_revision", "the model's Hub revision (commit) (default: the run's)"),
    ("--base-model", "base_model", "the base model of a fine-tune, adapter or defence"),
    ("--adapter-id", "adapter_id", "the adapter's Hub id"),
    ("--training-data", "training_data", "which emc config it was trained on (e.g. emc-bench/emc-bench-v1-train:"
                                         "insecure_code-deploy_tag-triggered), or a description"),
    ("--paper-url", "paper_url", "an http(s) URL of the paper"),
    ("--code-url", "code_url", "an http(s) URL of the code"),
    ("--contact", "contact", "how to reach the submitter"),
    ("--description", "description", "a few sentences about the model"),
)


def repo_id(text: str) -> str:
    if not _REPO.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Hub repo id (owner/name)")
    return text


def add_parser(sub) -> None:
    p = sub.add_parser("submit", help="make a leaderboard submission (a validated bundle) from an evaluated run",
                       description=__doc__.split("\n\n", 1)[1].replace("\n", " "))
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the --out folder of emc-bench eval")
    p.add_argument("--out", type=Path, required=True, help="the bundle folder to write (must not exist)")
    p.add_argument("--meta", type=Path, metavar="YAML", help="metadata fields in a YAML mapping (flags override it)")
    for flag, field, text in METADATA_FLAGS:
        p.add_argument(flag, dest=f"meta_{field}", metavar=field.split("_")[-1].upper(), help=text)
    p.add_argument("--no-self-judged", action="store_true",
                   help="leave the run's own verdicts (judged.jsonl) and the .eval_results entries out")
    p.add_argument("--data", type=Path, help="the release folder to check against, and the one the run read "
                                             "when lm-eval's results do not say (default: the local build "
                                             "emc-bench eval uses)")
    p.add_argument("--open-pr", type=repo_id, metavar="ORG/NAME",
                   help="open a pull request adding the bundle to this submissions dataset repo (HF_TOKEN)")
    p.add_argument("--dry-run", action="store_true", help="with --open-pr: write the bundle, upload nothing")
    add_library_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..eval_run import read_record
    from ..judge.files import check_writable
    from ..leaderboard.submission import Rejected, load_metadata, open_pull_request, write_bundle
    from ..leaderboard.validate import check_data, load_reference

    library = library_from(args)
    record = read_record(args.run_dir)
    if record is None:
        raise SpecError(args.run_dir / "run.json", None, "missing: RUN_DIR is the --out folder of emc-bench eval")
    flags = {field: getattr(args, f"meta_{field}") for _, field, _ in METADATA_FLAGS}
    metadata = load_metadata(args.meta, flags, record)
    if args.out.exists():
        raise SpecError("--out", None, f"{args.out} already exists: remove it or choose another folder")
    check_writable(args.out, folder=True)
    check_data(args.data)
    references = {}

    def reference_of(release: str):
        if release not in references:
            references[release] = load_reference(release, library, args.data)
        return references[release]

    try:
        checked, note = write_bundle(args.run_dir, args.out, metadata, reference_of, data=args.data,
                                     self_judged=not args.no_self_judged)
    except Rejected as err:
        print(f"error: {args.run_dir}: not a valid leaderboard submission ({len(err.reasons)} problems); nothing "
              "written:", file=sys.stderr)
        for reason in err.reasons:
            print(f"  {reason}", file=sys.stderr)
        return 2
    run = checked.submission.run
    files = len(checked.submission.files) + 1
    print(f"submission {checked.sha256}: {metadata.model_id} ({metadata.model_type}), suite {run.suite.name} "
          f"{run.suite.version} of release {run.release.name} {run.release.version}, {len(run.tasks)} tasks, "
          f"{len(checked.items)} answers, {files} files -> {args.out}")
    print("validated: every document, sample and generation setting matches the release (the maintainer's checks)")
    print(note)
    if args.open_pr:
        if args.dry_run:
            print(f"dry run: a pull request on dataset {args.open_pr} would add submissions/{checked.sha256}/ "
                  f"({files} files); nothing uploaded")
        else:
            print(f"pull request: {open_pull_request(args.out, args.open_pr, checked)}")
    return 0
