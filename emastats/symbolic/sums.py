"""Closed forms of finite sums of geometric terms, fast and without Piecewise.

``Sum(f, (k, lo, hi)).doit()`` with a symbolic ratio takes seconds and returns a
Piecewise for the ratio-equals-one case. The sums in the proofs are sums of
terms ``C * r**k`` (C and r free of k), whose closed form is the textbook

    sum_{k=lo}^{hi} C r^k = C (r^lo - r^(hi+1)) / (1 - r)      (r != 1)
                          = C (hi - lo + 1)                    (r == 1 identically).

The r != 1 case is the generic one (the claims exclude beta = 1 in their
assumptions). Summands of any other shape fall back to sympy's ``doit``.
"""
from __future__ import annotations

import sympy as sp


def generic_branch(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each Piecewise replaced by its branch for the generic case.

    ``Sum(beta**k).doit()`` answers ``Piecewise((n + 1, Eq(beta, 1)), (..., True))``;
    a branch whose condition is an equation is a degenerate parameter value (beta = 1)
    that the claims exclude in their assumptions, so the final ``True`` branch is kept.
    A Piecewise with an inequality condition is left alone (it is not a degenerate case).
    """

    def pick(pw: sp.Piecewise) -> sp.Expr:
        *special, (generic, last) = pw.args
        if last is sp.true and all(isinstance(c, sp.Eq) for _, c in special):
            return generic
        return pw

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), pick)


def _as_geometric(term: sp.Expr, k: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """(C, r) with term = C * r**k, or None if the term is not of that shape."""
    constant, dependent = term.as_independent(k, as_Add=False)
    ratio = sp.Integer(1)
    for factor in sp.Mul.make_args(sp.powsimp(dependent)):
        base, exponent = factor.as_base_exp()
        if base.has(k):
            return None
        slope = sp.expand(exponent).coeff(k, 1)
        offset = sp.expand(exponent - slope * k)
        if slope.has(k) or offset.has(k):
            return None
        ratio *= base**slope
        constant *= base**offset
    return constant, ratio


def closed_sum(summand: sp.Expr, limits: tuple[sp.Symbol, sp.Expr, sp.Expr]) -> sp.Expr:
    """Closed form of ``Sum(summand, limits)``: geometric terms by formula, anything else by ``doit``."""
    k, lo, hi = limits
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(sp.powsimp(summand))):
        geometric = _as_geometric(term, k)
        if geometric is None:
            return generic_branch(sp.Sum(summand, limits).doit())
        constant, ratio = geometric
        if ratio == 1:
            total += constant * (hi - lo + 1)
        else:
            total += constant * (ratio**lo - ratio ** (hi + 1)) / (1 - ratio)
    return total
