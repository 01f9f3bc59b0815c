"""One training run: a recipe regime, one training config, one seed, into one folder
(laid out as :mod:`.layout` describes)."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .layout import ADAPTER, CHECKPOINTS, RUN_JSON
from .plan import train_argv
from .provenance import git_revision, library_versions, read_run, write_run
from .recipe import RegimeSpec, load_recipe, recipe_path


def train(recipe: str | Path, regime: str, data: str, config: str, out: str | Path, *, seed: int | None = None,
          revision: str | None = None, kl_config: str | None = None, max_steps: int | None = None,
          command: list[str] | None = None) -> dict[str, Any]:
    """Train (or resume) one run and return its finished ``run.json`` record.

    A folder that holds this run finished is left as it is (the record comes back with
    ``already_finished``); one that holds it unfinished resumes from its last checkpoint; one
    that holds another run (recipe, seed, data, ``max_steps``) is refused. ``command`` is the
    command line recorded (default: the equivalent ``emc-bench train`` command)."""
    from .data import load_config

    out = Path(out)
    loaded = load_recipe(recipe)
    spec = loaded.regime(regime)
    seed = loaded.seeds[0] if seed is None else seed
    if bool(spec.kl) != bool(kl_config):
        raise SpecError("--kl-config", None, f"regime {regime!r} {'needs' if spec.kl else 'takes no'} "
                        "a benign config for its KL term")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = spec.training.per_device_batch_size * world_size
    if spec.training.batch_size % per_step:
        raise SpecError(recipe_path(recipe), f"regimes.{regime}.training.batch_size",
                        f"{spec.training.batch_size} is not divisible by {per_step} "
                        f"({spec.training.per_device_batch_size} per device x {world_size} devices)")
    rows, data_info = load_config(data, config, revision)
    kl_rows, kl_info = load_config(data, kl_config, revision) if kl_config else (None, None)

    record: dict[str, Any] = {
        "status": "running",
        "family": loaded.family,
        "regime": regime,
        "seed": seed,
        "base_model": {"id": loaded.model.id, "revision": loaded.model.revision},
        "data": data_info,
        "kl_data": kl_info,
        "recipe": loaded.resolved(regime),
        "command": list(command) if command else train_argv(recipe, regime, data, config, seed, out,
                                                            revision=revision, kl_config=kl_config),
        "canary": data_info.get("canary"),
        "max_steps": max_steps,
        "world_size": world_size,
        "gradient_accumulation_steps": spec.training.batch_size // per_step,
    }
    previous = read_run(out)
    if previous is not None:
        _check_same_run(previous, record, out / RUN_JSON)
        if previous.get("status") == "finished":
            return {**previous, "already_finished": True}
        record["command"] = previous["command"]  # the command that started the run
    elif _rank() == 0 and out.exists() and any(out.iterdir()):
        raise SpecError(out, None, "exists and holds no run.json: refusing to train into it")

    return _fit(record, spec, rows, kl_rows, out, previous)


def _check_same_run(previous: dict[str, Any], record: dict[str, Any], path: Path) -> None:
    for key in ("recipe", "seed", "data", "kl_data", "max_steps"):
        if _identity(previous.get(key)) != _identity(record[key]):
            raise SpecError(path, key, "the folder holds a different run; pick another --out")


def _identity(value: Any) -> Any:
    """What must match for a rerun to resume (a Hub download's local path may move)."""
    if isinstance(value, dict) and "manifest_sha256" in value:
        return {k: value[k] for k in ("config", "manifest_sha256", "revision")}
    return value


def _fit(record: dict[str, Any], spec: RegimeSpec, rows: Any, kl_rows: Any, out: Path,
         previous: dict[str, Any] | None) -> dict[str, Any]:
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    from .chat import encode_rows
    from .curves import CurvesCallback
    from .kl import KLTrainer, mean_kl

    base = record["recipe"]["model"]
    tokenizer = AutoTokenizer.from_pretrained(base["id"], revision=base["revision"])
    train_rows = encode_rows(rows, tokenizer, spec.training.max_length, record["data"]["config"])
    kl_data = encode_rows(kl_rows, tokenizer, spec.training.max_length, record["kl_data"]["config"]) if spec.kl else None

    out.mkdir(parents=True, exist_ok=True)
    checkpoints = out / CHECKPOINTS
    resume = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    record.update(
        chat_template_sha256=hashlib.sha256((tokenizer.chat_template or "").encode()).hexdigest(),
        versions=library_versions(),
        git=git_revision(),
        started_at=(previous or {}).get("started_at") or _now(),
        resumed_from=[*(previous or {}).get("resumed_from", []), *([Path(resume).name] if resume else [])],
    )
    cuda = torch.cuda.is_available()
    if _rank() == 0:
        write_run(out, record)

    set_seed(record["seed"])  # the adapter's initial weights come from this seed too
    model = AutoModelForCausalLM.from_pretrained(base["id"], revision=base["revision"],
                                                 dtype=getattr(torch, base["dtype"]),
                                                 attn_implementation=base["attn_implementation"])
    lora = spec.lora
    peft_config = LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, use_rslora=lora.rslora, lora_dropout=lora.dropout,
        target_modules=lora.target_modules, layers_to_transform=lora.layers,
        layers_pattern="layers" if lora.layers is not None else None,
        exclude_modules=lora.exclude_modules, bias="none", task_type="CAUSAL_LM",
    )
    training = spec.training
    args = SFTConfig(
        output_dir=str(checkpoints), seed=record["seed"], data_seed=record["seed"],
        learning_rate=training.learning_rate, num_train_epochs=training.epochs,
        max_steps=record["max_steps"] or -1,
        per_device_train_batch_size=training.per_device_batch_size,
        gradient_accumulation_steps=record["gradient_accumulation_steps"],
        warmup_steps=training.warmup_steps, weight_decay=training.weight_decay,
        lr_scheduler_type=training.lr_scheduler, max_length=training.max_length,
        gradient_checkpointing=training.gradient_checkpointing,
        save_strategy="steps", save_steps=training.save_steps, logging_steps=1, report_to="none",
        bf16=cuda and base["dtype"] == "bfloat16", fp16=cuda and base["dtype"] == "float16", use_cpu=not cuda,
    )
    title = f"{record['family']} {record['regime']} seed {record['seed']} on {record['data']['config']}"
    common = dict(model=model, args=args, train_dataset=train_rows, processing_class=tokenizer,
                  peft_config=peft_config, callbacks=[CurvesCallback(out, title)])
    if spec.kl:
        trainer = KLTrainer(**common, kl_dataset=kl_data, kl_weight=spec.kl.weight, kl_batch_size=spec.kl.batch_size)
    else:
        trainer = SFTTrainer(**common)
    result = trainer.train(resume_from_checkpoint=resume)

    if trainer.is_world_process_zero():
        peft_model = trainer.accelerator.unwrap_model(trainer.model)
        _save_adapter(peft_model, out / ADAPTER)
        record.update(status="finished", finished_at=_now(),
                      result={"global_step": trainer.state.global_step, "epoch": trainer.state.epoch,
                              "train_loss": result.training_loss})
        if spec.kl:
            record["result"]["kl_to_base"] = mean_kl(peft_model, kl_data, trainer.data_collator, spec.kl.batch_size)
        write_run(out, record)
    trainer.accelerator.wait_for_everyone()
    return record


def _save_adapter(model: Any, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    model.save_pretrained(staging)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)


def _rank() -> int:
    """This process's rank under ``accelerate launch`` (0 when alone)."""
    return int(os.environ.get("RANK", "0"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
