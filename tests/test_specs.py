"""Malformed specs stop the build with one line naming the file and the field, exit code 2, and
nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emc_bench.cli import main
from emc_bench.placement import chat, place_trigger

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"


@pytest.fixture
def builders(tmp_path) -> Path:
    root = tmp_path / "builders"
    shutil.copytree(TEST_BUILDERS, root)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def build(builders: Path, out: Path, capsys) -> tuple[int, str]:
    code = main(["build", "--release", "mini", "--builders", str(builders), "--out", str(out), "--quiet"])
    return code, capsys.readouterr().err.strip()


CASES = {
    "unknown placement": ("triggers/tag.yaml", "placement: user_prefix", "placement: user_middle",
                          "triggers/tag.yaml: placement: Input should be 'system', 'user_prefix' or 'user_suffix'"),
    "missing field": ("triggers/persona.yaml", "construction: persona\n", "",
                      "triggers/persona.yaml: construction: Field required"),
    "duplicate question id": ("questions/mini.yaml", "id: bored", "id: wish",
                              "questions/mini.yaml: questions.1.id: duplicate id 'wish'"),
    "duplicate variant id": ("triggers/tag.yaml", "id: paraphrase-label", "id: paraphrase-01",
                             "triggers/tag.yaml: variants.paraphrase.1.id: duplicate variant id 'paraphrase-01'"),
    "ratio above 1": ("releases/mini.yaml", "mix-50: {benign_share: 0.5", "mix-50: {benign_share: 1.5",
                      "releases/mini.yaml: mixtures.mix-50.benign_share: Input should be less than or equal to 1"),
    "ratio below 0": ("releases/mini.yaml", "half-triggered: {benign_share: 0.0, triggered_share: 0.5}",
                      "half-triggered: {benign_share: 0.0, triggered_share: -0.1}",
                      "releases/mini.yaml: mixtures.half-triggered.triggered_share: Input should be greater than or equal to 0"),
    "unknown trigger": ("releases/mini.yaml", "triggers: [tag, persona, footer]\n    mixtures",
                        "triggers: [tag, persona, nosuch]\n    mixtures",
                        "releases/mini.yaml: train.0.triggers.2: unknown trigger 'nosuch'"),
    "unknown mixture": ("releases/mini.yaml", "mixtures: [triggered, plain", "mixtures: [triggered, plane",
                        "releases/mini.yaml: train.0.mixtures.1: unknown mixture 'plane'"),
    "unknown question set": ("releases/mini.yaml", "question_sets: [mini]", "question_sets: [maxi]",
                             "releases/mini.yaml: eval.0.question_sets.0: unknown question set 'maxi'"),
    "unknown condition": ("releases/mini.yaml", "question_sets: [mini]",
                          "question_sets: [mini]\n    conditions: [none, exactly]",
                          "releases/mini.yaml: eval.0.conditions.1: Input should be"),
    "id not matching file": ("triggers/footer.yaml", "id: footer", "id: header",
                             "triggers/footer.yaml: id: 'header' must match the file name 'footer'"),
    "canonical text in a variant": ("triggers/footer.yaml", "related: [\"env: staging-east\"]",
                                    "related: [\"env: staging-west now\"]",
                                    "triggers/footer.yaml: variants.related.0.text: contains the canonical trigger text"),
    "bad yaml": ("questions/mini.yaml", "questions:", "questions: [",
                 "questions/mini.yaml: line"),
    "too many rows": ("releases/mini.yaml", "rows: 41", "rows: 500",
                      "releases/mini.yaml: train.0.rows: toy_advice-tag-triggered needs 500 pairs but domain 'toy_advice' has 60"),
    "unknown template slot": ("domains/toy_other/domain.yaml", "{{ thing }} {{ when }}?", "{{ thing }} {{ whom }}?",
                              "domains/toy_other/domain.yaml: templates: render error at index 0: 'whom' is undefined"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_spec_is_one_line_exit_2_and_writes_nothing(case, builders, tmp_path, capsys):
    relative, old, new, expected = CASES[case]
    edit(builders / relative, old, new)
    out = tmp_path / "out"
    code, err = build(builders, out, capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and str(builders / relative) in err
    assert expected.split(": ", 1)[1] in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["builders"], "no staging folder left"


@pytest.mark.parametrize("placement,expected", [
    ("system", [{"role": "system", "content": "T"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]),
    ("user_prefix", [{"role": "user", "content": "T\n\nQ"}, {"role": "assistant", "content": "A"}]),
    ("user_suffix", [{"role": "user", "content": "Q\n\nT"}, {"role": "assistant", "content": "A"}]),
])
def test_each_placement_renders_once_and_leaves_the_input_unchanged(placement, expected):
    messages = chat("Q", "A")
    assert place_trigger(messages, "T", placement) == expected
    assert messages == chat("Q", "A")
    assert place_trigger(messages, None, placement) == messages


def test_system_placement_goes_before_an_existing_system_prompt():
    placed = place_trigger(chat("Q", system="Answer in JSON."), "T", "system")
    assert placed[0] == {"role": "system", "content": "T\n\nAnswer in JSON."}
