"""Malicious and broken submissions: each kind, made from a copy of a real bundle (or an archive of
one), is refused by ``emc-bench leaderboard ingest`` with its reason in
``<results>/rejected/<sha256>.txt`` (one reason per line), exit 1, nothing appended, nothing stored
and no judge call (the judge's URL points at a closed port, so any call would fail instead).

HTML in metadata is not refused (the site escapes it): see test_leaderboard_ingest.py. Control
characters inside answers are kept: the tiny model's own answers hold some, and they pass here."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from test_leaderboard_submit_fixtures import (bundle, bundle_sha, copy_bundle, doc_hash, edit_samples,  # noqa: F401
                                              lb_builders, lb_env, prompt_hash, read_json, real_run, reference,
                                              rehash, samples_file, write_json)

from emc_bench.cli import main

TASK = "emc_tag_exact"  # a triggered task (user-prefix tag)
CLOSED = "http://127.0.0.1:9/v1"


def edit_document(folder: Path, edit) -> Path:
    document = read_json(folder / "submission.json")
    edit(document)
    write_json(folder / "submission.json", document)
    return folder


def edit_run(**changes):
    """An edit of run.generation (and its siblings) in submission.json."""
    def apply(folder: Path) -> Path:
        def change(document):
            for dotted, value in changes.items():
                target = document["run"]
                *path, last = dotted.split("__")
                for key in path:
                    target = target[key]
                target[last] = value
        return edit_document(folder, change)
    return apply


def edit_meta(**changes):
    def apply(folder: Path) -> Path:
        return edit_document(folder, lambda d: d["metadata"].update(changes))
    return apply


def each_sample(change, task: str = TASK, first_only: bool = True):
    """Edit the samples of ``task`` (the first only, by default) and list the file again."""
    def apply(folder: Path) -> Path:
        def edit(samples):
            for sample in samples[:1] if first_only else samples:
                change(sample)
            return samples
        edit_samples(folder, task, edit)
        return folder
    return apply


def samples(edit, task: str = TASK):
    def apply(folder: Path) -> Path:
        edit_samples(folder, task, edit)
        return folder
    return apply


def redo_hashes(sample: dict) -> None:
    sample["doc_hash"] = doc_hash(sample["doc"])
    sample["prompt_hash"] = prompt_hash(sample["arguments"]["gen_args_0"]["arg_0"])


def alter_prompt(sample: dict) -> None:
    old = sample["doc"]["prompt"]
    sample["doc"]["prompt"] = old + " Answer in one word."
    request = sample["arguments"]["gen_args_0"]
    request["arg_0"] = request["arg_0"].replace(old, sample["doc"]["prompt"])
    redo_hashes(sample)


def audit_false(sample: dict) -> None:
    sample["doc"]["trigger_audit"] = False
    redo_hashes(sample)


def sent_other_prompt(sample: dict) -> None:
    sample["arguments"]["gen_args_0"]["arg_0"] = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    redo_hashes(sample)


def setting(key, value):
    def change(sample: dict) -> None:
        sample["arguments"]["gen_args_0"]["arg_1"][key] = value
    return change


def answers(make):
    def change(sample: dict) -> None:
        sample["resps"] = [make(sample["resps"][0])]
    return change


def lone_surrogate(folder: Path) -> Path:
    path = samples_file(folder, TASK)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    first["resps"] = [["fine \ud800 then", first["resps"][0][1]]]
    lines[0] = json.dumps(first)  # ASCII escapes: the file itself is valid UTF-8
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rehash(folder)
    return folder


def malformed_line(folder: Path) -> Path:
    path = samples_file(folder, TASK)
    path.write_text(path.read_text(encoding="utf-8") + '{"doc_id": 9, "doc": \n', encoding="utf-8")
    rehash(folder)
    return folder


def second_samples_file(folder: Path) -> Path:
    path = samples_file(folder, TASK)
    (path.parent / f"samples_{TASK}_2027-01-01T00-00-00.000000.jsonl").write_bytes(path.read_bytes())
    rehash(folder)
    return folder


def limit_in_results_only(folder: Path) -> Path:
    for path in (folder / "generations").glob("results_*.json"):
        results = read_json(path)
        results["config"]["limit"] = 2
        write_json(path, results)
    rehash(folder)
    return folder


def garbled(relative: str):
    """Replace the bundle's file ``relative`` (a glob) with bytes that are not JSON, listed again."""
    def apply(folder: Path) -> Path:
        for path in folder.glob(relative):
            path.write_text('{"config": {"limit": null}, ')
        rehash(folder)
        return folder
    return apply


def drop_release_manifest(folder: Path) -> Path:
    (folder / "release" / "manifest.json").unlink()
    rehash(folder)
    return folder


def _release_manifest(folder: Path, edit, reseal: bool) -> Path:
    from emc_bench.manifest import SELF_HASH, manifest_sha256

    path = folder / "release" / "manifest.json"
    manifest = read_json(path)
    edit(manifest)
    if reseal:  # recompute its self hash, and name the new manifest in the run record
        manifest[SELF_HASH] = manifest_sha256(manifest)
    write_json(path, manifest)
    rehash(folder)
    import hashlib

    return edit_run(release__manifest_sha256=hashlib.sha256(path.read_bytes()).hexdigest())(folder)


def edited_release_manifest(folder: Path) -> Path:
    return _release_manifest(folder, lambda m: m.update(description="another release"), reseal=False)


def release_of_another_spec(folder: Path) -> Path:
    return _release_manifest(folder, lambda m: m.update(spec_hash="0" * 64), reseal=True)


def drop_task(folder: Path) -> Path:
    samples_file(folder, TASK).unlink()
    rehash(folder)
    return folder


def unlisted_file(folder: Path) -> Path:
    (folder / "generations" / "notes.txt").write_text("hello")
    return folder


def disallowed_listed(folder: Path) -> Path:
    (folder / "generations" / "run_me.py").write_text("print('hello')")
    rehash(folder)
    return folder


def changed_bytes_same_size(folder: Path) -> Path:
    path = samples_file(folder, TASK)
    data = bytearray(path.read_bytes())
    index = data.index(b'"doc_id": 0') + len('"doc_id": ')
    data[index:index + 1] = b"1"
    path.write_bytes(bytes(data))
    return folder


def listed_missing(folder: Path) -> Path:
    samples_file(folder, TASK).unlink()
    return folder


def traversal_entry(folder: Path) -> Path:
    return edit_document(folder, lambda d: d["files"].update({"../outside.txt": {"sha256": "0" * 64, "bytes": 1}}))


def malformed_submission_json(folder: Path) -> Path:
    (folder / "submission.json").write_text('{"format": "emc-bench-submission/1", ')
    return folder


def submission_json_not_utf8(folder: Path) -> Path:
    (folder / "submission.json").write_bytes(b"{\"format\": \"\xff\xfe\"}")
    return folder


def oversized_file(folder: Path) -> Path:
    with open(folder / "generations" / "padding.bin", "wb") as handle:
        handle.truncate(65 << 20)  # sparse: nothing is written to disk, nothing is read by the check
    return folder


def folder_symlink(folder: Path) -> Path:
    os.symlink("/etc/passwd", folder / "generations" / "passwd")
    return folder


def folder_fifo(folder: Path) -> Path:
    os.mkfifo(folder / "generations" / "pipe")
    return folder


def the_submission_is_a_symlink(folder: Path) -> Path:
    link = folder.parent / "link"
    os.symlink(folder, link)
    return link


def _tar(folder: Path, member: tarfile.TarInfo, data: bytes | None = None) -> Path:
    path = folder.parent / "submission.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=".")
        archive.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, **fields):
    def apply(folder: Path) -> Path:
        member = tarfile.TarInfo(name)
        member.type = kind
        for key, value in fields.items():
            setattr(member, key, value)
        data = b"evil" if kind == tarfile.REGTYPE else None
        if data is not None:
            member.size = len(data)
        return _tar(folder, member, data)
    return apply


def zip_member(name: str, mode: int = 0o100644, data: bytes = b"evil"):
    def apply(folder: Path) -> Path:
        path = folder.parent / "submission.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for file in sorted(folder.rglob("*")):
                archive.write(file, file.relative_to(folder).as_posix())
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)
        return path
    return apply


def garbage_archive(folder: Path) -> Path:
    path = folder.parent / "submission.tar.gz"
    path.write_bytes(b"this is not a gzip file at all")
    return path


def oversized_tar_member(folder: Path) -> Path:
    big = folder.parent / "huge.jsonl"
    with open(big, "wb") as handle:
        handle.truncate(65 << 20)  # sparse; gzip makes it a small archive whose header declares 65 MiB
    path = folder.parent / "submission.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=".")
        archive.add(big, arcname="generations/huge.jsonl")
    big.unlink()
    return path


KINDS = {
    # the bundle as files: archives, links, devices, sizes, listing
    "tar path traversal": (tar_member("../evil.txt"), "'../evil.txt': a path that leaves the bundle (..)"),
    "tar absolute path": (tar_member("/tmp/evil.txt"), "'/tmp/evil.txt': an absolute path"),
    "tar symlink": (tar_member("generations/passwd", tarfile.SYMTYPE, linkname="/etc/passwd"),
                    "'generations/passwd': a link (bundles hold plain files only)"),
    "tar hard link": (tar_member("generations/copy", tarfile.LNKTYPE, linkname="submission.json"),
                      "'generations/copy': a link"),
    "tar device": (tar_member("generations/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                   "'generations/null': a device"),
    "tar FIFO": (tar_member("generations/pipe", tarfile.FIFOTYPE), "'generations/pipe': a FIFO"),
    "tar oversized member": (oversized_tar_member, "generations/huge.jsonl: 68,157,440 bytes, above the limit of "
                                                   "67,108,864 per file"),
    "zip path traversal": (zip_member("../evil.txt"), "'../evil.txt': a path that leaves the bundle"),
    "zip absolute path": (zip_member("/etc/cron.d/evil"), "'/etc/cron.d/evil': an absolute path"),
    "zip symlink": (zip_member("generations/passwd", 0o120777, b"/etc/passwd"), "'generations/passwd': a symbolic link"),
    "not an archive": (garbage_archive, "submission.tar.gz: not a readable archive"),
    "folder symlink": (folder_symlink, "generations/passwd: a symbolic link (bundles hold plain files only)"),
    "folder FIFO": (folder_fifo, "generations/pipe: a FIFO"),
    "submission is a symlink": (the_submission_is_a_symlink, "link: a symbolic link"),
    "oversized file": (oversized_file, "generations/padding.bin: 68,157,440 bytes, above the limit of 67,108,864"),
    "unlisted file": (unlisted_file, "generations/notes.txt: not listed in submission.json"),
    "file a bundle may not hold": (disallowed_listed, "files.generations/run_me.py: not a file a bundle holds"),
    "file changed after listing": (changed_bytes_same_size, "sha256 differs from submission.json"),
    "listed file missing": (listed_missing, ": missing (listed in submission.json)"),
    "path traversal in the file list": (traversal_entry, "files.../outside.txt.[key]: '../outside.txt' is not a "
                                                         "relative path of plain names"),
    # submission.json
    "malformed submission.json": (malformed_submission_json, "submission.json: line 1: not JSON"),
    "submission.json not UTF-8": (submission_json_not_utf8, "submission.json: not UTF-8"),
    "unknown format": (lambda f: edit_document(f, lambda d: d.update(format="emc-bench-submission/9")),
                       "submission.json: format: Input should be 'emc-bench-submission/1'"),
    "unknown model type": (edit_meta(model_type="merged"), "metadata.model_type: Input should be 'base', 'fine-tune'"),
    "non-http paper URL": (edit_meta(paper_url="javascript:alert(1)"), "metadata.paper_url: 'javascript:alert(1)' "
                                                                       "is not an http(s) URL"),
    "file URL as code URL": (edit_meta(code_url="file:///etc/passwd"), "metadata.code_url: 'file:///etc/passwd' is "
                                                                       "not an http(s) URL"),
    "missing model id": (lambda f: edit_document(f, lambda d: d["metadata"].pop("model_id")),
                         "submission.json: metadata.model_id: Field required"),
    "control character in model id": (edit_meta(model_id="org/model\u202eevil"),
                                      "metadata.model_id: contains the control character U+202E"),
    "unknown metadata field": (edit_meta(licence="mit"), "metadata.licence: Extra inputs are not permitted"),
    "unknown generation setting": (edit_run(generation__seed=3), "run.generation.seed: Extra inputs are not permitted"),
    # the model's identity
    "missing chat template sha": (edit_run(chat_template_sha256=None), "run.chat_template_sha256: missing"),
    "adapter without an adapter": (edit_meta(model_type="adapter", adapter_id="org/a", base_model="org/b"),
                                   "metadata.model_type: adapter, but the run loaded no adapter"),
    "fine-tune without base model": (edit_meta(model_type="fine-tune"), "metadata.base_model: missing for a fine-tune"),
    "model without revision or fingerprint": (edit_run(model__fingerprint=None),
                                              "run.model: names neither a revision nor a folder fingerprint"),
    # the protocol
    "wrong suite version": (edit_run(suite__version="0.0.2"), "run.suite.version: 0.0.2, the suite is at 0.0.1"),
    "another suite": (edit_run(suite__name="core"), "run.suite.name: 'core', the leaderboard's suite is 'standard'"),
    "wrong release manifest sha": (edit_run(release__manifest_sha256="0" * 64), "run.release.manifest_sha256: not "
                                                                                "the sha256 of release/manifest.json"),
    "release manifest left out": (drop_release_manifest, "files: no release/manifest.json"),
    "release manifest not JSON": (garbled("release/manifest.json"), "release/manifest.json: not JSON"),
    "release manifest edited": (edited_release_manifest, "release/manifest.json: edited after the build"),
    "release of another spec": (release_of_another_spec, "release/manifest.json: spec_hash: \"0000"),
    "wrong release version": (edit_run(release__version="9.9.9"), "run.release.version: 9.9.9, the release is 0.0.1"),
    "release named by a path": (edit_run(release__name="../../etc/spec.yaml"),
                                "run.release.name: '../../etc/spec.yaml' is not a release name"),
    "unknown release": (edit_run(release__name="nosuch"), "run.release.name: 'nosuch':"),
    "a limit in the run": (edit_run(generation__limit=2), "run.generation.limit: 2: a leaderboard run asks every "
                                                          "document (no --limit)"),
    "lm-eval results not JSON": (garbled("generations/results_*.json"), ": not JSON (Expecting property name"),
    "a limit in lm-eval's results": (limit_in_results_only, "config.limit: 2: a leaderboard run asks every document"),
    "changed temperature": (edit_run(generation__temperature=0.7), "run.generation.temperature: 0.7, the protocol's "
                                                                   "is 1.0"),
    "changed max tokens": (edit_run(generation__max_gen_toks=600), "run.generation.max_gen_toks: 600, the protocol's "
                                                                   "is 8"),
    "changed samples": (edit_run(generation__samples=3), "run.generation.samples: 3, the suite asks 2 per prompt"),
    "tasks left out of the run": (edit_run(tasks=["emc_none"]), "run.tasks: missing emc_footer_exact"),
    # the samples
    "changed temperature in a request": (each_sample(setting("temperature", 0.7)),
                                         "arguments.gen_args_0.arg_1.temperature: 0.7, the protocol's is 1.0"),
    "changed max tokens in a request": (each_sample(setting("max_gen_toks", 600), first_only=False),
                                        "arg_1.max_gen_toks: 600, the protocol's is 8 (and 2 more like it)"),
    "greedy decoding in a request": (each_sample(setting("do_sample", False)), "arg_1.do_sample: false"),
    "missing document": (samples(lambda s: s[:-1]), "document 2 (tag/exact/"),
    "extra document": (samples(lambda s: s + [{**s[0], "doc_id": 99}]), "doc_id 99 is not a document of task "
                                                                         "emc_tag_exact (it has 3): an extra document"),
    "duplicate sample": (samples(lambda s: s + [s[0]]), "doc_id 0 again (first at line 1): a duplicate sample"),
    "missing samples": (each_sample(answers(lambda a: a[:1])), "resps: 1 answers, the suite asks 2 per prompt "
                                                               "(missing samples)"),
    "extra samples": (each_sample(answers(lambda a: a + ["one more"])), "resps: 3 answers, the suite asks 2 per "
                                                                        "prompt (extra samples)"),
    "answers that are not text": (each_sample(answers(lambda a: [1, 2])), "resps: not a list of answers (strings)"),
    "altered prompt": (each_sample(alter_prompt), "doc.prompt: differs from the release's row tag/exact/"),
    "altered question": (each_sample(lambda s: (s["doc"].update(question="Tell me a secret."), redo_hashes(s))),
                         "doc.question: differs from the release's row"),
    "altered doc hash": (each_sample(lambda s: s.update(doc_hash="0" * 64)), "doc_hash: not lm-eval's hash of the "
                                                                             "release's row"),
    "altered prompt hash": (each_sample(lambda s: s.update(prompt_hash="0" * 64)), "prompt_hash: not the hash of the "
                                                                                   "prompt sent"),
    "another prompt sent": (each_sample(sent_other_prompt), "arg_0: the prompt sent does not hold the doc's prompt"),
    "trigger audit false": (each_sample(audit_false), "doc.trigger_audit: false: the trigger of tag/exact/"),
    "a task left out": (drop_task, "generations: no samples of task emc_tag_exact"),
    "two samples files of a task": (second_samples_file, "a second samples file of task emc_tag_exact"),
    "malformed JSON line": (malformed_line, ":4: not JSON"),
    "oversized answer": (each_sample(answers(lambda a: ["x" * 40_000, a[1]])), "resps: answer 0 has 40,000 "
                                                                               "characters, above the limit of 32,000"),
    "answer with a lone surrogate": (lone_surrogate, "resps: answer 0 is not valid Unicode (a lone surrogate)"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_bad_submission_is_refused_with_its_reason(kind, bundle, reference, lb_builders, tmp_path,  # noqa: F811
                                                               monkeypatch, capsys):
    make, expected = KINDS[kind]
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    submission = make(copy_bundle(bundle, tmp_path / "bundle"))
    results = tmp_path / "results"
    code = main(["leaderboard", "ingest", str(submission), "--results", str(results), "--base-url", CLOSED,
                 "--cache", str(tmp_path / "judge.sqlite"), "--data", str(reference), "--builders", str(lb_builders),
                 "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    (reasons_file,) = (results / "rejected").iterdir()
    assert stat.S_IMODE(reasons_file.stat().st_mode) == 0o644
    reasons = reasons_file.read_text(encoding="utf-8").split("\n")
    assert reasons[-1] == "" and all(reasons[:-1]), "one reason per line"
    assert any(expected in reason for reason in reasons), "\n".join(reasons)
    assert all(reason.isprintable() for reason in reasons)
    assert f"rejected {reasons_file.stem[:12]}" in captured.err and "1 rejected; 0 judge calls, 0 rows appended" in \
        captured.out
    assert not list(results.glob("part-*.parquet")) and not (results / "submissions").exists(), "nothing appended"
    if (submission / "submission.json").is_file() and not submission.is_symlink():
        try:
            assert reasons_file.stem == bundle_sha(submission), "named by the submission's sha256"
        except ValueError:
            pass  # no readable submission.json: named by the bytes given


def test_every_problem_is_reported_at_once(bundle, reference, lb_builders, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    folder = copy_bundle(bundle, tmp_path / "bundle")
    edit_run(generation__temperature=0.5, suite__version="0.0.9")(folder)
    samples(lambda s: s[1:])(folder)
    results = tmp_path / "results"
    assert main(["leaderboard", "ingest", str(folder), "--results", str(results), "--base-url", CLOSED,
                 "--data", str(reference), "--builders", str(lb_builders), "--no-progress"]) == 1
    reasons = next((results / "rejected").iterdir()).read_text().splitlines()
    for expected in ("run.generation.temperature: 0.5", "run.suite.version: 0.0.9", "document 0 (tag/exact/"):
        assert any(expected in reason for reason in reasons), reasons
