"""emc-bench publish: upload a built release (dataset) or a trained run (adapter) to the Hub."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="upload a release folder or a trained adapter to the Hugging Face Hub",
                       description="Stage the exact folder to upload, then create the repo and upload it. "
                                   "--dry-run writes the staged folder to --out and makes no network call.")
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    adapter = kinds.add_parser("adapter", help="a finished training run: adapter, model card, run.json, curves")
    adapter.add_argument("folder", type=Path, help="run folder written by `emc-bench train`")
    adapter.add_argument("--report", type=Path,
                         help="evaluation report JSON whose containment profile goes into the model card")
    _common(adapter)

    dataset = kinds.add_parser("dataset", help="a built release folder (verified against its manifest first)")
    dataset.add_argument("folder", type=Path, help="release folder written by `emc-bench build`")
    dataset.add_argument("--revision", metavar="TAG",
                         help="tag the uploaded commit (default: the release's hub.revision, if any), so that "
                              "load_dataset(repo, config, revision=TAG) pins this release")
    _common(dataset)

    leaderboard = kinds.add_parser("leaderboard", help="a built leaderboard site, as a static Space")
    leaderboard.add_argument("folder", type=Path, help="site folder written by `emc-bench leaderboard build`")
    _common(leaderboard)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", help="Hub repo id, owner/name (a dataset defaults to the release's hub.repo)")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--dry-run", action="store_true", help="only write the folder that would be uploaded")
    p.add_argument("--out", type=Path, help="where the staged folder goes (default with --dry-run: "
                                            "hub-upload/<repo>; otherwise a temporary folder)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..publish import stage_adapter, stage_dataset, upload
    from ..release import read_manifest

    if args.kind == "leaderboard":
        from ..leaderboard.space import publish_command

        return publish_command(args)
    tag = None
    repo = args.repo
    if args.kind == "dataset":
        hub = read_manifest(args.folder).get("hub") or {}
        repo, tag = repo or hub.get("repo"), args.revision or hub.get("revision")
    if not repo:
        raise SpecError("--repo", None, "name the Hub repo (owner/name)")

    def stage(target: Path) -> Path:
        if args.kind == "adapter":
            return stage_adapter(args.folder, target, repo, report=args.report, hub_base=not args.dry_run)
        return stage_dataset(args.folder, target)

    repo_type = "model" if args.kind == "adapter" else "dataset"
    if args.dry_run:
        folder = stage(args.out or Path("hub-upload") / repo)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        print(f"dry run: {len(files)} files staged in {folder} for {repo_type} repo {repo}"
              f"{f' (tag {tag})' if tag else ''}; nothing uploaded")
        for name in files:
            print(f"  {name}")
        return 0
    if args.out:
        url = upload(stage(args.out), repo, repo_type, tag=tag, private=args.private)
    else:
        with tempfile.TemporaryDirectory(prefix="emc-bench-upload-") as tmp:
            url = upload(stage(Path(tmp) / repo.replace("/", "__")), repo, repo_type, tag=tag, private=args.private)
    print(f"uploaded {args.folder} to {url}{f' and tagged it {tag}' if tag else ''}")
    return 0

