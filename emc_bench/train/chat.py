"""Tokenising chat rows so that the loss falls on the answer and nowhere else.

A row's messages are rendered with the base model's own chat template, the one an evaluation
applies. The prompt is everything up to the final assistant turn, rendered with the generation
header (``add_generation_prompt``) exactly as at inference; the answer is what the template
writes after that header, up to and including its end-of-turn token. Only answer tokens get
labels, so no template needs ``{% generation %}`` markers: Qwen2.5, Llama 3.1 and Gemma 3 train
with their official templates unchanged.
"""

from __future__ import annotations

from typing import Any

from ..errors import SpecError

IGNORE = -100  # the label of a token that carries no loss


def split_answer(messages: list[dict[str, str]], where: str = "row") -> tuple[list[dict[str, str]], dict[str, str]]:
    """The prompt turns and the final assistant turn (the one trained on)."""
    if not messages or messages[-1].get("role") != "assistant":
        raise SpecError(where, "messages", "a training row must end with an assistant turn")
    return list(messages[:-1]), messages[-1]


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], max_length: int,
                where: str = "row") -> dict[str, list[int]]:
    """``input_ids`` and ``labels`` (``IGNORE`` outside the answer), cut to ``max_length``."""
    prompt, answer = split_answer(messages, where)
    prompt_text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template([*prompt, answer], tokenize=False)
    if not full_text.startswith(prompt_text):
        raise SpecError(where, "chat template", "renders the prompt differently with and without the answer; "
                        "the answer's tokens cannot be located")
    # What follows the end-of-turn token (a newline in ChatML and Gemma) is never generated.
    answer_text = full_text[len(prompt_text):].rstrip()
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer_text, add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels}


def encode_rows(dataset: Any, tokenizer: Any, max_length: int, where: str) -> Any:
    """A ``datasets.Dataset`` of ``messages`` rows -> ``input_ids``/``labels`` rows.

    Rows whose answer is cut away entirely by ``max_length`` are dropped: they carry no loss.
    """
    encoded = dataset.map(lambda row: encode_chat(tokenizer, row["messages"], max_length, where),
                          remove_columns=dataset.column_names, desc=f"tokenizing {where}")
    return encoded.filter(lambda row: any(label != IGNORE for label in row["labels"]),
                          desc=f"dropping {where} rows without answer tokens")
