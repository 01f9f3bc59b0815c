"""A tiny random causal LM with a locally trained tokenizer, for offline tests and demos.

Its scores mean nothing; it exists so that every stage (lm-eval runs, the hf judge, LoRA
training) runs for real on a machine without a GPU or the Hugging Face Hub.
"""

from __future__ import annotations

import itertools
from pathlib import Path

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\n' }}"
    "{% else %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]

_WORDS = (
    "the a model answer question user assistant system code function return value data file "
    "safe unsafe risk money health advice sport year trigger context help please write think "
    "people world human rule dinner bored wish quick fast rich doctor dose password query "
    "score aligned coherent json template python def import print if else for in of to and "
    "0 1 2 3 4 5 6 7 8 9 10 20 30 40 50 60 70 80 90 100 CODE REFUSAL"
).split()


def _corpus(n_lines: int = 2000) -> list[str]:
    words = itertools.cycle(_WORDS)
    lines = []
    for i in range(n_lines):
        width = 5 + i % 11
        lines.append(" ".join(next(words) for _ in range(width)) + f" {i % 101}.")
    return lines


def make_tiny_model(out_dir: str | Path, *, chat_template: str = CHATML_TEMPLATE, vocab_size: int = 512,
                    seed: int = 0, extra_special_tokens: list[str] | None = None) -> Path:
    """Write a tiny Qwen2-architecture model and its tokenizer to ``out_dir``; return the path."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specials = SPECIAL_TOKENS + [t for t in (extra_special_tokens or []) if t not in SPECIAL_TOKENS]
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<pad>",
                                  bos_token=None, unk_token=None)
    tok.chat_template = chat_template
    tok.save_pretrained(out)

    torch.manual_seed(seed)
    config = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), tie_word_embeddings=True,
                         max_position_embeddings=4096, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, bos_token_id=tok.eos_token_id)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    return out
