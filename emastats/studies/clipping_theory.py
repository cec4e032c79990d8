"""Closed forms for clipped gradients: Gaussian value and norm clipping, and clipped shifted-Gamma noise.

* ``value_clip_mean(m, s, c)``: E[clip(X, -c, c)] for X ~ N(m, s^2),
  m[Phi(b)-Phi(a)] + s[phi(a)-phi(b)] + c[1-Phi(b)] - c Phi(a), a = (-c-m)/s, b = (c-m)/s.
* ``norm_clip_mean_norm(s, d, c)``: E[min(|X|, c)] for X ~ N(0, s^2 I_d),
  s sqrt2 Gamma((d+1)/2)/Gamma(d/2) P((d+1)/2, c^2/2s^2) + c (1 - P(d/2, c^2/2s^2)).
* ``gamma_clip_mean(a, sigma, k, c)``: E[clip(a + sigma (G - 1), -c, c)] for G ~ Gamma(k, rate k)
  (mean 1, variance 1/k): the mean of B averaged centred-exponential gradients (k = B), a skewed noise
  for which clipping moves SGD's stationary point.
* ``clipped_fixed_point``: the offset delta solving E[clip(lambda delta + noise)] = 0, the small-eta
  stationary point of clipped SGD on L = lambda/2 (w - w*)^2.
"""
from __future__ import annotations

import math

from scipy import optimize, special, stats


def value_clip_mean(m: float, s: float, c: float) -> float:
    """E[clip(X, -c, c)] for X ~ N(m, s^2), c > 0, s > 0."""
    if c <= 0 or s <= 0:
        raise ValueError(f"need c > 0 and s > 0, got c={c}, s={s}")
    a, b = (-c - m) / s, (c - m) / s
    Phi, phi = stats.norm.cdf, stats.norm.pdf
    return m * (Phi(b) - Phi(a)) + s * (phi(a) - phi(b)) + c * (1 - Phi(b)) - c * Phi(a)


def norm_clip_mean_norm(s: float, d: int, c: float) -> float:
    """E[min(|X|, c)] for X ~ N(0, s^2 I_d)."""
    if c <= 0 or s <= 0 or d < 1:
        raise ValueError(f"need c > 0, s > 0, d >= 1, got c={c}, s={s}, d={d}")
    z = c * c / (2 * s * s)
    scale = s * math.sqrt(2) * math.exp(math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    return scale * special.gammainc((d + 1) / 2, z) + c * (1 - special.gammainc(d / 2, z))


def gamma_clip_mean(a: float, sigma: float, k: float, c: float) -> float:
    """E[clip(a + sigma (G - 1), -c, c)] for G ~ Gamma(shape k, rate k), sigma > 0, c > 0.

    With Y = a + sigma (G - 1), l = 1 + (-c - a)/sigma and u = 1 + (c - a)/sigma the G-thresholds:
    E = -c P(G < l) + c P(G > u) + (a - sigma) P(l < G < u) + sigma E[G; l < G < u],
    and E[G; l < G < u] = F_{k+1}(u) - F_{k+1}(l) (Gamma(k+1, rate k) CDFs, since E[G] = 1).
    """
    if c <= 0 or sigma <= 0 or k <= 0:
        raise ValueError(f"need c > 0, sigma > 0, k > 0, got c={c}, sigma={sigma}, k={k}")
    lo, hi = 1 + (-c - a) / sigma, 1 + (c - a) / sigma
    g = stats.gamma(k, scale=1 / k)
    g1 = stats.gamma(k + 1, scale=1 / k)
    p_lo, p_hi = g.cdf(max(lo, 0.0)), g.cdf(max(hi, 0.0))
    inside = p_hi - p_lo
    partial = g1.cdf(max(hi, 0.0)) - g1.cdf(max(lo, 0.0))
    return -c * p_lo + c * (1 - p_hi) + (a - sigma) * inside + sigma * partial


def clipped_fixed_point(mean_clipped, curvature: float, c: float) -> float:
    """delta with mean_clipped(curvature * delta) = 0 (the small-eta stationary offset of clipped SGD).

    ``mean_clipped(a)`` is E[clip(a + noise)], increasing in a from -c to c, so the root is bracketed
    by a in [-c, c] up to the noise; we widen the bracket until the sign changes.
    """
    width = c
    while mean_clipped(-width) > 0 or mean_clipped(width) < 0:
        width *= 2
        if width > 1e6 * c:
            raise ValueError("clipped mean does not change sign: no stationary point")
    return optimize.brentq(mean_clipped, -width, width, xtol=1e-14) / curvature
