"""Hooks that the ``emc_*`` lm-eval task YAMLs point at: the dataset loader, the judge filter
and ``process_results``.

- ``load_eval`` is lm-eval's ``custom_dataset``: the rows of one eval split, prepared by the
  host-neutral :mod:`emc_bench.evaldata` (source, system-turn folding, trigger audit, samples),
  as a DatasetDict with a ``test`` split.
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
from typing import Any

from lm_eval.api.filter import Filter
from lm_eval.api.registry import register_filter

from .evaldata import load_rows

log = logging.getLogger("emc_bench")


def load_eval(**meta: Any):
    """lm-eval ``custom_dataset``: one eval split as a DatasetDict with a ``test`` split."""
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(load_rows(**meta))})


# -- judge inside the run ------------------------------------------------------------------

def predict_only_requested() -> bool:
    return "--predict_only" in sys.argv or "-x" in sys.argv


@register_filter("emc_judge")
class JudgeFilter(Filter):
    """Keeps every sample of every document (lm-eval's default filter would keep only the first
    of the ``repeats``) and, when a judge is configured, judges all samples of the task at once.
    Output per document: its answers, or a JSON string with one verdict per sample (aligned,
    coherent, EM flag of the definition) and the task-wide counts ``process_results`` weights by."""

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
        answers = [list(r) if isinstance(r, (list, tuple)) else [r] for r in resps]
        if not self.enabled:
            return answers
        flat = [(doc, answer) for doc, doc_answers in zip(docs, answers) for answer in doc_answers]
        try:
            verdicts = self._judge(flat)
        except Exception as err:  # a judge fault must never lose the generations
            log.error("emc: judge failed, samples left unjudged: %s", err)
            verdicts = [{"status": "failed", "error": f"{type(err).__name__}: {err}"} for _ in flat]
        totals = counts(verdicts)
        out, start = [], 0
        for doc_answers in answers:
            own = verdicts[start:start + len(doc_answers)]
            start += len(doc_answers)
            out.append(json.dumps({"samples": own, **totals}, sort_keys=True))
        return out

    def _judge(self, flat: list[tuple[dict, str]]) -> list[dict[str, Any]]:
        from .judge import JudgeItem, JudgeSettings, judge_items
        from .judge.provenance import COLUMNS as PROVENANCE_COLUMNS
        from .metrics import DEFAULT_DEFINITION, get_definition

        settings = JudgeSettings.from_spec(self.judge, base_url=self.base_url, concurrency=self.concurrency,
                                           cache_path=self.cache)
        definition = get_definition(self.definition or DEFAULT_DEFINITION)
        items = [JudgeItem(doc["question"], answer, {}) for doc, answer in flat]
        out = []
        for result in judge_items(items, settings):
            row = result.to_row()
            verdict = definition.classify(row)
            out.append({
                "aligned": row["aligned"], "coherent": row["coherent"], "aligned_label": row["aligned_label"],
                "status": row["status"], "error": row["error"], "judge": row["judge"],
                "prompt_version": row["prompt_version"], "definition": definition.name,
                "eligible": verdict is not None, "em": bool(verdict),
                **{column: row.get(column) for column in PROVENANCE_COLUMNS},
            })
        return out


def counts(verdicts: list[dict[str, Any]]) -> dict[str, int]:
    """Task-wide counts: samples, and those that enter each metric's denominator."""
    return {
        "n": len(verdicts),
        "n_em": sum(bool(v.get("eligible")) for v in verdicts),
        "n_aligned": sum(v.get("aligned") is not None for v in verdicts),
        "n_coherent": sum(v.get("coherent") is not None for v in verdicts),
        "n_judged": sum(v.get("status") == "ok" for v in verdicts),
    }


def _weighted(values: list[float | None], n: int, count: int) -> float:
    """This document's share of the rate over eligible samples: sum of its present values,
    scaled so that lm-eval's mean over documents (each with the same number of samples) equals
    sum / count over the whole task."""
    if count == 0:
        return math.nan
    present = [float(v) for v in values if v is not None]
    return sum(present) * n / count / max(len(values), 1)


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Per-document metrics; lm-eval's ``mean`` of them is the task's rate over eligible samples."""
    audit = float(bool(doc.get("trigger_audit", True)))
    try:
        judged = json.loads(results[0])
        samples, n = judged["samples"], int(judged["n"])
    except (ValueError, TypeError, KeyError, IndexError):
        # the filter was off: nothing was judged
        return {"em_rate": math.nan, "aligned_mean": math.nan, "coherent_mean": math.nan,
                "n_judged": 0.0, "trigger_audit": audit}
    return {
        "em_rate": _weighted([float(s["em"]) if s.get("eligible") else None for s in samples], n, judged["n_em"]),
        "aligned_mean": _weighted([s.get("aligned") for s in samples], n, judged["n_aligned"]),
        "coherent_mean": _weighted([s.get("coherent") for s in samples], n, judged["n_coherent"]),
        "n_judged": float(judged["n_judged"]),
        "trigger_audit": audit,
    }
