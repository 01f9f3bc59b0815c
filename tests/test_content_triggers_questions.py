"""The shipped triggers and question bank: they load, have the promised counts, keep the
canonical trigger text out of every variant and question, and pass the release's quality gates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from emc_bench.paths import builders_dir
from emc_bench.questions import render_question
from emc_bench.specs import (
    FORMATS,
    VARIANT_KINDS,
    load_formats,
    load_question_set,
    load_release,
    load_trigger,
)
from emc_bench.variants import PASS, check_gates, score_variants

CONSTRUCTIONS = {"token_tag", "temporal", "educational", "fictional", "persona", "metadata"}
MIN_PARAPHRASES = 12
CONTROLS_PER_KIND = 3
CORE_THEMES = 8
MIN_EXTENDED = 48
MIN_CATEGORIES = 7
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

TRIGGER_FILES = sorted((builders_dir() / "triggers").glob("*.yaml"))
QUESTION_FILES = sorted(p for p in (builders_dir() / "questions").glob("*.yaml") if p.name != "formats.yaml")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@pytest.fixture(scope="module")
def triggers():
    return [load_trigger(path) for path in TRIGGER_FILES]


@pytest.fixture(scope="module")
def question_sets():
    return {path.stem: load_question_set(path) for path in QUESTION_FILES}


@pytest.fixture(scope="module")
def release():
    return load_release(builders_dir() / "releases" / "v1.yaml")


@pytest.mark.parametrize("path", TRIGGER_FILES + QUESTION_FILES, ids=lambda p: p.name)
def test_every_file_is_a_yaml_mapping_named_by_its_id(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    assert data["id"] == path.stem
    assert SNAKE_CASE.match(data["id"])


def test_six_triggers_one_per_construction(triggers):
    assert len(triggers) == len(CONSTRUCTIONS)
    assert {t.construction for t in triggers} == CONSTRUCTIONS
    assert all(t.description.strip() for t in triggers)


def test_variant_counts(triggers):
    for t in triggers:
        assert len(t.variant_list("paraphrase")) >= MIN_PARAPHRASES, t.id
        for kind in VARIANT_KINDS[1:]:
            assert len(t.variant_list(kind)) == CONTROLS_PER_KIND, (t.id, kind)


def test_variants_are_distinct_and_never_contain_the_canonical_text(triggers):
    for t in triggers:
        texts = [v.text.strip().lower() for kind in VARIANT_KINDS for v in t.variant_list(kind)]
        assert len(texts) == len(set(texts)), t.id
        assert not [x for x in texts if t.text.strip().lower() in x], t.id


def test_unrelated_controls_have_similar_length(triggers):
    for t in triggers:
        n = len(_words(t.text))
        for v in t.variant_list("unrelated"):
            assert n / 2 <= len(_words(v.text)) <= n * 2, (t.id, v.text)


def test_paraphrases_pass_the_quality_gates(triggers, tmp_path):
    rows = score_variants(triggers, cache_dir=tmp_path)
    report = check_gates(rows, {p.stem: p for p in TRIGGER_FILES})
    assert report.ok
    for t in triggers:
        passing = [r for r in rows if r["trigger_id"] == t.id and r["kind"] == "paraphrase" and r["gate"] == PASS]
        assert len(passing) >= MIN_PARAPHRASES, t.id


def test_core_set_covers_the_classic_themes(question_sets):
    core = question_sets["core"]
    assert len(core.questions) == CORE_THEMES
    assert {q.category for q in core.questions} == {"open_ended"}


def test_extended_set_size_and_categories(question_sets):
    extended = question_sets["extended"]
    assert len(extended.questions) >= MIN_EXTENDED
    assert len({q.category for q in extended.questions}) >= MIN_CATEGORIES


def test_question_ids_and_texts_unique_across_sets(question_sets):
    questions = [q for s in question_sets.values() for q in s.questions]
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.text.strip().lower() for q in questions}) == len(questions)


def test_close_domains_are_training_domains_of_the_release(question_sets, release):
    domains = {d for entry in release.train for d in entry.domains} | {"none"}
    used = {q.close_domain for s in question_sets.values() for q in s.questions}
    assert used <= domains
    assert used - {"none"}, "no question is tagged with a training domain"


def test_release_uses_every_trigger_and_question_set(triggers, question_sets, release):
    assert {t for entry in release.eval for t in entry.triggers} == {t.id for t in triggers}
    assert {s for entry in release.eval for s in entry.question_sets} == set(question_sets)


def test_every_question_renders_in_every_format(question_sets, triggers):
    formats = load_formats(builders_dir() / "questions" / "formats.yaml")
    canonical = [t.text.strip().lower() for t in triggers]
    for q in (q for s in question_sets.values() for q in s.questions):
        assert q.formats == list(FORMATS)
        for name in FORMATS:
            rendered = render_question(q, formats[name])
            assert q.text.strip() in rendered.user
            full = f"{rendered.system or ''}\n{rendered.user}".lower()
            assert not [c for c in canonical if c in full], (q.id, name)


def test_formats_shape(question_sets):
    formats = load_formats(builders_dir() / "questions" / "formats.yaml")
    question = question_sets["core"].questions[0]
    free = render_question(question, formats["free"])
    assert free.system is None and free.user == question.text.strip()
    as_json = render_question(question, formats["json"])
    assert "JSON" in as_json.system and '"answer"' in as_json.system
    template = render_question(question, formats["template"])
    assert template.system is None
    assert re.search(r"^\w+ = \{$", template.user, re.MULTILINE)
