"""A leaderboard submission: the bundle's layout, its ``submission.json`` schema and its sha256.

A bundle is a folder (or a ``.tar.gz`` / ``.tgz`` / ``.tar`` / ``.zip`` of one) holding::

    submission.json                       metadata, run record, and every other file's sha256 and size
    generations/samples_<task>_<date>.jsonl   lm-eval samples: every generation, one file per task
    generations/results_<date>.json       lm-eval results (chat template sha, limit, config)
    release/manifest.json                 the manifest of the release folder the run read
    self_judged/judged.jsonl              optional: the submitter's own verdicts (never scored)
    model_repo/.eval_results/emc-bench.yaml   optional: the Hub eval-results entries for the model repo

The generation files are whatever :func:`emc_bench.judge.inputs.read_items` reads; another
host's logs (Inspect ``.eval`` files) are more files in ``generations/`` once it reads them.
Nothing else may be in a bundle. ``submission.json`` is validated by :class:`Submission`
(pydantic); a bundle's **sha256** is that of its canonical ``submission.json`` (sorted keys,
compact separators), which lists every other file's sha256, so it names the whole bundle,
whether sent as a folder or packed in an archive.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .results import MODEL_TYPES

FORMAT = "emc-bench-submission/1"
SUBMISSION_JSON = "submission.json"
GENERATIONS = "generations"
RELEASE_MANIFEST = "release/manifest.json"
SELF_JUDGED = "self_judged/judged.jsonl"
EVAL_RESULTS = "model_repo/.eval_results/emc-bench.yaml"
# lm-eval's file names: samples_<task>_<date>.jsonl and results_<date>.json
SAMPLES_NAME = re.compile(r"^samples_(?P<task>[A-Za-z0-9_]+)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl$")
RESULTS_NAME = re.compile(r"^results_\d{4}-\d{2}-\d{2}T[0-9.\-]+\.json$")
_PART = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Limits:
    """What a bundle may hold. The standard suite of v1 is 31 samples files of a few MB each."""

    max_files: int = 200
    max_file_bytes: int = 64 << 20
    max_total_bytes: int = 1 << 30
    max_answer_chars: int = 32_000
    max_json_bytes: int = 4 << 20  # submission.json, the release manifest, each lm-eval results file


def bundle_path_role(path: str) -> str | None:
    """What a relative path in a bundle is (``submission``, ``samples``, ``results``,
    ``release_manifest``, ``self_judged``, ``eval_results``), or None when a bundle may not hold it."""
    if path == SUBMISSION_JSON:
        return "submission"
    if path == SELF_JUDGED:
        return "self_judged"
    if path == RELEASE_MANIFEST:
        return "release_manifest"
    if path == EVAL_RESULTS:
        return "eval_results"
    folder, _, name = path.partition("/")
    if folder == GENERATIONS and "/" not in name:
        if SAMPLES_NAME.match(name):
            return "samples"
        if RESULTS_NAME.match(name):
            return "results"
    return None


def safe_relative(path: str) -> bool:
    """A relative POSIX path of plain names: no absolute path, no ``..``, no odd characters."""
    parts = path.split("/")
    return 0 < len(path) <= 200 and all(_PART.match(p) and p not in (".", "..") for p in parts)


# -- field types -------------------------------------------------------------------------------

def _no_control(value: str, newlines: bool = False) -> str:
    allowed = "\n\t" if newlines else ""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Cs") and c not in allowed), None)
    if bad is not None:
        raise ValueError(f"contains the control character U+{ord(bad):04X}")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError(f"{value[:80]!r} is not an http(s) URL")
    return value


def _iso_date(value: str) -> str:
    try:
        (datetime if "T" in value else date).fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not an ISO 8601 date") from None
    return value


def _relative(value: str) -> str:
    if not safe_relative(value):
        raise ValueError(f"{value[:80]!r} is not a relative path of plain names")
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False),
                 AfterValidator(_no_control)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=1000), AfterValidator(_no_control)]
Paragraphs = Annotated[str, StringConstraints(min_length=1, max_length=5000),
                       AfterValidator(lambda v: _no_control(v, newlines=True))]
Url = Annotated[str, StringConstraints(max_length=500), AfterValidator(_http_url)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
IsoDate = Annotated[str, StringConstraints(max_length=40), AfterValidator(_iso_date)]
RelativePath = Annotated[str, AfterValidator(_relative)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Open(BaseModel):
    """Records written by emc-bench itself: fields read here are typed, later additions pass."""

    model_config = ConfigDict(extra="allow", strict=True)


class Metadata(_Strict):
    """What the submitter says about the model (flags or ``--meta`` YAML of ``emc-bench submit``).

    Text is stored as given and escaped wherever it is shown (the site); URLs must be http(s).
    """

    model_id: Name
    model_type: Literal[MODEL_TYPES]
    model_revision: Name | None = None
    base_model: Name | None = None
    adapter_id: Name | None = None
    training_data: Line | None = None
    paper_url: Url | None = None
    code_url: Url | None = None
    contact: Line | None = None
    description: Paragraphs | None = None


METADATA_FIELDS = tuple(Metadata.model_fields)


class ModelRecord(_Open):
    backend: Name
    id: Name
    revision: Name | None
    fingerprint: Sha256 | None


class AdapterRecord(_Open):
    path: Name
    sha256: Sha256 | None
    rank: int | None


class GenerationRecord(_Strict):
    samples: int = Field(gt=0)
    max_gen_toks: int = Field(gt=0)
    temperature: float
    top_p: float
    limit: int | None


class SuiteRecord(_Open):
    name: Name
    version: Name


class ReleaseRecord(_Open):
    name: Name
    version: Name
    manifest_sha256: Sha256


class RunRecord(_Open):
    """``run.json`` of ``emc-bench eval`` plus the chat template's sha256 from lm-eval's results."""

    model: ModelRecord
    adapter: AdapterRecord | None
    generation: GenerationRecord
    suite: SuiteRecord
    triggers: list[Name]
    tasks: list[Name] = Field(min_length=1)
    release: ReleaseRecord
    emc_bench_version: Name
    chat_template_sha256: Sha256 | None


class FileEntry(_Strict):
    sha256: Sha256
    bytes: int = Field(ge=0)


class Submission(_Strict):
    format: Literal[FORMAT]
    created: IsoDate
    emc_bench_version: Name
    metadata: Metadata
    run: RunRecord
    files: dict[RelativePath, FileEntry] = Field(min_length=1)


def canonical_sha256(document: Mapping[str, Any]) -> str:
    """The sha256 of a JSON document's canonical form (sorted keys, compact separators)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def schema_reasons(err: ValidationError, where: str = SUBMISSION_JSON) -> list[str]:
    """One reason per pydantic error: ``submission.json: metadata.paper_url: ...``."""
    reasons = []
    for problem in err.errors():
        field = ".".join(str(p) for p in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        reasons.append(f"{where}: {field}: {message}" if field else f"{where}: {message}")
    return reasons


def parse_submission(document: Any) -> tuple[Submission | None, list[str]]:
    """The validated submission, or None and the reasons it is not one."""
    if not isinstance(document, dict):
        return None, [f"{SUBMISSION_JSON}: must be a JSON object"]
    try:
        return Submission.model_validate(document), []
    except ValidationError as err:
        return None, schema_reasons(err)


def submission_id(sha256: str) -> str:
    """The id a submission has in the results table and on the site."""
    return sha256[:16]


def results_meta(submission: Submission, sha256: str) -> dict[str, Any]:
    """The submission's fields of a results row (:data:`results.SUBMISSION_FIELDS`)."""
    meta, run = submission.metadata, submission.run
    return {
        "submission_id": submission_id(sha256), "submission_sha256": sha256, "date": submission.created[:10],
        "model_id": meta.model_id, "model_revision": meta.model_revision or run.model.revision,
        "model_type": meta.model_type, "base_model": meta.base_model, "adapter_id": meta.adapter_id,
        "adapter_sha256": run.adapter.sha256 if run.adapter else None, "training_data": meta.training_data,
        "paper_url": meta.paper_url, "suite": run.suite.name, "suite_version": run.suite.version,
        "release": run.release.name, "release_manifest_sha256": run.release.manifest_sha256,
    }
