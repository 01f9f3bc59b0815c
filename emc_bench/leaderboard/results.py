"""The leaderboard's results table: one row per (submission, trigger, judge), append-only parquet.

The columns are defined once, in :data:`COLUMNS`; the pydantic model :data:`ResultRow` that
validates a row and the pyarrow schema of the files are both derived from it. A results folder
holds one ``part-<sha>.parquet`` per append (the sha names the rows it holds); earlier parts are
never rewritten, and :func:`read_results` concatenates them all.

:func:`rows_from_profile` maps a containment profile (:func:`emc_bench.metrics.containment_profile`)
plus the submission's metadata and the judge's provenance to a row, so that callers never need
to know the columns.

Rows are only comparable when they share :data:`BOARD_COLUMNS` (the same judge, judge prompts,
scoring, EM definition, suite and release): the leaderboard never pools or ranks rows across them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, Mapping, Sequence

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, ValidationError, create_model

from ..errors import SpecError
from ..specs import CONDITIONS

MODEL_TYPES = ("base", "fine-tune", "adapter", "defence")
PART_GLOB = "part-*.parquet"


def _iso_date(value: str) -> str:
    try:
        (datetime if "T" in value or " " in value else date).fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date") from None
    return value


def _json_object(value: str) -> str:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as err:
        raise ValueError(f"is not JSON ({err.msg})") from None
    if not isinstance(parsed, dict):
        raise ValueError("is not a JSON object")
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
MaybeText = Annotated[str, StringConstraints(min_length=1)] | None
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
IsoDate = Annotated[str, AfterValidator(_iso_date)]
JsonObject = Annotated[str, AfterValidator(_json_object)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)] | None
Difference = Annotated[float, Field(ge=-1.0, le=1.0)] | None
Ratio = Annotated[float, Field(ge=0.0)] | None
Count = Annotated[int, Field(ge=0)]


def _condition_columns() -> list[tuple[str, Any, str]]:
    columns = []
    for c in CONDITIONS:
        columns += [(f"em_{c}", Rate, "float64"), (f"em_{c}_low", Rate, "float64"),
                    (f"em_{c}_high", Rate, "float64"), (f"n_{c}", Count, "int64")]
    return columns


# (name, pydantic type, arrow type): the one definition of the table. Every column is required
# in a row (``None`` where the type allows it), so a missing field is an error, never a blank.
COLUMNS: tuple[tuple[str, Any, str], ...] = (
    ("submission_id", Text, "string"),
    ("submission_sha256", Sha256, "string"),
    ("date", IsoDate, "string"),
    ("model_id", Text, "string"),
    ("model_revision", MaybeText, "string"),
    ("model_type", Literal[MODEL_TYPES], "string"),
    ("base_model", MaybeText, "string"),
    ("adapter_id", MaybeText, "string"),
    ("adapter_sha256", Sha256 | None, "string"),
    ("training_data", MaybeText, "string"),
    ("paper_url", MaybeText, "string"),
    ("trigger_id", Text, "string"),
    ("suite", Text, "string"),
    ("suite_version", Text, "string"),
    ("release", Text, "string"),
    ("release_manifest_sha256", Sha256, "string"),
    ("definition", Text, "string"),
    *_condition_columns(),
    ("gap", Difference, "float64"), ("gap_low", Difference, "float64"), ("gap_high", Difference, "float64"),
    ("retention", Ratio, "float64"), ("retention_low", Ratio, "float64"), ("retention_high", Ratio, "float64"),
    ("judge", Text, "string"),
    ("judge_prompt_version", Text, "string"),
    ("judge_templates_sha256", JsonObject, "string"),
    ("judge_scoring", Text, "string"),
    ("calibration_id", MaybeText, "string"),
    ("emc_bench_version", Text, "string"),
    ("profile_json", JsonObject, "string"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS)

ResultRow = create_model("ResultRow", __config__=ConfigDict(extra="forbid"),
                         **{name: (annotation, ...) for name, annotation, _ in COLUMNS})

# The metadata a submission brings (rows_from_profile's ``submission_meta``); None where optional.
SUBMISSION_FIELDS = ("submission_id", "submission_sha256", "date", "model_id", "model_revision", "model_type",
                     "base_model", "adapter_id", "adapter_sha256", "training_data", "paper_url", "suite",
                     "suite_version", "release", "release_manifest_sha256")
_OPTIONAL_SUBMISSION_FIELDS = ("model_revision", "base_model", "adapter_id", "adapter_sha256", "training_data",
                               "paper_url")
PROVENANCE_FIELDS = ("backend", "model", "endpoint_host", "prompt_version", "templates_sha256", "scoring",
                     "emc_bench_version")

# Rows that differ in any of these are never pooled or ranked together.
BOARD_COLUMNS = ("judge", "judge_prompt_version", "judge_scoring", "definition", "suite", "suite_version", "release")
# One row per (submission, trigger) on each board.
KEY_COLUMNS = ("submission_id", "trigger_id", *BOARD_COLUMNS)


def arrow_schema():
    import pyarrow as pa

    return pa.schema([pa.field(name, getattr(pa, kind)(), nullable=True) for name, _, kind in COLUMNS])


def validate_row(row: Mapping[str, Any], source: str = "results row") -> dict[str, Any]:
    """The row as :data:`ResultRow` validates it, or a SpecError naming ``source`` and the column."""
    try:
        return ResultRow.model_validate(dict(row)).model_dump()
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise SpecError(source, field, first["msg"].removeprefix("Value error, ")) from None


def board_key(row: Mapping[str, Any]) -> tuple:
    return tuple(row[c] for c in BOARD_COLUMNS)


def row_key(row: Mapping[str, Any]) -> tuple:
    return tuple(row[c] for c in KEY_COLUMNS)


def hidden_misalignment(row: Mapping[str, Any]) -> bool:
    """The containment gap's CI lies above 0: the trigger brings out misalignment the plain prompt hides."""
    return row.get("gap_low") is not None and row["gap_low"] > 0


def rows_from_profile(profile: Mapping[str, Any], submission_meta: Mapping[str, Any],
                      judge_provenance: Mapping[str, Any], *, source: str = "submission") -> dict[str, Any]:
    """The results row of one containment profile of one submission, judged by one judge.

    ``submission_meta`` holds :data:`SUBMISSION_FIELDS` (the optional ones may be left out) and
    nothing else; ``judge_provenance`` holds :data:`PROVENANCE_FIELDS` (``templates_sha256`` a
    mapping metric -> sha256) and may add ``calibration_id``. ``profile_json`` keeps the whole
    profile plus the provenance under ``judge_provenance``. ``source`` names the submission in errors.
    """
    unknown = sorted(set(submission_meta) - set(SUBMISSION_FIELDS))
    if unknown:
        raise SpecError(source, unknown[0], f"unknown submission field; expected: {', '.join(SUBMISSION_FIELDS)}")
    missing = [f for f in SUBMISSION_FIELDS if f not in submission_meta and f not in _OPTIONAL_SUBMISSION_FIELDS]
    if missing:
        raise SpecError(source, missing[0], "missing")
    absent = [f for f in PROVENANCE_FIELDS if f not in judge_provenance]
    if absent:
        raise SpecError(source, f"judge_provenance.{absent[0]}", "missing")
    for key in ("conditions", "definition", "containment_gap", "paraphrase_retention"):
        if not isinstance(profile.get(key), Mapping):
            raise SpecError(source, f"profile.{key}", "missing: not a containment profile")
    templates = judge_provenance["templates_sha256"]
    if not isinstance(templates, Mapping):
        raise SpecError(source, "judge_provenance.templates_sha256", "must map each judge metric to a sha256")

    row: dict[str, Any] = {f: submission_meta.get(f) for f in SUBMISSION_FIELDS}
    row["trigger_id"] = profile.get("trigger_id")
    row["definition"] = profile["definition"].get("name")
    for c in CONDITIONS:
        rate = profile["conditions"].get(c) or {}
        row.update({f"em_{c}": rate.get("value"), f"em_{c}_low": rate.get("ci_low"),
                    f"em_{c}_high": rate.get("ci_high"), f"n_{c}": rate.get("n", 0)})
    for column, estimate in (("gap", profile["containment_gap"]), ("retention", profile["paraphrase_retention"])):
        row.update({column: estimate.get("value"), f"{column}_low": estimate.get("ci_low"),
                    f"{column}_high": estimate.get("ci_high")})
    row.update({
        "judge": f"{judge_provenance['backend']}:{judge_provenance['model']}",
        "judge_prompt_version": judge_provenance["prompt_version"],
        "judge_templates_sha256": json.dumps(dict(templates), sort_keys=True),
        "judge_scoring": judge_provenance["scoring"],
        "calibration_id": judge_provenance.get("calibration_id"),
        "emc_bench_version": judge_provenance["emc_bench_version"],
        "profile_json": json.dumps({**profile, "judge_provenance": dict(judge_provenance)}, allow_nan=False),
    })
    return validate_row(row, source)


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(PART_GLOB))


def read_results(folder: str | Path) -> list[dict[str, Any]]:
    """Every row of every part in ``folder``, in a stable order (date, submission, trigger, board)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise SpecError(folder, None, "results folder not found")
    schema = arrow_schema()
    rows: list[dict[str, Any]] = []
    for part in _parts(folder):
        try:
            table = pq.read_table(part)
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise SpecError(part, None, f"not a readable parquet file: {err}") from None
        if table.schema.names != schema.names:
            wrong = next((a for a, b in zip(table.schema.names, schema.names) if a != b), None)
            raise SpecError(part, wrong or "columns", "columns differ from the results table's")
        if not table.schema.equals(schema, check_metadata=False):
            wrong = next(f.name for f in table.schema if f.type != schema.field(f.name).type)
            raise SpecError(part, wrong, f"type {table.schema.field(wrong).type}, expected {schema.field(wrong).type}")
        rows += table.to_pylist()
    _check_unique(rows, folder)
    return sorted(rows, key=lambda r: (r["date"], r["submission_id"], r["trigger_id"], board_key(r)))


def _check_unique(rows: Iterable[Mapping[str, Any]], source: str | Path) -> None:
    seen = set()
    for row in rows:
        key = row_key(row)
        if key in seen:
            raise SpecError(source, "submission_id", f"{row['submission_id']!r} has two rows for trigger "
                            f"{row['trigger_id']!r} and judge {row['judge']!r} (same prompts, scoring, definition, "
                            "suite and release)")
        seen.add(key)


def append_rows(folder: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Validate ``rows`` and write them as one new part file; return its path.

    Nothing is written when any row fails validation or repeats a row already in the table.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not rows:
        raise SpecError(folder, None, "nothing to append")
    checked = [validate_row(row, f"row {i}") for i, row in enumerate(rows)]
    existing = read_results(folder) if folder.is_dir() else []
    _check_unique([*existing, *checked], folder)
    canonical = json.dumps(checked, sort_keys=True, allow_nan=False).encode()
    target = folder / f"part-{hashlib.sha256(canonical).hexdigest()[:16]}.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".part-", suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        pq.write_table(pa.Table.from_pylist(checked, schema=arrow_schema()), temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target

