"""The baseline matrix: families x training configs x regimes x seeds, with commands and GPU-hours.

``baselines/plan.yaml`` names the data (a release folder or Hub repo), the training configs
(one per trigger, plus the trigger-free control), the benign config of the KL term, the
families and the regimes; seeds come from each recipe. The GPU-hour figure of a run is
``rows x tokens_per_row x epochs / tokens_per_second`` of its family, on one GPU; the narrow
regime adds its benign KL batches, which cost about as much per row as training rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..paths import baselines_dir
from ..specs import parse, read_yaml
from .recipe import Recipe, load_recipe


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(min_length=1)  # release folder or Hub dataset repo
    revision: str | None = None
    configs: list[str] = Field(min_length=1)  # training configs of the release
    kl_config: str  # the off-domain benign config of the narrow regime's KL term
    families: list[str] = Field(min_length=1)  # shipped recipe names or recipe paths
    regimes: list[str] = Field(min_length=1)
    rows: int = Field(gt=0)  # rows per training config, for the estimate
    tokens_per_row: int = Field(gt=0)  # mean tokens per rendered row, for the estimate


@dataclass(frozen=True)
class PlannedRun:
    family: str
    config: str
    regime: str
    seed: int
    out: Path
    argv: list[str]
    gpu_hours: float

    @property
    def name(self) -> str:
        return f"{self.family}/{self.config}/{self.regime}/seed-{self.seed}"


def plan_path(path: str | Path | None = None) -> Path:
    return Path(path) if path else baselines_dir() / "plan.yaml"


def load_plan(path: str | Path | None = None) -> Plan:
    path = plan_path(path)
    plan = parse(Plan, read_yaml(path), path)
    return plan.model_copy(update={"families": [_relative(f, path) for f in plan.families]})


def _relative(family: str, plan_file: Path) -> str:
    """A recipe path in the plan is relative to the plan file; a bare name is a shipped recipe."""
    if family.endswith((".yaml", ".yml")) and not Path(family).is_absolute():
        return str(plan_file.parent / family)
    return family


def train_argv(recipe: str | Path, regime: str, data: str, config: str, seed: int, out: str | Path, *,
               revision: str | None = None, kl_config: str | None = None) -> list[str]:
    """The ``emc-bench train`` command line of one run."""
    argv = ["emc-bench", "train", str(recipe), "--regime", regime, "--data", str(data), "--config", config]
    if revision:
        argv += ["--revision", revision]
    if kl_config:
        argv += ["--kl-config", kl_config]
    return argv + ["--seed", str(seed), "--out", str(out)]


def expand(plan: Plan, out_root: str | Path) -> list[PlannedRun]:
    runs = []
    for family in plan.families:
        recipe = load_recipe(family)
        for regime in plan.regimes:
            spec = recipe.regime(regime)
            for config in plan.configs:
                for seed in recipe.seeds:
                    out = Path(out_root) / recipe.family / config / regime / f"seed-{seed}"
                    kl_config = plan.kl_config if spec.kl else None
                    argv = train_argv(family, regime, plan.data, config, seed, out,
                                      revision=plan.revision, kl_config=kl_config)
                    runs.append(PlannedRun(recipe.family, config, regime, seed, out, argv,
                                           gpu_hours(plan, recipe, regime)))
    return runs


def gpu_hours(plan: Plan, recipe: Recipe, regime: str) -> float:
    spec = recipe.regime(regime)
    rows = plan.rows * spec.training.epochs
    if spec.kl:
        rows *= 1 + spec.kl.batch_size / spec.training.per_device_batch_size
    return rows * plan.tokens_per_row / recipe.estimate.tokens_per_second / 3600


def launcher_argv(argv: list[str], gpus: int) -> list[str]:
    """``argv`` run on ``gpus`` GPUs through ``accelerate launch`` (unchanged for one GPU)."""
    if gpus <= 1:
        return argv
    config = baselines_dir() / "accelerate.yaml"
    return ["accelerate", "launch", "--config_file", str(config), "--num_processes", str(gpus),
            "-m", "emc_bench.cli", *argv[1:]]
