"""A local OpenAI-compatible chat-completions server with fault injection and call counting.

Used by the judge tests and ``benchmarks/judge.py``; any test that needs a judge endpoint can
reuse it::

    with FakeOpenAIServer() as server:
        settings = JudgeSettings.from_spec("openai:fake", base_url=server.base_url)
        ...
        assert server.calls == 2

What a call gets back is decided by a *responder*: a function of the request (its prompt text
and how many times that exact prompt was seen before) returning a :class:`Reply`. The default
responder, :func:`scripted`, reads markers that a test writes into the prompt (for example
inside the answer under judgement):

- ``[[faults: 429, 500, timeout, malformed, shapeless, nologprobs]]``: the first calls for this
  prompt fail in that order (``429`` carries ``Retry-After``, see ``retry_after``; ``nologprobs``
  is a well-formed reply whose logprobs are missing, its text the most likely token), later calls
  succeed;
- ``[[dist: 85=0.6, 90=0.3, REFUSAL=0.1]]``: the top logprobs of the one-token answer;
- ``[[text: 85]]``: a reply with that text and no logprobs at all.

Without a ``dist``/``text`` marker the reply is a deterministic distribution derived from the
prompt. ``FakeOpenAIServer(logprobs=False)`` stands for an endpoint that never returns logprobs
(each reply carries only its most likely token as text); ``models=[...]`` makes ``GET /models``
list those ids (without it ``/models`` is a 404, as on minimal servers).

Run as a script (``python tests/fake_openai_server.py --latency 0.1``) it prints its base URL on
the first line and serves until killed; ``GET /stats`` returns the call count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

_MARKER = re.compile(r"\[\[(faults|dist|text):([^\]]*)\]\]")


@dataclass(frozen=True)
class Reply:
    """One reply of the server. Build it with the functions below rather than by hand."""

    kind: str  # logprobs | text | status | timeout | malformed | shapeless | nologprobs
    top: dict[str, float] = field(default_factory=dict)
    text: str = ""
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0


def logprobs(top: dict[str, float]) -> Reply:
    """A one-token answer whose top logprobs are ``log(p)`` for each token -> probability."""
    return Reply("logprobs", top=dict(top))


def text(content: str) -> Reply:
    """A reply with this message text and ``logprobs: null``."""
    return Reply("text", text=content)


def without_logprobs(reply: Reply) -> Reply:
    """The same answer with its logprobs dropped: only the most likely token, as text."""
    if reply.kind != "logprobs":
        return reply
    top = max(reply.top, key=reply.top.get) if reply.top else ""
    return Reply("nologprobs", text=top)


def status(code: int, retry_after: float | None = None) -> Reply:
    """An HTTP error with an OpenAI-style error body and optionally ``Retry-After`` (seconds)."""
    return Reply("status", status=code, retry_after=retry_after)


def timeout(delay: float) -> Reply:
    """Answer only after ``delay`` seconds (longer than the client's timeout)."""
    return Reply("timeout", delay=delay)


def malformed() -> Reply:
    """HTTP 200 with a body that is not JSON."""
    return Reply("malformed")


def shapeless() -> Reply:
    """HTTP 200 with valid JSON that is not a chat completion."""
    return Reply("shapeless")


@dataclass(frozen=True)
class Request:
    """What a responder sees: the request body, its prompt text and the attempt number (0-based)."""

    body: dict
    prompt: str
    attempt: int


@dataclass(frozen=True)
class Call:
    """One call as the server logged it."""

    prompt: str
    attempt: int
    kind: str
    time: float
    authorization: str
    body: dict


def default_distribution(prompt: str) -> dict[str, float]:
    """A deterministic, prompt-dependent distribution: mostly one number, some mass on another."""
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    first, second = digest % 101, (digest // 101) % 101
    if first == second:
        return {str(first): 0.9}
    return {str(first): 0.7, str(second): 0.2}


def scripted(request: Request, *, retry_after: float = 1.0, timeout_delay: float = 5.0) -> Reply:
    """The default responder: follow the ``[[...]]`` markers in the prompt (see module doc)."""
    markers = {name: value.strip() for name, value in _MARKER.findall(request.prompt)}
    faults = [f.strip() for f in markers.get("faults", "").split(",") if f.strip()]
    if request.attempt < len(faults):
        fault = faults[request.attempt]
        if fault == "nologprobs":
            return without_logprobs(_answer(markers, request.prompt))
        if fault == "429":
            return status(429, retry_after=retry_after)
        if fault.isdigit():
            return status(int(fault))
        if fault == "timeout":
            return timeout(timeout_delay)
        return {"malformed": malformed(), "shapeless": shapeless()}[fault]
    return _answer(markers, request.prompt)


def _answer(markers: dict[str, str], prompt: str) -> Reply:
    if "text" in markers:
        return text(markers["text"])
    if "dist" in markers:
        pairs = (item.split("=") for item in markers["dist"].split(",") if item.strip())
        return logprobs({token.strip(): float(p) for token, p in pairs})
    return logprobs(default_distribution(prompt))


Responder = Callable[[Request], Reply]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the default (5) drops connections when many clients connect at once


class FakeOpenAIServer:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint on 127.0.0.1, on a free port.

    ``latency`` seconds are spent before every reply. ``calls`` counts requests; ``log`` keeps
    one :class:`Call` per request; ``count(text)`` counts the calls whose prompt contains ``text``.
    """

    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0,
                 retry_after: float = 1.0, timeout_delay: float = 5.0, logprobs: bool = True,
                 models: list[str] | None = None):
        self.responder = responder or (lambda req: scripted(req, retry_after=retry_after,
                                                           timeout_delay=timeout_delay))
        self.latency = latency
        self.logprobs = logprobs
        self.models = models
        self.gets: list[str] = []
        self.log: list[Call] = []
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.log)

    def count(self, text: str) -> int:
        with self._lock:
            return sum(text in call.prompt for call in self.log)

    def prompts(self) -> list[str]:
        """The prompt of every call, in arrival order."""
        with self._lock:
            return [call.prompt for call in self.log]

    def start(self) -> FakeOpenAIServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until the process ends (the script mode)."""
        self._httpd.serve_forever()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _record(self, body: dict) -> Request:
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        with self._lock:
            attempt = self._seen[prompt]
            self._seen[prompt] += 1
        return Request(body=body, prompt=prompt, attempt=attempt)

    def _log(self, request: Request, reply: Reply, authorization: str) -> None:
        with self._lock:
            self.log.append(Call(request.prompt, request.attempt, reply.kind, time.monotonic(), authorization,
                                 request.body))


def completion_body(reply: Reply, model: str, top_n: int, prompt_chars: int) -> dict:
    """The JSON body of a successful chat completion for ``reply``."""
    usage = {"prompt_tokens": max(1, prompt_chars // 4), "completion_tokens": 1,
             "total_tokens": max(1, prompt_chars // 4) + 1}
    if reply.kind in ("text", "nologprobs"):
        content, lp = reply.text, None
    else:
        ranked = sorted(reply.top.items(), key=lambda kv: -kv[1])[:top_n]
        entries = [{"token": tok, "logprob": math.log(p) if p > 0 else -9999.0, "bytes": list(tok.encode())}
                   for tok, p in ranked]
        content = ranked[0][0] if ranked else ""
        lp = {"content": [{**entries[0], "top_logprobs": entries}] if entries else [], "refusal": None}
    choice = {"index": 0, "message": {"role": "assistant", "content": content},
              "finish_reason": "length", "logprobs": lp}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [choice], "usage": usage}


def _make_handler(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            with server._lock:
                server.gets.append(self.path)
            if self.path.rstrip("/").endswith("/stats"):
                self._send(200, json.dumps({"calls": server.calls}).encode())
            elif self.path.rstrip("/").endswith("/models") and server.models is not None:
                data = [{"id": name, "object": "model", "owned_by": "fake"} for name in server.models]
                self._send(200, json.dumps({"object": "list", "data": data}).encode())
            else:
                self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            body = json.loads(raw)
            request = server._record(body)
            reply = server.responder(request)
            if not server.logprobs:
                reply = without_logprobs(reply)
            server._log(request, reply, self.headers.get("Authorization", ""))
            time.sleep(server.latency + reply.delay)
            if reply.kind == "status":
                headers = {"Retry-After": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
                error = {"error": {"message": f"injected HTTP {reply.status}", "type": "fake", "code": None}}
                self._send(reply.status, json.dumps(error).encode(), headers)
            elif reply.kind == "malformed":
                self._send(200, b'{"id": "chatcmpl-fake", "choices": [{"mess')
            elif reply.kind == "shapeless":
                self._send(200, b'{"object": "list", "data": []}')
            else:
                top_n = int(body.get("top_logprobs") or 0) or 20
                payload = completion_body(reply, body.get("model", ""), top_n, len(request.prompt))
                if not body.get("logprobs"):
                    payload["choices"][0]["logprobs"] = None
                self._send(200, json.dumps(payload).encode())

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every reply")
    args = parser.parse_args()
    server = FakeOpenAIServer(latency=args.latency)
    print(server.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
