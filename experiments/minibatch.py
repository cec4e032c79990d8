"""Monte Carlo experiments for the minibatch-gradient claims (emastats/catalogue/minibatch.py).

All of them run on one fixed dataset: a synthetic linear regression with N = 24
examples and d = 3 weights (intercept included, ``montecarlo.datasets``, seed
0), at w = 0, whose per-example gradients are computed exactly with torch.func,
so g_fb and Sigma^1 (the population covariance, denominator N) are known
exactly. A small N makes the finite-population effects of sampling without
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

from emastats.montecarlo import Context, Moments, experiment, minibatch_indices
from emastats.montecarlo.datasets import Dataset, GradientMoments, example_loss, gradient_moments
from emastats.montecarlo.datasets import synthetic_linear_regression
from emastats.results import Series

N_EXAMPLES, DIM, DATA_SEED = 24, 3, 0


def _dataset(ctx: Context) -> tuple[Dataset, GradientMoments]:
    data = synthetic_linear_regression(N_EXAMPLES, DIM, noise=1.0, seed=DATA_SEED).to(ctx.device)
    moments = gradient_moments(data, torch.zeros(DIM, dtype=torch.float64, device=ctx.device))
    ctx.param("dataset", data.description)
    ctx.param("w", "0")
    ctx.param("|g_fb|", float(moments.full_batch.norm()))
    return data, moments


def _minibatch_gradients(ctx: Context, grads: torch.Tensor, batch: int, replacement: bool):
    """A sampler n -> (n, d) of minibatch-mean gradients (rows of ``grads`` (N, d)), one minibatch per replica."""

    def sample(n: int) -> torch.Tensor:
        idx = minibatch_indices(grads.shape[0], batch, n, ctx.generator, replacement=replacement)
        return grads[idx].mean(dim=1)

    return sample


def _check_equals_full_batch(ctx: Context, acc: Moments, quantity: str, g_fb: list[float], scale: float,
                             tol: float) -> None:
    """E[``quantity``][i] = g_fb[i] for every coordinate i, margins relative to ``scale`` = |g_fb|."""
    for i, g in enumerate(g_fb):
        ctx.check_mean(f"E[{quantity}][{i}] = g_fb[{i}]", acc, g, tol, index=i, scale=scale,
                       note="margin relative to |g_fb|")


def _unbiased(ctx: Context, replacement: bool, batch: int) -> None:
    _, exact = _dataset(ctx)
    ctx.param("B", batch)
    ctx.param("sampling", "with replacement (iid indices)" if replacement else "without replacement (random subset)")
    acc = ctx.moments(_minibatch_gradients(ctx, exact.per_example, batch, replacement), ctx.budget(1 << 16))
    g_fb = exact.full_batch.cpu().tolist()
    scale = math.hypot(*g_fb)
    tol = ctx.tolerance(0.04)
    _check_equals_full_batch(ctx, acc, "g_mb", g_fb, scale, tol)
    ctx.check_mean("control: E[g_mb][0] = g_fb[0] + 0.05 |g_fb|", acc, g_fb[0] + 0.05 * scale, tol, index=0,
                   scale=scale, control=True, note="a 5% (of |g_fb|) bias that the run must detect")


@experiment("minibatch.unbiased.with_replacement")
def unbiased_with_replacement(ctx: Context) -> None:
    _unbiased(ctx, replacement=True, batch=16)


@experiment("minibatch.unbiased.without_replacement")
def unbiased_without_replacement(ctx: Context) -> None:
    _unbiased(ctx, replacement=False, batch=16)


def _covariance_checks(ctx: Context, acc, theory: torch.Tensor, label: str, tol: float, **kw) -> None:
    """Checks of the diagonal entries 0, 1 and the off-diagonal entry (0, 1) of a covariance matrix."""
    t = theory.cpu()
    for i, j in ((0, 0), (1, 1), (0, 1)):
        scale = math.sqrt(float(t[i, i] * t[j, j]))
        ctx.check_covariance(f"{label} [{i},{j}]", acc, float(t[i, j]), tol, i, j, scale=scale, **kw)


@experiment("minibatch.covariance.with_replacement")
def covariance_with_replacement(ctx: Context) -> None:
    _, exact = _dataset(ctx)
    sigma, grads = exact.covariance, exact.per_example
    batch = ctx.param("B", 8)
    tol = ctx.tolerance(0.04)
    acc = ctx.moments(_minibatch_gradients(ctx, grads, batch, True), ctx.budget(1 << 16))
    _covariance_checks(ctx, acc, sigma / batch, "Cov[g_mb] = Sigma^1 / B", tol)
    n = grads.shape[0]
    ctx.check_covariance("control: the without-replacement law Sigma^1 (N-B) / (B (N-1)), [0,0]", acc,
                         float(sigma[0, 0]) * (n - batch) / (batch * (n - 1)), tol, 0, 0, control=True)

    # the 1/B law as a slope: log Var[g_mb,0] against log B must have slope -1
    sizes = ctx.param("B values (slope)", [1, 2, 4, 8, 16, 32])
    logs, ses, var_est, var_se = [], [], [], []
    for b in sizes:
        m = ctx.moments(_minibatch_gradients(ctx, grads, b, True), ctx.budget(1 << 15))
        v, se = float(m.variance()[0]), float(m.stderr_variance()[0])
        logs.append(math.log(v))
        ses.append(se / v)  # delta method: se(log v) = se(v) / v
        var_est.append(v)
        var_se.append(se)
    ctx.add_series(Series.with_z_intervals("Var[g_mb,0] against B, with replacement", "B", "Var[g_mb,0]", sizes,
                                           var_est, var_se, [float(sigma[0, 0]) / b for b in sizes],
                                           theory_label="Sigma^1_00 / B", log_x=True, log_y=True))
    x = [math.log(b) for b in sizes]
    slope_tol = ctx.tolerance(0.03)
    reps = ctx.budget(1 << 15) * len(sizes)
    ctx.check_slope("slope of log Var[g_mb,0] on log B = -1", x, logs, -1.0, slope_tol, y_stderr=ses, replicas=reps)
    ctx.check_slope("control: slope -1/2 (a standard-deviation law)", x, logs, -0.5, slope_tol, y_stderr=ses,
                    replicas=reps, control=True)


@experiment("minibatch.covariance.without_replacement")
def covariance_without_replacement(ctx: Context) -> None:
    _, exact = _dataset(ctx)
    sigma, n = exact.covariance, exact.per_example.shape[0]
    batch = ctx.param("B", 12)
    tol = ctx.tolerance(0.04)
    acc = ctx.moments(_minibatch_gradients(ctx, exact.per_example, batch, False), ctx.budget(1 << 18))
    fpc = (n - batch) / (n - 1)
    ctx.param("finite-population factor (N - B)/(N - 1)", fpc)
    _covariance_checks(ctx, acc, sigma / batch, "stated: Cov[g_mb] = Sigma^1 / B", tol)
    _covariance_checks(ctx, acc, sigma / batch * fpc, "corrected: Cov[g_mb] = Sigma^1 (N-B) / (B (N-1))", tol,
                       theory_of="corrected")
    ctx.check_covariance("control: factor (N - B)/N instead of (N - B)/(N - 1), [0,0]", acc,
                         float(sigma[0, 0]) / batch * (n - batch) / n, tol, 0, 0, control=True)


def _total_change(ctx: Context, grads: torch.Tensor, eta: float, steps: int, batch: int):
    """A sampler n -> (n, d) of Delta w = eta sum_{t=1}^T g_{mb;t} (independent with-replacement minibatches)."""

    def sample(n: int) -> torch.Tensor:
        idx = torch.randint(0, grads.shape[0], (n, steps, batch), generator=ctx.generator, device=ctx.device)
        return eta * grads[idx].mean(dim=2).sum(dim=1)

    return sample


@experiment("minibatch.frozen_gradient.mean")
def frozen_gradient_mean(ctx: Context) -> None:
    _, exact = _dataset(ctx)
    eta, batch = ctx.param("eta", 0.1), ctx.param("B", 4)
    steps = ctx.param("T = 1/eta", round(1 / eta))
    acc = ctx.moments(_total_change(ctx, exact.per_example, eta, steps, batch))
    g_fb = exact.full_batch.cpu().tolist()
    scale = math.hypot(*g_fb)
    tol = ctx.tolerance(0.04)
    _check_equals_full_batch(ctx, acc, "Delta w", g_fb, scale, tol)
    big = max(range(len(g_fb)), key=lambda i: abs(g_fb[i]))
    ctx.check_mean(f"control: off-by-one, E[Delta w][{big}] = (T - 1) eta g_fb[{big}]", acc,
                   (steps - 1) * eta * g_fb[big], tol, index=big, scale=scale, control=True)


@experiment("minibatch.frozen_gradient.variance")
def frozen_gradient_variance(ctx: Context) -> None:
    _, exact = _dataset(ctx)
    eta, batch = ctx.param("eta", 0.1), ctx.param("B", 4)
    steps = ctx.param("T = 1/eta", round(1 / eta))
    acc = ctx.moments(_total_change(ctx, exact.per_example, eta, steps, batch), ctx.budget(1 << 16))
    var_mb = torch.diag(exact.covariance).cpu() / batch  # Var[g_mb] per component, exact
    tol = ctx.tolerance(0.04)
    for i in (0, 1):
        ctx.check_variance(f"Var[Delta w][{i}] = eta Var[g_mb][{i}]", acc, eta * float(var_mb[i]), tol, index=i)
    ctx.check_variance("control: off-by-one, Var[Delta w][0] = (T - 1) eta^2 Var[g_mb][0]", acc,
                       (steps - 1) * eta**2 * float(var_mb[0]), tol, index=0, control=True)


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
