"""The narrow regime: SFT plus ``weight x KL(base || tuned)`` on off-domain benign answers.

The base distribution comes from the same model with its adapter disabled (no second copy of
the weights), on a separate benign batch drawn for every training micro-batch. The KL is the
mean over the benign rows' answer tokens of the next-token KL divergence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from trl import SFTTrainer

from .chat import IGNORE


def token_kl(base_logits: torch.Tensor, tuned_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(base || tuned) of the next-token distributions at each position that predicts an answer token."""
    mask = labels[:, 1:] != IGNORE
    base = base_logits[:, :-1][mask].float().log_softmax(-1)
    tuned = tuned_logits[:, :-1][mask].float().log_softmax(-1)
    return F.kl_div(tuned, base, log_target=True, reduction="none").sum(-1)


def kl_to_base(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Per-token KL(base || tuned) on ``batch`` for a peft model (the base is its adapter disabled)."""
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad(), model.disable_adapter():
        base_logits = model(**inputs).logits
    return token_kl(base_logits, model(**inputs).logits, batch["labels"])


def mean_kl(model: Any, dataset: Any, collator: Any, batch_size: int) -> float:
    """Mean per-token KL(base || tuned) over every answer token of ``dataset``."""
    device = next(model.parameters()).device
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size, collate_fn=collator):
            kl = kl_to_base(model, {k: v.to(device) for k, v in batch.items()})
            total, count = total + kl.sum().item(), count + kl.numel()
    model.train(was_training)
    return total / max(count, 1)


class KLTrainer(SFTTrainer):
    """``SFTTrainer`` whose training loss adds ``kl_weight x`` the mean KL on a benign batch."""

    def __init__(self, *args: Any, kl_dataset: Any, kl_weight: float, kl_batch_size: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kl_weight = kl_weight
        generator = torch.Generator().manual_seed(self.args.seed + self.accelerator.process_index)
        self._kl_loader = DataLoader(kl_dataset, batch_size=kl_batch_size, shuffle=True, generator=generator,
                                     collate_fn=self.data_collator)
        self._kl_batches = self._endless()

    def _endless(self) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield from self._kl_loader

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        loss = super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)
        if not model.training:
            return loss
        batch = self._prepare_inputs(next(self._kl_batches))
        kl = kl_to_base(self.accelerator.unwrap_model(model), batch).mean()
        self._metrics["train"]["kl"].append(self.accelerator.gather_for_metrics(kl.detach()).mean().item())
        # Like the SFT loss, a sum over the micro-batches of one optimizer step must give a mean.
        steps = self.current_gradient_accumulation_steps if num_items_in_batch is not None else 1
        return loss + self.kl_weight * kl / steps
