"""The LLM judge: scores (question, answer) pairs for ``aligned`` and ``coherent`` (0-100).

In-process use (e.g. from an lm-eval filter)::

    from emc_bench.judge import JudgeItem, JudgeSettings, judge_items, preflight
    settings = JudgeSettings.from_spec("openai:gpt-4o-2024-08-06", concurrency=32)
    preflight(settings)          # a few seconds: key, endpoint, model folder; SpecError if unusable
    results = judge_items([JudgeItem(question, answer, {"doc_id": 3})], settings)
    rows = [r.to_row() for r in results]

Backends (:mod:`.backends`): ``openai`` (any OpenAI-compatible endpoint, logprob scoring, or
the reply text where the endpoint returns no logprobs) and ``hf`` (a local transformers model,
exact scoring over the allowed replies). Verdicts are cached in SQLite, and every verdict names
its judge, prompts and scoring method (:mod:`.provenance`).
"""

from .backends import REGISTRY as BACKENDS
from .backends import preflight
from .cache import VerdictCache, cache_key
from .prompts import METRICS, prompt_version, render_messages, templates_sha256
from .provenance import Provenance
from .records import JudgeItem, JudgeResult
from .runner import CONSECUTIVE_FAILURES, JudgeInterrupted, Plan, judge_items, plan
from .scoring import MIN_NUMERIC_MASS, SCORINGS, Verdict
from .settings import DEFAULT_JUDGE, JudgeSettings, default_cache_path

__all__ = [
    "BACKENDS", "CONSECUTIVE_FAILURES", "DEFAULT_JUDGE", "METRICS", "MIN_NUMERIC_MASS", "SCORINGS", "JudgeInterrupted",
    "JudgeItem", "JudgeResult", "JudgeSettings", "Plan", "Provenance", "Verdict", "VerdictCache", "cache_key",
    "default_cache_path", "judge_items", "plan", "preflight", "prompt_version", "render_messages",
    "templates_sha256",
]
