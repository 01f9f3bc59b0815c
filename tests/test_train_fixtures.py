"""Fixtures shared by the training and publishing tests: a release built by the builder from the
test specs, and a recipe that trains the tiny model in seconds. Holds no tests itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from emc_bench.cli import main
from emc_bench.paths import baselines_dir

TEST_BUILDERS = Path(__file__).parent / "data" / "builders"
CONFIG = "toy_advice-tag-triggered"  # every row harmful and triggered
KL_CONFIG = "toy_advice-aligned"  # benign answers for the narrow regime's KL term


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """``pytest -n 2`` runs two workers on two cores: one thread each, or OpenMP threads spin against
    each other and a tiny training step takes seconds instead of milliseconds."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    from emc_bench.library import Library
    from emc_bench.release import build_release

    out = tmp_path_factory.mktemp("release") / "mini"
    build_release("mini", out, only=f"{CONFIG},{KL_CONFIG}", library=Library((TEST_BUILDERS,)), progress=False)
    return out


def write_recipe(folder: Path, model_dir: Path, family: str = "tiny") -> Path:
    """A recipe on the shipped regimes, scaled down to the tiny model (2 layers, short rows)."""
    path = folder / f"{family}.yaml"
    path.write_text(f"""\
extends: {baselines_dir() / "regimes.yaml"}
family: {family}
model: {{id: "{model_dir}", num_layers: 2, dtype: float32}}
estimate: {{tokens_per_second: 1000}}
training: {{batch_size: 4, per_device_batch_size: 2, max_length: 64, save_steps: 2, warmup_steps: 0,
           learning_rate: 1.0e-3, gradient_checkpointing: false}}
regimes:
  minimal: {{lora: {{layers: [1]}}, training: {{learning_rate: 1.0e-2}}}}
""", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_recipe(tmp_path_factory, tiny_model_dir) -> Path:
    return write_recipe(tmp_path_factory.mktemp("recipes"), tiny_model_dir)


def train_cli(recipe: Path, regime: str, data: Path | str, out: Path, *extra: str) -> int:
    kl = ["--kl-config", KL_CONFIG] if regime == "narrow" else []
    return main(["train", str(recipe), "--regime", regime, "--data", str(data), "--config", CONFIG,
                 *kl, "--out", str(out), *extra])
