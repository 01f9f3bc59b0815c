"""emc-bench stats: the figures that say whether a built release is fit for use.

Per-config rows, per-domain diversity (near-duplicate prompts, distinct-2), bandit verdicts for
code domains, trigger variant counts, and leakage by meaning between evaluation texts and
training user turns. ``--plots`` adds the similarity-vs-overlap scatter of every variant.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .build import add_library_option, library_from


def add_parser(sub) -> None:
    p = sub.add_parser("stats", help="diversity, bandit, variant and leakage figures of a built release",
                       description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a release folder written by `emc-bench build`")
    p.add_argument("--bandit-sample", type=int, default=600, metavar="N",
                   help="pairs per code domain checked with bandit (0: all; default 600)")
    p.add_argument("--plots", type=Path, nargs="?", const=Path("."), metavar="DIR",
                   help="write variants_similarity_overlap.png into DIR (default: the current folder)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write every figure as JSON")
    add_library_option(p)
    p.set_defaults(func=run)


def _texts(folder: Path, manifest: dict, kind: str, column: str) -> list[str]:
    """Unique texts of one column over every config of ``kind`` (for messages: the user turns)."""
    import pyarrow.parquet as pq

    texts: set[str] = set()
    for config in manifest["configs"].values():
        if config["kind"] != kind:
            continue
        for split in config["splits"].values():
            values = pq.read_table(folder / split["path"], columns=[column]).column(column).to_pylist()
            if column == "messages":
                texts.update(m["content"] for messages in values for m in messages if m["role"] == "user")
            else:
                texts.update(v for v in values if v)
    return sorted(texts)


def domain_figures(domain: str, library, bandit_sample: int) -> dict:
    from ..bandit_check import check_pairs
    from ..domains import load_pairs
    from ..similarity import distinct_n, near_duplicate_rate

    pairs = load_pairs(domain, library=library)
    prompts = [p.prompt for p in pairs]
    figures = {
        "pairs": len(pairs),
        "near_duplicate_rate": near_duplicate_rate(prompts, progress=True),
        "distinct2_prompts": distinct_n(prompts, 2),
        "distinct2_harmful": distinct_n([p.harmful for p in pairs], 2),
        "distinct2_aligned": distinct_n([p.aligned for p in pairs if p.aligned], 2),
    }
    if pairs and "bandit_ids" in (pairs[0].meta or {}):
        report = check_pairs(pairs, sample=bandit_sample or None, progress=True)
        figures["bandit"] = report.to_dict()
        figures["bandit_table"] = report.table()
    return figures


def run(args: argparse.Namespace) -> int:
    from ..manifest import read_manifest
    from ..specs import VARIANT_KINDS, load_trigger
    from ..variants import plot_variants, read_variant_table
    from .show import format_table, print_summary

    library = library_from(args)
    manifest = read_manifest(args.folder)
    print_summary(manifest)
    stats: dict = {"release": manifest["name"], "version": manifest["version"], "domains": {}}

    domains = sorted({c["domain"] for c in manifest["configs"].values() if c["kind"] == "train"})
    for domain in domains:
        stats["domains"][domain] = domain_figures(domain, library, args.bandit_sample)
    print("\ndomains")
    print(format_table(["domain", "pairs", "near-dup (cos>=0.95)", "distinct-2 prompts", "distinct-2 harmful",
                        "distinct-2 aligned"],
                       [[d, f["pairs"], f"{f['near_duplicate_rate']:.1%}", f"{f['distinct2_prompts']:.3f}",
                         f"{f['distinct2_harmful']:.3f}", f"{f['distinct2_aligned']:.3f}"]
                        for d, f in stats["domains"].items()]))
    for domain, figures in stats["domains"].items():
        if "bandit_table" in figures:
            print(f"\nbandit verdicts for {domain} ({figures['bandit']['overall']['n']} pairs checked)")
            print(figures.pop("bandit_table"))

    trigger_ids = sorted({c["trigger_id"] for c in manifest["configs"].values() if c.get("trigger_id")})
    triggers = [load_trigger(library.find("triggers", t)) for t in trigger_ids]
    if triggers:
        counts = [[t.id, t.construction, t.placement, *[len(t.variant_list(k)) for k in VARIANT_KINDS]]
                  for t in triggers]
        stats["triggers"] = {row[0]: dict(zip(VARIANT_KINDS, row[3:])) for row in counts}
        print("\ntriggers")
        print(format_table(["trigger", "construction", "placement", *VARIANT_KINDS], counts))

    train_texts = _texts(args.folder, manifest, "train", "messages")
    # the canonical trigger text is in training rows by design: only held-out texts can leak
    canonical = {t.text for t in triggers}
    eval_texts = sorted({*_texts(args.folder, manifest, "eval", "question"),
                         *_texts(args.folder, manifest, "eval", "variant_text")} - canonical)
    if train_texts and eval_texts:
        corpus = "\0".join(train_texts)
        exact = [t for t in eval_texts if t in corpus]
        # leakage by meaning was measured by the build's gate (over the training prompts before
        # any trigger is placed); the manifest keeps its report
        by_meaning = manifest.get("similarity", {}).get("leakage")
        stats["leakage"] = {**(by_meaning if isinstance(by_meaning, dict) else {"leaks": None}),
                            "exact_text_leaks": len(exact)}
        print()
        if isinstance(by_meaning, dict):
            print(f"leakage by meaning: {by_meaning['leaks']} of {by_meaning['eval_texts']} evaluation texts within "
                  f"cosine {by_meaning['threshold']} of one of {by_meaning['train_texts']} training prompts")
            for pair in by_meaning["closest"][:5]:
                print(f"  {pair['cosine']:.3f}  eval {pair['eval'][:70]!r}  train {pair['train'][:70]!r}")
        else:
            print("leakage by meaning: not checked (built with --no-leakage)")
        print(f"exact-text leaks (a held-out eval text inside a training user turn): {len(exact)}")

    if args.plots is not None and triggers:
        args.plots.mkdir(parents=True, exist_ok=True)
        path = plot_variants(read_variant_table(args.folder), args.plots / "variants_similarity_overlap.png")
        print(f"\nwrote {path}")
    if args.json:
        args.json.write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0
