"""Judge backends: one module each, behind one small interface, found by name in :data:`REGISTRY`.

A backend module defines a class ``Backend`` with:

- ``scorings``: the scoring methods it can produce (:data:`.scoring.SCORINGS`), its default first;
  ``detects``: whether ``--scoring auto`` is settled on the first replies of a run (an API that
  may or may not return logprobs) rather than known in advance;
- static ``resolve_model(model)``, ``validate(settings)`` (backend options, checked when the
  settings are made), ``endpoint(settings)`` (what error lines name),
  ``endpoint_host(settings)`` (the provenance host, None for a local model), ``price(settings)``
  (a :class:`.cost.Price`, None when unknown) and ``preflight(settings)`` (a check of a few
  seconds that raises :class:`~emc_bench.errors.SpecError` or returns a short description);
- ``__init__(settings)``, which may be costly (it loads a local model) and checks what every call
  needs (an API key); the attribute ``scoring``, the run's scoring method (None until the
  endpoint has shown what it returns; the runner sets it when the cache already knows); and ``judge(calls, record)``, which scores every call
  and reports each through ``record(call, verdict or None, error or None, usage or None)``. A
  failed call is reported, never raised; an endpoint that cannot serve any call raises
  ``SpecError``.

A new backend is one module, one line below and its tests.
"""

from __future__ import annotations

import importlib

from ..errors import SpecError

REGISTRY = {
    "openai": "emc_bench.judge.openai_backend",
    "hf": "emc_bench.judge.hf_backend",
}


def backend_class(name: str):
    """The ``Backend`` class registered as ``name``."""
    if name not in REGISTRY:
        raise SpecError("--judge", None, f"unknown backend {name!r}; expected one of {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name]).Backend


def preflight(settings) -> str:
    """Check in a few seconds that the judge of ``settings`` can be used (the key is there, the
    endpoint answers, a local model's folder exists) before anything expensive starts; raises
    ``SpecError`` naming the endpoint or flag, else returns a short description of the judge."""
    return backend_class(settings.backend).preflight(settings)
