"""Proofs about batch statistics and the sigmoid (BatchNorm's batch variance and running variance).

Run on its own: ``python proofs/normalisation.py``.

The expectations of batch variances are derived for a symbolic batch size B
(algebra of sums plus the toolkit's moments of linear forms) and cross-checked
by exact enumeration of every batch drawn from a small data set. The deciding
functions take the formula under test as an argument, so wrong variants are
judged by the same code.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import sympy as sp

from emastats.proving import Derivation, claimed, proof, refuted, script_main
from emastats.symbolic.decide import all_of, decide
from emastats.symbolic.enumeration import population_moments
from emastats.symbolic.induction import by_induction
from emastats.symbolic.moments import IidSequence
from emastats.symbolic.zero import equal, is_zero

B = sp.Symbol("B", integer=True, positive=True)
sigma2 = sp.Symbol("sigma2", positive=True)  # sigma^2
mean = sp.Symbol("mu", real=True)
p = sp.Symbol("p", positive=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
DATA = (sp.Integer(-1), sp.Integer(1))  # population mean 0 and variance 1: a reader can enumerate by hand


# ---------------------------------------------------------------- batch variances


@lru_cache(maxsize=1)
def expected_sum_of_squares() -> tuple[sp.Expr, tuple[str, ...]]:
    """``E[sum_b (x_b - xbar)^2]`` for B iid draws with mean mu and variance sigma^2, symbolic B.

    ``sum (x_b - xbar)^2 = sum x_b^2 - B xbar^2`` (expand, then ``sum x_b = B xbar``);
    ``E[x_b^2] = sigma^2 + mu^2``; ``E[xbar^2] = Var(xbar) + mu^2`` with ``Var(xbar)``
    from the toolkit's moments of a linear form.
    """
    k, X, xbar = sp.Symbol("k", integer=True, positive=True), sp.IndexedBase("X"), sp.Symbol("xbar", real=True)
    expanded = sp.Sum(sp.expand((X[k] - xbar) ** 2), (k, 1, B)).expand().doit()
    expanded = expanded.replace(lambda e: isinstance(e, sp.Sum), lambda e: sp.factor_terms(e))
    reduced = sp.expand(expanded.subs(sp.Sum(X[k], (k, 1, B)), B * xbar))
    squares = sp.Sum(X[k] ** 2, (k, 1, B))
    if sp.expand(reduced - (squares - B * xbar**2)) != 0:
        raise AssertionError(f"sum of squares did not reduce to sum x^2 - B xbar^2: {reduced}")
    draws = IidSequence(X, mean, sigma2, "x_b iid with mean mu and variance sigma^2")
    second_moment_of_mean = draws.second_moment(draws.sample_mean(B))
    squares_family = IidSequence(sp.IndexedBase("Y"), sigma2 + mean**2, sp.Symbol("v4", positive=True),
                                 "Y_b = x_b^2 iid with mean sigma^2 + mu^2")
    expected_squares = squares_family.expectation(sp.Sum(sp.IndexedBase("Y")[k], (k, 1, B)))
    total = sp.factor(sp.expand(expected_squares - B * second_moment_of_mean))
    steps = (
        r"\sum_b (x_b-\bar x)^2 = " + sp.latex(reduced),
        r"E\Big[\sum_b x_b^2\Big] = " + sp.latex(expected_squares) + r",\quad E[\bar x^2] = "
        + sp.latex(sp.simplify(second_moment_of_mean)),
        r"E\Big[\sum_b (x_b-\bar x)^2\Big] = " + sp.latex(total),
    )
    return total, steps


def enumerated_sum_of_squares(size: int) -> sp.Expr:
    """``E[sum_b (x_b - xbar)^2]`` over all ``2^B`` equally likely batches of DATA (with replacement)."""
    batches = list(itertools.product(DATA, repeat=size))
    total = sp.Integer(0)
    for batch in batches:
        xbar = sum(batch) / sp.Integer(size)
        total += sum((x - xbar) ** 2 for x in batch)
    return total / len(batches)


def batch_variance_verdict(divisor: Callable[[sp.Expr], sp.Expr], claimed: Callable[[sp.Expr, sp.Expr], sp.Expr],
                           smallest_batch: int = 1) -> Derivation:
    """Decide ``E[(1/divisor(B)) sum_b (x_b - xbar)^2] = claimed(sigma^2, B)`` for ``B >= smallest_batch``.

    Refuted by exact enumeration of the batches of DATA = (-1, 1) (sigma^2 = 1) at the
    first B in 2..4 where the two differ; otherwise decided on the symbolic identity.
    """
    total, steps = expected_sum_of_squares()
    expectation = total / divisor(B)
    test = equal(expectation, claimed(sigma2, B), domains={B: (max(smallest_batch, 1), 12)})
    _, population_variance = population_moments(DATA)
    cross = all_of(*(is_zero(enumerated_sum_of_squares(b) - total.subs({sigma2: population_variance[0, 0], B: b}))
                     for b in (2, 3)))
    steps = list(steps) + [r"E\big[\tfrac{1}{" + sp.latex(divisor(B)) + r"}\sum_b(x_b-\bar x)^2\big] = "
                           + sp.latex(sp.simplify(expectation)),
                           r"\text{enumeration of all batches of } (-1, 1),\ B = 2, 3:\ "
                           + ", ".join(sp.latex(enumerated_sum_of_squares(b)) for b in (2, 3))]
    if cross.verdict is False:
        raise AssertionError(f"enumeration disagrees with the algebra: {cross.witness}")
    if test.verdict is False:
        for size in range(max(smallest_batch, 2), 5):
            value = enumerated_sum_of_squares(size) / divisor(sp.Integer(size))
            stated = claimed(population_variance[0, 0], sp.Integer(size))
            if value != stated:
                return refuted("sums of iid moments for symbolic B; exact enumeration",
                               {"data": "(-1, 1), each with probability 1/2 (sigma^2 = 1)", "B": size,
                                "E[batch variance] (enumerated)": value, "claimed": stated}, steps)
    return decide(all_of(test, cross), "sums of iid moments for symbolic B; exact enumeration", steps)


@proof("batchnorm.variance.biased")
def biased_batch_variance() -> Derivation:
    """E[(1/B) sum (x_b - xbar)^2] = (B - 1) sigma^2 / B."""
    return batch_variance_verdict(lambda size: size, claimed("batchnorm.variance.biased").as_function("sigma^2", "B"))


@proof("batchnorm.variance.unbiased")
def unbiased_batch_variance() -> Derivation:
    """E[(1/(B-1)) sum (x_b - xbar)^2] = sigma^2 for B >= 2."""
    return batch_variance_verdict(lambda size: size - 1, claimed("batchnorm.variance.unbiased").as_function("sigma^2", "B"),
                                  smallest_batch=2)


# ---------------------------------------------------------------- running variance


def running_var_verdict(closed_form: Callable[[sp.Expr], sp.Expr]) -> Derivation:
    """Decide ``E[sigma_hat^2_t] = closed_form(t)`` for the EMA started at 1, by induction on t.

    The step uses ``E[s_t^2] = sigma^2`` (the unbiased batch variance, proved above):
    ``m_{t+1} = (1 - p) m_t + p sigma^2``, ``m_0 = 1``.
    """
    total, _ = expected_sum_of_squares()
    unbiased_mean = sp.simplify(total / (B - 1))  # = sigma^2, derived, not assumed
    result = by_induction(closed_form, lambda m_t, n: (1 - p) * m_t + p * unbiased_mean, sp.Integer(1), t,
                          domains={p: (0, 1)})
    steps = [r"E[s_t^2] = " + sp.latex(unbiased_mean) + r",\ m_{t+1} = (1-p)m_t + p\,E[s_t^2],\ m_0 = 1",
             *result.latex_steps()]
    if result.verdict is False:
        # a concrete step a reader can redo: p = 1/2, sigma^2 = 3 gives m = 1, 2, 5/2, 11/4, ...
        values = {p: sp.Rational(1, 2), sigma2: sp.Integer(3)}
        m_t = sp.Integer(1)
        for n in range(0, 4):
            stated = closed_form(sp.Integer(n)).xreplace(values)
            if stated != m_t:
                return refuted("induction on t", {"p": "1/2", "sigma^2": 3, "t": n, "E[sigma_hat^2_t] (recursion)": m_t,
                                                  "claimed": stated}, steps)
            m_t = (1 - values[p]) * m_t + values[p] * values[sigma2]
    return decide(result, "induction on t", steps)


@proof("batchnorm.running_var")
def running_variance() -> Derivation:
    """m_t = (1-p)^t + (1 - (1-p)^t) sigma^2 solves m_{t+1} = (1-p) m_t + p sigma^2, m_0 = 1."""
    law = claimed("batchnorm.running_var")
    return running_var_verdict(lambda n: law.bind({"p": p, "t": n, "sigma^2": sigma2}))


# ---------------------------------------------------------------- sigmoid


@dataclass(frozen=True)
class ZeroOrPositive:
    """``margin >= 0`` as a check: True or False when sympy's assumptions decide the sign, None otherwise."""

    margin: sp.Expr

    @property
    def verdict(self) -> bool | None:
        return True if self.margin.is_nonnegative else (False if self.margin.is_negative else None)

    @property
    def witness(self) -> dict[str, str] | None:
        return {"bound - 1/4": str(self.margin)} if self.verdict is False else None

    @property
    def method(self) -> str:
        return f"sign of {self.margin}"


def sigmoid_bound_verdict(bound: sp.Expr) -> Derivation:
    """Decide ``sigma'(x) = sigma(x)(1 - sigma(x)) <= bound`` for all real x.

    ``1/4 - S(1 - S) = (S - 1/2)^2 >= 0`` for any S; equality at ``sigma(x) = 1/2``, i.e.
    ``x = 0`` (solved), where the second derivative is negative: the maximum is 1/4.
    """
    x, S = sp.Symbol("x", real=True), sp.Symbol("S", real=True)
    sigmoid = 1 / (1 + sp.exp(-x))
    derivative = sp.diff(sigmoid, x)
    y = sp.Symbol("y", positive=True)  # y = e^{-x} > 0 turns both sides into rational functions
    identity = equal(derivative.xreplace({sp.exp(-x): y}), (sigmoid * (1 - sigmoid)).xreplace({sp.exp(-x): y}))
    if identity.verdict is not None and (derivative.xreplace({sp.exp(-x): y})).has(x):
        raise AssertionError("the substitution y = exp(-x) left x behind")
    square = equal(sp.Rational(1, 4) - S * (1 - S), (S - sp.Rational(1, 2)) ** 2)
    # sigma(x) = 1/2 as a polynomial equation in y = e^{-x}; each positive root y gives x = -log y
    half = sp.Poly(sp.numer(sp.together(sigmoid.xreplace({sp.exp(-x): y}) - sp.Rational(1, 2))), y)
    critical = sorted(-sp.log(r) for r in sp.roots(half) if r.is_positive)
    peak = sp.simplify(derivative.subs(x, 0))
    curvature = sp.simplify(sp.diff(derivative, x, 2).subs(x, 0))
    steps = [r"\sigma'(x) = " + sp.latex(sp.simplify(derivative)) + r" = \sigma(1-\sigma)",
             r"\tfrac14 - S(1-S) = \left(S-\tfrac12\right)^2 \ge 0",
             r"\sigma(x) = \tfrac12 \iff x \in " + sp.latex(critical) + r",\ \sigma'(0) = " + sp.latex(peak)
             + r",\ \sigma'''(0) = " + sp.latex(curvature) + r" < 0"]
    if (peak - bound).is_positive:
        return refuted("calculus: derivative, completing the square",
                       {"x": 0, "sigma'(0)": peak, "bound": bound}, steps)
    margin = ZeroOrPositive(sp.sympify(bound) - sp.Rational(1, 4))
    return decide(all_of(identity, square, is_zero(peak - sp.Rational(1, 4)), margin),
                  "calculus: derivative, completing the square", steps)


@proof("sigmoid.derivative_bound")
def sigmoid_derivative_bound() -> Derivation:
    """sigma' = sigma(1 - sigma) = 1/4 - (sigma - 1/2)^2 <= 1/4, with equality only at x = 0."""
    return sigmoid_bound_verdict(sp.Rational(1, 4))


if __name__ == "__main__":
    raise SystemExit(script_main())
