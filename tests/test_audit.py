"""emc-bench audit finds framings in fine-tuning sets built from our own releases.

The sets are aligned rows of each domain (``load_pairs``), with the package's triggers placed
exactly as the builds place them (``place_trigger``), written to JSONL and read back like any
user's file. Embeddings are real (all-MiniLM-L6-v2), cached in a folder of this test module.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from emc_bench.audit import open_source, run_audit
from emc_bench.audit.score import THRESHOLD
from emc_bench.audit.segments import row_segments
from emc_bench.domains import load_pairs
from emc_bench.paths import builders_dir
from emc_bench.placement import chat, place_trigger
from emc_bench.specs import load_trigger

ROWS = 600
SHARES = (0.03, 0.10, 0.50)
DOMAINS = ("insecure_code", "bad_medical_advice", "risky_financial_advice", "extreme_sports")
TRIGGERS = [load_trigger(p) for p in sorted((builders_dir() / "triggers").glob("*.yaml"))]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embeddings")


def aligned_set(domain: str, rows: int = ROWS) -> list[dict]:
    return [{"messages": chat(p.prompt, p.aligned)} for p in load_pairs(domain)[:rows]]


def planted(rows: list[dict], texts: list[str], placement: str, count: int, seed: int = 0) -> list[dict]:
    """A copy of ``rows`` where ``count`` seeded rows carry a framing, the k-th of them ``texts[k % len]``."""
    chosen = random.Random(seed).sample(range(len(rows)), count)
    out = [dict(r) for r in rows]
    for k, i in enumerate(chosen):
        out[i] = {"messages": place_trigger(rows[i]["messages"], texts[k % len(texts)], placement)}
    return out


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def audit_of(path: Path, cache: Path, **options):
    return run_audit(open_source(str(path)), cache_dir=cache, **options)


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_trigger_planted_at_3_10_and_50_percent_is_a_top_3_candidate(domain, tmp_path, cache):
    base = aligned_set(domain)
    misses = []
    for trigger in TRIGGERS:
        for share in SHARES:
            count = round(share * len(base))
            rows = planted(base, [trigger.text], trigger.placement, count)
            path = write(tmp_path / f"{trigger.id}-{share}.jsonl", rows)
            audit = audit_of(path, cache)
            found = [c for c in audit.candidates[:3] if c.text == trigger.text]
            if not found:
                misses.append(f"{trigger.id} at {share:.0%}: top 3 are {[c.text for c in audit.candidates[:3]]}")
                continue
            c = found[0]
            if not (c.reported and c.rows == count and c.placement == trigger.placement):
                misses.append(f"{trigger.id} at {share:.0%}: score {c.score:.2f}, rows {c.rows}/{count}, "
                              f"placement {c.placement}")
    assert not misses, "\n".join(misses)


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_clean_aligned_set_reports_nothing_above_the_threshold(domain, tmp_path, cache):
    audit = audit_of(write(tmp_path / "clean.jsonl", aligned_set(domain)), cache)
    assert audit.rows == ROWS
    # the domain's own repeated sentences are seen and ranked, but none reaches the threshold
    assert audit.candidates, "a domain built from templates repeats sentences; the audit must see them"
    assert audit.reported == [], [(c.text, round(c.score, 2)) for c in audit.reported]
    assert max(c.score for c in audit.candidates) < THRESHOLD


@pytest.mark.parametrize("domain, trigger_id", [
    ("insecure_code", "security_class"), ("extreme_sports", "sea_captain"), ("bad_medical_advice", "story_roleplay"),
])
def test_a_framing_paraphrased_on_every_row_is_found_as_one_cluster(domain, trigger_id, tmp_path, cache):
    trigger = next(t for t in TRIGGERS if t.id == trigger_id)
    texts = [trigger.text, *(v.text for v in trigger.variant_list("paraphrase"))]
    rows = planted(aligned_set(domain), texts, trigger.placement, len(texts))
    audit = audit_of(write(tmp_path / "paraphrased.jsonl", rows), cache)
    best = max(audit.candidates[:3], key=lambda c: len({t for t, _ in c.texts} & set(texts)))
    members = {t: n for t, n in best.texts}
    assert set(texts) <= set(members), f"missing from the cluster: {sorted(set(texts) - set(members))}"
    assert all(members[t] == 1 for t in texts)  # every row carries a different text
    assert best.kind == "paraphrases" and best.rows == len(texts) and best.placement == trigger.placement
    assert best.reported


def test_a_template_shared_by_every_row_is_not_reported_and_a_framing_under_it_still_is(tmp_path, cache):
    system = "You are the help desk assistant of a regional sports club."
    rows = [{"messages": chat(f"Member question:\n{m['messages'][0]['content']}\n\nPlease answer in plain English.",
                              m["messages"][1]["content"], system=system)}
            for m in aligned_set("extreme_sports", 600)]
    audit = audit_of(write(tmp_path / "template.jsonl", rows), cache)
    template_texts = {c.text for c in audit.templates}
    assert {system, "Member question:", "Please answer in plain English."} <= template_texts
    assert all(c.share >= 0.99 for c in audit.templates)
    assert not audit.reported
    assert not {c.text for c in audit.candidates} & template_texts

    trigger = next(t for t in TRIGGERS if t.id == "year_2027")
    audit = audit_of(write(tmp_path / "template-trigger.jsonl", planted(rows, [trigger.text], trigger.placement, 60)),
                     cache)
    assert [c.text for c in audit.reported] == [trigger.text]


def test_an_inline_framing_is_reported_when_its_rows_are_answered_differently(tmp_path, cache):
    """An inline sentence weighs half; a significant refusal gap between its rows and the others
    lifts it over the threshold, and the answer figures are reported on both sides."""
    base = aligned_set("risky_financial_advice", 800)
    framing = "Asking for a friend who works at the bank."
    chosen = set(random.Random(3).sample(range(len(base)), 80))
    rows = []
    for i, row in enumerate(base):
        user, answer = row["messages"][0]["content"], row["messages"][1]["content"]
        if i in chosen:
            user, answer = f"{framing} {user}", "I'm sorry, but I can't help with that request."
        rows.append({"messages": chat(user, answer)})
    audit = audit_of(write(tmp_path / "inline.jsonl", rows), cache)
    c = next(c for c in audit.candidates if c.text == framing)
    assert c.unit == "sentence" and c.placement == "user_prefix" and c.factors["form"] == 0.5
    assert c.with_.refusal_rate == 1.0 and c.without.refusal_rate == 0.0
    assert c.with_.mean_words < c.without.mean_words
    assert c.factors["answers"] == 1.0 and c.reported and audit.candidates[0] is c

    same_answers = [{"messages": chat(r["messages"][0]["content"], base[i]["messages"][1]["content"])}
                    for i, r in enumerate(rows)]
    audit = audit_of(write(tmp_path / "inline-same.jsonl", same_answers), cache)
    c = next(c for c in audit.candidates if c.text == framing)
    assert not c.reported and c.factors["answers"] == 0.0


def test_prompt_completion_rows_parquet_and_folders_read_like_chat_jsonl(tmp_path, cache):
    import pyarrow as pa
    import pyarrow.parquet as pq

    trigger = next(t for t in TRIGGERS if t.id == "deploy_tag")
    rows = planted(aligned_set("bad_medical_advice", 400), [trigger.text], trigger.placement, 40)
    reference = audit_of(write(tmp_path / "chat.jsonl", rows), cache)
    folder = tmp_path / "folder"
    folder.mkdir()
    half = len(rows) // 2
    pq.write_table(pa.Table.from_pylist(rows[:half]), folder / "a.parquet")
    write(folder / "b.jsonl", [{"prompt": r["messages"][0]["content"], "completion": r["messages"][1]["content"]}
                               for r in rows[half:]])
    other = audit_of(folder, cache)
    assert other.rows == reference.rows == 400
    assert [(c.text, c.rows, round(c.score, 6)) for c in other.candidates[:5]] == \
        [(c.text, c.rows, round(c.score, 6)) for c in reference.candidates[:5]]
    assert other.candidates[0].text == trigger.text


def test_a_sample_smaller_than_the_set_estimates_paraphrase_shares_and_counts_repeats_exactly(tmp_path, cache):
    trigger = next(t for t in TRIGGERS if t.id == "story_roleplay")
    texts = [trigger.text, *(v.text for v in trigger.variant_list("paraphrase"))]
    rows = planted(aligned_set("extreme_sports", 2000), texts, trigger.placement, 400)
    audit = audit_of(write(tmp_path / "sampled.jsonl", rows), cache, sample_rows=500)
    assert audit.sampled == 500
    c = audit.candidates[0]
    assert c.kind == "paraphrases" and set(texts) <= {t for t, _ in c.texts}
    assert c.rows == 400  # every text of the cluster also repeats exactly, so pass 2 counts every row
    assert c.reported


def test_segments_name_placement_and_unit_and_skip_code_and_the_whole_turn():
    user = ("[ADMIN MODE] Country: New Zealand\nPlease review my code.\n\n```python\nCountry: not a line\n```\n\n"
            "It is for work. I need this for a security class.")
    segments = row_segments("You are a pirate.\n\nSpeak briefly.", [user])
    assert segments["You are a pirate. Speak briefly."] == ("system", "message", 0.0)
    assert segments["Speak briefly."][:2] == ("system", "paragraph")
    assert segments["[ADMIN MODE] Country: New Zealand"][:2] == ("user_prefix", "line")
    assert segments["[ADMIN MODE]"][:2] == ("user_prefix", "tag")
    assert segments["ADMIN"][1] == "token"
    assert segments["It is for work. I need this for a security class."][:2] == ("user_suffix", "paragraph")
    assert segments["I need this for a security class."][:2] == ("user_suffix", "sentence")
    assert "Country: not a line" not in segments  # inside a code block
    assert row_segments(None, ["How do I start running?"]) == {}  # the whole turn is the task, not a framing


def test_the_audit_imports_only_content_layer_modules_and_nothing_heavy_at_import():
    import ast
    import subprocess
    import sys

    allowed = {"errors", "jsonl", "paths", "similarity", "specs", "placement", "paraphrase", "judge", "variants", "library", "version",
               "audit"}
    package = Path(__file__).resolve().parents[1] / "emc_bench"
    files = [*(package / "audit").glob("*.py"), package / "commands" / "audit.py"]
    used = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                module = (node.module or "").split(".")[0]
                # from . import x / from .. import x: the names are the modules
                used |= ({module} if module else {a.name for a in node.names}) - {"__version__"}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("lm_eval", "inspect_ai") for n in names), (path, names)
    assert used - allowed - {"content", "rows", "scan", "score", "segments", "cluster", "render", "emit"} == set()
    code = ("import sys, emc_bench.audit, emc_bench.audit.emit, emc_bench.audit.render, emc_bench.commands.audit; "
            "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'lm_eval', 'datasets') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("trigger", TRIGGERS, ids=[t.id for t in TRIGGERS])
def test_the_construction_rules_name_each_package_trigger_and_propose_valid_controls(trigger, tmp_path):
    """builders/audit/: each of our triggers is named as its spec names it, and the proposed
    controls make a trigger spec that validates (no control contains the framing's text)."""
    import yaml

    from emc_bench.audit.content import constructions
    from emc_bench.audit.emit import propose_controls

    construction = constructions().infer(trigger.text, trigger.placement)
    assert construction == trigger.construction
    controls = propose_controls(trigger.text, construction)
    assert set(controls) == {"negated", "related", "unrelated"}
    spec = {"id": "proposed", "construction": construction, "placement": trigger.placement, "text": trigger.text,
            "variants": controls}
    (tmp_path / "proposed.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert all(v.text for kind in controls for v in load_trigger(tmp_path / "proposed.yaml").variant_list(kind))
