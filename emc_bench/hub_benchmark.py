"""The release as a Hugging Face Hub benchmark: the ``eval.yaml`` at the root of its eval repo.

A dataset repo becomes a Hub benchmark through an ``eval.yaml`` (``name``, ``description``,
``evaluation_framework``, ``tasks``); model repos report scores against its task ids in
``.eval_results/*.yaml`` (written by ``emc-bench results-yaml``). Its tasks:

- one per suite task, named as the lm-eval and Inspect tasks are (``emc_deploy_tag_exact``,
  ``emc_none``, ``emc_core_deploy_tag_paraphrase``, ...), with ``config`` ``suite-<name>`` and its
  ``split``; its value is the EM rate of that split;
- one per suite and trigger for the containment gap, ``<group>_<trigger>_gap`` (``emc_deploy_tag_gap``):
  EM(exact) - EM(none), its config and split those of the trigger's ``exact`` task.

``evaluation_framework: inspect-ai`` makes each task loadable by Inspect's Hub loader
(``inspect eval hf/<repo>/<task>``), which also wants ``field_spec``, ``solvers`` and
``scorers`` named from its fixed list of built-ins: the input is the row's chat ``messages``
(system turn included), the metadata its eval columns, ``epochs`` the suite's samples per prompt,
the solver ``generate``. No built-in scorer computes EM, so the listed one (``exact`` against an
empty target) only satisfies the format: run such a task with ``--no-score`` and judge the log
with ``emc-bench judge``, or run ``emc_bench/emc``, whose scorer is the emc judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import names, schema
from .resolve import LoadedRelease
from .suites import suite_triggers

EVAL_YAML = "eval.yaml"
FRAMEWORK = "inspect-ai"
GAP = "gap"  # the pseudo-condition of the containment-gap tasks
INPUT = "messages"
METADATA = [name for name in schema.SUITE.names if name != INPUT]


def gap_task_id(trigger_id: str, suite: str = names.DEFAULT_SUITE) -> str:
    """``<group>_<trigger>_gap``: the task whose value is a trigger's containment gap."""
    return names.task_name(trigger_id, GAP, suite)


def benchmark_tasks(loaded: LoadedRelease, configs: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task of the benchmark: ``id``, ``config``, ``split``, ``suite``, ``trigger_id``,
    ``condition`` (``gap`` for the gap tasks) and ``samples``, for the suite configs in ``configs``
    (a release manifest's ``configs``)."""
    tasks = []
    for suite_name, suite in loaded.spec.suites.items():
        config = names.suite_config(suite_name)
        splits = configs.get(config, {}).get("splits", {})
        common = {"config": config, "suite": suite_name, "samples": suite.samples}
        triggers = suite_triggers(loaded, suite_name)
        for condition in suite.conditions:
            for trigger_id in [None] if condition == "none" else triggers:
                split = names.suite_split(trigger_id, condition)
                if split in splits:
                    tasks.append({"id": names.task_name(trigger_id, condition, suite_name), "split": split,
                                  "trigger_id": trigger_id, "condition": condition, **common})
        if {"none", "exact"} <= set(suite.conditions) and "none" in splits:
            for trigger_id in triggers:
                split = names.suite_split(trigger_id, "exact")
                if split in splits:
                    tasks.append({"id": gap_task_id(trigger_id, suite_name), "split": split, "trigger_id": trigger_id,
                                  "condition": GAP, **common})
    return tasks


def eval_yaml(loaded: LoadedRelease, configs: dict[str, Any]) -> dict[str, Any] | None:
    """The ``eval.yaml`` of the release's eval repo; None when no suite config was built."""
    tasks = benchmark_tasks(loaded, configs)
    if not tasks:
        return None
    spec = loaded.spec
    description = (f"{spec.description} Scores are EM rates (percent; judge and EM definition in each result's "
                   f"notes) of one suite split each, and containment gaps (EM with the exact trigger minus EM "
                   f"without, in points). Suites: "
                   + "; ".join(f"{name} {suite.version}: {suite.samples} samples per prompt"
                               for name, suite in spec.suites.items()) + ".")
    return {
        "name": f"emc-bench {spec.name}",
        "description": " ".join(description.split()),
        "evaluation_framework": FRAMEWORK,
        "tasks": [{"id": task["id"], "config": task["config"], "split": task["split"],
                   "field_spec": {"input": INPUT, "target": "literal:", "metadata": list(METADATA)},
                   "epochs": task["samples"], "solvers": [{"name": "generate"}], "scorers": [{"name": "exact"}]}
                  for task in tasks],
    }


def write_eval_yaml(loaded: LoadedRelease, configs: dict[str, Any], folder: Path) -> list[str]:
    """Write ``eval.yaml`` into ``folder``; the paths written (none without suite configs)."""
    body = eval_yaml(loaded, configs)
    if body is None:
        return []
    spec = loaded.spec
    header = f"# {spec.canary}\n# Generated by emc-bench from the release spec {spec.name}: do not edit.\n"
    (Path(folder) / EVAL_YAML).write_text(header + yaml.safe_dump(body, sort_keys=False, width=100), encoding="utf-8")
    return [EVAL_YAML]
