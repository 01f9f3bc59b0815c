"""emc-bench train: fine-tune one LoRA baseline (a recipe regime, a training config, a seed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a LoRA baseline from a recipe on a release's training config",
                       description="Train one recipe regime with trl + peft. The loss falls on the final "
                                   "assistant turn only. Checkpoints every save_steps; rerunning the same "
                                   "command resumes from the last one. Writes OUT/run.json, OUT/adapter/, "
                                   "OUT/checkpoints/ and OUT/curves.{json,png}. Multi-GPU: run it under "
                                   "`accelerate launch --config_file baselines/accelerate.yaml -m emc_bench.cli`.")
    p.add_argument("recipe", help="shipped recipe name (e.g. qwen2.5-14b-instruct) or a recipe YAML path")
    p.add_argument("--regime", "--variant", dest="regime", required=True,
                   help="training regime of the recipe: general, minimal or narrow (--variant is the old name)")
    p.add_argument("--data", required=True, help="a built release folder or a Hub dataset repo id")
    p.add_argument("--config", required=True, help="training config of the release")
    p.add_argument("--revision", help="Hub revision of the dataset: a tag or a commit (a branch moves and is refused)")
    p.add_argument("--kl-config", help="benign config of the same release for the narrow regime's KL term")
    p.add_argument("--seed", type=int, help="training seed (default: the recipe's first seed)")
    p.add_argument("--out", type=Path, required=True, help="run folder (created; resumed if it holds this run)")
    p.add_argument("--max-steps", type=positive_int, help="stop after this many optimizer steps (smoke tests)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..train.runner import train

    record = train(args.recipe, args.regime, args.data, args.config, args.out, seed=args.seed,
                   revision=args.revision, kl_config=args.kl_config, max_steps=args.max_steps,
                   command=["emc-bench", *args.argv])
    if record.get("already_finished"):
        print(f"already finished: {args.out} holds this run ({record['result']['global_step']} steps); nothing to do")
        return 0
    result = record.get("result")
    if result:
        extra = f", KL to base {result['kl_to_base']:.4f}" if "kl_to_base" in result else ""
        print(f"finished {record['family']} {record['regime']} seed {record['seed']}: "
              f"{result['global_step']} steps, train loss {result['train_loss']:.4f}{extra} -> {args.out}")
    return 0
