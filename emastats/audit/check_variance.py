"""Variance of a weighted sum: Var(sum_i a_i X_i) = sum_i a_i^2 Var(X_i) for independent X_i.

A statement whose left side names the variance of a quantity ``s`` (``\\sigma_s^2``, ``\\Sigma_s`` or
``Var[s]``) is checked when the notes defined ``s`` as a weighted sum (``s = a x + b y`` or
``\\Delta\\Phi = \\sum_i \\alpha_i \\hat g_i``). The random terms are those whose own variance names appear on
the right side (``\\sigma_x``, ``\\Sigma_g``: a hat or an index on the term is ignored, as notes write
``\\Sigma_g`` for the covariance of ``\\hat g_i``); their weights are the rest of each term.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from .context import base_of


@dataclass(frozen=True)
class VarianceForm:
    """The variance a statement claims and the one the weighted-sum rule gives."""

    quantity: str
    expected: sympy.Basic


def variance_subject(lhs: sympy.Basic) -> tuple[str, str] | None:
    """(quantity, naming style) when ``lhs`` denotes a variance: sigma_s**2 -> ("s", "sigma")."""
    if isinstance(lhs, sympy.Pow) and lhs.exp == 2 and isinstance(lhs.base, sympy.Symbol):
        base, _, label = lhs.base.name.partition("_")
        if base == "sigma" and label:
            return label, "sigma"
    if isinstance(lhs, sympy.Symbol):
        base, _, label = lhs.name.partition("_")
        if base == "Sigma" and label:
            return label, "Sigma"
    if isinstance(lhs, AppliedUndef) and type(lhs).__name__ == "Var" and len(lhs.args) == 1:
        arg = lhs.args[0]
        if isinstance(arg, sympy.Symbol):
            return arg.name, "Var"
    return None


def _variance_name(term: sympy.Basic, style: str, available: set[str]) -> sympy.Basic | None:
    """The symbol the right side uses for the variance of ``term`` (sigma_x**2, Sigma_g), if any."""
    name = term.name if isinstance(term, sympy.Symbol) else type(term).__name__
    for candidate in dict.fromkeys((name, base_of(name), name.rstrip("^"))):
        if style in ("sigma", "Var") and f"sigma_{candidate}" in available:
            return sympy.Symbol(f"sigma_{candidate}") ** 2
        if style in ("Sigma", "Var") and f"Sigma_{candidate}" in available:
            return sympy.Symbol(f"Sigma_{candidate}")
    return None


def expected_variance(definition: sympy.Basic, style: str, rhs: sympy.Basic) -> sympy.Basic | None:
    """sum_i a_i^2 Var(X_i) for ``definition`` = sum_i a_i X_i, or None if it is not recognisably one."""
    available = {s.name for s in rhs.free_symbols}
    total = sympy.Integer(0)
    found = False
    for term in sympy.Add.make_args(sympy.expand(definition)):
        limits = None
        if isinstance(term, sympy.Sum):
            term, limits = term.function, term.limits
        weight, variance = sympy.Integer(1), None
        for factor in sympy.Mul.make_args(term):
            if variance is None and isinstance(factor, (sympy.Symbol, AppliedUndef)):
                variance = _variance_name(factor, style, available)
                if variance is not None:
                    continue
            weight *= factor
        if variance is None:
            return None
        found = True
        squared = weight ** 2
        total += (sympy.Sum(squared, *limits) if limits else squared) * variance
    return total if found else None
