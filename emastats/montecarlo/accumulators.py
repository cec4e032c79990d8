"""Streaming, mergeable float64 moment accumulators for Monte Carlo replicas.

A ``Moments`` accumulator holds, for d components and about a fixed shift c
(taken from the first chunk's mean so that float64 sums do not cancel), the
shifted power sums of y = x - c over the replicas seen so far:

    n,  S1_i = sum y_i,  S11_ij = sum y_i y_j,  S21_ij = sum y_i^2 y_j,  S22_ij = sum y_i^2 y_j^2.

These are enough for means, the (co)variance matrix, and the fourth-order
moments mu22_ij = E[(x_i - m_i)^2 (x_j - m_j)^2] that give standard errors of
variances and covariances without assuming Gaussian data:

    Var[s_ij] ~= (mu22_ij - sigma_ij^2) / n        (asymptotic, any distribution with 4 moments)
    Var[s_ii^2] = (mu4_i - sigma_i^4 (n-3)/(n-1)) / n   (exact for the unbiased variance, iid data)

Memory is O(d^2) whatever the replica count; samples arrive in chunks of any
size (in float32 or float64) and are summed in float64. Two accumulators merge
exactly (the second is re-expressed about the first's shift, a closed change of
variables on the kept sums), so chunks or devices can be reduced in any order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .sampling import check_replicas

Sampler = Callable[[int], torch.Tensor]


def _as_2d(samples: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(samples)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (replicas,) or (replicas, d), got {tuple(x.shape)}")
    return x.to(torch.float64)


@dataclass
class Moments:
    """Shifted power sums of d-component samples (see the module docstring); all float64 on the CPU."""

    n: int
    shift: np.ndarray  # (d,)
    s1: np.ndarray  # (d,)
    s11: np.ndarray  # (d, d)
    s21: np.ndarray  # (d, d): sum y_i^2 y_j
    s22: np.ndarray  # (d, d): sum y_i^2 y_j^2

    # ----- building -------------------------------------------------------------------------
    @classmethod
    def empty(cls, d: int = 1, shift: np.ndarray | None = None) -> "Moments":
        z = np.zeros((d, d))
        c = np.zeros(d) if shift is None else np.asarray(shift, dtype=np.float64).reshape(d)
        return cls(0, c, np.zeros(d), z.copy(), z.copy(), z.copy())

    @classmethod
    def from_samples(cls, samples: torch.Tensor | np.ndarray) -> "Moments":
        """Moments of one chunk of samples, shape (replicas,) or (replicas, d)."""
        x = _as_2d(samples)
        acc = cls.empty(x.shape[1])
        acc.update(x)
        return acc

    @classmethod
    def stream(cls, sampler: Sampler, replicas: int, chunk: int) -> "Moments":
        """Moments of ``replicas`` samples drawn ``chunk`` at a time by ``sampler(n) -> (n,) | (n, d)``.

        Memory stays bounded by one chunk whatever ``replicas`` is.
        """
        check_replicas(replicas)
        acc: Moments | None = None
        done = 0
        while done < replicas:
            n = min(chunk, replicas - done)
            part = sampler(n)
            if part.shape[0] != n:
                raise ValueError(f"sampler returned {part.shape[0]} samples, asked for {n}")
            if acc is None:
                acc = cls.from_samples(part)
            else:
                acc.update(part)
            done += n
        assert acc is not None
        return acc

    @property
    def d(self) -> int:
        return self.shift.shape[0]

    def update(self, samples: torch.Tensor | np.ndarray) -> "Moments":
        """Add one chunk of samples (in place); the first chunk fixes the shift at its mean."""
        x = _as_2d(samples)
        if x.shape[1] != self.d:
            raise ValueError(f"expected {self.d} components, got {x.shape[1]}")
        if self.n == 0:
            self.shift = x.mean(dim=0).cpu().numpy()
        return self.add(x)

    def add(self, samples: torch.Tensor | np.ndarray) -> "Moments":
        """Add one chunk of samples (in place) about the shift already set (``empty(d, shift)`` fixes it)."""
        x = _as_2d(samples)
        if x.shape[1] != self.d:
            raise ValueError(f"expected {self.d} components, got {x.shape[1]}")
        y = x - torch.as_tensor(self.shift, dtype=torch.float64, device=x.device)
        y2 = y * y
        self.n += x.shape[0]
        self.s1 += y.sum(dim=0).cpu().numpy()
        self.s11 += (y.T @ y).cpu().numpy()
        self.s21 += (y2.T @ y).cpu().numpy()
        self.s22 += (y2.T @ y2).cpu().numpy()
        return self

    def reshifted(self, shift: np.ndarray) -> "Moments":
        """The same sums expressed about another shift (exact change of variables y' = y + delta)."""
        dl = self.shift - np.asarray(shift, dtype=np.float64)
        n, s1, s11, s21, s22 = self.n, self.s1, self.s11, self.s21, self.s22
        a, b = dl[:, None], dl[None, :]  # delta_i down the rows, delta_j across the columns
        sq_i = np.diag(s11)[:, None]  # sum y_i^2
        sq_j = np.diag(s11)[None, :]  # sum y_j^2
        t1_i, t1_j = s1[:, None], s1[None, :]
        new_s1 = s1 + n * dl
        new_s11 = s11 + a * t1_j + b * t1_i + n * a * b
        new_s21 = s21 + b * sq_i + 2 * a * s11 + 2 * a * b * t1_i + a * a * t1_j + n * a * a * b
        new_s22 = (s22 + 2 * b * s21 + b * b * sq_i + 2 * a * s21.T + 4 * a * b * s11
                   + 2 * a * b * b * t1_i + a * a * sq_j + 2 * a * a * b * t1_j + n * a * a * b * b)
        return Moments(n, np.array(shift, dtype=np.float64), new_s1, new_s11, new_s21, new_s22)

    def merge(self, other: "Moments") -> "Moments":
        """A new accumulator holding the samples of both (exact, order does not matter)."""
        if other.d != self.d:
            raise ValueError(f"cannot merge {self.d} and {other.d} components")
        if self.n == 0:
            return other.reshifted(other.shift)
        o = other.reshifted(self.shift)
        return Moments(self.n + o.n, self.shift.copy(), self.s1 + o.s1, self.s11 + o.s11,
                       self.s21 + o.s21, self.s22 + o.s22)

    # ----- statistics -----------------------------------------------------------------------
    def _m(self) -> np.ndarray:
        return self.s1 / self.n

    def mean(self) -> np.ndarray:
        """Sample mean of each component, shape (d,)."""
        return self.shift + self._m()

    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance matrix (denominator n - 1), shape (d, d)."""
        m = self._m()
        pop = self.s11 / self.n - np.outer(m, m)
        return pop * self.n / (self.n - 1)

    def variance(self) -> np.ndarray:
        """Unbiased sample variance of each component, shape (d,)."""
        return np.diag(self.covariance()).copy()

    def fourth_central(self) -> np.ndarray:
        """mu22_ij = E[(x_i - m_i)^2 (x_j - m_j)^2] with the sample mean plugged in; mu4_i on the diagonal."""
        n = self.n
        m = self._m()
        a, b = m[:, None], m[None, :]
        e_a2b2 = self.s22 / n
        e_a2b = self.s21 / n  # E[y_i^2 y_j]
        e_ab2 = self.s21.T / n  # E[y_i y_j^2]
        e_ab = self.s11 / n
        e_a2 = np.diag(self.s11)[:, None] / n
        e_b2 = np.diag(self.s11)[None, :] / n
        # E[(a - m_a)^2 (b - m_b)^2] expanded in raw moments of a = y_i, b = y_j
        return (e_a2b2 - 2 * b * e_a2b - 2 * a * e_ab2 + b * b * e_a2 + a * a * e_b2
                + 4 * a * b * e_ab - 3 * a * a * b * b)

    def stderr_mean(self) -> np.ndarray:
        """Standard error of each component's mean: s / sqrt(n)."""
        return np.sqrt(np.maximum(self.variance(), 0.0) / self.n)

    def stderr_variance(self) -> np.ndarray:
        """Standard error of each unbiased variance from the fourth moment (no Gaussian assumption)."""
        n = self.n
        s2 = self.variance()
        mu4 = np.diag(self.fourth_central())
        return np.sqrt(np.maximum(mu4 - s2 * s2 * (n - 3) / (n - 1), 0.0) / n)

    def stderr_covariance(self) -> np.ndarray:
        """Asymptotic standard error of each sample covariance: sqrt((mu22_ij - sigma_ij^2) / n)."""
        c = self.covariance()
        return np.sqrt(np.maximum(self.fourth_central() - c * c, 0.0) / self.n)

    def component(self, i: int) -> "Moments":
        """The accumulator of component ``i`` alone (d = 1)."""
        k = [i]
        return Moments(self.n, self.shift[k].copy(), self.s1[k].copy(), self.s11[np.ix_(k, k)].copy(),
                       self.s21[np.ix_(k, k)].copy(), self.s22[np.ix_(k, k)].copy())


def relative_stderr(stderr: float, value: float) -> float:
    """stderr / |value|, or inf when value is zero."""
    return stderr / abs(value) if value else math.inf
