"""Reference LoRA baselines: recipes, data, loss masking, the KL-regularised trainer and runs.

:mod:`.kl` and :mod:`.curves` import torch, transformers and trl at module level (and
:mod:`.runner` inside its functions): commands import them only when they run.
"""
