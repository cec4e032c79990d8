"""The experiment registry: ``@experiment("claim.id")`` and ``registered()``.

Experiment functions live in ``experiments/`` (installed as
``emastats.experiments``), one module per topic; each takes a
``emastats.montecarlo.context.Context`` and records checks on it. The
bookkeeping is the shared ``emastats.registry.Registry``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from .context import Context

ExperimentFunction = Callable[["Context"], None]
EXPERIMENTS: Registry[ExperimentFunction] = Registry("experiment", "experiments")


def experiment(claim_id: str) -> Callable[[ExperimentFunction], ExperimentFunction]:
    """Register the decorated function as the Monte Carlo experiment of ``claim_id``."""
    return EXPERIMENTS.register(claim_id)


def registered() -> dict[str, ExperimentFunction]:
    """Every experiment in the ``emastats.experiments`` package, by claim id."""
    return EXPERIMENTS.load()


def defined_in(module_name: str) -> dict[str, ExperimentFunction]:
    """The experiments registered so far by the module ``module_name`` (e.g. '__main__' for a script)."""
    return EXPERIMENTS.defined_in(module_name)
