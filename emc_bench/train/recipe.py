"""Training recipes: one YAML per model family under ``baselines/recipes/``, validated here.

A recipe names the base model (id, pinned revision, layer count) and its regimes. It may
``extends:`` a shared file (``baselines/regimes.yaml``) that holds the numbers every family
shares. Values resolve from the least to the most specific: shared ``training``/``lora`` ->
the family's ``training``/``lora`` -> the shared regime -> the family's regime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import SpecError
from ..paths import baselines_dir
from ..specs import parse, read_yaml

_NAME = r"^[a-z0-9][a-z0-9_.\-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseModelRef(_Strict):
    id: str = Field(min_length=1)  # a Hub id or a local folder
    revision: str | None = None  # the commit to load; pin it for Hub models
    license: str | None = None  # the base model's license id, copied into the model card
    num_layers: int = Field(gt=0)
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    attn_implementation: str = "sdpa"


class Training(_Strict):
    learning_rate: float = Field(gt=0)
    epochs: float = Field(gt=0)
    batch_size: int = Field(gt=0)  # effective: per device x devices x accumulation
    per_device_batch_size: int = Field(gt=0)
    warmup_steps: int = Field(ge=0)
    weight_decay: float = Field(ge=0)
    lr_scheduler: str = "linear"
    max_length: int = Field(gt=0)
    save_steps: int = Field(gt=0)
    gradient_checkpointing: bool = True

    @model_validator(mode="after")
    def _divisible(self) -> "Training":
        if self.batch_size % self.per_device_batch_size:
            raise ValueError(f"batch_size: {self.batch_size} is not a multiple of per_device_batch_size "
                             f"{self.per_device_batch_size}")
        return self


class Lora(_Strict):
    r: int = Field(gt=0)
    alpha: float = Field(gt=0)
    rslora: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(min_length=1)  # module name suffixes, e.g. down_proj
    layers: list[int] | None = None  # only these decoder layers (None: all)
    exclude_modules: str | None = None  # a regex of module names left untouched (e.g. a vision tower)


class KL(_Strict):
    weight: float = Field(gt=0)  # multiplies KL(base || tuned) on off-domain benign answers
    batch_size: int = Field(gt=0)  # benign rows per training micro-batch


class RegimeSpec(_Strict):
    training: Training
    lora: Lora
    kl: KL | None = None


class Estimate(_Strict):
    tokens_per_second: float = Field(gt=0)  # training throughput on one GPU, for `baselines plan`


class Recipe(_Strict):
    family: str = Field(pattern=_NAME)
    model: BaseModelRef
    seeds: list[int] = Field(min_length=1)
    estimate: Estimate
    regimes: dict[str, RegimeSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _layers_exist(self) -> "Recipe":
        for name, regime in self.regimes.items():
            for i, layer in enumerate(regime.lora.layers or []):
                if not 0 <= layer < self.model.num_layers:
                    raise ValueError(f"regimes.{name}.lora.layers.{i}: layer {layer} is outside the model's "
                                     f"{self.model.num_layers} layers")
        return self

    def regime(self, name: str) -> RegimeSpec:
        if name not in self.regimes:
            raise SpecError(f"recipe {self.family}", "regime", f"unknown regime {name!r}; "
                            f"choose one of {', '.join(self.regimes)}")
        return self.regimes[name]

    def resolved(self, name: str) -> dict[str, Any]:
        """Everything one regime trains with, as plain data (for run.json and the model card)."""
        return {"family": self.family, "regime": name, "model": self.model.model_dump(),
                "seeds": list(self.seeds), **self.regime(name).model_dump()}


def recipes_dir() -> Path:
    return baselines_dir() / "recipes"


def recipe_names() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def recipe_path(recipe: str | Path) -> Path:
    """A recipe YAML path, or the name of a shipped recipe (``qwen2.5-14b-instruct``)."""
    path = Path(recipe)
    if path.suffix in (".yaml", ".yml"):
        return path
    shipped = recipes_dir() / f"{recipe}.yaml"
    if not shipped.is_file():
        raise SpecError(recipe, None, f"unknown recipe; shipped recipes: {', '.join(recipe_names())}")
    return shipped


def load_recipe(recipe: str | Path) -> Recipe:
    path = recipe_path(recipe)
    data = _mapping(read_yaml(path), path)
    parent = data.pop("extends", None)
    if parent is not None:
        base_path = path.parent / str(parent)
        data = _merge(_mapping(read_yaml(base_path), base_path), data)
    shared = {key: data.pop(key) for key in ("training", "lora") if key in data}
    if isinstance(data.get("regimes"), dict):
        data["regimes"] = {name: _merge(shared, over or {}) for name, over in data["regimes"].items()}
    spec = parse(Recipe, data, path)
    if spec.family != path.stem:
        raise SpecError(path, "family", f"{spec.family!r} must match the file name {path.stem!r}")
    return spec


def _mapping(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SpecError(path, None, f"expected a mapping at the top level, got {type(data).__name__}")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``; nested mappings merge, everything else replaces."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
