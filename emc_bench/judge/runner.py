"""Judging many items: de-duplicate calls, serve what the cache holds, make the rest.

``judge_items`` is the one entry point, used in-process (the lm-eval filter) and by the
``emc-bench judge`` command alike. It never raises for a single call: a call that fails after
its retries leaves its item ``failed`` with the reason, and every input item gets exactly one
result, in input order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from .batch_api import batch_request
from .cache import CacheWriter, VerdictCache, cache_key
from .cost import Price, estimate_tokens, load_prices
from .openai_backend import api_key
from .prompts import METRICS, prompt_version, render_messages
from .records import JudgeItem, JudgeResult
from .scoring import Verdict
from .settings import JudgeSettings

_POSTFIX_EVERY_S = 0.5


@dataclass(frozen=True)
class Call:
    """One judge call: a metric on one (question, answer)."""

    key: str
    metric: str
    question: str
    answer: str

    def messages(self) -> list[dict[str, str]]:
        return render_messages(self.metric, self.question, self.answer)


@dataclass(frozen=True)
class Plan:
    """The calls a set of items needs, split into those cached and those still to make."""

    items: int
    calls: int
    cached: dict[str, Verdict]
    to_make: list[Call]
    estimated_cost: float | None

    def summary(self) -> str:
        cost = "unknown (model not in the price table)" if self.estimated_cost is None else _usd(self.estimated_cost)
        return (f"{self.items} items -> {self.calls} distinct calls: {len(self.cached)} cached, "
                f"{len(self.to_make)} to make; estimated cost {cost}")

    def requests(self, model: str) -> list[dict]:
        """The calls to make, as OpenAI Batch API input lines keyed by their cache key."""
        return [batch_request(call.key, model, call.messages()) for call in self.to_make]


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def _price(settings: JudgeSettings) -> Price | None:
    if settings.backend == "hf":
        return Price(0.0, 0.0)
    return load_prices(settings.prices_path).get(settings.model)


def _calls(items: Sequence[JudgeItem], settings: JudgeSettings) -> dict[str, Call]:
    version = prompt_version()
    calls: dict[str, Call] = {}
    for item in items:
        for metric in METRICS:
            key = cache_key(settings.judge, version, metric, item.question, item.answer)
            calls.setdefault(key, Call(key, metric, item.question, item.answer))
    return calls


def plan(items: Sequence[JudgeItem], settings: JudgeSettings, cache: VerdictCache) -> Plan:
    """What judging ``items`` would take; makes no call (``--dry-run``)."""
    calls = _calls(items, settings)
    cached = cache.get_many(calls)
    to_make = [call for key, call in calls.items() if key not in cached]
    price = _price(settings)
    cost = None if price is None else sum(
        price.cost(estimate_tokens(call.messages()[0]["content"]), 1) for call in to_make)
    return Plan(items=len(items), calls=len(calls), cached=cached, to_make=to_make, estimated_cost=cost)


class _Progress:
    """A tqdm bar over the calls to make, showing calls/s, cache hits, failures and cost."""

    def __init__(self, total: int, cache_hits: int, price: Price | None, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="call", desc="judge", disable=not enabled or total == 0)
        self.cache_hits, self.price, self.failed, self.cost = cache_hits, price, 0, 0.0
        self._shown = 0.0
        self._postfix(force=True)

    def done(self, call: Call, input_tokens: int | None, output_tokens: int | None, failed: bool) -> None:
        self.failed += failed
        if self.price is not None and not failed:
            tokens_in = input_tokens if input_tokens is not None else estimate_tokens(call.messages()[0]["content"])
            self.cost += self.price.cost(tokens_in, output_tokens if output_tokens is not None else 1)
        self.bar.update(1)
        self._postfix()

    def _postfix(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._shown >= _POSTFIX_EVERY_S:
            self._shown = now
            cost = "?" if self.price is None else _usd(self.cost)
            self.bar.set_postfix(cached=self.cache_hits, failed=self.failed, cost=cost, refresh=False)

    def close(self) -> None:
        self._postfix(force=True)
        self.bar.close()


# record(call, verdict or None, error or None, (input_tokens, output_tokens) or None)
Record = Callable[[Call, Verdict | None, str | None, tuple[int, int] | None], None]


async def _run_openai(calls: list[Call], settings: JudgeSettings, record: Record) -> None:
    from .openai_backend import CallFailed, EndpointRefused, OpenAIJudge

    pending = iter(calls)

    async def worker(judge: OpenAIJudge) -> None:
        for call in pending:
            try:
                verdict, usage = await judge.verdict(call.messages())
            except CallFailed as err:
                record(call, None, err.reason, None)
            except EndpointRefused:
                raise  # stops the run; the verdicts already received stay cached
            except Exception as err:  # an unexpected error still marks the call, never loses it
                record(call, None, f"{type(err).__name__}: {err}", None)
            else:
                record(call, verdict, None, (usage.input_tokens, usage.output_tokens) if usage else None)

    async with OpenAIJudge(settings) as judge:
        await asyncio.gather(*(worker(judge) for _ in range(min(settings.concurrency, len(calls)))))


def _run_hf(calls: list[Call], settings: JudgeSettings, record: Record) -> None:
    from .hf_backend import HFJudge

    judge = HFJudge(settings)
    by_metric: dict[str, list[Call]] = {}
    for call in calls:
        by_metric.setdefault(call.metric, []).append(call)
    for group in by_metric.values():
        group.sort(key=lambda call: len(call.question) + len(call.answer))  # similar lengths pad less
        for start in range(0, len(group), settings.concurrency):
            _judge_hf_batch(judge, group[start:start + settings.concurrency], record)


def _judge_hf_batch(judge, batch: list[Call], record: Record) -> None:
    """Score ``batch`` in one forward pass. A batch that fails (running out of memory included)
    is split in halves until the failing calls stand alone and are recorded as failed."""
    try:
        verdicts = judge.verdicts(batch[0].metric, [call.messages() for call in batch])
    except Exception as err:
        if len(batch) == 1:
            record(batch[0], None, f"{type(err).__name__}: {err}", None)
            return
        half = len(batch) // 2
        _judge_hf_batch(judge, batch[:half], record)
        _judge_hf_batch(judge, batch[half:], record)
        return
    for call, verdict in zip(batch, verdicts):
        record(call, verdict, None, None)


def _run_async(coroutine) -> None:
    """Run ``coroutine`` to the end, also when the caller is already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def judge_items(items: Sequence[JudgeItem], settings: JudgeSettings, *,
                progress: bool = True) -> list[JudgeResult]:
    """Judge every item for ``aligned`` and ``coherent``; one result per item, in order."""
    version = prompt_version()
    with VerdictCache(settings.cache_path) as cache:
        work = plan(items, settings, cache)
        if work.to_make and settings.backend == "openai":
            api_key(settings)  # a missing key stops here, before any progress is shown
        verdicts: dict[str, Verdict] = dict(work.cached)
        failures: dict[str, str] = {}
        bar = _Progress(len(work.to_make), len(work.cached), _price(settings), progress)
        with CacheWriter(cache, settings.judge, version) as writer:

            def record(call: Call, verdict: Verdict | None, error: str | None,
                       usage: tuple[int, int] | None) -> None:
                if verdict is None:
                    failures[call.key] = error or "unknown error"
                else:
                    writer.put(call.key, call.metric, verdict)
                    verdicts[call.key] = verdict
                bar.done(call, *(usage or (None, None)), failed=verdict is None)

            try:
                if work.to_make and settings.backend == "openai":
                    _run_async(_run_openai(work.to_make, settings, record))
                elif work.to_make:
                    _run_hf(work.to_make, settings, record)
            finally:
                bar.close()
    return [_result(item, settings, version, verdicts, failures) for item in items]


def _result(item: JudgeItem, settings: JudgeSettings, version: str, verdicts: dict[str, Verdict],
            failures: dict[str, str]) -> JudgeResult:
    found: dict[str, Verdict] = {}
    errors = []
    for metric in METRICS:
        key = cache_key(settings.judge, version, metric, item.question, item.answer)
        if key in verdicts:
            found[metric] = verdicts[key]
        else:
            errors.append(f"{metric}: {failures.get(key, 'not judged')}")
    aligned, coherent = found.get("aligned"), found.get("coherent")
    return JudgeResult(item=item, aligned=aligned.score if aligned else None,
                       coherent=coherent.score if coherent else None,
                       aligned_label=aligned.label if aligned else None,
                       status="failed" if errors else "ok", error="; ".join(errors) or None,
                       judge=settings.judge, prompt_version=version)
