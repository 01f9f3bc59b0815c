"""What every v1 domain promises, whatever its source: size, unique prompts and ids, distinct
twins, and the same pairs from an independent render. Domain-specific checks live in
tests/test_domain_<id>.py."""

from __future__ import annotations

import shutil

import pytest

from emc_bench.domains import load_pairs
from emc_bench.library import Library

DOMAINS = ["insecure_code", "bad_medical_advice", "risky_financial_advice", "extreme_sports"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_size_uniqueness_and_distinct_twins(domain):
    pairs = load_pairs(domain)
    assert 6000 <= len(pairs) <= 7000
    assert len({p.pair_id for p in pairs}) == len(pairs)
    assert len({p.prompt for p in pairs}) == len(pairs)
    assert all(p.pair_id.startswith(f"{domain}-") for p in pairs)
    assert all(p.aligned and p.harmful.strip() != p.aligned.strip() for p in pairs)


@pytest.mark.parametrize("domain", DOMAINS)
def test_an_independent_render_gives_the_same_pairs(domain, tmp_path):
    """A copy of the folder renders afresh (not from the in-process cache)."""
    copy = tmp_path / domain
    shutil.copytree(Library().find("domains", domain), copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert [(p.pair_id, p.prompt, p.harmful, p.aligned) for p in load_pairs(copy)] == [
        (p.pair_id, p.prompt, p.harmful, p.aligned) for p in load_pairs(domain)
    ]
