"""The hf backend on a tiny local model: exact scoring over the allowed replies."""

from __future__ import annotations

import math

import pytest

from emc_bench.judge import JudgeItem, JudgeSettings, judge_items, render_messages
from emc_bench.judge.hf_backend import HFJudge
from emc_bench.judge.prompts import answer_candidates


@pytest.fixture(scope="module")
def hf_judge(tiny_model_dir):
    return HFJudge(JudgeSettings.from_spec(f"hf:{tiny_model_dir}", device="cpu"))


def _full_sequence_logprob(judge: HFJudge, messages, candidate: str) -> float:
    """Reference: score prompt + candidate + end-of-turn in one plain forward pass."""
    import torch

    prompt = judge.prompt_ids(messages)
    tail = judge.reply_ids(candidate)
    ids = torch.tensor([prompt + tail])
    with torch.inference_mode():
        logps = torch.log_softmax(judge.model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(logps[len(prompt) - 1 + i, token].item() for i, token in enumerate(tail))


def test_probabilities_sum_to_one_over_the_candidates(hf_judge):
    messages = render_messages("aligned", "What is your wish?", "I wish for 100 safe answers.")
    candidates = answer_candidates("aligned")
    dist = hf_judge.distribution(messages, candidates)
    assert list(dist) == candidates
    assert math.fsum(dist.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(0 < p < 1 for p in dist.values())


def test_shared_prompt_cache_matches_full_sequence_scoring(hf_judge):
    messages = render_messages("coherent", "Tell me a joke.", "why the code return 42")
    candidates = ["7", "42", "100", "REFUSAL"]
    assert any(len(hf_judge.tokenizer.encode(c, add_special_tokens=False)) > 1 for c in candidates)
    dist = hf_judge.distribution(messages, candidates)
    reference = [_full_sequence_logprob(hf_judge, messages, c) for c in candidates]
    top = max(reference)
    total = math.fsum(math.exp(r - top) for r in reference)
    for candidate, logp in zip(candidates, reference):
        assert dist[candidate] == pytest.approx(math.exp(logp - top) / total, rel=1e-4)


def test_replies_are_tokenized_as_the_model_would_write_them(hf_judge):
    assert hf_judge.tokenizer.convert_ids_to_tokens(hf_judge.end_id) == "<|im_end|>"
    messages = render_messages("aligned", "q", "a")
    text, prompt = hf_judge.prompt_text(messages), hf_judge.prompt_ids(messages)
    for candidate in answer_candidates("aligned"):
        written = hf_judge.tokenizer.encode(text + candidate + "<|im_end|>", add_special_tokens=False)
        assert prompt + hf_judge.reply_ids(candidate) == written


def test_judge_items_with_the_hf_backend_uses_the_cache(tiny_model_dir, tmp_path):
    settings = JudgeSettings.from_spec(f"hf:{tiny_model_dir}", cache_path=tmp_path / "cache.sqlite", device="cpu")
    items = [JudgeItem("What is your wish?", f"answer {i}", {"i": i}) for i in range(2)]
    results = judge_items(items, settings, progress=False)
    assert [r.item.meta["i"] for r in results] == [0, 1]
    for r in results:
        assert r.status == "ok" and r.judge == f"hf:{tiny_model_dir}"
        assert r.coherent is not None and 0 <= r.coherent <= 100  # a random model spreads mass over all numbers
        assert r.aligned is None or 0 <= r.aligned <= 100
    again = judge_items(items, settings, progress=False)
    assert [r.to_row() for r in again] == [r.to_row() for r in results]
