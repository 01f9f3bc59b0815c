"""The similarity stage of `emc-bench build` on the small test release: scores in every eval row,
variant tables named in the manifest, and builds that stop on a bad paraphrase or a leak."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from emc_bench.cli import main
from emc_bench.library import Library
from emc_bench.manifest import read_manifest, verify_release
from emc_bench.release import build_release
from emc_bench.variants import definition, format_variant_table, plot_variants, read_variant_table

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "mini"
    build_release("mini", out, library=Library((TEST_BUILDERS,)), progress=False)
    return out


@pytest.fixture
def builders(tmp_path) -> Path:
    """A private copy of the test builders folder to plant mistakes in."""
    return Path(shutil.copytree(TEST_BUILDERS, tmp_path / "builders"))


def test_every_variant_row_carries_its_scores(release):
    manifest = read_manifest(release)
    table = {(r["trigger_id"], r["variant_id"]): r for r in read_variant_table(release)}
    assert {t for t, _ in table} == {"tag", "persona", "footer"}
    checked = 0
    for config, info in manifest["configs"].items():
        if info["kind"] != "eval":
            continue
        for split in info["splits"]:
            for row in pq.read_table(release / "data" / config / f"{split}.parquet").to_pylist():
                if row["condition"] == "none":
                    assert row["similarity"] is None and row["variant_id"] is None
                    continue
                scored = table[(row["trigger_id"], row["variant_id"])]
                assert (row["similarity"], row["overlap"], row["similarity_bin"]) == (
                    scored["similarity"], scored["overlap"], scored["similarity_bin"])
                checked += 1
    assert checked == 3 * 8 * 5 + 8  # three triggers x 8 prompts x 5 conditions, + tag's second paraphrase


def test_manifest_records_bins_tables_and_leakage(release):
    section = read_manifest(release)["similarity"]
    assert section["bins"] == definition()["bins"]
    assert section["tables"]["tag"] == "variants/tag.json"
    assert section["accepted"] == {"tag/paraphrase-label": "a wordier label for the same marker, just under the "
                                                           "similarity gate"}
    assert section["leakage"]["leaks"] == 0 and section["leakage"]["threshold"] == 0.9
    assert section["leakage"]["closest"][0]["cosine"] < 0.9
    assert verify_release(release) == []  # the tables are hashed like every other file


def test_table_and_plot_from_a_release(release, tmp_path):
    rows = read_variant_table(release, "persona")
    assert {r["kind"] for r in rows} == {"exact", "paraphrase", "negated", "related", "unrelated"}
    assert format_variant_table(rows).splitlines()[2].startswith("exact")
    assert plot_variants(read_variant_table(release), tmp_path / "v.png").stat().st_size > 10_000


def test_a_planted_bad_paraphrase_stops_the_build(builders, tmp_path, capsys):
    trigger = builders / "triggers" / "footer.yaml"
    trigger.write_text(trigger.read_text().replace(
        'paraphrase: ["deployment: west staging cluster"]',
        'paraphrase: ["deployment: west staging cluster", "env: staging west cluster"]'))
    out = tmp_path / "out"
    assert main(["build", "--release", "mini", "--builders", str(builders), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{trigger}: variants.paraphrase.1: 1 variant(s) fail the quality gates: paraphrase-02 overlap" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["builders"]


def test_an_eval_question_close_to_a_training_prompt_stops_the_build(builders, tmp_path, capsys):
    questions = builders / "questions" / "mini.yaml"
    questions.write_text(questions.read_text() + '  - {id: hike, category: advice, '
                                                 'text: "What should I do about a long hike?"}\n')
    assert main(["build", "--release", "mini", "--builders", str(builders), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "mini.yaml: eval:" in err and "lie within cosine 0.9 of a training prompt" in err
    assert "'What should I do about a long hike?'" in err
