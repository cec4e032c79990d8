"""Stationary covariances of linear stochastic recursions, exactly.

For ``x_{t+1} = A x_t + G xi_t`` with ``xi_t`` zero-mean, uncorrelated over time
and with covariance ``S``, the covariance ``P_t = Cov(x_t)`` obeys
``P_{t+1} = A P_t A^T + Q`` with ``Q = G S G^T``. A stationary covariance is a
fixed point, the solution of the discrete Lyapunov equation

    P = A P A^T + Q.

It is unique when no product of two eigenvalues of ``A`` equals 1, and it is the
limit of ``P_t`` from any start when every eigenvalue of ``A`` lies strictly
inside the unit circle (spectral radius < 1). :func:`stability_conditions`
states that condition as polynomial inequalities in the entries of ``A`` (the
Jury criterion), so it can be read for symbolic ``A``.

Everything is exact: the equation is solved as a linear system in the
``n(n+1)/2`` entries of a symmetric ``P`` with rational-function arithmetic, and
the answer is substituted back and checked by
:func:`emastats.symbolic.zero.all_zero` (never trusted because it came out of a
solver).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from .zero import Domains, ZeroTest, all_zero


class LyapunovError(ValueError):
    """The equation has no unique solution, or its inputs are not matrices of matching shape."""


@dataclass(frozen=True)
class LyapunovSolution:
    """The stationary covariance ``P`` of ``x_{t+1} = A x_t + noise`` with noise covariance ``Q``.

    ``residual`` is ``A P A^T + Q - P`` (as computed, unsimplified) and ``check`` is
    the exact zero test of its entries on and above the diagonal (it is
    symmetric); ``satisfied`` is its verdict.
    """

    A: sp.Matrix
    Q: sp.Matrix
    P: sp.Matrix
    residual: sp.Matrix
    check: ZeroTest

    @property
    def satisfied(self) -> bool | None:
        """Whether the solution was checked to satisfy the equation (None: undecided)."""
        return self.check.verdict

    def variance(self, index: int = 0) -> sp.Expr:
        """The stationary variance of component ``index`` of the state."""
        return self.P[index, index]

    def latex_steps(self) -> list[str]:
        """The equation, its solution and the residual check as LaTeX lines for a report."""
        return [
            r"P = A P A^{\top} + Q,\quad A = " + sp.latex(self.A) + r",\ Q = " + sp.latex(self.Q),
            r"P = " + sp.latex(self.P),
            r"A P A^{\top} + Q - P = "
            + (r"0\ \text{(checked: " + self.check.method + ")}" if self.satisfied else sp.latex(self.residual)),
        ]


def _as_square(matrix: sp.Matrix | sp.Expr | int, name: str) -> sp.Matrix:
    m = matrix if isinstance(matrix, sp.MatrixBase) else sp.Matrix([[sp.sympify(matrix)]])
    m = sp.Matrix(m)
    if m.rows != m.cols or m.rows == 0:
        raise LyapunovError(f"{name} must be a non-empty square matrix, got shape {m.shape}")
    if any(e.is_Float for e in m.atoms(sp.Number)):
        raise LyapunovError(f"{name} has floating-point entries; give exact rationals or symbols")
    return m


def noise_covariance(G: sp.Matrix, S: sp.Matrix | sp.Expr) -> sp.Matrix:
    """``Q = G S G^T``: the covariance that noise ``xi`` with covariance ``S`` adds through gain ``G``."""
    G = sp.Matrix(G)
    S = S if isinstance(S, sp.MatrixBase) else sp.Matrix([[sp.sympify(S)]])
    if G.cols != S.rows or S.rows != S.cols:
        raise LyapunovError(f"gain of shape {G.shape} does not fit a noise covariance of shape {S.shape}")
    return (G * S * G.T).applyfunc(sp.expand)


def solve_discrete_lyapunov(
    A: sp.Matrix | sp.Expr,
    Q: sp.Matrix | sp.Expr,
    *,
    domains: Domains | None = None,
    seed: int = 0,
) -> LyapunovSolution:
    """Solve ``P = A P A^T + Q`` for a symmetric ``P``, exactly, and check the answer.

    Scalars are accepted for the one-dimensional case. Raises LyapunovError when
    ``Q`` is not symmetric or when the linear system is singular for generic
    values of the symbols (then no unique stationary covariance exists, e.g.
    ``A = I``). ``domains`` restrict the spot checks of the residual (see
    :func:`emastats.symbolic.zero.is_zero`).
    """
    A = _as_square(A, "A")
    Q = _as_square(Q, "Q")
    n = A.rows
    if Q.shape != A.shape:
        raise LyapunovError(f"A is {A.shape} but Q is {Q.shape}")
    if any(sp.simplify(Q[i, j] - Q[j, i]) != 0 for i in range(n) for j in range(i + 1, n)):
        raise LyapunovError("Q must be symmetric (it is a covariance)")
    unknowns = {(i, j): sp.Dummy(f"p{i}{j}") for i in range(n) for j in range(i, n)}
    P_sym = sp.Matrix(n, n, lambda i, j: unknowns[(min(i, j), max(i, j))])
    lhs = A * P_sym * A.T + Q - P_sym
    equations = [sp.expand(lhs[i, j]) for i in range(n) for j in range(i, n)]
    order = list(unknowns.values())
    M, rhs = sp.linear_eq_to_matrix(equations, order)
    if sp.cancel(M.det()) == 0:
        raise LyapunovError(
            "the Lyapunov equation has no unique solution: a product of two eigenvalues of A is 1"
        )
    (values,) = sp.linsolve((M, rhs), order)  # unique: the determinant is not identically 0
    solution = {p: sp.factor(value) for p, value in zip(order, values)}
    P = P_sym.xreplace(solution)
    residual = A * P * A.T + Q - P  # all_zero cancels each entry itself
    upper = [residual[i, j] for i in range(n) for j in range(i, n)]  # the residual is symmetric
    check = all_zero(upper, domains=domains, seed=seed)
    return LyapunovSolution(A, Q, P, residual, check)


def stationary_covariance(
    A: sp.Matrix | sp.Expr,
    G: sp.Matrix | sp.Expr,
    S: sp.Matrix | sp.Expr,
    *,
    domains: Domains | None = None,
    seed: int = 0,
) -> LyapunovSolution:
    """Stationary covariance of ``x_{t+1} = A x_t + G xi_t`` with ``Cov(xi_t) = S``."""
    G = G if isinstance(G, sp.MatrixBase) else sp.Matrix([[sp.sympify(G)]])
    return solve_discrete_lyapunov(A, noise_covariance(G, S), domains=domains, seed=seed)


@dataclass(frozen=True)
class StabilityConditions:
    """All eigenvalues of ``A`` lie strictly inside the unit circle iff every condition holds.

    ``conditions`` are the Jury inequalities on the characteristic polynomial
    ``charpoly`` of ``A`` (in the variable ``z``); ``n + 1`` of them for an
    ``n``-by-``n`` matrix.
    """

    A: sp.Matrix
    z: sp.Symbol
    charpoly: sp.Expr
    conditions: tuple[sp.Basic, ...]

    def holds_at(self, values: Mapping[sp.Symbol, object]) -> bool:
        """Whether every condition holds at concrete (exact) ``values`` of the symbols."""
        point = {k: sp.nsimplify(v) if isinstance(v, float) else sp.sympify(v) for k, v in values.items()}
        results = []
        for condition in self.conditions:
            value = condition.xreplace(point)
            if value.free_symbols:
                missing = sorted(s.name for s in value.free_symbols)
                raise ValueError(f"no value given for {', '.join(missing)}")
            results.append(bool(value))
        return all(results)

    def latex(self) -> str:
        """The conditions as one LaTeX line."""
        return r",\quad ".join(sp.latex(c) for c in self.conditions)


def stability_conditions(A: sp.Matrix | sp.Expr) -> StabilityConditions:
    """The Jury (Schur-Cohn) conditions for the spectral radius of ``A`` to be below 1.

    For the monic characteristic polynomial ``p(z) = z^n + ... + a_0``:
    ``p(1) > 0``, ``(-1)^n p(-1) > 0``, ``|a_0| < 1``, then for each reduced row of
    the Jury table ``b_k = r_0 r_k - r_m r_{m-k}`` (``m`` the row's degree) the
    condition ``|b_0| > |b_{m-1}|``, until a row has three entries.
    """
    A = _as_square(A, "A")
    z = sp.Symbol("z")
    poly = sp.Poly(A.charpoly(z).as_expr(), z)
    n = poly.degree()
    coeffs = [sp.factor(c) for c in reversed(poly.all_coeffs())]  # a_0, ..., a_n (a_n = 1)
    p = poly.as_expr()
    conditions: list[sp.Basic] = [
        sp.factor(p.subs(z, 1)) > 0,
        sp.factor((-1) ** n * p.subs(z, -1)) > 0,
        sp.Abs(coeffs[0]) < coeffs[-1],
    ]
    row = coeffs
    while len(row) > 3:
        m = len(row) - 1
        row = [sp.expand(row[0] * row[k] - row[m] * row[m - k]) for k in range(m)]
        conditions.append(sp.Abs(row[0]) > sp.Abs(row[-1]))
    kept = tuple(c for c in conditions if c is not sp.true) or (sp.true,)
    if any(c is sp.false for c in kept):
        kept = (sp.false,)
    return StabilityConditions(A, z, p, kept)


def spectral_radius(A: sp.Matrix | sp.Expr, digits: int = 30) -> sp.Float:
    """``max |eigenvalue|`` of a matrix with numeric entries, to ``digits`` significant digits.

    The eigenvalues are the roots of the exact characteristic polynomial, found
    numerically (closed-form radicals of a cubic are not comparable in sympy);
    it is the cross-check of :func:`stability_conditions`, which is exact.
    """
    A = _as_square(A, "A")
    if A.free_symbols:
        raise ValueError("spectral_radius needs numeric entries; use stability_conditions for symbols")
    z = sp.Symbol("z")
    roots = sp.Poly(A.charpoly(z).as_expr(), z).nroots(n=digits)
    return max(sp.Abs(r).evalf(digits) for r in roots)
