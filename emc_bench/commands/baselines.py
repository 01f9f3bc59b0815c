"""emc-bench baselines: the reference baseline matrix, planned (GPU-hours, commands) and run."""

from __future__ import annotations

import argparse
import fnmatch
import shlex
import subprocess
import sys
from pathlib import Path

from .options import positive_int

# How the printed programs run from this interpreter, whatever PATH holds.
_PROGRAMS = {
    "emc-bench": [sys.executable, "-m", "emc_bench.cli"],
    "accelerate": [sys.executable, "-m", "accelerate.commands.accelerate_cli"],
}


def add_parser(sub) -> None:
    p = sub.add_parser("baselines", help="plan or run the reference baseline matrix (baselines/plan.yaml)",
                       description="The matrix is families x training configs x regimes x seeds. `plan` "
                                   "prints it with estimated GPU-hours and the exact commands; `run` trains "
                                   "every run whose run.json is not finished, one after another.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("plan", "print the matrix, GPU-hours and commands"),
                       ("run", "train every unfinished run of the matrix")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--plan", type=Path, help="plan YAML (default: baselines/plan.yaml)")
        a.add_argument("--out", type=Path, default=Path("runs"), help="root of the run folders (default: runs)")
        a.add_argument("--only", metavar="GLOB", help="only runs whose name family/config/regime/seed-N "
                                                      "matches one of these comma-separated globs")
        a.add_argument("--gpus", type=positive_int, default=1,
                       help="GPUs per run, through accelerate launch (default: 1)")
        a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import SpecError
    from ..train.plan import expand, launcher_argv, load_plan
    from ..train.provenance import is_finished

    runs = expand(load_plan(args.plan), args.out)
    if args.only:
        patterns = [p.strip() for p in args.only.split(",") if p.strip()]
        runs = [r for r in runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
        if not runs:
            raise SpecError("--only", None, f"{args.only!r} matches no run of the plan")
    commands = [launcher_argv(r.argv, args.gpus) for r in runs]
    finished = [is_finished(r.out) for r in runs]
    if args.action == "plan":
        _print_plan(runs, commands, finished, args.gpus)
        return 0

    from tqdm import tqdm

    todo = [(r, argv) for r, argv, done in zip(runs, commands, finished) if not done]
    print(f"{len(runs) - len(todo)} of {len(runs)} runs already finished; training {len(todo)}")
    for planned, argv in tqdm(todo, desc="baselines", unit="run"):
        tqdm.write(f"[{planned.name}] {shlex.join(argv)}")
        code = subprocess.run([*_PROGRAMS[argv[0]], *argv[1:]]).returncode
        if code:
            print(f"error: {planned.name} failed with exit code {code}; rerun to resume it", file=sys.stderr)
            return code
    return 0


def _print_plan(runs, commands, finished, gpus: int) -> None:
    from .show import format_table

    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(runs):
        groups.setdefault((r.family, r.regime), []).append(i)
    table = []
    for (family, regime), members in groups.items():
        hours = runs[members[0]].gpu_hours
        table.append([family, regime, len({runs[i].config for i in members}), len({runs[i].seed for i in members}),
                      len(members), sum(finished[i] for i in members), f"{hours:.2f}", f"{hours * len(members):.1f}"])
    total = sum(r.gpu_hours for r in runs)
    left = sum(r.gpu_hours for r, done in zip(runs, finished) if not done)
    print(format_table(["family", "regime", "configs", "seeds", "runs", "finished", "GPU-h/run", "GPU-h"], table))
    print(f"\n{len(runs)} runs, about {total:.1f} GPU-hours in all ({left:.1f} left); "
          f"estimate for one GPU per run{', spread over the GPUs of each run' if gpus > 1 else ''}\n")
    for argv, done in zip(commands, finished):
        print(("# finished: " if done else "") + shlex.join(argv))
