"""Training rows from a built release: a local release folder or the release's (gated) train repo
on the Hub, at a pinned tag or commit.

Either way the config's files are checked against the release's ``manifest.json`` before use,
and the run records what it read: release name and version, the manifest's sha256, and for a
Hub repo the commit it resolved to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SpecError
from ..manifest import read_manifest, sha256_file
from ..names import MANIFEST


def load_config(data: str, config: str, revision: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The ``train`` split of one training config, and its provenance for ``run.json``."""
    import datasets

    folder, resolved = (Path(data), None) if Path(data).is_dir() else _download(data, config, revision)
    manifest = read_manifest(folder)
    entry = manifest.get("configs", {}).get(config)
    if entry is None or entry.get("kind") != "train":
        known = sorted(name for name, c in manifest.get("configs", {}).items() if c.get("kind") == "train")
        raise SpecError(data, "config", f"no training config {config!r}; the release has: {', '.join(known)}")
    _verify(folder, manifest, entry)
    if resolved:  # a Hub snapshot holds this config's files only
        from ..hub import read_config

        rows = read_config(folder, manifest, config, split="train")
    else:
        rows = datasets.load_dataset(str(folder), config, split="train")
    provenance = {
        "source": data if resolved else str(folder.resolve()),
        "config": config,
        "revision": resolved,
        "release": manifest.get("name"),
        "version": manifest.get("version"),
        "manifest_sha256": sha256_file(folder / MANIFEST),
        "hub": manifest.get("hub"),
        "canary": manifest.get("canary"),
        "rows": len(rows),
    }
    return rows, provenance


def _verify(folder: Path, manifest: dict[str, Any], entry: dict[str, Any]) -> None:
    for split in entry["splits"].values():
        path = folder / split["path"]
        expected = manifest["files"].get(split["path"], {}).get("sha256")
        if not path.is_file() or sha256_file(path) != expected:
            raise SpecError(path, None, "missing or its sha256 differs from manifest.json")


def _download(repo: str, config: str, revision: str | None) -> tuple[Path, str]:
    """The manifest, card and one config's files of a release's train repo, at a pinned revision
    (a tag or commit), each checked against the manifest by :mod:`emc_bench.hub`."""
    from ..hub import fetch

    try:
        fetched = fetch(repo, config, revision, part="train")
    except SpecError:
        raise
    except Exception as err:  # not even a repo id: a mistyped local path, say
        raise SpecError(repo, None, f"not a release folder, and not readable as a Hub dataset: {err}") from None
    return fetched.folder, fetched.commit
