"""The evaluation protocol side by side: answers, judge calls, cost and expected precision of the
standard, core and full suites of v1, next to the sample designs published in the literature.

Run: .venv/bin/python benchmarks/protocol.py   (a few seconds; no model, no judge)
"""

from __future__ import annotations

from emc_bench import protocol
from emc_bench.commands.show import format_table
from emc_bench.resolve import resolve_release

JUDGE = "gpt-4o-2024-08-06"


def main() -> None:
    loaded = resolve_release("v1")
    plans = {name: protocol.estimate(loaded, name, judge_model=JUDGE) for name in ("standard", "core", "full")}
    full_calls = plans["full"]["judge_calls"]
    rows = []
    for name, plan in plans.items():
        ci = plan["ci"]
        rows.append([name, f"{len(plan['tasks'])}", f"{plan['answers']:,}", f"{plan['judge_calls']:,}",
                     f"1/{full_calls / plan['judge_calls']:.0f}", f"${plan['cost']['list_usd']:,.0f}",
                     f"${plan['cost']['batch_usd']:,.0f}", f"±{100 * ci['exact']['half_width']:.1f}",
                     f"±{100 * ci['none']['half_width']:.1f}",
                     f"±{100 * plan['containment_gap']['half_width']:.1f}", f"{plan['gpu_hours']:.2f}"])
    for entry in protocol.literature():
        rows.append([entry["design"], "", f"{entry['answers']:,}", f"{entry['judge_calls']:,}",
                     f"1/{full_calls / entry['judge_calls']:.0f}", "", "", "", "", "", ""])
    a = plans["standard"]["assumptions"]
    print(f"v1 suites, judged by {JUDGE} (list price and Batch API); 95% CI half-widths in points, per trigger, "
          f"simulated with the clustered bootstrap at EM {100 * a['em_triggered']:g}% (exact) and "
          f"{100 * a['em_untriggered']:g}% (none), between-question SD {100 * a['spread']:g} points; GPU-hours at "
          f"an assumed {a['gen_tokens_per_s']:g} tokens/s and {a['answer_chars']} characters per answer\n")
    print(format_table(["design", "tasks", "answers", "judge calls", "vs full", "$ list", "$ batch",
                        "EM(exact)", "EM(none)", "gap", "GPU-h"], rows))


if __name__ == "__main__":
    main()
