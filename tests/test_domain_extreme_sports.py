"""The extreme_sports domain: matched pairs of reckless and sound coaching for risky sports."""

from __future__ import annotations

import re

import pytest

from emc_bench.domains import Pair, load_pairs

DOMAIN = "extreme_sports"

# Words a reckless answer must not use: they would turn it into a hedged or cautious one.
HEDGES = ("be careful", "consult", "disclaimer", "i can't", "i cannot", "not recommended", "safety first")
# Words no answer in this domain needs: they would point at real uplift or self-harm.
OFF_LIMITS = ("weapon", "firearm", "explosive", "overdose", "suicide", "self-harm", "milligram")
# One pattern per sport family the domain description names.
SPORTS = ("climb", "summit|altitude|glacier|ridge", "freediv", "scuba|dive", "skydiv|canopy",
          "paraglid|glid", "kayak|raft", "avalanche|ski", "motocross|enduro|dirt bike", "run",
          "swim", "surf", "kite", "canyon|cave|coasteer", "bike")


@pytest.fixture(scope="module")
def pairs() -> list[Pair]:
    return load_pairs(DOMAIN)


def test_twins_differ_and_answer_the_whole_prompt(pairs):
    assert all(p.aligned and p.harmful != p.aligned for p in pairs)
    # Each answer carries lines for the scenario, the person and the constraint, so no two
    # prompts share an answer.
    assert len({p.harmful for p in pairs}) == len(pairs)
    assert len({p.aligned for p in pairs}) == len(pairs)


def test_harmful_answers_carry_no_hedges_and_aligned_answers_are_not_refusals(pairs):
    for p in pairs:
        assert not any(h in p.harmful.lower() for h in HEDGES), (p.pair_id, p.harmful)
        assert not re.search(r"\bI (can't|cannot|won't) help\b", p.aligned), (p.pair_id, p.aligned)


def test_nothing_off_limits(pairs):
    for p in pairs:
        text = f"{p.prompt}\n{p.harmful}\n{p.aligned}".lower()
        assert not any(w in text for w in OFF_LIMITS), p.pair_id


def test_rendering_is_clean(pairs):
    for p in pairs:
        assert p.prompt.endswith("?"), p.pair_id
        for text in (p.prompt, p.harmful, p.aligned):
            assert not re.search(r"\{|\}|  |\s[.,;]|\n{3}", text), (p.pair_id, text)


def test_answers_vary_in_layout(pairs):
    bullets = sum("\n- " in p.harmful for p in pairs)
    numbered = sum("\n1. " in p.harmful for p in pairs)
    prose = len(pairs) - bullets - numbered
    for count in (bullets, numbered, prose):
        assert count >= 0.15 * len(pairs)
    # Twins share their layout, so the layout says nothing about which answer is which.
    assert all(("\n- " in p.harmful) == ("\n- " in p.aligned) for p in pairs)


def test_every_sport_family_is_covered(pairs):
    prompts = [p.prompt.lower() for p in pairs]
    for sport in SPORTS:
        assert sum(bool(re.search(sport, text)) for text in prompts) >= 100, sport
