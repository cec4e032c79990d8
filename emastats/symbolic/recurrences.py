"""Solving linear recurrences with ``rsolve`` and checking the answer back.

``rsolve`` is trusted for nothing: every closed form it returns is substituted
back into the recurrence and into the initial conditions, and both residuals
must be zero by :func:`emastats.symbolic.zero.is_zero`. The same check is
available on its own (:func:`check_solution`) for a closed form found by hand,
so a wrong closed form is rejected with a witness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from .zero import Domains, ZeroTest, all_zero, conjunction


class RecurrenceError(Exception):
    """A closed form that does not satisfy its recurrence or its initial conditions."""


@dataclass(frozen=True)
class Recurrence:
    """``a(n + order) = rhs`` for ``n >= start``, where ``rhs`` uses a(n), ..., a(n + order - 1).

    ``initial`` maps the first ``order`` indices to their values, e.g. ``{0: 0}``.
    """

    a: sp.FunctionClass
    n: sp.Symbol
    rhs: sp.Expr
    initial: Mapping[int, sp.Expr]
    order: int = 1

    def residual(self, closed_form: sp.Expr) -> sp.Expr:
        """``closed(n + order) - rhs`` with every a(n + k) replaced by the closed form at n + k."""
        shifts = {self.a(self.n + k): closed_form.subs(self.n, self.n + k) for k in range(self.order)}
        return closed_form.subs(self.n, self.n + self.order) - self.rhs.subs(shifts)

    def initial_residuals(self, closed_form: sp.Expr) -> list[sp.Expr]:
        """``closed(k) - a_k`` for each initial condition ``a(k) = a_k``."""
        return [closed_form.subs(self.n, k) - sp.sympify(v) for k, v in sorted(self.initial.items())]

    def latex(self) -> str:
        """The recurrence as a LaTeX equation."""
        return sp.latex(sp.Eq(self.a(self.n + self.order), self.rhs))


@dataclass(frozen=True)
class RecurrenceCheck:
    """Whether ``closed_form`` solves ``recurrence``: the residuals and their zero tests."""

    recurrence: Recurrence
    closed_form: sp.Expr
    step: ZeroTest
    initial: ZeroTest

    @property
    def verdict(self) -> bool | None:
        return conjunction((self.step.verdict, self.initial.verdict))

    @property
    def witness(self) -> dict[str, str] | None:
        return self.step.witness or self.initial.witness


def check_solution(
    recurrence: Recurrence, closed_form: sp.Expr, *, domains: Domains | None = None, seed: int = 0
) -> RecurrenceCheck:
    """Substitute ``closed_form`` into the recurrence and the initial conditions."""
    step = all_zero([recurrence.residual(closed_form)], domains=domains, seed=seed)
    initial = all_zero(recurrence.initial_residuals(closed_form), domains=domains, seed=seed)
    return RecurrenceCheck(recurrence, closed_form, step, initial)


def solve_linear(
    recurrence: Recurrence, *, domains: Domains | None = None, seed: int = 0
) -> RecurrenceCheck:
    """Closed form of a linear recurrence by ``rsolve``, verified by :func:`check_solution`.

    Raises NotImplementedError when rsolve finds no solution (a sympy limitation:
    the proof runner reports it as INCONCLUSIVE) and RecurrenceError when its
    answer fails the check (never silently trusted).
    """
    r = recurrence
    equation = r.a(r.n + r.order) - r.rhs
    solution = sp.rsolve(equation, r.a(r.n), {r.a(k): v for k, v in r.initial.items()})
    if solution is None:
        raise NotImplementedError(f"rsolve found no closed form for {r.latex()}")
    checked = check_solution(r, sp.simplify(solution), domains=domains, seed=seed)
    if checked.verdict is False:
        raise RecurrenceError(f"rsolve's answer {solution} fails its recurrence at {checked.witness}")
    return checked


def limit_at_infinity(expr: sp.Expr, n: sp.Symbol, contracting: tuple[sp.Expr, ...]) -> sp.Expr:
    """``lim_{n -> oo} expr`` for a closed form whose only n-dependence is powers ``r**(a n + b)``.

    ``contracting`` lists the bases r with 0 < r < 1 (the caller's stated
    assumption, e.g. beta or 1 - 1/N for N > 1); each such power with a > 0 tends
    to 0. Raises NotImplementedError if n survives any other way (then the limit
    is not of this elementary kind and the proof is INCONCLUSIVE).
    """
    bases = {sp.simplify(r) for r in contracting}

    def vanishes(factor: sp.Expr) -> bool:
        base, exponent = factor.as_base_exp()
        slope = sp.expand(exponent).coeff(n, 1)
        return sp.simplify(base) in bases and bool(slope.is_positive) and not sp.expand(exponent - slope * n).has(n)

    limit = sp.Integer(0)
    for term in sp.Add.make_args(sp.powsimp(sp.expand(expr))):
        constant, dependent = term.as_independent(n, as_Add=False)
        if dependent == 1:
            limit += constant
        elif not all(vanishes(f) for f in sp.Mul.make_args(dependent)):
            raise NotImplementedError(f"the limit n -> oo of {expr} is not a sum of vanishing geometric terms")
    return sp.simplify(limit)
