"""Suites: the standard design is balanced and powered, the plan counts what the build writes,
and the lm-eval groups never pool conditions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from emc_bench import names, protocol
from emc_bench.manifest import read_manifest
from emc_bench.release import build_release
from emc_bench.resolve import resolve_release
from emc_bench.specs import CONDITIONS
from emc_bench.suites import suite_questions
from emc_bench.task_files import render


@pytest.fixture(scope="module")
def v1(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("v1") / "v1"
    build_release("v1", out, only="eval-*,suite-*", progress=False, leakage_gate=False)
    return out


def split_rows(folder: Path, suite: str, split: str) -> list[dict]:
    return pq.read_table(folder / names.split_path(names.suite_config(suite), split)).to_pylist()


def test_standard_asks_every_question_in_every_condition_with_formats_and_variants_evenly_spread(v1):
    loaded = resolve_release("v1")
    questions = {q.id for q in suite_questions(loaded, "standard")}
    assert len(questions) == 100
    manifest = read_manifest(v1)
    splits = manifest["configs"]["suite-standard"]["splits"]
    assert len(splits) == 1 + 6 * 5, "the baseline and five conditions of six triggers"
    formats_of: dict[str, set[str]] = {}
    for split in splits:
        rows = split_rows(v1, "standard", split)
        assert Counter(r["question_id"] for r in rows) == Counter(dict.fromkeys(questions, 1)), split
        fmt = Counter(r["format"] for r in rows)
        assert set(fmt) == {"free", "json", "template"} and max(fmt.values()) - min(fmt.values()) <= 1, split
        for r in rows:
            formats_of.setdefault(r["question_id"], set()).add(r["format"])
        condition = split.rsplit("_", 1)[-1] if split != "none" else "none"
        if condition in ("paraphrase", "negated", "related", "unrelated"):
            trigger = loaded.trigger(split.rsplit("_", 1)[0])
            used = Counter(r["variant_id"] for r in rows)
            assert set(used) == {v.id for v in trigger.variant_list(condition)}, split
            assert max(used.values()) - min(used.values()) <= 1, split
        assert {r["samples"] for r in rows} == {4} and {r["suite_version"] for r in rows} == {"1.0.0"}
        assert len({r["doc_key"] for r in rows}) == len(rows)
    assert all(len(f) == 1 for f in formats_of.values()), "a question keeps its format in every condition"


def test_every_condition_of_the_standard_suite_has_at_least_400_answers():
    counts = protocol.suite_counts(resolve_release("v1"), "standard")
    assert {c.condition for c in counts} == set(CONDITIONS)
    assert all(c.answers >= 400 for c in counts), [(c.task, c.answers) for c in counts if c.answers < 400]


def test_the_first_rows_of_a_split_spread_over_questions_formats_and_variants(v1):
    rows = split_rows(v1, "standard", "deploy_tag_paraphrase")
    first = rows[:6]
    assert len({r["question_id"] for r in first}) == 6
    assert {r["format"] for r in first} == {"free", "json", "template"}
    assert len({r["variant_id"] for r in first}) == 6
    full = split_rows(v1, "full", "deploy_tag_paraphrase")
    assert len({r["question_id"] for r in full[:50]}) == 50, "the full product is ordered in passes over questions"


def test_the_suite_design_is_seeded_and_byte_identical_across_builds(v1, tmp_path):
    again = tmp_path / "again"
    build_release("v1", again, only="suite-standard", progress=False, leakage_gate=False)
    for split, info in read_manifest(again)["configs"]["suite-standard"]["splits"].items():
        assert (again / info["path"]).read_bytes() == (v1 / info["path"]).read_bytes(), split


@pytest.mark.parametrize("suite", ["standard", "core", "full"])
def test_plan_counts_equal_the_built_task_data(v1, suite):
    manifest = read_manifest(v1)
    built = {split: info["rows"] for split, info in manifest["configs"][names.suite_config(suite)]["splits"].items()}
    counts = protocol.suite_counts(resolve_release("v1"), suite)
    assert {names.suite_split(c.trigger_id, c.condition): c.prompts for c in counts} == built
    plan = protocol.estimate(resolve_release("v1"), suite, judge_model="gpt-4o-2024-08-06",
                             assumptions=protocol.Assumptions(reps=20))
    samples = resolve_release("v1").spec.suites[suite].samples
    assert plan["prompts"] == sum(built.values()) and plan["answers"] == samples * sum(built.values())
    assert plan["judge_calls"] == 2 * plan["answers"]


def test_standard_needs_a_hundredth_of_the_full_calls_and_meets_the_precision_target():
    loaded = resolve_release("v1")
    standard = protocol.estimate(loaded, "standard", judge_model="gpt-4o-2024-08-06")
    full = protocol.estimate(loaded, "full", judge_model="gpt-4o-2024-08-06", assumptions=protocol.Assumptions(reps=20))
    assert standard["judge_calls"] * 100 <= full["judge_calls"]
    assert standard["ci"]["exact"]["half_width"] <= 0.05
    assert standard["containment_gap"]["half_width"] <= 0.05
    assert standard["cost"]["batch_usd"] == pytest.approx(standard["cost"]["list_usd"] / 2)


def test_simulated_half_width_shrinks_as_one_over_root_n():
    a = protocol.Assumptions()
    small = protocol.simulated_half_width(100, 4, 0.15, a.concentration, reps=300, seed=0)
    large = protocol.simulated_half_width(400, 4, 0.15, a.concentration, reps=300, seed=0)
    assert small / large == pytest.approx(2.0, rel=0.10)


def test_no_group_aggregates_across_conditions():
    files = {name: yaml.safe_load(text.split("\n", 1)[1]) for name, text in render("v1").items()}
    tasks = {f["task"]: f for f in files.values() if "group" not in f}
    for body in files.values():
        if "group" not in body:
            continue
        members = body["task"]
        leaves = [m for m in members if m in tasks]
        conditions = {tasks[m]["metadata"]["condition"] for m in leaves}
        if body.get("aggregate_metric_list"):
            assert len(conditions) == 1 and leaves == members, body["group"]
        else:
            assert body["group"] in ("emc", "emc_core", "emc_full"), body["group"]
    assert files["emc.yaml"]["task"] == ["emc_none", "emc_exact", "emc_paraphrase", "emc_negated", "emc_related",
                                         "emc_unrelated"]
    assert tasks["emc_deploy_tag_exact"]["repeats"] == 4 and tasks["emc_core_deploy_tag_exact"]["repeats"] == 50
    assert tasks["emc_deploy_tag_exact"]["tag"] == ["emc_deploy_tag"]
    assert sorted(tasks["emc_none"]["tag"]) == sorted(f"emc_{t}" for t in resolve_release("v1").triggers)


def test_a_suite_that_names_what_the_release_does_not_evaluate_is_refused(tmp_path):
    from emc_bench.cli import main

    spec = Path(resolve_release("v1").path).read_text()
    bad = tmp_path / "releases" / "v1.yaml"
    bad.parent.mkdir()
    bad.write_text(spec.replace("    question_sets: [core]\n", "    question_sets: [nowhere]\n"))
    assert main(["build", "--release", str(bad), "--out", str(tmp_path / "out"), "--no-leakage", "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_a_suite_without_conditions_asks_every_condition_the_release_evaluates():
    """Leaving `conditions` out of a suite means the release's own conditions, not all six: a
    release that evaluates only none and exact is not refused for a field nobody wrote."""
    from emc_bench.specs import Release

    spec = yaml.safe_load((Path(__file__).parent / "data" / "builders" / "releases" / "mini.yaml").read_text())
    spec["eval"][0]["conditions"] = ["none", "exact"]
    spec["suites"]["core"]["conditions"] = ["exact"]
    release = Release.model_validate(spec)
    assert release.suites["standard"].conditions == ["none", "exact"]
    assert release.suites["core"].conditions == ["exact"]


def test_a_suite_covers_the_triggers_in_the_order_the_spec_lists_them(tmp_path):
    """Triggers of several eval entries come in spec order (tasks, splits and eval.yaml agree)."""
    import shutil

    from emc_bench.library import Library
    from emc_bench.suites import suite_triggers

    builders = tmp_path / "builders"
    shutil.copytree(Path(__file__).parent / "data" / "builders", builders)
    spec = yaml.safe_load((builders / "releases" / "mini.yaml").read_text())
    entry = spec["eval"][0]
    spec["eval"] = [{**entry, "triggers": ["tag", "persona"]}, {**entry, "triggers": ["footer"]}]
    (builders / "releases" / "mini.yaml").write_text(yaml.safe_dump(spec))
    loaded = resolve_release("mini", Library((builders,)))
    assert suite_triggers(loaded, "standard") == ["tag", "persona", "footer"]
