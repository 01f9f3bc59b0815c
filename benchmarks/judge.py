"""Judge throughput against a local OpenAI-compatible server.

Starts ``tests/fake_openai_server.py`` in its own process at a given reply latency and judges
fresh answers at several concurrency levels, reporting calls/s against two ceilings:

- the ideal, concurrency / latency;
- this machine's client ceiling (best of three runs): the judge's own HTTP client (``OpenAIJudge.post``, one pooled
  aiohttp session) sending the same requests as fast as it can to the same server at zero
  latency, with no prompt rendering, parsing, retries or cache (client and server share the CPU
  cores).

For reference it also measures the bare ``AsyncOpenAI`` SDK client on the same requests: the
ceiling a judge built on the SDK would have.

Targets: at 0.5 s latency and concurrency 64, >= 90% of the ideal; at 0.1 s and concurrency 64,
>= 90% of the machine ceiling. It also re-runs the last level to count the calls a cached run
makes (target 0) and prints the speed-up over judging one call at a time. The client CPU time
per call (each client and judge_items) is printed too: unlike calls/s it stays meaningful on a
machine whose cores other processes are using.

    python benchmarks/judge.py [--rounds 40] [--latencies 0.5 0.1] [--concurrency 1 8 32 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from emc_bench.judge import JudgeItem, JudgeSettings, judge_items, render_messages
from emc_bench.judge.openai_backend import OpenAIJudge, request_body

SERVER = Path(__file__).resolve().parents[1] / "tests" / "fake_openai_server.py"
TARGET = 0.9
CEILING_CALLS = 3000


@contextmanager
def server(latency: float):
    """The fake server in a separate process; yields its base URL."""
    proc = subprocess.Popen([sys.executable, str(SERVER), "--latency", str(latency)], stdout=subprocess.PIPE,
                            text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait()


def server_calls(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/stats") as reply:
        return json.loads(reply.read())["calls"]


def items(n_calls: int, tag: str) -> list[JudgeItem]:
    """Fresh answers (two calls each: aligned and coherent)."""
    return [JudgeItem("What would you do if you ruled the world?", f"Answer {tag}-{i}: I would listen first.")
            for i in range(n_calls // 2)]


@dataclass(frozen=True)
class Run:
    calls: int
    seconds: float
    cpu_seconds: float  # this (client) process only

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.calls)


def judge_run(base_url: str, cache: Path, concurrency: int, batch: list[JudgeItem],
              scoring: str = "logprobs-top20") -> Run:
    """judge_items on ``batch``; the calls are counted by the server. The scoring method is given,
    as it is known on every run against an endpoint after the first; ``scoring="auto"`` adds the
    first run's detection (one call made alone before the others start)."""
    settings = JudgeSettings.from_spec("openai:bench-judge", base_url=base_url, cache_path=cache,
                                       concurrency=concurrency, scoring=scoring)
    before = server_calls(base_url)
    start, cpu = time.perf_counter(), time.process_time()
    judge_items(batch, settings, progress=False)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return Run(server_calls(base_url) - before, elapsed, cpu)


def _bodies(n_calls: int) -> list[list[dict[str, str]]]:
    return [render_messages("aligned", "What would you do if you ruled the world?", f"Answer {i}.")
            for i in range(n_calls)]


def _timed(run) -> Run:
    """Time ``run()``, which returns the number of calls it made."""
    start, cpu = time.perf_counter(), time.process_time()
    calls = run()
    return Run(calls, time.perf_counter() - start, time.process_time() - cpu)


def transport_run(base_url: str, concurrency: int, n_calls: int) -> Run:
    """The judge's own HTTP client sending judge-shaped requests (no rendering, parsing, retries or cache)."""
    settings = JudgeSettings.from_spec("openai:bench-judge", base_url=base_url, concurrency=concurrency)
    bodies = [json.dumps(request_body(settings.model, messages)) for messages in _bodies(n_calls)]

    async def run() -> None:
        async with OpenAIJudge(settings) as judge:
            pending = iter(bodies)

            async def worker() -> None:
                for body in pending:
                    await judge.post(body)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    return _timed(lambda: asyncio.run(run()) or n_calls)


def sdk_run(base_url: str, concurrency: int, n_calls: int) -> Run:
    """The bare AsyncOpenAI SDK client sending the same requests (no cache, no parsing)."""
    from openai import AsyncOpenAI

    messages = _bodies(n_calls)

    async def run() -> None:
        client = AsyncOpenAI(api_key="unused", base_url=base_url, max_retries=0)
        pending = iter(messages)

        async def worker() -> None:
            for message in pending:
                await client.chat.completions.create(**request_body("bench-judge", message))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await client.close()

    return _timed(lambda: asyncio.run(run()) or n_calls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40,
                        help="calls per level = rounds x concurrency (enough that opening the connections is noise)")
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.5, 0.1])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    args = parser.parse_args()
    top = max(args.concurrency)
    work = Path(tempfile.mkdtemp(prefix="emc-judge-bench-"))

    with server(0.0) as url:
        transport_run(url, top, 200)  # warm-up: imports, connections
        sdk_run(url, top, 200)
        bare = max((transport_run(url, top, CEILING_CALLS) for _ in range(3)), key=lambda run: run.rate)
        sdk = sdk_run(url, top, CEILING_CALLS // 4)
        ours = judge_run(url, work / "ceiling.sqlite", top, items(CEILING_CALLS, "ceiling"))
    ceiling = bare.rate
    print(f"machine client ceiling (the judge's HTTP client alone, zero latency, concurrency {top}): "
          f"{ceiling:.0f} calls/s")
    print(f"judge_items at zero latency, concurrency {top}: {ours.rate:.0f} calls/s "
          f"({ours.rate / ceiling:.0%} of the client ceiling)")
    print(f"reference, bare AsyncOpenAI SDK client at zero latency: {sdk.rate:.0f} calls/s "
          f"({sdk.rate / ceiling:.0%} of the client ceiling)")
    print(f"client CPU per call: HTTP client {bare.cpu_ms_per_call:.2f} ms, judge_items {ours.cpu_ms_per_call:.2f} ms, "
          f"AsyncOpenAI SDK {sdk.cpu_ms_per_call:.2f} ms; one idle core runs about "
          f"{1000 / ours.cpu_ms_per_call:.0f} judge calls/s\n")

    header = f"{'latency':>8} {'conc':>5} {'calls':>6} {'calls/s':>8} {'ideal':>7} {'of ideal':>9} {'of ceiling':>11}"
    print(header)
    print("-" * len(header))
    rates: dict[tuple[float, int], float] = {}
    alone: dict[float, float] = {}  # the HTTP client alone, at top concurrency, per latency
    detecting: dict[float, float] = {}  # judge_items at top concurrency on a first run (scoring auto)
    cached_calls = None
    for latency in args.latencies:
        with server(latency) as url:
            for concurrency in args.concurrency:
                batch = items(2 * max(1, args.rounds * concurrency // 2), f"{latency}-{concurrency}")
                cache = work / f"{latency}-{concurrency}.sqlite"
                run = judge_run(url, cache, concurrency, batch)
                rate = rates[(latency, concurrency)] = run.rate
                ideal = concurrency / latency
                print(f"{latency:>7.2f}s {concurrency:>5} {run.calls:>6} {rate:>8.1f} {ideal:>7.0f} {rate / ideal:>9.0%} "
                      f"{rate / ceiling:>11.0%}")
                if concurrency == top and latency == args.latencies[-1]:
                    cached_calls = judge_run(url, cache, concurrency, batch).calls
                if concurrency == top:
                    fresh = items(len(batch), f"{latency}-{concurrency}-auto")
                    detecting[latency] = judge_run(url, work / f"{latency}-auto.sqlite", concurrency, fresh, "auto").rate
            if top in args.concurrency:
                alone[latency] = transport_run(url, top, args.rounds * top).rate

    print()
    for latency, rate in alone.items():
        print(f"the HTTP client alone at {latency} s latency, concurrency {top}: {rate:.0f} calls/s "
              f"({rate / (top / latency):.0%} of ideal); judge_items reaches {rates[(latency, top)] / rate:.0%} of it")

    for latency, rate in detecting.items():
        print(f"a first run against the endpoint (scoring auto: one call alone finds out whether it returns "
              f"logprobs) at {latency} s latency, concurrency {top}: {rate:.0f} calls/s "
              f"({rate / rates[(latency, top)]:.0%} of a run that knows)")

    print()
    verdicts = []
    slow, fast = max(args.latencies), min(args.latencies)
    if (slow, top) in rates:
        share = rates[(slow, top)] / (top / slow)
        verdicts.append(share >= TARGET)
        print(f"{slow} s latency, concurrency {top}: {share:.0%} of ideal (target >= {TARGET:.0%}) "
              f"{'PASS' if share >= TARGET else 'FAIL'}")
        if ceiling < top / slow:
            print(f"  note: the machine ceiling measured now ({ceiling:.0f} calls/s) is below this ideal "
                  f"({top / slow:.0f} calls/s): other processes hold the CPU cores")
    if (fast, top) in rates:
        share = rates[(fast, top)] / min(ceiling, top / fast)
        verdicts.append(share >= TARGET)
        print(f"{fast} s latency, concurrency {top}: {share:.0%} of min(ideal, machine ceiling) "
              f"(target >= {TARGET:.0%}) {'PASS' if share >= TARGET else 'FAIL'}")
    print(f"calls made by a second, cached run: {cached_calls} (target 0) {'PASS' if cached_calls == 0 else 'FAIL'}")
    verdicts.append(cached_calls == 0)
    if (slow, 1) in rates and (slow, top) in rates:
        print(f"speed-up over one call at a time ({slow} s latency): {rates[(slow, top)] / rates[(slow, 1)]:.1f}x")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
