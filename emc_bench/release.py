"""Building a release folder: the one orchestrator over the steps below it.

Resolve the spec (``resolve.py``), score and gate the trigger variants (``variants.py``), check
leakage by meaning (``leakage.py``), render every config's rows (``build.py``), then write the
parquet files, variant tables, the Hub benchmark's ``eval.yaml`` (``hub_benchmark.py``), dataset
card and manifest (``manifest.py``) into a staging folder
that replaces the output folder atomically.

A release folder holds ``data/<config>/<split>.parquet``, a dataset card ``README.md`` whose
YAML ``configs:`` makes ``datasets.load_dataset(folder, config)`` work, and ``manifest.json``
(sha256 of every file, row counts, composition, seed, spec hash, versions, canary). The same
spec and seed give byte-identical files; the folder appears atomically or not at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import names, schema
from .build import BUILDER_VERSION, ConfigPlan, composition, plan_release, select
from .errors import SpecError
from .hub_benchmark import write_eval_yaml
from .library import Library
from .manifest import file_hashes, write_manifest
from .names import CARD, MANIFEST
from .resolve import LoadedRelease, resolve_release, spec_hash
from .version import __version__


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

    from .variants import gate_release, manifest_section, scores_by_variant, write_variant_tables

    loaded = resolve_release(release, library)
    select(plan_release(loaded), only)  # a bad --only stops here, before anything is embedded
    gates = gate_release(loaded)
    plans = select(plan_release(loaded, scores_by_variant(gates.rows)), only)
    leakage, summary = release_leakage(loaded, progress) if leakage_gate else ("not checked", "")
    if progress:
        print(f"{gates.format()}\n{summary or 'leakage by meaning: not checked'}\n")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        configs = {plan.name: _write_config(plan, staging)
                   for plan in tqdm(plans, desc=f"build {loaded.spec.name}", unit="config", disable=not progress)}
        tables = write_variant_tables(gates.rows, staging, loaded.spec.canary)
        manifest = _manifest(loaded, configs)
        manifest.update(partial=only is not None, **({"only": only} if only is not None else {}))
        manifest["similarity"] = {**manifest_section(gates, tables), "leakage": leakage}
        data = [split["path"] for config in configs.values() for split in config["splits"].values()]
        benchmark = write_eval_yaml(loaded, configs, staging)  # the Hub benchmark's eval.yaml
        manifest["files"] = file_hashes(staging, [*data, *tables.values(), *benchmark])
        _write_card(loaded, manifest, staging / CARD)
        manifest["files"].update(file_hashes(staging, [CARD]))
        write_manifest(manifest, staging / MANIFEST)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def release_leakage(loaded: LoadedRelease, progress: bool) -> tuple[dict[str, Any], str]:
    """The leakage-by-meaning report (a manifest entry) and a line or two saying what it found.

    When the release's lock holds a verdict for exactly these evaluation texts and training
    prompts, that verdict is the report (no training prompt is embedded); otherwise the gate runs.
    """
    from .leakage import gate_release_leakage, inputs_sha256, release_texts
    from .lock import lock_path, locked_leakage

    texts = release_texts(loaded)
    locked = locked_leakage(loaded, inputs_sha256(*texts))
    if locked is not None:
        return locked, (f"leakage by meaning: {locked['leaks']} of {locked['eval_texts']} evaluation texts within "
                        f"cosine {locked['threshold']} of a training prompt: the verdict of {lock_path(loaded).name} "
                        f"for exactly these texts ({locked['inputs_sha256'][:12]})")
    report = gate_release_leakage(loaded, progress=progress, texts=texts)
    return report.to_dict(), report.format()


def _write_config(plan: ConfigPlan, staging: Path) -> dict[str, Any]:
    columns = {"train": schema.TRAIN, "eval": schema.EVAL, "suite": schema.SUITE}[plan.kind]
    splits = {}
    for split, rows in plan.make().items():
        relative = names.split_path(plan.name, split)
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
        "generation": loaded.spec.generation.model_dump(),
        "suites": {name: suite.model_dump() for name, suite in loaded.spec.suites.items()},
        "hub": loaded.spec.hub.model_dump() if loaded.spec.hub else None,
        "configs": configs,
    }


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
