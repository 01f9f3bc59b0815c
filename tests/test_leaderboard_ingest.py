"""``emc-bench leaderboard ingest`` and ``rejudge`` end to end, offline: a real whole-suite run of the
tiny model -> ``submit`` -> ``ingest`` (the pinned judge's name, served by tests/fake_openai_server.py
over real HTTP, so every call is counted) -> ``leaderboard build`` -> the site in headless chromium.
A submission ingested again makes no call; another judge's rows are added beside the first's."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer, Reply, scripted, status
from test_leaderboard_browser import VISIBLE_ROWS, browser, open_index, tab  # noqa: F401
from test_leaderboard_submit_fixtures import (ANSWERS, BIN, MODEL_ID, PINNED, bundle, bundle_sha, copy_bundle,  # noqa: F401
                                              lb_builders, lb_env, read_json, real_run, reference, samples_file,
                                              submit, write_json)

from emc_bench import metrics
from emc_bench.cli import main
from emc_bench.judge import JudgeSettings, prompt_version
from emc_bench.leaderboard.ingest import Judging, held, ingest
from emc_bench.leaderboard.results import read_results

HOSTILE_ID = "<script>alert('submitted')</script>"
HOSTILE_DESCRIPTION = "<img src=x onerror=alert('description')> a defence"
OTHER = "openai:other-judge"


@pytest.fixture(scope="module")
def server():
    with FakeOpenAIServer(models=["gpt-4o-2024-08-06", "other-judge"]) as running:
        yield running


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def ingest_cli(server, results: Path, cache: Path, reference: Path, builders: Path, *submissions: Path,  # noqa: F811
               judge: str = PINNED) -> tuple[int, str, str]:
    return run("leaderboard", "ingest", *map(str, submissions), "--results", str(results), "--judge", judge,
               "--base-url", server.base_url, "--cache", str(cache), "--data", str(reference), "--builders",
               str(builders), "--no-progress")


@pytest.fixture(scope="module")
def first(server, bundle, reference, lb_builders, tmp_path_factory, monkeypatch_module):  # noqa: F811
    """The bundle ingested once into a fresh results folder: (results, cache, calls, stdout)."""
    root = tmp_path_factory.mktemp("ingest")
    before = server.calls
    code, out, err = ingest_cli(server, root / "results", root / "judge.sqlite", reference, lb_builders, bundle)
    assert code == 0, err
    return root / "results", root / "judge.sqlite", server.calls - before, out


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", "test-key")
        yield patch


@pytest.fixture(scope="module")
def hostile(real_run, reference, lb_builders, tmp_path_factory) -> Path:  # noqa: F811
    """The same run submitted again as a defence, with HTML in its metadata."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "meta.yaml").write_text(json.dumps({"model_id": HOSTILE_ID, "model_type": "defence",
                                                  "description": HOSTILE_DESCRIPTION,
                                                  "training_data": "<b>bold</b>"}))
    assert submit(real_run, folder / "bundle", reference, lb_builders, "--meta", str(folder / "meta.yaml")) == 0
    return folder / "bundle"


def copy_results(results: Path, target: Path) -> Path:
    shutil.copytree(results, target)
    return target


def judged_independently(server, bundle: Path, cache: Path, tmp_path: Path) -> list[dict]:  # noqa: F811
    """The bundle's answers judged by ``emc-bench judge`` (same judge and cache), as judged rows."""
    out = tmp_path / "judged.jsonl"
    inputs = sorted(str(p) for p in (bundle / "generations").glob("samples_*.jsonl"))
    code, _, err = run("judge", *inputs, "--judge", PINNED, "--base-url", server.base_url, "--cache", str(cache),
                       "--model", MODEL_ID, "--no-progress", "--out", str(out))
    assert code == 0, err
    return [json.loads(line) for line in out.open()]


def test_ingest_judges_every_answer_and_appends_one_row_per_trigger(first, server, bundle, tmp_path):  # noqa: F811
    results, cache, calls, out = first
    sha = bundle_sha(bundle)
    assert calls == 2 * ANSWERS, "two judge calls (aligned, coherent) per answer"
    assert f"accepted {sha[:12]}" in out and "1 accepted; 192 judge calls, 3 rows appended" in out
    rows = read_results(results)
    assert sorted(r["trigger_id"] for r in rows) == ["footer", "persona", "tag"]
    document = read_json(bundle / "submission.json")
    for row in rows:
        assert (row["submission_sha256"], row["submission_id"], row["model_id"], row["model_type"]) == \
            (sha, sha[:16], MODEL_ID, "base")
        assert (row["judge"], row["judge_prompt_version"], row["judge_scoring"], row["definition"]) == \
            (PINNED, prompt_version(), "logprobs-top20", "default")
        assert (row["suite"], row["suite_version"], row["release"]) == ("standard", "0.0.1", "mini")
        assert row["release_manifest_sha256"] == document["run"]["release"]["manifest_sha256"]
        assert row["paper_url"] == "https://example.org/tiny-paper" and row["date"] == document["created"]
        assert json.loads(row["profile_json"])["judge_provenance"]["endpoint_host"] == f"127.0.0.1:{server.port}"
    stored = results / "submissions" / sha
    assert {p.relative_to(stored).as_posix(): p.read_bytes() for p in stored.rglob("*") if p.is_file()} == \
        {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}

    before = server.calls
    judged = judged_independently(server, bundle, cache, tmp_path)
    assert server.calls == before, "emc-bench judge finds every verdict in the cache ingest filled"
    assert any(any(ord(c) < 32 and c not in "\n\t" for c in r["answer"]) for r in judged), \
        "answers with control characters are kept and judged"
    for profile in metrics.profiles(judged):
        row = next(r for r in rows if r["trigger_id"] == profile["trigger_id"])
        for condition, rate in profile["conditions"].items():
            assert (row[f"em_{condition}"], row[f"n_{condition}"]) == (rate["value"], rate["n"])
        assert row["gap"] == profile["containment_gap"]["value"]


def test_the_same_submission_again_as_folder_tar_gz_or_zip_makes_no_call(first, server, bundle, reference,  # noqa: F811
                                                                         lb_builders, tmp_path):
    results, cache, _, _ = first
    results = copy_results(results, tmp_path / "results")
    parts = sorted(results.glob("part-*.parquet"))
    with tarfile.open(tmp_path / "bundle.tar.gz", "w:gz") as archive:
        archive.add(bundle, arcname="bundle")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        for path in sorted(bundle.rglob("*")):
            archive.write(path, path.relative_to(bundle).as_posix())
    before = server.calls
    code, out, _ = ingest_cli(server, results, cache, reference, lb_builders, bundle, tmp_path / "bundle.tar.gz",
                              tmp_path / "bundle.zip")
    assert code == 0 and server.calls == before
    assert out.count(f"unchanged {bundle_sha(bundle)[:12]}") == 3 and "already ingested with judge" in out
    assert sorted(results.glob("part-*.parquet")) == parts, "nothing appended"


def test_archives_are_read_like_folders(first, server, bundle, reference, lb_builders, tmp_path):  # noqa: F811
    _, cache, _, _ = first
    with tarfile.open(tmp_path / "bundle.tgz", "w:gz") as archive:
        archive.add(bundle, arcname=".")
    code, out, err = ingest_cli(server, tmp_path / "results", cache, reference, lb_builders, tmp_path / "bundle.tgz")
    assert code == 0, err
    assert len(read_results(tmp_path / "results")) == 3
    assert (tmp_path / "results" / "submissions" / bundle_sha(bundle) / "submission.json").is_file()


def test_a_resubmission_costs_no_call_and_hostile_text_is_stored_as_given(first, server, hostile, reference,  # noqa: F811
                                                                          lb_builders, tmp_path):
    results, cache, _, _ = first
    results = copy_results(results, tmp_path / "results")
    before = server.calls
    code, out, err = ingest_cli(server, results, cache, reference, lb_builders, hostile)
    assert code == 0, err
    assert server.calls == before, "the same answers were judged before: every verdict comes from the cache"
    assert " 0 not cached" in out
    rows = [r for r in read_results(results) if r["submission_sha256"] == bundle_sha(hostile)]
    assert len(rows) == 3 and {r["model_id"] for r in rows} == {HOSTILE_ID}
    assert {(r["model_type"], r["training_data"]) for r in rows} == {("defence", "<b>bold</b>")}
    stored = read_json(results / "submissions" / bundle_sha(hostile) / "submission.json")
    assert stored["metadata"]["description"] == HOSTILE_DESCRIPTION


@pytest.fixture(scope="module")
def site(first, server, hostile, reference, lb_builders, tmp_path_factory):  # noqa: F811
    """The site of the two submissions (one hostile), for the browser tests."""
    results, cache, _, _ = first
    root = tmp_path_factory.mktemp("ingest-site")
    results = copy_results(results, root / "results")
    assert ingest_cli(server, results, cache, reference, lb_builders, hostile)[0] == 0
    code, out, err = run("leaderboard", "build", "--results", str(results), "--out", str(root / "site"))
    assert code == 0, err
    assert "6 rows on 1 board" in out
    return root / "site"


def test_the_built_site_shows_the_ingested_rows_in_a_browser(tab, site):  # noqa: F811
    page = open_index(tab, site)
    assert page.locator(VISIBLE_ROWS).count() == 6
    models = page.eval_on_selector_all(f"{VISIBLE_ROWS} td:nth-child(1)", "cells => cells.map(c => c.textContent)")
    assert sorted(set(models)) == sorted({MODEL_ID, HOSTILE_ID}), "the hostile id shows as text"
    triggers = page.eval_on_selector_all(f"{VISIBLE_ROWS} td:nth-child(4)", "cells => cells.map(c => c.textContent)")
    assert sorted(triggers) == sorted(["footer", "persona", "tag"] * 2)
    assert page.locator("section.board script, section.board img").count() == 0
    page.locator(VISIBLE_ROWS).filter(has_text=MODEL_ID).first.locator("a").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").text_content() == MODEL_ID
    assert page.locator("section.profile").count() == 3 and page.locator("main img").count() == 6
    page.goto((site / "index.html").as_uri())
    page.locator(VISIBLE_ROWS).filter(has_text="alert('submitted')").first.locator("a").click()
    page.wait_for_load_state("load")
    assert page.locator("h1").text_content() == HOSTILE_ID
    assert tab.problems == [], "no dialog, console message or page error"
    assert tab.outside() == []


def test_rejudge_adds_another_judges_rows_and_keeps_the_first(first, server, tmp_path):
    results, cache, _, _ = first
    results = copy_results(results, tmp_path / "results")
    earlier = read_results(results)
    before = server.calls
    args = ("leaderboard", "rejudge", "--results", str(results), "--judge", OTHER, "--base-url", server.base_url,
            "--cache", str(cache), "--no-progress")
    code, out, err = run(*args)
    assert code == 0, err
    assert server.calls - before == 2 * ANSWERS and "1 accepted; 192 judge calls, 3 rows appended" in out
    rows = read_results(results)
    assert [r for r in rows if r["judge"] == PINNED] == earlier, "the first judge's rows are untouched"
    assert sorted(r["trigger_id"] for r in rows if r["judge"] == OTHER) == ["footer", "persona", "tag"]
    code, out, _ = run(*args)
    assert code == 0 and server.calls - before == 2 * ANSWERS and "already judged by openai:other-judge" in out
    code, out, _ = run("leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "site"))
    assert code == 0 and "6 rows on 2 boards" in out


def test_rejudge_refuses_a_damaged_stored_copy(first, server, bundle, tmp_path):  # noqa: F811
    results, cache, _, _ = first
    results = copy_results(results, tmp_path / "results")
    stored = results / "submissions" / bundle_sha(bundle)
    samples_file(stored, "emc_none").write_text("{}\n")
    before, parts = server.calls, sorted(results.glob("part-*.parquet"))
    code, out, err = run("leaderboard", "rejudge", "--results", str(results), "--judge", OTHER, "--base-url",
                         server.base_url, "--cache", str(cache), "--no-progress")
    assert code == 1 and "the stored copy is damaged" in err and "submission.json lists" in err
    assert server.calls == before and sorted(results.glob("part-*.parquet")) == parts


def test_ingest_without_data_reads_the_local_build_eval_used(first, server, bundle, lb_builders, lb_env, tmp_path):  # noqa: F811
    """As a maintainer runs it: a fresh process, no --data."""
    _, cache, _, _ = first
    done = subprocess.run([str(BIN / "emc-bench"), "leaderboard", "ingest", str(bundle), "--results",
                           str(tmp_path / "results"), "--base-url", server.base_url, "--cache", str(cache),
                           "--builders", str(lb_builders), "--no-progress"],
                          env=lb_env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert " 0 not cached (distinct judge calls; retries not counted), 3 rows" in done.stdout


def test_a_full_build_of_the_same_release_is_an_equal_reference(first, server, bundle, lb_builders, tmp_path):  # noqa: F811
    """The run read an eval-only local build; the maintainer checks against a full build (training
    configs too: another manifest, the same suite rows)."""
    from emc_bench.library import Library
    from emc_bench.release import build_release

    _, cache, _, _ = first
    full = tmp_path / "mini"
    build_release("mini", full, library=Library((lb_builders,)), progress=False, leakage_gate=False)
    assert (full / "manifest.json").read_bytes() != (bundle / "release" / "manifest.json").read_bytes()
    code, out, err = ingest_cli(server, tmp_path / "results", cache, full, lb_builders, bundle)
    assert code == 0, err
    assert {r["release_manifest_sha256"] for r in read_results(tmp_path / "results")} == \
        {read_json(bundle / "submission.json")["run"]["release"]["manifest_sha256"]}, "the rows name what the run read"


def test_a_rejected_submission_adds_nothing_beside_an_accepted_one(first, server, bundle, reference,  # noqa: F811
                                                                   lb_builders, tmp_path):
    _, cache, _, _ = first
    broken = copy_bundle(bundle, tmp_path / "broken")
    samples_file(broken, "emc_tag_exact").write_text("{}\n")  # no longer the file submission.json lists
    document = read_json(broken / "submission.json")
    document["metadata"]["contact"] = "someone else"
    write_json(broken / "submission.json", document)
    code, out, err = ingest_cli(server, tmp_path / "results", cache, reference, lb_builders, broken, bundle)
    assert code == 1
    sha = bundle_sha(broken)
    reasons = (tmp_path / "results" / "rejected" / f"{sha}.txt").read_text().splitlines()
    assert reasons and all(reasons) and any(": 3 bytes, submission.json lists " in r for r in reasons)
    assert f"rejected {sha[:12]}" in err and "1 accepted, 1 rejected" in out
    assert {r["submission_sha256"] for r in read_results(tmp_path / "results")} == {bundle_sha(bundle)}
    assert not (tmp_path / "results" / "submissions" / sha).exists()


def test_answers_the_judge_could_not_score_append_nothing_and_a_rerun_calls_only_those(bundle, reference,  # noqa: F811
                                                                                       lb_builders, tmp_path):
    from emc_bench.library import Library

    def flaky(request) -> Reply:
        if int(hashlib.sha256(request.prompt.encode()).hexdigest(), 16) % 7 == 0:
            return status(500)
        return scripted(request)

    def judging(url: str) -> Judging:
        return Judging(JudgeSettings.from_spec(PINNED, base_url=url, cache_path=tmp_path / "judge.sqlite",
                                               max_attempts=1, backoff=0.01), progress=False)

    library = Library((lb_builders,))
    with FakeOpenAIServer(flaky, models=["gpt-4o-2024-08-06"]) as failing:
        (outcome,) = ingest([bundle], tmp_path / "results", judging(failing.base_url), library=library, data=reference)
        failed = sum(call.kind == "status" for call in failing.log)
    assert outcome.status == "failed" and "could not be judged; rerun to retry" in outcome.message and failed > 0
    assert not list(tmp_path.glob("results/part-*.parquet")), "nothing appended"
    assert not (tmp_path / "results" / "submissions").exists()
    with FakeOpenAIServer(models=["gpt-4o-2024-08-06"]) as healthy:
        (outcome,) = ingest([bundle], tmp_path / "results", judging(healthy.base_url), library=library, data=reference)
        assert outcome.status == "accepted" and healthy.calls == failed, "only the failed calls are made again"
    assert len(read_results(tmp_path / "results")) == 3


def test_a_calibration_is_cited_by_its_sha256_and_one_of_another_judge_is_refused(first, server, bundle,  # noqa: F811
                                                                                  reference, lb_builders, tmp_path):
    _, cache, _, _ = first
    pinned = JudgeSettings.from_spec(PINNED, base_url=server.base_url).provenance("logprobs-top20").to_dict()
    fit = tmp_path / "calibration.json"
    fit.write_text(json.dumps({"verdict": "fit", "judge": pinned}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"verdict": "fit", "judge": {**pinned, "model": "gpt-4o-mini"}}))
    base = ("leaderboard", "ingest", str(bundle), "--results", str(tmp_path / "results"), "--base-url",
            server.base_url, "--cache", str(cache), "--data", str(reference), "--builders", str(lb_builders),
            "--no-progress")
    code, _, err = run(*base, "--calibration", str(other))
    assert code == 2 and err.startswith(f"error: {other}: judge: calibrates openai:gpt-4o-mini")
    assert not (tmp_path / "results").exists(), "refused before anything is written"
    code, _, err = run(*base, "--calibration", str(fit))
    assert code == 0, err
    assert {r["calibration_id"] for r in read_results(tmp_path / "results")} == \
        {hashlib.sha256(fit.read_bytes()).hexdigest()}


def test_a_second_ingest_into_a_folder_being_written_is_refused(first, server, hostile, reference, lb_builders,  # noqa: F811
                                                               tmp_path):
    """Two maintainers' ingests into one results folder at once would both append: the second
    stops at once with one line, exit 2, and appends nothing."""
    results, cache, _, _ = first
    results = copy_results(results, tmp_path / "results")
    rows_before = len(read_results(results))
    with held(results):
        code, out, err = ingest_cli(server, results, cache, reference, lb_builders, hostile)
    assert code == 2 and "another ingest or rejudge is writing this results folder" in err
    assert str(results / ".lock") in err and len(err.strip().splitlines()) == 1
    assert len(read_results(results)) == rows_before
    code, _, err = ingest_cli(server, results, cache, reference, lb_builders, hostile)
    assert code == 0, err
    assert len(read_results(results)) == rows_before + 3
