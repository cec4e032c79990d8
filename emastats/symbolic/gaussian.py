"""Means of clipped Gaussians: derived by integration in sympy, and by quadrature in mpmath.

Two clippings of a Gaussian gradient are covered:

* value clipping, ``clip(X, -c, c)`` with ``X ~ N(m, s^2)``: the mean splits into
  the two clipped tails (each contributes ``±c`` times its probability) and the
  middle, ``int_{-c}^{c} x f(x) dx``, which sympy integrates after the change of
  variables ``x = m + s z`` (the standardised form is fast and exact);
* norm clipping, ``min(||X||, c)`` with ``X ~ N(0, s^2 I_d)``: ``R = ||X||`` has the
  chi density ``f(r) = r^{d-1} e^{-r^2/(2 s^2)} / (2^{d/2-1} s^d Gamma(d/2))``; the
  substitution ``u = r^2/(2 s^2)`` turns both pieces of the mean into incomplete
  gamma integrals ``int_0^U u^{a-1} e^{-u} du = gamma(a, U)`` (sympy's lowergamma),
  for a *symbolic* dimension ``d``.

The ``*_quadrature`` functions integrate the same definitions numerically with
mpmath at a chosen working precision, as an independent check at concrete
(rational) parameters. Nothing here asserts a closed form; the proofs compare.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

_z = sp.Symbol("z", real=True)
_u = sp.Symbol("u", positive=True)


def std_normal_pdf(z: sp.Expr) -> sp.Expr:
    """``phi(z) = exp(-z^2/2) / sqrt(2 pi)``."""
    return sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)


def std_normal_cdf(z: sp.Expr) -> sp.Expr:
    """``Phi(z) = (1 + erf(z / sqrt 2)) / 2``: the definition of the standard normal CDF."""
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def regularized_lower_gamma(a: sp.Expr, x: sp.Expr) -> sp.Expr:
    """``P(a, x) = gamma(a, x) / Gamma(a)``, the regularised lower incomplete gamma function."""
    return sp.lowergamma(a, x) / sp.gamma(a)


@dataclass(frozen=True)
class ClippedMean:
    """A clipped mean obtained by integration: the expression and the steps that gave it."""

    expression: sp.Expr
    steps: tuple[str, ...]


def value_clip_mean(m: sp.Expr, s: sp.Expr, c: sp.Expr) -> ClippedMean:
    """``E[clip(X, -c, c)]`` for ``X ~ N(m, s^2)``, by integrating the standardised density.

    ``E = -c P(X < -c) + int_{-c}^{c} x f(x) dx + c P(X > c)``; with ``x = m + s z``
    the middle becomes ``int_a^b (m + s z) phi(z) dz`` with ``a = (-c-m)/s``,
    ``b = (c-m)/s``, integrated by sympy with symbolic limits and then evaluated there.
    Raises NotImplementedError if sympy leaves an integral unevaluated.
    """
    a_sym, b_sym = sp.symbols("a b", real=True)
    # by linearity: m int phi + s int z phi (sympy finds each in a fraction of the time of the sum)
    mass = sp.integrate(std_normal_pdf(_z), (_z, a_sym, b_sym))
    first_moment = sp.integrate(_z * std_normal_pdf(_z), (_z, a_sym, b_sym))
    if mass.has(sp.Integral) or first_moment.has(sp.Integral):
        raise NotImplementedError("sympy could not integrate phi(z) or z phi(z)")
    middle = m * mass + s * first_moment
    a, b = (-c - m) / s, (c - m) / s
    expression = -c * std_normal_cdf(a) + middle.subs({a_sym: a, b_sym: b}) + c * (1 - std_normal_cdf(b))
    steps = (
        r"E[\mathrm{clip}(X,-c,c)] = -c\,P(X<-c) + \int_{-c}^{c} x f(x)\,dx + c\,P(X>c)",
        r"x = m + s z:\ \int_a^b (m+sz)\varphi(z)\,dz = " + sp.latex(middle),
        r"a = \tfrac{-c-m}{s},\ b = \tfrac{c-m}{s},\ P(X<-c) = \Phi(a),\ P(X>c) = 1-\Phi(b)",
    )
    return ClippedMean(expression, steps)


def chi_density(r: sp.Expr, d: sp.Expr, s: sp.Expr) -> sp.Expr:
    """Density of ``||X||`` for ``X ~ N(0, s^2 I_d)`` (the chi distribution scaled by ``s``)."""
    return r ** (d - 1) * sp.exp(-(r**2) / (2 * s**2)) / (2 ** (d / 2 - 1) * s**d * sp.gamma(d / 2))


def _gamma_form(integrand_in_r: sp.Expr, r: sp.Symbol, s: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """Write ``integrand(r) dr`` under ``r = s sqrt(2u)`` as ``K u^(alpha-1) e^(-u) du``; return (K, alpha)."""
    in_u = integrand_in_r.subs(r, s * sp.sqrt(2 * _u)) * sp.diff(s * sp.sqrt(2 * _u), _u)
    # r, s > 0 and u > 0, so combining powers with force=True is valid here
    without_exp = sp.powsimp(sp.expand_power_base(in_u * sp.exp(_u), force=True), force=True)
    K, exponent = without_exp.as_coeff_exponent(_u)
    if K.has(_u):
        raise NotImplementedError(f"could not write {in_u} as K u^(a-1) e^(-u)")
    return sp.powsimp(sp.powdenest(K, force=True), force=True), sp.expand(exponent + 1)


def norm_clip_mean(d: sp.Expr, s: sp.Expr, c: sp.Expr) -> ClippedMean:
    """``E[min(||X||, c)]`` for ``X ~ N(0, s^2 I_d)``, by the substitution ``u = r^2 / (2 s^2)``.

    ``E = int_0^c r f(r) dr + c int_c^inf f(r) dr``; each integrand becomes
    ``K u^(alpha-1) e^(-u)``, whose integral over ``[0, U]`` is ``K gamma(alpha, U)``
    and over ``[U, inf)`` is ``K (Gamma(alpha) - gamma(alpha, U))``, ``U = c^2/(2 s^2)``.
    The density's own total mass, ``K_f Gamma(alpha_f)``, is returned in the steps
    and must be 1.
    """
    r = sp.Symbol("r", positive=True)
    U = c**2 / (2 * s**2)
    f = chi_density(r, d, s)
    k_mean, a_mean = _gamma_form(r * f, r, s)
    k_mass, a_mass = _gamma_form(f, r, s)
    total_mass = sp.simplify(k_mass * sp.gamma(a_mass))
    if total_mass != 1:
        raise NotImplementedError(f"the chi density's mass simplified to {total_mass}, not 1")
    inside = k_mean * sp.lowergamma(a_mean, U)
    tail = k_mass * (sp.gamma(a_mass) - sp.lowergamma(a_mass, U))
    expression = inside + c * tail
    steps = (
        r"E[\min(R,c)] = \int_0^c r f(r)\,dr + c\int_c^\infty f(r)\,dr,\quad f(r) = " + sp.latex(f),
        r"u = \tfrac{r^2}{2s^2}:\ r f(r)\,dr = " + sp.latex(k_mean * _u ** (a_mean - 1) * sp.exp(-_u)) + r"\,du,\ "
        r"f(r)\,dr = " + sp.latex(k_mass * _u ** (a_mass - 1) * sp.exp(-_u)) + r"\,du",
        r"\int_0^\infty f = " + sp.latex(total_mass) + r",\quad E[\min(R,c)] = " + sp.latex(expression),
    )
    return ClippedMean(expression, steps)


def _mp(value: object) -> mpmath.mpf:
    """An exact sympy/int/str value as an mpmath number at the current precision."""
    exact = sp.Rational(value)
    return mpmath.mpf(exact.p) / exact.q


def value_clip_mean_quadrature(m: object, s: object, c: object, digits: int = 30) -> mpmath.mpf:
    """``E[clip(X, -c, c)]`` for ``X ~ N(m, s^2)`` by mpmath quadrature of the definition.

    The density is integrated piecewise (tails and middle) so that the kinks of
    clip sit at interval ends, where Gauss-Legendre/tanh-sinh quadrature is accurate.
    """
    with mpmath.workdps(digits + 10):
        m_, s_, c_ = _mp(m), _mp(s), _mp(c)
        density = lambda x: mpmath.npdf(x, m_, s_)  # noqa: E731
        lower = mpmath.quad(density, [-mpmath.inf, -c_])
        middle = mpmath.quad(lambda x: x * density(x), [-c_, m_, c_] if -c_ < m_ < c_ else [-c_, c_])
        upper = mpmath.quad(density, [c_, mpmath.inf])
        return +(-c_ * lower + middle + c_ * upper)


def norm_clip_mean_quadrature(d: int, s: object, c: object, digits: int = 30) -> mpmath.mpf:
    """``E[min(||X||, c)]`` for ``X ~ N(0, s^2 I_d)`` by mpmath quadrature over the chi density."""
    if int(d) != d or d < 1:
        raise ValueError(f"dimension must be a positive integer, got {d}")
    with mpmath.workdps(digits + 10):
        s_, c_ = _mp(s), _mp(c)
        norm = 2 ** (mpmath.mpf(d) / 2 - 1) * s_**d * mpmath.gamma(mpmath.mpf(d) / 2)
        density = lambda r: r ** (d - 1) * mpmath.exp(-(r**2) / (2 * s_**2)) / norm  # noqa: E731
        inside = mpmath.quad(lambda r: r * density(r), [0, c_])
        tail = mpmath.quad(density, [c_, mpmath.inf])
        return +(inside + c_ * tail)
