"""Derivatives of functions the notes define, by sympy: ``f(x) = …`` then ``f'(x) = …``, ``\\frac{df}{dx} = …``,
``\\nabla f(x) = …`` or ``\\partial_x f = …`` is compared with ``sympy.diff`` of the stated definition.

Only a definition the scope states (a function of named real arguments) is differentiated; the derivative is
taken with respect to the argument the notation names (the only argument for f', the variable of d/dx or
\\partial_x), so a mismatch is a concrete differing term under the notes' own definition. The symbolic work runs
in the audit's time-bounded worker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy
from sympy.core.function import AppliedUndef

from .context import Context, Definition, is_integer_name


@dataclass(frozen=True)
class Derivative:
    """The derivative a left side denotes: of ``definition`` w.r.t. its argument ``variable``, ``order`` times,
    at the point ``at`` (the left side's own arguments)."""

    definition: Definition
    variable: sympy.Symbol
    order: int
    at: tuple[sympy.Basic, ...]

    def expected(self) -> sympy.Basic:
        d = sympy.diff(self.definition.rhs, self.variable, self.order)
        return d.xreplace(dict(zip(self.definition.lhs.args, self.at)))


def _function_definition(context: Context, name: str) -> Definition | None:
    d = context.definitions.get(name)
    if d is None or d.recursive or not isinstance(d.lhs, AppliedUndef) or not d.lhs.args:
        return None
    if not all(isinstance(a, sympy.Symbol) and not is_integer_name(a.name) for a in d.lhs.args):
        return None
    return d


def derivative_of(lhs: sympy.Basic, context: Context) -> Derivative | None:
    """What derivative ``lhs`` names, when it is one of a function the context defines; None otherwise."""
    if isinstance(lhs, AppliedUndef):
        name = type(lhs).__name__
        m = re.fullmatch(r"([^'_]+)('+)", name)
        if m:  # f'(x), f''(x)
            d = _function_definition(context, m.group(1))
            if d is not None and len(d.lhs.args) == 1 == len(lhs.args):
                return Derivative(d, d.lhs.args[0], len(m.group(2)), lhs.args)
        if name.startswith("nabla_"):  # \nabla f(x): one argument, the gradient is the derivative
            d = _function_definition(context, name[len("nabla_"):])
            if d is not None and len(d.lhs.args) == 1 == len(lhs.args):
                return Derivative(d, d.lhs.args[0], 1, lhs.args)
    if isinstance(lhs, sympy.Symbol):
        m = re.fullmatch(r"d([A-Za-z]+)/d([A-Za-z]+)", lhs.name)  # \frac{df}{dx}, \partial_x f
        if m:
            d = _function_definition(context, m.group(1))
            variable = sympy.Symbol(m.group(2))
            if d is not None and variable in d.lhs.args:
                return Derivative(d, variable, 1, d.lhs.args)
    return None
