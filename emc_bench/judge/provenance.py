"""Judge provenance: which judge produced a verdict, and how.

An EM rate is only as good as its judge, and judges move (one fixed answer set re-judged gave
about 21.5% EM with gpt-4o-2024-08-06 and 9.85% with gpt-4o-2024-11-20). So every judged row,
every cache entry, ``profile.json`` and the report name the judge: backend, model id, endpoint
host (never a key), prompt version with the sha256 of both rendered templates, the scoring
method and the emc-bench version. Numbers whose provenance differs in anything but the
emc-bench version are never pooled (:meth:`Provenance.pool_key`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

# The columns a judged row carries besides ``judge`` ("backend:model", kept for readers of older
# files) and the verdict itself.
COLUMNS = ("judge_backend", "judge_model", "judge_endpoint", "prompt_version", "templates_sha256", "scoring",
           "emc_bench_version")


@dataclass(frozen=True)
class Provenance:
    """The judge of a verdict. Fields are None where a file written before they existed lacks them."""

    backend: str | None
    model: str | None
    endpoint_host: str | None
    prompt_version: str | None
    templates_sha256: Mapping[str, str] | None
    scoring: str | None
    emc_bench_version: str | None

    @property
    def judge(self) -> str:
        return f"{self.backend}:{self.model}"

    def to_dict(self) -> dict[str, Any]:
        """The ``judge`` entry of a profile in ``profile.json``."""
        return {"backend": self.backend, "model": self.model, "endpoint_host": self.endpoint_host,
                "prompt_version": self.prompt_version,
                "templates_sha256": dict(self.templates_sha256) if self.templates_sha256 else None,
                "scoring": self.scoring, "emc_bench_version": self.emc_bench_version}

    def columns(self) -> dict[str, Any]:
        """The provenance columns of a judged row."""
        return {"judge": self.judge, "judge_backend": self.backend, "judge_model": self.model,
                "judge_endpoint": self.endpoint_host, "prompt_version": self.prompt_version,
                "templates_sha256": dict(self.templates_sha256) if self.templates_sha256 else None,
                "scoring": self.scoring, "emc_bench_version": self.emc_bench_version}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """From a ``profile.json`` / calibration ``judge`` entry (see :meth:`to_dict`)."""
        return cls(data.get("backend"), data.get("model"), data.get("endpoint_host"), data.get("prompt_version"),
                   data.get("templates_sha256"), data.get("scoring"), data.get("emc_bench_version"))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Provenance:
        """From a judged row; rows of older files have only ``judge`` and ``prompt_version``."""
        backend, model = row.get("judge_backend"), row.get("judge_model")
        if backend is None and isinstance(row.get("judge"), str) and ":" in row["judge"]:
            backend, model = row["judge"].split(":", 1)
        return cls(backend, model, row.get("judge_endpoint"), row.get("prompt_version"),
                   row.get("templates_sha256"), row.get("scoring"), row.get("emc_bench_version"))

    def pool_key(self) -> tuple:
        """What two rows must share to be pooled in one number: all but the emc-bench version."""
        return (self.backend, self.model, self.endpoint_host, self.prompt_version,
                json.dumps(self.templates_sha256, sort_keys=True), self.scoring)

    def calibration_key(self) -> tuple:
        """What a calibration certifies: the judge model, its prompts and its estimator, wherever
        the model is served."""
        return self.pool_key()[:2] + self.pool_key()[3:]

    def describe(self) -> str:
        """One line for people: ``openai:MODEL at HOST, prompt v1-1234abcd, scoring logprobs-top20``."""
        where = f" at {self.endpoint_host}" if self.endpoint_host else ""
        return (f"{self.judge}{where}, prompt {self.prompt_version or 'unknown'}, "
                f"scoring {self.scoring or 'unknown'}")
