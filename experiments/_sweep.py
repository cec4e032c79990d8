"""Helpers shared by the experiments: parameter grids, budget sizing, checks against the catalogue's formula.

A claim's law is evaluated from the catalogue object (``ctx.formula(**point)``),
never retyped here. Each statistical experiment covers a grid of parameter
points in which every free parameter takes at least 3 values, chosen so that
plausible wrong laws (an exponent off by one, beta for 1 - beta, a dropped
finite-population factor, a form that agrees with the truth at one point) do
not coincide with the truth on the grid.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from emastats.montecarlo import Context, Moments

PILOT = 1 << 14  # first-stage replicas of a sized run
CAP = 3 << 21  # at most this many replicas per point at the full budget (times the device multiplier)

Point = Mapping[str, Any]


def rel_se_mean(scale: float | None = None, indices: Sequence[int] = (0,)) -> Callable[[Moments], float]:
    """Largest standard error of the means at ``indices``, relative to ``scale`` (default, or when 0: |mean|)."""

    def rel(acc: Moments) -> float:
        se, mean = acc.stderr_mean(), acc.mean()
        return max(float(se[i]) / (abs(scale) if scale else abs(float(mean[i]))) for i in indices)

    return rel


def rel_se_variance(indices: Sequence[int] = (0,)) -> Callable[[Moments], float]:
    """Largest fourth-moment standard error of the variances at ``indices``, relative to the variance."""

    def rel(acc: Moments) -> float:
        se, var = acc.stderr_variance(), acc.variance()
        return max(float(se[i]) / float(var[i]) for i in indices)

    return rel


def rel_se_covariance(pairs: Sequence[tuple[int, int]]) -> Callable[[Moments], float]:
    """Largest standard error of the covariances at ``pairs``, relative to sqrt(S_ii S_jj)."""

    def rel(acc: Moments) -> float:
        se, cov = acc.stderr_covariance(), acc.covariance()
        return max(float(se[i, j]) / float(np.sqrt(cov[i, i] * cov[j, j])) for i, j in pairs)

    return rel


# Sizing reads the data's own spread (relative to the estimate, or to a scale fixed by the design), never the
# formula under test: a wrong law must not change how many replicas are drawn.
def sized(ctx: Context, sampler: Callable[[int], Any], rel: Callable[[Moments], float],
          pilot: int = PILOT, cap: int = CAP, family: int = 8) -> Moments:
    """``ctx.sized_moments``: enough replicas that min_detectable reaches half the claim's margin, or the cap
    (``family``: how many statistical checks the claim has)."""
    return ctx.sized_moments(sampler, rel, pilot, cap, family)


def elementwise(law: Any, point: Mapping[str, Any]) -> np.ndarray:
    """The catalogue formula ``law`` (a ``Formula``) evaluated in float64 at numpy arrays, broadcast elementwise
    (``sympy.lambdify`` of the same object): for deterministic checks over thousands of (t, k, g) values, where
    exact evaluation point by point (``law(**point)``) would be slow."""
    import sympy as sp

    symbols = {str(s): s for s in law.expr.free_symbols}
    names = sorted(symbols)
    missing = set(names) - set(point)
    if missing:
        raise ValueError(f"{law.quantity}: no value for {', '.join(sorted(missing))}")
    value = sp.lambdify([symbols[n] for n in names], law.expr, "numpy")(*(point[n] for n in names))
    return np.asarray(value, dtype=np.float64)


def law_tensor(law: Any, point: Mapping[str, Any], device: torch.device | str,
               shape: Sequence[int] | None = None) -> torch.Tensor:
    """``elementwise(law, point)`` as a float64 tensor on ``device``, broadcast to ``shape`` when given (a law
    free of some of the point's array axes comes back with length-1 axes there)."""
    value = elementwise(law, point)
    if shape is not None:
        value = np.broadcast_to(value, shape).copy()
    return torch.as_tensor(value, device=device)


def label(point: Point) -> str:
    """'N = 5, sigma = 1.5' for a check's name."""
    return ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in point.items())


def record_grid(ctx: Context, points: Sequence[Point]) -> None:
    """Record the grid among the experiment's parameters (each point is also on its checks)."""
    ctx.param("grid", [dict(p) for p in points])


def grid_series(ctx: Context, title: str, y_label: str, theory_of: str = "stated") -> None:
    """A figure line of the experiment's (non-control) checks of ``theory_of``: the estimate at each grid point
    with its pointwise 95 % interval, against the catalogue's formula there (x is the check's position)."""
    from emastats.results import Series

    checks = [c for c in ctx.checks if c.kind == "statistical" and not c.control and c.theory_of == theory_of]
    if len(checks) < 2:
        return
    ctx.add_series(Series.with_z_intervals(
        title, "grid point (see each check's parameters)", y_label, range(1, len(checks) + 1),
        [c.estimate for c in checks], [c.stderr or 0.0 for c in checks], [c.theory for c in checks],
        theory_label="catalogue formula"))
