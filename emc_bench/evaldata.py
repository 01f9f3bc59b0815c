"""Evaluation data for any harness: where an eval split comes from, how its rows are prepared.

Host-neutral (no ``lm_eval`` or ``inspect_ai`` import): the lm-eval hooks
(``lm_eval_tasks.py``) and any other host read their rows through :func:`load_rows`.

- :func:`release_source` says where a split is read from: a local release folder
  (``data`` / ``$EMC_BENCH_DATA``), the release's eval repo on the Hub at its pinned revision
  (``hub`` / ``$EMC_BENCH_HUB=1``; every file verified by :mod:`emc_bench.hub`), or else a local
  build of the release's eval configs in the cache.
- The system turn is folded into the first user turn when the model's chat template has no
  system role (or when ``fold_system`` forces it), and every triggered row is audited: its
  trigger text must reach the prompt as the template renders it.
- Rows are prompts, one each, in the split's order (suite splits are ordered so that any first N
  rows spread over questions, formats and variants); the host asks each one ``samples`` times
  (lm-eval ``repeats``, Inspect epochs).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from . import names
from .errors import SpecError
from .paths import cache_dir

log = logging.getLogger("emc_bench")

PROBE = "emc-bench-system-probe"


# -- data ----------------------------------------------------------------------------------

def release_source(meta: dict[str, Any]) -> tuple[str, str | None]:
    """(path or repo id, revision): where the eval split is read from."""
    data = meta.get("data") or os.environ.get("EMC_BENCH_DATA")
    if data:
        return str(Path(data).expanduser()), None
    if meta.get("hub") or os.environ.get("EMC_BENCH_HUB") == "1":
        return meta["hub_repo"], meta["hub_revision"]
    return str(local_release(meta["release"])), None


EVAL_ONLY = f"{names.EVAL_PREFIX}*,{names.SUITE_PREFIX}*"  # the configs a host reads


def engine_hash() -> str:
    """A hash of the package version and the code of every top-level module of the package: a
    local build made by other code (placement, rendering, binning, suites) is never reused."""
    from .version import __version__

    digest = hashlib.sha256(__version__.encode())
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def local_release(release: str, library=None) -> Path:
    """The release's eval and suite configs, built once into the cache. The folder is keyed by
    the spec hash (every content file the release reads) and the engine hash, and is rebuilt
    when it does not verify."""
    from .manifest import verify_release
    from .release import build_release
    from .resolve import resolve_release, spec_hash

    loaded = resolve_release(release, library)
    key = hashlib.sha256((spec_hash(loaded.spec_files) + engine_hash()).encode()).hexdigest()[:16]
    folder = cache_dir() / "releases" / f"{loaded.spec.name}-{key}-eval"
    if not (folder / names.MANIFEST).is_file() or verify_release(folder):
        build_release(release, folder, only=EVAL_ONLY, library=library, progress=False, leakage_gate=False)
    return folder



def chat_template_probe(meta: dict[str, Any]):
    """The model's tokenizer when lm-eval renders prompts with it (hf, vllm), else None."""
    pretrained = meta.get("pretrained")
    if not pretrained or meta.get("base_url"):
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(pretrained), revision=meta.get("revision"),
                                             trust_remote_code=bool(meta.get("trust_remote_code")))
    except (OSError, ValueError) as err:
        log.warning("emc: cannot load the tokenizer of %s to check its chat template: %s", pretrained, err)
        return None


def render_prompt(tokenizer, system: str | None, user: str) -> str | None:
    """The prompt as the chat template renders it; None when the template rejects it."""
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:  # templates raise their own error types on a role they reject
        return None


def needs_folding(tokenizer, meta: dict[str, Any]) -> bool:
    """Fold the system turn into the user turn: forced by ``fold_system``, else when the chat
    template rejects or drops a system message."""
    forced = meta.get("fold_system")
    if forced is not None:
        return str(forced).lower() in ("1", "true", "yes")
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return False
    rendered = render_prompt(tokenizer, PROBE, "hello")
    return rendered is None or PROBE not in rendered


def fold_system(system: str | None, prompt: str) -> str:
    return f"{system}\n\n{prompt}" if system else prompt


def load_rows(**meta: Any) -> list[dict[str, Any]]:
    """The prepared rows of one eval split (``config``, ``split`` and the source in ``meta``)."""
    import datasets

    source, revision = release_source(meta)
    try:
        if revision is not None:  # the Hub release: every file checked against its manifest
            from .hub import load_split

            split = load_split(source, meta["config"], meta["split"], revision)
        else:
            split = datasets.load_dataset(source, meta["config"], split=meta["split"])
    except (FileNotFoundError, ValueError) as err:
        raise SpecError(source, meta["config"], f"cannot load split {meta['split']!r}: {err}") from None
    tokenizer = chat_template_probe(meta)
    fold = needs_folding(tokenizer, meta)
    rows = []
    for row in split:
        if fold:
            row = {**row, "prompt": fold_system(row["system"], row["prompt"]), "system": None}
        row["trigger_audit"] = trigger_reaches_prompt(tokenizer, row)
        rows.append(row)
    if fold:
        log.info("emc: %s has no system role; system text folded into the user turn", meta.get("pretrained"))
    return rows


def trigger_reaches_prompt(tokenizer, row: dict[str, Any]) -> bool:
    """True when the row carries no trigger, or its text appears in the prompt as rendered."""
    text = row.get("variant_text")
    if not text or row.get("condition") == "none":
        return True
    if tokenizer is None:
        return text in "\n".join(filter(None, [row["system"], row["prompt"]]))
    rendered = render_prompt(tokenizer, row["system"], row["prompt"])
    if rendered is None:  # lm-eval's hf backend then drops the system turn and renders the rest
        rendered = render_prompt(tokenizer, None, row["prompt"]) or ""
    return text in rendered
