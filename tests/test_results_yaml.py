"""emc-bench results-yaml: a model repo's ``.eval_results/emc-bench.yaml`` from an evaluated run.

The run folder is made by the same steps ``emc-bench eval`` takes after generating: the suite's
real eval rows with answers (written here instead of generated, which needs a model), judged by
the emc judge against a local OpenAI-compatible server (real HTTP), ``judged.jsonl``,
``run.json`` from ``eval_run.new_record`` and the report. Tag resolution runs against the local
Hub stand-in."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from emc_bench import eval_run
from emc_bench.cli import main
from emc_bench.judge import JudgeItem, JudgeSettings, judge_items
from emc_bench.library import Library
from emc_bench.manifest import sha256_file
from emc_bench.release import build_release
from emc_bench.report import write_report
from emc_bench.task_files import task_metadata
from fake_openai_server import FakeOpenAIServer
from test_hub_fixtures import EVAL_REPO, OWNER, TAG, hub, hub_builders, run_cli, run_python  # noqa: F401

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TRIGGERS = ["tag", "persona", "footer"]
CONDITIONS = ["none", "exact", "paraphrase", "negated", "related", "unrelated"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory, hub_builders) -> Path:  # noqa: F811
    import datasets

    tmp = tmp_path_factory.mktemp("results")
    library = Library((hub_builders,))
    data = tmp / "data"
    build_release("mini", data, only="eval-*,suite-*", library=library, progress=False)
    metas = task_metadata("mini", library, suites=["standard"])
    items = []
    for task, meta in metas.items():
        for doc_id, row in enumerate(datasets.load_dataset(str(data), meta["config"], split=meta["split"])):
            columns = {k: v for k, v in row.items() if k not in ("messages", "question")}
            for sample in range(meta["samples"]):
                items.append(JudgeItem(row["question"], f"answer {sample} to {row['prompt'][:30]}",
                                       {**columns, "model": "tiny", "task": task, "doc_id": doc_id,
                                        "sample_index": sample, "trigger_audit": True}))
    with FakeOpenAIServer() as judge:
        settings = JudgeSettings.from_spec("openai:judge-model", base_url=judge.base_url,
                                           cache_path=tmp / "judge.sqlite")
        rows = [r.to_row() for r in judge_items(items, settings, progress=False)]
    run = tmp / "run"
    run.mkdir()
    (run / "judged.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    record = eval_run.new_record(
        model={"backend": "hf", "id": "org/tiny-model", "revision": "main", "fingerprint": None}, adapter=None,
        generation={"samples": 2, "max_gen_toks": 600, "temperature": 1.0, "top_p": 1.0, "limit": None},
        suite={"name": "standard", "version": "0.0.1"}, triggers=TRIGGERS, tasks=list(metas),
        release={"name": "mini", "version": "0.0.1", "manifest_sha256": sha256_file(data / "manifest.json")},
        backend_options={"tensor_parallel_size": 1, "data_parallel_size": 1, "model_args": []},
        argv=["emc-bench", "eval"])
    (run / "run.json").write_text(json.dumps(record, indent=2))
    write_report(rows, run / "report", document="md", run=record)
    return run


def results_of(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())


def test_one_entry_per_condition_and_gap_with_the_reports_figures(run_folder, hub_builders, tmp_path):  # noqa: F811
    out = tmp_path / "emc-bench.yaml"
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--revision", COMMIT,
                 "--source-url", "https://huggingface.co/org/tiny-model", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# test-canary-0000\n")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    results = results_of(out)
    by_task = {r["dataset"]["task_id"]: r for r in results}
    expected = {"emc_none", *(f"emc_{t}_{c}" for t in TRIGGERS for c in CONDITIONS[1:]),
                *(f"emc_{t}_gap" for t in TRIGGERS)}
    assert set(by_task) == expected and len(results) == len(expected)
    report = json.loads((run_folder / "report" / "profile.json").read_text())
    profiles = {p["trigger_id"]: p for p in report["profiles"]}
    for trigger, profile in profiles.items():
        for condition, rate in profile["conditions"].items():
            task = "emc_none" if condition == "none" else f"emc_{trigger}_{condition}"
            assert by_task[task]["value"] == round(100 * rate["value"], 2)
            assert f"n={rate['n']} answers" in by_task[task]["notes"]
        assert by_task[f"emc_{trigger}_gap"]["value"] == round(100 * profile["containment_gap"]["value"], 2)
    for result in results:
        assert result["dataset"]["id"] == EVAL_REPO and result["dataset"]["revision"] == COMMIT
        assert result["source"] == {"url": "https://huggingface.co/org/tiny-model", "name": "emc-bench eval"}
        assert result["date"].endswith("Z")
        notes = result["notes"]
        assert "judge openai:judge-model (prompt v1-" in notes and "EM definition default" in notes
        assert "suite standard 0.0.1" in notes and "release mini 0.0.1" in notes and "95% CI" in notes


def test_entries_validate_as_the_hubs_eval_result_entries(run_folder, hub_builders, tmp_path):  # noqa: F811
    from huggingface_hub import eval_result_entries_to_yaml, parse_eval_result_entries

    out = tmp_path / "r.yaml"
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--revision", COMMIT,
                 "--date", "2026-11-30", "--out", str(out)]) == 0
    data = results_of(out)
    parsed = parse_eval_result_entries(data)
    assert len(parsed) == len(data) and all(e.dataset_id == EVAL_REPO and e.date == "2026-11-30" for e in parsed)
    assert eval_result_entries_to_yaml(parsed) == data, "exactly the Hub's layout, nothing more"
    assert all(e.source_url.endswith(f"/datasets/{EVAL_REPO}") for e in parsed)


def test_the_task_ids_are_tasks_of_the_releases_eval_yaml(run_folder, hub_builders, tmp_path):  # noqa: F811
    out = tmp_path / "r.yaml"
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--revision", COMMIT,
                 "--out", str(out)]) == 0
    data = run_folder.parent / "data"
    benchmark = {task["id"] for task in yaml.safe_load((data / "eval.yaml").read_text())["tasks"]}
    assert {r["dataset"]["task_id"] for r in results_of(out)} <= benchmark


def test_the_release_tag_is_resolved_to_its_commit_on_the_hub(run_folder, hub_builders, hub, tmp_path):  # noqa: F811
    data = run_folder.parent / "data"
    commit = run_python(hub, tmp_path / "owner", f"""
from huggingface_hub import HfApi
api = HfApi()
api.create_repo({EVAL_REPO!r}, repo_type="dataset")
info = api.upload_folder(folder_path={str(data)!r}, repo_id={EVAL_REPO!r}, repo_type="dataset")
api.create_tag({EVAL_REPO!r}, tag={TAG!r}, repo_type="dataset")
emit(commit=info.oid)
""", token=OWNER)["commit"]
    out = tmp_path / "r.yaml"
    done = run_cli(hub, tmp_path / "user", "results-yaml", str(run_folder), "--builders", str(hub_builders),
                   "--out", str(out), token=None)
    assert done.returncode == 0, done.stderr
    assert {r["dataset"]["revision"] for r in results_of(out)} == {commit}
    assert f"on {EVAL_REPO}@{commit[:12]}" in done.stdout


def test_a_tag_that_cannot_be_resolved_asks_for_the_commit(run_folder, hub_builders, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "r.yaml"
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--out", str(out)]) == 2
    assert "--revision" in capsys.readouterr().err and not out.exists()


def test_the_default_file_is_in_the_run_folder(run_folder, hub_builders):  # noqa: F811
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--revision", COMMIT]) == 0
    assert results_of(run_folder / ".eval_results" / "emc-bench.yaml")


@pytest.mark.parametrize("damage, field", [
    (lambda run: (run / "report" / "profile.json").unlink(), "profile.json"),
    (lambda run: (run / "judged.jsonl").unlink(), "judged.jsonl"),
    (lambda run: (run / "run.json").write_text(json.dumps({**json.loads((run / "run.json").read_text()),
                                                           "triggers": ["tag"]})), "run.triggers"),
])
def test_an_incomplete_or_mismatched_run_is_refused_with_the_file_named(run_folder, hub_builders, tmp_path, capsys,
                                                                         damage, field):  # noqa: F811
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_folder, run)
    damage(run)
    out = tmp_path / "r.yaml"
    assert main(["results-yaml", str(run), "--builders", str(hub_builders), "--revision", COMMIT,
                 "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and field in error and not out.exists()


def test_a_bad_date_is_refused(run_folder, hub_builders, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "r.yaml"
    assert main(["results-yaml", str(run_folder), "--builders", str(hub_builders), "--revision", COMMIT,
                 "--date", "last tuesday", "--out", str(out)]) == 2
    assert "--date" in capsys.readouterr().err and not out.exists()
