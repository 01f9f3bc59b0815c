"""Publishing to and loading from the Hub, over real HTTP with the real clients.

The Hugging Face Hub cannot be reached from the tests: ``tests/fake_hub_server.py`` stands in for
it on 127.0.0.1 and speaks the routes ``huggingface_hub`` and ``datasets`` use (create, preupload,
LFS batch and upload, commit, tags, pull requests, refs, info, tree, resolve, gating). Every
client here is the real one, run in a fresh process as a user would run it (``emc-bench publish``,
``datasets.load_dataset``, ``emc_bench.load``), with ``HF_ENDPOINT`` pointing at the stand-in.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fake_hub_server import FakeHub
from test_hub_fixtures import (EVAL_REPO, OWNER, READER, TAG, TRAIN_REPO, USERS, finished_run,  # noqa: F401
                               full_release, hub, hub_builders, one_torch_thread, release_dir, run_cli, run_python,
                               tiny_recipe)
from test_train_fixtures import CONFIG

from emc_bench.manifest import read_manifest, write_manifest
from emc_bench.names import MANIFEST, part_of

EVAL_CONFIG = "eval-tag"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(server: FakeHub, home: Path, release: Path, *extra: str):
    done = run_cli(server, home, "publish", "dataset", str(release), *extra)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def published(full_release, tmp_path_factory):  # noqa: F811
    """One local Hub holding the mini release, published once with the release's own hub defaults."""
    with FakeHub(users=USERS) as server:
        done = publish(server, tmp_path_factory.mktemp("maintainer"), full_release)
        yield server, done.stdout


def test_publish_dataset_makes_a_public_eval_repo_and_a_gated_train_repo_both_tagged(published, full_release):  # noqa: F811
    server, stdout = published
    eval_repo, train_repo = server.repo("dataset", EVAL_REPO), server.repo("dataset", TRAIN_REPO)
    assert eval_repo.gated is False and train_repo.gated == "manual"
    assert not eval_repo.private and not train_repo.private
    manifest = read_manifest(full_release)
    for repo, kind in ((eval_repo, "eval"), (train_repo, "train")):
        files = repo.resolve(TAG).files
        configs = {name for name, c in manifest["configs"].items() if part_of(c["kind"]) == kind}
        data = {path for path in files if path.startswith("data/")}
        assert {path.split("/")[1] for path in data} == configs
        for path in data:
            assert files[path].data == (full_release / path).read_bytes(), path
        assert files[path].lfs, "parquet files go through LFS"
        staged = json.loads(files[MANIFEST].data)
        assert staged["part"] == kind and set(staged["configs"]) == configs
    assert {p for p in eval_repo.resolve(TAG).files if p.startswith("variants/")} == \
        set(manifest["similarity"]["tables"].values())
    assert f'load_dataset("{EVAL_REPO}", "eval-<trigger>", revision="{TAG}")' in stdout
    assert f"training configs, gated ({TRAIN_REPO}): request access" in stdout


def test_load_dataset_round_trips_byte_identical(published, full_release, tmp_path):  # noqa: F811
    server, _ = published
    manifest = read_manifest(full_release)
    wanted = {EVAL_REPO: EVAL_CONFIG, TRAIN_REPO: CONFIG}
    got = run_python(server, tmp_path / "owner", f"""
import hashlib
from datasets import load_dataset
from huggingface_hub import hf_hub_download
out = {{}}
for repo, config in {wanted!r}.items():
    data = load_dataset(repo, config, revision="{TAG}")
    out[config] = {{split: data[split].to_list() for split in data}}
    files = {{split: hf_hub_download(repo, f"data/{{config}}/{{split}}.parquet", repo_type="dataset", revision="{TAG}")
             for split in data}}
    out[config + ":sha256"] = {{split: hashlib.sha256(open(p, "rb").read()).hexdigest() for split, p in files.items()}}
emit(**out)
""", token=OWNER)
    for config in wanted.values():
        splits = manifest["configs"][config]["splits"]
        assert set(got[config]) == set(splits)
        for split, info in splits.items():
            local = full_release / info["path"]
            assert got[f"{config}:sha256"][split] == sha256(local.read_bytes()), f"{config}/{split} bytes"
            assert got[config][split] == pq.read_table(local).to_pylist(), f"{config}/{split} rows"


def test_gated_train_repo_refuses_downloads_until_access_is_granted(published, tmp_path):
    server, _ = published
    attempt = f"""
import emc_bench
from datasets import load_dataset
from emc_bench.errors import SpecError
out = {{}}
try:
    load_dataset("{TRAIN_REPO}", "{CONFIG}", revision="{TAG}")
    out["load_dataset"] = "loaded"
except Exception as err:
    out["load_dataset"] = f"{{type(err).__name__}}: {{err}}"
try:
    out["verified"] = len(emc_bench.load("{CONFIG}", revision="{TAG}", repo="{TRAIN_REPO}", split="train"))
except SpecError as err:
    out["verified"] = str(err)
out["eval"] = len(emc_bench.load("{EVAL_CONFIG}", revision="{TAG}", repo="{EVAL_REPO}", split="exact"))
emit(**out)
"""
    anonymous = run_python(server, tmp_path / "anonymous", attempt)
    assert "gated" in anonymous["load_dataset"] and anonymous["load_dataset"] != "loaded"
    assert anonymous["verified"].startswith(f"{TRAIN_REPO}: is gated: request access at {server.url}/datasets/{TRAIN_REPO}")
    assert anonymous["eval"] == 8, "the eval repo needs no account"

    reader = run_python(server, tmp_path / "reader", attempt, token=READER)
    assert "is gated: request access" in reader["verified"], "signed in is not enough: access must be granted"

    run_python(server, tmp_path / "owner", f"""
from huggingface_hub import HfApi
HfApi().grant_access("{TRAIN_REPO}", "reader", repo_type="dataset")
emit(done=True)
""", token=OWNER)
    granted = run_python(server, tmp_path / "reader", attempt + f"""
from emc_bench.train.data import load_config
rows, provenance = load_config("{TRAIN_REPO}", "{CONFIG}", "{TAG}")
emit(**out, train_rows=len(rows), provenance=provenance)
""", token=READER)
    assert granted["load_dataset"] == "loaded" and granted["verified"] == 41
    assert granted["train_rows"] == 41 and granted["provenance"]["revision"] == server.repo("dataset", TRAIN_REPO).tags[TAG]
    assert granted["provenance"]["hub"] == {"eval_repo": EVAL_REPO, "train_repo": TRAIN_REPO, "revision": TAG}


def test_lm_eval_hub_mode_reads_the_verified_eval_split(published, tmp_path):
    server, _ = published
    got = run_python(server, tmp_path / "user", f"""
from emc_bench.lm_eval_tasks import load_eval
data = load_eval(hub=True, hub_repo="{EVAL_REPO}", hub_revision="{TAG}", config="{EVAL_CONFIG}", split="exact",
                 release="mini")
emit(rows=len(data["test"]), condition=sorted(set(data["test"]["condition"])))
""")
    assert got == {"rows": 8, "condition": ["exact"]}


def test_suite_configs_load_from_the_eval_repo_one_split_at_a_time(published, tmp_path):
    """Every lm-eval and Inspect task reads a split of a ``suite-*`` config, which is published with
    the eval part: the hub loaders look for it there, and fetch (and hash) only the split asked."""
    server, _ = published
    got = run_python(server, tmp_path / "user", f"""
import emc_bench
from emc_bench.lm_eval_tasks import load_eval
data = load_eval(hub=True, hub_repo="{EVAL_REPO}", hub_revision="{TAG}", config="suite-standard", split="none",
                 release="mini")
one = emc_bench.load("suite-standard", revision="{TAG}", repo="{EVAL_REPO}", split="tag_exact")
emit(rows=len(data["test"]), condition=sorted(set(data["test"]["condition"])), exact=sorted(set(one["condition"])))
""")
    assert got["rows"] > 0 and got["condition"] == ["none"] and got["exact"] == ["exact"]
    downloads = [path for method, path in server.requests if method == "GET" and "/resolve/" in path
                 and "/suite-standard/" in path]
    assert downloads and all("/suite-standard/none" in p or "/suite-standard/tag_exact" in p for p in downloads), \
        downloads


def test_verified_loading_catches_a_tampered_file_an_edited_manifest_and_an_unpinned_revision(
        full_release, hub, tmp_path):  # noqa: F811
    publish(hub, tmp_path / "maintainer", full_release)
    exact, other = f"data/{EVAL_CONFIG}/exact.parquet", f"data/{EVAL_CONFIG}/negated.parquet"
    hub.tamper("dataset", EVAL_REPO, exact, (full_release / other).read_bytes(), revision=TAG)
    got = run_python(hub, tmp_path / "user", f"""
import emc_bench
from datasets import load_dataset
from emc_bench.errors import SpecError
from emc_bench.lm_eval_tasks import load_eval
out = {{"plain": load_dataset("{EVAL_REPO}", "{EVAL_CONFIG}", revision="{TAG}", split="exact")["condition"][0]}}
for name, call in {{
    "verified": lambda: emc_bench.load("{EVAL_CONFIG}", revision="{TAG}", repo="{EVAL_REPO}"),
    "lm_eval": lambda: load_eval(hub=True, hub_repo="{EVAL_REPO}", hub_revision="{TAG}", config="{EVAL_CONFIG}",
                                 split="exact", release="mini"),
    "branch": lambda: emc_bench.load("{EVAL_CONFIG}", revision="main", repo="{EVAL_REPO}"),
    "unknown_tag": lambda: emc_bench.load("{EVAL_CONFIG}", revision="v9", repo="{EVAL_REPO}"),
    "train_from_eval_repo": lambda: emc_bench.load("{CONFIG}", revision="{TAG}", repo="{EVAL_REPO}"),
}}.items():
    try:
        call()
        out[name] = "loaded"
    except SpecError as err:
        out[name] = str(err)
emit(**out)
""")
    assert got["plain"] == "negated", "load_dataset trusts whatever the revision holds"
    assert got["verified"] == (f"{EVAL_REPO}@{TAG}/{exact}: sha256: differs from manifest.json: the download is not "
                               "the published file; refusing to load it")
    assert got["lm_eval"].startswith(f"{EVAL_REPO}@{TAG}/{exact}: sha256: differs")
    assert got["branch"].startswith("revision: 'main' is a branch of") and f"pin a tag ({TAG})" in got["branch"]
    assert got["unknown_tag"] == f"revision: 'v9' is not a tag of {EVAL_REPO} (tags: {TAG})"
    assert got["train_from_eval_repo"].startswith(f"{EVAL_REPO}@{TAG}/manifest.json: part: is 'eval', not 'train'")

    manifest = json.loads(hub.repo("dataset", EVAL_REPO).resolve(TAG).files[MANIFEST].data)
    manifest["configs"][EVAL_CONFIG]["splits"]["exact"]["rows"] = 1
    hub.tamper("dataset", EVAL_REPO, MANIFEST, json.dumps(manifest).encode(), revision=TAG)
    edited = run_python(hub, tmp_path / "user2", f"""
import emc_bench
from emc_bench.errors import SpecError
try:
    emc_bench.load("{EVAL_CONFIG}", revision="{TAG}", repo="{EVAL_REPO}")
except SpecError as err:
    emit(error=str(err))
""")
    assert edited["error"].startswith(f"{EVAL_REPO}@{TAG}/manifest.json: self_sha256: does not match")


def test_republishing_is_a_no_op_and_a_different_release_under_the_same_tag_is_refused(
        full_release, hub, tmp_path):  # noqa: F811
    home = tmp_path / "maintainer"
    publish(hub, home, full_release)
    commits = {repo: len(hub.repo("dataset", repo).commits) for repo in (EVAL_REPO, TRAIN_REPO)}
    tags = {repo: dict(hub.repo("dataset", repo).tags) for repo in (EVAL_REPO, TRAIN_REPO)}

    again = publish(hub, home, full_release)
    assert again.stdout.count("already published with these exact files; nothing uploaded") == 2
    assert {repo: len(hub.repo("dataset", repo).commits) for repo in commits} == commits

    other = tmp_path / "other"
    shutil.copytree(full_release, other)
    manifest = read_manifest(other)
    manifest["description"] += " Rebuilt."
    write_manifest(manifest, other / MANIFEST)
    refused = run_cli(hub, home, "publish", "dataset", str(other))
    assert refused.returncode == 2
    assert f"error: {EVAL_REPO}@{TAG}: already holds a different release" in refused.stderr
    assert {repo: len(hub.repo("dataset", repo).commits) for repo in commits} == commits
    assert {repo: dict(hub.repo("dataset", repo).tags) for repo in tags} == tags

    with FakeHub(users=USERS) as fresh:  # only the train part is out: the eval part of another release waits
        publish(fresh, home, full_release, "--part", "train")
        refused = run_cli(fresh, home, "publish", "dataset", str(other))
        assert refused.returncode == 2 and f"{TRAIN_REPO}@{TAG}: already holds a different release" in refused.stderr
        assert ("dataset", EVAL_REPO) not in fresh.repos, "nothing is written when any part is refused"


def test_publish_needs_write_access_to_the_organisation(full_release, hub, tmp_path):  # noqa: F811
    done = run_cli(hub, tmp_path / "reader", "publish", "dataset", str(full_release), token=READER)
    assert done.returncode != 0 and not hub.repos


def test_publish_adapter_creates_the_model_repo_with_its_card_and_republishing_changes_nothing(
        finished_run, hub, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    record = json.loads((run / "run.json").read_text())
    record["base_model"] = {"id": "Qwen/Qwen2.5-0.5B-Instruct", "revision": None}  # a Hub model, as a real run names
    (run / "run.json").write_text(json.dumps(record))
    repo_id, home = "emc-bench/tiny-adapter", tmp_path / "maintainer"

    done = run_cli(hub, home, "publish", "adapter", str(run), "--repo", repo_id)
    assert done.returncode == 0, done.stderr
    assert f"uploaded {run} to {hub.url}/{repo_id}/commit/" in done.stdout
    repo = hub.repo("model", repo_id)
    files = repo.resolve("main").files
    assert set(files) == {".gitattributes", "README.md", "adapter_config.json", "adapter_model.safetensors",
                          "run.json", "curves.json", "curves.png"}
    assert files["adapter_model.safetensors"].lfs
    assert files["adapter_model.safetensors"].data == (run / "adapter" / "adapter_model.safetensors").read_bytes()
    card = run_python(hub, tmp_path / "user", f"""
from huggingface_hub import ModelCard
card = ModelCard.load("{repo_id}")
emit(base_model=card.data.base_model, library=card.data.library_name, text=card.text)
""")
    assert card["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct" and card["library"] == "peft"
    assert f"canary GUID {record['canary']}" in card["text"] and "Research use only" in card["text"]

    commits = len(repo.commits)
    again = run_cli(hub, home, "publish", "adapter", str(run), "--repo", repo_id)
    assert again.returncode == 0 and f"{repo_id} already holds these exact files; nothing uploaded" in again.stdout
    assert len(repo.commits) == commits

    record["seed"] = 1  # another run record: proposed as a pull request, main left alone
    (run / "run.json").write_text(json.dumps(record))
    head = repo.branches["main"]
    proposed = run_cli(hub, home, "publish", "adapter", str(run), "--repo", repo_id, "--create-pr")
    assert proposed.returncode == 0 and f"to {hub.url}/{repo_id}/discussions/1 as a pull request" in proposed.stdout
    assert repo.branches["main"] == head and json.loads(repo.resolve("refs/pr/1").files["run.json"].data)["seed"] == 1


def test_load_takes_its_defaults_from_the_packaged_release_and_stays_lazy(tmp_path):
    from emc_bench.errors import SpecError
    from emc_bench.hub import load, release_hub

    assert release_hub("v1") == {"eval_repo": "emc-bench/emc-bench-v1-eval",
                                 "train_repo": "emc-bench/emc-bench-v1-train", "revision": "v1.0.0"}
    with pytest.raises(SpecError, match=r"^emc-bench/emc-bench-v1-eval: cannot read it from the Hub"):
        load("eval-deploy_tag")  # HF_HUB_OFFLINE=1 in the tests: nothing can be verified, nothing is loaded
    with pytest.raises(SpecError, match=r"^part: must be 'eval' or 'train'"):
        load("eval-deploy_tag", part="both")
    heavy = "sorted(m for m in ('datasets', 'huggingface_hub', 'torch', 'lm_eval') if m in sys.modules)"
    done = subprocess.run([sys.executable, "-c", f"import sys, emc_bench; print({heavy}); emc_bench.load; print({heavy})"],
                          capture_output=True, text=True)
    assert done.stdout.split() == ["[]", "[]"], done.stdout + done.stderr
