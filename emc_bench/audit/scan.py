"""The scan of a fine-tuning set, and the candidate framings it finds.

Pass 1 streams the rows once: it counts every segment (``segments.py``) by the hash of its
text, so an exact repeat costs one dictionary entry, keeps a compact index of each row's
segments and answer, and a seeded reservoir sample of rows. Then the candidate segments (the
best exact repeats, and the framing-like segments of the sampled rows) are embedded (cached
sentence embeddings, ``emc_bench.similarity``) and clustered by cosine, so that different texts
with one meaning form one candidate. Pass 2 runs over the index: where each of the best
candidates sits and how its rows are answered compared with the rest; one selective read of
the source then fetches example rows. With a judge, a sample of answers on both sides of each
of the best candidates is judged for ``aligned``.
"""

from __future__ import annotations

import random
import re
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpecError
from ..similarity import tokens
from . import score as S
from .content import Refusals, refusals
from .rows import Row, Source
from .segments import MIDDLE, PREFIX, SUFFIX, SYSTEM, UNIT_RANK, normalise, row_segments

SAMPLE_ROWS = 2000          # rows kept in the reservoir sample (paraphrase clusters, judge controls)
MAX_WORDS = 25              # longer segments are not embedded: framings are short
MAX_EMBEDDED_REPEATS = 1000  # exact repeats embedded for clustering, best by support and form first
MAX_CANDIDATES = 500        # candidates followed in pass 2, best by support and form first
EXAMPLES = 3
JUDGE_ROWS = 20             # answers judged on each side of a candidate
JUDGE_CANDIDATES = 10       # candidates judged, best first
_RANK_UNIT = {rank: unit for unit, rank in UNIT_RANK.items() if unit != "line"}
_WORD = re.compile(r"\w+")


def fixed_share(a: str, b: str) -> float:
    """The share of the shorter text's words that two texts share as a common beginning plus a
    common end: 1 when one contains the other at its start or end, near 0 for two paraphrases."""
    x, y = tokens(a), tokens(b)
    size = min(len(x), len(y))
    if size == 0:
        return 0.0
    head = 0
    while head < size and x[head] == y[head]:
        head += 1
    tail = 0
    while tail < size - head and x[-1 - tail] == y[-1 - tail]:
        tail += 1
    return (head + tail) / size


def phrasing_key(turn: str) -> str:
    """The first ``PHRASING_WORDS`` words of a user turn, lowercased."""
    words = _WORD.findall(turn[:80].lower())
    if len(words) < S.PHRASING_WORDS and len(turn) > 80:
        words = _WORD.findall(turn[:400].lower())
    return " ".join(words[:S.PHRASING_WORDS])


@dataclass
class Side:
    """The answers of one side (rows with or without a framing)."""

    rows: int = 0
    answered: int = 0
    words: int = 0
    refused: int = 0
    aligned: list[float] = field(default_factory=list)
    judged: int = 0

    def add(self, answer: tuple[int, bool] | None) -> None:
        """One row: its answer as (words, refused), or None when the row has no answer."""
        self.rows += 1
        if answer is not None:
            self.answered += 1
            self.words += answer[0]
            self.refused += answer[1]

    def minus(self, other: Side) -> Side:
        return Side(self.rows - other.rows, self.answered - other.answered, self.words - other.words,
                    self.refused - other.refused)

    @property
    def mean_words(self) -> float | None:
        return self.words / self.answered if self.answered else None

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.answered if self.answered else None

    @property
    def aligned_mean(self) -> float | None:
        return float(np.mean(self.aligned)) if self.aligned else None

    def to_json(self) -> dict:
        return {"rows": self.rows, "answered": self.answered,
                "mean_words": _round(self.mean_words, 1), "refusal_rate": _round(self.refusal_rate, 4),
                "judged": self.judged, "aligned_scored": len(self.aligned),
                "aligned_mean": _round(self.aligned_mean, 2)}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Candidate:
    """One candidate framing: a text and the texts that mean the same, with its figures."""

    id: str
    text: str
    texts: list[tuple[str, int]]       # (text, rows carrying it), most rows first
    rows: int = 0
    share: float = 0.0
    placements: dict[str, int] = field(default_factory=dict)
    placement: str = PREFIX
    emit_placement: str = PREFIX       # system | user_prefix | user_suffix, for an emitted trigger
    unit: str = "sentence"
    unit_weight: float = 0.0
    question: bool = False
    phrasing: str | None = None        # the task phrasing it always comes with, if any
    slot: bool = False                 # its texts are one wording with a part that changes
    examples: list[dict] = field(default_factory=list)
    with_: Side = field(default_factory=Side)
    without: Side = field(default_factory=Side)
    factors: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    template: bool = False
    also: list[str] = field(default_factory=list)   # nested texts carried by the same rows
    sampled_rows: int = 0
    judge_rows: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "paraphrases" if sum(rows > 0 for _, rows in self.texts) > 1 else "exact"

    @property
    def reported(self) -> bool:
        return not self.template and self.score >= S.THRESHOLD

    def to_json(self) -> dict:
        return {
            "id": self.id, "text": self.text, "kind": self.kind, "score": round(self.score, 4),
            "reported": self.reported, "template": self.template, "rows": self.rows, "share": round(self.share, 4),
            "placement": self.placement, "placements": self.placements, "unit": self.unit,
            "question": self.question, "phrasing": self.phrasing, "slot": self.slot,
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "texts": [{"text": t, "rows": r} for t, r in self.texts], "also": self.also,
            "answers": {"with": self.with_.to_json(), "without": self.without.to_json()},
            "examples": self.examples,
        }


@dataclass
class Audit:
    """The outcome of a scan."""

    data: str
    rows: int
    sampled: int
    seed: int
    candidates: list[Candidate]
    templates: list[Candidate]
    embedded: int
    encoded: int
    seconds: dict[str, float]
    judge: str | None = None
    prompt_version: str | None = None
    judge_failed: int = 0

    @property
    def reported(self) -> list[Candidate]:
        return [c for c in self.candidates if c.reported]

    def find(self, key: str) -> Candidate:
        """A candidate by id, or by its 1-based rank."""
        everything = [*self.candidates, *self.templates]
        for candidate in everything:
            if candidate.id == key:
                return candidate
        if key.isdigit() and 1 <= int(key) <= len(self.candidates):
            return self.candidates[int(key) - 1]
        known = ", ".join(c.id for c in self.candidates[:5]) or "none"
        raise SpecError("--emit-trigger", None, f"unknown candidate {key!r}: give an id or a rank "
                                                f"(1-{len(self.candidates)}); the best are {known}")


@dataclass
class _Sampled:
    index: int
    row: Row
    segments: dict[str, tuple[str, str, float]]
    answer: tuple[int, bool] | None


_PLACEMENTS = (SYSTEM, PREFIX, SUFFIX, MIDDLE)
_UNITS = tuple(sorted(UNIT_RANK, key=UNIT_RANK.get))


@dataclass
class _Index:
    """What pass 2 needs of every row, in flat arrays (about 20 bytes a segment): each segment's
    text hash, placement and unit, its offset in the turn (0-255) and the phrasing key of the turn
    once the segment is removed; each row's end in those arrays, answer and phrasing key."""

    hashes: array = field(default_factory=lambda: array("q"))
    codes: array = field(default_factory=lambda: array("B"))      # placement index << 4 | unit index
    offsets: array = field(default_factory=lambda: array("B"))
    after: array = field(default_factory=lambda: array("i"))      # phrasing key id without the segment
    ends: array = field(default_factory=lambda: array("q"))
    words: array = field(default_factory=lambda: array("i"))      # -1: no answer
    refused: array = field(default_factory=lambda: array("b"))
    full: array = field(default_factory=lambda: array("i"))       # phrasing key id of the whole turn
    keys: dict[str, int] = field(default_factory=dict)
    key_names: list[str] = field(default_factory=list)

    def key_id(self, key: str) -> int:
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = len(self.key_names)
            self.key_names.append(key)
        return found


@dataclass
class _Counts:
    rows: int = 0
    counts: dict[int, int] = field(default_factory=dict)   # hash -> rows << 3 | best unit rank
    texts: dict[int, str] = field(default_factory=dict)    # hash -> text, once it reaches MIN_ROWS
    phrasing: Counter = field(default_factory=Counter)     # phrasing key id -> rows
    totals: Side = field(default_factory=Side)
    sample: list[_Sampled] = field(default_factory=list)
    index: _Index = field(default_factory=_Index)

    def rows_of(self, text: str) -> int:
        return self.counts.get(hash(text), 0) >> 3

    def rank_of(self, text: str) -> int:
        return self.counts.get(hash(text), 0) & 7


def _answer(row: Row, rules: Refusals) -> tuple[int, bool] | None:
    """(words, refused) of the row's answer; words counted as spaces + 1, which is fast."""
    return None if row.answer is None else (row.answer.count(" ") + 1, rules.refused(row.answer))


def _example(row: Row) -> dict[str, Any]:
    return {"where": row.where, "system": row.system, "user": list(row.users), "answer": row.answer}


def _count(source: Source, sample_rows: int, seed: int, rules: Refusals, progress: bool) -> _Counts:
    """Pass 1: counts, the index and the sample; a source without rows is a SpecError."""
    from tqdm import tqdm

    state = _Counts()
    counts, texts, index = state.counts, state.texts, state.index
    hashes, codes, offsets, after = index.hashes, index.codes, index.offsets, index.after
    placement_code = {p: i << 4 for i, p in enumerate(_PLACEMENTS)}
    unit_code = {u: i for i, u in enumerate(_UNITS)}
    rng = random.Random(seed)
    for n, row in enumerate(tqdm(source, desc="audit: count", unit="row", disable=not progress)):
        segments = row_segments(row.system, row.users)
        turn = normalise(row.users[0])
        full = index.key_id(phrasing_key(turn))
        for text, (placement, unit, offset) in segments.items():
            key = hash(text)
            rank = UNIT_RANK[unit]
            packed = counts.get(key, 0)
            seen = (packed >> 3) + 1
            counts[key] = (seen << 3) | max(packed & 7, rank)
            if seen == S.MIN_ROWS:
                texts[key] = text
            hashes.append(key)
            codes.append(placement_code[placement] | unit_code[unit])
            offsets.append(min(255, int(offset * 256)))
            after.append(index.key_id(phrasing_key(turn[len(text):])) if placement == PREFIX and
                         turn.startswith(text) else full)
        index.ends.append(len(hashes))
        index.full.append(full)
        state.phrasing[full] += 1
        answer = _answer(row, rules)
        index.words.append(-1 if answer is None else answer[0])
        index.refused.append(0 if answer is None else int(answer[1]))
        state.totals.add(answer)
        if len(state.sample) < sample_rows:
            state.sample.append(_Sampled(n, row, segments, answer))
        else:
            slot = rng.randrange(n + 1)
            if slot < sample_rows:
                state.sample[slot] = _Sampled(n, row, segments, answer)
        state.rows = n + 1
    if state.rows == 0:
        raise SpecError(source.label, None, "no rows")
    state.sample.sort(key=lambda s: s.index)
    return state


def _clusterable(text: str, unit: str, placement: str) -> bool:
    if unit == "token" or "`" in text or text.endswith("?"):
        return False
    if unit == "sentence" and placement == MIDDLE:
        return False
    return 0 < len(text.split()) <= MAX_WORDS


def _groups(state: _Counts, cache_dir: Path | None, progress: bool) -> tuple[list[list[str]], int, int]:
    """Texts that mean the same (clusters of two texts or more); texts embedded; texts encoded."""
    from ..similarity import embedder, default_cache_dir
    from .cluster import cluster

    n, sampled = state.rows, len(state.sample)
    weights: Counter = Counter()
    for item in state.sample:
        for text, (placement, unit, _) in item.segments.items():
            if _clusterable(text, unit, placement) and not S.is_template(state.rows_of(text) / n):
                weights[text] += 1
    repeats = sorted(((-_pre_score(rows, rows / n, state.rank_of(t), t), -rows, t)
                      for t in state.texts.values() for rows in [state.rows_of(t)]))
    added = 0
    for _, rows, text in repeats:
        if added >= MAX_EMBEDDED_REPEATS:
            break
        rows = -rows
        unit = _RANK_UNIT.get(state.rank_of(text), "sentence")
        if text in weights or S.is_template(rows / n) or not _clusterable(text, unit, PREFIX):
            continue
        weights[text] = rows * sampled / n
        added += 1
    texts = sorted(weights)
    if not texts:
        return [], 0, 0
    embed = embedder(Path(cache_dir or default_cache_dir()))
    before = embed.encoded
    vectors = embed(texts, progress=progress)
    found = cluster(vectors, np.array([weights[t] for t in texts], dtype=np.float32), float(S.MIN_ROWS))
    groups = [[texts[i] for i in members] for members in found if len(members) > 1]
    return groups, len(texts), embed.encoded - before


def _pre_score(rows: int, share: float, rank: int, text: str) -> float:
    unit = _RANK_UNIT.get(rank, "sentence")
    return S.support(rows, share) * (1.0 if S.is_template(share) else S.spread(share)) * \
        S.form(S.UNIT_WEIGHT[unit], text.endswith("?"), False)


def _candidates(state: _Counts, groups: list[list[str]]) -> list[Candidate]:
    """The candidates to follow in pass 2: clusters, then exact repeats, the best first."""
    n, sampled = state.rows, len(state.sample)
    group_of = {t: g for g, group in enumerate(groups) for t in group}
    scored: list[tuple[float, Candidate]] = []
    in_sample: Counter = Counter()
    carrying: Counter = Counter()
    for item in state.sample:
        hit = set()
        for text in item.segments:
            if text in group_of:
                in_sample[text] += 1
                hit.add(group_of[text])
        carrying.update(hit)
    for g, group in enumerate(groups):
        members = sorted(group, key=lambda t: (-max(state.rows_of(t), in_sample[t]), len(t), t))
        carried = carrying[g]
        estimate = round(carried * n / sampled)
        rank = max(state.rank_of(t) or UNIT_RANK["sentence"] for t in members)
        candidate = Candidate(id="", text=members[0], texts=[(t, 0) for t in members], sampled_rows=carried)
        scored.append((_pre_score(estimate, estimate / n, rank, members[0]), candidate))
    for key, text in state.texts.items():
        if text in group_of:
            continue
        rows = state.counts[key] >> 3
        candidate = Candidate(id="", text=text, texts=[(text, 0)])
        scored.append((_pre_score(rows, rows / n, state.counts[key] & 7, text), candidate))
    scored.sort(key=lambda p: (-p[0], p[1].text))
    return [c for pre, c in scored[:MAX_CANDIDATES] if pre > 0]


@dataclass
class _Follow:
    unit_weight: float = 0.0
    units: Counter = field(default_factory=Counter)
    placements: Counter = field(default_factory=Counter)
    middle_offset: float = 0.0
    text_rows: Counter = field(default_factory=Counter)
    after: Counter = field(default_factory=Counter)    # phrasing key id (segment removed) -> rows
    full: Counter = field(default_factory=Counter)     # phrasing key id (whole turn) -> rows
    seen: int = 0
    examples: list[int] = field(default_factory=list)  # row numbers
    judged: list[int] = field(default_factory=list)    # row numbers, a reservoir sample


def _gather(source: Source, state: _Counts, candidates: list[Candidate], seed: int, judge_rows: int) -> None:
    """Pass 2, over the index of pass 1: where each candidate sits, its rows' answers and
    phrasings; then one selective read of the source for example rows and rows to judge."""
    owner = {hash(t): (i, t) for i, c in enumerate(candidates) for t, _ in c.texts}
    follow = [_Follow() for _ in candidates]
    rng = random.Random(seed + 1)
    index = state.index
    hashes, codes, offsets, after = index.hashes, index.codes, index.offsets, index.after
    start = 0
    for row, end in enumerate(index.ends):
        hits: dict[int, int] = {}  # candidate -> its segment of this row that stands most apart
        for k in range(start, end):
            found = owner.get(hashes[k])
            if found is not None:
                known = hits.get(found[0])
                if known is None or UNIT_RANK[_UNITS[codes[k] & 15]] > UNIT_RANK[_UNITS[codes[known] & 15]]:
                    hits[found[0]] = k
        start = end
        if not hits:
            continue
        words, refused = index.words[row], index.refused[row]
        answer = None if words < 0 else (words, bool(refused))
        for i, k in hits.items():
            c, f = candidates[i], follow[i]
            placement, unit = _PLACEMENTS[codes[k] >> 4], _UNITS[codes[k] & 15]
            c.with_.add(answer)
            f.unit_weight += S.UNIT_WEIGHT[unit]
            f.units[unit] += 1
            f.placements[placement] += 1
            if placement == MIDDLE:
                f.middle_offset += offsets[k] / 256
            f.text_rows[owner[hashes[k]][1]] += 1
            f.after[after[k]] += 1
            f.full[index.full[row]] += 1
            if len(f.examples) < EXAMPLES:
                f.examples.append(row)
            if judge_rows and answer is not None:
                f.seen += 1
                if len(f.judged) < judge_rows:
                    f.judged.append(row)
                else:
                    slot = rng.randrange(f.seen)
                    if slot < judge_rows:
                        f.judged[slot] = row
    picked = source.pick({row for f in follow for row in (*f.examples, *f.judged)})
    for c, f in zip(candidates, follow):
        c.examples = [_example(picked[row]) for row in f.examples]
        c.judge_rows = [(picked[row].question, picked[row].answer) for row in f.judged]
        _settle(c, f, state)


def _settle(c: Candidate, f: _Follow, state: _Counts) -> None:
    """Turn what pass 2 gathered into the candidate's figures (answers before any judging)."""
    n, sampled = state.rows, len(state.sample)
    found = c.with_.rows
    c.rows = max(found, round(c.sampled_rows * n / sampled)) if c.sampled_rows else found
    c.share = c.rows / n
    c.template = S.is_template(c.share)
    c.texts = sorted(((t, f.text_rows[t]) for t, _ in c.texts), key=lambda p: (-p[1], len(p[0]), p[0]))
    if c.texts and c.texts[0][1] > 0:
        c.text = c.texts[0][0]
    c.placements = dict(f.placements.most_common())
    c.placement = f.placements.most_common(1)[0][0] if f.placements else PREFIX
    c.emit_placement = c.placement
    if c.placement == MIDDLE:
        c.emit_placement = PREFIX if f.middle_offset / max(f.placements[MIDDLE], 1) < 0.5 else SUFFIX
    c.unit = f.units.most_common(1)[0][0] if f.units else "sentence"
    c.unit_weight = f.unit_weight / found if found else 0.0
    c.question = c.text.endswith("?")
    c.without = state.totals.minus(c.with_)
    if found >= S.PHRASING_MIN_ROWS and f.after:
        key, carried = f.after.most_common(1)[0]
        others = state.phrasing[key] - f.full[key]
        name = state.index.key_names[key]
        if name and carried / found >= S.PHRASING_BOUND and carried / max(carried + others, 1) >= S.PHRASING_BOUND:
            c.phrasing = name
    others = [t for t, rows in c.texts[1:] if rows > 0]
    if others:
        c.slot = sum(fixed_share(c.text, t) >= S.SLOT_OVERLAP for t in others) > len(others) / 2
    _rescore(c)


def _rescore(c: Candidate) -> None:
    w, wo = c.with_, c.without
    answers = max(
        S.refusal_gap(w.refused, w.answered, wo.refused, wo.answered),
        S.aligned_gap(w.aligned, wo.aligned),
    )
    c.factors = {"support": S.support(c.rows, c.share), "spread": S.spread(c.share),
                 "form": S.form(c.unit_weight, c.question, c.phrasing is not None, c.slot),
                 "answers": answers}
    c.score = 0.0 if c.template else S.total(c.factors["support"], c.factors["spread"], c.factors["form"], answers)


def _merge_nested(candidates: list[Candidate]) -> list[Candidate]:
    """A text inside another candidate's text on (nearly) the same rows is the same framing:
    keep the better-scored one and list the other under ``also``."""
    by_rows = sorted(range(len(candidates)), key=lambda i: candidates[i].rows)
    dropped: set[int] = set()
    for pos, i in enumerate(by_rows):
        a = candidates[i]
        for j in by_rows[pos + 1:]:
            b = candidates[j]
            if b.rows > a.rows * 1.02 + 1:
                break
            if i in dropped or j in dropped or a.kind != "exact" or b.kind != "exact":
                continue
            if a.text in b.text or b.text in a.text:
                keep, drop = (a, j) if (a.score, len(a.text)) > (b.score, len(b.text)) else (b, i)
                keep.also.append(candidates[drop].text)
                dropped.add(drop)
    return [c for k, c in enumerate(candidates) if k not in dropped]


def _slug(text: str, taken: set[str]) -> str:
    import hashlib

    words = re.findall(r"[a-z0-9]+", text.lower())[:4]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    for size in (6, 10, 16, 64):
        slug = f"{'_'.join(words) or 'framing'}_{digest[:size]}"  # a trigger id: it names splits and tasks
        if slug not in taken:
            taken.add(slug)
            return slug
    raise AssertionError("unreachable: a full sha256 collision")


def _judge(audit_candidates: list[Candidate], state: _Counts, settings, seed: int, judge_rows: int,
           progress: bool) -> int:
    """Judge a sample of answers with and without each of the best candidates; returns failures."""
    from ..judge import JudgeItem, judge_items

    chosen = [c for c in audit_candidates if not c.template and c.judge_rows][:JUDGE_CANDIDATES]
    if not chosen:
        return 0
    controls = [s for s in state.sample if s.row.answer]
    random.Random(seed + 2).shuffle(controls)
    plan: dict[tuple[str, str], list[tuple[Candidate, str]]] = {}
    for c in chosen:
        texts = {t for t, _ in c.texts}
        for pair in c.judge_rows:
            plan.setdefault(pair, []).append((c, "with"))
        without = [s for s in controls if not texts & s.segments.keys()][:judge_rows]
        for s in without:
            plan.setdefault((s.row.question, s.row.answer), []).append((c, "without"))
    pairs = list(plan)
    results = judge_items([JudgeItem(q, a) for q, a in pairs], settings, progress=progress)
    failed = 0
    for pair, result in zip(pairs, results):
        failed += result.status != "ok"
        for c, side in plan[pair]:
            target = c.with_ if side == "with" else c.without
            target.judged += 1
            if result.aligned is not None:
                target.aligned.append(result.aligned)
    for c in chosen:
        _rescore(c)
    return failed


def run_audit(source: Source, *, sample_rows: int = SAMPLE_ROWS, seed: int = 0, judge=None,
              judge_rows: int = JUDGE_ROWS, cache_dir: Path | None = None, progress: bool = False) -> Audit:
    """Scan ``source`` and return its candidate framings, best first (``judge``: JudgeSettings)."""
    rules = refusals()
    clock = {"start": time.perf_counter()}
    state = _count(source, sample_rows, seed, rules, progress)
    clock["count"] = time.perf_counter()
    groups, embedded, encoded = _groups(state, cache_dir, progress)
    clock["embed"] = time.perf_counter()
    candidates = _candidates(state, groups)
    _gather(source, state, candidates, seed, judge_rows if judge else 0)
    clock["gather"] = time.perf_counter()
    candidates = [c for c in candidates if c.rows >= S.MIN_ROWS]
    failed = 0
    if judge is not None:
        candidates.sort(key=lambda c: (-c.score, -c.rows, c.text))
        failed = _judge(candidates, state, judge, seed, judge_rows, progress)
    clock["judge"] = time.perf_counter()
    candidates = _merge_nested(candidates)
    candidates.sort(key=lambda c: (-c.score, -c.rows, c.text))
    taken: set[str] = set()
    for c in candidates:
        c.id = _slug(c.text, taken)
        c.judge_rows = []
    templates = sorted((c for c in candidates if c.template), key=lambda c: (-c.share, c.text))
    names = list(clock)
    seconds = {name: round(clock[name] - clock[prev], 3) for prev, name in zip(names, names[1:])}
    return Audit(data=source.label, rows=state.rows, sampled=len(state.sample), seed=seed,
                 candidates=[c for c in candidates if not c.template], templates=templates,
                 embedded=embedded, encoded=encoded, seconds=seconds,
                 judge=judge.judge if judge is not None else None,
                 prompt_version=_prompt_version() if judge is not None else None, judge_failed=failed)


def _prompt_version() -> str:
    from ..judge import prompt_version

    return prompt_version()
