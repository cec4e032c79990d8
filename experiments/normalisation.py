"""Monte Carlo experiments for the batch-statistics claims (emastats/catalogue/normalisation.py).

Batches are drawn with skewed, non-Gaussian entries (centred exponentials), since
the claims assume only iid entries with a variance. The running-variance claim
runs torch's own BatchNorm update (``torch.nn.functional.batch_norm`` in
training mode) with the replicas as channels, so it tests the implementation,
not a re-derivation of it.

Run on its own: ``python experiments/normalisation.py``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from emastats.montecarlo import Context, check_replicas, experiment, skewed
from emastats.results import Series


def _batch_variances(ctx: Context, batch: int, sigma: float, unbiased: bool):
    """A sampler n -> (n,) of batch variances of ``batch`` iid entries, one batch per replica."""

    def sample(n: int) -> torch.Tensor:
        x = skewed((n, batch), ctx.generator, mean=3.0, std=sigma)
        return x.var(dim=1, correction=1 if unbiased else 0)

    return sample


@experiment("batchnorm.variance.biased")
def biased_batch_variance(ctx: Context) -> None:
    sigma = ctx.param("sigma", 2.0)
    ctx.param("entries", "3 + sigma (Exp(1) - 1), iid")
    tol = ctx.tolerance(0.03)
    for batch in (4, 16):
        acc = ctx.moments(_batch_variances(ctx, batch, sigma, unbiased=False), ctx.budget(1 << 17))
        ctx.check_mean(f"E[biased batch variance] = (B-1)/B sigma^2, B = {batch}", acc,
                       (batch - 1) / batch * sigma**2, tol)
        if batch == 4:
            ctx.check_mean("control: E[biased batch variance] = sigma^2, B = 4", acc, sigma**2, tol, control=True)
    ctx.param("B", [4, 16])


@experiment("batchnorm.variance.unbiased")
def unbiased_batch_variance(ctx: Context) -> None:
    sigma = ctx.param("sigma", 2.0)
    ctx.param("entries", "3 + sigma (Exp(1) - 1), iid")
    tol = ctx.tolerance(0.03)
    for batch in (2, 16):
        acc = ctx.moments(_batch_variances(ctx, batch, sigma, unbiased=True), ctx.budget(1 << 18))
        ctx.check_mean(f"E[unbiased batch variance] = sigma^2, B = {batch}", acc, sigma**2, tol)
        if batch == 16:
            ctx.check_mean("control: E[unbiased batch variance] = B/(B-1) sigma^2, B = 16", acc,
                           batch / (batch - 1) * sigma**2, tol, control=True)
    ctx.param("B", [2, 16])


@experiment("batchnorm.running_var")
def running_variance(ctx: Context) -> None:
    p, batch, sigma = ctx.param("momentum p", 0.1), ctx.param("B", 16), ctx.param("sigma", 2.0)
    steps = ctx.param("T", 30)
    ctx.param("update", "torch.nn.functional.batch_norm(training=True), running_var initialised to 1")

    def path(n: int) -> torch.Tensor:
        check_replicas(n)
        running_mean = torch.zeros(n, device=ctx.device)
        running_var = torch.ones(n, device=ctx.device)
        out = torch.empty((n, steps), device=ctx.device)
        for t in range(steps):
            x = skewed((batch, n), ctx.generator, mean=3.0, std=sigma)  # replicas are BatchNorm channels
            F.batch_norm(x, running_mean, running_var, training=True, momentum=p)
            out[:, t] = running_var
        return out

    acc = ctx.moments(path)

    def theory(t: int, factor: float = 1.0) -> float:
        return (1 - p) ** t + (1 - (1 - p) ** t) * factor * sigma**2

    mean, se = acc.mean(), acc.stderr_mean()
    ctx.add_series(Series(name="E[running_var_t]", x_label="t", y_label="E[running_var]",
                          x=tuple(float(t) for t in range(1, steps + 1)), estimate=tuple(mean),
                          ci_low=tuple(mean - 1.96 * se), ci_high=tuple(mean + 1.96 * se),
                          theory=tuple(theory(t) for t in range(1, steps + 1))))
    tol = ctx.tolerance(0.02)
    for t in (1, 5, 30):
        ctx.check_mean(f"E[running_var_t] = (1-p)^t + (1 - (1-p)^t) sigma^2 at t = {t}", acc, theory(t), tol,
                       index=t - 1)
    ctx.check_mean("control: biased batch variance in the update, at t = 30", acc,
                   theory(30, (batch - 1) / batch), tol, index=29, control=True)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
