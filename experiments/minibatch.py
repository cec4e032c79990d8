"""Monte Carlo experiments for the minibatch-gradient claims (emastats/catalogue/minibatch.py).

They run on synthetic linear regressions with N = 12, 24 or 48 examples and
d = 3 weights (intercept included, ``montecarlo.datasets``, seed 0), at w = 0,
whose per-example gradients are computed exactly with torch.func, so g_fb and
Sigma^1 (the population covariance, denominator N) are known exactly. The
unbiasedness, frozen-window and without-replacement experiments sweep N and B
(and eta); the law they test is the catalogue's formula, evaluated at each
point. A small N makes the finite-population effects of sampling without
replacement large enough to measure. Each replica draws its own minibatch
indices; a minibatch gradient is the mean of the drawn rows.

Mean checks use a margin relative to |g_fb| (the Euclidean norm), because a
single component of g_fb may be close to zero; covariance checks use a margin
relative to the entry's own theory value (diagonal) or to sqrt(S_ii S_jj)
(off-diagonal).

Run on its own: ``python experiments/minibatch.py``.
"""
from __future__ import annotations

import math

import torch
from torch.func import grad, vmap

from emastats.experiments._sweep import (grid_series, label, record_grid, rel_se_covariance, rel_se_mean,
                                         rel_se_variance, sized)
from emastats.montecarlo import Context, Moments, experiment, kernels, minibatch_indices
from emastats.montecarlo.datasets import Dataset, GradientMoments, example_loss, gradient_moments
from emastats.montecarlo.datasets import synthetic_linear_regression

N_EXAMPLES, DIM, DATA_SEED = 24, 3, 0


def _dataset_of(ctx: Context, size: int) -> tuple[Dataset, GradientMoments]:
    """The synthetic linear regression with ``size`` examples and its exact gradient moments at w = 0."""
    data = synthetic_linear_regression(size, DIM, noise=1.0, seed=DATA_SEED).to(ctx.device)
    return data, gradient_moments(data, torch.zeros(DIM, dtype=torch.float64, device=ctx.device))


def _record_datasets(ctx: Context) -> None:
    """The parameters of an experiment that sweeps the data set size N (``_dataset_of`` at each point)."""
    ctx.param("data sets", f"synthetic linear regression, d = {DIM}, noise 1, seed {DATA_SEED}, N = 12, 24, 48")
    ctx.param("w", "0")


def _dataset(ctx: Context) -> tuple[Dataset, GradientMoments]:
    """The N = 24 data set of the experiments at one N, recorded among the run's parameters."""
    data, moments = _dataset_of(ctx, N_EXAMPLES)
    ctx.param("dataset", data.description)
    ctx.param("w", "0")
    ctx.param("|g_fb|", float(moments.full_batch.norm()))
    return data, moments


def _minibatch_gradients(ctx: Context, grads: torch.Tensor, batch: int, replacement: bool, data: Dataset | None = None):
    """A sampler n -> (n, d) of minibatch-mean gradients (rows of ``grads`` (N, d)), one minibatch per replica.

    With replacement, and ``data`` the linear model whose gradients at w = 0 ``grads`` are, the fused engine
    computes the same quantity as minus one SGD step from w = 0 with learning rate 1 (``kernels``)."""

    def sample(n: int) -> torch.Tensor:
        idx = minibatch_indices(grads.shape[0], batch, n, ctx.generator, replacement=replacement)
        return grads[idx].mean(dim=1)

    if not replacement or data is None:
        return sample
    return kernels.linear_sgd_sampler(ctx, data, learning_rate=1.0, batch=batch, steps=1, fallback=sample, scale=-1.0)


def _check_mean_law(ctx: Context, acc: Moments, quantity: str, g_fb: list[float], point: dict) -> None:
    """E[``quantity``][i] = the catalogue's law at (g_fb[i], ``point``) for every coordinate i, margins relative
    to |g_fb| (one coordinate of g_fb may be near 0). The law is free of N, B and eta when right; a wrong
    one that depends on them is evaluated at the simulated sizes."""
    scale = math.hypot(*g_fb)
    for i, g in enumerate(g_fb):
        at = {**point, "g_fb": g, "coordinate": i}
        ctx.check_mean(f"E[{quantity}][{i}] = catalogue formula at {label(point)}", acc, ctx.formula(**at),
                       ctx.margin, index=i, scale=scale, point=at, note="margin relative to |g_fb|")


def _mean_control(ctx: Context, acc: Moments, quantity: str, g_fb: list[float], point: dict, shift: float) -> None:
    """A bias of ``shift`` margins of |g_fb| on the largest coordinate, which the run must detect."""
    big = max(range(len(g_fb)), key=lambda i: abs(g_fb[i]))
    at = {**point, "g_fb": g_fb[big], "coordinate": big}
    ctx.check_mean(f"control: E[{quantity}][{big}] = formula {'+' if shift > 0 else '-'} 1.5 margins of |g_fb| "
                   f"at {label(point)}", acc, ctx.formula(**at), ctx.margin, index=big, scale=math.hypot(*g_fb),
                   point=at, shift=shift)


# (N, B): three data set sizes and three batch sizes (B > N with replacement). A factor the law must not have
# -- (N - B)/(N - 1), (N - 1)/N (off by 2-8 %), B/N, or a form right only at one N or one B -- is off at every
# point, or at two of the three. (B = 3 at N = 12 would need more than the cap to resolve half the margin.)
UNBIASED_GRID = {True: ({"N": 12, "B": 6}, {"N": 24, "B": 16}, {"N": 48, "B": 64}),
                 False: ({"N": 12, "B": 4}, {"N": 24, "B": 8}, {"N": 48, "B": 20})}


def _unbiased(ctx: Context, replacement: bool) -> None:
    _record_datasets(ctx)
    ctx.param("sampling", "with replacement (iid indices)" if replacement else "without replacement (random subset)")
    grid = UNBIASED_GRID[replacement]
    record_grid(ctx, grid)
    for k, point in enumerate(grid):
        data, exact = _dataset_of(ctx, point["N"])
        g_fb = exact.full_batch.cpu().tolist()
        acc = sized(ctx, _minibatch_gradients(ctx, exact.per_example, point["B"], replacement, data),
                    rel_se_mean(math.hypot(*g_fb), range(len(g_fb))), family=len(grid) * DIM + 1)
        _check_mean_law(ctx, acc, "g_mb", g_fb, point)
        if k == 1:
            _mean_control(ctx, acc, "g_mb", g_fb, point, 1.5)
    grid_series(ctx, "E[g_mb] coordinates over the grid", "E[g_mb]_i")


@experiment("minibatch.unbiased.with_replacement")
def unbiased_with_replacement(ctx: Context) -> None:
    _unbiased(ctx, replacement=True)


@experiment("minibatch.unbiased.without_replacement")
def unbiased_without_replacement(ctx: Context) -> None:
    _unbiased(ctx, replacement=False)


PAIRS = ((0, 0), (1, 1), (0, 1))  # two diagonal entries and one off-diagonal entry of the covariance


def _covariance_checks(ctx: Context, acc, sigma: torch.Tensor, point: dict, law, label_: str, *,
                       theory_of: str = "stated", control_shift: float | None = None) -> None:
    """Cov[g_mb]_ij = law(Sigma^1_ij, N, B) for the PAIRS, margins relative to sqrt(S_ii S_jj) of the theory.

    ``law`` is the catalogue's formula (``ctx.formula`` or ``ctx.corrected_formula``), evaluated here at
    each entry of the exact population covariance: never retyped.
    """
    s = sigma.cpu()
    for i, j in PAIRS:
        at = lambda entry: law(**{"Sigma^1": float(entry), "N": point["N"], "B": point["B"]})
        scale = math.sqrt(at(s[i, i]) * at(s[j, j]))
        ctx.check_covariance(f"{label_} [{i},{j}] at {label(point)}", acc, at(s[i, j]), ctx.margin, i, j,
                             scale=scale, theory_of=theory_of, point=point)
        if control_shift is not None and (i, j) == (0, 0):
            ctx.check_covariance(f"control: formula x (1 {'+' if control_shift > 0 else '-'} 1.5 margins) [0,0] "
                                 f"at {label(point)}", acc, at(s[0, 0]), ctx.margin, 0, 0, point=point,
                                 shift=control_shift)


# B in {2, 4, 16} on the N = 24 data set: Sigma/B against Sigma/(B-1), Sigma/sqrt(B), ... differ at every B
# (B = 1 is left out: there the law is the definition of Sigma^1)
WITH_REPLACEMENT_GRID = ({"N": N_EXAMPLES, "B": 2}, {"N": N_EXAMPLES, "B": 4}, {"N": N_EXAMPLES, "B": 16})


@experiment("minibatch.covariance.with_replacement")
def covariance_with_replacement(ctx: Context) -> None:
    data, exact = _dataset(ctx)
    record_grid(ctx, WITH_REPLACEMENT_GRID)
    for k, point in enumerate(WITH_REPLACEMENT_GRID):
        acc = sized(ctx, _minibatch_gradients(ctx, exact.per_example, point["B"], True, data),
                    rel_se_covariance(PAIRS), family=10)
        _covariance_checks(ctx, acc, exact.covariance, point, ctx.formula, "Cov[g_mb] = catalogue formula",
                           control_shift=1.5 if k == 1 else None)
    grid_series(ctx, "Cov[g_mb] entries over the grid", "Cov[g_mb]_ij")


# (N, B) in {(12, 3), (24, 8), (48, 20)}: three N and three B. Sigma/(N-1) coincides with the truth only
# where B = N/2 (not on the grid); the dropped factor (N-B)/(N-1) is off by 18-42 %; (N-B)/N by 2-8 %.
WITHOUT_REPLACEMENT_GRID = ({"N": 12, "B": 3}, {"N": 24, "B": 8}, {"N": 48, "B": 20})


@experiment("minibatch.covariance.without_replacement")
def covariance_without_replacement(ctx: Context) -> None:
    _record_datasets(ctx)
    record_grid(ctx, WITHOUT_REPLACEMENT_GRID)
    for k, point in enumerate(WITHOUT_REPLACEMENT_GRID):
        _, exact = _dataset_of(ctx, point["N"])
        acc = sized(ctx, _minibatch_gradients(ctx, exact.per_example, point["B"], False),
                    rel_se_covariance(PAIRS), family=19)
        _covariance_checks(ctx, acc, exact.covariance, point, ctx.formula, "stated: Cov[g_mb] = catalogue formula")
        _covariance_checks(ctx, acc, exact.covariance, point, ctx.corrected_formula,
                           "corrected: Cov[g_mb] = catalogue corrected formula", theory_of="corrected",
                           control_shift=-1.5 if k == 1 else None)
    grid_series(ctx, "Cov[g_mb] entries over the grid (corrected law)", "Cov[g_mb]_ij", "corrected")


def _total_change(ctx: Context, grads: torch.Tensor, eta: float, steps: int, batch: int):
    """A sampler n -> (n, d) of Delta w = eta sum_{t=1}^T g_{mb;t} (independent with-replacement minibatches)."""

    def sample(n: int) -> torch.Tensor:
        idx = torch.randint(0, grads.shape[0], (n, steps, batch), generator=ctx.generator, device=ctx.device)
        return eta * grads[idx].mean(dim=2).sum(dim=1)

    return sample


# (N, B, eta): three data set sizes, three batch sizes and three windows T = 1/eta (2, 5, 20 steps). A window of
# T - 1 steps, (1 - eta) g_fb, is off by 50, 20 and 5 %; a factor in N or B, or a form right at one point, is off
# elsewhere.
FROZEN_MEAN_GRID = ({"N": 12, "B": 16, "eta": 0.5}, {"N": 24, "B": 4, "eta": 0.2}, {"N": 48, "B": 1, "eta": 0.05})


@experiment("minibatch.frozen_gradient.mean")
def frozen_gradient_mean(ctx: Context) -> None:
    _record_datasets(ctx)
    ctx.param("minibatches", "independent, indices iid uniform (with replacement); T = 1/eta steps")
    record_grid(ctx, FROZEN_MEAN_GRID)
    for k, point in enumerate(FROZEN_MEAN_GRID):
        _, exact = _dataset_of(ctx, point["N"])
        g_fb = exact.full_batch.cpu().tolist()
        sampler = _total_change(ctx, exact.per_example, point["eta"], round(1 / point["eta"]), point["B"])
        acc = sized(ctx, sampler, rel_se_mean(math.hypot(*g_fb), range(len(g_fb))),
                    family=len(FROZEN_MEAN_GRID) * DIM + 1)
        _check_mean_law(ctx, acc, "Delta w", g_fb, point)
        if k == 1:
            _mean_control(ctx, acc, "Delta w", g_fb, point, -1.5)
    grid_series(ctx, "E[Delta w] coordinates over the grid", "E[Delta w]_i")


# (eta, B) in {(1/2, 16), (1/5, 4), (1/20, 1)}: three window lengths T = 1/eta and three batch sizes
FROZEN_GRID = ({"eta": 0.5, "B": 16}, {"eta": 0.2, "B": 4}, {"eta": 0.05, "B": 1})


@experiment("minibatch.frozen_gradient.variance")
def frozen_gradient_variance(ctx: Context) -> None:
    _, exact = _dataset(ctx)
    ctx.param("Var[g_mb]", "Sigma^1_ii / B, exact for indices drawn with replacement")
    record_grid(ctx, FROZEN_GRID)
    for k, grid_point in enumerate(FROZEN_GRID):
        eta, batch = grid_point["eta"], grid_point["B"]
        steps = round(1 / eta)
        acc = sized(ctx, _total_change(ctx, exact.per_example, eta, steps, batch), rel_se_variance((0, 1)))
        for i in (0, 1):
            point = {"eta": eta, "sigma_mb^2": float(exact.covariance[i, i]) / batch, "B": batch, "T": steps}
            theory = ctx.formula(eta=eta, **{"sigma_mb^2": point["sigma_mb^2"]})
            ctx.check_variance(f"Var[Delta w][{i}] = catalogue formula at {label(grid_point)}", acc, theory,
                               ctx.margin, index=i, point=point)
            if k == 1 and i == 0:
                ctx.check_variance(f"control: formula x (1 + 1.5 margins) [0] at {label(grid_point)}", acc, theory,
                                   ctx.margin, index=0, point=point, shift=1.5)
    grid_series(ctx, "Var[Delta w] over the grid", "Var[Delta w]_i")


def _batch_loss(model, w: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """The minibatch objective: the mean of the per-example losses of one batch."""
    return vmap(lambda x, y: example_loss(model, w, x, y))(xs, ys).mean()


@experiment("minibatch.accumulation")
def accumulation(ctx: Context) -> None:
    """Autograd of the mean loss: K accumulated minibatch gradients vs one batch of their union."""
    data, exact = _dataset(ctx)
    k, batch, n = ctx.param("K", 3), ctx.param("B", 8), ctx.budget(1024)
    # one autograd call per replica's batch (vmap over replicas of grad of the batch loss)
    grad_of_batch = vmap(grad(lambda w, xs, ys: _batch_loss(data.model, w, xs, ys)), in_dims=(None, 0, 0))
    w, x, y = exact.w, data.features, data.targets

    def accumulated_and_union(idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = torch.stack([grad_of_batch(w, x[idx[:, j]], y[idx[:, j]]) for j in range(k)])
        union = idx.reshape(n, k * batch)
        return parts.mean(dim=0), grad_of_batch(w, x[union], y[union])

    # disjoint minibatches: K consecutive blocks of one random permutation per replica
    perm = minibatch_indices(data.size, k * batch, n, ctx.generator, replacement=False)
    acc, union = accumulated_and_union(perm.reshape(n, k, batch))
    ctx.check_close("(1/K) sum_k grad L_{mb_k} = grad L_{union}, disjoint minibatches", acc, union,
                    atol=1e-12, rtol=1e-12, replicas=n)
    # control: overlapping minibatches (drawn independently) against the mean over the set of distinct indices
    overlap = minibatch_indices(data.size, batch, n * k, ctx.generator, replacement=False).reshape(n, k, batch)
    acc_o, _ = accumulated_and_union(overlap)
    distinct = torch.zeros((n, data.size), device=ctx.device, dtype=torch.float64)
    distinct.scatter_(1, overlap.reshape(n, k * batch), 1.0)
    union_mean = (distinct @ exact.per_example) / distinct.sum(dim=1, keepdim=True)
    ctx.check_close("control: overlapping minibatches vs the mean over their distinct examples", acc_o, union_mean,
                    atol=1e-12, rtol=1e-12, replicas=n, control=True)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
