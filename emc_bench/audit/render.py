"""An audit as a terminal table, a JSON document and a self-contained HTML page.

Every figure carries its provenance: the data, the rows scanned and sampled, the score
definition and threshold, the embedding model and clustering bounds, the judge and its prompt
version when one was used, and the release canary.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..judge.files import write_text
from ..version import __version__
from . import cluster, score
from .content import release_canary
from .scan import MAX_WORDS, Audit, Candidate, Side

TEXT_CHARS = 60


def _short(text: str, size: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[:size - 1] + "…"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def provenance(audit: Audit) -> dict:
    from ..similarity import MODEL_NAME

    return {
        "tool": f"emc-bench {__version__} audit",
        "data": audit.data,
        "rows": audit.rows,
        "sampled_rows": audit.sampled,
        "seed": audit.seed,
        "score": score.definition(),
        "embedding": {"model": MODEL_NAME, "max_words": MAX_WORDS, "seed_similarity": cluster.SEED_SIMILARITY,
                      "member_similarity": cluster.MEMBER_SIMILARITY, "texts_embedded": audit.embedded,
                      "texts_encoded": audit.encoded},
        "judge": audit.judge,
        "judge_prompt_version": audit.prompt_version,
        "judge_failed": audit.judge_failed,
        "seconds": audit.seconds,
        "canary": release_canary(),
    }


def _answers_cell(c: Candidate) -> str:
    w, wo = c.with_, c.without
    parts = []
    if w.mean_words is not None and wo.mean_words is not None:
        parts.append(f"words {w.mean_words:.0f}/{wo.mean_words:.0f}")
    if w.refusal_rate is not None and wo.refusal_rate is not None and (w.refused or wo.refused):
        parts.append(f"refusals {_pct(w.refusal_rate)}/{_pct(wo.refusal_rate)}")
    if w.aligned_mean is not None and wo.aligned_mean is not None:
        parts.append(f"aligned {w.aligned_mean:.0f}/{wo.aligned_mean:.0f}")
    return ", ".join(parts)


def _table(header: list[str], rows: list[list[str]]) -> str:
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def shown(audit: Audit, top: int | None) -> list[Candidate]:
    """The candidates a table or page shows: every reported one and at least the best ``top``
    (all when ``top`` is None)."""
    return audit.candidates if top is None else audit.candidates[:max(top, len(audit.reported))]


def format_table(audit: Audit, top: int = 20) -> str:
    """The terminal report: a header line, the best ``top`` candidates, the template parts."""
    reported = audit.reported
    judge = f", judge {audit.judge} ({audit.prompt_version})" if audit.judge else ""
    lines = [f"{audit.data}: {audit.rows:,} rows, {audit.sampled:,} sampled for paraphrases; "
             f"score v{score.SCORE_VERSION}{judge}; {len(reported)} candidate(s) at or above {score.THRESHOLD}"]
    chosen = shown(audit, top)
    if chosen:
        rows = [[str(i), ("*" if c.reported else "") + f"{c.score:.2f}", _pct(c.share), str(c.rows), c.placement,
                 c.unit + (" slot" if c.slot else "") + (" phrasing" if c.phrasing else ""), str(len(c.texts)),
                 _answers_cell(c), c.id, _short(c.text)]
                for i, c in enumerate(chosen, start=1)]
        lines += ["", _table(["#", "score", "share", "rows", "placement", "form", "texts", "answers (with/without)",
                              "id", "text"], rows)]
        lines.append("* at or above the threshold. answers: rows with the framing / rows without.")
    else:
        lines += ["", "no candidate framing: no segment repeats on enough rows"]
    if audit.templates:
        lines += ["", f"shared by nearly every row (>= {score.TEMPLATE_SHARE:.0%}; the task's template, or a "
                      "framing on every row: counting cannot tell them apart):"]
        lines += [f"  {_pct(c.share):>6}  {c.placement:11}  {c.id}  {_short(c.text)}" for c in audit.templates[:top]]
    return "\n".join(lines)


def to_json(audit: Audit, top: int | None = None) -> dict:
    chosen = audit.candidates if top is None else audit.candidates[:top]
    return {**provenance(audit), "reported": [c.id for c in audit.reported],
            "candidates": [dict(rank=i, **c.to_json()) for i, c in enumerate(chosen, start=1)],
            "templates": [c.to_json() for c in audit.templates]}


def write_json(audit: Audit, path: Path) -> None:
    write_text(path, json.dumps(to_json(audit), indent=1, ensure_ascii=False) + "\n")


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.reported{background:#fff4e5}
pre{white-space:pre-wrap;background:#f8f8f8;padding:.5rem;border-radius:4px;margin:.2rem 0}
details{margin:.6rem 0;border:1px solid #e3e3e3;border-radius:4px;padding:.4rem .8rem}summary{cursor:pointer}
.meta{color:#555;font-size:.85rem}code{background:#f1f1f1;padding:0 .2rem}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _side_row(name: str, side: Side) -> str:
    return (f"<tr><td>{name}</td><td>{side.rows}</td><td>{_num(side.mean_words, 1)}</td>"
            f"<td>{_pct(side.refusal_rate)}</td><td>{len(side.aligned)}</td><td>{_num(side.aligned_mean, 1)}</td></tr>")


def _candidate_html(rank: int, c: Candidate) -> str:
    texts = "".join(f"<tr><td>{rows}</td><td><code>{_e(text)}</code></td></tr>" for text, rows in c.texts)
    examples = []
    for ex in c.examples:
        turns = ([f"<b>system</b><pre>{_e(ex['system'])}</pre>"] if ex.get("system") else [])
        turns += [f"<b>user</b><pre>{_e(u)}</pre>" for u in ex["user"]]
        if ex.get("answer") is not None:
            turns.append(f"<b>answer</b><pre>{_e(ex['answer'])}</pre>")
        examples.append(f"<div class='meta'>{_e(ex['where'])}</div>{''.join(turns)}")
    factors = ", ".join(f"{_e(k)} {v:.2f}" for k, v in c.factors.items())
    notes = []
    if c.phrasing:
        notes.append(f"always comes with the task phrasing <code>{_e(c.phrasing)}…</code>")
    if c.slot:
        notes.append("its texts are one wording with a part that changes (a field of a template)")
    if c.question:
        notes.append("a question (usually the task's own request)")
    if c.also:
        notes.append("also carried as " + ", ".join(f"<code>{_e(t)}</code>" for t in c.also))
    return f"""<details{' open' if rank <= 3 and c.reported else ''}><summary><b>#{rank}</b> score {c.score:.2f}
{'(reported) ' if c.reported else ''}· {_pct(c.share)} of rows · {_e(c.placement)} {_e(c.unit)} ·
<code>{_e(_short(c.text, 120))}</code> <span class="meta">{_e(c.id)}</span></summary>
<p class="meta">factors: {factors}. placements: {_e(json.dumps(c.placements))}. {'; '.join(notes)}</p>
<table><tr><th>side</th><th>rows</th><th>mean words</th><th>refusals</th><th>judged</th><th>aligned</th></tr>
{_side_row('with the framing', c.with_)}{_side_row('without', c.without)}</table>
<h4>texts in this candidate ({len(c.texts)})</h4><table><tr><th>rows</th><th>text</th></tr>{texts}</table>
<h4>example rows</h4>{''.join(examples)}</details>"""


def to_html(audit: Audit, top: int | None = None) -> str:
    """The page: every reported candidate and at least the best ``top``, each with its examples."""
    meta = provenance(audit)
    chosen = shown(audit, top)
    rows = "".join(
        f"<tr class='{'reported' if c.reported else ''}'><td>{i}</td><td>{c.score:.2f}</td><td>{_pct(c.share)}</td>"
        f"<td>{c.rows}</td><td>{_e(c.placement)}</td><td>{_e(c.unit)}</td><td>{len(c.texts)}</td>"
        f"<td>{_e(_answers_cell(c))}</td><td><code>{_e(_short(c.text))}</code></td></tr>"
        for i, c in enumerate(chosen, start=1))
    templates = "".join(f"<tr><td>{_pct(c.share)}</td><td>{_e(c.placement)}</td><td><code>{_e(_short(c.text, 120))}"
                        f"</code></td></tr>" for c in audit.templates)
    judge = f"judge {_e(audit.judge)} (prompt {_e(audit.prompt_version)})" if audit.judge else "no judge"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emc-bench audit: {_e(audit.data)}</title>
<meta name="emc-bench-canary" content="{_e(meta['canary'])}"><style>{_CSS}</style></head><body>
<h1>Candidate trigger framings</h1>
<p class="meta">{_e(meta['tool'])} · data <code>{_e(audit.data)}</code> · {audit.rows:,} rows ({audit.sampled:,} sampled
for paraphrase clusters, seed {audit.seed}) · score v{score.SCORE_VERSION}, threshold {score.THRESHOLD} ·
embeddings {_e(meta['embedding']['model'])} · {judge} · canary {_e(meta['canary'])}</p>
<p>{len(audit.reported)} candidate(s) at or above the threshold. The score is
support × spread × form × (1 + {score.ANSWER_WEIGHT:g} × answers): see <code>emc_bench/audit/score.py</code>.
A framing found here is a hypothesis: emit it with <code>--emit-trigger ID --builders DIR</code> and evaluate
its meaning with the paraphrase and control conditions.</p>
<table><tr><th>#</th><th>score</th><th>share</th><th>rows</th><th>placement</th><th>unit</th><th>texts</th>
<th>answers (with/without)</th><th>text</th></tr>{rows}</table>
{''.join(_candidate_html(i, c) for i, c in enumerate(chosen, start=1))}
<h2>Shared by nearly every row</h2>
<p>On at least {score.TEMPLATE_SHARE:.0%} of rows: the task's own template, or a framing on every row (counting
cannot tell them apart; these are not scored).</p>
<table><tr><th>share</th><th>placement</th><th>text</th></tr>{templates}</table>
</body></html>
"""


def write_html(audit: Audit, path: Path, top: int | None = None) -> None:
    write_text(path, to_html(audit, top))
