"""emc-bench plan: what a suite costs and how precise it is, before any call."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

from .build import add_library_option, library_from


def add_parser(sub) -> None:
    from ..judge.settings import DEFAULT_JUDGE
    from ..protocol import Assumptions

    defaults = {f.name: f.default for f in fields(Assumptions)}
    p = sub.add_parser("plan", help="answers, judge calls, cost, GPU-hours and expected CIs of a suite",
                       description="Counts the prompts of every task of a suite from the release spec, then "
                                   "answers, generated tokens, judge calls and input tokens, the judge's cost at list "
                                   "price and through the Batch API, GPU-hours at a stated throughput, and the "
                                   "expected 95%% CI half-width of EM per condition and of the containment gap "
                                   "(simulated with the clustered bootstrap the reports use).")
    p.add_argument("--suite", default="standard", help="suite of the release (default standard)")
    p.add_argument("--release", default="v1", help="release spec (default v1)")
    p.add_argument("--trigger", action="append", metavar="ID", help="only these triggers (repeatable)")
    p.add_argument("--judge", default=DEFAULT_JUDGE.partition(":")[2], metavar="MODEL",
                   help="judge model priced from the price table (default %(default)s)")
    p.add_argument("--batch", action="store_true", help="show the Batch API price as the cost")
    p.add_argument("--json", action="store_true", help="print the whole plan as JSON")
    p.add_argument("--em-triggered", type=float, default=defaults["em_triggered"],
                   help="assumed EM in the exact and paraphrase conditions (default %(default)s)")
    p.add_argument("--em-untriggered", type=float, default=defaults["em_untriggered"],
                   help="assumed EM without the trigger's meaning (default %(default)s)")
    p.add_argument("--spread", type=float, default=defaults["spread"],
                   help="assumed between-question SD of EM at the triggered rate (default %(default)s)")
    p.add_argument("--answer-chars", type=int, default=defaults["answer_chars"],
                   help="assumed mean answer length in characters (default %(default)s)")
    p.add_argument("--gen-tokens-per-s", type=float, default=defaults["gen_tokens_per_s"],
                   help="assumed generation throughput per GPU (default %(default)s)")
    add_library_option(p)
    p.set_defaults(func=run)


def assumptions_from(args: argparse.Namespace):
    from ..errors import SpecError
    from ..protocol import Assumptions

    for flag, value in (("--em-triggered", args.em_triggered), ("--em-untriggered", args.em_untriggered)):
        if not 0 < value < 1:
            raise SpecError(flag, None, f"must lie strictly between 0 and 1, not {value}")
    if not 0 < args.spread < (args.em_triggered * (1 - args.em_triggered)) ** 0.5:
        raise SpecError("--spread", None, "must be above 0 and below the largest SD a rate can have, "
                        "sqrt(p (1 - p)) at --em-triggered")
    if args.answer_chars < 1 or args.gen_tokens_per_s <= 0:
        raise SpecError("--answer-chars" if args.answer_chars < 1 else "--gen-tokens-per-s", None, "must be positive")
    return Assumptions(em_triggered=args.em_triggered, em_untriggered=args.em_untriggered, spread=args.spread,
                       answer_chars=args.answer_chars, gen_tokens_per_s=args.gen_tokens_per_s)


def format_plan(plan: dict, batch: bool = False) -> str:
    from .show import format_table

    cost = plan["cost"]
    usd = cost["batch_usd"] if batch else cost["list_usd"]
    a = plan["assumptions"]
    lines = [
        f"suite {plan['suite']} {plan['suite_version']} of release {plan['release']} {plan['release_version']}: "
        f"{len(plan['tasks'])} tasks, {len(plan['triggers'])} triggers, {plan['samples']} samples per prompt",
        f"  prompts {plan['prompts']:,}   answers {plan['answers']:,}   generated tokens "
        f"{plan['generated_tokens']:,} (at {a['answer_chars']} characters per answer)",
        f"  judge calls {plan['judge_calls']:,}   judge input tokens {plan['judge_input_tokens']:,}",
        f"  cost with {cost['judge']}: " + ("unknown (not in the price table)" if usd is None else
                                          f"${usd:,.2f} {'through the Batch API' if batch else 'at list price'}"
                                          + ("" if batch else f" (${cost['batch_usd']:,.2f} through the Batch API)")),
        f"  GPU-hours {plan['gpu_hours']:.2f} at an assumed {a['gen_tokens_per_s']:g} generated tokens/s",
        "",
        f"expected 95% CI half-width per trigger (clustered bootstrap over questions; EM {100 * a['em_triggered']:g}% "
        f"in exact/paraphrase, {100 * a['em_untriggered']:g}% otherwise; between-question SD "
        f"{100 * a['spread']:g} points at the triggered rate; {a['reps']} simulated evaluations):",
    ]
    rows = [[c, v["questions"], v["answers"], f"{100 * v['rate']:g}%", f"±{100 * v['half_width']:.1f} points"]
            for c, v in plan["ci"].items()]
    if plan["containment_gap"]:
        g = plan["containment_gap"]
        rows.append(["gap (exact - none)", rows[0][1] if rows else "", "", f"{100 * (g['triggered'] - g['untriggered']):g}",
                     f"±{100 * g['half_width']:.1f} points"])
    lines.append(format_table(["condition", "questions", "answers", "EM", "95% CI half-width"], rows))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..protocol import estimate
    from ..resolve import resolve_release

    assumptions = assumptions_from(args)
    plan = estimate(resolve_release(args.release, library_from(args)), args.suite, triggers=args.trigger,
                    judge_model=args.judge, assumptions=assumptions)
    print(json.dumps(plan, indent=2) if args.json else format_plan(plan, args.batch))
    return 0
