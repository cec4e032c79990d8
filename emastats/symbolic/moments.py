"""Moments of linear forms ``a_0 + sum_i a_i X_i`` of random variables, symbolically.

The expectation of a linear form needs only linearity. Its variance and the
covariance of two forms need the covariances of the variables, and those are
an *assumption* that each family declares by name:

* :class:`IndependentFamily`: ``Cov(X_i, X_j) = 0`` for ``i != j`` (only
  uncorrelatedness is used, and only within the family);
* :class:`ExchangeableFamily`: every pair has the same covariance ``c``
  (e.g. draws without replacement, where ``c = -sigma^2 / (N - 1)``);
* :class:`IidSequence`: ``X[k]`` indexed by an integer, iid with a common mean
  and variance, for sums with a symbolic number of terms (``sp.Sum``).

A symbol that belongs to no family is a constant; asking for a moment of a form
that is not linear in the family raises ValueError (a bug in the proof, never a
silent answer). By bilinearity, ``E[F G] = Cov(F, G) + E[F] E[G]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy as sp

from .sums import closed_sum


def _linear_coefficients(form: sp.Expr, variables: Sequence[sp.Symbol]) -> tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]:
    """(a_0, {X_i: a_i}) with form = a_0 + sum a_i X_i; ValueError if form is not linear."""
    form = sp.expand(sp.sympify(form))
    coefficients = {}
    for x in variables:
        a = form.coeff(x, 1)
        if a.has(*variables):
            raise ValueError(f"{form} is not linear in the random variables ({x} multiplies another)")
        coefficients[x] = a
    constant = sp.expand(form - sum(a * x for x, a in coefficients.items()))
    if constant.has(*variables):
        raise ValueError(f"{form} is not a linear form in {list(variables)}")
    return constant, coefficients


@dataclass(frozen=True)
class _FiniteFamily:
    """Common code of the finite families: ``variables`` with ``means``; subclasses give covariances."""

    variables: tuple[sp.Symbol, ...]
    means: Mapping[sp.Symbol, sp.Expr]
    variances: Mapping[sp.Symbol, sp.Expr]
    assumption: str

    def _covariance_of(self, x: sp.Symbol, y: sp.Symbol) -> sp.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def expectation(self, form: sp.Expr) -> sp.Expr:
        """E[a_0 + sum a_i X_i] = a_0 + sum a_i E[X_i] (linearity only)."""
        constant, coefficients = _linear_coefficients(form, self.variables)
        return constant + sum(a * self.means[x] for x, a in coefficients.items())

    def covariance(self, first: sp.Expr, second: sp.Expr) -> sp.Expr:
        """Cov(sum a_i X_i, sum b_j X_j) = sum_ij a_i b_j Cov(X_i, X_j), with the family's covariances."""
        _, a = _linear_coefficients(first, self.variables)
        _, b = _linear_coefficients(second, self.variables)
        return sp.expand(sum(a[x] * b[y] * self._covariance_of(x, y) for x in self.variables for y in self.variables))

    def variance_of(self, form: sp.Expr) -> sp.Expr:
        """Var[F] = Cov(F, F)."""
        return self.covariance(form, form)

    def expectation_of_product(self, first: sp.Expr, second: sp.Expr) -> sp.Expr:
        """E[F G] = Cov(F, G) + E[F] E[G]."""
        return sp.expand(self.covariance(first, second) + self.expectation(first) * self.expectation(second))


@dataclass(frozen=True)
class IndependentFamily(_FiniteFamily):
    """Mutually independent X_i with the given means and variances (the named ``assumption``)."""

    def _covariance_of(self, x: sp.Symbol, y: sp.Symbol) -> sp.Expr:
        return self.variances[x] if x == y else sp.Integer(0)

    @classmethod
    def iid(cls, variables: Sequence[sp.Symbol], mean: sp.Expr, variance: sp.Expr,
            assumption: str) -> "IndependentFamily":
        """X_i with one common mean and variance, uncorrelated (iid is more than is used)."""
        return cls(tuple(variables), {x: mean for x in variables}, {x: variance for x in variables}, assumption)


@dataclass(frozen=True)
class ExchangeableFamily(_FiniteFamily):
    """X_i with common mean and variance and the same covariance ``pair_covariance`` for every pair."""

    pair_covariance: sp.Expr = sp.Integer(0)

    def _covariance_of(self, x: sp.Symbol, y: sp.Symbol) -> sp.Expr:
        return self.variances[x] if x == y else self.pair_covariance

    @staticmethod
    def mean_variance(size: sp.Expr, variance: sp.Expr, pair_covariance: sp.Expr) -> sp.Expr:
        """Var[(1/n) sum_{i=1}^n X_i] = (n variance + n (n - 1) pair_covariance) / n^2, n possibly symbolic.

        The same bilinear expansion as :meth:`variance_of` (n diagonal terms, n (n - 1)
        off-diagonal ones), written for a symbolic number of members.
        """
        return (size * variance + size * (size - 1) * pair_covariance) / size**2

    @classmethod
    def of(cls, variables: Sequence[sp.Symbol], mean: sp.Expr, variance: sp.Expr,
           pair_covariance: sp.Expr, assumption: str) -> "ExchangeableFamily":
        """X_i with one common mean and variance and covariance ``pair_covariance`` between any two."""
        return cls(tuple(variables), {x: mean for x in variables}, {x: variance for x in variables},
                   assumption, pair_covariance)


@dataclass(frozen=True)
class IidSequence:
    """X[k] for integer k, iid with ``mean`` and ``variance`` (the named ``assumption``).

    Forms are ``a_0 + Sum(c(k) X[k], (k, lo, hi))`` with a symbolic number of terms.
    Sums are closed by :func:`emastats.symbolic.sums.closed_sum` (generic case):
    a parameter value such as beta = 1 must be excluded by the claim's assumptions.
    """

    X: sp.IndexedBase
    mean: sp.Expr
    variance: sp.Expr
    assumption: str

    def _split(self, form: sp.Expr) -> tuple[sp.Expr, sp.Expr, tuple]:
        """(a_0, c(k), (k, lo, hi)) of a form a_0 + Sum(c(k) X[k], (k, lo, hi))."""
        form = sp.sympify(form)
        constant, sums = sp.Integer(0), []
        for term in sp.Add.make_args(form):
            factor, rest = term.as_independent(self.X)
            if isinstance(rest, sp.Sum) and not factor.has(*rest.variables):
                sums.append(sp.Sum(factor * rest.function, *rest.limits))
            elif rest.has(self.X):
                raise ValueError(f"{term}: X must appear only inside one Sum(c(k) X[k], (k, lo, hi))")
            else:
                constant += term
        if len(sums) != 1:
            raise ValueError(f"expected a_0 + Sum(c(k) X[k], (k, lo, hi)), got {form}")
        total = sums[0]
        (k, lo, hi), = total.limits
        summand = sp.expand(total.function)
        c = summand.coeff(self.X[k], 1)
        if c.has(self.X) or sp.expand(summand - c * self.X[k]) != 0:
            raise ValueError(f"the summand {summand} is not c(k) X[k]")
        return constant, c, (k, lo, hi)

    def expectation(self, form: sp.Expr) -> sp.Expr:
        """E[a_0 + sum c(k) X[k]] = a_0 + mean sum c(k) (linearity only)."""
        constant, c, limits = self._split(form)
        return constant + self.mean * closed_sum(c, limits)

    def covariance(self, first: sp.Expr, second: sp.Expr) -> sp.Expr:
        """Cov(sum c(k) X[k], sum d(k) X[k]) = variance * sum c(k) d(k) over the same index range."""
        _, c, (k, lo, hi) = self._split(first)
        _, d, (j, lo2, hi2) = self._split(second)
        if sp.simplify(lo - lo2) != 0 or sp.simplify(hi - hi2) != 0:
            raise ValueError("covariance of sums over different index ranges is not supported")
        return self.variance * closed_sum(c * d.subs(j, k), (k, lo, hi))

    def variance_of(self, form: sp.Expr) -> sp.Expr:
        """Var[F] = Cov(F, F)."""
        return self.covariance(form, form)

    def second_moment(self, form: sp.Expr) -> sp.Expr:
        """E[F^2] = Var[F] + (E[F])^2."""
        return self.variance_of(form) + self.expectation(form) ** 2

    def sample_mean(self, size: sp.Expr) -> sp.Expr:
        """The form (1/size) sum_{k=1}^{size} X[k]: the mean of ``size`` draws, e.g. a minibatch mean."""
        k = sp.Symbol("k", integer=True, positive=True)
        return sp.Sum(self.X[k] / size, (k, 1, size))
