"""Verified loading of a published release from the Hugging Face Hub.

``load(config, revision=...)`` loads one config the way ``datasets.load_dataset(repo, config,
revision=...)`` does, but trusts nothing it downloads:

1. the revision must be pinned: a tag (``v1.0.0``) or a commit id. A branch such as ``main``
   moves under the reader and is refused; the tag is resolved to its commit once, and every file
   is then read at that commit;
2. ``manifest.json`` at that commit must be the manifest of the part the repo holds (``eval`` or
   ``train``) and match its own ``self_sha256``;
3. every file of the config must match the sha256 the manifest lists; only then does ``datasets``
   load them, from the verified local copies, one parquet file per split as the manifest maps them
   (the card's ``configs:`` say the same; they are what ``load_dataset`` reads).

A mismatch, an unpinned revision, a gated repo without access: one line, a ``SpecError``.
``load_dataset`` itself keeps working as it always did. Nothing here imports lm-eval; the lm-eval
tasks call :func:`load_split`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SpecError
from .manifest import SELF_HASH, manifest_sha256, sha256_file
from .names import MANIFEST, config_part

COMMIT = re.compile(r"^[0-9a-f]{40}$")
DEFAULT_RELEASE = "v1"


@dataclass(frozen=True)
class Fetched:
    """A config's verified files: the local folder holding them, the commit they came from, the manifest."""

    folder: Path
    repo: str
    commit: str
    manifest: dict[str, Any]


def load(config: str, revision: str | None = None, split: str | None = None, repo: str | None = None,
         part: str | None = None, release: str = DEFAULT_RELEASE):
    """One config of a published release, every file checked against the release's manifest.

    ``revision`` defaults to the release's tag and ``repo`` to the release's repo for ``part``
    (``eval`` or ``train``, by default inferred from the config name); both defaults come from the
    packaged release spec (``builders/releases/<release>.yaml``, key ``hub``). Returns what
    ``datasets.load_dataset`` returns: a DatasetDict, or one Dataset when ``split`` is given.
    """
    part = part or config_part(config)
    if part not in ("eval", "train"):
        raise SpecError("part", None, f"must be 'eval' or 'train', not {part!r}")
    if repo is None or revision is None:
        hub = release_hub(release)
        repo = repo or hub[f"{part}_repo"]
        revision = revision or hub["revision"]
    fetched = fetch(repo, config, revision, part=part, split=split)
    return read_config(fetched.folder, fetched.manifest, config, split)


def read_config(folder: Path, manifest: dict[str, Any], config: str, split: str | None = None):
    """Load a config's (already verified) parquet files, one per split as ``manifest`` maps them."""
    import datasets

    files = {name: str(Path(folder) / info["path"]) for name, info in manifest["configs"][config]["splits"].items()
             if split in (None, name)}
    return datasets.load_dataset("parquet", data_files=files, split=split)


def load_split(repo: str, config: str, split: str, revision: str | None):
    """The lm-eval loader's entry: one split of an eval config from ``repo`` at ``revision``, verified."""
    return load(config, revision=revision, split=split, repo=repo, part=config_part(config))


def release_hub(release: str = DEFAULT_RELEASE) -> dict[str, str]:
    """The ``hub`` section of a packaged release spec."""
    from .library import Library
    from .specs import load_release

    path = Library().find("releases", release)
    spec = load_release(path)
    if spec.hub is None:
        raise SpecError(path, "hub", "the release names no Hub repos: pass repo= and revision=")
    return spec.hub.model_dump()


def fetch(repo: str, config: str, revision: str | None, part: str | None = None, api: Any = None,
          split: str | None = None) -> Fetched:
    """Download the manifest and ``config``'s files (only ``split``'s when given) of ``repo`` at a
    pinned revision, and verify them."""
    from huggingface_hub import HfApi, snapshot_download

    api = api or HfApi()
    part = part or config_part(config)
    where = f"{repo}@{revision}"
    with _hub_errors(repo, revision):
        commit = pinned_commit(api, repo, revision)
        manifest_path = Path(api.hf_hub_download(repo, MANIFEST, repo_type="dataset", revision=commit))
    manifest = _read_manifest(manifest_path, where)
    if manifest.get("part") != part:
        raise SpecError(f"{where}/{MANIFEST}", "part", f"is {manifest.get('part')!r}, not {part!r}: {repo} is not the "
                        f"{part} repo of an emc-bench release")
    entry = manifest.get("configs", {}).get(config)
    if entry is None:
        known = ", ".join(sorted(manifest.get("configs", {}))) or "none"
        raise SpecError(where, "config", f"no config {config!r}; this repo has: {known}")
    splits = entry["splits"]
    if split is not None and split not in splits:
        raise SpecError(where, "split", f"{config} has no split {split!r} (it has: {', '.join(splits)})")
    files = [info["path"] for name, info in splits.items() if split in (None, name)]
    with _hub_errors(repo, revision):
        folder = Path(snapshot_download(repo, repo_type="dataset", revision=commit, allow_patterns=[MANIFEST, *files],
                                        endpoint=api.endpoint, token=api.token))
    for name in files:
        expected = manifest["files"].get(name, {}).get("sha256")
        path = folder / name
        if not path.is_file():
            raise SpecError(f"{where}/{name}", None, "missing from the repo, though manifest.json lists it")
        if expected is None or sha256_file(path) != expected:
            raise SpecError(f"{where}/{name}", "sha256", "differs from manifest.json: the download is not the "
                            "published file; refusing to load it")
    return Fetched(folder, repo, commit, manifest)


def pinned_commit(api: Any, repo: str, revision: str | None) -> str:
    """The commit a tag or commit id names; a branch, or no revision, is refused."""
    if not revision:
        raise SpecError("revision", None, f"is required to load {repo}: pin a release tag (such as v1.0.0) or a "
                        "commit id")
    if COMMIT.match(revision):
        return api.dataset_info(repo, revision=revision).sha
    refs = api.list_repo_refs(repo, repo_type="dataset")
    tags = {ref.name: ref.target_commit for ref in refs.tags}
    if revision in tags:
        return tags[revision]
    if revision in {ref.name for ref in refs.branches} or revision.startswith("refs/"):
        raise SpecError("revision", None, f"{revision!r} is a branch of {repo}, which moves: pin a tag "
                        f"({', '.join(sorted(tags)) or 'none yet'}) or a commit id")
    raise SpecError("revision", None, f"{revision!r} is not a tag of {repo} (tags: {', '.join(sorted(tags)) or 'none'})")


def _read_manifest(path: Path, where: str) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SpecError(f"{where}/{MANIFEST}", f"line {err.lineno}", f"invalid JSON: {err.msg}") from None
    if not isinstance(manifest, dict) or manifest.get(SELF_HASH) != manifest_sha256(manifest):
        raise SpecError(f"{where}/{MANIFEST}", SELF_HASH, "does not match the manifest's content: it was edited "
                        "after the release was built")
    return manifest


class _hub_errors:
    """Turn the Hub client's errors into one line naming the repo (and how to get access)."""

    def __init__(self, repo: str, revision: str | None):
        self.repo, self.revision = repo, revision

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        if err is None or isinstance(err, SpecError):
            return False
        from huggingface_hub import constants
        from huggingface_hub.errors import (
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            RemoteEntryNotFoundError,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        page = f"{constants.ENDPOINT}/datasets/{self.repo}"
        if isinstance(err, GatedRepoError):
            raise SpecError(self.repo, None, f"is gated: request access at {page} (name, affiliation, intended "
                            "use, research-only agreement), wait for approval, then log in with `hf auth login` "
                            "or set HF_TOKEN") from None
        if isinstance(err, RevisionNotFoundError):
            raise SpecError("revision", None, f"{self.revision!r} does not exist in {self.repo}") from None
        if isinstance(err, RepositoryNotFoundError):
            raise SpecError(self.repo, None, f"no such dataset repo on {constants.ENDPOINT} (or it is private and "
                            "you are not logged in)") from None
        if isinstance(err, RemoteEntryNotFoundError):
            raise SpecError(f"{self.repo}@{self.revision}", None, "has no manifest.json: not an emc-bench release "
                            "repo") from None
        if isinstance(err, (HfHubHTTPError, LocalEntryNotFoundError, OSError)):
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise SpecError(self.repo, None, f"cannot read it from the Hub: {first}") from None
        return False
