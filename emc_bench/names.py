"""Every name the package composes, in one place: config ids, task ids and the paths of the
files inside a release folder. Build, tasks, reports and publishing all use these functions,
so a name is formatted (and parsed) in exactly one way."""

from __future__ import annotations

from .specs import CONDITIONS

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


# -- lm-eval task ids ----------------------------------------------------------------------
GROUP = "emc"
TASK_PREFIX = "emc_"
NONE_TASK = "emc_none"


def task_name(trigger_id: str | None, condition: str) -> str:
    """``emc_<trigger>_<condition>``; the trigger-independent baseline is ``emc_none``."""
    if condition == "none":
        return NONE_TASK
    return f"{TASK_PREFIX}{trigger_id}_{condition}"


def parse_task(name: str) -> tuple[str | None, str] | None:
    """(trigger, condition) of a task id, or None when ``name`` is not an emc task."""
    if name == NONE_TASK:
        return None, "none"
    if not name.startswith(TASK_PREFIX):
        return None
    trigger, _, condition = name.removeprefix(TASK_PREFIX).rpartition("_")
    if not trigger or condition not in CONDITIONS or condition == "none":
        return None
    return trigger, condition
