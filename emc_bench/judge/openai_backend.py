"""The ``openai`` backend: any OpenAI-compatible chat-completions endpoint.

One call asks for a short reply at temperature 0 with the top-20 logprobs; the score is read
from the first token's top logprobs (see :mod:`.scoring`). An endpoint that returns no
logprobs gets its reply text parsed strictly. Retries (429, 5xx, timeouts, connection errors,
malformed replies) back off exponentially with jitter and honour ``Retry-After``; a call that
still fails raises :class:`CallFailed` with the reason.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from dataclasses import dataclass

from ..errors import SpecError
from .scoring import Verdict, verdict_from_logprobs, verdict_from_text
from .settings import JudgeSettings

TOP_LOGPROBS = 20
# The score reads only the first token; the room for a few more keeps the strict text fallback
# right for judges that spell "100" or "REFUSAL" with several tokens.
MAX_REPLY_TOKENS = 4
_RETRY_STATUS = frozenset({408, 409, 425, 429})


class CallFailed(Exception):
    """A judge call that could not be completed; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MalformedReply(ValueError):
    """A reply that is not a chat completion with a message."""


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


def api_key(settings: JudgeSettings) -> str:
    """The key from the environment; local endpoints (``base_url`` set) may go without one."""
    key = os.environ.get(settings.api_key_env)
    if key:
        return key
    if settings.base_url:
        return "unused"
    raise SpecError("environment", settings.api_key_env,
                    "is not set: export the judge API key, or give --base-url for a local endpoint")


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


def parse_completion(completion) -> tuple[Verdict, Usage | None]:
    """The verdict and token usage of a chat completion; :class:`MalformedReply` if it is none."""
    try:
        choice = completion.choices[0]
        content = choice.logprobs.content if choice.logprobs else None
        if content:
            first = content[0]
            pairs = [(t.token, t.logprob) for t in (first.top_logprobs or [first])]
            verdict = verdict_from_logprobs(pairs)
        elif isinstance(choice.message.content, str):
            verdict = verdict_from_text(choice.message.content)
        else:
            raise MalformedReply("reply has neither logprobs nor text")
        usage = completion.usage
        tokens = Usage(int(usage.prompt_tokens), int(usage.completion_tokens)) if usage else None
    except (AttributeError, IndexError, KeyError, TypeError) as err:
        raise MalformedReply(f"not a chat completion ({type(err).__name__})") from err
    return verdict, tokens


class OpenAIJudge:
    """Calls one model on one endpoint; ``await verdict(messages)`` retries as configured."""

    def __init__(self, settings: JudgeSettings):
        from openai import AsyncOpenAI

        self.settings = settings
        self._client = AsyncOpenAI(api_key=api_key(settings), base_url=settings.base_url,
                                   max_retries=0, timeout=settings.timeout)
        self._random = random.Random()

    def _backoff(self, attempt: int) -> float:
        delay = min(self.settings.max_backoff, self.settings.backoff * 2 ** attempt)
        return delay * (0.5 + 0.5 * self._random.random())

    async def verdict(self, messages: list[dict[str, str]]) -> tuple[Verdict, Usage | None]:
        import openai

        reason = "no attempt"
        for attempt in range(self.settings.max_attempts):
            wait = self._backoff(attempt)
            try:
                completion = await self._client.chat.completions.create(
                    model=self.settings.model, messages=messages, temperature=0,
                    max_tokens=MAX_REPLY_TOKENS, logprobs=True, top_logprobs=TOP_LOGPROBS)
                return parse_completion(completion)
            except openai.APIStatusError as err:
                if err.status_code not in _RETRY_STATUS and err.status_code < 500:
                    raise CallFailed(f"HTTP {err.status_code}: {err.message}") from err
                reason = f"HTTP {err.status_code}"
                wait = max(wait, min(self.settings.max_backoff, retry_after_seconds(err.response.headers)))
            except openai.APITimeoutError:
                reason = "timeout"
            except openai.APIConnectionError:
                reason = "connection error"
            except (openai.APIResponseValidationError, ValueError) as err:
                reason = f"malformed reply: {err}"
            if attempt + 1 < self.settings.max_attempts:
                await asyncio.sleep(wait)
        raise CallFailed(f"{reason} (after {self.settings.max_attempts} attempts)")

    async def close(self) -> None:
        await self._client.close()
