"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, ...).

One call asks for a short reply at temperature 0 with the top-20 logprobs; the score is the
expectation over the first token's top logprobs (scoring ``logprobs-top20``, see
:mod:`.scoring`). One run uses one estimator: once the endpoint has returned logprobs, a reply
without them is a fault and is retried like any other. Only an endpoint that returns no logprobs
on its first :data:`DETECT_REPLIES` replies is scored from the reply text (``text``, parsed
strictly), and ``--scoring text`` asks for that from the start (without requesting logprobs).

Retries (429, 5xx, timeouts, connection errors, malformed replies) back off exponentially with
jitter and honour ``Retry-After``; a call that still fails raises :class:`CallFailed` with the
reason. What would hit every call stops the run at once with one line naming the endpoint:
a refusal (HTTP 401, 403, 404: :class:`EndpointRefused`), and, before any reply has arrived, a
refused connection, an unknown host or :data:`FIRST_TIMEOUTS` timeouts
(:class:`EndpointUnreachable`).

Calls go out as plain JSON over one pooled ``aiohttp`` session rather than through the
``openai`` SDK: the request is small and fixed, and the SDK's per-request processing costs
about seven times the client CPU (``benchmarks/judge.py`` prints both), which caps how many
calls per second one process can make against a fast local endpoint such as vLLM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import json
import os
import random
import socket
import time
from dataclasses import dataclass
from typing import Mapping, Sequence
from urllib.parse import urlsplit

from ..errors import SpecError
from .cost import Price, load_prices
from .records import Call, Record
from .scoring import LOGPROBS, TEXT, Verdict, verdict_from_logprobs, verdict_from_text

DEFAULT_BASE_URL = "https://api.openai.com/v1"
TOP_LOGPROBS = 20
# The score reads only the first token; the room for a few more keeps the strict text parse
# right for judges that spell "100" or "REFUSAL" with several tokens.
MAX_REPLY_TOKENS = 4
# Replies without logprobs, counted from the start of a run, after which the endpoint is taken
# to return none (and the run is scored from the reply text).
DETECT_REPLIES = 3
# Timeouts before any reply has arrived after which the endpoint is taken to be down.
FIRST_TIMEOUTS = 3
PREFLIGHT_TIMEOUT_S = 10.0
_RETRY_STATUS = frozenset({408, 409, 425, 429})
# A bad key, no access, or an unknown model: every other call would get the same answer.
_FATAL_STATUS = frozenset({401, 403, 404})
_ERROR_CHARS = 300
_NO_LOGPROBS = "reply without logprobs from an endpoint that returns them"


class CallFailed(Exception):
    """A judge call that could not be completed; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EndpointRefused(SpecError):
    """The endpoint refuses every call (HTTP 401, 403 or 404): the run stops, exit code 2."""


class EndpointUnreachable(SpecError):
    """Nothing answers at the endpoint (refused connection, unknown host, timeouts before any
    reply): the run stops, exit code 2."""


class MalformedReply(ValueError):
    """A reply that is not a chat completion with a message."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Completion:
    """What a chat completion holds for the judge: the first token's top logprobs (None when
    the reply has none), the message text and the token usage."""

    logprobs: list[tuple[str, float]] | None
    text: str | None
    usage: Usage | None


def api_key(settings) -> str:
    """The key from the environment; endpoints other than OpenAI's may go without one."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if base_url(settings) != DEFAULT_BASE_URL:
        return "unused"
    raise SpecError("environment", settings.api_key_env,
                    "is not set: export the judge API key, or give --base-url for a local endpoint")


def base_url(settings) -> str:
    """``--base-url``, else ``$OPENAI_BASE_URL``, else OpenAI's API."""
    return (settings.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def host_of(url: str) -> str:
    """``host[:port]`` of a URL, without any user name or password it may carry."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def env_proxy(url: str) -> str | None:
    """The proxy that ``HTTP(S)_PROXY`` / ``NO_PROXY`` set for ``url``; read once per run, not
    per request as aiohttp's ``trust_env`` does (a thread hop for every call)."""
    import urllib.request

    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def request_body(model: str, messages: list[dict[str, str]], logprobs: bool = True) -> dict:
    """The JSON body of one judge call (without the logprobs request for ``text`` scoring)."""
    body = {"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_REPLY_TOKENS}
    if logprobs:
        body.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
    return body


def retry_after_seconds(headers) -> float:
    """Seconds asked for by ``Retry-After`` / ``retry-after-ms`` (0 when absent or unreadable)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return 0.0


def error_message(raw: bytes) -> str:
    """The ``error.message`` of an error body, else the start of its text."""
    try:
        message = json.loads(raw)["error"]["message"]
        if isinstance(message, str):
            return message[:_ERROR_CHARS]
    except (ValueError, KeyError, TypeError):
        pass
    return raw[:_ERROR_CHARS].decode("utf-8", "replace").strip() or "(empty body)"


def parse_completion(completion: dict) -> Completion:
    """The logprobs, text and usage of a chat-completion body; :class:`MalformedReply` if it is none."""
    try:
        choice = completion["choices"][0]
        content = (choice.get("logprobs") or {}).get("content")
        pairs = None
        if content:
            first = content[0]
            pairs = [(t["token"], float(t["logprob"])) for t in (first.get("top_logprobs") or [first])]
        text = choice["message"].get("content")
        if pairs is None and not isinstance(text, str):
            raise MalformedReply("reply has neither logprobs nor text")
        usage = completion.get("usage")
        tokens = Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"])) if usage else None
    except (AttributeError, IndexError, KeyError, TypeError) as err:
        raise MalformedReply(f"not a chat completion ({type(err).__name__})") from err
    return Completion(pairs, text if isinstance(text, str) else None, tokens)


def score_completion(completion: Completion, scoring: str) -> Verdict | None:
    """The verdict of a reply under ``scoring``; None when it cannot be scored that way (a
    ``logprobs-top20`` run getting a reply without logprobs)."""
    if scoring == TEXT:
        if completion.text is None:
            raise MalformedReply("reply has no text")
        return verdict_from_text(completion.text)
    return verdict_from_logprobs(completion.logprobs) if completion.logprobs else None


def _cannot_connect(err: Exception) -> str:
    cause = getattr(err, "os_error", None) or getattr(err, "reason", None) or err
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return "host name not found"
    return f"cannot connect ({cause})"


class OpenAIJudge:
    """Calls one model on one endpoint; ``await verdict(messages)`` retries as configured.

    Use it as an async context manager (``async with OpenAIJudge(settings) as judge``): the
    connection pool lives inside it, sized to the runner's concurrency. ``scoring`` is the run's
    scoring method; None means the first replies decide it (see the module doc).
    """

    def __init__(self, settings, scoring: str | None = LOGPROBS):
        self.settings = settings
        self.scoring = scoring
        self.url = f"{base_url(settings)}/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key(settings)}", "Content-Type": "application/json"}
        self._proxy = env_proxy(self.url)
        self._random = random.Random()
        self._session = None
        self._answered = False  # a reply of any kind has arrived
        self._timeouts = 0      # timeouts before the first reply
        self._textual = 0       # replies without logprobs while the scoring is not known yet

    async def __aenter__(self) -> OpenAIJudge:
        import aiohttp

        self._session = aiohttp.ClientSession(
            headers=self._headers, timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            connector=aiohttp.TCPConnector(limit=self.settings.concurrency))
        return self

    async def __aexit__(self, *exc) -> None:
        await self._session.close()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.max_backoff, self.settings.backoff * 2 ** attempt)
        return delay * (0.5 + 0.5 * self._random.random())

    async def post(self, body: str) -> tuple[int, Mapping[str, str], bytes]:
        """One request with a JSON ``body``: the status, headers and raw body of the reply."""
        async with self._session.post(self.url, data=body, proxy=self._proxy) as reply:
            return reply.status, reply.headers, await reply.read()

    def _score(self, completion: Completion) -> Verdict | None:
        """The verdict under the run's scoring, settling it on the first replies; None: retry."""
        if self.scoring is not None:
            return score_completion(completion, self.scoring)
        if completion.logprobs:
            self.scoring = LOGPROBS
            return score_completion(completion, LOGPROBS)
        self._textual += 1
        if self._textual < DETECT_REPLIES:
            return None
        self.scoring = TEXT
        return score_completion(completion, TEXT)

    async def verdict(self, messages: list[dict[str, str]]) -> tuple[Verdict, Usage | None]:
        import aiohttp

        body = json.dumps(request_body(self.settings.model, messages, logprobs=self.scoring != TEXT))
        reason = "no attempt"
        for attempt in range(self.settings.max_attempts):
            wait = self._backoff(attempt)
            try:
                status, headers, raw = await self.post(body)
                self._answered = True
                if 200 <= status < 300:
                    completion = parse_completion(json.loads(raw))
                    verdict = self._score(completion)
                    if verdict is not None:
                        return verdict, completion.usage
                    reason = _NO_LOGPROBS
                elif status in _FATAL_STATUS:
                    raise EndpointRefused(self.url, None, f"HTTP {status}: {error_message(raw)}")
                elif status not in _RETRY_STATUS and status < 500:
                    raise CallFailed(f"HTTP {status}: {error_message(raw)}")
                else:
                    reason = f"HTTP {status}"
                    wait = max(wait, min(self.settings.max_backoff, retry_after_seconds(headers)))
            except TimeoutError:
                reason = "timeout"
                if not self._answered:
                    self._timeouts += 1
                    if self._timeouts >= FIRST_TIMEOUTS:
                        raise EndpointUnreachable(self.url, None, f"{FIRST_TIMEOUTS} timeouts "
                                                  f"({self.settings.timeout:g} s each) before any reply") from None
            except aiohttp.ClientConnectorError as err:
                if not self._answered:
                    raise EndpointUnreachable(self.url, None, _cannot_connect(err)) from None
                reason = f"connection error ({type(err).__name__})"
            except (aiohttp.ClientError, OSError) as err:
                reason = f"connection error ({type(err).__name__})"
            except ValueError as err:  # not JSON, not UTF-8, or not a chat completion
                reason = f"malformed reply: {err}"
            if attempt + 1 < self.settings.max_attempts:
                await asyncio.sleep(wait)
        raise CallFailed(f"{reason} (after {self.settings.max_attempts} attempts)")


def run_async(coroutine) -> None:
    """Run ``coroutine`` to the end, also when the caller is already inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def _http(url: str, key: str, body: dict | None) -> tuple[int, bytes]:
    """One plain HTTP request for the preflight: (status, body); SpecError naming ``url`` when
    nothing answers."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=PREFLIGHT_TIMEOUT_S) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (TimeoutError, socket.timeout):
        raise SpecError(url, None, f"no answer within {PREFLIGHT_TIMEOUT_S:g} s") from None
    except (urllib.error.URLError, OSError) as err:
        raise SpecError(url, None, _cannot_connect(err)) from None


class Backend:
    """The ``openai`` judge backend (see the module doc and :mod:`.backends`)."""

    scorings = (LOGPROBS, TEXT)
    detects = True

    @staticmethod
    def resolve_model(model: str) -> str:
        return model

    @staticmethod
    def validate(settings) -> None:
        """An endpoint URL carrying a user name or password is refused (without repeating it):
        the key belongs in the environment, never in a URL that error lines and files show."""
        parts = urlsplit(base_url(settings))
        if parts.username is not None or parts.password is not None:
            flag = "--base-url" if settings.base_url else "OPENAI_BASE_URL"
            raise SpecError(flag, None, f"the URL carries a user name or password: give the key in "
                                        f"${settings.api_key_env} instead")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            flag = "--base-url" if settings.base_url else "OPENAI_BASE_URL"
            raise SpecError(flag, None, f"{base_url(settings)!r} is not an http(s) URL")

    @staticmethod
    def endpoint(settings) -> str:
        return f"{base_url(settings)}/chat/completions"

    @staticmethod
    def endpoint_host(settings) -> str | None:
        return host_of(base_url(settings))

    @staticmethod
    def price(settings) -> Price | None:
        return load_prices(settings.prices_path).get(settings.model)

    @staticmethod
    def preflight(settings) -> str:
        """The key is there for OpenAI's endpoint; ``GET /models`` lists the model, or else one
        1-token completion succeeds (minimal servers answer 404 on ``/models``)."""
        key = api_key(settings)
        root, host = base_url(settings), host_of(base_url(settings))
        status, raw = _http(f"{root}/models", key, None)
        if status in (401, 403):
            raise SpecError(f"{root}/models", None, f"HTTP {status}: {error_message(raw)}")
        if status == 200:
            try:
                listed = {entry.get("id") for entry in json.loads(raw).get("data", [])}
            except (ValueError, AttributeError, TypeError):
                listed = set()
            if settings.model in listed:
                return f"{settings.judge} at {host} (listed by /models)"
        status, raw = _http(f"{root}/chat/completions", key, {
            "model": settings.model, "messages": [{"role": "user", "content": "Reply with the digit 1."}],
            "max_tokens": 1, "temperature": 0})
        if not 200 <= status < 300:
            raise SpecError(f"{root}/chat/completions", None, f"HTTP {status}: {error_message(raw)}")
        return f"{settings.judge} at {host} (answered a 1-token completion)"

    def __init__(self, settings):
        self.settings = settings
        self.scoring = settings.fixed_scoring
        api_key(settings)  # a missing key stops here, before any progress is shown

    def judge(self, calls: Sequence[Call], record: Record) -> None:
        run_async(self._judge(calls, record))

    async def _judge(self, calls: Sequence[Call], record: Record) -> None:
        pending = iter(calls)

        async def one(judge: OpenAIJudge, call: Call) -> None:
            try:
                verdict, usage = await judge.verdict(call.messages())
            except CallFailed as err:
                record(call, None, err.reason, None)
            except SpecError:
                raise  # the endpoint cannot serve: the run stops; verdicts received stay cached
            except Exception as err:  # an unexpected error still marks the call, never loses it
                record(call, None, f"{type(err).__name__}: {err}", None)
            else:
                record(call, verdict, None, (usage.input_tokens, usage.output_tokens) if usage else None)

        async def worker(judge: OpenAIJudge) -> None:
            for call in pending:
                await one(judge, call)

        async with OpenAIJudge(self.settings, self.scoring) as judge:
            try:
                if judge.scoring is None:  # one call at a time until the endpoint shows what it returns
                    for call in pending:
                        await one(judge, call)
                        if judge.scoring is not None:
                            break
                await asyncio.gather(*(worker(judge) for _ in range(min(self.settings.concurrency, len(calls)))))
            finally:
                self.scoring = judge.scoring
