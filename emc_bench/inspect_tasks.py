"""emc-bench as Inspect AI tasks: ``inspect eval emc_bench/emc --model PROVIDER/MODEL``.

Inspect loads this module through the package's ``inspect_ai`` entry point (nothing else imports
it, so ``import emc_bench`` never imports Inspect). It registers:

- the task ``emc_bench/emc``: every prompt of a suite's splits (``-T suite=standard|core|full``;
  one split per lm-eval task, ``none`` and ``<trigger>_<condition>``), read and prepared by
  :mod:`emc_bench.evaldata` as the lm-eval tasks read them (the same rows, system-turn folding
  and trigger audit), asked ``samples`` times as Inspect epochs with the release's generation
  settings (max tokens, temperature, top_p). Other ``-T`` parameters choose the triggers,
  conditions, the data, a per-split limit and the judge;
- the scorer ``emc_bench/emc_judge``: the emc judge (:func:`emc_bench.judge.judge_items`, with
  its backends, prompt version and cache). Answers that finish together are judged in one batch
  in a worker thread; each score keeps the judge's verdict and provenance;
- metrics over every answer (each epoch an observation): EM per condition under the named EM
  definition with its clustered 95% CI, the containment gap, the trigger audit and the judged
  counts, all computed by :mod:`emc_bench.metrics` from the same rows ``emc-bench judge`` writes
  for the log, so the log and ``emc-bench report`` give the same figures.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Sequence

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig
from inspect_ai.scorer import SampleScore, Score, Target, metric, scorer
from inspect_ai.solver import TaskState, generate

from . import metrics as emc_metrics
from . import names
from .errors import SpecError
from .evaldata import load_rows, local_release
from .judge import JudgeItem, JudgeResult, JudgeSettings, judge_items, prompt_version
from .judge.inputs import INSPECT_SCORER, inspect_item, inspect_order, message_text
from .judge.records import VERDICT_COLUMNS
from .judge.settings import DEFAULT_JUDGE
from .library import Library
from .resolve import resolve_release
from .specs import CONDITIONS
from .task_files import TASK_VERSION, task_metadata

NO_JUDGE = ("none", "off", "")
LOCAL_PROVIDERS = ("hf", "vllm", "sglang")  # providers that render prompts with the model's own chat template
BATCH_WAIT_S = 0.05  # how long the first answer of a batch waits for others before the batch is judged


# -- the tasks -----------------------------------------------------------------------------------

@task
def emc(suite: str = names.DEFAULT_SUITE, trigger: str | list[str] | None = None,
        condition: str | list[str] | None = None, data: str | None = None, hub: bool = False,
        release: str = "v1", builders: str | None = None, limit: int | None = None, samples: int | None = None,
        max_tokens: int | None = None, fold_system: bool | None = None, tokenizer: str | None = None,
        judge: str | None = DEFAULT_JUDGE, judge_base_url: str | None = None, judge_concurrency: int | None = None,
        judge_cache: str | None = None, definition: str = emc_metrics.DEFAULT_DEFINITION) -> Task:
    """One suite of emc-bench (default: standard) as an Inspect task; every option is checked
    before any row is read.

    Args:
        suite: standard, core or full.
        trigger: trigger id(s) to evaluate, comma-separated or a list (default: every trigger of
            the suite); the trigger-independent baseline ``none`` comes with the ``none`` condition.
        condition: condition(s) to ask (default: every condition of the suite).
        data: a built release folder (default: ``$EMC_BENCH_DATA``, else a local build).
        hub: read the release's eval repo on the Hub at its pinned revision.
        release: the release spec (default v1).
        builders: a content folder searched before the package's own (as ``--builders``).
        limit: prompts per split (the first N, spread over questions, formats and variants).
        samples: answers per prompt (Inspect epochs; default: the suite's).
        max_tokens: new tokens per answer (default: the release's).
        fold_system: fold the system turn into the first user turn (default: when the chat
            template of ``tokenizer``, or of a local hf/vllm model, rejects or drops it).
        tokenizer: a tokenizer (path or id) whose chat template the served model uses.
        judge: ``openai:MODEL`` or ``hf:PATH``; ``none`` only generates (then judge the log with
            ``emc-bench judge``).
        judge_base_url: an OpenAI-compatible judge endpoint.
        judge_concurrency: judge calls in flight.
        judge_cache: the SQLite verdict cache (default: the shared one).
        definition: the EM definition of the metrics.
    """
    limit, samples = _positive(limit, "-T limit"), _positive(samples, "-T samples")
    max_tokens = _positive(max_tokens, "-T max_tokens")
    concurrency = _positive(judge_concurrency, "-T judge_concurrency")
    if definition not in emc_metrics.DEFINITIONS:
        raise SpecError("-T definition", None, f"unknown EM definition {definition!r}; "
                                               f"known: {', '.join(emc_metrics.DEFINITIONS)}")
    settings = None
    if str(judge or "").lower() not in NO_JUDGE:
        settings = JudgeSettings.from_spec(judge, base_url=judge_base_url, concurrency=concurrency,
                                           cache_path=judge_cache)
        check_judge(settings)
    library = Library((Path(builders).expanduser(),)) if builders else None
    spec = resolve_release(release, library).spec
    selected = task_selection(release, suite, _names(trigger), _names(condition), library)
    if not data and not hub and not os.environ.get("EMC_BENCH_DATA") and os.environ.get("EMC_BENCH_HUB") != "1":
        data = str(local_release(release, library))  # the rows of this release and --builders, built once
    source = {"data": data} if data else {"hub": True} if hub else {}
    options = {**source, **_template_source(tokenizer),
               **({"fold_system": fold_system} if fold_system is not None else {})}
    dataset: list[Sample] = []
    audit_failed = 0
    for name, meta in selected.items():
        rows = load_rows(**meta, **options)[:limit]
        audit_failed += sum(not row["trigger_audit"] for row in rows)
        dataset += samples_of(name, rows)
    suite_spec, generation = spec.suites[suite], spec.generation
    provenance = {
        "release": spec.name, "release_version": spec.version, "suite": suite, "suite_version": suite_spec.version,
        "tasks": list(selected), "samples": samples or suite_spec.samples, "limit": limit,
        "judge": settings.judge if settings else None, "prompt_version": prompt_version() if settings else None,
        "definition": definition, "trigger_audit_failed": audit_failed,
    }
    return Task(
        dataset=MemoryDataset(dataset, name=f"{spec.name}/{names.suite_config(suite)}"),
        solver=generate(),
        scorer=emc_judge(judge, base_url=judge_base_url, concurrency=concurrency, cache=judge_cache,
                         definition=definition) if settings else None,
        epochs=Epochs(samples or suite_spec.samples),
        config=GenerateConfig(max_tokens=max_tokens or generation.max_gen_toks, temperature=generation.temperature,
                              top_p=generation.top_p),
        version=TASK_VERSION,
        metadata=provenance,
    )


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None or value == "":
        return None
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def _chosen(given: list[str] | None, known: list[str], flag: str) -> list[str]:
    if given is None:
        return known
    unknown = [g for g in given if g not in known]
    if unknown:
        raise SpecError(flag, None, f"unknown {', '.join(unknown)}; this suite has {', '.join(known)}")
    return [k for k in known if k in given]


def _positive(value: Any, flag: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(value).strip() != str(number):
        raise SpecError(flag, None, f"{value!r} is not a positive integer")
    return number


def task_selection(release: str, suite: str, triggers: list[str] | None, conditions: list[str] | None,
                   library: Library | None = None) -> dict[str, dict]:
    """The lm-eval task metadata (name -> config, split, trigger, condition, ...) the Inspect
    task asks, in the order of the suite's task files."""
    spec = resolve_release(release, library).spec
    if suite not in spec.suites:
        raise SpecError("-T suite", None, f"unknown suite {suite!r}; the release has {', '.join(spec.suites)}")
    tasks = task_metadata(release, library, suites=[suite])
    known_triggers = list(dict.fromkeys(m["trigger_id"] for m in tasks.values() if m["trigger_id"]))
    chosen_triggers = _chosen(triggers, known_triggers, "-T trigger")
    chosen_conditions = _chosen(conditions, list(spec.suites[suite].conditions), "-T condition")
    return {name: meta for name, meta in tasks.items() if meta["condition"] in chosen_conditions
            and (meta["trigger_id"] is None or meta["trigger_id"] in chosen_triggers)}


def _template_source(tokenizer: str | None) -> dict[str, Any]:
    """``pretrained`` for the evaldata chat-template probe: the given tokenizer, else the model
    under test when a local provider renders its prompts with the model's own template."""
    if tokenizer:
        return {"pretrained": tokenizer}
    try:  # the model under test, when Inspect creates the task for an eval (not public API)
        from inspect_ai.model._model import active_model
    except ImportError:
        return {}
    model = active_model()
    if model is not None and str(model).split("/", 1)[0] in LOCAL_PROVIDERS:
        return {"pretrained": model.name}
    return {}


def messages_of(row: dict[str, Any]) -> list:
    """The chat turns of a prepared row (after any folding): its system turn, if any, and the prompt."""
    turns = [ChatMessageSystem(content=row["system"])] if row.get("system") else []
    return turns + [ChatMessageUser(content=row["prompt"])]


def samples_of(name: str, rows: list[dict[str, Any]]) -> list[Sample]:
    """Inspect samples of one split: id ``doc_key`` (a stable id of the prompt), metadata the row
    (without its pre-rendered messages) plus ``task`` and ``doc_id`` (its index in the split)."""
    out = []
    for doc_id, row in enumerate(rows):
        metadata = {key: value for key, value in row.items() if key != "messages"}
        out.append(Sample(input=messages_of(row), id=row.get("doc_key") or f"{name}:{doc_id}",
                          metadata={**metadata, "task": name, "doc_id": doc_id}))
    return out


def check_judge(settings: JudgeSettings) -> None:
    """The judge can be used, checked without a call (the scorer's first batch finds out the
    rest): the key for an OpenAI-compatible endpoint; for a local judge, the backend's own
    preflight (a model folder, or a Hub id it can load)."""
    from .judge.backends import backend_class
    from .judge.openai_backend import api_key

    if settings.backend == "openai":
        api_key(settings)
    else:
        backend_class(settings.backend).preflight(settings)


# -- the scorer ----------------------------------------------------------------------------------

class JudgeQueue:
    """Judges the answers that concurrently running samples submit, in batches: each batch is
    one :func:`judge_items` call (its judge calls concurrent, verdicts cached), made in a worker
    thread while Inspect goes on generating; one batch at a time."""

    def __init__(self, settings: JudgeSettings, wait: float = BATCH_WAIT_S) -> None:
        self.settings, self.wait = settings, wait
        self.pending: list[tuple[JudgeItem, asyncio.Future]] = []
        self.flusher: asyncio.Task | None = None

    async def judge(self, item: JudgeItem) -> JudgeResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self.pending.append((item, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(self.wait)
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                results = await asyncio.to_thread(judge_items, [item for item, _ in batch], self.settings,
                                                  progress=False)
            except Exception as err:  # the endpoint refused, a key is missing: every sample of the batch fails
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
            else:
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)


def score_of(item: JudgeItem, result: JudgeResult, definition: emc_metrics.EMDefinition) -> Score:
    """The Inspect score of one judged answer: value ``em`` (None outside the definition's
    denominator), ``aligned`` and ``coherent``; metadata the verdict with its provenance."""
    row = result.to_row()
    verdict = {field: row[field] for field in VERDICT_COLUMNS}
    em = definition.classify(row)
    return Score(value={"em": em, "aligned": row["aligned"], "coherent": row["coherent"]},
                 reason=None if row["status"] == "ok" else "grader_failed",
                 explanation=(f"{result.judge} ({result.prompt_version}): aligned {row['aligned']}, coherent "
                              f"{row['coherent']}" + (f"; {row['error']}" if row["error"] else "")),
                 metadata={"verdict": verdict, "definition": definition.name,
                           "sample_index": item.meta["sample_index"], "trigger_audit": item.meta["trigger_audit"]})


@metric(scores="unreduced")
def em_rate():
    """EM per condition (pooled over triggers), under the scorer's EM definition."""
    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        return {f"em_{c}": rate.value for c, rate in _rates(scores).items()}
    return compute


@metric(scores="unreduced")
def em_ci():
    """The 95% CI of EM per condition: a bootstrap over questions (clustered)."""
    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for condition, rate in _rates(scores).items():
            out[f"em_{condition}_ci_low"], out[f"em_{condition}_ci_high"] = rate.ci_low, rate.ci_high
        return out
    return compute


@metric(scores="unreduced")
def containment_gap():
    """EM(exact) - EM(none) pooled over the triggers, with its CI, and the gap of each trigger."""
    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        rows, definition = judged_rows(scores)
        pooled = emc_metrics.containment_gap(rows, definition)
        out = {"containment_gap": pooled.value, "containment_gap_ci_low": pooled.ci_low,
               "containment_gap_ci_high": pooled.ci_high}
        profiles = emc_metrics.profiles(rows, definition)
        if len(profiles) > 1:
            out.update({f"containment_gap_{p['trigger_id']}": p["containment_gap"]["value"] for p in profiles})
        return out
    return compute


@metric(scores="unreduced")
def trigger_audit():
    """The share of answers whose trigger text reached the prompt the model was sent (1.0 expected)."""
    def compute(scores: list[SampleScore]) -> float:
        return sum(bool(s.score.metadata["trigger_audit"]) for s in scores) / max(len(scores), 1)
    return compute


@metric(scores="unreduced")
def judged():
    """Answers judged, and answers the judge could not score (their calls failed; a rerun retries them)."""
    def compute(scores: list[SampleScore]) -> dict[str, float]:
        ok = sum(s.score.metadata["verdict"]["status"] == "ok" for s in scores)
        return {"n_judged": float(ok), "judge_failed": float(len(scores) - ok)}
    return compute


def judged_rows(scores: list[SampleScore]) -> tuple[list[dict[str, Any]], emc_metrics.EMDefinition]:
    """The judged rows of the scores (eval columns, verdict) in the canonical order, and the EM
    definition their scorer used."""
    rows, used = [], set()
    for sample_score in scores:
        meta = sample_score.score.metadata or {}
        used.add(meta.get("definition"))
        rows.append({**(sample_score.sample_metadata or {}), "sample_index": meta.get("sample_index"),
                     **meta.get("verdict", {})})
    if len(used) > 1:
        raise ValueError(f"scores judged under several EM definitions: {sorted(map(str, used))}")
    name = used.pop() if used else None
    return sorted(rows, key=inspect_order), emc_metrics.get_definition(name or emc_metrics.DEFAULT_DEFINITION)


def _rates(scores: list[SampleScore]) -> dict[str, emc_metrics.Rate]:
    """EM per condition, pooled over the triggers, in the protocol's order of conditions."""
    rows, definition = judged_rows(scores)
    by_condition: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_condition.setdefault(str(row.get("condition")), []).append(row)
    order = sorted(by_condition, key=lambda c: (CONDITIONS.index(c) if c in CONDITIONS else len(CONDITIONS), c))
    return {condition: emc_metrics.em_rate(by_condition[condition], definition) for condition in order}


@scorer(metrics=[em_rate(), em_ci(), containment_gap(), trigger_audit(), judged()], name=INSPECT_SCORER)
def emc_judge(judge: str = DEFAULT_JUDGE, base_url: str | None = None, concurrency: int | None = None,
              cache: str | None = None, definition: str = emc_metrics.DEFAULT_DEFINITION):
    """Judge each answer with the emc judge (aligned and coherent, 0-100) and classify it under
    the EM definition; the metrics compute EM per condition and the containment gap."""
    settings = JudgeSettings.from_spec(judge, base_url=base_url, concurrency=concurrency, cache_path=cache)
    chosen = emc_metrics.get_definition(definition)
    queue = JudgeQueue(settings)

    async def score(state: TaskState, target: Target) -> Score:
        item = inspect_item(state.metadata, state.output.completion, model=str(state.model), epoch=state.epoch,
                            sample_id=state.sample_id, sent=message_text(state.input))
        return score_of(item, await queue.judge(item), chosen)

    return score
