"""Monte Carlo experiments for the EMA claims (emastats/catalogue/ema.py).

Statistical claims run the EMA recursion m_t = beta m_{t-1} + (1 - beta) x_t on
many replicas at once (replicas are the second tensor dimension) with skewed,
non-Gaussian inputs (centred exponentials), since the claims assume only a mean
and a variance. Deterministic claims compare trajectories in float64 to a
stated rounding tolerance. Each claim carries at least one negative control: a
deliberately wrong theory the same samples must refute.

Run on its own: ``python experiments/ema.py`` (prints the verdicts of this topic).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from emastats.experiments._sweep import (elementwise, grid_series, label, law_tensor, record_grid,
                                         rel_se_mean, rel_se_variance, sized)
from emastats.montecarlo import Context, ema_final, ema_path, experiment, fused, kernels, running_average_beta, skewed

F64 = torch.float64
ROUNDING = 1e-10  # float64 agreement bound for trajectories of <= a few hundred steps of O(1) values


# beta in {0.6, 0.9, 0.97} (never 1/2, where beta and 1 - beta coincide), t in {1, 4, 15}, mu in {-1.5, 0.5, 2}
# (never 1, where mu and mu^2 coincide; one negative, where mu and |mu| differ)
BIAS_GRID = ({"beta": 0.6, "t": 1, "mu": -1.5}, {"beta": 0.9, "t": 4, "mu": 0.5},
             {"beta": 0.97, "t": 15, "mu": 2.0}, {"beta": 0.6, "t": 15, "mu": 0.5})
SIGMA_INPUTS = 1.0


def _ema_at(ctx: Context, point, sigma: float = SIGMA_INPUTS, correction: float = 1.0):
    """A sampler n -> (n,) of m_t / correction (EMA from m_0 = 0) at ``point``'s beta, t, mu, skewed inputs
    (the fused kernel on a GPU: ``kernels.recursion_sampler``)."""
    beta, steps, mu = point["beta"], point["t"], point["mu"]
    fallback = lambda n: ema_final(skewed((steps, n), ctx.generator, mean=mu, std=sigma), beta)  # noqa: E731
    if correction != 1.0:
        fallback = lambda n, plain=fallback: plain(n).double() / correction  # noqa: E731
    return kernels.recursion_sampler(ctx, [fused.ema(beta, mu, sigma, noise="exponential")], steps, fallback,
                                     scale=1 / correction)


@experiment("ema.bias.mean")
def ema_bias_mean(ctx: Context) -> None:
    ctx.param("inputs", f"mu + sigma (Exp(1) - 1), iid, sigma = {SIGMA_INPUTS}")
    record_grid(ctx, BIAS_GRID)
    for k, point in enumerate(BIAS_GRID):
        theory = ctx.formula(**point)
        acc = sized(ctx, _ema_at(ctx, point), rel_se_mean())
        ctx.check_mean(f"E[m_t] = catalogue formula at {label(point)}", acc, theory, ctx.margin, point=point)
        if k == 1:
            ctx.check_mean(f"control: formula x (1 + 1.5 margins) at {label(point)}", acc, theory, ctx.margin,
                           point=point, shift=1.5)
    grid_series(ctx, "E[m_t] over the grid", "E[m_t]")


@experiment("ema.bias.debias")
def ema_bias_debias(ctx: Context) -> None:
    ctx.param("inputs", f"mu + sigma (Exp(1) - 1), iid, sigma = {SIGMA_INPUTS}")
    record_grid(ctx, BIAS_GRID)
    for k, point in enumerate(BIAS_GRID):
        theory = ctx.formula(**point)
        correction = 1 - point["beta"] ** point["t"]
        acc = sized(ctx, _ema_at(ctx, point, correction=correction), rel_se_mean())
        ctx.check_mean(f"E[m_t / (1 - beta^t)] = catalogue formula at {label(point)}", acc, theory, ctx.margin,
                       point=point)
        if k == 2:
            ctx.check_mean(f"control: formula x (1 - 1.5 margins) at {label(point)}", acc, theory, ctx.margin,
                           point=point, shift=-1.5)
    grid_series(ctx, "E[m_t / (1 - beta^t)] over the grid", "debiased mean")


@experiment("ema.unrolled_weights")
def ema_unrolled_weights(ctx: Context) -> None:
    beta, steps, n = ctx.param("beta", 0.8), ctx.param("T", 60), ctx.budget(2048)
    x = torch.randn((steps, n), generator=ctx.generator, device=ctx.device, dtype=F64)
    recursive = ema_path(x, beta)
    # the catalogue's pair (w_{t,k}, sum_k w_{t,k}), evaluated at every t = 1..T and k <= t
    t = np.arange(1, steps + 1, dtype=np.float64)
    lag = t[:, None] - t[None, :]  # t - k
    at = {"beta": beta, "t": t[:, None], "k": t[None, :]}

    def weights_at(point) -> torch.Tensor:
        """The catalogue's w_(t,k) at ``point`` where k <= t, 0 where k > t."""
        w = np.broadcast_to(elementwise(ctx.formula.component(0), point), lag.shape)
        return torch.as_tensor(np.where(lag >= 0, w, 0.0), device=ctx.device)

    weights = weights_at(at)
    total = law_tensor(ctx.formula.component(1), {"beta": beta, "t": t}, ctx.device, t.shape)
    ctx.check_close("m_t = sum_k w_(t,k) x_k, w = catalogue formula, every t and replica", recursive, weights @ x,
                    atol=ROUNDING, rtol=ROUNDING)
    ctx.check_close("sum_k w_(t,k) = catalogue total, every t", weights.sum(dim=1), total,
                    atol=ROUNDING, rtol=ROUNDING, replicas=1)
    later = {**at, "t": at["t"] + 1}  # w_(t+1,k): each weight one step too old
    shifted = weights_at(later)
    ctx.check_close("control: weights w_(t+1,k) (one step too old)", recursive, shifted @ x,
                    atol=ROUNDING, rtol=ROUNDING, control=True)


def _burn_in(n_avg: int, relative: float = 1e-4) -> int:
    """Steps t with (1 - 1/N)^(2t) < ``relative``: the zero start then moves the variance by < 1e-4 relative,
    a tenth of the smallest standard error any check here reaches."""
    return 1 if n_avg == 1 else math.ceil(math.log(relative) / (2 * math.log(1 - 1 / n_avg)))


def _running_average_final(ctx: Context, n_avg: int, steps: int, sigma: float):
    """A sampler n -> (n,) of the running average (beta = 1 - 1/N, zero start) after ``steps`` inputs."""
    beta = running_average_beta(n_avg)
    fallback = lambda n: ema_final(skewed((steps, n), ctx.generator, mean=0.5, std=sigma), beta)  # noqa: E731
    return kernels.recursion_sampler(ctx, [fused.ema(beta, 0.5, sigma, noise="exponential")], steps, fallback)


# N in {2, 3, 8} (not 5, where sigma^2/(N+4) agrees with the truth), sigma_x^2 in {0.25, 2.25, 9}:
# sigma^2/(2N) is 6 % off at N = 8 and 25 % at N = 2; small N keeps the burn-in short
STATIONARY_GRID = ({"N": 2, "sigma_x^2": 0.25}, {"N": 3, "sigma_x^2": 2.25}, {"N": 8, "sigma_x^2": 9.0},
                   {"N": 8, "sigma_x^2": 0.25})


@experiment("ema.running_average.variance.stationary")
def running_average_stationary(ctx: Context) -> None:
    ctx.param("inputs", "0.5 + sigma_x (Exp(1) - 1), iid")
    ctx.param("t (burn-in)", "(1 - 1/N)^(2t) < 1e-4")
    record_grid(ctx, STATIONARY_GRID)
    for k, point in enumerate(STATIONARY_GRID):
        n_avg, sigma = point["N"], math.sqrt(point["sigma_x^2"])
        acc = sized(ctx, _running_average_final(ctx, n_avg, _burn_in(n_avg), sigma), rel_se_variance())
        theory = ctx.formula(**point)
        ctx.check_variance(f"Var[m_inf] = catalogue formula at {label(point)}", acc, theory, ctx.margin, point=point)
        if k == 1:
            ctx.check_variance(f"control: formula x (1 - 1.5 margins) at {label(point)}", acc, theory, ctx.margin,
                               point=point, shift=-1.5)
    grid_series(ctx, "Var[m_inf] over the grid", "Var[m_inf]")


# N in {3, 6, 10}, t in {2, 5, 12}, sigma_x^2 in {0.25, 1, 4}: exponent 2t against t or 2t +- 1 differ everywhere
FINITE_T_GRID = ({"N": 3, "t": 2, "sigma_x^2": 0.25}, {"N": 6, "t": 5, "sigma_x^2": 1.0},
                 {"N": 10, "t": 12, "sigma_x^2": 4.0}, {"N": 3, "t": 5, "sigma_x^2": 1.0})


@experiment("ema.running_average.variance.finite_t")
def running_average_finite_t(ctx: Context) -> None:
    ctx.param("inputs", "0.5 + sigma_x (Exp(1) - 1), iid, m_0 = 0")
    record_grid(ctx, FINITE_T_GRID)
    for k, point in enumerate(FINITE_T_GRID):
        sampler = _running_average_final(ctx, point["N"], point["t"], math.sqrt(point["sigma_x^2"]))
        acc = sized(ctx, sampler, rel_se_variance())
        theory = ctx.formula(**point)
        ctx.check_variance(f"Var[m_t] = catalogue formula at {label(point)}", acc, theory, ctx.margin, point=point)
        if k == 2:
            ctx.check_variance(f"control: formula x (1 + 1.5 margins) at {label(point)}", acc, theory, ctx.margin,
                               point=point, shift=1.5)
    grid_series(ctx, "Var[m_t] over the grid", "Var[m_t]")


VERSUS_GRID = ({"N": 2}, {"N": 3}, {"N": 8})


@experiment("ema.running_average.versus_plain")
def running_average_versus_plain(ctx: Context) -> None:
    sigma = ctx.param("sigma_x", 1.5)
    ctx.param("inputs", "0.5 + sigma_x (Exp(1) - 1), iid")
    ctx.param("plain N-average", "variance sigma_x^2 / N exactly (iid inputs of known variance)")
    record_grid(ctx, VERSUS_GRID)
    for k, point in enumerate(VERSUS_GRID):
        n_avg = point["N"]
        plain = sigma**2 / n_avg
        acc = sized(ctx, _running_average_final(ctx, n_avg, _burn_in(n_avg), sigma), rel_se_variance())
        ratio, se = float(acc.variance()[0]) / plain, float(acc.stderr_variance()[0]) / plain
        theory = ctx.formula(**point)
        common = dict(replicas=acc.n, estimator="sample variance of the running average over sigma_x^2 / N",
                      test="z interval, fourth-moment standard error", point=point)
        ctx.check_estimate(f"Var[running] / Var[plain N-average] = catalogue formula at {label(point)}", ratio,
                           se, theory, ctx.margin, **common)
        if k == 0:
            ctx.check_estimate(f"control: formula x (1 - 1.5 margins) at {label(point)}", ratio, se,
                               theory, ctx.margin, shift=-1.5, **common)
    grid_series(ctx, "Var[running] / Var[plain] over the grid", "ratio")


@experiment("ema.unnormalised_sum.limit")
def unnormalised_sum_limit(ctx: Context) -> None:
    n = ctx.budget(4096)
    sizes = torch.randint(2, 41, (n,), generator=ctx.generator, device=ctx.device).to(F64)
    c = torch.randn((n,), generator=ctx.generator, device=ctx.device, dtype=F64)
    steps = ctx.param("t (enough that (1-1/N)^t < 1e-15 for N <= 40)", 1500)
    ctx.param("N", "uniform on {2..40} per replica; c ~ N(0, 1)")
    y = torch.zeros_like(c)
    for _ in range(steps):
        y = (1 - 1 / sizes) * y + c
    law = law_tensor(ctx.formula, {"N": sizes.cpu().numpy(), "c_x": c.cpu().numpy()}, ctx.device)
    ctx.check_close("y_t -> catalogue formula (N c)", y, law, atol=1e-9, rtol=1e-9, replicas=n)
    ctx.check_close("control: y_t -> (N - 1) c", y, (sizes - 1) * c, atol=1e-9, rtol=1e-9, replicas=n,
                    control=True)


@experiment("ema.unnormalised_sum.scaled")
def unnormalised_sum_scaled(ctx: Context) -> None:
    steps, n = ctx.param("T", 100), ctx.budget(2048)
    sizes = ctx.param("N grid", (3, 7, 20))  # a law right at one N only is wrong at the other two
    x = torch.randn((steps, n), generator=ctx.generator, device=ctx.device, dtype=F64)
    for k, n_avg in enumerate(sizes):
        beta = running_average_beta(n_avg)
        y = torch.zeros_like(x[0])
        unnormalised = torch.empty_like(x)
        for t in range(steps):
            y = beta * y + x[t]
            unnormalised[t] = y
        mu = ema_path(x, beta)  # mu_t = (1 - 1/N) mu_{t-1} + x_t / N
        law = law_tensor(ctx.formula, {"N": n_avg, "mu_t": mu.cpu().numpy()}, ctx.device, mu.shape)
        ctx.check_close(f"y_t = catalogue formula (N mu_t), every t and replica, at N = {n_avg}", unnormalised, law,
                        atol=ROUNDING, rtol=ROUNDING)
        if k == 0:
            ctx.check_close(f"control: y_t = (N - 1) mu_t at N = {n_avg}", unnormalised, (n_avg - 1) * mu,
                            atol=ROUNDING, rtol=ROUNDING, control=True)


def _warmup_path(x: torch.Tensor, n_avg: int, y0: torch.Tensor) -> torch.Tensor:
    """y_t = (1 - 1/min(t, N)) y_{t-1} + x_t / min(t, N) for t = 1..T, batched over replicas."""
    out = torch.empty_like(x)
    y = y0.clone()
    for t in range(1, x.shape[0] + 1):
        step = 1.0 / min(t, n_avg)
        y = (1 - step) * y + step * x[t - 1]
        out[t - 1] = y
    return out


@experiment("ema.warmup.min_t_n")
def warmup_min_t_n(ctx: Context) -> None:
    n_avg, steps, n = ctx.param("N", 10), ctx.param("T", 40), ctx.budget(2048)
    c = torch.randn((n,), generator=ctx.generator, device=ctx.device, dtype=F64)
    y0 = 10 * torch.randn((n,), generator=ctx.generator, device=ctx.device, dtype=F64)
    ctx.param("inputs", "x_t = c ~ N(0, 1) per replica, y_0 ~ N(0, 100)")
    y = _warmup_path(c.expand(steps, n), n_avg, y0)
    law = law_tensor(ctx.formula, {"c_x": c.cpu().numpy(), "N": n_avg}, ctx.device, (steps, n))
    ctx.check_close("y_t = catalogue formula (c) for every t >= 1", y, law, atol=ROUNDING, rtol=ROUNDING)
    beta = running_average_beta(n_avg)
    t = torch.arange(1, steps + 1, device=ctx.device, dtype=F64)[:, None]
    ctx.check_close("control: zero-start EMA value (1 - (1-1/N)^t) c", y, (1 - beta**t) * c, atol=ROUNDING,
                    rtol=ROUNDING, control=True)


@experiment("ema.warmup.plain_average")
def warmup_plain_average(ctx: Context) -> None:
    n_avg, n = ctx.param("N", 25), ctx.budget(2048)
    x = torch.randn((n_avg, n), generator=ctx.generator, device=ctx.device, dtype=F64)
    y0 = 10 * torch.randn((n,), generator=ctx.generator, device=ctx.device, dtype=F64)
    ctx.param("inputs", "x_t ~ N(0, 1), y_0 ~ N(0, 100), t = 1..N")
    y = _warmup_path(x, n_avg, y0)
    t = torch.arange(1, n_avg + 1, device=ctx.device, dtype=F64)[:, None]
    law = law_tensor(ctx.formula, {"S_t": x.cumsum(dim=0).cpu().numpy(), "t": t.cpu().numpy(), "N": n_avg},
                     ctx.device)
    ctx.check_close("y_t = catalogue formula (S_t / t, S_t = sum_{k<=t} x_k) for t <= N", y, law, atol=ROUNDING,
                    rtol=ROUNDING)
    ctx.check_close("control: y_t = (1/N) sum_{k<=t} x_k", y, x.cumsum(dim=0) / n_avg, atol=ROUNDING,
                    rtol=ROUNDING, control=True)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
