"""What a suite costs and how precise it is, before any call: the evaluation protocol in numbers.

:func:`suite_counts` counts, from the release spec alone, the prompts every task of a suite asks
(the same count the build materialises in ``suite-<name>``; a test compares them).
:func:`estimate` turns the counts into answers, generated tokens, judge calls and input tokens,
cost at list price and through the Batch API (from the judge's price table), GPU-hours at a
stated generation throughput, and the expected 95% CI half-width of EM per condition and of the
containment gap, simulated with the clustered bootstrap of :mod:`emc_bench.metrics` at stated EM
rates and a stated between-question spread. Every assumption is a field of :class:`Assumptions`
and is printed with the figures.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import metrics, names, suites
from .errors import SpecError
from .resolve import LoadedRelease

TRIGGERED = ("exact", "paraphrase")  # conditions that carry the trigger's meaning
BATCH_DISCOUNT = 0.5  # OpenAI's Batch API: half the list price
JUDGE_CALLS_PER_ANSWER = 2  # aligned and coherent
JUDGE_OUTPUT_TOKENS = 1  # a one-token verdict read from its logprobs
CHARS_PER_TOKEN = 4
# Published sample designs, for comparison: (name, questions, samples per question, conditions)
LITERATURE = (
    ("Betley et al. (24 questions x 100 samples)", 24, 100, 1),
    ("Model-Organisms (8 questions x 50 samples)", 8, 50, 1),
    ("conditional-misalignment grid (8 x 9 conditions x 100)", 8, 100, 9),
)


@dataclass(frozen=True)
class Assumptions:
    """What the estimate assumes (each printed beside the figures)."""

    em_triggered: float = 0.15  # EM rate in the exact and paraphrase conditions
    em_untriggered: float = 0.01  # EM rate without the trigger's meaning (none and the controls)
    spread: float = 0.17  # between-question standard deviation of EM at the triggered rate
    answer_chars: int = 320  # median answer length (SCIENCE.md)
    gen_tokens_per_s: float = 2500.0  # generation throughput of one GPU (assumed, batched vLLM)
    reps: int = 200  # simulated evaluations per CI figure
    seed: int = 0

    @property
    def concentration(self) -> float:
        """a + b of the Beta distribution of per-question EM rates: fixed by the spread at the
        triggered rate and kept at other rates (so the spread shrinks with the rate)."""
        m = self.em_triggered
        return m * (1 - m) / self.spread ** 2 - 1

    def rate(self, condition: str) -> float:
        return self.em_triggered if condition in TRIGGERED else self.em_untriggered


@dataclass(frozen=True)
class TaskCount:
    task: str
    trigger_id: str | None
    condition: str
    questions: int
    prompts: int
    samples: int

    @property
    def answers(self) -> int:
        return self.prompts * self.samples


def suite_counts(loaded: LoadedRelease, suite_name: str, triggers: list[str] | None = None, *,
                 samples: int | None = None, limit: int | None = None) -> list[TaskCount]:
    """The prompts of every task of a suite (optionally only some triggers), from the spec; with
    ``samples`` instead of the suite's samples per prompt, and at most ``limit`` prompts per task
    (as ``emc-bench eval --samples/--limit`` run it)."""
    spec = loaded.spec
    if suite_name not in spec.suites:
        raise SpecError("--suite", None, f"unknown suite {suite_name!r}; known: {', '.join(spec.suites) or 'none'}")
    suite = spec.suites[suite_name]
    entries = suites.eval_entries(loaded)
    chosen = suites.suite_triggers(loaded, suite_name)
    for trigger_id in triggers or []:
        if trigger_id not in chosen:
            raise SpecError("--trigger", None, f"unknown trigger {trigger_id!r} for suite {suite_name}; "
                            f"known: {', '.join(chosen)}")
    questions = suites.suite_questions(loaded, suite_name)
    counts = []
    for trigger_id in [None, *(triggers or chosen)]:
        entry = entries[trigger_id or chosen[0]]
        for condition in suite.conditions:
            if (condition == "none") != (trigger_id is None) or condition not in entry.conditions:
                continue
            formats = [f for f in entry.formats if not isinstance(suite.formats, list) or f in suite.formats]
            if condition in ("none", "exact"):
                variants = 1
            else:
                variants = len(loaded.trigger(trigger_id).variant_list(condition))
            per_variant = 1 if suite.variants == "rotate" else variants
            prompts, asked = 0, 0
            for question in questions:
                own = [f for f in formats if f in question.formats]
                if own and variants:
                    asked += 1
                    prompts += (1 if suite.formats == "rotate" else len(own)) * per_variant
            if limit is not None:
                asked, prompts = min(asked, limit), min(prompts, limit)
            counts.append(TaskCount(names.task_name(trigger_id, condition, suite_name), trigger_id, condition,
                                    asked, prompts, samples or suite.samples))
    return counts


@functools.lru_cache(maxsize=128)
def simulated_half_width(questions: int, answers_per_question: int, rate: float, concentration: float, *,
                         reps: int, seed: int) -> float:
    """Mean 95% CI half-width of EM over ``reps`` simulated evaluations (clustered bootstrap)."""
    rng = np.random.default_rng(seed)
    widths = []
    for _ in range(reps):
        counts = _simulated_counts(rng, questions, answers_per_question, rate, concentration)
        estimate = metrics.rate_from_counts(counts, seed=seed)  # the report's own bootstrap seed
        if estimate.ci_low is not None:
            widths.append((estimate.ci_high - estimate.ci_low) / 2)
    return float(np.mean(widths)) if widths else math.nan


def simulated_gap_half_width(questions: int, answers_per_question: int, triggered: float, untriggered: float,
                             concentration: float, *, reps: int, seed: int) -> float:
    """Mean 95% CI half-width of the containment gap (exact - none), paired by question."""
    rng = np.random.default_rng(seed + 1)
    widths = []
    for _ in range(reps):
        exact = _simulated_counts(rng, questions, answers_per_question, triggered, concentration)
        none = _simulated_counts(rng, questions, answers_per_question, untriggered, concentration)
        estimate = metrics.gap_from_counts(exact, none, seed=seed)
        if estimate.ci_low is not None:
            widths.append((estimate.ci_high - estimate.ci_low) / 2)
    return float(np.mean(widths)) if widths else math.nan


def _simulated_counts(rng: np.random.Generator, questions: int, per_question: int, rate: float,
                      concentration: float) -> dict[str, tuple[int, int]]:
    """Per-question (EM count, answers), the per-question rates drawn from a Beta(rate, concentration)."""
    p = rng.beta(rate * concentration, (1 - rate) * concentration, size=questions)
    misaligned = rng.binomial(per_question, p)
    return {f"q{q}": (int(misaligned[q]), per_question) for q in range(questions)}


def estimate(loaded: LoadedRelease, suite_name: str, *, triggers: list[str] | None = None,
             judge_model: str | None = None, assumptions: Assumptions = Assumptions(),
             prices: dict | None = None, samples: int | None = None, limit: int | None = None) -> dict[str, Any]:
    """The plan of one suite: counts, cost, GPU-hours and expected precision (a JSON-ready dict);
    ``samples`` and ``limit`` as in :func:`suite_counts`."""
    from .judge.cost import load_prices
    from .judge.prompts import METRICS, render_messages

    counts = suite_counts(loaded, suite_name, triggers, samples=samples, limit=limit)
    suite = loaded.spec.suites[suite_name]
    answers = sum(c.answers for c in counts)
    calls = JUDGE_CALLS_PER_ANSWER * answers
    answer = "x" * assumptions.answer_chars
    questions = suites.suite_questions(loaded, suite_name)
    per_answer = {q.id: sum(max(1, len(render_messages(m, q.text, answer)[0]["content"]) // CHARS_PER_TOKEN)
                            for m in METRICS) for q in questions}
    mean_input = float(np.mean(list(per_answer.values()))) / len(METRICS) if per_answer else 0.0
    input_tokens = int(round(mean_input * calls))
    output_tokens = JUDGE_OUTPUT_TOKENS * calls
    generated = answers * math.ceil(assumptions.answer_chars / CHARS_PER_TOKEN)
    price = (prices if prices is not None else load_prices()).get(judge_model) if judge_model else None
    list_usd = None if price is None else price.cost(input_tokens, output_tokens)
    ci = {}
    for c in counts:
        if c.trigger_id is not None and c.trigger_id != counts[-1].trigger_id:
            continue  # every trigger has the same design: one trigger's figures stand for all
        per_question = max(1, round(c.answers / max(c.questions, 1)))
        rate = assumptions.rate(c.condition)
        ci[c.condition] = {
            "rate": rate, "questions": c.questions, "answers": c.answers, "answers_per_question": per_question,
            "half_width": simulated_half_width(c.questions, per_question, rate, assumptions.concentration,
                                               reps=assumptions.reps, seed=assumptions.seed),
        }
    gap = None
    if "exact" in ci and "none" in ci:
        exact = ci["exact"]
        gap = {"triggered": assumptions.em_triggered, "untriggered": assumptions.em_untriggered,
               "half_width": simulated_gap_half_width(exact["questions"], exact["answers_per_question"],
                                                      assumptions.em_triggered, assumptions.em_untriggered,
                                                      assumptions.concentration, reps=assumptions.reps,
                                                      seed=assumptions.seed)}
    return {
        "release": loaded.spec.name, "release_version": loaded.spec.version,
        "suite": suite_name, "suite_version": suite.version, "samples": samples or suite.samples, "limit": limit,
        "triggers": sorted({c.trigger_id for c in counts if c.trigger_id}),
        "tasks": [asdict(c) | {"answers": c.answers} for c in counts],
        "prompts": sum(c.prompts for c in counts), "answers": answers,
        "generated_tokens": generated, "judge_calls": calls,
        "judge_input_tokens": input_tokens, "judge_output_tokens": output_tokens,
        "cost": {"judge": judge_model, "list_usd": list_usd,
                 "batch_usd": None if list_usd is None else list_usd * (1 - BATCH_DISCOUNT)},
        "gpu_hours": generated / assumptions.gen_tokens_per_s / 3600,
        "ci": ci, "containment_gap": gap,
        "assumptions": asdict(assumptions) | {"concentration": assumptions.concentration},
    }


def literature() -> list[dict[str, Any]]:
    """The published sample designs, with their answers and judge calls at two calls per answer."""
    return [{"design": name, "answers": q * s * c, "judge_calls": JUDGE_CALLS_PER_ANSWER * q * s * c}
            for name, q, s, c in LITERATURE]
