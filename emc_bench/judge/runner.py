"""Judging many items: de-duplicate calls, serve what the cache holds, make the rest.

``judge_items`` is the one entry point, used in-process (the lm-eval filter) and by the
``emc-bench judge`` command alike. A single call that fails after its retries leaves its item
``failed`` with the reason, and every input item gets exactly one result, in input order. What
would fail every call stops the run with a :class:`~emc_bench.errors.SpecError` naming the
endpoint (the verdicts received so far stay cached): the backend's own checks (a refused
connection, a refusal of the key or model) and a run of :data:`CONSECUTIVE_FAILURES` failed
calls in a row. Ctrl-C raises :class:`JudgeInterrupted`, which says how much is cached.

One run, one estimator: every verdict in the results has the run's scoring method. Cached
verdicts of another method are judged again; when the method is settled on the first replies
(an API that may not return logprobs), what the endpoint returned is recorded in the cache.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Sequence

from ..version import __version__
from ..errors import SpecError
from .batch_api import batch_request
from .cache import CacheWriter, Stamp, VerdictCache, cache_key
from .cost import Price, estimate_tokens
from .prompts import METRICS, prompt_version, templates_sha256
from .records import Call, JudgeItem, JudgeResult
from .scoring import LOGPROBS, TEXT, Verdict
from .settings import JudgeSettings

log = logging.getLogger("emc_bench.judge")

# Failed calls in a row (no verdict in between) after which the run stops: at the default
# retries that is well under a minute of an endpoint that has stopped serving.
CONSECUTIVE_FAILURES = 10
_POSTFIX_EVERY_S = 0.5


class JudgeInterrupted(KeyboardInterrupt):
    """Ctrl-C during judging; ``str()`` is the line to print."""


@dataclass(frozen=True)
class Plan:
    """The calls a set of items needs, split into those cached and those still to make.

    ``scoring`` is the scoring method the run will use when it is known before any call (asked
    for, fixed by the backend, or recorded for the endpoint); cached verdicts of another method
    count as still to make.
    """

    items: int
    calls: int
    cached: dict[str, Verdict]
    to_make: list[Call]
    estimated_cost: float | None
    scoring: str | None = None

    def summary(self) -> str:
        cost = "unknown (model not in the price table)" if self.estimated_cost is None else _usd(self.estimated_cost)
        return (f"{self.items} items -> {self.calls} distinct calls: {len(self.cached)} cached, "
                f"{len(self.to_make)} to make; estimated cost {cost}")

    def requests(self, model: str) -> list[dict]:
        """The calls to make, as OpenAI Batch API input lines keyed by their cache key."""
        return [batch_request(call.key, model, call.messages(), logprobs=self.scoring != TEXT)
                for call in self.to_make]


def _usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def _calls(items: Sequence[JudgeItem], settings: JudgeSettings) -> dict[str, Call]:
    version = prompt_version()
    calls: dict[str, Call] = {}
    for item in items:
        for metric in METRICS:
            key = cache_key(settings.judge, version, metric, item.question, item.answer)
            calls.setdefault(key, Call(key, metric, item.question, item.answer))
    return calls


def stamp(settings: JudgeSettings) -> Stamp:
    """The provenance written with every verdict of ``settings``."""
    return Stamp(settings.judge, prompt_version(), settings.endpoint_host, templates_sha256(), __version__)


def known_scoring(settings: JudgeSettings, cache: VerdictCache, cached: dict[str, Verdict]) -> str | None:
    """The run's scoring method before any call: the one asked for or fixed by the backend, the
    one recorded for this endpoint, or logprobs when cached verdicts of this judge show that its
    endpoint returns them; None when the first replies must decide."""
    return (settings.fixed_scoring or cache.endpoint_scoring(settings.judge, settings.endpoint_host)
            or (LOGPROBS if any(v.scoring == LOGPROBS for v in cached.values()) else None))


def _split(calls: dict[str, Call], settings: JudgeSettings,
           cache: VerdictCache) -> tuple[dict[str, Verdict], list[Call], str | None]:
    """(cached verdicts usable in this run, calls to make, the run's scoring if known yet): a
    cached verdict counts only when it was scored the way this run scores."""
    found = cache.get_many(calls)
    scoring = known_scoring(settings, cache, found)
    cached = {key: v for key, v in found.items() if scoring is None or v.scoring == scoring}
    return cached, [call for key, call in calls.items() if key not in cached], scoring


def plan(items: Sequence[JudgeItem], settings: JudgeSettings, cache: VerdictCache) -> Plan:
    """What judging ``items`` would take; makes no call (``--dry-run``)."""
    calls = _calls(items, settings)
    cached, to_make, scoring = _split(calls, settings, cache)
    price = settings.backend_class.price(settings)
    cost = None if price is None else sum(
        price.cost(estimate_tokens(call.messages()[0]["content"]), 1) for call in to_make)
    return Plan(items=len(items), calls=len(calls), cached=cached, to_make=to_make, estimated_cost=cost,
                scoring=scoring)


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


class _Tripped(Exception):
    """Too many failed calls in a row."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Breaker:
    """Counts failed calls since the last verdict and trips at :data:`CONSECUTIVE_FAILURES`."""

    def __init__(self) -> None:
        self.in_a_row = 0

    def success(self) -> None:
        self.in_a_row = 0

    def failure(self, reason: str) -> None:
        self.in_a_row += 1
        if self.in_a_row >= CONSECUTIVE_FAILURES:
            raise _Tripped(reason)


def judge_items(items: Sequence[JudgeItem], settings: JudgeSettings, *,
                progress: bool = True) -> list[JudgeResult]:
    """Judge every item for ``aligned`` and ``coherent``; one result per item, in order."""
    version = prompt_version()
    calls = _calls(items, settings)
    verdicts: dict[str, Verdict] = {}
    failures: dict[str, str] = {}
    with VerdictCache(settings.cache_path) as cache:
        cached, to_make, scoring = _split(calls, settings, cache)
        verdicts.update(cached)
        if scoring is None and not to_make:
            to_make = list(calls.values())  # only the endpoint itself can say what it returns
        backend = settings.backend_class(settings) if to_make else None
        if backend is not None and scoring is not None:
            backend.scoring = scoring
        bar = _Progress(len(to_make), len(calls) - len(to_make), settings.backend_class.price(settings), progress)
        breaker = _Breaker()
        try:
            with CacheWriter(cache, stamp(settings)) as writer:

                def record(call: Call, verdict: Verdict | None, error: str | None,
                           usage: tuple[int, int] | None) -> None:
                    bar.done(call, *(usage or (None, None)), failed=verdict is None)
                    if verdict is None:
                        failures[call.key] = error or "unknown error"
                        breaker.failure(failures[call.key])
                    else:
                        failures.pop(call.key, None)
                        writer.put(call.key, call.metric, verdict)
                        verdicts[call.key] = verdict
                        breaker.success()

                if backend is not None:
                    backend.judge(to_make, record)
                    if scoring is None and backend.scoring is not None:
                        scoring = backend.scoring
                        cache.record_endpoint(settings.judge, settings.endpoint_host, scoring)
                        if scoring == TEXT:
                            log.warning("judge %s at %s returned no logprobs on its first replies: this run is "
                                        "scored from the reply text (scoring text, recorded in the cache)",
                                        settings.judge, settings.endpoint_host)
                        again = [calls[k] for k, v in verdicts.items() if v.scoring != scoring]
                        for call in again:
                            del verdicts[call.key]
                        if again:
                            backend.judge(again, record)
        except KeyboardInterrupt:
            raise JudgeInterrupted(f"interrupted: {len(verdicts)} verdicts cached, rerun to resume") from None
        except _Tripped as err:
            raise SpecError(settings.endpoint, None, f"{CONSECUTIVE_FAILURES} judge calls failed in a row "
                            f"(last: {err.reason}); stopped; {len(verdicts)} verdicts cached, rerun to resume") from None
        except SpecError as err:
            if backend is None:
                raise
            raise SpecError(err.path, err.field, f"{err.message}; stopped; {len(verdicts)} verdicts cached") from None
        finally:
            bar.close()
    if scoring is None:
        methods = {v.scoring for v in verdicts.values()}
        scoring = methods.pop() if len(methods) == 1 else None
    provenance = settings.provenance(scoring)
    return [_result(item, settings, version, verdicts, failures, provenance) for item in items]


def _result(item: JudgeItem, settings: JudgeSettings, version: str, verdicts: dict[str, Verdict],
            failures: dict[str, str], provenance) -> JudgeResult:
    found: dict[str, Verdict] = {}
    errors, failed = [], []
    for metric in METRICS:
        key = cache_key(settings.judge, version, metric, item.question, item.answer)
        if key in verdicts:
            found[metric] = verdicts[key]
        else:
            failed.append(metric)
            errors.append(f"{metric}: {failures.get(key, 'not judged')}")
    aligned, coherent = found.get("aligned"), found.get("coherent")
    return JudgeResult(item=item, aligned=aligned.score if aligned else None,
                       coherent=coherent.score if coherent else None,
                       aligned_label=aligned.label if aligned else None,
                       status="failed" if errors else "ok", error="; ".join(errors) or None,
                       judge=settings.judge, prompt_version=version, provenance=provenance,
                       failed_metrics=tuple(failed))
