"""Estimators the studies need beyond a sample mean: ratios of means, log-means, the two-batch noise scale.

Each returns an ``Estimate`` (value and delta-method standard error), which the
studies hand to ``Context.check_estimate`` so that the engine's verdict rules
apply to them like to any other estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import torch
from torch import Tensor


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (delta-method) standard error and the number of samples behind it."""

    value: float
    stderr: float
    samples: int


def mean_estimate(x: Tensor) -> Estimate:
    """Sample mean with s/sqrt(n)."""
    x = x.detach().to(torch.float64).reshape(-1)
    n = x.numel()
    return Estimate(float(x.mean()), float(x.std(unbiased=True)) / math.sqrt(n), n)


def log_mean(x: Tensor) -> Estimate:
    """log of the sample mean, standard error se(mean)/mean (delta method), for log-log slopes."""
    m = mean_estimate(x)
    return Estimate(math.log(m.value), m.stderr / m.value, m.samples)


def ratio_of_means(num: Tensor, den: Tensor) -> Estimate:
    """mean(num)/mean(den) with the delta-method standard error from paired samples.

    se^2 = (Var num + r^2 Var den - 2 r Cov(num, den)) / (n mean(den)^2), r = the ratio.
    Consistent but biased at finite n; the bias is O(1/n).
    """
    a = num.detach().to(torch.float64).reshape(-1)
    b = den.detach().to(torch.float64).reshape(-1)
    n = a.numel()
    ma, mb = float(a.mean()), float(b.mean())
    r = ma / mb
    va, vb = float(a.var()), float(b.var())
    cov = float(((a - ma) * (b - mb)).sum()) / (n - 1)
    var = (va + r * r * vb - 2 * r * cov) / (n * mb * mb)
    return Estimate(r, math.sqrt(max(var, 0.0)), n)


@dataclass(frozen=True)
class NoiseScaleParts:
    """Unbiased estimates of |G|^2 and tr Sigma from minibatch-gradient norms at two batch sizes.

    With replacement E|G_B|^2 = |G|^2 + tr Sigma / B, so for b_small < b_big::

        |G|^2  ~ (b_big |G_big|^2 - b_small |G_small|^2) / (b_big - b_small)
        tr S   ~ (|G_small|^2 - |G_big|^2) / (1/b_small - 1/b_big)

    (McCandlish et al. 2018, "An empirical model of large-batch training", App. A).
    Both are unbiased; their ratio, the estimated B_simple, is not.
    """

    gradient_sq: Tensor
    trace: Tensor


def two_batch_parts(small_sq: Tensor, big_sq: Tensor, b_small: int, b_big: int) -> NoiseScaleParts:
    """The two unbiased parts from paired squared norms |G_small|^2, |G_big|^2 (any shape, elementwise)."""
    if not 0 < b_small < b_big:
        raise ValueError(f"need 0 < b_small < b_big, got {b_small}, {b_big}")
    gradient_sq = (b_big * big_sq - b_small * small_sq) / (b_big - b_small)
    trace = (small_sq - big_sq) / (1.0 / b_small - 1.0 / b_big)
    return NoiseScaleParts(gradient_sq, trace)


class SeedInterval(NamedTuple):
    """Mean over seeds (axis 0), its standard error s/sqrt(n), and the pointwise 95 % t interval around it."""

    mean: np.ndarray
    stderr: np.ndarray
    low: np.ndarray
    high: np.ndarray


def seed_interval(rows: np.ndarray) -> SeedInterval:
    """Across independent seeds (rows along axis 0): mean +- t_{0.975, n-1} s/sqrt(n), pointwise (not simultaneous)."""
    from scipy import stats

    n = rows.shape[0]
    mean = rows.mean(0)
    se = rows.std(0, ddof=1) / math.sqrt(n)
    half = stats.t.ppf(0.975, n - 1) * se
    return SeedInterval(mean, se, mean - half, mean + half)
