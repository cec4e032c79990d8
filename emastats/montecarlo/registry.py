"""The experiment registry: ``@experiment("claim.id")`` and ``registered()``.

Experiment functions live in ``experiments/`` (installed as
``emastats.experiments``), one module per topic; each takes a
``emastats.montecarlo.context.Context`` and records checks on it.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .context import Context

ExperimentFunction = Callable[["Context"], None]
_REGISTRY: dict[str, ExperimentFunction] = {}


def experiment(claim_id: str) -> Callable[[ExperimentFunction], ExperimentFunction]:
    """Register the decorated function as the Monte Carlo experiment of ``claim_id``."""

    def register(fn: ExperimentFunction) -> ExperimentFunction:
        previous = _REGISTRY.get(claim_id)
        if previous is not None and previous.__qualname__ != fn.__qualname__:
            raise RuntimeError(f"two experiments for {claim_id}: {previous.__qualname__} and {fn.__qualname__}")
        fn.claim_id = claim_id  # type: ignore[attr-defined]
        _REGISTRY[claim_id] = fn
        return fn

    return register


def registered() -> dict[str, ExperimentFunction]:
    """Every experiment in the ``emastats.experiments`` package, by claim id."""
    from ..layout import load_package

    package = load_package("experiments")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{info.name}")
    return dict(_REGISTRY)


def defined_in(module_name: str) -> dict[str, ExperimentFunction]:
    """The experiments registered so far by the module ``module_name`` (e.g. '__main__' for a script)."""
    return {cid: fn for cid, fn in _REGISTRY.items() if fn.__module__ == module_name}
