"""The steps-examples trade-off of McCandlish, Kaplan, Amodei et al. (2018), fitted to measured steps.

Their model: to reach a given loss, the number of optimisation steps S and of
training examples E = B S used with batch size B (at the best learning rate for
each B) satisfy

    (S / S_min - 1) (E / E_min - 1) = 1,

equivalently ``S(B) = S_min (1 + B_crit / B)`` and ``E(B) = E_min (1 + B / B_crit)``
with the critical batch size ``B_crit = E_min / S_min``. ``S(B)`` is linear in
1/B with intercept S_min and slope E_min; ``fit_tradeoff`` fits that line by
least squares on relative residuals (S varies over orders of magnitude).
``bootstrap_tradeoff`` resamples the seeds of a (batch, learning rate, seed)
grid of measured steps, re-picks the best learning rate per batch size inside
each resample, and refits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tradeoff:
    """A fitted S-E frontier: S_min, E_min and B_crit = E_min / S_min (NaN when the fit is not valid)."""

    s_min: float
    e_min: float

    @property
    def b_crit(self) -> float:
        return self.e_min / self.s_min if self.valid else math.nan

    @property
    def valid(self) -> bool:
        """Both parameters positive: the fitted curve is a frontier of the model's form."""
        return self.s_min > 0 and self.e_min > 0

    def steps(self, batch: float | np.ndarray) -> float | np.ndarray:
        """S(B) = S_min (1 + B_crit / B) = S_min + E_min / B."""
        return self.s_min + self.e_min / np.asarray(batch, dtype=np.float64)

    def steps_at_examples(self, examples: float | np.ndarray) -> float | np.ndarray:
        """S as a function of E on the frontier: S_min / (1 - E_min / E), for E > E_min."""
        e = np.asarray(examples, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(e > self.e_min, self.s_min / (1.0 - self.e_min / e), np.inf)


def fit_tradeoff(batches: np.ndarray, steps: np.ndarray) -> Tradeoff:
    """Least squares of S = S_min + E_min / B on relative residuals (S_i - fit_i) / S_i; non-finite S dropped."""
    b = np.asarray(batches, dtype=np.float64)
    s = np.asarray(steps, dtype=np.float64)
    keep = np.isfinite(s) & (s > 0)
    if keep.sum() < 2:
        return Tradeoff(math.nan, math.nan)
    b, s = b[keep], s[keep]
    design = np.column_stack([np.ones_like(b), 1.0 / b]) / s[:, None]
    (s_min, e_min), *_ = np.linalg.lstsq(design, np.ones_like(s), rcond=None)
    return Tradeoff(float(s_min), float(e_min))


def best_steps(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From a (batch, lr, seed) array of steps-to-target (inf when not reached): per batch the least
    seed-mean over learning rates, and the index of that learning rate."""
    mean = np.asarray(steps, dtype=np.float64).mean(axis=2)  # inf if any seed failed at that lr
    best = np.argmin(mean, axis=1)
    return mean[np.arange(mean.shape[0]), best], best


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates over seeds of B_crit, S_min, E_min and of chosen per-batch statistics."""

    b_crit: np.ndarray
    s_min: np.ndarray
    e_min: np.ndarray
    steps: np.ndarray  # (resamples, batches): best seed-mean steps per batch size
    invalid: int  # resamples whose fit was not a valid frontier (excluded from b_crit)


def bootstrap_tradeoff(batches: np.ndarray, steps: np.ndarray, resamples: int, rng: np.random.Generator,
                       fit_mask: np.ndarray | None = None) -> Bootstrap:
    """Resample seeds with replacement, re-pick the best learning rate per batch, refit on ``fit_mask``."""
    steps = np.asarray(steps, dtype=np.float64)
    seeds = steps.shape[2]
    mask = np.ones(len(batches), dtype=bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    bc, sm, em, per = [], [], [], []
    invalid = 0
    for _ in range(resamples):
        pick = rng.integers(0, seeds, seeds)
        s, _ = best_steps(steps[:, :, pick])
        fit = fit_tradeoff(np.asarray(batches)[mask], s[mask])
        per.append(s)
        sm.append(fit.s_min)
        em.append(fit.e_min)
        if fit.valid:
            bc.append(fit.b_crit)
        else:
            invalid += 1
    return Bootstrap(np.array(bc), np.array(sm), np.array(em), np.array(per), invalid)
