"""The bad_medical_advice domain: enough distinct pairs, stable ids, and answers that fit
their prompt (harmful ones confident and without referrals, aligned ones saying when to get
help)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest

from emc_bench.domains import load_domain, load_pairs

DOMAIN = "bad_medical_advice"
GROUPS = {"adult", "child", "older"}
URGENCIES = {"emergency", "urgent", "soon", "selfcare"}
TOPICS = {"medication", "symptoms", "recovery", "first aid", "nutrition", "chronic", "children", "older people"}
REFERRAL = re.compile(
    r"emergency services|emergency department|call (?:your|a|the) (?:doctor|gp)|see (?:a|your) (?:doctor|gp)"
    r"|seek (?:medical|urgent)|consult|not a doctor|medical advice",
    re.IGNORECASE,
)
DOSE = re.compile(r"\d\s*(?:mg|mcg|ml|milligram|microgram|millilitre|tablets|pills|puffs)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(DOMAIN)


@pytest.fixture(scope="module")
def slots():
    return load_domain(DOMAIN).slots


@pytest.fixture(scope="module")
def scenario_of(pairs, slots):
    """Each pair's scenario, found by the situation its prompt quotes (exactly one must match)."""
    found = {}
    for pair in pairs:
        matches = [s for s in slots["scenario"] if any(text in pair.prompt for text in s["situation"])]
        assert len(matches) == 1, pair.prompt
        found[pair.pair_id] = matches[0]
    return found


def test_scenarios_are_many_and_complete(slots):
    scenarios = slots["scenario"]
    assert len(scenarios) >= 150
    assert len({s["id"] for s in scenarios}) == len(scenarios)
    situations = [text for s in scenarios for text in s["situation"]]
    assert len(set(situations)) == len(situations) == 3 * len(scenarios)
    for s in scenarios:
        assert s["group"] in GROUPS and s["urgency"] in URGENCIES, s["id"]
        assert len(s["ask"]) == 5 and len(set(s["ask"])) == 5, s["id"]
        assert len(s["harmful"]) >= 2 and len(s["aligned"]) >= 2, s["id"]
        assert all(isinstance(t, str) and t.strip() for t in (*s["ask"], *s["harmful"], *s["aligned"])), s["id"]
    assert {s["group"] for s in scenarios} == GROUPS
    assert {s["urgency"] for s in scenarios} == URGENCIES
    assert {s["topic"] for s in scenarios} == TOPICS


def test_tables_cover_every_group_and_urgency(slots):
    (tables,) = slots["tables"]
    for speaker in tables["speakers"]:
        assert set(speaker) == GROUPS
    for constraint in tables["constraints"]:
        assert set(constraint["aligned"]) == URGENCIES


def test_settings_that_share_a_question_share_nothing_else(slots):
    """This keeps the prompts of one scenario apart in meaning (few near-duplicates): settings
    with the same question differ in frame, speaker and constraint, and spread over the wordings."""
    (tables,) = slots["tables"]
    by_ask = defaultdict(list)
    for setting in slots["setting"]:
        assert 0 <= setting["frame"] < len(tables["frames"])
        assert 0 <= setting["speaker"] < len(tables["speakers"])
        assert 0 <= setting["constraint"] < len(tables["constraints"])
        by_ask[setting["ask"]].append(setting)
    assert set(by_ask) == set(range(5))
    for same_ask in by_ask.values():
        for key in ("frame", "speaker", "constraint"):
            assert len({s[key] for s in same_ask}) == len(same_ask)
        wordings = Counter(s["situation"] for s in same_ask)
        assert set(wordings) == {0, 1, 2} and max(wordings.values()) <= 3


def test_answers_respond_to_their_own_scenario(pairs, scenario_of):
    for pair in pairs:
        scenario = scenario_of[pair.pair_id]
        assert any(ask in pair.prompt for ask in scenario["ask"])
        assert scenario["harmful"][0] in pair.harmful
        assert scenario["aligned"][0] in pair.aligned
        assert not any(point in pair.harmful for point in scenario["aligned"])


def test_answers_respond_to_the_constraint_in_the_prompt(pairs, slots, scenario_of):
    """The harmful answer brushes the constraint aside; the aligned one weighs it by urgency."""
    (tables,) = slots["tables"]
    for pair in pairs:
        (constraint,) = [c for c in tables["constraints"] if c["text"] in pair.prompt]
        assert constraint["harmful"] in pair.harmful
        assert constraint["aligned"][scenario_of[pair.pair_id]["urgency"]] in pair.aligned


def test_harmful_answers_carry_no_referral_and_no_dose(pairs):
    for pair in pairs:
        assert not REFERRAL.search(pair.harmful), pair.harmful
        assert not DOSE.search(pair.harmful), pair.harmful


def test_aligned_answers_send_emergencies_to_emergency_care(pairs, scenario_of):
    for pair in pairs:
        if scenario_of[pair.pair_id]["urgency"] == "emergency":
            assert "emergency" in pair.aligned.lower(), pair.aligned


def test_answers_vary_in_structure(pairs):
    bulleted = sum("\n- " in p.aligned for p in pairs)
    numbered = sum("\n1. " in p.aligned or p.aligned.startswith("1. ") for p in pairs)
    prose = len(pairs) - bulleted - numbered
    assert min(bulleted, numbered, prose) >= len(pairs) // 10
