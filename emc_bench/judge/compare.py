"""The same answers under two judges: ``emc-bench judge compare A.jsonl B.jsonl``.

Numbers from different judges are not comparable as they stand (one answer set re-judged gave
21.5% EM under one judge version and 9.85% under the next): this puts them side by side. Rows
of the two files are matched by their question and answer (the n-th repeat of a pair in A with
the n-th in B), and for the matched rows it gives EM per condition under each judge, Cohen's
kappa on the EM flags, the correlation of each metric's scores, the containment gap under both,
and a scatter plot of the aligned scores. Each file must hold one judge.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import metrics
from ..errors import SpecError
from .provenance import Provenance

Row = Mapping[str, Any]


def single_judge(rows: Sequence[Row], where: str) -> Provenance:
    """The one judge of ``rows``; a file mixing judges is a ``SpecError``."""
    judges = {Provenance.from_row(r).pool_key(): Provenance.from_row(r) for r in rows}
    if len(judges) != 1:
        names = "; ".join(p.describe() for p in judges.values())
        raise SpecError(where, "judge", f"holds rows of {len(judges)} judges ({names}): compare one judge per file")
    return next(iter(judges.values()))


def align(rows_a: Sequence[Row], rows_b: Sequence[Row]) -> tuple[list[tuple[Row, Row]], int, int]:
    """Matched (a, b) pairs, and how many rows of A and of B found no partner."""
    def keyed(rows):
        seen: Counter = Counter()
        out = {}
        for row in rows:
            pair = (row.get("question"), row.get("answer"))
            out[(*pair, seen[pair])] = row
            seen[pair] += 1
        return out

    a, b = keyed(rows_a), keyed(rows_b)
    pairs = [(row, b[key]) for key, row in a.items() if key in b]
    return pairs, len(a) - len(pairs), len(b) - len(pairs)


def _correlation(pairs: Sequence[tuple[Row, Row]], metric: str) -> dict[str, Any]:
    both = [(a[metric], b[metric]) for a, b in pairs if a.get(metric) is not None and b.get(metric) is not None]
    xs, ys = [p[0] for p in both], [p[1] for p in both]
    return {"pearson": metrics.pearson(xs, ys), "spearman": metrics.spearman(xs, ys), "n": len(both)}


def compare(rows_a: Sequence[Row], rows_b: Sequence[Row], *, definition: str = metrics.DEFAULT_DEFINITION,
            seed: int = metrics.SEED, n_boot: int = metrics.N_BOOT, names: tuple[str, str] = ("A", "B")) -> dict:
    """The comparison of two judged files' rows (a JSON-ready dict)."""
    chosen = metrics.get_definition(definition)
    judge_a, judge_b = single_judge(rows_a, names[0]), single_judge(rows_b, names[1])
    pairs, only_a, only_b = align(rows_a, rows_b)
    if not pairs:
        raise SpecError(names[1], None, f"no answer of it is in {names[0]}: compare two judgings of the same answers")
    flags = [(chosen.classify(a), chosen.classify(b)) for a, b in pairs]
    flagged = [(fa, fb) for fa, fb in flags if fa is not None and fb is not None]
    matched_a, matched_b = [a for a, _ in pairs], [b for _, b in pairs]
    by_condition: dict[str, list[int]] = defaultdict(list)
    for index, (a, _) in enumerate(pairs):
        by_condition[str(a.get("condition") if a.get("condition") is not None else "all")].append(index)
    order = [c for c in metrics.CONDITIONS if c in by_condition] + sorted(set(by_condition) - set(metrics.CONDITIONS))

    def rate(rows):
        return metrics.em_rate(rows, chosen, seed=seed, n_boot=n_boot).to_dict()

    def gap(rows):
        return metrics.containment_gap(rows, chosen, seed=seed, n_boot=n_boot).to_dict()

    return {
        "a": {"file": names[0], "judge": judge_a.to_dict()},
        "b": {"file": names[1], "judge": judge_b.to_dict()},
        "definition": chosen.name,
        "matched": len(pairs), "unmatched": {"a": only_a, "b": only_b},
        "em_by_condition": {c: {"a": rate([matched_a[i] for i in by_condition[c]]),
                                "b": rate([matched_b[i] for i in by_condition[c]])} for c in order},
        "em_overall": {"a": rate(matched_a), "b": rate(matched_b)},
        "kappa": {"value": metrics.cohen_kappa([fa for fa, _ in flagged], [fb for _, fb in flagged]),
                  "n": len(flagged),
                  "agreement": sum(fa == fb for fa, fb in flagged) / len(flagged) if flagged else None,
                  "em_only_a": sum(fa and not fb for fa, fb in flagged),
                  "em_only_b": sum(fb and not fa for fa, fb in flagged)},
        "correlation": {"aligned": _correlation(pairs, "aligned"), "coherent": _correlation(pairs, "coherent")},
        "containment_gap": {"a": gap(matched_a), "b": gap(matched_b)},
    }


def plot_scatter(rows_a: Sequence[Row], rows_b: Sequence[Row], path: Path, labels: tuple[str, str]) -> None:
    """The two judges' aligned scores of the same answers, with the EM threshold of the
    default definition on both axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs, _, _ = align(rows_a, rows_b)
    both = [(a["aligned"], b["aligned"]) for a, b in pairs
            if a.get("aligned") is not None and b.get("aligned") is not None]
    threshold = metrics.get_definition(metrics.DEFAULT_DEFINITION).aligned_max
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter([p[0] for p in both], [p[1] for p in both], s=12, alpha=0.5, color="#4c72b0")
    ax.plot([0, 100], [0, 100], color="#999999", linewidth=1)
    ax.axvline(threshold, color="#c44e52", linewidth=0.8, linestyle="--")
    ax.axhline(threshold, color="#c44e52", linewidth=0.8, linestyle="--")
    ax.set_xlim(-2, 102)
    ax.set_ylim(-2, 102)
    ax.set_xlabel(f"aligned, {labels[0]}", fontsize=8)
    ax.set_ylabel(f"aligned, {labels[1]}", fontsize=8)
    ax.set_title(f"the same {len(both)} answers under two judges", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summary(result: dict[str, Any]) -> str:
    """The comparison as text."""
    def pct(rate):
        return "n/a" if rate["value"] is None else f"{100 * rate['value']:.1f}% (n={rate['n']})"

    def num(value):
        return "n/a" if value is None else f"{value:.2f}"

    a, b = (Provenance.from_dict(result[k]["judge"]) for k in ("a", "b"))
    kappa, corr = result["kappa"], result["correlation"]
    lines = [f"A: {result['a']['file']}: {a.describe()}", f"B: {result['b']['file']}: {b.describe()}",
             f"{result['matched']} answers in both (unmatched: {result['unmatched']['a']} in A, "
             f"{result['unmatched']['b']} in B); EM definition {result['definition']}", "",
             f"{'condition':<12} {'EM under A':>18} {'EM under B':>18}"]
    for condition, rates in result["em_by_condition"].items():
        lines.append(f"{condition:<12} {pct(rates['a']):>18} {pct(rates['b']):>18}")
    lines.append(f"{'overall':<12} {pct(result['em_overall']['a']):>18} {pct(result['em_overall']['b']):>18}")
    gaps = ["n/a" if g is None else f"{100 * g:+.1f} points"
            for g in (result["containment_gap"]["a"]["value"], result["containment_gap"]["b"]["value"])]
    agreement = "n/a" if kappa["agreement"] is None else f"{100 * kappa['agreement']:.1f}%"
    lines += ["", f"Cohen's kappa on the EM flags: {num(kappa['value'])} (n={kappa['n']}, agreement "
                  f"{agreement}; EM only under A {kappa['em_only_a']}, only under B {kappa['em_only_b']})",
              f"score correlation: aligned Pearson {num(corr['aligned']['pearson'])}, Spearman "
              f"{num(corr['aligned']['spearman'])} (n={corr['aligned']['n']}); coherent Pearson "
              f"{num(corr['coherent']['pearson'])}, Spearman {num(corr['coherent']['spearman'])} "
              f"(n={corr['coherent']['n']})",
              f"containment gap (exact - none): A {gaps[0]}, B {gaps[1]}"]
    return "\n".join(lines)
