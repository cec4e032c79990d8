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

import torch

from emastats.montecarlo import Context, ema_final, ema_path, experiment, running_average_beta, skewed
from emastats.results import Series

F64 = torch.float64
ROUNDING = 1e-10  # float64 agreement bound for trajectories of <= a few hundred steps of O(1) values


def _series_of_means(name: str, acc, theory: list[float], y_label: str) -> Series:
    """Pointwise 95% z intervals of each component's mean, against theory, for a figure."""
    return Series.with_z_intervals(name, "t", y_label, range(1, len(theory) + 1), acc.mean(), acc.stderr_mean(),
                                   theory)


@experiment("ema.bias.mean")
def ema_bias_mean(ctx: Context) -> None:
    beta, mu, sigma, steps = ctx.param("beta", 0.9), ctx.param("mu", 1.0), ctx.param("sigma", 1.0), 20
    ctx.param("inputs", "mu + sigma (Exp(1) - 1), iid")

    acc = ctx.moments(lambda n: ema_path(skewed((steps, n), ctx.generator, mean=mu, std=sigma), beta).T,
                      ctx.budget(1 << 17))
    theory = [(1 - beta**t) * mu for t in range(1, steps + 1)]
    ctx.add_series(_series_of_means("E[m_t] from m_0 = 0", acc, theory, "E[m_t]"))
    tol = ctx.tolerance(0.02)
    for t in (3, 20):
        ctx.check_mean(f"E[m_t] = (1 - beta^t) mu at t = {t}", acc, (1 - beta**t) * mu, tol, index=t - 1)
    ctx.check_mean("control: exponent t + 1 at t = 3", acc, (1 - beta**4) * mu, tol, index=2, control=True)
    ctx.check_mean("control: unbiased (E[m_t] = mu) at t = 20", acc, mu, tol, index=19, control=True)


@experiment("ema.bias.debias")
def ema_bias_debias(ctx: Context) -> None:
    beta, mu, sigma, steps = ctx.param("beta", 0.9), ctx.param("mu", 1.0), ctx.param("sigma", 1.0), 20
    ctx.param("inputs", "mu + sigma (Exp(1) - 1), iid")
    correction = 1 - beta ** torch.arange(1, steps + 1, dtype=F64, device=ctx.device)

    def debiased(n: int) -> torch.Tensor:
        m = ema_path(skewed((steps, n), ctx.generator, mean=mu, std=sigma), beta)
        return (m.to(F64) / correction[:, None]).T

    acc = ctx.moments(debiased, ctx.budget(1 << 17))
    ctx.add_series(_series_of_means("E[m_t / (1 - beta^t)]", acc, [mu] * steps, "debiased mean"))
    tol = ctx.tolerance(0.02)
    for t in (1, 3, 20):
        ctx.check_mean(f"E[m_t / (1 - beta^t)] = mu at t = {t}", acc, mu, tol, index=t - 1)
    ctx.check_mean("control: divisor 1 - beta^(t+1) is right, at t = 3", acc,
                   mu * (1 - beta**3) / (1 - beta**4), tol, index=2, control=True)


@experiment("ema.unrolled_weights")
def ema_unrolled_weights(ctx: Context) -> None:
    beta, steps, n = ctx.param("beta", 0.8), ctx.param("T", 60), ctx.budget(2048)
    x = torch.randn((steps, n), generator=ctx.generator, device=ctx.device, dtype=F64)
    recursive = ema_path(x, beta)
    t = torch.arange(1, steps + 1, device=ctx.device, dtype=F64)
    lag = t[:, None] - t[None, :]  # t - k
    weights = torch.where(lag >= 0, (1 - beta) * beta ** lag.clamp(min=0), torch.zeros_like(lag))
    ctx.check_close("m_t = (1 - beta) sum_k beta^(t-k) x_k, every t and replica", recursive, weights @ x,
                    atol=ROUNDING, rtol=ROUNDING)
    ctx.check_close("sum_k (1 - beta) beta^(t-k) = 1 - beta^t, every t", weights.sum(dim=1), 1 - beta**t,
                    atol=ROUNDING, rtol=ROUNDING, replicas=1)
    shifted = torch.where(lag >= 0, (1 - beta) * beta ** (lag + 1).clamp(min=0), torch.zeros_like(lag))
    ctx.check_close("control: weights (1 - beta) beta^(t-k+1)", recursive, shifted @ x,
                    atol=ROUNDING, rtol=ROUNDING, control=True)


def _running_average(ctx: Context, n_avg: int, steps: int, sigma: float, n: int) -> torch.Tensor:
    """The running average (beta = 1 - 1/N, zero start) at every t: shape (n, steps)."""
    x = skewed((steps, n), ctx.generator, mean=0.5, std=sigma)
    return ema_path(x, running_average_beta(n_avg)).T


def _running_average_final(ctx: Context, n_avg: int, steps: int, sigma: float, n: int) -> torch.Tensor:
    """The running average after ``steps`` inputs only: shape (n,)."""
    x = skewed((steps, n), ctx.generator, mean=0.5, std=sigma)
    return ema_final(x, running_average_beta(n_avg))


@experiment("ema.running_average.variance.stationary")
def running_average_stationary(ctx: Context) -> None:
    # N = 5: the control sigma^2/(2N) is then 10% off, which a quick run can still refute
    n_avg, sigma = ctx.param("N", 5), ctx.param("sigma", 1.5)
    steps = ctx.param("t (burn-in, (1-1/N)^(2t) < 1e-9)", 12 * n_avg)
    ctx.param("inputs", "0.5 + sigma (Exp(1) - 1), iid")
    acc = ctx.moments(lambda n: _running_average_final(ctx, n_avg, steps, sigma, n), ctx.budget(1 << 17))
    theory = sigma**2 / ((2 - 1 / n_avg) * n_avg)
    tol = ctx.tolerance(0.04)
    ctx.check_variance("Var[m_inf] = sigma^2 / ((2 - 1/N) N)", acc, theory, tol)
    ctx.check_variance("control: Var[m_inf] = sigma^2 / (2N)", acc, sigma**2 / (2 * n_avg), tol, control=True)


@experiment("ema.running_average.variance.finite_t")
def running_average_finite_t(ctx: Context) -> None:
    n_avg, sigma, steps = ctx.param("N", 10), ctx.param("sigma", 1.5), 30
    ctx.param("inputs", "0.5 + sigma (Exp(1) - 1), iid")
    beta = running_average_beta(n_avg)
    acc = ctx.moments(lambda n: _running_average(ctx, n_avg, steps, sigma, n), ctx.budget(1 << 17))

    def theory(t: int, exponent: int = 2) -> float:
        return (1 - beta ** (exponent * t)) / ((2 - 1 / n_avg) * n_avg) * sigma**2

    ctx.add_series(Series.with_z_intervals("Var[m_t] from m_0 = 0", "t", "Var[m_t]", range(1, steps + 1),
                                           acc.variance(), acc.stderr_variance(),
                                           [theory(t) for t in range(1, steps + 1)]))
    # t >= 3: at t = 1 the average is a single skewed input (kurtosis 9) and its variance needs 4x the replicas
    tol = ctx.tolerance(0.04)
    for t in (3, 10, 30):
        ctx.check_variance(f"Var[m_t] = (1 - (1-1/N)^(2t)) sigma^2 / ((2 - 1/N) N) at t = {t}", acc, theory(t),
                           tol, index=t - 1)
    ctx.check_variance("control: exponent t instead of 2t, at t = 5", acc, theory(5, exponent=1), tol,
                       index=4, control=True)


@experiment("ema.running_average.versus_plain")
def running_average_versus_plain(ctx: Context) -> None:
    # a small N, where 1/(2 - 1/N) is far from the large-N limit 1/2 that the control asserts
    n_avg, sigma = ctx.param("N", 4), ctx.param("sigma", 1.5)
    steps = ctx.param("t (burn-in, (1-1/N)^(2t) < 1e-9)", 12 * n_avg)
    ctx.param("inputs", "0.5 + sigma (Exp(1) - 1), iid")
    replicas = ctx.budget(1 << 17)
    running = ctx.moments(lambda n: _running_average_final(ctx, n_avg, steps, sigma, n), replicas)
    plain = ctx.moments(lambda n: skewed((n, n_avg), ctx.generator, mean=0.5, std=sigma).mean(dim=1), replicas)
    # ratio of two independent variance estimates; delta method: relative variances add
    v_run, v_plain = running.variance()[0], plain.variance()[0]
    ratio = v_run / v_plain
    rel = ((running.stderr_variance()[0] / v_run) ** 2 + (plain.stderr_variance()[0] / v_plain) ** 2) ** 0.5
    tol = ctx.tolerance(0.05)  # a ratio of two variances: its standard error is sqrt(2) times theirs
    common = dict(replicas=replicas, estimator="ratio of the sample variances of the running and the plain "
                  "N-average (independent runs)", test="z interval, delta-method standard error from the "
                  "fourth-moment standard errors of both variances")
    ctx.check_estimate("Var[running] / Var[plain N-average] = 1 / (2 - 1/N)", ratio, ratio * rel,
                       1 / (2 - 1 / n_avg), tol, **common)
    ctx.check_estimate("control: ratio = 1/2 exactly (the large-N limit, 12.5% off at N = 4)", ratio,
                       ratio * rel, 0.5, tol, control=True, **common)


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
    ctx.check_close("y_t -> N c", y, sizes * c, atol=1e-9, rtol=1e-9, replicas=n)
    ctx.check_close("control: y_t -> (N - 1) c", y, (sizes - 1) * c, atol=1e-9, rtol=1e-9, replicas=n,
                    control=True)


@experiment("ema.unnormalised_sum.scaled")
def unnormalised_sum_scaled(ctx: Context) -> None:
    n_avg, steps, n = ctx.param("N", 7), ctx.param("T", 100), ctx.budget(2048)
    x = torch.randn((steps, n), generator=ctx.generator, device=ctx.device, dtype=F64)
    beta = running_average_beta(n_avg)
    y = torch.zeros_like(x[0])
    unnormalised = torch.empty_like(x)
    for t in range(steps):
        y = beta * y + x[t]
        unnormalised[t] = y
    mu = ema_path(x, beta)  # mu_t = (1 - 1/N) mu_{t-1} + x_t / N
    ctx.check_close("y_t = N mu_t, every t and replica", unnormalised, n_avg * mu, atol=ROUNDING, rtol=ROUNDING)
    ctx.check_close("control: y_t = (N - 1) mu_t", unnormalised, (n_avg - 1) * mu, atol=ROUNDING, rtol=ROUNDING,
                    control=True)


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
    ctx.check_close("y_t = c for every t >= 1", y, c.expand(steps, n), atol=ROUNDING, rtol=ROUNDING)
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
    ctx.check_close("y_t = (1/t) sum_{k<=t} x_k for t <= N", y, x.cumsum(dim=0) / t, atol=ROUNDING, rtol=ROUNDING)
    ctx.check_close("control: y_t = (1/N) sum_{k<=t} x_k", y, x.cumsum(dim=0) / n_avg, atol=ROUNDING,
                    rtol=ROUNDING, control=True)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
