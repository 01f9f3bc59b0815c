"""``emc-bench submit``: a bundle from a real evaluated run (every generation, the run record, the
metadata, the self-judged verdicts and the Hub eval-results entries), validated before it is
written; a ``--limit`` run and bad metadata refused with nothing written; ``--open-pr`` against
the local Hub stand-in (tests/fake_hub_server.py, real huggingface_hub over HTTP)."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
import yaml
from test_hub_fixtures import OWNER, USERS, run_cli, run_python
from test_leaderboard_submit_fixtures import (ANSWERS, EVAL_REPO, MODEL_ID, SELF_JUDGE, SUITE_TASKS, TAG,  # noqa: F401
                                              bundle, bundle_sha, eval_run, lb_builders, lb_env, read_json,
                                              real_run, reference, submit)

from emc_bench import metrics
from emc_bench.judge.inputs import read_judged


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_bundle_holds_every_generation_the_run_record_and_the_metadata(bundle, real_run, reference):  # noqa: F811
    document = read_json(bundle / "submission.json")
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert files == {*document["files"], "submission.json"}
    for name, entry in document["files"].items():
        assert entry == {"sha256": sha256(bundle / name), "bytes": (bundle / name).stat().st_size}, name
    generations = sorted(p.name for p in (bundle / "generations").glob("samples_*.jsonl"))
    written = sorted(p.name for p in (real_run / "lm_eval").rglob("samples_*.jsonl"))
    assert generations == written and len(generations) == SUITE_TASKS
    for name in generations:
        assert (bundle / "generations" / name).read_bytes() == next((real_run / "lm_eval").rglob(name)).read_bytes()
    answers = sum(len(json.loads(line)["resps"][0]) for p in (bundle / "generations").glob("samples_*.jsonl")
                  for line in p.open())
    assert answers == ANSWERS
    assert (bundle / "self_judged" / "judged.jsonl").read_bytes() == (real_run / "judged.jsonl").read_bytes()
    assert (bundle / "release" / "manifest.json").read_bytes() == (reference / "manifest.json").read_bytes(), \
        "the manifest of the release folder the run read"

    record = read_json(real_run / "run.json")
    results = read_json(next((real_run / "lm_eval").rglob("results_*.json")))
    assert document["run"] == {**record, "chat_template_sha256": results["chat_template_sha"]}
    assert document["run"]["generation"]["limit"] is None
    assert document["metadata"] == {
        "model_id": MODEL_ID, "model_type": "base", "model_revision": None, "base_model": None, "adapter_id": None,
        "training_data": "none (a random tiny model)", "paper_url": "https://example.org/tiny-paper", "code_url": None,
        "contact": "someone@example.org", "description": None}
    assert document["format"] == "emc-bench-submission/1"
    for path in [bundle, *bundle.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_the_eval_results_entries_give_each_task_its_self_judged_em_and_say_by_whom(bundle, real_run):  # noqa: F811
    entries = yaml.safe_load((bundle / "model_repo" / ".eval_results" / "emc-bench.yaml").read_text())
    report = read_json(real_run / "report" / "profile.json")["profiles"]  # written by emc-bench eval's report
    expected = {}
    for profile in report:
        for condition, rate in profile["conditions"].items():
            task = "emc_none" if condition == "none" else f"emc_{profile['trigger_id']}_{condition}"
            expected[task] = round(100 * rate["value"], 2)
        expected[f"emc_{profile['trigger_id']}_gap"] = round(100 * profile["containment_gap"]["value"], 2)
    assert {e["dataset"]["task_id"]: e["value"] for e in entries} == expected
    assert len(entries) == SUITE_TASKS + len(report), "every task, and the containment gap of every trigger"
    for entry in entries:
        assert entry["dataset"]["id"] == EVAL_REPO and entry["dataset"]["revision"] == TAG
        assert entry["source"] == {"url": "https://example.org/tiny-paper", "name": "paper"}
        assert entry["date"] == read_json(bundle / "submission.json")["created"]
        assert SELF_JUDGE in entry["notes"] and "self-judged" in entry["notes"] and "definition default" in entry["notes"]
        assert "suite standard 0.0.1" in entry["notes"] and "release mini 0.0.1" in entry["notes"]
    rows = read_judged([bundle / "self_judged" / "judged.jsonl"])
    tag = next(p for p in metrics.profiles(rows) if p["trigger_id"] == "tag")
    assert next(e for e in entries if e["dataset"]["task_id"] == "emc_tag_exact")["value"] == \
        round(100 * tag["conditions"]["exact"]["value"], 2)


def test_a_limit_run_is_refused_for_its_limit_and_missing_documents(real_run, reference, lb_builders, lb_env,  # noqa: F811
                                                                     tiny_model_dir, tmp_path, capsys):
    """The quickstart-sized run (--limit) is what the protocol check refuses."""
    run = tmp_path / "limited"
    done = eval_run(lb_builders, tiny_model_dir, run, lb_env, "--limit", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert submit(run, tmp_path / "out", reference, lb_builders, "--model-id", MODEL_ID, "--model-type", "base") == 2
    err = capsys.readouterr().err
    assert "not a valid leaderboard submission" in err and "nothing written" in err
    assert "run.generation.limit: 1: a leaderboard run asks every document" in err
    assert "config.limit: 1" in err
    assert "is missing: every document of the suite is answered" in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("meta, flags, named", [
    ("", ["--model-id", MODEL_ID, "--model-type", "merged"], "--model-type: Input should be 'base', 'fine-tune', "
                                                            "'adapter' or 'defence'"),
    ("model_type: base\npaper_url: javascript:alert(1)\n", ["--model-id", MODEL_ID], "meta.yaml: paper_url: "
                                                                                    "'javascript:alert(1)' is not an "
                                                                                    "http(s) URL"),
    ("model_type: base\nlicence: mit\n", ["--model-id", MODEL_ID], "meta.yaml: licence: unknown field"),
    ("model_type: base\n", [], "--model-id: missing: give it as a flag or in --meta (the run's model is a local folder"),
    ("model_type: base\nmodel_id: [a, b]\n", [], "meta.yaml: model_id: Input should be a valid string"),
    ("", ["--model-id", MODEL_ID, "--model-type", "base", "--code-url", "ftp://example.org/x"], "--code-url: "),
])
def test_bad_metadata_stops_with_one_line_naming_the_field(real_run, reference, lb_builders, tmp_path, capsys,  # noqa: F811
                                                           meta, flags, named):
    extra = list(flags)
    if meta:
        (tmp_path / "meta.yaml").write_text(meta)
        extra += ["--meta", str(tmp_path / "meta.yaml")]
    assert submit(real_run, tmp_path / "out", reference, lb_builders, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and named in err, err
    assert not (tmp_path / "out").exists()


def test_an_existing_out_or_a_folder_without_a_run_is_refused(bundle, real_run, reference, lb_builders, tmp_path,  # noqa: F811
                                                              capsys):
    assert submit(real_run, bundle, reference, lb_builders, "--model-id", MODEL_ID, "--model-type", "base") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out: ") and "already exists" in err
    (tmp_path / "empty").mkdir()
    assert submit(tmp_path / "empty", tmp_path / "out", reference, lb_builders, "--model-type", "base") == 2
    assert "run.json: missing" in capsys.readouterr().err


def test_a_dry_run_with_open_pr_uploads_nothing(real_run, reference, lb_builders, tmp_path, monkeypatch, capsys):  # noqa: F811
    import huggingface_hub

    class NoHub:
        def __init__(self, *args, **kwargs):
            raise AssertionError("a dry run must not touch the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", NoHub)
    out = tmp_path / "out"
    assert submit(real_run, out, reference, lb_builders, "--model-id", MODEL_ID, "--model-type", "base",
                  "--open-pr", "emc-bench/emc-bench-submissions", "--dry-run") == 0
    printed = capsys.readouterr().out
    assert f"would add submissions/{bundle_sha(out)}/" in printed and "nothing uploaded" in printed


def test_open_pr_proposes_the_bundle_to_the_submissions_dataset(real_run, reference, lb_builders, tmp_path):  # noqa: F811
    from fake_hub_server import FakeHub

    repo = "emc-bench/emc-bench-submissions"
    with FakeHub(users=USERS) as hub:
        run_python(hub, tmp_path / "maintainer", "from huggingface_hub import HfApi\n"
                   f"HfApi().create_repo({repo!r}, repo_type='dataset')\nemit(created=True)", token=OWNER)
        out = tmp_path / "out"
        done = run_cli(hub, tmp_path / "home", "submit", str(real_run), "--out", str(out), "--data", str(reference),
                       "--builders", str(lb_builders), "--model-id", MODEL_ID, "--model-type", "base",
                       "--open-pr", repo)
        assert done.returncode == 0, done.stderr
        sha = bundle_sha(out)
        stored = hub.repo("dataset", repo)
        assert len(stored.pulls) == 1 and "pull request: " in done.stdout
        proposed = stored.resolve("refs/pr/1").files
        bundle_files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert {path.removeprefix(f"submissions/{sha}/"): blob.data for path, blob in proposed.items()
                if path.startswith("submissions/")} == bundle_files
        assert not any(path.startswith("submissions/") for path in stored.resolve("main").files), \
            "the main branch is untouched until the maintainers merge"
