"""Limits of first-order linear recurrences: the stationary value a statement ``\\lim_{t\\to\\infty} …`` must equal.

For ``x_{t+1} = a x_t + r_t`` with ``a`` free of t and of x, and ``|a| < 1`` at the point checked:

    lim x_t      = r / (1 - a)          (inputs held constant: g_t -> g, the dry-run reading of "tends to")
    lim E[x_t]   = E[r] / (1 - a)
    lim Var[x_t] = Var[r] / (1 - a^2)   (r_t independent of x_t, which the prose must state)

E[r] and Var[r] come from ``expectation.moment`` (moments the scope stated). Anything else (a coefficient that
changes with t, a second-order recurrence) is not covered: None, and the statement stays unchecked.
"""
from __future__ import annotations

import sympy
from sympy.core.function import AppliedUndef

from .context import Context, is_integer_name
from .expectation import moment


def first_order(context: Context, name: str) -> tuple[sympy.Basic, sympy.Basic, sympy.Symbol] | None:
    """(a, r, t) for a stated ``x(t + c) = a x(t + c - 1) + r``, with r written at the same step; else None."""
    d = context.definitions.get(name)
    if d is None or not d.recursive or not isinstance(d.lhs, AppliedUndef) or len(d.lhs.args) != 1:
        return None
    (arg,) = d.lhs.args
    symbols = [s for s in arg.free_symbols if is_integer_name(s.name)]
    if len(symbols) != 1:
        return None
    t = symbols[0]
    previous = d.lhs.func(arg - 1)
    try:
        expanded = sympy.expand(d.rhs)
        a = expanded.coeff(previous)
        rest = sympy.expand(expanded - a * previous)
    except (TypeError, ValueError, AttributeError):
        return None
    if a == 0 or t in a.free_symbols or any(type(f).__name__ == name for f in (a.atoms(AppliedUndef)
                                                                              | rest.atoms(AppliedUndef))):
        return None
    return a, rest, t


def stationary(kind: str, name: str, context: Context, independent: bool) -> sympy.Basic | None:
    """The limit of x_t (kind ""), E[x_t] ("E") or Var[x_t] ("Var") for the recurrence the context states."""
    found = first_order(context, name)
    if found is None:
        return None
    a, rest, t = found
    if kind == "":
        constant = rest.replace(lambda e: isinstance(e, AppliedUndef) and t in e.free_symbols,
                                lambda e: sympy.Symbol(type(e).__name__))
        return None if t in constant.free_symbols else constant / (1 - a)
    value = moment(kind, rest, context, independent)
    if value is None or t in value.free_symbols:
        return None
    return value / (1 - a) if kind == "E" else value / (1 - a ** 2)
