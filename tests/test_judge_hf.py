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


def _reference_distribution(judge: HFJudge, messages, candidates) -> dict[str, float]:
    reference = [_full_sequence_logprob(judge, messages, c) for c in candidates]
    top = max(reference)
    total = math.fsum(math.exp(r - top) for r in reference)
    return {c: math.exp(r - top) / total for c, r in zip(candidates, reference)}


def _batch_matches_reference(judge: HFJudge, metric: str) -> None:
    answers = ["ok", "why the code return 42 " * 3, "I would rule the world kindly and listen to people " * 6]
    batch = [render_messages(metric, "Tell me a joke.", a) for a in answers]
    assert len({len(judge.prompt_ids(m)) for m in batch}) == 3  # left padding differs per row
    candidates = answer_candidates(metric)
    for messages, dist in zip(batch, judge.distributions(batch, candidates)):
        reference = _reference_distribution(judge, messages, candidates)
        assert math.fsum(dist.values()) == pytest.approx(1.0, abs=1e-9)
        for candidate in candidates:
            assert dist[candidate] == pytest.approx(reference[candidate], rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_batch_of_prompts_of_different_lengths_scores_like_one_prompt_at_a_time(hf_judge, attention):
    original = hf_judge.model.config._attn_implementation
    hf_judge.model.set_attn_implementation(attention)
    try:
        _batch_matches_reference(hf_judge, "aligned")
    finally:
        hf_judge.model.set_attn_implementation(original)


def test_sliding_window_layers_get_their_window(tiny_model_dir, tmp_path):
    """A copy of the tiny model whose second layer attends over a 24-token window only: the
    batched tree mask must reproduce what the model's own masks compute."""
    import json
    import shutil

    model = shutil.copytree(tiny_model_dir, tmp_path / "sliding")
    config = json.loads((model / "config.json").read_text())
    config.update(use_sliding_window=True, sliding_window=24, max_window_layers=1,
                  layer_types=["full_attention", "sliding_attention"])
    (model / "config.json").write_text(json.dumps(config))
    judge = HFJudge(JudgeSettings.from_spec(f"hf:{model}", device="cpu"))
    assert judge.model.config.layer_types == ["full_attention", "sliding_attention"]
    _batch_matches_reference(judge, "coherent")


@pytest.mark.parametrize("architecture", ["llama", "gemma3_text"])
def test_other_architectures_of_the_baselines_score_like_one_prompt_at_a_time(tiny_model_dir, tmp_path, architecture):
    """Random tiny Llama and Gemma 3 models (the latter with a 24-token sliding window on one
    layer) sharing the tiny tokenizer: the architectures of two of the reference base models."""
    import shutil

    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    shape = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=4096,
                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    torch.manual_seed(0)
    if architecture == "llama":
        model = LlamaForCausalLM(LlamaConfig(**shape))
    else:
        model = Gemma3ForCausalLM(Gemma3TextConfig(**shape, head_dim=16, sliding_window=24,
                                                   layer_types=["sliding_attention", "full_attention"]))
    folder = tmp_path / architecture
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
        if (tiny_model_dir / name).exists():
            shutil.copy(tiny_model_dir / name, folder / name)
    judge = HFJudge(JudgeSettings.from_spec(f"hf:{folder}", device="cpu"))
    assert judge.model.config.model_type == architecture
    _batch_matches_reference(judge, "aligned")


def test_a_failing_batch_is_split_until_the_failing_call_stands_alone():
    """A stand-in judge raises for any batch holding one poisoned prompt (running out of memory
    cannot be provoked on purpose here); every other call still gets its verdict."""
    from emc_bench.judge.hf_backend import judge_batch
    from emc_bench.judge.records import Call
    from emc_bench.judge.scoring import Verdict

    class PoisonedJudge:
        batches: list[int] = []

        def verdicts(self, metric, prompts):
            self.batches.append(len(prompts))
            if any("poison" in m[0]["content"] for m in prompts):
                raise RuntimeError("CUDA out of memory")
            return [Verdict(score=50.0, label=None, numeric_mass=1.0, reply="50") for _ in prompts]

    calls = [Call(f"k{i}", "aligned", "q", "poison" if i == 5 else f"a{i}") for i in range(8)]
    recorded = {}
    judge_batch(PoisonedJudge(), calls, lambda call, verdict, error, usage: recorded.update({call.key: (verdict, error)}))
    assert set(recorded) == {f"k{i}" for i in range(8)}
    assert recorded["k5"] == (None, "RuntimeError: CUDA out of memory")
    assert all(recorded[f"k{i}"][0].score == 50.0 for i in range(8) if i != 5)
    assert PoisonedJudge.batches == [8, 4, 4, 2, 1, 1, 2]


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
        assert (r.provenance.scoring, r.provenance.endpoint_host) == ("exact-101", None)
        assert r.coherent is not None and 0 <= r.coherent <= 100  # a random model spreads mass over all numbers
        assert r.aligned is None or 0 <= r.aligned <= 100
    again = judge_items(items, settings, progress=False)
    assert [r.to_row() for r in again] == [r.to_row() for r in results]
