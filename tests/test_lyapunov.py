"""The toolkit's discrete Lyapunov solver, stability conditions and clipped-Gaussian means.

Each is checked against an independent computation: scipy's numerical Lyapunov
solver, numpy's eigenvalues, scipy quadrature / closed limits.
"""
from __future__ import annotations

import math
import random

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy import integrate, stats
from scipy.linalg import solve_discrete_lyapunov as scipy_lyapunov

from emastats.symbolic.gaussian import (
    norm_clip_mean,
    norm_clip_mean_quadrature,
    value_clip_mean,
    value_clip_mean_quadrature,
)
from emastats.symbolic.lyapunov import (
    LyapunovError,
    noise_covariance,
    solve_discrete_lyapunov,
    spectral_radius,
    stability_conditions,
    stationary_covariance,
)

a, q = sp.symbols("a q", positive=True)
eta, lam, sigma, B = sp.symbols("eta lambda sigma B", positive=True)
mu = sp.Symbol("mu", nonnegative=True)


def _to_numpy(matrix: sp.Matrix) -> np.ndarray:
    return np.array(matrix.tolist(), dtype=float)


# ---------------------------------------------------------------- Lyapunov equation


def test_scalar_stationary_variance_is_q_over_one_minus_a_squared():
    sol = solve_discrete_lyapunov(a, q, domains={a: (0, 1)})
    assert sol.satisfied is True
    assert sp.simplify(sol.variance() - q / (1 - a**2)) == 0


def test_rational_matrices_agree_with_scipy():
    rng = random.Random(3)
    for n in (2, 3):
        for _ in range(3):
            A = sp.Matrix(n, n, lambda i, j: sp.Rational(rng.randint(-4, 4), 10))
            G = sp.Matrix(n, 1, lambda i, j: sp.Rational(rng.randint(-3, 3), 2))
            S = sp.Matrix([[sp.Rational(rng.randint(1, 5), 3)]])
            sol = stationary_covariance(A, G, S)
            assert sol.satisfied is True
            expected = scipy_lyapunov(_to_numpy(A), _to_numpy(noise_covariance(G, S)))
            assert np.allclose(_to_numpy(sol.P), expected, rtol=1e-10, atol=1e-12)
            assert sol.P == sol.P.T


def test_heavy_ball_closed_form_and_a_numeric_point():
    A = sp.Matrix([[1 - eta * lam, mu], [-eta * lam, mu]])
    sol = stationary_covariance(A, sp.Matrix([-eta, -eta]), sigma**2 / B,
                                domains={mu: (0, 1), eta: (0, 2), lam: (0, 1)})
    assert sol.satisfied is True
    expected = eta * sigma**2 * (1 + mu) / (B * lam * (1 - mu) * (2 * (1 + mu) - eta * lam))
    assert sp.simplify(sol.variance(0) - expected) == 0
    point = {eta: sp.Rational(1, 4), lam: 1, sigma: 1, B: 2, mu: sp.Rational(1, 2)}
    numeric = scipy_lyapunov(_to_numpy(A.subs(point)), _to_numpy(sol.Q.subs(point)))
    assert math.isclose(numeric[0, 0], float(sol.variance(0).subs(point)), rel_tol=1e-10)


def test_a_wrong_solution_fails_the_check():
    """The check is a real check: a residual that is not zero is reported with a witness."""
    from emastats.symbolic.zero import all_zero

    A = sp.Matrix([[a]])
    wrong = sp.Matrix([[q / (1 - a)]])
    residual = A * wrong * A.T + sp.Matrix([[q]]) - wrong
    test = all_zero(list(residual), domains={a: (0, 1)})
    assert test.verdict is False and test.witness


@pytest.mark.parametrize(
    "A, Q, message",
    [
        (sp.eye(2), sp.eye(2), "no unique solution"),
        (sp.Matrix([[1, 2, 3]]), sp.Matrix([[1]]), "square"),
        (sp.eye(2) / 2, sp.Matrix([[1, 2], [0, 1]]), "symmetric"),
        (sp.eye(2) / 2, sp.eye(3), "Q is"),
        (sp.Matrix([[0.5]]), sp.Matrix([[1]]), "floating-point"),
    ],
)
def test_bad_inputs_raise_a_clear_error(A, Q, message):
    with pytest.raises(LyapunovError, match=message):
        solve_discrete_lyapunov(A, Q)


def test_noise_covariance_shape_error():
    with pytest.raises(LyapunovError, match="does not fit"):
        noise_covariance(sp.Matrix([[1, 2]]), sp.Matrix([[1]]))


# ---------------------------------------------------------------- stability


def test_stability_conditions_of_sgd_and_heavy_ball():
    sgd = stability_conditions(1 - eta * lam)
    assert sgd.holds_at({eta: sp.Rational(3, 2), lam: 1}) and not sgd.holds_at({eta: sp.Rational(5, 2), lam: 1})
    hb = stability_conditions(sp.Matrix([[1 - eta * lam, mu], [-eta * lam, mu]]))
    # heavy ball is stable iff 0 < eta lambda < 2 (1 + mu) and mu < 1
    assert hb.holds_at({eta: sp.Rational(29, 10), lam: 1, mu: sp.Rational(1, 2)})
    assert not hb.holds_at({eta: sp.Rational(31, 10), lam: 1, mu: sp.Rational(1, 2)})
    with pytest.raises(ValueError, match="no value given for mu"):
        hb.holds_at({eta: 1, lam: 1})


def test_jury_conditions_match_the_spectral_radius_on_random_matrices():
    rng = random.Random(11)
    seen = {True: 0, False: 0}
    for _ in range(24):
        n = rng.choice((2, 3, 4))
        A = sp.Matrix(n, n, lambda i, j: sp.Rational(rng.randint(-6, 6), 8))
        radius = max(abs(np.linalg.eigvals(_to_numpy(A))))
        if abs(radius - 1) < 1e-6:
            continue
        stable = stability_conditions(A).holds_at({})
        assert stable == (radius < 1), (A, radius)
        assert math.isclose(float(spectral_radius(A, digits=15)), radius, rel_tol=1e-9)
        seen[stable] += 1
    assert seen[True] >= 3 and seen[False] >= 3  # both outcomes were exercised


def test_spectral_radius_needs_numbers():
    with pytest.raises(ValueError, match="numeric"):
        spectral_radius(sp.Matrix([[a]]))


# ---------------------------------------------------------------- clipped Gaussian means

m = sp.Symbol("m", real=True)
s, c = sp.symbols("s c", positive=True)
d = sp.Symbol("d", integer=True, positive=True)


@pytest.fixture(scope="module")
def value_mean():
    return value_clip_mean(m, s, c).expression


@pytest.fixture(scope="module")
def norm_mean():
    return norm_clip_mean(d, s, c).expression


@pytest.mark.parametrize("point", [(0.5, 1.5, 1.0), (-2.0, 1.0, 0.5), (0.0, 1.0, 3.0)])
def test_value_clip_mean_matches_scipy(value_mean, point):
    mean, scale, bound = point
    X = stats.norm(mean, scale)
    middle, _ = integrate.quad(lambda x: x * X.pdf(x), -bound, bound, epsabs=1e-13, epsrel=1e-12)
    expected = -bound * X.cdf(-bound) + middle + bound * X.sf(bound)
    got = float(value_mean.subs({m: mean, s: scale, c: bound}))
    assert math.isclose(got, expected, rel_tol=1e-8, abs_tol=1e-10)
    quad = value_clip_mean_quadrature(sp.nsimplify(mean), sp.nsimplify(scale), sp.nsimplify(bound), digits=15)
    assert math.isclose(float(quad), expected, rel_tol=1e-8, abs_tol=1e-10)


def test_value_clip_mean_limits(value_mean):
    assert math.isclose(float(value_mean.subs({m: 1, s: 1, c: 40})), 1.0, rel_tol=1e-15)  # clipping nothing: the mean
    assert value_mean.subs({m: 0, s: 1, c: 2}) == 0  # symmetric about 0: no bias


@pytest.mark.parametrize("dim", [1, 2, 3, 7])
def test_norm_clip_mean_matches_scipy_chi(norm_mean, dim):
    scale, bound = 1.5, 2.0
    chi = stats.chi(dim, scale=scale)
    inside, _ = integrate.quad(lambda r: r * chi.pdf(r), 0, bound, epsabs=1e-13, epsrel=1e-12)
    expected = inside + bound * chi.sf(bound)
    got = float(norm_mean.subs({d: dim, s: sp.Rational(3, 2), c: 2}))
    assert math.isclose(got, expected, rel_tol=1e-8)
    assert math.isclose(float(norm_clip_mean_quadrature(dim, sp.Rational(3, 2), 2, digits=15)), expected, rel_tol=1e-8)


def test_norm_clip_mean_tends_to_the_chi_mean(norm_mean):
    big = float(norm_mean.subs({d: 4, s: 1, c: 40}))
    assert math.isclose(big, stats.chi(4).mean(), rel_tol=1e-12)


def test_quadrature_rejects_bad_dimension_and_is_high_precision(value_mean):
    with pytest.raises(ValueError, match="positive integer"):
        norm_clip_mean_quadrature(0, 1, 1)
    point = {m: sp.Rational(1, 3), s: sp.Rational(5, 4), c: sp.Rational(3, 2)}
    with mpmath.workdps(40):
        exact = mpmath.mpf(str(sp.N(value_mean.subs(point), 40)))
        quad = value_clip_mean_quadrature(point[m], point[s], point[c], digits=30)
        assert abs(exact - quad) < mpmath.mpf(10) ** -25
