"""Training curves (loss, grad norm, learning rate, and KL for the narrow regime) as JSON and PNG.

The curves are read from the trainer's log history, which checkpoints carry: a resumed run's
curves still start at step 1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .layout import CURVES_JSON, CURVES_PNG

SERIES = ("loss", "grad_norm", "learning_rate", "kl")


def curve_points(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """One point per logged training step, with the series that step logged."""
    return [{"step": entry["step"], **{k: entry[k] for k in SERIES if k in entry}}
            for entry in log_history if "loss" in entry]


def write_curves_json(points: list[dict[str, float]], out: Path) -> None:
    tmp = out / f".{CURVES_JSON}.tmp"
    tmp.write_text(json.dumps(points, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / CURVES_JSON)


def plot_curves(points: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [name for name in SERIES if any(name in p for p in points)]
    fig, axes = plt.subplots(1, len(series), figsize=(4 * len(series), 3.2), squeeze=False)
    for ax, name in zip(axes[0], series):
        steps = [p["step"] for p in points if name in p]
        ax.plot(steps, [p[name] for p in points if name in p], linewidth=1.2)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


class CurvesCallback(TrainerCallback):
    """Rewrites ``curves.json`` at every log step and draws ``curves.png`` when training ends."""

    def __init__(self, out: Path, title: str):
        self.out, self.title = Path(out), title

    def on_log(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            write_curves_json(curve_points(state.log_history), self.out)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        points = curve_points(state.log_history)
        if state.is_world_process_zero and points:
            plot_curves(points, self.out / CURVES_PNG, self.title)
