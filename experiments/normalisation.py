"""Monte Carlo experiments for the batch-statistics claims (emastats/catalogue/normalisation.py).

Batches are drawn with skewed, non-Gaussian entries (centred exponentials), since
the claims assume only iid entries with a variance. The running-variance claim
runs torch's own BatchNorm update (``torch.nn.functional.batch_norm`` in
training mode) with the replicas as channels, so it tests the implementation,
not a re-derivation of it.

Run on its own: ``python experiments/normalisation.py``.
"""
from __future__ import annotations

from collections.abc import Callable

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


def _check_batch_variance_mean(ctx: Context, *, unbiased: bool, batches: tuple[int, ...], replicas_full: int,
                               claim: str, theory: Callable[[int, float], float], control_batch: int,
                               control_claim: str, control: Callable[[int, float], float]) -> None:
    """E[batch variance] = ``theory(B, sigma)`` ("``claim``, B = ..."), for each B in ``batches``.

    At ``control_batch`` the wrong ``control(B, sigma)`` is checked too and must be REFUTED.
    """
    sigma = ctx.param("sigma", 2.0)
    ctx.param("entries", "3 + sigma (Exp(1) - 1), iid")
    tol = ctx.tolerance(0.03)
    for batch in batches:
        acc = ctx.moments(_batch_variances(ctx, batch, sigma, unbiased=unbiased), ctx.budget(replicas_full))
        ctx.check_mean(f"{claim}, B = {batch}", acc, theory(batch, sigma), tol)
        if batch == control_batch:
            ctx.check_mean(f"control: {control_claim}, B = {batch}", acc, control(batch, sigma), tol, control=True)
    ctx.param("B", list(batches))


@experiment("batchnorm.variance.biased")
def biased_batch_variance(ctx: Context) -> None:
    _check_batch_variance_mean(
        ctx, unbiased=False, batches=(4, 16), replicas_full=1 << 17,
        claim="E[biased batch variance] = (B-1)/B sigma^2", theory=lambda b, sigma: (b - 1) / b * sigma**2,
        control_batch=4, control_claim="E[biased batch variance] = sigma^2", control=lambda b, sigma: sigma**2)


@experiment("batchnorm.variance.unbiased")
def unbiased_batch_variance(ctx: Context) -> None:
    _check_batch_variance_mean(
        ctx, unbiased=True, batches=(2, 16), replicas_full=1 << 18,
        claim="E[unbiased batch variance] = sigma^2", theory=lambda b, sigma: sigma**2,
        control_batch=16, control_claim="E[unbiased batch variance] = B/(B-1) sigma^2",
        control=lambda b, sigma: b / (b - 1) * sigma**2)


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

    ctx.add_series(Series.with_z_intervals("E[running_var_t]", "t", "E[running_var]", range(1, steps + 1),
                                           acc.mean(), acc.stderr_mean(), [theory(t) for t in range(1, steps + 1)]))
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
