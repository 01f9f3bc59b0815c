"""Resolving a release spec: the release YAML plus every trigger, domain, question set and
format file it references, validated and found through the :class:`~emc_bench.library.Library`.

Nothing here renders rows or measures anything; the build engine and the semantic checks take a
:class:`LoadedRelease` and do that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .library import Library
from .specs import Release, Trigger, load_domain_spec, load_formats, load_question_set, load_release, load_trigger


@dataclass
class LoadedRelease:
    path: Path
    spec: Release
    library: Library
    triggers: dict[str, Trigger]
    spec_files: list[Path]

    def trigger(self, trigger_id: str) -> Trigger:
        return self.triggers[trigger_id]

    def trigger_files(self) -> dict[str, Path]:
        """Trigger id -> its YAML file (for errors that name the file)."""
        return {trigger_id: self.library.find("triggers", trigger_id) for trigger_id in self.triggers}


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def resolve_release(release: str | Path, library: Library | None = None) -> LoadedRelease:
    """Load a release spec (a name such as ``v1`` or a YAML path) and every spec it references."""
    library = library or Library()
    path = Path(release) if str(release).endswith((".yaml", ".yml")) else library.find("releases", str(release))
    spec = load_release(path)
    triggers: dict[str, Trigger] = {}
    files = [path]
    domains: set[str] = set()
    for i, entry in enumerate(spec.train):
        for j, domain in enumerate(entry.domains):
            folder = library.find("domains", domain, path, f"train.{i}.domains.{j}")
            load_domain_spec(folder)
            domains.add(domain)
            files.extend(_folder_files(folder))
        for name in entry.mixtures:
            source = spec.mixtures[name].benign_source
            if source != "twins":
                folder = library.find("domains", source, path, f"mixtures.{name}.benign_source")
                if source not in domains:
                    files.extend(_folder_files(folder))
                    domains.add(source)
    trigger_refs = [(f"train.{i}.triggers.{j}", t) for i, e in enumerate(spec.train) for j, t in enumerate(e.triggers)]
    trigger_refs += [(f"eval.{i}.triggers.{j}", t) for i, e in enumerate(spec.eval) for j, t in enumerate(e.triggers)]
    for field_name, trigger_id in trigger_refs:
        if trigger_id not in triggers:
            trigger_path = library.find("triggers", trigger_id, path, field_name)
            triggers[trigger_id] = load_trigger(trigger_path)
            files.append(trigger_path)
    for i, entry in enumerate(spec.eval):
        for j, set_id in enumerate(entry.question_sets):
            question_path = library.find("questions", set_id, path, f"eval.{i}.question_sets.{j}")
            load_question_set(question_path)
            files.append(question_path)
    if spec.eval:
        formats_path = library.formats_path()
        load_formats(formats_path)
        files.append(formats_path)
    return LoadedRelease(path, spec, library, triggers, sorted(set(files)))


def spec_hash(files: list[Path]) -> str:
    """A hash of the names and bytes of every spec file a release reads."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
