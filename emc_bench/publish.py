"""Publishing to the Hugging Face Hub: a built release as a dataset repo, a trained run as an adapter repo.

Both take one path: stage the exact folder to upload (verified and complete), then
``create_repo`` and ``upload_folder``. A dry run stops after staging and makes no network call.
A dataset upload can be tagged (``v1.0.0``) so that ``load_dataset(repo, config, revision=tag)``
pins that release.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__
from .errors import SpecError
from .paths import cards_dir
from .manifest import read_manifest, verify_release
from .names import MANIFEST
from .train.layout import ADAPTER, CURVES_JSON, CURVES_PNG, RUN_JSON
from .train.provenance import read_run

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MODEL_CARD = "model_card.md.jinja"


def stage_dataset(release: str | Path, target: str | Path) -> Path:
    """Copy a verified release folder to ``target``: exactly the files a dataset upload sends."""
    release = Path(release)
    problems = verify_release(release)
    if problems:
        raise SpecError(release, None, f"does not verify ({len(problems)} problems), first: {problems[0]}")
    manifest = read_manifest(release)
    if not isinstance(manifest.get("similarity", {}).get("leakage"), dict):
        raise SpecError(release / MANIFEST, "similarity.leakage",
                        "the leakage gate did not run (built with --no-leakage): rebuild without it")
    files = [*manifest["files"], MANIFEST]

    def fill(folder: Path) -> None:
        for name in files:
            _copy(release / name, folder / name)

    return _stage(target, fill)


def stage_adapter(run: str | Path, target: str | Path, repo: str, report: str | Path | None = None,
                  hub_base: bool = False) -> Path:
    """Write the adapter, ``run.json``, the curves and a model card to ``target``.

    ``hub_base`` refuses a run whose base model is a local folder (an upload must name a Hub model).
    """
    run = Path(run)
    record = read_run(run)
    if record is None or record.get("status") != "finished":
        raise SpecError(run / RUN_JSON, "status", "not a finished training run")
    if hub_base and Path(record["base_model"]["id"]).exists():
        raise SpecError(run / RUN_JSON, "base_model.id", "is a local folder; a published adapter must name "
                        "its base model on the Hub")
    adapter = run / ADAPTER
    for name in ADAPTER_FILES:
        if not (adapter / name).is_file():
            raise SpecError(adapter / name, None, "missing: the run has no saved adapter")
    profiles = containment_profiles(Path(report)) if report else None
    card = render_model_card(record, repo, profiles)

    def fill(folder: Path) -> None:
        for name in ADAPTER_FILES:
            _copy(adapter / name, folder / name)
        for name in (RUN_JSON, CURVES_JSON, CURVES_PNG):
            if (run / name).is_file():
                _copy(run / name, folder / name)
        (folder / "README.md").write_text(card, encoding="utf-8")

    return _stage(target, fill)


def render_model_card(record: dict[str, Any], repo: str, profiles: list[dict[str, Any]] | None) -> str:
    """The adapter's model card: metadata validated by huggingface_hub, body from ``cards/``."""
    import jinja2
    from huggingface_hub import ModelCard, ModelCardData

    data = record["data"]
    dataset_repo = data["source"] if data.get("revision") else (data.get("hub") or {}).get("repo")
    card_data = ModelCardData(
        base_model=record["base_model"]["id"],
        library_name="peft",
        license=record["recipe"]["model"].get("license"),
        datasets=[dataset_repo] if dataset_repo else None,
        pipeline_tag="text-generation",
        language=["en"],
        tags=["lora", "emergent-misalignment", "ai-safety", "research-only", "emc-bench"],
    )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(cards_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    text = env.get_template(MODEL_CARD).render(
        card_data=card_data.to_yaml(), run=record, repo=repo, dataset_repo=dataset_repo, profiles=profiles,
        recipe_json=json.dumps(record["recipe"], indent=2, sort_keys=True), command=shlex.join(record["command"]),
        pct=_percent, ratio=_ratio,
    )
    return str(ModelCard(text))


def containment_profiles(path: Path) -> list[dict[str, Any]]:
    """The containment profiles of an evaluation report (``profile.json`` of ``emc-bench report``).

    Reads, per entry of ``profiles``: ``model``, ``trigger_id``, ``definition.name`` and
    ``.description``, ``conditions`` (``{condition: {value, ci_low, ci_high, n}}``, rates as
    fractions), ``containment_gap`` and ``paraphrase_retention`` (``{value, ci_low, ci_high}``).
    """
    report = _read_json(path)
    profiles = report.get("profiles") if isinstance(report, dict) else None
    if not profiles:
        raise SpecError(path, "profiles", "the evaluation report holds no containment profile")
    return [{
        "model": p.get("model"),
        "trigger": p.get("trigger_id"),
        "definition": p.get("definition") or {},
        "conditions": [{"condition": name, **rate} for name, rate in (p.get("conditions") or {}).items()],
        "gap": p.get("containment_gap") or {},
        "retention": p.get("paraphrase_retention") or {},
    } for p in profiles]


def upload(folder: Path, repo: str, repo_type: str, *, tag: str | None = None, private: bool = False,
           api: Any = None) -> str:
    """Create ``repo`` if needed, upload ``folder`` as one commit, tag it; return the commit URL."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=repo_type,
                               commit_message=f"Upload with emc-bench {__version__}")
    if tag:
        api.create_tag(repo, tag=tag, revision=commit.oid, repo_type=repo_type)
    return commit.commit_url


def _stage(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Fill a fresh folder and move it to ``target`` whole, or leave nothing behind."""
    target = Path(target)
    if target.exists():
        raise SpecError(target, None, "already exists: remove it or choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(staging)
        os.chmod(staging, 0o755)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _percent(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None else f"{100 * value:{'+' if signed else ''}.1f}%"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _copy(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, destination)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(path, None, "file not found") from None
    except json.JSONDecodeError as err:
        raise SpecError(path, f"line {err.lineno}", f"invalid JSON: {err.msg}") from None
