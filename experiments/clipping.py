"""Monte Carlo experiments for the clipping claims (emastats/catalogue/clipping.py).

Minibatch claims use the Spector data bundled with statsmodels, fitted by
logistic regression, at w = 0 (where the per-example gradients are large and
spread out). Because the dataset is finite (N = 32), the expectation over
minibatches drawn with replacement is an exact finite average over the N^B
equally likely index tuples (32768 at B = 3, the largest B of the value-clipping
grid), so the true mean of the clipped minibatch gradient is computed exactly by
enumeration and the Monte Carlo mean is tested against it at each grid point
(per-example clipping needs no enumeration: its mean is E[clip(g_i)] at every
B). The Gaussian closed forms are tested against sampled Gaussians. Every claim
has a negative control (e.g. "no bias", or "clip the mean instead of the
samples") that the same samples must REFUTE.

Run on its own: ``python experiments/clipping.py``.
"""
from __future__ import annotations

import math

import torch

from emastats.experiments._sweep import label, record_grid, rel_se_mean, sized
from emastats.montecarlo import Context, experiment, gaussian, minibatch_indices, minibatch_means
from emastats.montecarlo.datasets import GradientMoments, gradient_moments, spector_logistic
from emastats.montecarlo.optimizers import clip_by_norm, clip_by_value
from emastats.results import Series

F64 = torch.float64


def _spector_at_zero(ctx: Context) -> GradientMoments:
    data = spector_logistic()
    ctx.param("dataset", data.description)
    ctx.param("w", "0 (every predicted probability 1/2)")
    return gradient_moments(data, torch.zeros(data.dim, dtype=F64))


def _exact_clipped_mean(per_example: torch.Tensor, batch: int, c: float) -> torch.Tensor:
    """E[clip(g_mb, -c, c)] over all N^B equally likely index tuples (with replacement), exactly."""
    n = per_example.shape[0]
    tuples = torch.cartesian_prod(*[torch.arange(n)] * batch).reshape(-1, batch)
    return clip_by_value(per_example[tuples].mean(dim=1), c).mean(dim=0)


# (B, c): B in {1, 2, 3} (the exact mean enumerates N^B tuples, 32768 at B = 3), value clipping at c in {0.2, 0.1,
# 0.3}; the exact bias on the largest coordinate is -0.14, -0.18 and -0.07 of g_fb's 0.23 there
BIASED_GRID = ({"B": 1, "c": 0.2}, {"B": 2, "c": 0.1}, {"B": 3, "c": 0.3})


@experiment("clipping.biased")
def clipping_biased(ctx: Context) -> None:
    moments = _spector_at_zero(ctx)
    record_grid(ctx, BIASED_GRID)
    per_example = moments.per_example.to(ctx.device, torch.float32)
    g_fb = moments.full_batch.to(ctx.device)
    for point in BIASED_GRID:
        batch, c = point["B"], point["c"]
        exact = _exact_clipped_mean(moments.per_example, batch, c)
        bias = exact - moments.full_batch
        k = int(bias.abs().argmax())
        at = {**point, "coordinate": k, "exact bias": float(bias[k])}

        def clipped_minus_full(n: int, batch: int = batch, c: float = c) -> torch.Tensor:
            idx = minibatch_indices(per_example.shape[0], batch, n, ctx.generator, replacement=True)
            return clip_by_value(minibatch_means(per_example, idx), c).to(F64) - g_fb

        scale = abs(float(bias[k]))  # margins relative to the bias itself
        acc = sized(ctx, clipped_minus_full, rel_se_mean(scale, (k,)), family=len(BIASED_GRID) + 2)
        ctx.check_mean(f"E[clip(g_mb)]_k - g_fb,k = exact bias {float(bias[k]):.4g} (nonzero) at {label(point)}",
                       acc, float(bias[k]), ctx.margin, index=k, scale=scale, point=at,
                       note="exact bias enumerated over all N^B index tuples")
        if point is BIASED_GRID[-1]:
            ctx.check_mean(f"control: no bias, E[clip(g_mb)]_k = g_fb,k at {label(point)}", acc, 0.0, ctx.margin,
                           index=k, scale=scale, control=True)
            ctx.check_mean(f"control: exact bias x (1 + 1.5 margins) at {label(point)}", acc, float(bias[k]),
                           ctx.margin, index=k, scale=scale, shift=1.5, point=at)


# (mu, sigma, c): mu in {1.5, 0.3, -0.8, 0, -1.2}, sigma in {1, 2, 0.5, 1.5}, c in {1, 0.5, 2}; mu = 0 is the symmetric
# case and mu < 0 makes the sign of each tail term matter; a form right only at one value of a parameter is wrong elsewhere
VALUE_GRID = ({"mu": 1.5, "sigma": 1.0, "c": 1.0}, {"mu": 0.3, "sigma": 2.0, "c": 1.0}, {"mu": -0.8, "sigma": 0.5, "c": 0.5},
              {"mu": 0.0, "sigma": 1.0, "c": 0.5}, {"mu": -1.2, "sigma": 1.5, "c": 2.0})


@experiment("clipping.value.gaussian")
def clipping_value_gaussian(ctx: Context) -> None:
    record_grid(ctx, VALUE_GRID)
    m = torch.tensor([p["mu"] for p in VALUE_GRID], device=ctx.device)
    s = torch.tensor([p["sigma"] for p in VALUE_GRID], device=ctx.device)
    c = torch.tensor([p["c"] for p in VALUE_GRID], device=ctx.device)
    # margins are relative to c, the range of the clipped variable (its mean may be 0)
    acc = sized(ctx, lambda n: torch.clamp(m + s * gaussian((n, len(VALUE_GRID)), ctx.generator), -c, c),
                lambda a: max(float(a.stderr_mean()[k]) / p["c"] for k, p in enumerate(VALUE_GRID)),
                family=len(VALUE_GRID) + 2)
    for k, point in enumerate(VALUE_GRID):
        ctx.check_mean(f"E[clip(X, -c, c)] = catalogue formula at {label(point)}", acc, ctx.formula(**point),
                       ctx.margin, index=k, scale=point["c"], point=point)
    ctx.check_mean(f"control: formula + 1.5 margins of c at {label(VALUE_GRID[0])}", acc,
                   ctx.formula(**VALUE_GRID[0]), ctx.margin, index=0, scale=VALUE_GRID[0]["c"], shift=1.5,
                   point=VALUE_GRID[0])
    ctx.check_mean(f"control: E[clip(X, -c, c)] = clip(mu, -c, c) (clip the mean) at {label(VALUE_GRID[1])}", acc,
                   min(max(VALUE_GRID[1]["mu"], -VALUE_GRID[1]["c"]), VALUE_GRID[1]["c"]), ctx.margin, index=1,
                   scale=VALUE_GRID[1]["c"], control=True)


@experiment("clipping.norm.gaussian")
def clipping_norm_gaussian(ctx: Context) -> None:
    # (d, sigma, c): d in {1, 4, 32}, sigma in {1, 0.5, 2}, c in {1, 2, 2.5}; c / (sigma sqrt d) from 0.18 to 1,
    # so both the clipped and the unclipped parts of the formula carry weight
    configs = ((1, 1.0, 1.0), (4, 1.0, 2.0), (32, 0.5, 2.5), (4, 2.0, 2.5))
    record_grid(ctx, [{"d": d, "sigma": s, "c": c} for d, s, c in configs])
    tol = ctx.margin
    for d, s, c in configs:
        def clipped_norm(n: int, d: int = d, s: float = s, c: float = c) -> torch.Tensor:
            x = s * gaussian((n, d), ctx.generator)
            return torch.linalg.vector_norm(clip_by_norm(x, c), dim=-1)  # = min(||x||, c)

        point = {"d": d, "sigma": s, "c": c}
        value = ctx.formula(**point)
        acc = sized(ctx, clipped_norm, rel_se_mean(), family=len(configs) + 2)
        ctx.check_mean(f"E[min(||X||, c)] = catalogue formula at {label(point)}", acc, value, tol, point=point)
        if (d, s) == (4, 1.0):
            ctx.check_mean("control: E[min(||X||, c)] = min(s sqrt(d), c) at d = 4", acc, min(s * math.sqrt(d), c),
                           tol, control=True)
            ctx.check_mean("control: formula x (1 - 1.5 margins) at d = 4", acc, value, tol, shift=-1.5, point=point)


# (B, c): B in {1, 4, 16, 64}, per-example norm clipping at c in {0.5, 0.25, 0.75}; the law E[clip(g_i)] is free
# of B, so a form in B (right at one B only) is wrong at three of the four
PER_EXAMPLE_GRID = ({"B": 1, "c": 0.5}, {"B": 4, "c": 0.25}, {"B": 16, "c": 0.75}, {"B": 64, "c": 0.5})


@experiment("clipping.per_example.bias_independent_of_b")
def per_example_clipping(ctx: Context) -> None:
    moments = _spector_at_zero(ctx)
    record_grid(ctx, PER_EXAMPLE_GRID)
    means, stderrs, theories = [], [], []
    for point in PER_EXAMPLE_GRID:
        b, c = point["B"], point["c"]
        clipped = clip_by_norm(moments.per_example, c)
        exact = clipped.mean(dim=0)  # kappa = E[clip(g_i)] over a uniform index, exactly
        bias = exact - moments.full_batch
        k = int(bias.abs().argmax())
        at = {**point, "kappa": float(exact[k]), "coordinate": k}
        per_example = clipped.to(ctx.device, torch.float32)

        def averaged(n: int, b: int = b, per_example: torch.Tensor = per_example, k: int = k) -> torch.Tensor:
            idx = minibatch_indices(per_example.shape[0], b, n, ctx.generator, replacement=True)
            return minibatch_means(per_example, idx)[:, k].to(F64)

        scale = abs(float(bias[k]))  # margins relative to the clipping bias, what the claim is about
        acc = sized(ctx, averaged, rel_se_mean(scale), family=len(PER_EXAMPLE_GRID) + 2)
        theory = ctx.formula(**at)
        ctx.check_mean(f"E[(1/B) sum_b clip(g_i_b)]_k = catalogue formula at {label(point)}", acc, theory,
                       ctx.margin, point=at, scale=scale)
        if point is PER_EXAMPLE_GRID[-1]:
            ctx.check_mean(f"control: no clipping bias (= g_fb,k) at {label(point)}", acc,
                           float(moments.full_batch[k]), ctx.margin, scale=scale, control=True)
            ctx.check_mean(f"control: formula + 1.5 margins of the bias at {label(point)}", acc, theory,
                           ctx.margin, scale=scale, shift=1.5, point=at)
        means.append(float(acc.mean()[0]))
        stderrs.append(float(acc.stderr_mean()[0]))
        theories.append(theory)
    ctx.add_series(Series.with_z_intervals("mean of per-example-clipped minibatch gradient, largest-bias coordinate",
                                           "grid point (B, c)", "E[clipped mean]_k", range(1, len(means) + 1),
                                           means, stderrs, theories, theory_label="catalogue formula"))


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
