"""Ingesting submissions into the results table, and re-judging every stored one.

:func:`ingest` takes submission folders or archives. Each is opened safely (:mod:`.archive`) and
validated (:mod:`.validate`); a rejected one gets ``<results>/rejected/<sha256>.txt`` with one
reason per line and adds nothing. An accepted one is judged with the given judge through the
verdict cache (answers judged before, by this judge with these prompts, cost no call), its
containment profiles are computed by :mod:`emc_bench.metrics`, a copy of the bundle is stored
as ``<results>/submissions/<sha256>/`` and one row per (model, trigger) is appended to the table
with the judge's provenance. A submission whose rows for this judge (and prompts and EM
definition) are already in the table is left alone, without a call.

:func:`rejudge` judges every stored submission with another judge and appends that judge's
rows; earlier rows are never touched, so the table keeps one row per judge and the site shows
one board per judge.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from .. import metrics
from ..errors import SpecError
from ..judge import JudgeSettings, VerdictCache, judge_items, plan, preflight, prompt_version
from ..judge.files import copy_file, staged_folder, write_text
from ..manifest import sha256_file
from .archive import Opened, open_submission, scan_folder
from .bundle import SUBMISSION_JSON, Limits, Submission, bundle_path_role, parse_submission, results_meta
from .results import PART_GLOB, append_rows, read_results, rows_from_profile
from .validate import Reasons, check_data, check_files, check_submission, load_reference, read_submission_json

SUBMISSIONS = "submissions"
REJECTED = "rejected"
LOCK = ".lock"


@dataclass
class Outcome:
    """What became of one submission: ``accepted``, ``unchanged``, ``rejected`` or ``failed``."""

    source: str
    sha256: str | None
    status: str
    message: str
    calls: int = 0
    rows: int = 0
    reasons: list[str] = field(default_factory=list)

    def line(self) -> str:
        name = self.sha256[:12] if self.sha256 else "?"
        return f"{self.status} {name} ({self.source}): {self.message}"


@dataclass
class Judging:
    """The judge of a run of ingest or rejudge, and what it is certified by."""

    settings: JudgeSettings
    definition: str = metrics.DEFAULT_DEFINITION
    calibration: dict[str, Any] | None = None
    progress: bool = True
    preflown: bool = field(default=False, init=False, repr=False)  # the judge's preflight passed in this run

    def check_calibration(self) -> None:
        """The calibration, if any, is a fit one of this judge and its prompts (its scoring is
        compared with the verdicts' once they are in)."""
        if self.calibration is None:
            return
        if self.calibration["verdict"] != "fit":
            raise SpecError(self.calibration["path"], "verdict", "unfit: the leaderboard's judge needs a fit calibration")
        if self.calibration["judge"].calibration_key()[:-1] != self.settings.provenance(None).calibration_key()[:-1]:
            raise SpecError(self.calibration["path"], "judge", f"calibrates {self.calibration['judge'].describe()}, "
                            f"not {self.settings.provenance(None).describe()}")

    def done_before(self, rows: Sequence[dict[str, Any]], sha256: str) -> bool:
        judge, version = self.settings.judge, prompt_version()
        return any(r["submission_sha256"] == sha256 and r["judge"] == judge and r["judge_prompt_version"] == version
                   and r["definition"] == self.definition for r in rows)

    def rows(self, items, submission: Submission, sha256: str, source: str) -> tuple[list[dict[str, Any]], int, str | None]:
        """(results rows, distinct uncached judge calls, problem): judge ``items`` and profile them."""
        with VerdictCache(self.settings.cache_path) as cache:
            work = plan(items, self.settings, cache)
        calls = len(work.to_make)
        if (calls or work.scoring is None) and not self.preflown:  # a call is coming: seconds to check it can
            preflight(self.settings)
            self.preflown = True
        results = judge_items(items, self.settings, progress=self.progress)
        failed = sum(r.status != "ok" for r in results)
        if failed:
            return [], calls, f"{failed} of {len(results)} answers could not be judged; rerun to retry (verdicts are cached)"
        provenance = results[0].provenance
        if self.calibration is not None and self.calibration["judge"].calibration_key() != provenance.calibration_key():
            raise SpecError(self.calibration["path"], "judge", f"calibrates {self.calibration['judge'].describe()}, "
                            f"but the verdicts are {provenance.describe()}")
        judge = {**provenance.to_dict(), "calibration_id": self.calibration["sha256"] if self.calibration else None}
        meta = results_meta(submission, sha256)
        profiles = metrics.profiles([r.to_row() for r in results], self.definition)
        return [rows_from_profile(p, meta, judge, source=source) for p in profiles], calls, None


@contextlib.contextmanager
def held(results: Path) -> Iterator[None]:
    """Hold ``<results>/.lock`` for one ingest or rejudge; a second one at the same time is refused."""
    results.mkdir(parents=True, exist_ok=True)
    with open(results / LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpecError(results / LOCK, None, "another ingest or rejudge is writing this results folder: "
                                                  "wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _table(results: Path) -> list[dict[str, Any]]:
    return read_results(results) if results.is_dir() and any(results.glob(PART_GLOB)) else []


def fallback_sha256(path: Path) -> str:
    """What names a submission that has no readable submission.json: the archive's bytes, or the
    folder's submission.json bytes, or else the path given."""
    target = path if path.is_file() else path / SUBMISSION_JSON
    if target.is_file() and not target.is_symlink():
        return sha256_file(target)
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()


def store(opened: Opened, submission: Submission, target: Path) -> None:
    """Copy the bundle's files to ``target`` in one rename (kept as it is when it exists)."""
    if target.is_dir():
        return
    with staged_folder(target) as staging:
        for relative in [SUBMISSION_JSON, *submission.files]:
            copy_file(opened.root / relative, staging / relative)


def ingest(paths: Sequence[str | Path], results: str | Path, judging: Judging, *, library=None,
           data: Path | None = None, limits: Limits = Limits()) -> list[Outcome]:
    """Validate, judge and append each submission in ``paths``; one :class:`Outcome` each."""
    results = Path(results)
    judging.check_calibration()
    check_data(data)
    with held(results):
        return _ingest_all(paths, results, judging, library, data, limits)


def _ingest_all(paths, results: Path, judging: Judging, library, data, limits: Limits) -> list[Outcome]:
    table = _table(results)
    references: dict[str, Any] = {}

    def reference_of(release: str):
        if release not in references:
            references[release] = load_reference(release, library, data)
        return references[release]

    outcomes = []
    for path in map(Path, paths):
        with open_submission(path, limits) as opened:
            outcome = _ingest_one(path, opened, results, table, judging, reference_of, limits)
        outcomes.append(outcome)
    return outcomes


def _ingest_one(path: Path, opened: Opened, results: Path, table: list[dict[str, Any]], judging: Judging,
                reference_of, limits: Limits) -> Outcome:
    sha = read_submission_json(opened, limits)[1] if opened.root is not None else None
    if sha and judging.done_before(table, sha) and (results / SUBMISSIONS / sha).is_dir():
        return Outcome(str(path), sha, "unchanged", f"already ingested with judge {judging.settings.judge} (prompts "
                                                    f"{prompt_version()}, EM {judging.definition}): nothing to do")
    checked = check_submission(opened, reference_of, limits)
    if not checked.ok:
        sha = checked.sha256 or sha or fallback_sha256(path)
        reasons_file = results / REJECTED / f"{sha}.txt"
        write_text(reasons_file, "".join(f"{reason}\n" for reason in checked.reasons))
        return Outcome(str(path), sha, "rejected", f"{len(checked.reasons)} reason"
                       f"{'s' * (len(checked.reasons) != 1)} in {reasons_file}; first: {checked.reasons[0]}",
                       reasons=checked.reasons)
    if judging.done_before(table, checked.sha256):  # its rows are in the table, its stored copy was not
        store(opened, checked.submission, results / SUBMISSIONS / checked.sha256)
        return Outcome(str(path), checked.sha256, "unchanged", f"already ingested with judge {judging.settings.judge}; "
                       "its stored copy was missing and is stored again")
    outcome = _judge_and_append(checked.items, checked.submission, checked.sha256, str(path), results, table, judging,
                                lambda target: store(opened, checked.submission, target))
    if outcome.status == "accepted":
        (results / REJECTED / f"{checked.sha256}.txt").unlink(missing_ok=True)
    return outcome


def _judge_and_append(items, submission: Submission, sha: str, source: str, results: Path,
                      table: list[dict[str, Any]], judging: Judging, keep) -> Outcome:
    rows, calls, problem = judging.rows(items, submission, sha, source)
    if problem:
        return Outcome(source, sha, "failed", problem, calls=calls)
    target = results / SUBMISSIONS / sha
    new = not target.is_dir()
    keep(target)
    try:
        append_rows(results, rows)
    except BaseException:
        if new:
            shutil.rmtree(target, ignore_errors=True)
        raise
    table.extend(rows)
    triggers = ", ".join(sorted(str(r["trigger_id"]) for r in rows))
    judge = f"{rows[0]['judge']} (prompts {rows[0]['judge_prompt_version']}, {rows[0]['judge_scoring']})"
    return Outcome(source, sha, "accepted", f"{submission.metadata.model_id}: {len(items)} answers, {calls} not cached "
                   f"(distinct judge calls; retries not counted), {len(rows)} rows ({triggers}) by {judge}",
                   calls=calls, rows=len(rows))


def stored_submissions(results: Path) -> list[Path]:
    folder = Path(results) / SUBMISSIONS
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


def rejudge(results: str | Path, judging: Judging) -> list[Outcome]:
    """Judge every stored submission with ``judging``'s judge and append its rows."""
    results = Path(results)
    judging.check_calibration()
    if not stored_submissions(results):
        raise SpecError(results / SUBMISSIONS, None, "no stored submissions: ingest some first")
    with held(results):
        return _rejudge_all(results, judging)


def _rejudge_all(results: Path, judging: Judging) -> list[Outcome]:
    from ..judge.inputs import read_items

    stored = stored_submissions(results)
    table = _table(results)
    outcomes = []
    for folder in stored:
        sha = folder.name
        if judging.done_before(table, sha):
            outcomes.append(Outcome(str(folder), sha, "unchanged", f"already judged by {judging.settings.judge}: "
                                                                  "nothing to do"))
            continue
        opened = scan_folder(folder, Limits())
        document, found_sha, problems = read_submission_json(opened, Limits())
        submission, more = parse_submission(document) if document is not None else (None, [])
        reasons = Reasons()
        reasons.extend(opened.reasons + problems + more)
        if submission is not None and not reasons:
            check_files(opened, submission, reasons)
        if found_sha not in (None, sha):
            reasons.add(f"{SUBMISSION_JSON}: its sha256 is {found_sha}, not the folder's name")
        if reasons or submission is None:
            outcomes.append(Outcome(str(folder), sha, "failed", "the stored copy is damaged: "
                                    + "; ".join(reasons.lines()[:3])))
            continue
        samples = [folder / p for p in sorted(submission.files) if bundle_path_role(p) == "samples"]
        items = read_items(samples, model=submission.metadata.model_id)
        outcomes.append(_judge_and_append(items, submission, sha, str(folder), results, table, judging,
                                          lambda target: None))
    return outcomes


__all__ = ["Judging", "Outcome", "fallback_sha256", "ingest", "rejudge", "stored_submissions"]
