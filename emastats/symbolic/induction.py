"""Proof by induction: the base case and the step residuals must simplify to 0.

Two forms share one result type:

* :func:`invariant_by_induction` proves that an invariant ``I(state, n) = 0``
  (a tuple of residual expressions) holds for every state a recursion reaches:
  it holds in the initial state (base), and one step from any state satisfying
  it (given as a *generic* state: free symbols constrained only by the
  invariant) lands in a state satisfying it again (step);
* :func:`by_induction` proves ``a(n) = closed_form(n)`` for a sequence given by
  its first value and its step; it is the invariant ``state - closed_form(n)``
  with the generic state ``closed_form(n)``.

States are a single expression or a tuple of expressions (a vector recursion).
Every residual goes through :func:`emastats.symbolic.zero.all_zero`, so a false
step comes back with a witness.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence, Union

import sympy as sp

from .zero import Domains, ZeroTest, all_zero, conjunction

State = Union[sp.Expr, tuple[sp.Expr, ...]]
Step = Callable[[State, sp.Symbol], State]


def _as_tuple(state: State) -> tuple[sp.Expr, ...]:
    if isinstance(state, (tuple, list)):
        return tuple(sp.sympify(s) for s in state)
    return (sp.sympify(state),)


@dataclass(frozen=True)
class InductionResult:
    """Base and step residuals with their zero tests. ``verdict``: True, False or None (undecided)."""

    n: sp.Symbol
    start: int
    base_residuals: tuple[sp.Expr, ...]
    step_residuals: tuple[sp.Expr, ...]
    base: ZeroTest
    step: ZeroTest

    @property
    def verdict(self) -> bool | None:
        return conjunction((self.base.verdict, self.step.verdict))

    @property
    def failed_part(self) -> str | None:
        if self.base.verdict is False:
            return "base"
        if self.step.verdict is False:
            return "step"
        return None

    @property
    def witness(self) -> dict[str, str] | None:
        """Values where the failed part is nonzero, and which part failed ("base case" or "induction step")."""
        part = self.failed_part
        if part is None:
            return None
        test = self.base if part == "base" else self.step
        return {**(test.witness or {}), "failed": "base case" if part == "base" else "induction step"}

    def latex_steps(self) -> list[str]:
        """The residuals as LaTeX lines for a report, each with what the zero test found."""
        name = sp.latex(self.n)
        relation = {True: "= 0", False: r"\ne 0", None: r"\overset{?}{=} 0"}
        base = ", ".join(sp.latex(r) for r in self.base_residuals)
        step = ", ".join(sp.latex(r) for r in self.step_residuals)
        return [
            rf"\text{{base }}{name}={self.start}:\ \text{{residual }} {base} {relation[self.base.verdict]}",
            rf"\text{{step }}{name}\to {name}+1:\ \text{{residual }} {step} {relation[self.step.verdict]}",
        ]


def peel_last_term(expr: sp.Expr, n: sp.Symbol) -> sp.Expr:
    """Rewrite every ``Sum(f(k), (k, lo, n + 1))`` as ``Sum(f(k), (k, lo, n)) + f(n + 1)``.

    This is the one manipulation an induction step on a sum needs, and one that
    ``simplify`` does not reliably find by itself.
    """

    def peel(s: sp.Sum) -> sp.Expr:
        (k, lo, _), = s.limits
        return sp.Sum(s.function, (k, lo, n)) + s.function.subs(k, n + 1)

    return expr.replace(
        lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1 and sp.expand(e.limits[0][2] - n - 1) == 0, peel
    )


def invariant_by_induction(
    invariant: Callable[[State, sp.Symbol], Sequence[sp.Expr]],
    step: Step,
    initial: State,
    generic: State,
    n: sp.Symbol,
    *,
    start: int = 0,
    domains: Domains | None = None,
    seed: int = 0,
) -> InductionResult:
    """Prove ``invariant(state_n, n) == 0`` for all ``n >= start``.

    ``initial`` is the state at ``n = start``; ``generic`` is an arbitrary state
    satisfying the invariant at index ``n`` (so the step residuals are
    ``invariant(step(generic, n), n + 1)``, with sums up to ``n + 1`` split as
    ``sum up to n`` + last term); ``step(state, n)`` gives the state at ``n + 1``.
    Spot checks sample ``n`` from ``[start, start + 12]`` unless ``domains`` says otherwise.
    """
    base_residuals = tuple(sp.sympify(r) for r in invariant(initial, sp.Integer(start)))
    step_residuals = tuple(peel_last_term(sp.sympify(r), n) for r in invariant(step(generic, n), n + 1))
    domains = dict(domains or {})
    domains.setdefault(n, (start, start + 12))
    base = all_zero(base_residuals, domains=domains, seed=seed)
    stepped = all_zero(step_residuals, domains=domains, seed=seed)
    return InductionResult(n, start, base_residuals, step_residuals, base, stepped)


def by_induction(
    closed_form: Callable[[sp.Expr], State],
    step: Step,
    initial: State,
    n: sp.Symbol,
    *,
    start: int = 0,
    domains: Domains | None = None,
    seed: int = 0,
) -> InductionResult:
    """Prove that the sequence with ``a(start) = initial`` and ``a(n+1) = step(a(n), n)``
    equals ``closed_form(n)`` for every ``n >= start``.

    Base residual: ``initial - closed_form(start)``; step residual:
    ``step(closed_form(n), n) - closed_form(n + 1)``.
    """

    def invariant(state: State, index: sp.Expr) -> tuple[sp.Expr, ...]:
        return tuple(s - c for s, c in zip(_as_tuple(state), _as_tuple(closed_form(index))))

    return invariant_by_induction(invariant, step, initial, closed_form(n), n,
                                  start=start, domains=domains, seed=seed)


def iterate(step: Step, initial: State, start: int, stop: int) -> list[tuple[sp.Expr, ...]]:
    """The exact states at ``start, start + 1, ..., stop`` (for concrete counterexamples)."""
    states = [_as_tuple(initial)]
    state: State = initial
    for k in range(start, stop):
        state = step(state, sp.Integer(k))
        states.append(_as_tuple(state))
    return states
