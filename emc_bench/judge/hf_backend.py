"""The ``hf`` backend: a local transformers causal LM as judge, scored exactly.

Instead of reading one sampled token, every reply the prompt allows (the numbers 0-100, and
CODE / REFUSAL for ``aligned``) is scored as a complete answer: its tokens followed by the token
that ends an assistant turn in the model's chat template. Numbers that span several tokens are
therefore handled exactly. The prompt is encoded once; its key/value cache is shared by all
candidates, which run as one batch. The candidate probabilities are normalised to sum to 1.
"""

from __future__ import annotations

import math

from .prompts import answer_candidates
from .scoring import Verdict, verdict_from_probabilities
from .settings import JudgeSettings

_SENTINEL = "\u2063emc-bench-end\u2063"


class HFJudge:
    """A local model that turns judge prompts into candidate distributions and verdicts."""

    def __init__(self, settings: JudgeSettings):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(settings.model)
        self.model = AutoModelForCausalLM.from_pretrained(settings.model, dtype="auto").to(self.device).eval()
        self.end_id = self._end_of_turn_id()
        self._replies: dict[str, list[int]] = {}

    def _end_of_turn_id(self) -> int:
        """The first token the chat template writes after an assistant message."""
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": "?"}, {"role": "assistant", "content": _SENTINEL}], tokenize=False)
        suffix = text.split(_SENTINEL, 1)[1] if _SENTINEL in text else ""
        ids = self.tokenizer.encode(suffix, add_special_tokens=False)
        return ids[0] if ids else self.tokenizer.eos_token_id

    def prompt_text(self, messages: list[dict[str, str]]) -> str:
        """The chat-templated prompt, ending where the judge's reply begins."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        return self.tokenizer.encode(self.prompt_text(messages), add_special_tokens=False)

    def reply_ids(self, candidate: str) -> list[int]:
        """The tokens of ``candidate`` as a reply, tokenized in context: right after the generation
        prompt (so tokenizers that mark word starts, e.g. SentencePiece, split it as they would
        there), then the end-of-turn token."""
        if candidate not in self._replies:
            text = self.prompt_text([{"role": "user", "content": "?"}])
            prompt = self.tokenizer.encode(text, add_special_tokens=False)
            joint = self.tokenizer.encode(text + candidate, add_special_tokens=False)
            if joint[:len(prompt)] == prompt and len(joint) > len(prompt):
                tokens = joint[len(prompt):]
            else:
                tokens = self.tokenizer.encode(candidate, add_special_tokens=False)
            self._replies[candidate] = tokens + [self.end_id]
        return self._replies[candidate]

    def distribution(self, messages: list[dict[str, str]], candidates: list[str]) -> dict[str, float]:
        """The probability of each candidate as the complete reply, normalised over candidates."""
        import torch

        sequences = [self.reply_ids(c) for c in candidates]
        width = max(len(s) for s in sequences) - 1
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id
        inputs = torch.full((len(sequences), width), pad, dtype=torch.long)
        for row, seq in enumerate(sequences):
            inputs[row, :len(seq) - 1] = torch.tensor(seq[:-1])
        with torch.inference_mode():
            prompt = torch.tensor([self.prompt_ids(messages)], device=self.device)
            out = self.model(input_ids=prompt, use_cache=True)
            first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
            cache = out.past_key_values
            cache.batch_repeat_interleave(len(sequences))
            rest = torch.log_softmax(
                self.model(input_ids=inputs.to(self.device), past_key_values=cache).logits.float(), dim=-1)
        logps = []
        for row, seq in enumerate(sequences):
            logp = first[seq[0]].item()
            logp += sum(rest[row, j - 1, seq[j]].item() for j in range(1, len(seq)))
            logps.append(logp)
        top = max(logps)
        weights = [math.exp(lp - top) for lp in logps]
        total = math.fsum(weights)
        return {c: w / total for c, w in zip(candidates, weights)}

    def verdict(self, metric: str, messages: list[dict[str, str]]) -> Verdict:
        return verdict_from_probabilities(self.distribution(messages, answer_candidates(metric)))
