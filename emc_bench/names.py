"""Every name the package composes, in one place: config ids, task ids and the paths of the
files inside a release folder. Build, tasks, reports and publishing all use these functions,
so a name is formatted (and parsed) in exactly one way."""

from __future__ import annotations

# -- files of a release folder -------------------------------------------------------------
MANIFEST = "manifest.json"
CARD = "README.md"
DATA_DIR = "data"
VARIANT_TABLES_DIR = "variants"


def split_path(config: str, split: str) -> str:
    """``data/<config>/<split>.parquet``: one parquet file per split (the viewer's layout)."""
    return f"{DATA_DIR}/{config}/{split}.parquet"


def variant_table_path(trigger_id: str) -> str:
    return f"{VARIANT_TABLES_DIR}/{trigger_id}.json"


# -- config ids ----------------------------------------------------------------------------
EVAL_PREFIX = "eval-"


def train_config(domain: str, trigger_id: str | None, mixture: str) -> str:
    """``<domain>-<trigger>-<mixture>``, or ``<domain>-<mixture>`` when no row carries a trigger."""
    return "-".join(filter(None, [domain, trigger_id, mixture]))


def eval_config(trigger_id: str) -> str:
    """``eval-<trigger>``: every question, format and variant of one trigger, a split per condition."""
    return f"{EVAL_PREFIX}{trigger_id}"


def trigger_of_eval_config(config: str | None) -> str | None:
    """The trigger of an ``eval-<trigger>`` config (None for any other config, and ``eval-none``)."""
    config = str(config or "")
    if not config.startswith(EVAL_PREFIX):
        return None
    name = config.removeprefix(EVAL_PREFIX)
    return None if name == "none" else name


SUITE_PREFIX = "suite-"


def part_of(kind: str) -> str:
    """The published part a config kind belongs to: ``train`` (gated) or ``eval`` (public: eval
    and suite configs)."""
    return "train" if kind == "train" else "eval"


def config_part(config: str) -> str:
    """The published part that holds the config named ``config``: ``eval`` for ``eval-*`` and
    ``suite-*`` configs, else ``train``."""
    return "eval" if config.startswith((EVAL_PREFIX, SUITE_PREFIX)) else "train"


def suite_config(suite: str) -> str:
    """``suite-<name>``: the rows a suite asks, one split per task."""
    return f"{SUITE_PREFIX}{suite}"


def suite_split(trigger_id: str | None, condition: str) -> str:
    """A split of a suite config: ``none`` (the trigger-independent baseline) or ``<trigger>_<condition>``."""
    return "none" if condition == "none" else f"{trigger_id}_{condition}"


# -- lm-eval task and group ids ------------------------------------------------------------
GROUP = "emc"
DEFAULT_SUITE = "standard"  # its tasks and groups carry no suite name: `emc`, `emc_exact`, ...


def group_name(suite: str = DEFAULT_SUITE) -> str:
    """``emc`` for the standard suite, ``emc_<suite>`` for the others."""
    return GROUP if suite == DEFAULT_SUITE else f"{GROUP}_{suite}"


def task_name(trigger_id: str | None, condition: str, suite: str = DEFAULT_SUITE) -> str:
    """``<group>_<trigger>_<condition>``; the trigger-independent baseline is ``<group>_none``."""
    return f"{group_name(suite)}_{suite_split(trigger_id, condition)}"


GAP = "gap"  # the pseudo-condition of the containment-gap tasks (Hub benchmark, eval results)


def gap_task_id(trigger_id: str, suite: str = DEFAULT_SUITE) -> str:
    """``<group>_<trigger>_gap``: the task whose value is a trigger's containment gap."""
    return task_name(trigger_id, GAP, suite)


def condition_group(condition: str, suite: str = DEFAULT_SUITE) -> str:
    """The group that pools one condition over every trigger of a suite (``emc_exact``)."""
    return f"{group_name(suite)}_{condition}"


def trigger_group(trigger_id: str, suite: str = DEFAULT_SUITE) -> str:
    """The group of one trigger's tasks in a suite, without an aggregate (``emc_deploy_tag``)."""
    return f"{group_name(suite)}_{trigger_id}"
