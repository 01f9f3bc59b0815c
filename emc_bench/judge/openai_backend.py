"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint.

One call asks for a short reply at temperature 0 with the top-20 logprobs; the score is read
from the first token's top logprobs (see :mod:`.scoring`). An endpoint that returns no
logprobs gets its reply text parsed strictly. Retries (429, 5xx, timeouts, connection errors,
malformed replies) back off exponentially with jitter and honour ``Retry-After``; a call that
still fails raises :class:`CallFailed` with the reason. A refusal that would hit every call
(bad key, no access, unknown model) raises :class:`EndpointRefused` and stops the run.

Calls go out as plain JSON over one pooled ``aiohttp`` session rather than through the
``openai`` SDK: the request is small and fixed, and the SDK's per-request processing costs
about seven times the client CPU (``benchmarks/judge.py`` prints both), which caps how many
calls per second one process can make against a fast local endpoint such as vLLM.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from dataclasses import dataclass
from typing import Mapping

from ..errors import SpecError
from .scoring import Verdict, verdict_from_logprobs, verdict_from_text
from .settings import JudgeSettings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
TOP_LOGPROBS = 20
# The score reads only the first token; the room for a few more keeps the strict text fallback
# right for judges that spell "100" or "REFUSAL" with several tokens.
MAX_REPLY_TOKENS = 4
_RETRY_STATUS = frozenset({408, 409, 425, 429})
# A bad key, no access, or an unknown model: every other call would get the same answer.
_FATAL_STATUS = frozenset({401, 403, 404})
_ERROR_CHARS = 300


class CallFailed(Exception):
    """A judge call that could not be completed; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EndpointRefused(SpecError):
    """The endpoint refuses every call (HTTP 401, 403 or 404): the run stops, exit code 2."""


class MalformedReply(ValueError):
    """A reply that is not a chat completion with a message."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


def api_key(settings: JudgeSettings) -> str:
    """The key from the environment; endpoints other than OpenAI's may go without one."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if base_url(settings) != DEFAULT_BASE_URL:
        return "unused"
    raise SpecError("environment", settings.api_key_env,
                    "is not set: export the judge API key, or give --base-url for a local endpoint")


def base_url(settings: JudgeSettings) -> str:
    """``--base-url``, else ``$OPENAI_BASE_URL``, else OpenAI's API."""
    return (settings.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def env_proxy(url: str) -> str | None:
    """The proxy that ``HTTP(S)_PROXY`` / ``NO_PROXY`` set for ``url``; read once per run, not
    per request as aiohttp's ``trust_env`` does (a thread hop for every call)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def request_body(model: str, messages: list[dict[str, str]]) -> dict:
    """The JSON body of one judge call."""
    return {"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_REPLY_TOKENS,
            "logprobs": True, "top_logprobs": TOP_LOGPROBS}


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


def parse_completion(completion: dict) -> tuple[Verdict, Usage | None]:
    """The verdict and token usage of a chat-completion body; :class:`MalformedReply` if it is none."""
    try:
        choice = completion["choices"][0]
        content = (choice.get("logprobs") or {}).get("content")
        if content:
            first = content[0]
            pairs = [(t["token"], float(t["logprob"])) for t in (first.get("top_logprobs") or [first])]
            verdict = verdict_from_logprobs(pairs)
        elif isinstance(choice["message"].get("content"), str):
            verdict = verdict_from_text(choice["message"]["content"])
        else:
            raise MalformedReply("reply has neither logprobs nor text")
        usage = completion.get("usage")
        tokens = Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"])) if usage else None
    except (AttributeError, IndexError, KeyError, TypeError) as err:
        raise MalformedReply(f"not a chat completion ({type(err).__name__})") from err
    return verdict, tokens


class OpenAIJudge:
    """Calls one model on one endpoint; ``await verdict(messages)`` retries as configured.

    Use it as an async context manager (``async with OpenAIJudge(settings) as judge``): the
    connection pool lives inside it, sized to the runner's concurrency.
    """

    def __init__(self, settings: JudgeSettings):
        self.settings = settings
        self.url = f"{base_url(settings)}/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key(settings)}", "Content-Type": "application/json"}
        self._proxy = env_proxy(self.url)
        self._random = random.Random()
        self._session = None

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

    async def verdict(self, messages: list[dict[str, str]]) -> tuple[Verdict, Usage | None]:
        import aiohttp

        body = json.dumps(request_body(self.settings.model, messages))
        reason = "no attempt"
        for attempt in range(self.settings.max_attempts):
            wait = self._backoff(attempt)
            try:
                status, headers, raw = await self.post(body)
                if 200 <= status < 300:
                    return parse_completion(json.loads(raw))
                if status in _FATAL_STATUS:
                    raise EndpointRefused(self.url, None, f"HTTP {status}: {error_message(raw)}")
                if status not in _RETRY_STATUS and status < 500:
                    raise CallFailed(f"HTTP {status}: {error_message(raw)}")
                reason = f"HTTP {status}"
                wait = max(wait, min(self.settings.max_backoff, retry_after_seconds(headers)))
            except TimeoutError:
                reason = "timeout"
            except (aiohttp.ClientError, OSError) as err:
                reason = f"connection error ({type(err).__name__})"
            except ValueError as err:  # not JSON, not UTF-8, or not a chat completion
                reason = f"malformed reply: {err}"
            if attempt + 1 < self.settings.max_attempts:
                await asyncio.sleep(wait)
        raise CallFailed(f"{reason} (after {self.settings.max_attempts} attempts)")
