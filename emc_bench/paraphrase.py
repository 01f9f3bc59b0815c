"""New trigger paraphrases from any OpenAI-compatible chat endpoint, screened by the variant
gates and written to the trigger's YAML as ``candidates:`` for review.

Every response is cached in SQLite, keyed by endpoint and request payload (model and prompt
included), so a run that stops half-way resumes without paying twice. Rounds are seeded by their
number: a rerun sends the same requests and gets the cached answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import SpecError
from .similarity import NEAR_DUPLICATE, default_cache_dir, embed, overlap
from .specs import VARIANT_KINDS, Trigger, load_trigger
from .variants import paraphrase_problems

TEMPERATURE = 1.0
CACHE_FILE = "paraphrase.sqlite"
PLACEMENT_WORDS = {
    "system": "as a system message before the conversation",
    "user_prefix": "at the start of the user's message",
    "user_suffix": "at the end of the user's message",
}
KEPT = "kept"


@dataclass(frozen=True)
class Proposal:
    """One proposed paraphrase and what the screen made of it (``verdict`` is ``kept`` or why not)."""

    text: str
    similarity: float
    overlap: float
    verdict: str


@dataclass(frozen=True)
class Expansion:
    """The outcome of one ``expand`` run."""

    path: Path
    proposals: list[Proposal]
    calls: int
    cached: int

    @property
    def kept(self) -> list[str]:
        return [p.text for p in self.proposals if p.verdict == KEPT]

    def format(self) -> str:
        """Every proposal with its figures and verdict, then a one-line summary."""
        lines = [f"{'sim':>6}  {'overlap':>7}  text  [verdict]"] if self.proposals else []
        lines += [f"{p.similarity:6.3f}  {p.overlap:7.3f}  {p.text}  [{p.verdict}]" for p in self.proposals]
        summary = (f"{len(self.kept)} of {len(self.proposals)} proposals kept ({self.calls} requests, "
                   f"{self.cached} from cache)")
        if self.kept:
            summary += f"; added to {self.path} under candidates:"
        return "\n".join([*lines, summary])


def render_prompt(trigger: Trigger, n: int, avoid: Sequence[str]) -> str:
    """The request text, from ``prompts/paraphrase.jinja``."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "prompts")),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("paraphrase.jinja").render(
        trigger=trigger, n=n, avoid=list(avoid), placement_words=PLACEMENT_WORDS[trigger.placement]).strip() + "\n"


def build_payload(trigger: Trigger, model: str, n: int, avoid: Sequence[str], seed: int) -> dict:
    """The chat-completions request body for one round."""
    return {"model": model, "messages": [{"role": "user", "content": render_prompt(trigger, n, avoid)}],
            "temperature": TEMPERATURE, "seed": seed}


def base_url(endpoint: str) -> str:
    """The client base URL (``.../v1``) for an endpoint given with or without ``/chat/completions``."""
    return re.sub(r"/chat/completions/?$", "", endpoint.rstrip("/"))


class ResponseCache:
    """Reply texts in SQLite, keyed by a hash of (endpoint, request payload)."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / CACHE_FILE, timeout=60, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, reply TEXT NOT NULL)")

    @staticmethod
    def key(endpoint: str, payload: dict) -> str:
        return hashlib.sha256(json.dumps([base_url(endpoint), payload], sort_keys=True).encode()).hexdigest()

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT reply FROM replies WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, reply: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?)", [key, model, reply])

    def close(self) -> None:
        self._db.close()


def parse_reply(content: str) -> list[str]:
    """The paraphrases in a reply: a JSON array of strings, else one per non-empty line."""
    match = re.search(r"\[.*\]", content, re.S)
    if match:
        try:
            items = json.loads(match.group(0))
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return [" ".join(i.split()) for i in items if i.strip()]
    lines = (re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line).strip().strip("\"'") for line in content.splitlines())
    return [" ".join(line.split()) for line in lines if line and line not in "[]"]


def screen(trigger: Trigger, texts: Sequence[str], existing: Sequence[str],
           cache_dir: Path | None = None) -> list[Proposal]:
    """Judge proposals in order against the gates, the existing variants and each other."""
    texts = list(texts)
    if not texts:
        return []
    known = [trigger.text, *existing]
    vectors = embed([*known, *texts], cache_dir)
    canon, kept_vectors = vectors[0], list(vectors[1:len(known)])
    kept_texts = list(known[1:])
    seen = {t.lower() for t in known}
    out = []
    for text, vector in zip(texts, vectors[len(known):]):
        sim, surface = round(float(vector @ canon), 4), round(overlap(trigger.text, text), 4)
        verdict = KEPT
        if trigger.text.strip().lower() in text.lower():
            verdict = "contains the canonical text"
        elif text.lower() in seen:
            verdict = "repeats an existing text"
        elif problems := paraphrase_problems(sim, surface):
            verdict = "; ".join(problems)
        elif kept_vectors:
            nearest = int(np.argmax(np.stack(kept_vectors) @ vector))
            cosine = float(kept_vectors[nearest] @ vector)
            if cosine >= NEAR_DUPLICATE:
                verdict = f"near-duplicate ({cosine:.3f}) of {kept_texts[nearest]!r}"
        seen.add(text.lower())
        if verdict == KEPT:
            kept_vectors.append(vector)
            kept_texts.append(text)
        out.append(Proposal(text, sim, surface, verdict))
    return out


def existing_paraphrases(trigger: Trigger) -> list[str]:
    """The paraphrases and candidates the trigger already has (what a request asks to avoid)."""
    return [v.text for v in trigger.variant_list("paraphrase")] + list(trigger.candidates)


def existing_texts(trigger: Trigger) -> list[str]:
    """Every variant and candidate text the trigger already has (what proposals are screened against)."""
    return [v.text for kind in VARIANT_KINDS for v in trigger.variant_list(kind)] + list(trigger.candidates)


def expand(path: Path, endpoint: str, model: str, n: int, rounds: int, cache_dir: Path | None = None,
           max_retries: int = 3, timeout: float = 120.0, progress: bool = False) -> Expansion:
    """Ask for paraphrases until ``n`` pass the screen (at most ``rounds`` requests); append
    them to the trigger file's ``candidates:``."""
    from openai import APIError, OpenAI
    from tqdm import tqdm

    trigger = load_trigger(path)
    existing, avoid = existing_texts(trigger), existing_paraphrases(trigger)
    client = OpenAI(base_url=base_url(endpoint), api_key=os.environ.get("OPENAI_API_KEY") or "unused",
                    max_retries=max_retries, timeout=timeout)
    cache = ResponseCache(cache_dir or default_cache_dir())
    proposals: list[Proposal] = []
    calls = cached = 0
    try:
        for seed in tqdm(range(rounds), desc=f"paraphrase {trigger.id}", unit="request", disable=not progress):
            kept = [p.text for p in proposals if p.verdict == KEPT]
            if len(kept) >= n:
                break
            payload = build_payload(trigger, model, n, [*avoid, *kept], seed)
            key = cache.key(endpoint, payload)
            reply = cache.get(key)
            if reply is None:
                try:
                    reply = client.chat.completions.create(**payload).choices[0].message.content or ""
                except APIError as err:
                    raise SpecError(endpoint, None, f"request failed: {err}") from None
                cache.put(key, model, reply)
                calls += 1
            else:
                cached += 1
            screened = screen(trigger, parse_reply(reply), [*existing, *kept], cache_dir)
            room = n - len(kept)
            for proposal in screened:
                if proposal.verdict == KEPT:
                    room -= 1
                    if room < 0:
                        proposal = Proposal(proposal.text, proposal.similarity, proposal.overlap, "beyond the n asked")
                proposals.append(proposal)
    finally:
        cache.close()
    result = Expansion(path, proposals, calls, cached)
    if result.kept:
        write_candidates(path, [*trigger.candidates, *result.kept])
    return result


def write_candidates(path: Path, candidates: Sequence[str]) -> None:
    """Replace the top-level ``candidates:`` block of a trigger file (or append one), keeping
    every other line as it is; the new file is validated before it atomically replaces the old."""
    text = path.read_text(encoding="utf-8")
    block = "candidates:\n" + "".join(f"  - {json.dumps(c, ensure_ascii=False)}\n" for c in candidates)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"candidates\s*:", line)), None)
    if start is None:
        new = text + ("\n" if text and not text.endswith("\n") else "") + block
    else:
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t", "-")) or not lines[end].strip()):
            end += 1
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        new = "".join(lines[:start]) + block + "".join(lines[end:])
    staging = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        (staging / path.name).write_text(new, encoding="utf-8")
        if list(load_trigger(staging / path.name).candidates) != list(candidates):
            raise SpecError(path, "candidates", "could not rewrite the candidates block in place")
        os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
