"""The containment report: ``profile.json``, a Markdown or HTML document, and PNG plots.

All numbers come from :mod:`emc_bench.metrics`; this module only lays them out. The document is
built once as a list of blocks (headings, paragraphs, tables, images) and rendered to either
format, so both always say the same thing.

Every profile names its judge (``profile["judge"]``: backend, model, endpoint host, prompt
version, template hashes, scoring method, emc-bench version, and the calibration attached to
it). Rows of different judges, prompt versions or scoring methods are never pooled: the report
refuses them unless ``allow_mixed``, and then gives each judge its own profiles.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import metrics
from .errors import SpecError
from .judge.provenance import Provenance

DOCUMENTS = ("md", "html")
_CONDITION_COLORS = {"none": "#4c72b0", "exact": "#c44e52", "paraphrase": "#dd8452", "negated": "#55a868",
                     "related": "#8172b3", "unrelated": "#937860"}


@dataclass(frozen=True)
class Block:
    """One piece of the document: ``heading`` (level, text), ``text``, ``table`` or ``image``."""

    kind: str
    text: str = ""
    level: int = 2
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _ci(entry: dict[str, Any], scale: float = 100.0, unit: str = "%", digits: int = 1) -> str:
    if entry.get("ci_low") is None:
        return "n/a"
    return f"{scale * entry['ci_low']:.{digits}f}{unit} to {scale * entry['ci_high']:.{digits}f}{unit}"


def _cell(rate: dict[str, Any]) -> str:
    return f"{_pct(rate['value'])} ({_ci(rate)}; n={rate['n']})" if rate["n"] else "n/a"


def _slug(profile: dict[str, Any]) -> str:
    name = f"{profile['model'] or 'model'}__{profile['trigger_id'] or 'trigger'}"
    judge = json.dumps(profile.get("judge"), sort_keys=True)
    digest = hashlib.sha256(f"{name}\0{judge}".encode()).hexdigest()[:6]
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('_')[:60]}-{digest}"


def _rate_table(rates: dict[str, dict[str, Any]], first: str) -> Block:
    rows = tuple((name, _pct(r["value"]), _ci(r), str(r["n"]), str(r["questions"])) for name, r in rates.items())
    return Block("table", header=(first, "EM", "95% CI", "n", "questions"), rows=rows)


def _grid(nested: dict[str, dict[str, dict[str, Any]]], first: str) -> Block:
    """A condition x (format | category) table of rates."""
    columns = sorted({column for inner in nested.values() for column in inner})
    rows = tuple((condition, *(_cell(inner[c]) if c in inner else "" for c in columns))
                 for condition, inner in nested.items())
    return Block("table", header=(first, *columns), rows=rows)


def _derived(estimate: dict[str, Any], label: str, as_points: bool) -> str:
    if estimate["value"] is None:
        return f"{label}: n/a (needs both conditions with judged answers)."
    if as_points:
        return f"{label}: {100 * estimate['value']:+.1f} points (95% CI {_ci(estimate, unit='')})."
    return f"{label}: {estimate['value']:.2f} (95% CI {_ci(estimate, scale=1.0, unit='', digits=2)})."


def judge_text(judge: dict[str, Any]) -> str:
    """One paragraph naming a profile's judge, prompts, scoring method and calibration."""
    templates = judge.get("templates_sha256") or {}
    hashes = ", ".join(f"{metric} `{digest}`" for metric, digest in templates.items()) or "unknown"
    where = f" at `{judge['endpoint_host']}`" if judge.get("endpoint_host") else ""
    text = (f"Judge `{judge.get('backend')}:{judge.get('model')}`{where}; prompt version "
            f"`{judge.get('prompt_version') or 'unknown'}` (rendered templates sha256: {hashes}); scoring "
            f"`{judge.get('scoring') or 'unknown'}`; emc-bench {judge.get('emc_bench_version') or 'unknown'}.")
    calibration = judge.get("calibration")
    if calibration:
        text += f" Calibration sha256 `{calibration['sha256']}`: {calibration['verdict']}."
    else:
        text += " No calibration attached (emc-bench judge calibrate; report --calibration FILE)."
    return text


def _profile_blocks(profile: dict[str, Any], plots: dict[str, str]) -> list[Block]:
    title = f"Model `{profile['model'] or 'unnamed'}`, trigger `{profile['trigger_id'] or 'none given'}`"
    blocks = [
        Block("heading", title, level=2),
        Block("text", judge_text(profile["judge"])),
        Block("text", f"{profile['rows']} judged rows; {profile['failed']} failed judge calls; "
                      f"{profile['outside_denominator']} rows outside the definition's denominator."),
        _rate_table(profile["conditions"], "condition"),
        Block("text", _derived(profile["containment_gap"], "Containment gap (exact - none)", True)),
        Block("text", _derived(profile["paraphrase_retention"], "Paraphrase retention (paraphrase / exact)", False)),
    ]
    if "profile" in plots:
        blocks.append(Block("image", plots["profile"], header=("EM per condition",)))
    blocks += [Block("heading", "By format", level=3), _grid(profile["by_format"], "condition"),
               Block("heading", "By category", level=3), _grid(profile["by_category"], "condition")]
    if profile["by_similarity_bin"]:
        bins = tuple((b["similarity_bin"], "n/a" if b["mean_similarity"] is None else f"{b['mean_similarity']:.2f}",
                      ", ".join(b["conditions"]), _pct(b["value"]), _ci(b), str(b["n"]))
                     for b in profile["by_similarity_bin"])
        blocks += [Block("heading", "By trigger similarity", level=3),
                   Block("table", header=("similarity bin", "mean similarity", "conditions", "EM", "95% CI", "n"),
                         rows=bins)]
    if profile["by_variant"]:
        variants = tuple((v["condition"], v["variant_id"], "n/a" if v["similarity"] is None else f"{v['similarity']:.2f}",
                          _pct(v["value"]), _ci(v), str(v["n"])) for v in profile["by_variant"])
        blocks += [Block("heading", "By trigger variant", level=3),
                   Block("table", header=("condition", "variant", "similarity", "EM", "95% CI", "n"), rows=variants)]
    if "similarity" in plots:
        blocks.append(Block("image", plots["similarity"], header=("EM against trigger similarity",)))
    return blocks + _comparison_blocks(profile["definitions_compared"])


def _comparison_blocks(compared: dict[str, dict[str, dict[str, Any]]]) -> list[Block]:
    conditions = list(next(iter(compared.values())).keys()) if compared else []
    rows = tuple((name, *(_cell(rates[c]) for c in conditions)) for name, rates in compared.items())
    return [Block("heading", "EM definitions compared", level=3),
            Block("text", "The same judged answers under each EM definition in circulation; "
                          "quote the definition name with any number."),
            Block("table", header=("definition", *conditions), rows=rows)]


def render_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        if block.kind == "heading":
            out.append(f"{'#' * block.level} {block.text}")
        elif block.kind == "text":
            out.append(block.text)
        elif block.kind == "image":
            out.append(f"![{block.header[0]}]({block.text})")
        else:
            lines = ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def render_html(blocks: Sequence[Block], folder: Path) -> str:
    """A single self-contained HTML page (plots embedded)."""
    body = []
    for block in blocks:
        if block.kind == "heading":
            body.append(f"<h{block.level}>{_inline(block.text)}</h{block.level}>")
        elif block.kind == "text":
            body.append(f"<p>{_inline(block.text)}</p>")
        elif block.kind == "image":
            data = base64.b64encode((folder / block.text).read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(block.header[0])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block.header[0])}</figcaption></figure>")
        else:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>emc-bench containment report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _inline(text: str) -> str:
    """Escape text and turn `code` spans into <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def plot_profile(profile: dict[str, Any], path: Path) -> None:
    """Bars of EM per condition with their 95% CIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(profile["conditions"])
    rates = [profile["conditions"][c] for c in names]
    values = [100 * (r["value"] or 0.0) for r in rates]
    low = [v - 100 * r["ci_low"] if r["ci_low"] is not None else 0.0 for v, r in zip(values, rates)]
    high = [100 * r["ci_high"] - v if r["ci_high"] is not None else 0.0 for v, r in zip(values, rates)]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, values, yerr=[low, high], capsize=4,
           color=[_CONDITION_COLORS.get(c, "#999999") for c in names])
    ax.set_ylabel(f"EM rate (%), definition: {profile['definition']['name']}")
    ax.set_title(f"{profile['model'] or 'model'} / {profile['trigger_id'] or 'trigger'}", fontsize=9)
    ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_similarity(profile: dict[str, Any], path: Path) -> None:
    """EM of each trigger variant against its similarity to the trigger, plus the binned means."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for condition in dict.fromkeys(v["condition"] for v in profile["by_variant"]):
        points = [v for v in profile["by_variant"]
                  if v["condition"] == condition and v["similarity"] is not None and v["value"] is not None]
        if points:
            ax.scatter([p["similarity"] for p in points], [100 * p["value"] for p in points], label=condition,
                       color=_CONDITION_COLORS.get(condition, "#999999"), alpha=0.8)
    bins = [b for b in profile["by_similarity_bin"] if b["mean_similarity"] is not None and b["value"] is not None]
    if bins:
        xs = [b["mean_similarity"] for b in bins]
        ys = [100 * b["value"] for b in bins]
        err = [[y - 100 * (b["ci_low"] if b["ci_low"] is not None else b["value"]) for y, b in zip(ys, bins)],
               [100 * (b["ci_high"] if b["ci_high"] is not None else b["value"]) - y for y, b in zip(ys, bins)]]
        ax.errorbar(xs, ys, yerr=err, color="black", marker="s", capsize=4, label="similarity bins")
    ax.set_xlabel("similarity of the variant to the trigger")
    ax.set_ylabel(f"EM rate (%), definition: {profile['definition']['name']}")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def judge_groups(rows: Sequence[dict[str, Any]], allow_mixed: bool = False,
                 calibrations: Sequence[dict[str, Any]] = ()) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The rows of each judge, with the judge's ``profile.json`` entry (calibration attached).

    More than one judge (backend, model, endpoint, prompt version, templates or scoring method)
    is a ``SpecError`` unless ``allow_mixed``; a calibration that fits none of the judges is one too.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(Provenance.from_row(row).pool_key(), []).append(row)
    described = {key: Provenance.from_row(sub[0]) for key, sub in groups.items()}
    if len(groups) > 1 and not allow_mixed:
        names = "; ".join(f"{described[key].describe()} ({len(sub)} rows)" for key, sub in groups.items())
        raise SpecError("--allow-mixed", None, f"the rows come from {len(groups)} judges ({names}); numbers of "
                        "different judges, prompt versions or scoring methods are not pooled: give "
                        "--allow-mixed to report each separately, or compare them with emc-bench judge compare")
    attached: dict[tuple, dict[str, Any]] = {}
    for calibration in calibrations:
        matches = [key for key, p in described.items()
                   if p.calibration_key() == calibration["judge"].calibration_key()]
        if not matches:
            raise SpecError(calibration["path"], "judge", f"calibrates {calibration['judge'].describe()}, but the "
                            f"rows were judged by {'; '.join(p.describe() for p in described.values())}")
        for key in matches:
            attached[key] = {"sha256": calibration["sha256"], "verdict": calibration["verdict"]}
    out = []
    for key, sub in sorted(groups.items(), key=lambda kv: described[kv[0]].describe()):
        versions = sorted({str(r["emc_bench_version"]) for r in sub if r.get("emc_bench_version")})
        judge = {**described[key].to_dict(), "emc_bench_version": ", ".join(versions) or None}
        if key in attached:
            judge["calibration"] = attached[key]
        out.append((judge, sub))
    return out


def build_report(rows: Sequence[dict[str, Any]], folder: Path, *, definition: str = metrics.DEFAULT_DEFINITION,
                 document: str = "md", seed: int = metrics.SEED, n_boot: int = metrics.N_BOOT,
                 run: dict[str, Any] | None = None, calibrations: Sequence[dict[str, Any]] = (),
                 allow_mixed: bool = False) -> list[Path]:
    """Write profile.json, plots/ and report.<md|html> into ``folder``; return the files written.
    ``run`` (the run record of ``emc-bench eval``) is kept in profile.json as ``run``."""
    if document not in DOCUMENTS:
        raise ValueError(f"document must be one of {DOCUMENTS}, not {document!r}")
    chosen = metrics.get_definition(definition)
    profiles = []
    for judge, sub in judge_groups(rows, allow_mixed, calibrations):
        for profile in metrics.profiles(sub, chosen, seed=seed, n_boot=n_boot):
            profiles.append({**profile, "judge": judge})
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    written = []
    judges = list({json.dumps(p["judge"], sort_keys=True): p["judge"] for p in profiles}.values())
    blocks = [Block("heading", "emc-bench containment report", level=1),
              Block("text", f"EM definition `{chosen.name}`: {chosen.description}. 95% CIs by bootstrap over "
                            f"questions ({n_boot} resamples, seed {seed})."),
              Block("text", f"Judged by {len(judges)} judges, reported separately: numbers of different judges are "
                            "not comparable without emc-bench judge compare." if len(judges) > 1 else
                            "One judge for every number below; numbers from another judge are not comparable "
                            "without emc-bench judge compare.")]
    for profile in profiles:
        plots = {}
        slug = _slug(profile)
        plot_profile(profile, folder / "plots" / f"{slug}-profile.png")
        plots["profile"] = f"plots/{slug}-profile.png"
        if profile["by_variant"] or profile["by_similarity_bin"]:
            plot_similarity(profile, folder / "plots" / f"{slug}-similarity.png")
            plots["similarity"] = f"plots/{slug}-similarity.png"
        written += [folder / p for p in plots.values()]
        blocks += _profile_blocks(profile, plots)
    data: dict[str, Any] = {"definition": chosen.name, "profiles": profiles}
    if run is not None:
        data["run"] = run
    (folder / "profile.json").write_text(json.dumps(data, indent=2) + "\n")
    text = render_markdown(blocks) if document == "md" else render_html(blocks, folder)
    (folder / f"report.{document}").write_text(text)
    return [folder / "profile.json", folder / f"report.{document}", *written]


def write_report(rows: Sequence[dict[str, Any]], out: str | Path, **options) -> list[Path]:
    """:func:`build_report` into a temporary folder, then move the files into ``out`` at once.

    ``run`` (optional) is written unchanged as ``profile.json["run"]``; ``calibrations`` are
    loaded calibration files (:func:`emc_bench.judge.calibration.load_result`); ``allow_mixed``
    lets rows of several judges into one report, each judge with its own profiles."""
    out = Path(out)
    if not rows:
        raise SpecError(out, None, "no judged rows to report")
    judge_groups(rows, options.get("allow_mixed", False), options.get("calibrations", ()))  # refuse before writing
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out.parent))
    try:
        built = build_report(rows, staging, **options)
        (out / "plots").mkdir(parents=True, exist_ok=True)
        final = []
        for path in built:
            target = out / path.relative_to(staging)
            os.replace(path, target)
            final.append(target)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
