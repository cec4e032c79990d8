"""Exact moments of a minibatch mean by enumerating *every* minibatch (small N only).

This is the independent cross-check of the closed forms: no independence
argument, no algebra, just the definition of expectation over a finite,
uniform sample space.

* with replacement: the B indices are iid uniform, so each of the ``N**B``
  ordered index tuples has probability ``N**-B``;
* without replacement: the minibatch is a uniformly random B-subset, so each of
  the ``C(N, B)`` subsets has probability ``1 / C(N, B)``.

Values may be rationals or sympy expressions (symbolic g_i); each example's
value may be a scalar or a vector (a tuple), giving a mean vector and a
covariance matrix. Nothing is ever converted to float.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence, Union

import sympy as sp

Value = Union[int, Fraction, sp.Expr, Sequence[Union[int, Fraction, sp.Expr]]]
MAX_MINIBATCHES = 200_000  # enumeration is a cross-check for small N, not a simulation


@dataclass(frozen=True)
class MinibatchMoments:
    """Exact mean vector and covariance matrix of the minibatch mean over all ``count`` minibatches."""

    n_examples: int
    batch_size: int
    replacement: bool
    count: int
    mean: sp.Matrix
    covariance: sp.Matrix

    @property
    def variance(self) -> sp.Expr:
        """The variance, for scalar values (the 1x1 covariance)."""
        if self.covariance.shape != (1, 1):
            raise ValueError("variance is defined for scalar values; use covariance for vectors")
        return self.covariance[0, 0]


def _as_vectors(values: Sequence[Value]) -> list[sp.Matrix]:
    vectors = []
    for v in values:
        entries = v if isinstance(v, (tuple, list)) else (v,)
        vectors.append(sp.Matrix([sp.nsimplify(e) if isinstance(e, Fraction) else sp.sympify(e) for e in entries]))
    if len({m.shape for m in vectors}) > 1:
        raise ValueError("all values must have the same dimension")
    for m in vectors:
        if any(e.is_Float for e in m):
            raise ValueError("enumeration is exact: give rationals or symbols, not floats")
    return vectors


def population_moments(values: Sequence[Value]) -> tuple[sp.Matrix, sp.Matrix]:
    """(g_fb, Sigma^1): the mean of the N values and their population covariance (divisor N)."""
    vectors = _as_vectors(values)
    n = len(vectors)
    mean = sum(vectors, sp.zeros(*vectors[0].shape)) / n
    cov = sum(((v - mean) * (v - mean).T for v in vectors), sp.zeros(mean.rows, mean.rows)) / n
    return mean.applyfunc(sp.expand), cov.applyfunc(sp.expand)


def minibatch_moments(values: Sequence[Value], batch_size: int, *, replacement: bool) -> MinibatchMoments:
    """Exact E and Cov of ``(1/B) sum_{i in mb} g_i`` over all equally likely minibatches."""
    vectors = _as_vectors(values)
    n, b = len(vectors), batch_size
    if n < 1 or b < 1:
        raise ValueError("need at least one example and a batch size of at least 1")
    if not replacement and b > n:
        raise ValueError(f"cannot draw {b} of {n} examples without replacement")
    count = n**b if replacement else math.comb(n, b)
    if count > MAX_MINIBATCHES:
        raise ValueError(f"{count} minibatches are too many to enumerate; use a smaller N or B")
    batches = itertools.product(range(n), repeat=b) if replacement else itertools.combinations(range(n), b)
    # Enumerate the *index counts* c (c_i = how often example i is in the batch) in exact rationals,
    # then combine with the values once: m = (1/B) sum_i c_i g_i, so E[m] = (1/B) sum_i E[c_i] g_i and
    # E[m m^T] = (1/B^2) sum_ij E[c_i c_j] g_i g_j^T. Same definition of expectation, far fewer symbolic operations.
    first = [Fraction(0)] * n
    second = [[Fraction(0)] * n for _ in range(n)]
    for batch in batches:
        counts = [0] * n
        for i in batch:
            counts[i] += 1
        present = [i for i in range(n) if counts[i]]
        for i in present:
            first[i] += counts[i]
            for j in present:
                second[i][j] += counts[i] * counts[j]
    dim = vectors[0].rows
    mean = sp.zeros(dim, 1)
    raw = sp.zeros(dim, dim)
    for i in range(n):
        mean += sp.Rational(first[i].numerator, first[i].denominator * count * b) * vectors[i]
        for j in range(n):
            weight = Fraction(second[i][j], count * b * b)
            if weight:
                raw += sp.Rational(weight.numerator, weight.denominator) * vectors[i] * vectors[j].T
    covariance = raw - mean * mean.T
    simplify = sp.expand if any(v.free_symbols for v in vectors) else (lambda e: e)
    return MinibatchMoments(n, b, replacement, count, mean.applyfunc(simplify), covariance.applyfunc(simplify))
