"""The leaderboard's results table: rows made from real containment profiles, validated in one
place, appended as new parquet parts (earlier parts never rewritten) and read back whole."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_leaderboard_fixtures import (CONTAINED, OTHER_JUDGE, judged_rows, provenance, result_row,  # noqa: F401
                                       submission_meta)

from emc_bench import metrics
from emc_bench.errors import SpecError
from emc_bench.leaderboard.results import (COLUMN_NAMES, append_rows, arrow_schema, read_results,
                                           rows_from_profile)
from emc_bench.specs import CONDITIONS

# The columns part 2 (ingest, rejudge) and the site rely on.
EXPECTED_COLUMNS = [
    "submission_id", "submission_sha256", "date", "model_id", "model_revision", "model_type", "base_model",
    "adapter_id", "adapter_sha256", "training_data", "paper_url", "trigger_id", "suite", "suite_version", "release",
    "release_manifest_sha256", "definition",
    *[f"{prefix}{c}{suffix}" for c in ("none", "exact", "paraphrase", "negated", "related", "unrelated")
      for prefix, suffix in (("em_", ""), ("em_", "_low"), ("em_", "_high"), ("n_", ""))],
    "gap", "gap_low", "gap_high", "retention", "retention_low", "retention_high", "judge", "judge_prompt_version",
    "judge_templates_sha256", "judge_scoring", "calibration_id", "emc_bench_version", "profile_json",
]


@pytest.fixture(scope="module")
def profile():
    return metrics.containment_profile(judged_rows("org/model", "deploy_tag", CONTAINED, seed=11), n_boot=200)


def test_the_table_has_the_documented_columns_in_one_schema():
    assert list(COLUMN_NAMES) == EXPECTED_COLUMNS
    schema = arrow_schema()
    assert schema.names == EXPECTED_COLUMNS
    assert schema.field("n_exact").type == pa.int64() and schema.field("em_exact").type == pa.float64()
    assert schema.field("profile_json").type == pa.string()


def test_a_row_carries_the_profile_numbers_and_the_judge_provenance(profile):
    judge = provenance()
    row = rows_from_profile(profile, submission_meta("sub-1", "org/model"), {**judge, "calibration_id": "cal-3"})
    assert list(row) == EXPECTED_COLUMNS
    for c in CONDITIONS:
        rate = profile["conditions"][c]
        assert (row[f"em_{c}"], row[f"em_{c}_low"], row[f"em_{c}_high"], row[f"n_{c}"]) == \
            (rate["value"], rate["ci_low"], rate["ci_high"], rate["n"])
    gap, retention = profile["containment_gap"], profile["paraphrase_retention"]
    assert (row["gap"], row["gap_low"], row["gap_high"]) == (gap["value"], gap["ci_low"], gap["ci_high"])
    assert (row["retention"], row["retention_low"], row["retention_high"]) == \
        (retention["value"], retention["ci_low"], retention["ci_high"])
    assert row["gap"] > 0.15 and row["gap_low"] > 0, "a contained model's gap is well above 0"
    assert row["trigger_id"] == "deploy_tag" and row["definition"] == "default"
    assert row["judge"] == "openai:gpt-4o-2024-08-06" and row["judge_prompt_version"] == judge["prompt_version"]
    assert json.loads(row["judge_templates_sha256"]) == judge["templates_sha256"]
    assert row["judge_scoring"] == "logprobs-top20" and row["calibration_id"] == "cal-3"
    stored = json.loads(row["profile_json"])
    assert stored["judge_provenance"]["endpoint_host"] == "api.openai.com"
    assert {k: v for k, v in stored.items() if k != "judge_provenance"} == json.loads(json.dumps(profile))
    assert list(stored["conditions"]) == list(profile["conditions"]), "the profile keeps its order of conditions"


def test_conditions_a_profile_lacks_are_empty_with_n_zero():
    rows = judged_rows("org/model", "deploy_tag", {"none": 0.0, "exact": 0.3}, seed=12)
    row = rows_from_profile(metrics.containment_profile(rows, n_boot=200), submission_meta("s", "org/model"),
                            provenance())
    assert row["n_exact"] > 0 and row["em_exact"] is not None
    assert (row["em_paraphrase"], row["n_paraphrase"], row["retention"]) == (None, 0, None)


def test_optional_submission_fields_may_be_left_out(profile):
    meta = submission_meta("s", "org/model", model_type="base")
    for name in ("model_revision", "base_model", "adapter_id", "adapter_sha256", "training_data", "paper_url"):
        meta.pop(name)
    row = rows_from_profile(profile, meta, provenance())
    assert row["base_model"] is None and row["paper_url"] is None


@pytest.mark.parametrize("change, field", [
    ({"model_type": "lora"}, "model_type"),
    ({"date": "last tuesday"}, "date"),
    ({"adapter_sha256": "abc"}, "adapter_sha256"),
    ({"submission_id": ""}, "submission_id"),
    ({"modle_id": "typo"}, "modle_id"),
])
def test_bad_submission_metadata_names_the_field(profile, change, field):
    with pytest.raises(SpecError) as err:
        rows_from_profile(profile, {**submission_meta("s", "org/model"), **change}, provenance(),
                          source="submissions/s.json")
    assert err.value.path == "submissions/s.json" and err.value.field == field


def test_missing_metadata_or_provenance_is_named(profile):
    meta = submission_meta("s", "org/model")
    del meta["release"]
    with pytest.raises(SpecError, match="release: missing"):
        rows_from_profile(profile, meta, provenance())
    judge = provenance()
    del judge["scoring"]
    with pytest.raises(SpecError, match="judge_provenance.scoring: missing"):
        rows_from_profile(profile, submission_meta("s", "org/model"), judge)
    with pytest.raises(SpecError, match="profile.conditions"):
        rows_from_profile({"trigger_id": "t"}, submission_meta("s", "org/model"), provenance())


def _snapshot(path):
    stat = path.stat()
    return path.read_bytes(), stat.st_mtime_ns, stat.st_ino


def test_appends_add_parts_and_never_rewrite_earlier_ones(tmp_path):
    folder = tmp_path / "results"
    first = [result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=21),
             result_row("sub-a", "org/a", "year_2027", CONTAINED, seed=22)]
    second = [result_row("sub-b", "org/b", "deploy_tag", CONTAINED, seed=23, model_type="fine-tune"),
              result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=21, judge=OTHER_JUDGE)]
    part_one = append_rows(folder, first)
    before = _snapshot(part_one)
    part_two = append_rows(folder, second)
    assert part_one != part_two and part_one.name.startswith("part-") and part_one.suffix == ".parquet"
    assert _snapshot(part_one) == before, "an append never rewrites an earlier part"
    assert sorted(p.name for p in folder.iterdir()) == sorted([part_one.name, part_two.name]), "no temporary left"
    assert all(os.stat(p).st_mode & 0o777 == 0o644 for p in (part_one, part_two))
    table = read_results(folder)
    assert len(table) == 4
    key = lambda r: (r["submission_id"], r["trigger_id"], r["judge"])  # noqa: E731
    assert sorted(map(key, table)) == sorted(map(key, first + second))
    assert {key(r): r for r in table}[key(second[0])] == second[0], "rows read back equal the rows appended"


def test_a_row_already_in_the_table_is_refused_and_nothing_written(tmp_path):
    folder = tmp_path / "results"
    row = result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=31)
    append_rows(folder, [row])
    with pytest.raises(SpecError, match="two rows for trigger 'deploy_tag'"):
        append_rows(folder, [result_row("sub-c", "org/c", "deploy_tag", CONTAINED, seed=32), row])
    assert len(list(folder.iterdir())) == 1 and len(read_results(folder)) == 1


def test_an_invalid_row_stops_the_append_before_anything_is_written(tmp_path):
    good = result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=41)
    bad = {**good, "submission_id": "sub-b", "em_exact": 1.7}
    with pytest.raises(SpecError) as err:
        append_rows(tmp_path / "results", [good, bad])
    assert (err.value.path, err.value.field) == ("row 1", "em_exact")
    assert not (tmp_path / "results").exists()
    with pytest.raises(SpecError, match="profile_json"):
        append_rows(tmp_path / "results", [{**good, "profile_json": "{not json"}])


def test_a_part_with_other_columns_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "results"
    append_rows(folder, [result_row("sub-a", "org/a", "deploy_tag", CONTAINED, seed=51)])
    pq.write_table(pa.table({"submission_id": ["x"], "judge": ["y"]}), folder / "part-0000.parquet")
    with pytest.raises(SpecError) as err:
        read_results(folder)
    assert err.value.path.endswith("part-0000.parquet")
    with pytest.raises(SpecError, match="results folder not found"):
        read_results(tmp_path / "missing")
