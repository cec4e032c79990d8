"""Monte Carlo experiments for the gradient-noise claims (emastats/catalogue/noise.py).

* ``noise.weighted_sum.covariance`` draws the gradient vectors as real
  single-example gradients of a fixed synthetic linear regression (indices iid
  uniform), whose covariance Sigma_g is known exactly from the per-example
  gradients (torch.func), and estimates the covariance of their weighted sum.
* The two temperature claims run the SGD and heavy-ball recursions on
  ``L = lambda w^2 / 2`` with additive Gaussian noise of variance sigma^2 / B
  (the claims assume only that variance; every configuration is a column of
  one tensor, so all run in the same time loop), from
  w_0 = 0 for long enough that the distance to stationarity is below 1e-8
  relative, and compare the variance over replicas with the stationary value.

Each claim the notes get wrong is checked twice: the stated theory (must be
REFUTED) and the corrected one (must be CONFIRMED); every claim also has a
negative control. Noise is float32, moments are summed in float64.

Run on its own: ``python experiments/noise.py``.
"""
from __future__ import annotations

import math

import torch

from emastats.experiments._sweep import label, record_grid, rel_se_covariance, rel_se_variance, sized
from emastats.montecarlo import Context, experiment, fused, gaussian, kernels, minibatch_indices
from emastats.montecarlo.datasets import gradient_moments, synthetic_linear_regression

F64 = torch.float64
STATIONARY = 1e-5  # run until the start's influence on the variance is below this, relative (a tenth of any se)


# weight vectors alpha (n = 2, 4, 10 terms; sum alpha = 0.9, 1.25, 0.46; sum alpha^2 = 0.45, 1.625, 0.037): unequal
# weights, so (sum alpha)^2 / n differs from sum alpha^2; one negative weight, so sum |alpha| differs from sum alpha;
# n varies, so a form right only at one n (sum alpha^2 x n / n0) is wrong somewhere
WEIGHTS = ((0.6, 0.3), (1.0, -0.5, 0.25, 0.5), tuple(round(0.1 * 0.8**k, 12) for k in range(10)))
ENTRIES = ((1, 1), (2, 2), (1, 2))  # Sigma_g takes the three values Sigma_11, Sigma_22, Sigma_12


@experiment("noise.weighted_sum.covariance")
def weighted_sum_covariance(ctx: Context) -> None:
    data = synthetic_linear_regression(size=500, dim=4, noise=1.0, seed=7)
    ctx.param("dataset", data.description)
    w = torch.zeros(data.dim, dtype=F64)  # away from the fit, so gradients have a mean and a spread
    moments = gradient_moments(data, w)
    per_example = moments.per_example.to(ctx.device, torch.float32)
    ctx.param("alpha_i", [list(a) for a in WEIGHTS])
    ctx.param("g_i", "per-example gradients at w = 0, index iid uniform on the N examples")
    sigma = moments.covariance
    family = 2 * len(ENTRIES) * len(WEIGHTS) + 2
    for k, weights in enumerate(WEIGHTS):
        alpha_dev = torch.tensor(weights, dtype=torch.float32, device=ctx.device)

        def weighted_sum(reps: int, alpha_dev: torch.Tensor = alpha_dev) -> torch.Tensor:
            idx = minibatch_indices(data.size, alpha_dev.numel(), reps, ctx.generator, replacement=True)  # iid g_i
            return torch.einsum("i,nid->nd", alpha_dev, per_example[idx]).to(F64)

        acc = sized(ctx, weighted_sum, rel_se_covariance(ENTRIES), family=family)
        for i, j in ENTRIES:
            point = {"alpha": weights, "n": len(weights), "Sigma_g": float(sigma[i, j])}
            shown = {"n": len(weights), "entry": f"{i}{j}", "Sigma_g": float(sigma[i, j])}
            # margins relative to the variances' scale (an off-diagonal entry can be near 0)
            unit = {**point, "Sigma_g": math.sqrt(float(sigma[i, i] * sigma[j, j]))}
            ctx.check_covariance(f"notes: Cov[dPhi]_{i}{j} = catalogue formula, {label(shown)}", acc,
                                 ctx.formula(**point), ctx.margin, i, j, scale=abs(ctx.formula(**unit)),
                                 point={**point, "alpha": list(weights), "entry": [i, j]})
            ctx.check_covariance(f"corrected: Cov[dPhi]_{i}{j} = corrected formula, {label(shown)}", acc,
                                 ctx.corrected_formula(**point), ctx.margin, i, j,
                                 scale=abs(ctx.corrected_formula(**unit)), theory_of="corrected",
                                 point={**point, "alpha": list(weights), "entry": [i, j]})
        if k == len(WEIGHTS) - 1:
            s1, s11 = sum(weights), float(sigma[1, 1])
            ctx.check_covariance("control: Cov[dPhi]_11 = (sum alpha)^2 Sigma_11 (perfectly correlated g_i)", acc,
                                 s1 * s1 * s11, ctx.margin, 1, 1, control=True)
            point = {"alpha": weights, "n": len(weights), "Sigma_g": s11}
            ctx.check_covariance("control: corrected Cov[dPhi]_11 x (1 + 1.5 margins)", acc,
                                 ctx.corrected_formula(**point), ctx.margin, 1, 1, shift=1.5,
                                 point={**point, "alpha": list(weights), "entry": [1, 1]})


def _settle_steps(radius: float) -> int:
    """Steps after which a start at 0 changes the variance by less than STATIONARY: radius^(2T) < STATIONARY."""
    return math.ceil(math.log(STATIONARY) / (2 * math.log(radius)))


# (B, eta0, lambda, sigma): B in {1, 4, 16}, eta0 in {0.1, 0.05, 0.02}, lambda in {2, 1, 2.5}, sigma in {1, 2, 0.5};
# B eta0 lambda in {0.2, 0.2, 0.8}: far from the SDE limit (the stated B-free law is 11, 11 and 67 % low), and
# quick to mix
SGD_GRID = ({"B": 1, "eta0": 0.1, "lambda": 2.0, "sigma": 1.0}, {"B": 4, "eta0": 0.05, "lambda": 1.0, "sigma": 2.0},
            {"B": 16, "eta0": 0.02, "lambda": 2.5, "sigma": 0.5})


def _heavy_ball_of(point) -> tuple[float, float, float, float]:
    """(eta, mu, lambda, noise sd) of the recursion at a grid point, in ``fused.heavy_ball``'s order:
    eta = (1 - mu) B eta0 (mu = 0, plain SGD, when the point has none) and noise sd sigma / sqrt(B)."""
    mu = point.get("mu", 0.0)
    return (1 - mu) * point["B"] * point["eta0"], mu, point["lambda"], point["sigma"] / math.sqrt(point["B"])


def _columns(points, ctx: Context) -> tuple[torch.Tensor, ...]:
    """(eta, mu, lambda, noise sd) of every grid point, as float32 columns (one entry per point)."""
    return tuple(torch.tensor(col, device=ctx.device) for col in zip(*map(_heavy_ball_of, points)))


@experiment("noise.temperature.sgd_discrete")
def temperature_sgd(ctx: Context) -> None:
    ctx.param("noise", "xi_t ~ N(0, sigma^2 / B), eta = B eta0, w_0 = 0")
    record_grid(ctx, SGD_GRID)
    lrs, _, lams, sds = _columns(SGD_GRID, ctx)
    steps = ctx.param("T (all points at once)",
                      max(_settle_steps(abs(1 - lr * lam)) for lr, _, lam, _ in map(_heavy_ball_of, SGD_GRID)))

    def final(n: int) -> torch.Tensor:
        """w_T of w_{t+1} = w_t - eta (lambda w_t + xi_t) from w_0 = 0, one column per point: (n, points)."""
        w = torch.zeros((n, len(SGD_GRID)), device=ctx.device)
        for _ in range(steps):
            w = w - lrs * (lams * w + sds * gaussian(w.shape, ctx.generator))
        return w

    fused_run = [fused.heavy_ball(*_heavy_ball_of(p)) for p in SGD_GRID]
    acc = sized(ctx, kernels.recursion_sampler(ctx, fused_run, steps, final), rel_se_variance(range(len(SGD_GRID))),
                family=2 * len(SGD_GRID) + 1)
    _stated_and_corrected(ctx, acc, SGD_GRID)
    last = len(SGD_GRID) - 1
    ctx.check_variance(f"control: corrected formula x (1 + 1.5 margins) at {label(SGD_GRID[last])}", acc,
                       ctx.corrected_formula(**SGD_GRID[last]), ctx.margin, index=last, point=SGD_GRID[last],
                       shift=1.5)


def _stated_and_corrected(ctx: Context, acc, grid) -> None:
    """At every grid point: Var_inf against the stated law (the catalogue's B-free formula, which must be refuted
    where B eta0 lambda is not small) and against the corrected law."""
    for k, point in enumerate(grid):
        ctx.check_variance(f"notes: Var_inf = catalogue formula (free of B) at {label(point)}", acc,
                           ctx.formula(**point), ctx.margin, index=k, point=point)
        ctx.check_variance(f"corrected: Var_inf = catalogue corrected formula at {label(point)}", acc,
                           ctx.corrected_formula(**point), ctx.margin, index=k, theory_of="corrected", point=point)


def _heavy_ball_radius(h: float, mu: float) -> float:
    """Spectral radius of the heavy-ball companion matrix [[1 + mu - h, -mu], [1, 0]], h = eta lambda."""
    eig = torch.linalg.eigvals(torch.tensor([[1 + mu - h, -mu], [1.0, 0.0]], dtype=F64))
    return float(eig.abs().max())


# (mu, B, eta0, lambda, sigma): mu in {0, 0.5, 0.8}, B in {1, 16, 64}, eta0 in {0.05, 0.02, 0.1}, lambda in
# {1, 0.5, 2}, sigma in {1, 2, 0.5}; (1 - mu) B eta0 lambda from 0.02 to 2.56, every point stable. The stated
# mu- and B-free law is 40, 11, 71 and 0.6 % low (the last point is near the SDE limit, where the stated law is
# nearly right).
MOMENTUM_GRID = ({"mu": 0.0, "B": 16, "eta0": 0.05, "lambda": 1.0, "sigma": 1.0},
                 {"mu": 0.5, "B": 64, "eta0": 0.02, "lambda": 0.5, "sigma": 2.0},
                 {"mu": 0.8, "B": 64, "eta0": 0.1, "lambda": 2.0, "sigma": 0.5},
                 {"mu": 0.8, "B": 1, "eta0": 0.1, "lambda": 1.0, "sigma": 1.0})


@experiment("noise.temperature.momentum")
def temperature_momentum(ctx: Context) -> None:
    ctx.param("noise", "xi_t ~ N(0, sigma^2 / B), eta = (1 - mu) B eta0, w_0 = v_0 = 0")
    record_grid(ctx, MOMENTUM_GRID)
    lrs, mus, lams, sds = _columns(MOMENTUM_GRID, ctx)
    steps = ctx.param("T (all points at once)", max(
        _settle_steps(_heavy_ball_radius(lr * lam, mu)) for lr, mu, lam, _ in map(_heavy_ball_of, MOMENTUM_GRID)))

    def final(n: int) -> torch.Tensor:
        """All points side by side as columns: (n, points)."""
        w = torch.zeros((n, len(MOMENTUM_GRID)), device=ctx.device)
        v = torch.zeros_like(w)
        for _ in range(steps):
            v = mus * v - lrs * (lams * w + sds * gaussian(w.shape, ctx.generator))
            w = w + v
        return w

    fused_run = [fused.heavy_ball(*_heavy_ball_of(p)) for p in MOMENTUM_GRID]
    acc = sized(ctx, kernels.recursion_sampler(ctx, fused_run, steps, final),
                rel_se_variance(range(len(MOMENTUM_GRID))), family=2 * len(MOMENTUM_GRID) + 1)
    _stated_and_corrected(ctx, acc, MOMENTUM_GRID)
    ctx.check_variance(f"control: corrected formula x (1 - 1.5 margins) at {label(MOMENTUM_GRID[2])}", acc,
                       ctx.corrected_formula(**MOMENTUM_GRID[2]), ctx.margin, index=2, point=MOMENTUM_GRID[2],
                       shift=-1.5)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
