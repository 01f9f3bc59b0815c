"""The leaderboard site as a static Hugging Face Space: stage it, then upload it.

The staged folder is the site plus a ``README.md`` whose YAML (validated by huggingface_hub's
``SpaceCardData``) declares ``sdk: static`` and ``app_file: index.html``. The upload creates the
Space if needed and makes the Space's files exactly the staged folder in one commit. A dry run
stops after staging and makes no network call.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..publish import stage_folder
from ..version import __version__
from .site import SITE_MARKER, is_site, templates_dir

TITLE = "emc-bench leaderboard"
LICENSE = "apache-2.0"
README = "README.md"


def space_readme(facts: dict[str, Any]) -> str:
    import jinja2
    from huggingface_hub import SpaceCard, SpaceCardData

    data = SpaceCardData(title=TITLE, sdk="static", app_file="index.html", license=LICENSE, emoji="📊",
                         colorFrom="gray", colorTo="red", pinned=False,
                         short_description="Semantically contained emergent misalignment",
                         tags=["leaderboard", "emergent-misalignment", "ai-safety", "emc-bench"])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    body = env.get_template("space_README.md.jinja").render(facts=facts)
    return str(SpaceCard(f"---\n{data.to_yaml()}\n---\n{body}"))


def stage_space(site: str | Path, target: str | Path) -> Path:
    """Copy a built leaderboard site and its Space README to ``target`` (which must not exist)."""
    site, target = Path(site), Path(target)
    if not is_site(site):
        raise SpecError(site, None, f"not a leaderboard site (no {SITE_MARKER}): run `emc-bench leaderboard build`")
    if (site / README).exists():
        raise SpecError(site / README, None, "a leaderboard site holds no README.md: the Space's README is staged here")
    readme = space_readme(json.loads((site / SITE_MARKER).read_text(encoding="utf-8")))

    def fill(staging: Path) -> None:
        shutil.copytree(site, staging, dirs_exist_ok=True)
        (staging / README).write_text(readme, encoding="utf-8")
        os.chmod(staging / README, 0o644)

    return stage_folder(target, fill)


def upload_space(folder: Path, repo: str, *, private: bool = False, api: Any = None) -> str:
    """Create the static Space ``repo`` if needed and make its files those of ``folder``; return the commit URL."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    api.create_repo(repo, repo_type="space", space_sdk="static", private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="space", delete_patterns=["*"],
                               commit_message=f"Leaderboard built with emc-bench {__version__}")
    return commit.commit_url


def publish_command(args: argparse.Namespace) -> int:
    """``emc-bench publish leaderboard SITE --repo ORG/NAME [--dry-run] [--out DIR] [--private]``."""
    if not args.repo:
        raise SpecError("--repo", None, "name the Space (owner/name)")
    if args.dry_run:
        folder = stage_space(args.folder, args.out or Path("hub-upload") / args.repo)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        print(f"dry run: {len(files)} files staged in {folder} for static Space {args.repo}; nothing uploaded")
        return 0
    if args.out:
        url = upload_space(stage_space(args.folder, args.out), args.repo, private=args.private)
    else:
        with tempfile.TemporaryDirectory(prefix="emc-bench-upload-") as tmp:
            url = upload_space(stage_space(args.folder, Path(tmp) / "space"), args.repo, private=args.private)
    print(f"uploaded {args.folder} to {url}")
    return 0
