"""Writing, reading and verifying release folders (parquet files, card, manifest)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import __version__, schema
from .build import BUILDER_VERSION, ConfigPlan, LoadedRelease, composition, plan_release, resolve_release, select, spec_hash
from .errors import SpecError
from .library import Library

MANIFEST = "manifest.json"
CARD = "README.md"
SELF_HASH = "self_sha256"  # the manifest's hash of its own content, so that an edit shows


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_parquet(rows: list[dict], columns, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=10_000)


def build_release(release: str | Path, out: str | Path, only: str | None = None,
                  library: Library | None = None, progress: bool = True, leakage_gate: bool = True) -> dict[str, Any]:
    """Build ``release`` into ``out`` (replaced atomically) and return the manifest.

    ``leakage_gate=False`` skips the leakage-by-meaning check, which embeds every training
    prompt (minutes on a CPU the first time, cached after): for quick local eval builds only;
    the manifest then says the release was not checked.
    """
    from tqdm import tqdm

    from .leakage import gate_release_leakage
    from .variants import gate_release, manifest_section, write_variant_tables

    loaded = resolve_release(release, library)
    plans = select(plan_release(loaded), only)
    gates = gate_release(loaded)
    leakage = gate_release_leakage(loaded, progress=progress) if leakage_gate else None
    if progress:
        print(f"{gates.format()}\n{leakage.format() if leakage else 'leakage by meaning: not checked'}\n")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        configs = {plan.name: _write_config(plan, staging)
                   for plan in tqdm(plans, desc=f"build {loaded.spec.name}", unit="config", disable=not progress)}
        tables = write_variant_tables(gates.rows, staging, loaded.spec.canary)
        manifest = _manifest(loaded, configs)
        manifest.update(partial=only is not None, **({"only": only} if only is not None else {}))
        manifest["similarity"] = {**manifest_section(gates, tables),
                                  "leakage": leakage.to_dict() if leakage else "not checked"}
        data = [split["path"] for config in configs.values() for split in config["splits"].values()]
        manifest["files"] = _hashes(staging, [*data, *tables.values()])
        _write_card(loaded, manifest, staging / CARD)
        manifest["files"].update(_hashes(staging, [CARD]))
        write_manifest(manifest, staging / MANIFEST)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _write_config(plan: ConfigPlan, staging: Path) -> dict[str, Any]:
    columns = schema.TRAIN if plan.kind == "train" else schema.EVAL
    splits = {}
    for split, rows in plan.make().items():
        relative = f"data/{plan.name}/{split}.parquet"
        write_parquet(rows, columns, staging / relative)
        splits[split] = {"path": relative, "rows": len(rows)}
        if plan.kind == "train":
            splits[split]["composition"] = composition(rows)
    return {"kind": plan.kind, **plan.info, "splits": splits}


def _manifest(loaded: LoadedRelease, configs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": loaded.spec.name,
        "version": loaded.spec.version,
        "description": loaded.spec.description,
        "seed": loaded.spec.seed,
        "canary": loaded.spec.canary,
        "package_version": __version__,
        "builder_version": BUILDER_VERSION,
        "spec_hash": spec_hash(loaded.spec_files),
        "spec_files": [p.name for p in loaded.spec_files],
        "hub": loaded.spec.hub.model_dump() if loaded.spec.hub else None,
        "configs": configs,
    }


def _hashes(root: Path, relatives: list[str]) -> dict[str, dict[str, Any]]:
    return {r: {"sha256": sha256_file(root / r), "bytes": (root / r).stat().st_size} for r in relatives}


def _write_card(loaded: LoadedRelease, manifest: dict, path: Path) -> None:
    import jinja2

    from .paths import cards_dir

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(cards_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template("dataset_card.md.jinja").render(manifest=manifest, release=loaded.spec)
    path.write_text(text, encoding="utf-8")


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` with ``staging`` so that readers see the old folder or the new one."""
    old = None
    if out.exists():
        if not (out / MANIFEST).is_file() and any(out.iterdir()):
            raise SpecError(out, None, "exists and is not a release folder (no manifest.json): refusing to replace it")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(staging, out)
    os.chmod(out, 0o755)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def manifest_sha256(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON (sorted keys, compact), its ``self_sha256`` left out."""
    body = {key: value for key, value in manifest.items() if key != SELF_HASH}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """Write ``manifest`` with its ``self_sha256`` (not atomic: callers write into a staging folder)."""
    manifest[SELF_HASH] = manifest_sha256(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise SpecError(path, None, "not a release folder (manifest.json missing)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SpecError(path, f"line {err.lineno}", f"invalid JSON: {err.msg}") from None


def verify_release(folder: str | Path) -> list[str]:
    """Problems found (empty when every file matches the manifest). Each names the file."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    problems = []
    if manifest.get(SELF_HASH) != manifest_sha256(manifest):
        problems.append(f"{folder / MANIFEST}: edited after the build (its content does not match its {SELF_HASH})")
    for relative, expected in sorted(manifest["files"].items()):
        path = folder / relative
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != expected["sha256"]:
            problems.append(f"{path}: sha256 differs from manifest.json")
    listed = set(manifest["files"]) | {MANIFEST}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.relative_to(folder).as_posix() not in listed:
            problems.append(f"{path}: not listed in manifest.json")
    return problems
