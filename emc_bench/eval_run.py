"""One evaluation run folder: its run record and the lm-eval command that generates its answers.

``OUT/run.json`` records what the generations depend on: the model (backend, id, revision, a
fingerprint of a local folder), the adapter (path, sha256, LoRA rank), every generation setting,
the suite and its version, the triggers and tasks, the release and the sha256 of its manifest,
the backend options and the emc-bench version, plus the exact command line. A rerun reuses
generations only when every one of those fields matches (:func:`check_same`); the judge, the EM
definition and the concurrency are not part of it, because judging reads finished generations.

``lm_eval_argv`` builds lm-eval's command line for the ``hf`` and ``vllm`` backends. With vLLM,
samples come from lm-eval's request ``repeats`` (never vLLM's ``n``, of which lm-eval keeps only
the first output); LoRA adapters go through ``lora_local_path`` with ``max_lora_rank`` read from
the adapter (lm-eval's default of 16 fails an r=32 adapter); prefix caching is on, so the
repeats of a prompt share its prefill; one engine seed, no per-request seed, so the samples of a
prompt are independent draws.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from .version import __version__
from .errors import SpecError
from .manifest import sha256_file

RUN_JSON = "run.json"
BACKENDS = ("hf", "vllm")
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts
VLLM_SEED = 1234  # one engine seed; requests carry none, so repeats are independent samples
# Fields of the run record a rerun must match to reuse generations.
IDENTITY = ("model", "adapter", "generation", "suite", "triggers", "tasks", "release", "backend_options",
            "emc_bench_version")


def parse_model(spec: str) -> tuple[str, str]:
    """``hf:ID`` or ``vllm:ID`` -> (backend, id)."""
    backend, sep, model = spec.partition(":")
    if not sep or backend not in BACKENDS or not model:
        raise SpecError("--model", None, f"{spec!r}: expected hf:PATH_OR_ID or vllm:PATH_OR_ID")
    return backend, model


def folder_fingerprint(folder: Path) -> str:
    """A sha256 over a local model folder: every file's name and size, and the bytes of its small
    files (configs, tokenizer, index); the weights are named by size, not read (gigabytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        if size <= 1 << 20:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def model_record(spec: str, revision: str | None) -> dict[str, Any]:
    backend, model = parse_model(spec)
    local = Path(model).expanduser()
    if local.is_dir():
        return {"backend": backend, "id": str(local.resolve()), "revision": None,
                "fingerprint": folder_fingerprint(local)}
    if model.startswith((".", "/", "~")):
        raise SpecError("--model", None, f"{model!r} is not a folder")
    return {"backend": backend, "id": model, "revision": revision or "main", "fingerprint": None}


def adapter_record(peft: str | None) -> dict[str, Any] | None:
    """The adapter: local folder with its weights' sha256 and LoRA rank, or a Hub id."""
    if not peft:
        return None
    folder = Path(peft).expanduser()
    if not folder.is_dir():
        if peft.startswith((".", "/", "~")):
            raise SpecError("--peft", None, f"{peft!r} is not a folder")
        return {"path": peft, "sha256": None, "rank": None}
    weights, config = folder / ADAPTER_WEIGHTS, folder / ADAPTER_CONFIG
    for path in (weights, config):
        if not path.is_file():
            raise SpecError(path, None, "missing: --peft must be a LoRA adapter folder (peft save_pretrained)")
    try:
        rank = int(json.loads(config.read_text(encoding="utf-8"))["r"])
    except (ValueError, KeyError, TypeError) as err:
        raise SpecError(config, "r", f"no readable LoRA rank ({type(err).__name__})") from None
    return {"path": str(folder.resolve()), "sha256": sha256_file(weights), "rank": rank}


def vllm_lora_rank(adapter: dict[str, Any]) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's rank."""
    for allowed in VLLM_LORA_RANKS:
        if adapter["rank"] <= allowed:
            return allowed
    raise SpecError("--peft", "r", f"LoRA rank {adapter['rank']} is above vLLM's largest max_lora_rank "
                    f"{VLLM_LORA_RANKS[-1]}")


def model_args(record: dict[str, Any], extra: list[str]) -> str:
    """lm-eval's ``--model_args`` for the run's backend."""
    model, adapter, options = record["model"], record["adapter"], record["backend_options"]
    args = [f"pretrained={model['id']}"]
    if model["revision"]:
        args.append(f"revision={model['revision']}")
    if model["backend"] == "hf":
        if adapter:
            args.append(f"peft={adapter['path']}")
    else:
        args += ["enable_prefix_caching=True", f"seed={VLLM_SEED}",
                 f"tensor_parallel_size={options['tensor_parallel_size']}",
                 f"data_parallel_size={options['data_parallel_size']}"]
        if adapter:
            if adapter["sha256"] is None:
                raise SpecError("--peft", None, "vLLM loads adapters from a local folder "
                                "(lora_local_path): download the adapter first")
            args += [f"lora_local_path={adapter['path']}", f"max_lora_rank={vllm_lora_rank(adapter)}"]
    for item in extra:
        if "=" not in item:
            raise SpecError("--model-arg", None, f"{item!r} is not KEY=VALUE")
    return ",".join([*args, *extra])


def lm_eval_argv(record: dict[str, Any], extra_model_args: list[str], tasks_dir: Path, tasks: list[str],
                 output: Path, data: Path) -> list[str]:
    """The lm-eval command (this Python) that writes the samples of ``tasks`` under ``output``."""
    argv = [sys.executable, "-m", "lm_eval", "--model", record["model"]["backend"],
            "--model_args", model_args(record, extra_model_args), "--include_path", str(tasks_dir),
            "--tasks", ",".join(tasks), "--apply_chat_template", "--log_samples", "--predict_only",
            "--output_path", str(output), "--metadata", json.dumps({"data": str(data)})]
    if record["generation"]["limit"]:
        argv += ["--limit", str(record["generation"]["limit"])]
    return argv


def new_record(*, model: dict, adapter: dict | None, generation: dict, suite: dict, triggers: list[str],
               tasks: list[str], release: dict, backend_options: dict, argv: list[str]) -> dict[str, Any]:
    return {"model": model, "adapter": adapter, "generation": generation, "suite": suite, "triggers": triggers,
            "tasks": tasks, "release": release, "backend_options": backend_options,
            "emc_bench_version": __version__, "command": list(argv)}


def read_record(out: Path) -> dict[str, Any] | None:
    path = Path(out) / RUN_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise SpecError(path, None, f"not a run record ({err}); use --fresh or another --out") from None


def check_same(previous: dict[str, Any], record: dict[str, Any], path: Path) -> None:
    """SpecError naming the first field in which ``record`` differs from the run in the folder."""
    for key in IDENTITY:
        old, new = previous.get(key), record.get(key)
        if old != new:
            detail = _first_difference(old, new, key)
            raise SpecError(path, detail, "differs from the run already in this folder "
                            "(its generations belong to that run): pass --fresh to start over, or another --out")


def _first_difference(old: Any, new: Any, where: str) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}.{key}")
    return where
