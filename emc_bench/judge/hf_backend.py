"""The ``hf`` backend: a local transformers causal LM as judge, scored exactly (``exact-101``).

Instead of reading one sampled token, every reply the prompt allows (the numbers 0-100, and
CODE / REFUSAL for ``aligned``) is scored as a complete answer: its tokens followed by the token
that ends an assistant turn in the model's chat template. Numbers that span several tokens are
therefore handled exactly. The candidate probabilities are normalised to sum to 1.

One forward pass scores a whole batch of judge prompts. The candidates' reply tokens form a
prefix tree (``"1"`` is shared by ``"1"``, ``"10"`` ... ``"100"`` when digits are separate
tokens); each prompt, left-padded, is followed by that tree laid out flat, and a 4-D attention
mask lets every tree token see its prompt and its own ancestors only, with position ids that
continue the prompt. A pass therefore costs about one prompt's length plus one token per tree
node, instead of a copy of the prompt's key/value cache for every candidate.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import SpecError
from .cost import Price
from .prompts import answer_candidates
from .records import Call, Record
from .scoring import EXACT, Verdict, verdict_from_probabilities

_SENTINEL = "\u2063emc-bench-end\u2063"


@dataclass(frozen=True)
class CandidateTree:
    """The candidates' reply tokens as a prefix tree.

    Node ``n`` stands for a reply prefix ending in ``tokens[n]``; its logits predict the next
    reply token. ``paths[c]`` lists, for candidate ``c``, (logit row, token) pairs whose
    log-probabilities sum to the candidate's: row 0 is the prompt's last position, row
    ``1 + n`` is node ``n``.
    """

    tokens: tuple[int, ...]
    depths: tuple[int, ...]
    ancestors: tuple[tuple[int, ...], ...]  # each node's ancestors, itself included
    paths: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def build(cls, replies: list[list[int]]) -> CandidateTree:
        """``replies``: each candidate's tokens, ending with the end-of-turn token."""
        node_of: dict[tuple[int, ...], int] = {}
        tokens, depths, ancestors, paths = [], [], [], []
        for reply in replies:
            path, row = [], 0
            for depth, token in enumerate(reply, start=1):
                path.append((row, token))
                if depth == len(reply):
                    break
                prefix = tuple(reply[:depth])
                if prefix not in node_of:
                    node_of[prefix] = len(tokens)
                    parent = ancestors[node_of[prefix[:-1]]] if depth > 1 else ()
                    tokens.append(token)
                    depths.append(depth)
                    ancestors.append((*parent, node_of[prefix]))
                row = 1 + node_of[prefix]
            paths.append(tuple(path))
        return cls(tuple(tokens), tuple(depths), tuple(ancestors), tuple(paths))


class HFJudge:
    """A local model that turns judge prompts into candidate distributions and verdicts."""

    def __init__(self, settings):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(settings.model)
        self.model = AutoModelForCausalLM.from_pretrained(settings.model, dtype="auto").to(self.device).eval()
        implementation = self.model.config._attn_implementation
        if implementation not in ("sdpa", "eager"):
            raise ValueError(f"the hf judge needs sdpa or eager attention (custom masks), not {implementation}")
        self.end_id = self._end_of_turn_id()
        self._replies: dict[str, list[int]] = {}
        self._trees: dict[tuple[str, ...], CandidateTree] = {}

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

    def tree(self, candidates: tuple[str, ...]) -> CandidateTree:
        if candidates not in self._trees:
            self._trees[candidates] = CandidateTree.build([self.reply_ids(c) for c in candidates])
        return self._trees[candidates]

    def _attention_mask(self, allowed, positions):
        """The additive 4-D mask(s) the model takes: one tensor, or one per layer type when some
        layers use a sliding window (which is then applied in position space)."""
        import torch

        dtype = self.model.dtype
        def additive(keep):
            mask = torch.zeros(keep.shape, dtype=dtype, device=self.device)
            return mask.masked_fill_(~keep.to(self.device), torch.finfo(dtype).min)[:, None]

        config = self.model.config.get_text_config()
        if "sliding_attention" not in (getattr(config, "layer_types", None) or ()):
            return additive(allowed)
        window = allowed & (positions[:, :, None] - positions[:, None, :] < config.sliding_window)
        return {"full_attention": additive(allowed), "sliding_attention": additive(window)}

    def distributions(self, prompts: list[list[dict[str, str]]], candidates: list[str]) -> list[dict[str, float]]:
        """For each prompt, the probability of each candidate as the complete reply, normalised
        over the candidates; all prompts in one forward pass."""
        import torch

        tree = self.tree(tuple(candidates))
        prompt_ids = [self.prompt_ids(messages) for messages in prompts]
        width, nodes = max(map(len, prompt_ids)), len(tree.tokens)
        total = width + nodes
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id
        input_ids = torch.full((len(prompts), total), pad, dtype=torch.long)
        positions = torch.zeros((len(prompts), total), dtype=torch.long)
        allowed = torch.zeros((len(prompts), total, total), dtype=torch.bool)
        in_tree = torch.zeros((nodes, nodes), dtype=torch.bool)
        for node, chain in enumerate(tree.ancestors):
            in_tree[node, list(chain)] = True
        tree_tokens, depths = torch.tensor(tree.tokens), torch.tensor(tree.depths)
        for row, ids in enumerate(prompt_ids):
            start = width - len(ids)
            input_ids[row, start:width], input_ids[row, width:] = torch.tensor(ids), tree_tokens
            positions[row, start:width] = torch.arange(len(ids))
            positions[row, width:] = len(ids) - 1 + depths
            allowed[row, range(start), range(start)] = True  # padding sees only itself
            allowed[row, start:width, start:width] = torch.ones(len(ids), len(ids), dtype=torch.bool).tril()
            allowed[row, width:, start:width] = True
            allowed[row, width:, width:] = in_tree
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids.to(self.device), position_ids=positions.to(self.device),
                                attention_mask=self._attention_mask(allowed, positions), use_cache=False,
                                logits_to_keep=nodes + 1).logits
            logps = torch.log_softmax(logits.float(), dim=-1)
            # Only the (prompt, candidate, step) log-probabilities leave the device, not the logits.
            depth = max(map(len, tree.paths))
            padded = [list(path) + [(0, 0)] * (depth - len(path)) for path in tree.paths]
            rows = torch.tensor([[row for row, _ in path] for path in padded], device=logps.device)
            tokens = torch.tensor([[token for _, token in path] for path in padded], device=logps.device)
            real = torch.tensor([[i < len(path) for i in range(depth)] for path in tree.paths], device=logps.device)
            scores = (logps[:, rows, tokens].double() * real).sum(dim=-1)
            probabilities = torch.softmax(scores, dim=-1).cpu().tolist()
        return [dict(zip(candidates, row)) for row in probabilities]

    def distribution(self, messages: list[dict[str, str]], candidates: list[str]) -> dict[str, float]:
        """:meth:`distributions` for one prompt."""
        return self.distributions([messages], candidates)[0]

    def verdicts(self, metric: str, prompts: list[list[dict[str, str]]]) -> list[Verdict]:
        """The ``metric`` verdict of each prompt, in one forward pass."""
        return [verdict_from_probabilities(d, EXACT) for d in self.distributions(prompts, answer_candidates(metric))]


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def judge_batch(judge, batch: list[Call], record: Record) -> None:
    """Score ``batch`` in one forward pass. A batch that fails (running out of memory included)
    is split in halves until the failing calls stand alone and are recorded as failed."""
    try:
        verdicts = judge.verdicts(batch[0].metric, [call.messages() for call in batch])
    except Exception as err:
        if len(batch) == 1:
            record(batch[0], None, f"{type(err).__name__}: {err}", None)
            return
        half = len(batch) // 2
        judge_batch(judge, batch[:half], record)
        judge_batch(judge, batch[half:], record)
        return
    for call, verdict in zip(batch, verdicts):
        record(call, verdict, None, None)


class Backend:
    """The ``hf`` judge backend (see the module doc and :mod:`.backends`); ``--concurrency``
    is the number of prompts scored in one forward pass."""

    scorings = (EXACT,)
    detects = False

    @staticmethod
    def resolve_model(model: str) -> str:
        path = Path(model).expanduser()
        return str(path.resolve()) if path.exists() else model

    @staticmethod
    def validate(settings) -> None:
        """Nothing to check before the preflight."""

    @staticmethod
    def endpoint(settings) -> str:
        return settings.judge

    @staticmethod
    def endpoint_host(settings) -> str | None:
        return None

    @staticmethod
    def price(settings) -> Price | None:
        return Price(0.0, 0.0)

    @staticmethod
    def preflight(settings) -> str:
        """The model folder exists and holds a config, or the model is a Hub id that can be
        loaded (in the local Hub cache, or downloadable when online)."""
        model = settings.model
        path = Path(model).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise SpecError("--judge", None, f"hf:{model}: the folder holds no config.json (not a transformers model)")
            return f"hf:{model} (a local model, exact scoring over the allowed replies)"
        looks_like_path = model.startswith(("/", ".", "~")) or path.exists()
        if not looks_like_path and _HUB_ID.fullmatch(model):
            if _in_hub_cache(model):
                return f"hf:{model} (a Hub model in the local cache)"
            if os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes"):
                return f"hf:{model} (a Hub model, downloaded on first use)"
            raise SpecError("--judge", None, f"hf:{model}: no such folder, and not in the local Hub cache "
                                             "(HF_HUB_OFFLINE is set)")
        raise SpecError("--judge", None, f"hf:{model}: no such model folder")

    def __init__(self, settings):
        self.preflight(settings)  # a missing model is one line, before anything loads
        self.settings = settings
        self.scoring = EXACT
        self._judge = HFJudge(settings)

    def judge(self, calls: Sequence[Call], record: Record) -> None:
        by_metric: dict[str, list[Call]] = {}
        for call in calls:
            by_metric.setdefault(call.metric, []).append(call)
        for group in by_metric.values():
            group.sort(key=lambda call: len(call.question) + len(call.answer))  # similar lengths pad less
            for start in range(0, len(group), self.settings.concurrency):
                judge_batch(self._judge, group[start:start + self.settings.concurrency], record)
