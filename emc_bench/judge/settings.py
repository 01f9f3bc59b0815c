"""Which judge to call and how: one small dataclass, built from a spec such as
``openai:gpt-4o-2024-08-06`` or ``hf:/path/to/model``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SpecError
from ..paths import cache_dir

DEFAULT_JUDGE = "openai:gpt-4o-2024-08-06"
BACKENDS = ("openai", "hf")


def default_cache_path() -> Path:
    """``$EMC_BENCH_CACHE/judge.sqlite``, else ``~/.cache/emc-bench/judge.sqlite``."""
    return cache_dir() / "judge.sqlite"


@dataclass(frozen=True)
class JudgeSettings:
    """A judge backend and model, plus the knobs of the runner.

    The API key is read from ``api_key_env`` when calls start and is never stored anywhere.
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

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SpecError("--judge", None, f"unknown backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")
        if not self.model:
            raise SpecError("--judge", None, "the judge model is empty")
        if self.concurrency < 1 or self.max_attempts < 1:
            raise SpecError("--judge", None, "concurrency and max_attempts must be at least 1")
        object.__setattr__(self, "cache_path", Path(self.cache_path).expanduser())

    @classmethod
    def from_spec(cls, spec: str = DEFAULT_JUDGE, **options) -> JudgeSettings:
        """``openai:MODEL`` or ``hf:PATH``; keyword options set the other fields."""
        backend, sep, model = spec.partition(":")
        if not sep:
            raise SpecError("--judge", None, f"{spec!r} is not BACKEND:MODEL (e.g. {DEFAULT_JUDGE})")
        if backend == "hf" and Path(model).expanduser().exists():
            model = str(Path(model).expanduser().resolve())
        options = {key: value for key, value in options.items() if value is not None}
        return cls(backend=backend, model=model, **options)

    @property
    def judge(self) -> str:
        """The ``backend:model`` name written into every result row."""
        return f"{self.backend}:{self.model}"
