"""emc-bench publish: upload a built release (two dataset repos) or a trained run (adapter) to the Hub."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="upload a release (public eval repo + gated train repo) or a trained adapter "
                                       "to the Hugging Face Hub",
                       description="Stage the exact folders to upload, then create the repos and upload them. "
                                   "--dry-run writes the staged folders to --out and makes no network call. The Hub "
                                   "token comes from `hf auth login` or $HF_TOKEN; $HF_ENDPOINT picks another Hub.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    adapter = kinds.add_parser("adapter", help="a finished training run: adapter, model card, run.json, curves")
    adapter.add_argument("folder", type=Path, help="run folder written by `emc-bench train`")
    adapter.add_argument("--repo", help="Hub model repo id, owner/name")
    adapter.add_argument("--report", type=Path, metavar="REPORT",
                         help="`emc-bench report` folder (or its profile.json) of an evaluation of this adapter: "
                              "its containment profile goes into the model card")
    adapter.add_argument("--create-pr", action="store_true",
                         help="open a pull request on the repo instead of committing to its main branch")
    _common(adapter, "hub-upload/<repo>")

    dataset = kinds.add_parser("dataset", help="a full release build: evaluation configs to a public repo, "
                                               "training configs to a gated repo, both tagged")
    dataset.add_argument("folder", type=Path, help="release folder written by `emc-bench build` (without --only)")
    dataset.add_argument("--part", choices=("eval", "train"), help="publish one part only (default: both)")
    dataset.add_argument("--eval-repo", help="public dataset repo of the eval configs (default: the release's "
                                             "hub.eval_repo)")
    dataset.add_argument("--train-repo", help="gated dataset repo of the training configs (default: the release's "
                                              "hub.train_repo)")
    dataset.add_argument("--revision", metavar="TAG",
                         help="tag each uploaded commit (default: the release's hub.revision), so that "
                              "load_dataset(repo, config, revision=TAG) pins this release")
    _common(dataset, "hub-upload/<release>-<version>, holding eval/ and train/")

    leaderboard = kinds.add_parser("leaderboard", help="a built leaderboard site, as a static Space")
    leaderboard.add_argument("folder", type=Path, help="site folder written by `emc-bench leaderboard build`")
    leaderboard.add_argument("--repo", help="Hub Space repo id, owner/name")
    _common(leaderboard, "hub-upload/<repo>")


def _common(p: argparse.ArgumentParser, default_out: str) -> None:
    p.add_argument("--private", action="store_true", help="create new repos private")
    p.add_argument("--dry-run", action="store_true", help="only write what would be uploaded")
    p.add_argument("--out", type=Path, help=f"where the staged files go (default with --dry-run: {default_out}; "
                                            "otherwise a temporary folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "leaderboard":
        from ..leaderboard.space import publish_command

        return publish_command(args)
    return _dataset(args) if args.kind == "dataset" else _adapter(args)


def _dataset(args: argparse.Namespace) -> int:
    from ..manifest import read_manifest
    from ..publish import PARTS, hub_targets, load_instructions, publish_dataset, stage_dataset

    manifest = read_manifest(args.folder)
    hub = hub_targets(manifest, args.eval_repo, args.train_repo, args.revision)
    parts = (args.part,) if args.part else PARTS
    repos, tag = {part: hub[f"{part}_repo"] for part in PARTS}, hub["revision"]
    chosen = {part: repos[part] for part in parts}

    def stage(target: Path) -> dict[str, Path]:
        return stage_dataset(args.folder, target, parts, eval_repo=repos["eval"], train_repo=repos["train"], revision=tag)

    if args.dry_run:
        staged = stage(args.out or Path("hub-upload") / f"{manifest['name']}-{manifest['version']}")
        for part, folder in staged.items():
            files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
            gate = "gated" if part == "train" else "public"
            print(f"dry run: {len(files)} files staged in {folder} for the {gate} dataset repo {chosen[part]} "
                  f"(tag {tag}); nothing uploaded")
        print(load_instructions(chosen.get("eval"), chosen.get("train"), tag))
        return 0
    with tempfile.TemporaryDirectory(prefix="emc-bench-upload-") as tmp:
        staged = stage(args.out or Path(tmp) / "staged")
        for line in publish_dataset(staged, chosen, tag, private=args.private):
            print(line)
    print(load_instructions(chosen.get("eval"), chosen.get("train"), tag))
    return 0


def _adapter(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..publish import stage_adapter, upload

    repo = args.repo
    if not repo:
        raise SpecError("--repo", None, "name the Hub repo (owner/name)")

    def stage(target: Path) -> Path:
        return stage_adapter(args.folder, target, repo, report=args.report, hub_base=not args.dry_run)

    if args.dry_run:
        folder = stage(args.out or Path("hub-upload") / repo)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        print(f"dry run: {len(files)} files staged in {folder} for model repo {repo}; nothing uploaded")
        for name in files:
            print(f"  {name}")
        return 0
    with tempfile.TemporaryDirectory(prefix="emc-bench-upload-") as tmp:
        folder = stage(args.out or Path(tmp) / repo.replace("/", "__"))
        url, changed = upload(folder, repo, "model", private=args.private, create_pr=args.create_pr)
    if not changed:
        print(f"{repo} already holds these exact files; nothing uploaded ({url})")
    else:
        print(f"uploaded {args.folder} to {url}{' as a pull request' if args.create_pr else ''}")
    return 0
