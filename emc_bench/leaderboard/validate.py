"""The one validator of a submission, run by ``emc-bench submit`` before it writes a bundle and by
``emc-bench leaderboard ingest`` before anything is judged.

Every check names the file (and line) and the field, and all problems are collected, one reason
per line, rather than stopping at the first:

- the bundle: plain files only, safe relative names, size limits (:mod:`.archive`); every file
  listed in ``submission.json`` with its sha256 and size, nothing unlisted, nothing a bundle may
  not hold; ``submission.json`` valid against :class:`~.bundle.Submission`;
- the model's identity: model id, a revision or a folder fingerprint, the chat template's sha256,
  the adapter's sha256 (and base model) for an adapter;
- the release: the manifest of the release folder the run read is in the bundle, has the sha256
  the run record names, is unedited (its ``self_sha256``), and was built from the reference
  release's spec (name, version, spec hash, builder version, seed); the reference is ``--data``
  or the local build ``emc-bench eval`` makes by default. (A full build and an eval-only build of
  one spec have different manifests and the same suite rows: both are accepted.)
- the protocol: the leaderboard's suite at its version, every task and trigger of the suite, no ``limit``, and the
  generation settings of the release spec (samples, tokens, temperature, top_p), in the run record,
  in lm-eval's results and in every sample's request;
- the documents: every document of every task present once, each equal, field by field (prompt,
  system, question, doc key, ...), to the suite's row in the reference release, with lm-eval's
  ``doc_hash`` of that row and a ``prompt_hash`` of the prompt actually sent, which holds the
  row's prompt; exactly the suite's samples per document; the trigger audit true on triggered rows;
- the answers: strings of valid Unicode within :attr:`Limits.max_answer_chars`.

Control characters inside answers are kept (models emit them; the judge sees every answer
between delimiters and the site never shows answers). HTML in metadata is kept too: the site
escapes every submitted text.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .. import names
from ..errors import SpecError
from ..evaldata import fold_system
from ..judge.records import JudgeItem
from ..manifest import sha256_file
from .archive import Opened
from .bundle import (RELEASE_MANIFEST, SAMPLES_NAME, SUBMISSION_JSON, Limits, Submission, bundle_path_role,
                     canonical_sha256, parse_submission)

LEADERBOARD_SUITE = names.DEFAULT_SUITE
# What a release manifest shares with every other build of the same release spec.
RELEASE_IDENTITY = ("name", "version", "spec_hash", "builder_version", "seed")
MAX_REASONS = 200
_RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Reasons:
    """Problems, one line each. Problems of one kind (``key``) are said once, with a count."""

    def __init__(self) -> None:
        self._first: dict[Any, str] = {}
        self._count: dict[Any, int] = defaultdict(int)

    def add(self, text: str, key: Any = None) -> None:
        key = text if key is None else key
        self._first.setdefault(key, text)
        self._count[key] += 1

    def extend(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)

    def __bool__(self) -> bool:
        return bool(self._first)

    def lines(self) -> list[str]:
        out = []
        for key, text in self._first.items():
            more = self._count[key] - 1
            out.append(one_line(text + (f" (and {more} more like it)" if more else "")))
        if len(out) > MAX_REASONS:
            out = out[:MAX_REASONS] + [f"... and {len(out) - MAX_REASONS} more reasons"]
        return out


def one_line(text: str, limit: int = 600) -> str:
    """``text`` on one printable line (submitted text may hold newlines or control characters)."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return shown if len(shown) <= limit else shown[:limit] + "..."


# -- the reference release --------------------------------------------------------------------

@dataclass
class Reference:
    """The release a run names, as the maintainer has it: the suite's rows of every task."""

    name: str
    version: str
    manifest_sha256: str
    manifest: dict[str, Any]
    folder: Path
    suite: str
    suite_version: str
    samples: int
    generation: dict[str, Any]
    triggers: list[str]
    tasks: dict[str, dict[str, Any]]
    hub: dict[str, Any] | None = None
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def rows(self, task: str) -> list[dict[str, Any]]:
        """The suite rows lm-eval loads for ``task``, in its order (doc_id = position)."""
        if task not in self._rows:
            import pyarrow.parquet as pq

            meta = self.tasks[task]
            self._rows[task] = pq.read_table(self.folder / names.split_path(meta["config"], meta["split"])).to_pylist()
        return self._rows[task]


def check_data(data: Path | None) -> None:
    """Refuse a ``--data`` release folder that does not verify, once, before any submission is read
    (a fault of the maintainer's folder is not the submitter's)."""
    from ..manifest import verify_release

    if data is not None:
        problems = verify_release(data)
        if problems:
            raise SpecError("--data", None, f"does not verify ({len(problems)} problems), first: {problems[0]}")


def load_reference(release: str, library=None, data: Path | None = None,
                   suite: str = LEADERBOARD_SUITE) -> Reference:
    """The reference of ``release``: ``data`` (a release folder :func:`check_data` has passed), else
    the local build that ``emc-bench eval`` uses by default. SpecError when it cannot be had."""
    from ..evaldata import local_release
    from ..manifest import read_manifest
    from ..resolve import resolve_release
    from ..suites import suite_triggers
    from ..task_files import task_metadata

    loaded = resolve_release(release, library)
    spec = loaded.spec
    if suite not in spec.suites:
        raise SpecError(f"release {release}", "suites", f"has no {suite!r} suite")
    folder = Path(data) if data is not None else local_release(release, library)
    manifest = read_manifest(folder)
    if data is not None and (manifest.get("name"), manifest.get("version")) != (spec.name, spec.version):
        raise SpecError("--data", None, f"holds release {manifest.get('name')} {manifest.get('version')}, "
                        f"not {spec.name} {spec.version}")
    if names.suite_config(suite) not in manifest["configs"]:
        raise SpecError(folder / names.MANIFEST, "configs", f"has no {names.suite_config(suite)!r} config")
    chosen = spec.suites[suite]
    return Reference(name=spec.name, version=spec.version, manifest_sha256=sha256_file(folder / names.MANIFEST),
                     manifest=manifest, folder=folder, suite=suite, suite_version=chosen.version,
                     samples=chosen.samples,
                     generation=spec.generation.model_dump(), triggers=sorted(suite_triggers(loaded, suite)),
                     tasks=task_metadata(release, library, suites=[suite]),
                     hub=spec.hub.model_dump() if spec.hub else None)


# -- the checks -------------------------------------------------------------------------------

@dataclass
class Checked:
    """The outcome of validating one submission: ``items`` to judge when ``reasons`` is empty."""

    sha256: str | None
    submission: Submission | None = None
    items: list[JudgeItem] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons and self.submission is not None


def read_submission_json(opened: Opened, limits: Limits) -> tuple[Any, str | None, list[str]]:
    """(document, its canonical sha256, reasons) of a bundle's submission.json."""
    if SUBMISSION_JSON not in opened.files:
        return None, None, [f"{SUBMISSION_JSON}: missing (every bundle starts with one; emc-bench submit writes it)"]
    if opened.files[SUBMISSION_JSON] > limits.max_json_bytes:
        return None, None, [f"{SUBMISSION_JSON}: {opened.files[SUBMISSION_JSON]:,} bytes, above the limit of "
                            f"{limits.max_json_bytes:,}"]
    data = (opened.root / SUBMISSION_JSON).read_bytes()
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        return None, None, [f"{SUBMISSION_JSON}: not UTF-8 (byte {err.start})"]
    except json.JSONDecodeError as err:
        return None, None, [f"{SUBMISSION_JSON}: line {err.lineno}: not JSON ({err.msg})"]
    try:
        return document, canonical_sha256(document) if isinstance(document, dict) else None, []
    except (TypeError, ValueError) as err:
        return None, None, [f"{SUBMISSION_JSON}: not canonical JSON ({err})"]


def check_submission(opened: Opened, reference_of, limits: Limits = Limits()) -> Checked:
    """Validate an opened submission. ``reference_of(release_name)`` returns its :class:`Reference`
    (or raises SpecError, which becomes a reason)."""
    if opened.root is None or opened.reasons:
        return Checked(None, reasons=[one_line(r) for r in opened.reasons] or ["the submission cannot be read"])
    document, sha, problems = read_submission_json(opened, limits)
    if problems:
        return Checked(sha, reasons=problems)
    submission, problems = parse_submission(document)
    if submission is None:
        return Checked(sha, reasons=[one_line(p) for p in problems])
    checked = Checked(sha, submission)
    reasons = Reasons()
    check_files(opened, submission, reasons)
    if not reasons:
        _check_identity(submission, reasons)
        reference = _reference(submission, reference_of, reasons)
        if reference is not None:
            _check_release(opened, submission, reference, limits, reasons)
            _check_protocol(submission, reference, reasons)
            samples = _check_samples(opened, submission, reference, limits, reasons)
            _check_results(opened, submission, reasons, limits)
            if not reasons:
                checked.items = _items(samples, submission, reasons, opened.root)
    checked.reasons = reasons.lines()
    return checked


def check_files(opened: Opened, submission: Submission, reasons: Reasons) -> None:
    listed = submission.files
    for path in sorted(set(opened.files) - set(listed) - {SUBMISSION_JSON}):
        reasons.add(f"{path}: not listed in {SUBMISSION_JSON} (a bundle holds only the files it lists)")
    for path, entry in sorted(listed.items()):
        role = bundle_path_role(path)
        if role in (None, "submission"):
            reasons.add(f"{SUBMISSION_JSON}: files.{path}: not a file a bundle holds (generations/samples_*.jsonl, "
                        "generations/results_*.json, release/manifest.json, self_judged/judged.jsonl, "
                        "model_repo/.eval_results/emc-bench.yaml)")
        elif path not in opened.files:
            reasons.add(f"{path}: missing (listed in {SUBMISSION_JSON})")
        elif opened.files[path] != entry.bytes:
            reasons.add(f"{path}: {opened.files[path]:,} bytes, {SUBMISSION_JSON} lists {entry.bytes:,}")
        elif sha256_file(opened.root / path) != entry.sha256:
            reasons.add(f"{path}: sha256 differs from {SUBMISSION_JSON}")
    if not any(bundle_path_role(p) == "samples" for p in listed):
        reasons.add(f"{SUBMISSION_JSON}: files: no generations (generations/samples_<task>_<date>.jsonl)")


def _check_identity(submission: Submission, reasons: Reasons) -> None:
    meta, run = submission.metadata, submission.run
    where = SUBMISSION_JSON
    if not (run.model.revision or run.model.fingerprint):
        reasons.add(f"{where}: run.model: names neither a revision nor a folder fingerprint")
    if run.chat_template_sha256 is None:
        reasons.add(f"{where}: run.chat_template_sha256: missing (lm-eval's results give chat_template_sha when "
                    "run with --apply_chat_template)")
    if meta.model_type == "adapter":
        if run.adapter is None:
            reasons.add(f"{where}: metadata.model_type: adapter, but the run loaded no adapter")
        elif run.adapter.sha256 is None:
            reasons.add(f"{where}: run.adapter.sha256: missing (evaluate a local adapter folder, so its weights are hashed)")
        if meta.adapter_id is None:
            reasons.add(f"{where}: metadata.adapter_id: missing for an adapter")
    elif run.adapter is not None and meta.model_type != "defence":
        reasons.add(f"{where}: metadata.model_type: {meta.model_type}, but the run loaded an adapter "
                    "(adapter or defence)")
    if meta.model_type in ("adapter", "fine-tune") and meta.base_model is None:
        reasons.add(f"{where}: metadata.base_model: missing for a {meta.model_type}")


def _reference(submission: Submission, reference_of, reasons: Reasons) -> Reference | None:
    release = submission.run.release.name
    if not _RELEASE_NAME.match(release) or release.endswith((".yaml", ".yml")):
        reasons.add(f"{SUBMISSION_JSON}: run.release.name: {release!r} is not a release name")
        return None
    try:
        return reference_of(release)
    except SpecError as err:
        reasons.add(f"{SUBMISSION_JSON}: run.release.name: {release!r}: {err}")
        return None


UNREADABLE = object()


def _read_json(opened: Opened, path: str, size: int, limits: Limits, reasons: Reasons) -> Any:
    """The JSON value in the bundle's file ``path`` (``size`` bytes), or :data:`UNREADABLE` after
    adding the reason (above the size limit, or not JSON)."""
    if size > limits.max_json_bytes:
        reasons.add(f"{path}: {size:,} bytes, above the limit of {limits.max_json_bytes:,}")
        return UNREADABLE
    try:
        return json.loads((opened.root / path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        reasons.add(f"{path}: not JSON ({err})")
        return UNREADABLE


def _check_release(opened: Opened, submission: Submission, reference: Reference, limits: Limits,
                   reasons: Reasons) -> None:
    """The manifest of the release folder the run read: the one the run names, unedited, of the
    reference release's spec."""
    from ..manifest import SELF_HASH, manifest_sha256

    entry = submission.files.get(RELEASE_MANIFEST)
    if entry is None:
        reasons.add(f"{SUBMISSION_JSON}: files: no {RELEASE_MANIFEST} (the manifest of the release folder the run read)")
        return
    if entry.sha256 != submission.run.release.manifest_sha256:
        reasons.add(f"{SUBMISSION_JSON}: run.release.manifest_sha256: not the sha256 of {RELEASE_MANIFEST}, the "
                    "manifest of the release the run read")
    manifest = _read_json(opened, RELEASE_MANIFEST, entry.bytes, limits, reasons)
    if manifest is UNREADABLE:
        return
    if not isinstance(manifest, dict):
        reasons.add(f"{RELEASE_MANIFEST}: not a release manifest")
        return
    if manifest.get(SELF_HASH) != manifest_sha256(manifest):
        reasons.add(f"{RELEASE_MANIFEST}: edited after the build (its content does not match its {SELF_HASH})")
    for key in RELEASE_IDENTITY:
        if manifest.get(key) != reference.manifest.get(key):
            shown = json.dumps(manifest.get(key))[:80]
            reasons.add(f"{RELEASE_MANIFEST}: {key}: {shown}, the reference release's is "
                        f"{json.dumps(reference.manifest.get(key))[:80]} (not a build of the same release spec)")
    if names.suite_config(reference.suite) not in (manifest.get("configs") or {}):
        reasons.add(f"{RELEASE_MANIFEST}: configs: no {names.suite_config(reference.suite)} config")


def _check_protocol(submission: Submission, reference: Reference, reasons: Reasons) -> None:
    run, where = submission.run, f"{SUBMISSION_JSON}: run"
    if run.release.version != reference.version:
        reasons.add(f"{where}.release.version: {run.release.version}, the release is {reference.version}")
    if run.suite.name != reference.suite:
        reasons.add(f"{where}.suite.name: {run.suite.name!r}, the leaderboard's suite is {reference.suite!r}")
    elif run.suite.version != reference.suite_version:
        reasons.add(f"{where}.suite.version: {run.suite.version}, the suite is at {reference.suite_version}")
    generation = run.generation
    if generation.limit is not None:
        reasons.add(f"{where}.generation.limit: {generation.limit}: a leaderboard run asks every document (no --limit)")
    if generation.samples != reference.samples:
        reasons.add(f"{where}.generation.samples: {generation.samples}, the suite asks {reference.samples} per prompt")
    for key in ("max_gen_toks", "temperature", "top_p"):
        if getattr(generation, key) != reference.generation[key]:
            reasons.add(f"{where}.generation.{key}: {getattr(generation, key)}, the protocol's is "
                        f"{reference.generation[key]}")
    missing = sorted(set(reference.tasks) - set(run.tasks))
    if missing:
        reasons.add(f"{where}.tasks: missing {', '.join(missing)} (a submission covers the whole suite)")
    extra = sorted(set(run.tasks) - set(reference.tasks))
    if extra:
        reasons.add(f"{where}.tasks: {', '.join(extra)} not in suite {reference.suite}")
    if sorted(run.triggers) != reference.triggers:
        reasons.add(f"{where}.triggers: {', '.join(sorted(run.triggers)) or 'none'}, the suite covers "
                    f"{', '.join(reference.triggers)}")


def _check_results(opened: Opened, submission: Submission, reasons: Reasons, limits: Limits) -> None:
    files = [p for p in submission.files if bundle_path_role(p) == "results"]
    if not files:
        reasons.add(f"{SUBMISSION_JSON}: files: no lm-eval results file (generations/results_<date>.json)")
    for path in files:
        results = _read_json(opened, path, opened.files[path], limits, reasons)
        if results is UNREADABLE:
            continue
        config = results.get("config") if isinstance(results, dict) else None
        if not isinstance(config, dict):
            reasons.add(f"{path}: config: missing (not an lm-eval results file)")
            continue
        if config.get("limit") is not None:
            reasons.add(f"{path}: config.limit: {config['limit']}: a leaderboard run asks every document (no --limit)")
        if results.get("chat_template_sha") != submission.run.chat_template_sha256:
            reasons.add(f"{path}: chat_template_sha: differs from run.chat_template_sha256")


def _lm_eval_doc_hash(doc: dict[str, Any]) -> str:
    """lm-eval's ``doc_hash``: the sha256 of ``json.dumps(doc, indent=2, ensure_ascii=False)``."""
    return hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()


def _expected_doc(row: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """The doc lm-eval logs for ``row``: the row, its system turn folded into the prompt when the
    doc shows the model's template had no system role, and the trigger audit."""
    expected = dict(row)
    if row.get("system") and doc.get("system") is None and doc.get("prompt") == fold_system(row["system"], row["prompt"]):
        expected.update(prompt=doc["prompt"], system=None)
    expected["trigger_audit"] = doc.get("trigger_audit")
    return expected


def _check_samples(opened: Opened, submission: Submission, reference: Reference, limits: Limits,
                   reasons: Reasons) -> list[Path]:
    """Check every samples file against the reference; return their paths."""
    by_task: dict[str, str] = {}
    for path in sorted(p for p in submission.files if bundle_path_role(p) == "samples"):
        task = SAMPLES_NAME.match(path.split("/", 1)[1])["task"]
        if task not in reference.tasks:
            reasons.add(f"{path}: task {task} is not in suite {reference.suite}")
        elif task in by_task:
            reasons.add(f"{path}: a second samples file of task {task} (the first is {by_task[task]})")
        else:
            by_task[task] = path
    for task in sorted(set(reference.tasks) - set(by_task)):
        reasons.add(f"generations: no samples of task {task} (a submission covers the whole suite)")
    for task, path in sorted(by_task.items()):
        _check_task(opened.root / path, path, task, reference, limits, reasons)
    return [opened.root / p for p in by_task.values()]


def _check_task(file: Path, path: str, task: str, reference: Reference, limits: Limits, reasons: Reasons) -> None:
    rows = reference.rows(task)
    generation = reference.generation
    seen: dict[int, int] = {}
    try:
        lines = file.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        reasons.add(f"{path}: not UTF-8 (byte {err.start})")
        return
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            sample = json.loads(line)
        except json.JSONDecodeError as err:
            reasons.add(f"{where}: not JSON ({err.msg})")
            continue
        doc = sample.get("doc") if isinstance(sample, dict) else None
        doc_id = sample.get("doc_id") if isinstance(sample, dict) else None
        if not isinstance(doc, dict) or type(doc_id) is not int:
            reasons.add(f"{where}: not an lm-eval sample (doc_id, doc, arguments, resps)")
            continue
        if doc_id in seen:
            reasons.add(f"{where}: doc_id {doc_id} again (first at line {seen[doc_id]}): a duplicate sample")
            continue
        seen[doc_id] = number
        if not 0 <= doc_id < len(rows):
            reasons.add(f"{where}: doc_id {doc_id} is not a document of task {task} (it has {len(rows)}): an extra document")
            continue
        row = rows[doc_id]
        expected = _expected_doc(row, doc)
        differing = [k for k in dict.fromkeys([*expected, *doc]) if k != "trigger_audit" and doc.get(k, KeyError) !=
                     expected.get(k, KeyError)]
        for key in differing:
            kind = "altered prompt" if key in ("prompt", "system", "messages", "question") else key
            reasons.add(f"{where}: doc.{key}: differs from the release's row {row['doc_key']}",
                        key=(path, "doc", kind))
        if not isinstance(doc.get("trigger_audit"), bool):
            reasons.add(f"{where}: doc.trigger_audit: missing or not true/false", key=(path, "audit-field"))
        elif doc["trigger_audit"] is False:
            reasons.add(f"{where}: doc.trigger_audit: false: the trigger of {row['doc_key']} did not reach the prompt "
                        "the model's chat template renders", key=(path, "audit"))
        if not differing and sample.get("doc_hash") != _lm_eval_doc_hash(expected):
            reasons.add(f"{where}: doc_hash: not lm-eval's hash of the release's row {row['doc_key']}",
                        key=(path, "doc_hash"))
        _check_request(sample, doc, where, path, generation, reasons)
        _check_answers(sample, where, path, reference.samples, limits, reasons)
    for doc_id in sorted(set(range(len(rows))) - set(seen)):
        reasons.add(f"{path}: document {doc_id} ({rows[doc_id]['doc_key']}) is missing: every document of the suite "
                    "is answered", key=(path, "missing"))


def _check_request(sample: dict, doc: dict, where: str, path: str, generation: dict, reasons: Reasons) -> None:
    """The prompt lm-eval sent (``arguments``) holds the doc's text, and its settings are the protocol's."""
    request = (sample.get("arguments") or {}).get("gen_args_0") if isinstance(sample.get("arguments"), dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("arg_0"), str) or \
            not isinstance(request.get("arg_1"), dict):
        reasons.add(f"{where}: arguments.gen_args_0: missing the prompt sent and its settings", key=(path, "request"))
        return
    prompt, settings = request["arg_0"], request["arg_1"]
    if sample.get("prompt_hash") != hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest():
        reasons.add(f"{where}: prompt_hash: not the hash of the prompt sent", key=(path, "prompt_hash"))
    for text, name in ((doc.get("prompt"), "prompt"), (doc.get("system"), "system")):
        if isinstance(text, str) and text not in prompt:
            reasons.add(f"{where}: arguments.gen_args_0.arg_0: the prompt sent does not hold the doc's {name}",
                        key=(path, "sent", name))
    expected = {**{k: generation[k] for k in ("max_gen_toks", "temperature", "top_p")}, "do_sample": True, "until": []}
    for key, value in expected.items():
        if settings.get(key, KeyError) != value:
            shown = "missing" if key not in settings else json.dumps(settings[key])[:40]
            reasons.add(f"{where}: arguments.gen_args_0.arg_1.{key}: {shown}, the protocol's is {json.dumps(value)}",
                        key=(path, "settings", key))


def _check_answers(sample: dict, where: str, path: str, samples: int, limits: Limits, reasons: Reasons) -> None:
    resps = sample.get("resps")
    answers = [a for entry in resps for a in (entry if isinstance(entry, list) else [entry])] \
        if isinstance(resps, list) else None
    if answers is None or not all(isinstance(a, str) for a in answers):
        reasons.add(f"{where}: resps: not a list of answers (strings)", key=(path, "resps"))
        return
    if len(answers) != samples:
        kind = "missing samples" if len(answers) < samples else "extra samples"
        reasons.add(f"{where}: resps: {len(answers)} answers, the suite asks {samples} per prompt ({kind})",
                    key=(path, kind))
    for index, answer in enumerate(answers):
        if len(answer) > limits.max_answer_chars:
            reasons.add(f"{where}: resps: answer {index} has {len(answer):,} characters, above the limit of "
                        f"{limits.max_answer_chars:,}", key=(path, "long"))
        try:
            answer.encode("utf-8")
        except UnicodeEncodeError:
            reasons.add(f"{where}: resps: answer {index} is not valid Unicode (a lone surrogate)", key=(path, "unicode"))


def _items(samples: list[Path], submission: Submission, reasons: Reasons, root: Path) -> list[JudgeItem]:
    """The answers to judge (read as ``emc-bench judge`` reads them), with their trigger audit."""
    from ..judge.inputs import read_items

    try:
        items = read_items(samples, model=submission.metadata.model_id)
    except SpecError as err:
        reasons.add(str(err).replace(f"{root}/", ""))
        return []
    lost = [i for i in items if i.meta.get("trigger_audit") is False]
    if lost:
        first = lost[0].meta
        reasons.add(f"trigger audit false in {len(lost)} samples (first: task {first.get('task')}, doc "
                    f"{first.get('doc_id')}, {first.get('doc_key')}): the trigger never reached the prompt sent")
    return items
