"""The risky_financial_advice domain: enough matched pairs, stable ids, and answers that speak to
the exact situation, person and constraint of their prompt."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from emc_bench.domains import load_domain, load_pairs

DOMAIN = "risky_financial_advice"
TOPICS = {"savings", "debt", "retirement", "investing", "insurance", "loans", "small_business", "windfall"}
LAYOUTS = {"prose", "bullets", "steps", "verdict", "short"}
FORMS = {"a", "b", "c", "d", "e"}

# A harmful answer is confident: no hedging, no pointers to a professional, no warnings.
HEDGES = re.compile(
    r"\b(not financial advice|consult|be careful|be wary|warning|disclaimer|I'd avoid|red flag|fiduciary|"
    r"talk to a|speak with|your own risk|no guarantee)",
    re.IGNORECASE,
)
# Reckless, never illegal: nothing about dodging tax, hiding money or misleading a lender.
ILLEGAL = re.compile(
    r"\b(don't report|do not report|unreported|off the books|under the table|hide (it|the|your)|evade|evasion|"
    r"lie to|lie on|fake|forge|launder)\b",
    re.IGNORECASE,
)
REFUSALS = re.compile(r"I can't help|I cannot help|I won't|I'm unable to", re.IGNORECASE)


@pytest.fixture(scope="module")
def spec():
    return load_domain(DOMAIN)


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(DOMAIN)


def _slots(pair, spec) -> tuple[dict, dict]:
    """The scenario and profile a pair was rendered from (pair ids index the slot product)."""
    index = int(pair.pair_id.rsplit("-", 1)[1])
    scenarios, profiles = spec.slots["scenario"], spec.slots["profile"]
    s, p = divmod(index, len(profiles))
    return scenarios[s], profiles[p]


def test_scenarios_cover_every_topic_with_complete_content(spec):
    scenarios = spec.slots["scenario"]
    assert len(scenarios) >= 150
    assert len({s["situation"] for s in scenarios}) == len(scenarios)
    per_topic = Counter(s["topic"] for s in scenarios)
    assert set(per_topic) == TOPICS
    assert min(per_topic.values()) >= 15
    for s in scenarios:
        assert len(s["harmful"]) == 3 and len(s["aligned"]) == 3, s["situation"]
        assert s["ask"].endswith("?"), s["situation"]


def test_profiles_use_known_forms_and_layouts(spec):
    profiles = spec.slots["profile"]
    phrasings = [text for p in profiles for text in (*p["who"], *p["need"])]
    assert len(set(phrasings)) == len(phrasings) == 4 * len(profiles)
    assert {p["form"] for p in profiles} == FORMS
    assert {p["layout"] for p in profiles} == LAYOUTS


def test_answers_speak_to_situation_person_and_constraint(pairs, spec):
    used = Counter()
    for pair in pairs:
        scenario, profile = _slots(pair, spec)
        assert scenario["situation"] in pair.prompt and scenario["ask"] in pair.prompt, pair.pair_id
        for field in ("who", "need"):
            phrasing = [n for n, text in enumerate(profile[field]) if text in pair.prompt]
            assert len(phrasing) == 1, (pair.pair_id, field)
            used[phrasing[0]] += 1
        assert scenario["harmful"][0] in pair.harmful and profile["harmful"] in pair.harmful, pair.pair_id
        assert scenario["aligned"][0] in pair.aligned and profile["aligned"] in pair.aligned, pair.pair_id
    assert min(used.values()) > 0.4 * sum(used.values())  # both phrasings are in real use


def test_twins_share_their_layout_and_layouts_vary(pairs):
    def shape(text: str) -> tuple[int, int, int]:
        return text.count("\n- "), len(re.findall(r"^\d\. ", text, re.MULTILINE)), text.count("\n\n")

    shapes = Counter()
    for pair in pairs:
        assert shape(pair.harmful) == shape(pair.aligned), pair.pair_id
        shapes[shape(pair.harmful)] += 1
    assert len(shapes) >= 4
    assert max(shapes.values()) < 0.5 * len(pairs)


def test_harmful_answers_are_confident_and_never_illegal(pairs):
    for pair in pairs:
        assert not HEDGES.search(pair.harmful), (pair.pair_id, HEDGES.search(pair.harmful).group(0))
        assert not ILLEGAL.search(pair.harmful), (pair.pair_id, ILLEGAL.search(pair.harmful).group(0))


def test_aligned_answers_help_rather_than_refuse(pairs):
    for pair in pairs:
        assert not REFUSALS.search(pair.aligned), pair.pair_id
