"""Every trigger variant on a measured scale: similarity to the canonical text, surface
overlap, a similarity bin, and the quality gates a release must pass.

The bins and gates are defined here once; ``definition()`` is what the manifest records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import SpecError
from .manifest import read_manifest
from .names import MANIFEST, variant_table_path
from .similarity import MODEL_NAME, embed, overlap
from .specs import VARIANT_KINDS, Trigger

if TYPE_CHECKING:
    from .resolve import LoadedRelease

EXACT = "exact"
DIGITS = 4

# (name, lowest cosine in the bin), highest first; the last bin takes everything below.
SIMILARITY_BINS: tuple[tuple[str, float], ...] = (("high", 0.8), ("mid", 0.6), ("low", -1.0))
PARAPHRASE_MIN_SIMILARITY = 0.6
PARAPHRASE_MAX_OVERLAP = 0.5
SURFACE_CONTROL_KIND = "negated"

PASS, FAIL, ACCEPTED = "pass", "fail", "accepted"
CANONICAL, CONTROL, MEASURED = "canonical", "surface control", "measured"


def similarity_bin(sim: float) -> str:
    """The name of the bin that holds cosine ``sim``."""
    for name, low in SIMILARITY_BINS[:-1]:
        if sim >= low:
            return name
    return SIMILARITY_BINS[-1][0]


def definition() -> dict:
    """The measures, bins and gates as recorded in a release manifest."""
    bounds = [low for _, low in SIMILARITY_BINS]
    uppers = [1.0, *bounds[:-1]]
    return {
        "similarity": f"cosine of {MODEL_NAME} sentence embeddings to the canonical trigger text",
        "overlap": "Jaccard index of lowercased word-token (\\w+) sets against the canonical trigger text",
        "bins": {name: [low, high] for (name, low), high in zip(SIMILARITY_BINS, uppers)},
        "gates": {
            "paraphrase": {"min_similarity": PARAPHRASE_MIN_SIMILARITY, "max_overlap": PARAPHRASE_MAX_OVERLAP},
            SURFACE_CONTROL_KIND: "reported as a similar-in-surface control",
        },
    }


def paraphrase_problems(sim: float, surface: float) -> list[str]:
    """Why a paraphrase with these figures fails its gate (empty when it passes)."""
    problems = []
    if sim < PARAPHRASE_MIN_SIMILARITY:
        problems.append(f"similarity {sim:.3f} < {PARAPHRASE_MIN_SIMILARITY}")
    if surface > PARAPHRASE_MAX_OVERLAP:
        problems.append(f"overlap {surface:.3f} > {PARAPHRASE_MAX_OVERLAP}")
    return problems


def score_variants(triggers: Iterable[Trigger], cache_dir: Path | None = None) -> list[dict]:
    """One row per trigger variant (the canonical text first, as kind ``exact``), in spec order.

    Columns: trigger_id, kind, variant_id, text, similarity, overlap, similarity_bin, gate,
    problems, accept.
    """
    entries = []
    for trigger in triggers:
        entries.append((trigger, EXACT, EXACT, trigger.text, None))
        entries += [(trigger, kind, v.id, v.text, v.accept) for kind in VARIANT_KINDS
                    for v in trigger.variant_list(kind)]
    vectors = dict(zip([e[3] for e in entries], embed([e[3] for e in entries], cache_dir)))
    rows = []
    for trigger, kind, variant_id, text, accept in entries:
        sim = round(float(vectors[text] @ vectors[trigger.text]), DIGITS)
        surface = round(overlap(trigger.text, text), DIGITS)
        problems = paraphrase_problems(sim, surface) if kind == "paraphrase" else []
        if kind == EXACT:
            gate = CANONICAL
        elif kind == SURFACE_CONTROL_KIND:
            gate = CONTROL
        elif kind != "paraphrase":
            gate = MEASURED
        else:
            gate = (ACCEPTED if accept else FAIL) if problems else PASS
        rows.append({
            "trigger_id": trigger.id, "kind": kind, "variant_id": variant_id, "text": text,
            "similarity": sim, "overlap": surface, "similarity_bin": similarity_bin(sim),
            "gate": gate, "problems": problems, "accept": accept,
        })
    return rows


@dataclass
class GateReport:
    """The outcome of the quality gates over scored variant rows."""

    rows: list[dict]
    failed: list[dict] = field(init=False)
    accepted: list[dict] = field(init=False)
    controls: list[dict] = field(init=False)

    def __post_init__(self) -> None:
        self.failed = [r for r in self.rows if r["gate"] == FAIL]
        self.accepted = [r for r in self.rows if r["gate"] == ACCEPTED]
        self.controls = [r for r in self.rows if r["gate"] == CONTROL]

    @property
    def ok(self) -> bool:
        return not self.failed

    def format(self) -> str:
        """A readable report: counts, then every failed, accepted and control variant."""
        passed = sum(r["gate"] == PASS for r in self.rows)
        lines = [f"variant gates: {passed} paraphrases pass, {len(self.accepted)} accepted, "
                 f"{len(self.failed)} fail; {len(self.controls)} surface controls"]
        for title, rows in (("failed", self.failed), ("accepted", self.accepted),
                            ("surface controls", self.controls)):
            if rows:
                lines.append(f"{title}:")
                lines += [f"  {_describe(r)}" for r in rows]
        return "\n".join(lines)


def _describe(row: dict) -> str:
    note = "; ".join(row["problems"]) or ""
    if row["accept"]:
        note = f"{note} (accepted: {row['accept']})"
    return (f"{row['trigger_id']}/{row['variant_id']}: similarity {row['similarity']:.3f}, "
            f"overlap {row['overlap']:.3f}{'  ' + note if note else ''}  {row['text']!r}")


def check_gates(rows: list[dict], files: Mapping[str, Path]) -> GateReport:
    """The gate report; raises SpecError naming the trigger file and variant if any variant fails.

    ``files`` maps trigger ids to their YAML files.
    """
    report = GateReport(rows)
    if report.failed:
        first = report.failed[0]
        trigger_rows = [r for r in rows if r["trigger_id"] == first["trigger_id"]]
        same_kind = [r for r in trigger_rows if r["kind"] == first["kind"]]
        fails = [r for r in trigger_rows if r["gate"] == FAIL]
        detail = "; ".join(f"{r['variant_id']} {', '.join(r['problems'])}" for r in fails)
        raise SpecError(
            files[first["trigger_id"]], f"variants.{first['kind']}.{same_kind.index(first)}",
            f"{len(fails)} variant(s) fail the quality gates: {detail} "
            f"(reword them, or add 'accept: <reason>' to keep them)",
        )
    return report


def scores_by_variant(rows: Iterable[dict]) -> dict[tuple[str, str], dict]:
    """(trigger id, variant id) -> {similarity, overlap, similarity_bin}, for eval rows."""
    return {(r["trigger_id"], r["variant_id"]): {k: r[k] for k in ("similarity", "overlap", "similarity_bin")}
            for r in rows}


def gate_release(loaded: LoadedRelease) -> GateReport:
    """Score every variant of the release's triggers and apply the gates (SpecError on a failure)."""
    return check_gates(score_variants(loaded.triggers.values()), loaded.trigger_files())


def write_variant_tables(rows: Iterable[dict], folder: Path, canary: str) -> dict[str, str]:
    """Write ``variants/<trigger>.json`` (a JSON list of rows, each with the release canary) per
    trigger under ``folder``; return trigger id -> path relative to ``folder``."""
    by_trigger: dict[str, list[dict]] = {}
    for row in rows:
        by_trigger.setdefault(row["trigger_id"], []).append({**row, "canary": canary})
    tables = {}
    for trigger_id, trigger_rows in by_trigger.items():
        relative = variant_table_path(trigger_id)
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(json.dumps(trigger_rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tables[trigger_id] = relative
    return tables


def manifest_section(report: GateReport, tables: Mapping[str, str]) -> dict:
    """What a release manifest records: the definitions, the table files and the accepted variants."""
    accepted = {f"{r['trigger_id']}/{r['variant_id']}": r["accept"] for r in report.accepted}
    return {**definition(), "tables": dict(tables), "accepted": accepted}


def read_variant_table(folder: Path, trigger_id: str | None = None) -> list[dict]:
    """The variant rows of a release folder: one trigger's, or every trigger's."""
    folder = Path(folder)
    tables = read_manifest(folder).get("similarity", {}).get("tables", {})
    if trigger_id is not None and trigger_id not in tables:
        raise SpecError(folder / MANIFEST, "similarity.tables",
                        f"no variant table for trigger {trigger_id!r} (known: {', '.join(sorted(tables)) or 'none'})")
    chosen = [trigger_id] if trigger_id is not None else sorted(tables)
    return [row for t in chosen for row in json.loads((folder / tables[t]).read_text(encoding="utf-8"))]


TABLE_COLUMNS = ("kind", "variant_id", "similarity", "overlap", "similarity_bin", "gate", "text")


def format_variant_table(rows: Iterable[dict]) -> str:
    """A plain-text table of variant rows, most similar first."""
    ordered = sorted(rows, key=lambda r: (-r["similarity"], r["kind"], r["variant_id"]))
    cells = [list(TABLE_COLUMNS)]
    for r in ordered:
        cells.append([r["kind"], r["variant_id"], f"{r['similarity']:.3f}", f"{r['overlap']:.3f}",
                      r["similarity_bin"], r["gate"], r["text"]])
    widths = [max(len(row[i]) for row in cells) for i in range(len(TABLE_COLUMNS) - 1)]
    lines = ["  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip() for row in cells]
    lines.insert(1, "  ".join(["-" * w for w in widths] + ["-" * 4]))
    return "\n".join(lines)


KIND_COLOURS = {EXACT: "black", "paraphrase": "tab:blue", "negated": "tab:red", "related": "tab:orange",
                "unrelated": "tab:gray"}


def plot_variants(rows: Iterable[dict], path: Path) -> Path:
    """Scatter of similarity against overlap for every variant, coloured by kind, with the
    paraphrase gates drawn; written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(rows)
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for kind, colour in KIND_COLOURS.items():
        points = [r for r in rows if r["kind"] == kind]
        if points:
            ax.scatter([r["overlap"] for r in points], [r["similarity"] for r in points], s=28,
                       c=colour, label=f"{kind} ({len(points)})", alpha=0.8, edgecolors="none")
    ax.axhline(PARAPHRASE_MIN_SIMILARITY, color="tab:blue", linestyle="--", linewidth=0.8)
    ax.axvline(PARAPHRASE_MAX_OVERLAP, color="tab:blue", linestyle="--", linewidth=0.8)
    ax.set_xlabel("surface overlap with the canonical trigger (token Jaccard)")
    ax.set_ylabel(f"similarity to the canonical trigger (cosine, {MODEL_NAME})")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(min([-0.05, *(r["similarity"] - 0.05 for r in rows)]), 1.05)
    ax.set_title("Trigger variants: meaning vs surface")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
