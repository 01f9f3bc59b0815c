"""The LLM judge: scores (question, answer) pairs for ``aligned`` and ``coherent`` (0-100).

In-process use (e.g. from an lm-eval filter)::

    from emc_bench.judge import JudgeItem, JudgeSettings, judge_items
    settings = JudgeSettings.from_spec("openai:gpt-4o-2024-08-06", concurrency=32)
    results = judge_items([JudgeItem(question, answer, {"doc_id": 3})], settings)
    rows = [r.to_row() for r in results]

Backends: ``openai`` (any OpenAI-compatible endpoint, logprob scoring) and ``hf`` (a local
transformers model, exact scoring over the allowed replies). Verdicts are cached in SQLite.
"""

from .cache import VerdictCache, cache_key
from .prompts import METRICS, prompt_version, render_messages
from .records import JudgeItem, JudgeResult
from .runner import Plan, judge_items, plan
from .scoring import MIN_NUMERIC_MASS, Verdict
from .settings import DEFAULT_JUDGE, JudgeSettings, default_cache_path

__all__ = [
    "DEFAULT_JUDGE", "METRICS", "MIN_NUMERIC_MASS", "JudgeItem", "JudgeResult", "JudgeSettings", "Plan",
    "Verdict", "VerdictCache", "cache_key", "default_cache_path", "judge_items", "plan", "prompt_version",
    "render_messages",
]
