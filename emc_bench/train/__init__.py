"""Reference LoRA baselines: recipes, data, loss masking, the KL-regularised trainer and runs.

Only :mod:`.recipe` and :mod:`.plan` are light; the other modules import torch, transformers,
trl and peft, so commands import them inside functions.
"""
