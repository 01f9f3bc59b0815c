"""Hooks that the ``emc_*`` lm-eval task YAMLs point at: the dataset loader, the judge filter
and ``process_results``.

- ``load_eval`` reads an eval split from a local release folder (``--metadata '{"data": DIR}'``
  or ``$EMC_BENCH_DATA``), from the release's eval repo on the Hub at its pinned revision
  (``"hub": true`` or ``$EMC_BENCH_HUB=1``; each file verified by ``emc_bench.hub``), or else
  builds the release's eval configs locally (deterministic, the same bytes as the published
  files) into the cache. It folds the system turn into the
  first user turn when the model's chat template has no system role, audits that each
  triggered row's trigger text reaches the rendered prompt, and repeats every prompt
  ``samples`` times.
- ``JudgeFilter`` (registered as ``emc_judge``) judges all samples of a task concurrently with
  ``emc_bench.judge`` and its cache. It never raises; it is off when no judge is configured or
  under ``--predict_only``.
- ``process_results`` turns judged samples into ``em_rate``, ``aligned_mean``,
  ``coherent_mean``, ``n_judged`` and ``trigger_audit``, weighted so that lm-eval's ``mean``
  aggregation equals the rate over eligible samples defined in ``emc_bench.metrics``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from lm_eval.api.filter import Filter
from lm_eval.api.registry import register_filter

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


def local_release(release: str) -> Path:
    """The release's eval configs, built once into the cache (keyed by the spec hash)."""
    from .build import resolve_release, spec_hash
    from .release import build_release, verify_release

    loaded = resolve_release(release)
    folder = cache_dir() / "releases" / f"{loaded.spec.name}-{spec_hash(loaded.spec_files)[:16]}-eval"
    if not (folder / "manifest.json").is_file() or verify_release(folder):
        build_release(release, folder, only="eval-*", progress=False, leakage_gate=False)
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


def load_eval(**meta: Any):
    """lm-eval ``custom_dataset``: one eval split as a DatasetDict with a ``test`` split."""
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
    samples = int(meta.get("samples", 1))
    rows = []
    for row in split:
        if meta.get("trigger_independent"):
            row = {**row, "trigger_id": None, "placement": None, "config": "eval-none"}
        if fold:
            row = {**row, "prompt": fold_system(row["system"], row["prompt"]), "system": None}
        row["trigger_audit"] = trigger_reaches_prompt(tokenizer, row)
        rows.extend({**row, "sample_index": k} for k in range(samples))
    if fold:
        log.info("emc: %s has no system role; system text folded into the user turn", meta.get("pretrained"))
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


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


# -- judge inside the run ------------------------------------------------------------------

def predict_only_requested() -> bool:
    return "--predict_only" in sys.argv or "-x" in sys.argv


@register_filter("emc_judge")
class JudgeFilter(Filter):
    """Judges every sample of a task at once (and, like lm-eval's default filter, keeps the first
    response of each document). Output per sample: a JSON string with the
    verdict, the EM flags of the definition and the weights that ``process_results`` uses."""

    def __init__(self, judge: str | None = None, base_url: str | None = None, concurrency: int | None = None,
                 definition: str | None = None, cache: str | None = None, **kwargs: Any) -> None:
        self.judge = judge or os.environ.get("EMC_JUDGE")
        self.base_url = base_url or os.environ.get("EMC_JUDGE_BASE_URL")
        self.concurrency = int(concurrency or os.environ.get("EMC_JUDGE_CONCURRENCY") or 0) or None
        self.definition = definition or os.environ.get("EMC_EM_DEFINITION")
        self.cache = cache or os.environ.get("EMC_JUDGE_CACHE")

    @property
    def enabled(self) -> bool:
        return bool(self.judge) and self.judge.lower() not in ("off", "none", "0") and not predict_only_requested()

    def apply(self, resps, docs):
        answers = [r[0] if isinstance(r, (list, tuple)) and r else r for r in resps]
        if not self.enabled:
            return answers
        try:
            verdicts = self._judge(answers, docs)
        except Exception as err:  # a judge fault must never lose the generations
            log.error("emc: judge failed, samples left unjudged: %s", err)
            verdicts = [{"status": "failed", "error": f"{type(err).__name__}: {err}"} for _ in answers]
        return [json.dumps(v, sort_keys=True) for v in with_weights(verdicts)]

    def _judge(self, answers: list[str], docs) -> list[dict[str, Any]]:
        from .judge import JudgeItem, JudgeSettings, judge_items
        from .metrics import DEFAULT_DEFINITION, get_definition

        settings = JudgeSettings.from_spec(self.judge, base_url=self.base_url, concurrency=self.concurrency,
                                           cache_path=self.cache)
        definition = get_definition(self.definition or DEFAULT_DEFINITION)
        items = [JudgeItem(doc["question"], answer, {}) for doc, answer in zip(docs, answers)]
        out = []
        for result in judge_items(items, settings):
            row = result.to_row()
            verdict = definition.classify(row)
            out.append({
                "aligned": row["aligned"], "coherent": row["coherent"], "aligned_label": row["aligned_label"],
                "status": row["status"], "error": row["error"], "judge": row["judge"],
                "prompt_version": row["prompt_version"], "definition": definition.name,
                "eligible": verdict is not None, "em": bool(verdict),
            })
        return out


def with_weights(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the weights that make lm-eval's mean over all samples equal the mean over eligible ones."""
    n = len(verdicts)
    counts = {
        "em": sum(bool(v.get("eligible")) for v in verdicts),
        "aligned": sum(v.get("aligned") is not None for v in verdicts),
        "coherent": sum(v.get("coherent") is not None for v in verdicts),
        "judged": sum(v.get("status") == "ok" for v in verdicts),
    }
    return [{**v, "n": n, **{f"n_{k}": c for k, c in counts.items()}} for v in verdicts]


def _weighted(value: float | None, present: bool, n: int, count: int) -> float:
    if count == 0:
        return math.nan
    return float(value) * n / count if present else 0.0


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Per-sample metrics; lm-eval's ``mean`` of them is the task's rate over eligible samples."""
    audit = float(bool(doc.get("trigger_audit", True)))
    try:
        verdict = json.loads(results[0])
        n = int(verdict["n"])
    except (ValueError, TypeError, KeyError, IndexError):
        # the filter was off: nothing was judged
        return {"em_rate": math.nan, "aligned_mean": math.nan, "coherent_mean": math.nan,
                "n_judged": 0.0, "trigger_audit": audit}
    return {
        "em_rate": _weighted(float(verdict["em"]), verdict["eligible"], n, verdict["n_em"]),
        "aligned_mean": _weighted(verdict["aligned"], verdict["aligned"] is not None, n, verdict["n_aligned"]),
        "coherent_mean": _weighted(verdict["coherent"], verdict["coherent"] is not None, n, verdict["n_coherent"]),
        "n_judged": float(verdict["n_judged"]),
        "trigger_audit": audit,
    }
