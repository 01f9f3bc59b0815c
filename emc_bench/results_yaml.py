"""A model repo's ``.eval_results/emc-bench.yaml``: an evaluated run's figures as Hub eval results.

The Hub shows a model's scores on a benchmark from YAML files in the model repo's
``.eval_results/`` folder: a list of entries ``{dataset: {id, task_id, revision}, value, date,
source: {url, name}, notes}``, each ``task_id`` a task of the benchmark's ``eval.yaml``
(:mod:`emc_bench.hub_benchmark`). From an ``emc-bench eval`` run folder (``run.json``,
``report/profile.json``, ``judged.jsonl``) this writes one entry per task the run measured:

- the EM rate of every condition of every trigger (``emc_<trigger>_<condition>``, and the shared
  baseline ``emc_none``), in percent;
- the containment gap of every trigger (``emc_<trigger>_gap``), EM(exact) - EM(none) in points.

Each entry's notes name the judge and its prompt version, the EM definition, the suite and its
version, the release, the 95% CI (clustered bootstrap over questions) and the number of answers;
``dataset.revision`` is the commit of the eval repo's release tag. All figures are those of the
run's report (computed by :mod:`emc_bench.metrics`); nothing is recomputed here.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from . import names
from .errors import SpecError
from .eval_run import IDENTITY, RUN_JSON
from .version import __version__

RESULTS_DIR = ".eval_results"
RESULTS_FILE = "emc-bench.yaml"
PROFILE = Path("report") / "profile.json"
JUDGED = "judged.jsonl"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
DIGITS = 2


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SpecError(path, None, "missing: RUN must be an emc-bench eval run folder with its report")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise SpecError(path, None, f"not JSON ({err})") from None


def read_run(run: Path) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The run record, its report's profiles and the judges of its judged rows; the report must
    be this run's (every field the generations depend on matches)."""
    run = Path(run)
    record = _read_json(run / RUN_JSON)
    report = _read_json(run / PROFILE)
    reported = report.get("run") or {}
    for key in IDENTITY:
        if reported.get(key) != record.get(key):
            raise SpecError(run / PROFILE, f"run.{key}", f"differs from {RUN_JSON}: the report is not of this run")
    if not report.get("profiles"):
        raise SpecError(run / PROFILE, "profiles", "is empty: nothing was judged")
    return record, report, judges_of(run / JUDGED)


def judges_of(path: Path) -> list[dict[str, Any]]:
    """The distinct (judge, prompt version) of a judged JSONL."""
    from .judge.inputs import read_jsonl

    if not path.is_file():
        raise SpecError(path, None, "missing: the run's judged answers name its judge")
    seen: dict[tuple, dict[str, Any]] = {}
    for _, row in read_jsonl(path):
        key = (row.get("judge"), row.get("prompt_version"))
        seen.setdefault(key, {"judge": key[0], "prompt_version": key[1]})
    return list(seen.values())


def dataset_commit(repo: str, revision: str) -> str:
    """The commit of ``revision`` (a commit id, or a tag resolved on the Hub)."""
    if COMMIT.match(revision):
        return revision
    from huggingface_hub import HfApi

    from .hub import pinned_commit

    try:
        return pinned_commit(HfApi(), repo, revision)
    except SpecError:
        raise
    except Exception as err:  # offline, no such repo: the Hub client's own errors
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise SpecError("--revision", None, f"cannot resolve {revision!r} of {repo} to its commit ({first}); "
                        "pass --revision COMMIT") from None


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, DIGITS)


def _ci(entry: dict[str, Any], unit: str) -> str:
    if entry.get("ci_low") is None:
        return "95% CI n/a"
    return f"95% CI {100 * entry['ci_low']:.1f}{unit} to {100 * entry['ci_high']:.1f}{unit}"


def entries(record: dict[str, Any], report: dict[str, Any], judges: list[dict[str, Any]], *, dataset: str,
            revision: str, date: str, source_url: str, source_name: str) -> list[dict[str, Any]]:
    """The ``.eval_results`` entries of a run: EM per condition and the gap per trigger."""
    if len(judges) != 1:
        shown = ", ".join(f"{j['judge']} ({j['prompt_version']})" for j in judges) or "none"
        raise SpecError(JUDGED, "judge", f"one judge per results file; the run's answers were judged by {shown}")
    (judge,) = judges
    suite, release = record["suite"], record["release"]
    provenance = (f"judge {judge['judge']} (prompt {judge['prompt_version']}); EM definition "
                  f"{report['definition']}; suite {suite['name']} {suite['version']}; release {release['name']} "
                  f"{release['version']}; emc-bench {record.get('emc_bench_version') or __version__}")
    common = {"revision": revision, "date": date, "source": source_url, "source_name": source_name}
    out: dict[str, dict[str, Any]] = {}

    def add(task_id: str, value: float | None, note: str) -> None:
        if value is None:
            return
        if task_id in out and out[task_id]["value"] != value:
            raise SpecError(PROFILE, task_id, "has two different values in the report")
        out.setdefault(task_id, {"task_id": task_id, "value": value, "notes": f"{note}; {provenance}", **common})

    for profile in report["profiles"]:
        trigger = profile["trigger_id"]
        for condition, rate in profile["conditions"].items():
            if condition != "none" and not trigger:
                continue
            task_id = names.task_name(trigger if condition != "none" else None, condition, suite["name"])
            add(task_id, _percent(rate["value"]), f"EM rate (%), {_ci(rate, '%')}, n={rate['n']} answers over "
                                                  f"{rate['questions']} questions")
        gap = profile["containment_gap"]
        if trigger:
            add(names.gap_task_id(trigger, suite["name"]), _percent(gap["value"]),
                f"containment gap EM(exact) - EM(none) (points), {_ci(gap, ' points')}, {gap['questions']} questions")
    return [to_yaml_entry(entry, dataset) for entry in out.values()]


def to_yaml_entry(entry: dict[str, Any], dataset: str) -> dict[str, Any]:
    """One entry in the ``.eval_results`` layout."""
    return {"dataset": {"id": dataset, "task_id": entry["task_id"], "revision": entry["revision"]},
            "value": entry["value"], "date": entry["date"],
            "source": {"url": entry["source"], "name": entry["source_name"]}, "notes": entry["notes"]}


def render(results: list[dict[str, Any]], canary: str) -> str:
    header = (f"# {canary}\n# Written by emc-bench results-yaml; the figures are those of the run's report "
              f"(report/profile.json).\n")
    return header + yaml.safe_dump(results, sort_keys=False, width=120, allow_unicode=True)


def report_date(run: Path) -> str:
    """When the run's report was written (UTC, ISO 8601)."""
    stamp = (Path(run) / PROFILE).stat().st_mtime
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
