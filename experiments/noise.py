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

from emastats.montecarlo import Context, Moments, experiment, gaussian, minibatch_indices
from emastats.montecarlo.datasets import gradient_moments, synthetic_linear_regression
from emastats.results import Series

F64 = torch.float64
STATIONARY = 1e-8  # run until the start's influence on the variance is below this, relative


@experiment("noise.weighted_sum.covariance")
def weighted_sum_covariance(ctx: Context) -> None:
    data = synthetic_linear_regression(size=500, dim=4, noise=1.0, seed=7)
    ctx.param("dataset", data.description)
    w = torch.zeros(data.dim, dtype=F64)  # away from the fit, so gradients have a mean and a spread
    moments = gradient_moments(data, w)
    per_example = moments.per_example.to(ctx.device, torch.float32)
    alpha = 0.1 * 0.8 ** torch.arange(10, dtype=F64)  # e.g. a learning rate times momentum weights
    ctx.param("alpha_i", "0.1 * 0.8^i, i = 0..9")
    ctx.param("g_i", "per-example gradients at w = 0, index iid uniform on the N examples")
    alpha_dev = alpha.to(ctx.device, torch.float32)

    def weighted_sum(n: int) -> torch.Tensor:
        idx = minibatch_indices(data.size, alpha.numel(), n, ctx.generator, replacement=True)  # iid g_i
        return torch.einsum("i,nid->nd", alpha_dev, per_example[idx]).to(F64)

    acc = ctx.moments(weighted_sum, ctx.budget(1 << 16))  # covariances need fourth moments: twice the default
    s1, s2 = float(alpha.sum()), float(alpha.square().sum())
    sigma = moments.covariance
    tol = ctx.tolerance(0.05)
    for i, j in ((1, 1), (2, 2), (1, 2)):
        scale = math.sqrt(float(sigma[i, i] * sigma[j, j]))  # margins relative to the variances' scale
        ctx.check_covariance(f"notes: Cov[dPhi]_{i}{j} = (sum alpha) Sigma_{i}{j}", acc, s1 * float(sigma[i, j]),
                             tol, i, j, scale=s1 * scale)
        ctx.check_covariance(f"corrected: Cov[dPhi]_{i}{j} = (sum alpha^2) Sigma_{i}{j}", acc,
                             s2 * float(sigma[i, j]), tol, i, j, scale=s2 * scale, theory_of="corrected")
    ctx.check_covariance("control: Cov[dPhi]_11 = (sum alpha)^2 Sigma_11 (perfectly correlated g_i)", acc,
                         s1 * s1 * float(sigma[1, 1]), tol, 1, 1, control=True)


def _settle_steps(radius: float) -> int:
    """Steps after which a start at 0 changes the variance by less than STATIONARY: radius^(2T) < STATIONARY."""
    return math.ceil(math.log(STATIONARY) / (2 * math.log(radius)))


@experiment("noise.temperature.sgd_discrete")
def temperature_sgd(ctx: Context) -> None:
    lam, sigma, lr0 = ctx.param("lambda", 1.0), ctx.param("sigma", 1.0), ctx.param("eta0", 0.05)
    batches = (1, 4, 16)
    ctx.param("B", list(batches))
    ctx.param("noise", "xi_t ~ N(0, sigma^2 / B)")
    lrs = torch.tensor([b * lr0 for b in batches], device=ctx.device)
    sds = torch.tensor([sigma / math.sqrt(b) for b in batches], device=ctx.device)
    steps = ctx.param("T (all B at once)", max(_settle_steps(abs(1 - b * lr0 * lam)) for b in batches))

    def final(n: int) -> torch.Tensor:
        """w_T of w_{t+1} = w_t - eta (lambda w_t + xi_t) from w_0 = 0, one column per B: (n, len(batches))."""
        w = torch.zeros((n, len(batches)), device=ctx.device)
        for _ in range(steps):
            w = w - lrs * (lam * w + sds * gaussian(w.shape, ctx.generator))
        return w

    replicas = ctx.budget(1 << 15)
    acc = ctx.moments(final, replicas)
    tol = ctx.tolerance(0.06)
    theory = [lr0 * sigma**2 / (lam * (2 - b * lr0 * lam)) for b in batches]
    for k, b in enumerate(batches):
        ctx.check_variance(f"corrected: Var_inf = eta0 sigma^2 / (lambda (2 - B eta0 lambda)) at B = {b}", acc,
                           theory[k], tol, index=k, theory_of="corrected")
    last = len(batches) - 1
    ctx.check_variance(f"control: Var_inf = eta0 sigma^2 / (lambda (2 + B eta0 lambda)) at B = {batches[-1]}", acc,
                       lr0 * sigma**2 / (lam * (2 + batches[-1] * lr0 * lam)), tol, index=last, control=True)
    _ratio_check(ctx, acc, last, 0, f"notes: Var_inf does not depend on B (ratio B = {batches[-1]} to B = 1 is 1)",
                 tol, replicas)
    ctx.add_series(Series.with_z_intervals("Var_inf against B (eta = B eta0)", "B", "Var_inf[w]", batches,
                                           acc.variance(), acc.stderr_variance(), theory,
                                           theory_label="corrected formula", log_x=True))


def _ratio_check(ctx: Context, acc: Moments, top: int, bottom: int, name: str, tol: float, replicas: int) -> None:
    """The stated 'does not depend on' as a test that the ratio of two columns' variances is 1."""
    var, se = acc.variance(), acc.stderr_variance()
    ratio = float(var[top] / var[bottom])
    rel_se = math.hypot(float(se[top] / var[top]), float(se[bottom] / var[bottom]))
    ctx.check_estimate(name, ratio, ratio * rel_se, 1.0, tol, replicas=replicas,
                       estimator="ratio of two unbiased sample variances (independent columns)",
                       test="z interval, delta-method standard error of a ratio of independent variances")


def _heavy_ball_radius(h: float, mu: float) -> float:
    """Spectral radius of the heavy-ball companion matrix [[1 + mu - h, -mu], [1, 0]], h = eta lambda."""
    eig = torch.linalg.eigvals(torch.tensor([[1 + mu - h, -mu], [1.0, 0.0]], dtype=F64))
    return float(eig.abs().max())


def _momentum_variance(lam: float, sigma: float, lr0: float, mu: float, b: int) -> float:
    """Corrected stationary variance eta0 sigma^2 (1 + mu) / (lambda (2 (1 + mu) - (1 - mu) B eta0 lambda))."""
    return lr0 * sigma**2 * (1 + mu) / (lam * (2 * (1 + mu) - (1 - mu) * b * lr0 * lam))


@experiment("noise.temperature.momentum")
def temperature_momentum(ctx: Context) -> None:
    lam, sigma, lr0 = ctx.param("lambda", 1.0), ctx.param("sigma", 1.0), ctx.param("eta0", 0.05)
    configs = ((0.0, 1), (0.0, 16), (0.5, 64), (0.9, 64))
    ctx.param("(mu, B)", [list(c) for c in configs])
    ctx.param("noise", "xi_t ~ N(0, sigma^2 / B), eta = (1 - mu) B eta0")
    replicas = ctx.budget(1 << 15)
    tol = ctx.tolerance(0.06)
    mus = torch.tensor([c[0] for c in configs], device=ctx.device)
    lrs = torch.tensor([(1 - mu) * b * lr0 for mu, b in configs], device=ctx.device)
    sds = torch.tensor([sigma / math.sqrt(b) for _, b in configs], device=ctx.device)
    steps = max(_settle_steps(_heavy_ball_radius((1 - mu) * b * lr0 * lam, mu)) for mu, b in configs)
    ctx.param("T (all configurations at once)", steps)

    def final(n: int) -> torch.Tensor:
        """All configurations side by side as columns: (n, configs)."""
        w = torch.zeros((n, len(configs)), device=ctx.device)
        v = torch.zeros_like(w)
        for _ in range(steps):
            v = mus * v - lrs * (lam * w + sds * gaussian(w.shape, ctx.generator))
            w = w + v
        return w

    acc = ctx.moments(final, replicas)
    for k, (mu, b) in enumerate(configs):
        ctx.check_variance(f"corrected: Var_inf = eta0 sigma^2 (1+mu) / (lambda (2(1+mu) - (1-mu) B eta0 lambda)) "
                           f"at mu = {mu}, B = {b}", acc, _momentum_variance(lam, sigma, lr0, mu, b), tol, index=k,
                           theory_of="corrected")
    ctx.check_variance("control: Var_inf = eta0 sigma^2 / (lambda (2(1+mu) - (1-mu) B eta0 lambda)) (no 1 + mu) "
                       "at mu = 0.9, B = 64", acc, _momentum_variance(lam, sigma, lr0, 0.9, 64) / 1.9, tol, index=3,
                       control=True)
    _ratio_check(ctx, acc, 2, 0, "notes: Var_inf depends on eta0 only (ratio (mu, B) = (0.5, 64) to (0, 1) is 1)",
                 tol, replicas)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
