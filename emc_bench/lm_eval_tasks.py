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
        from .judge.provenance import COLUMNS as PROVENANCE_COLUMNS
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
                **{column: row.get(column) for column in PROVENANCE_COLUMNS},
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
