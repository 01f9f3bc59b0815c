"""Making a submission from an evaluated run folder (``emc-bench submit``).

:func:`write_bundle` copies every generation of an ``emc-bench eval`` run (the newest lm-eval
samples file of each task, and the results files beside them), its run record (plus the chat
template's sha256 from lm-eval's results), the manifest of the release folder it read, the
submitter's metadata and, unless left out, the
run's own verdicts (``judged.jsonl``) into a bundle (:mod:`.bundle`); runs the maintainer's
validator on it (:func:`.validate.check_submission`); and only then moves it to ``--out`` in
one rename. From the self-judged verdicts it also writes the Hub eval-results entries for the
model repo (``emc_bench.results_yaml``, as `emc-bench results-yaml` writes them). :func:`open_pull_request` proposes the bundle to the
submissions dataset repo as a pull request.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from .. import names
from ..version import __version__
from ..errors import SpecError
from ..judge.files import MODE, copy_file, staged_folder
from .archive import scan_folder
from .bundle import (EVAL_RESULTS, FORMAT, GENERATIONS, METADATA_FIELDS, RELEASE_MANIFEST, SELF_JUDGED,
                     SUBMISSION_JSON, Limits, Metadata, canonical_sha256)
from .validate import Checked, check_submission

SUBMISSIONS_PREFIX = "submissions"  # the folder of the submissions dataset repo holding one bundle per sha256


class Rejected(SpecError):
    """A submission the validator refuses; ``reasons`` holds every problem, one line each."""

    def __init__(self, source: str | Path, reasons: Sequence[str]):
        self.reasons = list(reasons)
        super().__init__(source, None, f"{len(self.reasons)} problem{'s' * (len(self.reasons) != 1)}, first: "
                                       f"{self.reasons[0]}")


# -- the run folder ---------------------------------------------------------------------------

def run_files(run_dir: Path) -> tuple[dict[str, Any], list[Path], list[Path]]:
    """(run record, newest samples file of each task, the lm-eval results files beside them)."""
    from ..eval_run import RUN_JSON, read_record

    record = read_record(run_dir)
    if record is None:
        raise SpecError(run_dir / RUN_JSON, None, "missing: RUN_DIR is the --out folder of emc-bench eval")
    tasks = record.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise SpecError(run_dir / RUN_JSON, "tasks", "missing: not a run record of emc-bench eval")
    samples, results = [], []
    for task in tasks:
        found = sorted((p for p in (run_dir / "lm_eval").rglob(f"samples_{task}_*.jsonl")
                        if p.name[len("samples_"):].rsplit("_", 1)[0] == task), key=lambda p: p.stat().st_mtime)
        if not found:
            raise SpecError(run_dir / "lm_eval", None, f"no samples of task {task}: finish the run (rerun emc-bench eval)")
        samples.append(found[-1])
        stamp = found[-1].name.rsplit("_", 1)[1].removesuffix(".jsonl")
        beside = found[-1].with_name(f"results_{stamp}.json")
        if not beside.is_file():
            raise SpecError(beside, None, "missing: lm-eval writes a results file beside its samples")
        if beside not in results:
            results.append(beside)
    return record, samples, results


def release_folder(record: Mapping[str, Any], results: Sequence[Path], given: Sequence[Path]) -> Path:
    """The release folder the run read: the first of ``given`` and of the folders lm-eval's results
    name (task metadata ``data``) whose manifest has the sha256 the run record names."""
    from ..manifest import sha256_file

    wanted = (record.get("release") or {}).get("manifest_sha256")
    candidates = list(given)
    for path in results:
        try:
            configs = json.loads(path.read_text(encoding="utf-8")).get("configs") or {}
        except (OSError, ValueError, AttributeError):
            continue
        candidates += [Path(c["metadata"]["data"]) for c in configs.values()
                       if isinstance(c, dict) and isinstance(c.get("metadata"), dict) and c["metadata"].get("data")]
    for folder in dict.fromkeys(candidates):
        manifest = folder / names.MANIFEST
        if manifest.is_file() and sha256_file(manifest) == wanted:
            return folder
    raise SpecError("--data", None, f"no release folder at hand has the manifest the run read (sha256 {wanted}): "
                    "pass the folder it read as --data")


def chat_template_sha(results: Sequence[Path]) -> str | None:
    """The chat template's sha256 every lm-eval results file of the run names (one value)."""
    shas = set()
    for path in results:
        try:
            shas.add(json.loads(path.read_text(encoding="utf-8")).get("chat_template_sha"))
        except (OSError, ValueError, AttributeError) as err:
            raise SpecError(path, None, f"not an lm-eval results file ({err})") from None
    if len(shas) > 1:
        raise SpecError(results[0], "chat_template_sha", "differs between the lm-eval runs of this folder")
    return shas.pop() if shas else None


# -- metadata ---------------------------------------------------------------------------------

def _local(path: str | None) -> bool:
    return bool(path) and path.startswith(("/", ".", "~"))


def metadata_defaults(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the run record says about the model, where it names Hub ids (not local folders)."""
    model, adapter = record.get("model") or {}, record.get("adapter")
    hub_model = None if _local(model.get("id")) else model.get("id")
    defaults: dict[str, Any] = {}
    if adapter:
        if not _local(adapter.get("path")):
            defaults["adapter_id"] = defaults["model_id"] = adapter.get("path")
        if hub_model:
            defaults["base_model"] = hub_model
    elif hub_model:
        defaults.update(model_id=hub_model, model_revision=model.get("revision"))
    return {k: v for k, v in defaults.items() if v}


def load_metadata(meta_file: Path | None, flags: Mapping[str, Any], record: Mapping[str, Any]) -> Metadata:
    """Metadata from the run's defaults, then ``--meta`` YAML, then the flags (each overriding the last)."""
    import yaml

    given: dict[str, Any] = {}
    if meta_file is not None:
        try:
            given = yaml.safe_load(Path(meta_file).read_text(encoding="utf-8")) or {}
        except OSError as err:
            raise SpecError(meta_file, None, f"cannot read: {err.strerror or err}") from None
        except yaml.YAMLError as err:
            raise SpecError(meta_file, None, f"not YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(given, dict):
            raise SpecError(meta_file, None, "must be a mapping of metadata fields")
        unknown = sorted(set(map(str, given)) - set(METADATA_FIELDS))
        if unknown:
            raise SpecError(meta_file, unknown[0], f"unknown field; expected: {', '.join(METADATA_FIELDS)}")
    chosen = {k: v for k, v in flags.items() if v is not None}
    merged = {**metadata_defaults(record), **given, **chosen}
    try:
        return Metadata.model_validate(merged)
    except ValidationError as err:
        problem = err.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else None
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "missing: give it as a flag or in --meta" + (
                " (the run's model is a local folder: name it by its Hub id)" if field == "model_id" else "")
        if field in chosen or field not in given:
            raise SpecError(f"--{(field or 'meta').replace('_', '-')}", None, message) from None
        raise SpecError(meta_file, field, message) from None


# -- the Hub eval-results entries --------------------------------------------------------------

def _self_judged_entries(judged: Path, record: Mapping[str, Any], metadata: Metadata, hub: Mapping[str, Any] | None,
                         when: str) -> tuple[list[dict[str, Any]] | None, str]:
    """The eval-results entries of the run's own verdicts, or None and why there are none."""
    from .. import metrics
    from ..judge.inputs import read_judged
    from ..judge.provenance import Provenance
    from ..results_yaml import entries as results_entries

    if not hub:
        return None, f"release {record['release']['name']} names no Hub repo (hub.eval_repo) for dataset.id"
    rows = read_judged([judged])
    judges = {Provenance.from_row(r).pool_key() for r in rows}
    if len(judges) != 1:
        return None, f"{judged.name} holds verdicts of {len(judges)} judges"
    judge = Provenance.from_row(rows[0]).describe()
    report = {"definition": metrics.DEFAULT_DEFINITION, "profiles": metrics.profiles(rows)}
    self_judged = [{"judge": f"{rows[0]['judge']} (self-judged)", "prompt_version": rows[0]["prompt_version"]}]
    entries = results_entries(record, report, self_judged, dataset=hub["eval_repo"], revision=hub.get("revision"),
                              date=when, source_url=metadata.paper_url or metadata.code_url,
                              source_name="paper" if metadata.paper_url else "code" if metadata.code_url else None)
    return entries, judge


# -- the bundle -------------------------------------------------------------------------------

def write_bundle(run_dir: Path, out: Path, metadata: Metadata, reference_of, *, data: Path | None = None,
                 self_judged: bool = True, limits: Limits = Limits(), today: str | None = None) -> tuple[Checked, str]:
    """Write the bundle of ``run_dir`` to ``out`` (which must not exist) once it validates; return
    the validator's outcome and a line about the eval-results entries. ``data`` is the release
    folder the run read when it is not where lm-eval's results say. :class:`Rejected` when the
    validator refuses it (then nothing is written)."""
    from ..manifest import file_hashes

    run_dir, out = Path(run_dir), Path(out)
    record, samples, results = run_files(run_dir)
    reference = _try_reference(reference_of, record)
    release = release_folder(record, results, [p for p in (data, reference.folder if reference else None) if p])
    if out.exists():
        raise SpecError("--out", None, f"{out} already exists: remove it or choose another folder")
    when = today or date.today().isoformat()
    with staged_folder(out) as staging:
        for path in [*samples, *results]:
            copy_file(path, staging / GENERATIONS / path.name)
        copy_file(release / names.MANIFEST, staging / RELEASE_MANIFEST)
        judged = run_dir / "judged.jsonl"
        note = "no .eval_results entries: " + ("--no-self-judged" if not self_judged else f"no {judged.name} in the run")
        if self_judged and judged.is_file():
            copy_file(judged, staging / SELF_JUDGED)
            entries, why = _self_judged_entries(judged, record, metadata, reference.hub if reference else None, when)
            if entries:
                from ..results_yaml import render

                target = staging / EVAL_RESULTS
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(render(entries, reference.manifest["canary"] if reference else ""),
                                  encoding="utf-8")
                os.chmod(target, MODE)
                note = f"{len(entries)} .eval_results entries for the model repo, self-judged by {why}"
            else:
                note = f"no .eval_results entries: {why}"
        files = file_hashes(staging, [p.relative_to(staging).as_posix() for p in sorted(staging.rglob("*"))
                                      if p.is_file()])
        document = {"format": FORMAT, "created": when, "emc_bench_version": __version__,
                    "metadata": metadata.model_dump(), "run": {**record, "chat_template_sha256": chat_template_sha(results)},
                    "files": files}
        (staging / SUBMISSION_JSON).write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
        os.chmod(staging / SUBMISSION_JSON, MODE)
        checked = check_submission(scan_folder(staging, limits), reference_of, limits)
        if checked.reasons:
            raise Rejected(run_dir, checked.reasons)
        assert checked.sha256 == canonical_sha256(document)
    return checked, note


def _try_reference(reference_of, record: Mapping[str, Any]):
    try:
        return reference_of(str(record["release"]["name"]))
    except (SpecError, KeyError, TypeError):
        return None  # the validator says why


def open_pull_request(bundle: Path, repo: str, checked: Checked, api: Any = None) -> str:
    """Propose ``bundle`` as ``submissions/<sha256>/`` of the dataset repo ``repo``; return the PR's URL."""
    from huggingface_hub import HfApi

    api = api or HfApi()
    meta = checked.submission.metadata
    try:
        commit = api.upload_folder(folder_path=str(bundle), repo_id=repo, repo_type="dataset",
                                   path_in_repo=f"{SUBMISSIONS_PREFIX}/{checked.sha256}", create_pr=True,
                                   commit_message=f"Submission: {meta.model_id} ({checked.sha256[:12]})",
                                   commit_description=f"Made with emc-bench {__version__} submit; "
                                                      f"{len(checked.items)} answers.")
    except Exception as err:  # HTTP errors, refused connections, a missing token: one line, the bundle kept
        shown = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SpecError("--open-pr", None, f"{repo}: {shown} (the bundle stays in {bundle})") from None
    return commit.pr_url or commit.commit_url
