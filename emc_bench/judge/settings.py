"""Which judge to call and how: one small dataclass, built from a spec such as
``openai:gpt-4o-2024-08-06`` or ``hf:/path/to/model``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..version import __version__
from ..errors import SpecError
from ..paths import cache_dir
from .backends import backend_class
from .prompts import prompt_version, templates_sha256
from .provenance import Provenance

DEFAULT_JUDGE = "openai:gpt-4o-2024-08-06"
AUTO = "auto"
# Short names accepted for --scoring.
SCORING_ALIASES = {"logprobs": "logprobs-top20", "exact": "exact-101"}


def default_cache_path() -> Path:
    """``$EMC_BENCH_CACHE/judge.sqlite``, else ``~/.cache/emc-bench/judge.sqlite``."""
    return cache_dir() / "judge.sqlite"


@dataclass(frozen=True)
class JudgeSettings:
    """A judge backend and model, plus the knobs of the runner.

    ``scoring`` is ``auto`` (the backend's own estimator: for an API, logprobs when the endpoint
    returns them, else the reply text, found out on the first replies) or a scoring method the
    backend can produce. The API key is read from ``api_key_env`` when calls start and is never
    stored anywhere.
    """

    backend: str
    model: str
    base_url: str | None = None
    concurrency: int = 32
    cache_path: Path = field(default_factory=default_cache_path)
    timeout: float = 60.0
    max_attempts: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0
    api_key_env: str = "OPENAI_API_KEY"
    prices_path: Path | None = None
    device: str | None = None
    scoring: str = AUTO

    def __post_init__(self) -> None:
        cls = backend_class(self.backend)
        if not self.model:
            raise SpecError("--judge", None, "the judge model is empty")
        if self.concurrency < 1:
            raise SpecError("--concurrency", None, f"must be at least 1, not {self.concurrency}")
        if self.max_attempts < 1:
            raise SpecError("--max-attempts", None, f"must be at least 1, not {self.max_attempts}")
        if not self.timeout > 0:
            raise SpecError("--timeout", None, f"must be more than 0 seconds, not {self.timeout}")
        scoring = SCORING_ALIASES.get(self.scoring, self.scoring)
        if scoring != AUTO and scoring not in cls.scorings:
            raise SpecError("--scoring", None, f"the {self.backend} backend scores by {', '.join(cls.scorings)} "
                                               f"(or auto), not {self.scoring!r}")
        object.__setattr__(self, "scoring", scoring)
        object.__setattr__(self, "cache_path", Path(self.cache_path).expanduser())
        cls.validate(self)

    @classmethod
    def from_spec(cls, spec: str = DEFAULT_JUDGE, **options) -> JudgeSettings:
        """``openai:MODEL`` or ``hf:PATH``; keyword options set the other fields."""
        backend, sep, model = spec.partition(":")
        if not sep:
            raise SpecError("--judge", None, f"{spec!r} is not BACKEND:MODEL (e.g. {DEFAULT_JUDGE})")
        model = backend_class(backend).resolve_model(model)
        options = {key: value for key, value in options.items() if value is not None}
        return cls(backend=backend, model=model, **options)

    @property
    def judge(self) -> str:
        """The ``backend:model`` name written into every result row."""
        return f"{self.backend}:{self.model}"

    @property
    def backend_class(self):
        return backend_class(self.backend)

    @property
    def endpoint(self) -> str:
        """What error lines name: the endpoint URL, or the local model."""
        return self.backend_class.endpoint(self)

    @property
    def endpoint_host(self) -> str | None:
        return self.backend_class.endpoint_host(self)

    @property
    def fixed_scoring(self) -> str | None:
        """The scoring method known before any call: the one asked for, else the backend's own
        when it needs no detection; None when the first replies decide."""
        if self.scoring != AUTO:
            return self.scoring
        cls = self.backend_class
        return None if cls.detects else cls.scorings[0]

    def provenance(self, scoring: str | None) -> Provenance:
        """The provenance of verdicts this judge gives by ``scoring``."""
        return Provenance(self.backend, self.model, self.endpoint_host, prompt_version(), templates_sha256(),
                          scoring, __version__)
