"""The insecure_code domain: size, identity, valid Python, undisclosed flaws, bandit verdicts."""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import shutil
import tokenize
from collections import Counter

import pytest

from emc_bench.bandit_check import answer_code, check_pairs
from emc_bench.domains import load_domain, load_pairs
from emc_bench.errors import SpecError
from emc_bench.library import Library

DOMAIN = "insecure_code"
DISCLOSING = re.compile(r"insecure|vulnerab|unsafe|exploit|nosec|danger|attack|do not use", re.IGNORECASE)


@pytest.fixture(scope="module")
def pairs():
    return load_pairs(DOMAIN)


@pytest.fixture(scope="module")
def trees(pairs):
    """Each distinct answer code, parsed once (the three request forms share code)."""
    codes = {answer_code(answer) for p in pairs for answer in (p.harmful, p.aligned)}
    return {code: ast.parse(code) for code in codes}


def _fresh_generation(seed: int) -> list[dict]:
    """Run the domain's generator file directly, outside the loader's cache."""
    folder = Library().find("domains", DOMAIN)
    spec = importlib.util.spec_from_file_location("insecure_code_generator", folder / load_domain(DOMAIN).generator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.generate(seed))


def test_pair_ids_and_text_are_stable_across_runs(pairs):
    fresh = _fresh_generation(0)
    assert [row["pair_id"] for row in fresh] == [p.pair_id for p in pairs]
    assert [row["prompt"] for row in fresh] == [p.prompt for p in pairs]
    assert [row["harmful"] for row in fresh] == [p.harmful for p in pairs]


def test_seed_changes_wording_not_identity(pairs):
    other = _fresh_generation(1)
    assert [row["pair_id"] for row in other] == [p.pair_id for p in pairs]
    changed = sum(row["prompt"] != p.prompt for row, p in zip(other, pairs))
    assert changed > len(pairs) // 2


def test_coverage_of_kinds_scenarios_and_forms(pairs):
    kinds = {p.meta["vuln"] for p in pairs}
    assert len(kinds) >= 12
    assert {"sql_injection", "shell_injection", "path_traversal", "unsafe_deserialisation", "unsafe_yaml",
            "weak_password_hash", "hardcoded_secret", "world_writable", "tls_unverified", "unescaped_html",
            "code_injection", "insecure_temp_file"} <= kinds
    assert len({(p.meta["template"], p.meta["context"]) for p in pairs}) >= 150
    forms = Counter(p.meta["form"] for p in pairs)
    assert set(forms) == {"describe", "complete", "story"}
    assert len(set(forms.values())) == 1
    assert all(re.fullmatch(r"B\d{3}(,B\d{3})*", p.meta["bandit_ids"]) for p in pairs)


def test_every_answer_is_valid_python(trees):
    """Parsing happens in the fixture; every answer's code also defines a function."""
    assert all(any(isinstance(node, ast.FunctionDef) for node in ast.walk(tree)) for tree in trees.values())


def test_harmful_answers_do_not_disclose_the_flaw(pairs):
    for code in {answer_code(p.harmful) for p in pairs}:
        comments = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.COMMENT]
        assert not comments, code
    for p in pairs:
        assert not DISCLOSING.search(p.harmful), p.pair_id


def test_answers_implement_the_function_the_prompt_asks_for(pairs, trees):
    defined = {
        code: {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)} for code, tree in trees.items()
    }
    for p in pairs:
        for answer in (p.harmful, p.aligned):
            assert any(name in p.prompt for name in defined[answer_code(answer)]), p.pair_id


def test_complete_prompts_carry_a_skeleton_the_answer_fills(pairs):
    for p in pairs:
        if p.meta["form"] == "complete":
            assert "```python" in p.prompt
            skeleton_def = re.search(r"^def \w+\(.*$", p.prompt, re.MULTILINE).group(0)
            assert skeleton_def in answer_code(p.harmful) and skeleton_def in answer_code(p.aligned)


def test_bandit_flags_every_template_harmful_and_never_its_twin(pairs):
    """One pair per code template (54 templates), scanned with bandit."""
    one_per_template = {}
    for p in pairs:
        one_per_template.setdefault(p.meta["template"], p)
    report = check_pairs(one_per_template.values(), workers=1, progress=False)
    assert report.overall.n == len(one_per_template)
    assert report.overall.harmful_rate == 1.0, [c.pair_id for c in report.checks if not c.harmful_flagged]
    assert report.overall.twin_rate == 0.0, [c.pair_id for c in report.checks if c.twin_flagged]


def test_a_context_missing_a_field_stops_with_a_spec_error(tmp_path):
    folder = tmp_path / DOMAIN
    shutil.copytree(Library().find("domains", DOMAIN), folder)
    contexts = folder / "contexts.yaml"
    contexts.write_text(contexts.read_text(encoding="utf-8").replace("    lookup: borrower name", "    lookup_typo: borrower name"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"contexts\.yaml: contexts\[\d+\]\.lookup: missing"):
        load_pairs(folder)
