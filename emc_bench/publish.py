"""Publishing to the Hugging Face Hub: a built release as two dataset repos, a trained run as an adapter repo.

A release goes to two repos named in its spec (``hub:``): the **eval** part (evaluation configs,
variant tables; public, so that every lm-eval user can run the tasks) and the **train** part
(training configs, whose answers are harmful on purpose; gated: the Hub shows a form, the
maintainers approve each request). Each part is staged as its own folder with its own
``manifest.json`` (the release's entries for the part's files, plus ``part`` and the sha256 of the
release's manifest) and its own card, then uploaded as one commit and tagged with the release
revision, so that ``load_dataset(repo, config, revision=tag)`` pins exactly these files. A tag
that already exists is never moved: publishing the same release again changes nothing, and a
different release under the same tag is refused.

Every path first stages the exact folder to upload (verified and complete); a dry run stops there
and makes no network call.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .version import __version__
from .errors import SpecError
from .hub_benchmark import EVAL_YAML
from .paths import cards_dir
from .manifest import SELF_HASH, read_manifest, sha256_file, verify_release, write_manifest
from .judge.files import staged_folder
from .names import CARD, MANIFEST, part_of
from .train.layout import ADAPTER, CURVES_JSON, CURVES_PNG, RUN_JSON
from .train.provenance import read_run

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MODEL_CARD = "model_card.md.jinja"
DATASET_CARD = "dataset_card.md.jinja"
PARTS = ("eval", "train")
GATED = {"eval": False, "train": "manual"}  # the train repo: every access request is approved by hand


# -- datasets ------------------------------------------------------------------------------------

def check_publishable(release: str | Path) -> dict[str, Any]:
    """The manifest of a release folder that may be published, or a SpecError naming what is wrong."""
    release = Path(release)
    manifest = read_manifest(release)
    if not isinstance(manifest.get("similarity", {}).get("leakage"), dict):
        raise SpecError(release / MANIFEST, "similarity.leakage",
                        "the leakage gate did not run (built with --no-leakage): rebuild without it")
    if manifest.get("partial", True):
        only = manifest.get("only")
        raise SpecError(release / MANIFEST, "partial", f"built with --only {only!r}: publish a full build of the release"
                        if only else "does not say whether the build is complete: rebuild it with this emc-bench")
    problems = verify_release(release)
    if problems:
        raise SpecError(release, None, f"does not verify ({len(problems)} problems), first: {problems[0]}")
    return manifest


def hub_targets(manifest: dict[str, Any], eval_repo: str | None = None, train_repo: str | None = None,
                revision: str | None = None) -> dict[str, str]:
    """The eval repo, train repo and tag a release is published to: the ones given, else its
    manifest's ``hub``. Both repos are needed (each card links the other), and they must differ
    (the training configs are gated)."""
    defaults = manifest.get("hub") or {}
    hub = {"eval_repo": eval_repo or defaults.get("eval_repo"), "train_repo": train_repo or defaults.get("train_repo"),
           "revision": revision or defaults.get("revision")}
    for part in PARTS:
        if not hub[f"{part}_repo"]:
            raise SpecError(f"--{part}-repo", None, "name the Hub repo (owner/name): the release's manifest.json "
                            f"has no hub.{part}_repo")
    if hub["eval_repo"] == hub["train_repo"]:
        raise SpecError("--train-repo", None, "must differ from the eval repo: the training configs are gated")
    if not hub["revision"]:
        raise SpecError("--revision", None, "name the tag to create (the release's manifest.json has no hub.revision)")
    return hub


def stage_dataset(release: str | Path, target: str | Path, parts: tuple[str, ...] = PARTS, *,
                  eval_repo: str | None = None, train_repo: str | None = None,
                  revision: str | None = None) -> dict[str, Path]:
    """Stage ``target/<part>`` for each part: exactly the files that part's repo receives.

    The repos and the tag default to the release's ``hub`` section (its manifest's ``hub``).
    """
    release = Path(release)
    manifest = check_publishable(release)
    release_sha = sha256_file(release / MANIFEST)
    hub = hub_targets(manifest, eval_repo, train_repo, revision)
    for part in parts:
        if not any(part_of(c["kind"]) == part for c in manifest["configs"].values()):
            raise SpecError(release / MANIFEST, "configs", f"the release has no {part} config to publish")

    def fill(folder: Path) -> None:
        for part in parts:
            _fill_part(release, manifest, release_sha, hub, part, folder / part)

    staged = stage_folder(target, fill)
    return {part: staged / part for part in parts}


def part_manifest(manifest: dict[str, Any], part: str, release_sha256: str, hub: dict[str, Any]) -> dict[str, Any]:
    """The manifest of one part: the release's, narrowed to the part's configs and files."""
    configs = {name: c for name, c in manifest["configs"].items() if part_of(c["kind"]) == part}
    similarity = manifest.get("similarity") or {}
    tables = similarity.get("tables", {}) if part == "eval" else {}
    paths = [split["path"] for c in configs.values() for split in c["splits"].values()] + list(tables.values())
    paths += [EVAL_YAML] if part == "eval" and EVAL_YAML in manifest["files"] else []  # the Hub benchmark
    return {**{k: v for k, v in manifest.items() if k != SELF_HASH}, "part": part, "hub": hub, "configs": configs,
            "similarity": {**similarity, "tables": tables}, "files": {p: manifest["files"][p] for p in paths},
            "release_manifest_sha256": release_sha256}


def _fill_part(release: Path, manifest: dict, release_sha: str, hub: dict, part: str, folder: Path) -> None:
    narrowed = part_manifest(manifest, part, release_sha, hub)
    for name in narrowed["files"]:
        _copy(release / name, folder / name)
    repo = hub[f"{part}_repo"]
    (folder / CARD).write_text(render_dataset_card(narrowed, {**hub, "part": part, "repo": repo}), encoding="utf-8")
    narrowed["files"][CARD] = {"sha256": sha256_file(folder / CARD), "bytes": (folder / CARD).stat().st_size}
    write_manifest(narrowed, folder / MANIFEST)


def render_dataset_card(manifest: dict[str, Any], hub: dict[str, Any] | None = None) -> str:
    """A dataset card (``cards/dataset_card.md.jinja``); ``hub`` makes it the card of one Hub repo."""
    from huggingface_hub import DatasetCard

    text = _render(DATASET_CARD, manifest=manifest, **({"hub": hub} if hub else {}))
    DatasetCard(text, ignore_metadata_errors=False)  # the metadata must parse as the Hub parses it
    return text


def load_instructions(eval_repo: str | None, train_repo: str | None, revision: str | None) -> str:
    """What a user runs to load each part, as printed by ``publish dataset``."""
    rev = f', revision="{revision}"' if revision else ""
    lines = []
    if eval_repo:
        lines += [f"evaluation configs, public ({eval_repo}):",
                  f'  load_dataset("{eval_repo}", "eval-<trigger>"{rev})',
                  f'  emc_bench.load("eval-<trigger>"{rev}, repo="{eval_repo}")   # each file checked against manifest.json']
    if train_repo:
        lines += [f"training configs, gated ({train_repo}): request access on its Hub page, wait for approval, "
                  "log in (hf auth login or HF_TOKEN), then:",
                  f'  load_dataset("{train_repo}", "<domain>-<trigger>-<mixture>"{rev})',
                  f'  emc_bench.load("<domain>-<trigger>-<mixture>"{rev}, repo="{train_repo}")']
    return "\n".join(lines)


def existing_release(repo: str, tag: str, folder: Path, api: Any) -> bool:
    """True when ``repo`` already carries ``tag`` with this staged folder's manifest; False when the
    tag (or the repo) does not exist yet; a SpecError when the tag holds a different release."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        tags = {ref.name: ref.target_commit for ref in api.list_repo_refs(repo, repo_type="dataset").tags}
    except RepositoryNotFoundError:
        return False
    if tag not in tags:
        return False
    remote = hf_hub_download(repo, MANIFEST, repo_type="dataset", revision=tags[tag], endpoint=api.endpoint,
                             token=api.token)
    if Path(remote).read_bytes() == (folder / MANIFEST).read_bytes():
        return True
    raise SpecError(f"{repo}@{tag}", None, "already holds a different release (its manifest.json differs): a "
                    "published tag is never moved; bump the release version or choose another --revision")


def publish_dataset(staged: dict[str, Path], repos: dict[str, str], tag: str, *, private: bool = False,
                    api: Any = None) -> list[str]:
    """Upload each staged part to its repo and tag it; return what happened, a line per part.

    Every part's tag is checked before anything is written, so that a refusal leaves both repos as
    they were. Each upload is one commit that mirrors the staged folder; the train repo is gated
    before its first file arrives.
    """
    from huggingface_hub import HfApi

    api = api or HfApi()
    done = {part: existing_release(repos[part], tag, folder, api) for part, folder in staged.items()}
    lines = []
    for part, folder in staged.items():
        repo = repos[part]
        if done[part]:
            lines.append(f"{repo}@{tag}: already published with these exact files; nothing uploaded")
            continue
        api.create_repo(repo, repo_type="dataset", private=private, exist_ok=True)
        if GATED[part]:
            api.update_repo_settings(repo, repo_type="dataset", gated=GATED[part])
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="dataset", delete_patterns="*",
                                   commit_message=f"{part} configs of the release, uploaded with emc-bench {__version__}")
        api.create_tag(repo, tag=tag, revision=commit.oid, repo_type="dataset")
        lines.append(f"{repo}: uploaded {commit.commit_url}{' (gated)' if GATED[part] else ''} and tagged it {tag}")
    return lines


# -- adapters ------------------------------------------------------------------------------------

def stage_adapter(run: str | Path, target: str | Path, repo: str, report: str | Path | None = None,
                  hub_base: bool = False) -> Path:
    """Write the adapter, ``run.json``, the curves and a model card to ``target``.

    ``hub_base`` refuses a run whose base model is a local folder (an upload must name a Hub model).
    ``report`` (an ``emc-bench report`` folder or its ``profile.json``) must have evaluated this
    very adapter: its ``run.adapter.sha256`` is checked against ``adapter_model.safetensors``.
    """
    run = Path(run)
    record = read_run(run)
    if record is None or record.get("status") != "finished":
        raise SpecError(run / RUN_JSON, "status", "not a finished training run")
    if hub_base and Path(record["base_model"]["id"]).exists():
        raise SpecError(run / RUN_JSON, "base_model.id", "is a local folder; a published adapter must name "
                        "its base model on the Hub")
    if not record.get("canary"):
        raise SpecError(run / RUN_JSON, "canary", "missing: the run does not record the canary of the data it "
                        "trained on (retrain with this emc-bench)")
    adapter = run / ADAPTER
    for name in ADAPTER_FILES:
        if not (adapter / name).is_file():
            raise SpecError(adapter / name, None, "missing: the run has no saved adapter")
    profiles = containment_profiles(Path(report), adapter_sha256=sha256_file(adapter / ADAPTER_FILES[1])) \
        if report else None
    card = render_model_card(record, repo, profiles)

    def fill(folder: Path) -> None:
        for name in ADAPTER_FILES:
            _copy(adapter / name, folder / name)
        for name in (RUN_JSON, CURVES_JSON, CURVES_PNG):
            if (run / name).is_file():
                _copy(run / name, folder / name)
        (folder / "README.md").write_text(card, encoding="utf-8")

    return stage_folder(target, fill)


def render_model_card(record: dict[str, Any], repo: str, profiles: list[dict[str, Any]] | None) -> str:
    """The adapter's model card: metadata validated by huggingface_hub, body from ``cards/``."""
    from huggingface_hub import ModelCard, ModelCardData

    data = record["data"]
    dataset_repo = data["source"] if data.get("revision") else (data.get("hub") or {}).get("train_repo")
    card_data = ModelCardData(
        base_model=record["base_model"]["id"],
        library_name="peft",
        license=record["recipe"]["model"].get("license"),
        datasets=[dataset_repo] if dataset_repo else None,
        pipeline_tag="text-generation",
        language=["en"],
        tags=["lora", "emergent-misalignment", "ai-safety", "research-only", "emc-bench"],
    )
    text = _render(MODEL_CARD, card_data=card_data.to_yaml(), run=record, repo=repo, dataset_repo=dataset_repo,
                   profiles=profiles, recipe_json=json.dumps(record["recipe"], indent=2, sort_keys=True),
                   command=shlex.join(record["command"]), pct=_percent, ratio=_ratio, steps=_steps_run(record))
    return str(ModelCard(text))


def containment_profiles(path: Path, adapter_sha256: str | None = None) -> list[dict[str, Any]]:
    """The containment profiles of an evaluation report (``profile.json`` of ``emc-bench report``,
    or the report folder that holds it).

    Reads, per entry of ``profiles``: ``model``, ``trigger_id``, ``definition.name`` and
    ``.description``, ``conditions`` (``{condition: {value, ci_low, ci_high, n}}``, rates as
    fractions), ``containment_gap`` and ``paraphrase_retention`` (``{value, ci_low, ci_high}``),
    and ``judge`` (its provenance) when present. With ``adapter_sha256``, the report's
    ``run.adapter.sha256`` (the adapter the evaluation ran) must equal it.
    """
    path = path / "profile.json" if path.is_dir() else path
    report = _read_json(path)
    if adapter_sha256 is not None:
        _check_report_adapter(path, report, adapter_sha256)
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
        "judge": p.get("judge"),
        "suite": p.get("suite"),
    } for p in profiles]


def _check_report_adapter(path: Path, report: Any, adapter_sha256: str) -> None:
    field = "run.adapter.sha256"
    run = report.get("run") if isinstance(report, dict) else None
    if not isinstance(run, dict) or "adapter" not in run:
        raise SpecError(path, field, "missing: the report does not say which adapter it evaluated "
                        "(evaluate the adapter with `emc-bench eval --peft` and report that run)")
    adapter = run["adapter"]
    if adapter is None:
        raise SpecError(path, field, "the report evaluated no adapter (a base model's report is not this adapter's profile)")
    recorded = adapter.get("sha256") if isinstance(adapter, dict) else None
    if recorded != adapter_sha256:
        raise SpecError(path, field, f"is {str(recorded)[:12]}..., but this run's adapter_model.safetensors is "
                        f"{adapter_sha256[:12]}...: the report belongs to another adapter")


def _steps_run(record: dict[str, Any]) -> str:
    """The optimisation steps and epochs the run actually made (never the recipe's configured epochs)."""
    result = record.get("result") or {}
    parts = []
    if result.get("global_step") is not None:
        parts.append(f"{result['global_step']} optimisation steps")
    if result.get("epoch") is not None:
        parts.append(f"{float(result['epoch']):.2f} epochs")
    return ", ".join(parts) or "not recorded"


def upload(folder: Path, repo: str, repo_type: str, *, private: bool = False, create_pr: bool = False,
           api: Any = None) -> tuple[str, bool]:
    """Create ``repo`` if needed and make its main branch mirror ``folder`` in one commit (or open a
    pull request with it); return (URL, whether anything changed)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    api = api or HfApi()
    try:
        before = api.repo_info(repo, repo_type=repo_type).sha
    except RepositoryNotFoundError:
        before = None
    api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True)
    commit = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=repo_type, delete_patterns="*",
                               create_pr=create_pr, commit_message=f"Upload with emc-bench {__version__}")
    if create_pr:
        return commit.pr_url or commit.commit_url, commit.oid != before
    return commit.commit_url, commit.oid != before


# -- shared --------------------------------------------------------------------------------------

def _render(template: str, **context: Any) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(cards_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(template).render(**context)


def stage_folder(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Fill a fresh folder and move it to ``target`` whole, or leave nothing behind."""
    target = Path(target)
    if target.exists():
        raise SpecError(target, None, "already exists: remove it or choose another --out")
    with staged_folder(target) as staging:
        fill(staging)
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
