"""Monte Carlo experiments for the batch-statistics claims (emastats/catalogue/normalisation.py).

Batches are drawn with skewed, non-Gaussian entries (centred exponentials), since
the claims assume only iid entries with a variance. The running-variance claim
runs torch's own BatchNorm update (``torch.nn.functional.batch_norm`` in
training mode) with the replicas as channels, so it tests the implementation,
not a re-derivation of it.

Run on its own: ``python experiments/normalisation.py``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from emastats.experiments._sweep import grid_series, label, record_grid, rel_se_mean, sized
from emastats.montecarlo import Context, check_replicas, experiment, skewed


def _batch_variances(ctx: Context, batch: int, sigma: float, unbiased: bool):
    """A sampler n -> (n,) of batch variances of ``batch`` iid entries, one batch per replica."""

    def sample(n: int) -> torch.Tensor:
        x = skewed((n, batch), ctx.generator, mean=3.0, std=sigma)
        return x.var(dim=1, correction=1 if unbiased else 0)

    return sample


# B in {2, 5, 16}, sigma^2 in {0.25, 4, 9}: (B-1)/B against B/(B+1), 1, (B-2)/(B-1)... differ at every B
BATCH_GRID = ({"B": 2, "sigma^2": 4.0}, {"B": 5, "sigma^2": 0.25}, {"B": 16, "sigma^2": 9.0})


def _check_batch_variance_mean(ctx: Context, *, unbiased: bool, what: str, control_at: int, shift: float) -> None:
    """E[batch variance] = the catalogue's formula at each grid point; a control 1.5 margins off at one point."""
    ctx.param("entries", "3 + sigma (Exp(1) - 1), iid")
    record_grid(ctx, BATCH_GRID)
    for k, point in enumerate(BATCH_GRID):
        theory = ctx.formula(**point)
        acc = sized(ctx, _batch_variances(ctx, point["B"], math.sqrt(point["sigma^2"]), unbiased=unbiased),
                    rel_se_mean())
        ctx.check_mean(f"E[{what}] = catalogue formula at {label(point)}", acc, theory, ctx.margin, point=point)
        if k == control_at:
            ctx.check_mean(f"control: formula x (1 {'+' if shift > 0 else '-'} 1.5 margins) at {label(point)}", acc,
                           theory, ctx.margin, point=point, shift=shift)
    grid_series(ctx, f"E[{what}] over the grid", "E[batch variance]")


@experiment("batchnorm.variance.biased")
def biased_batch_variance(ctx: Context) -> None:
    _check_batch_variance_mean(ctx, unbiased=False, what="biased batch variance", control_at=0, shift=1.5)


@experiment("batchnorm.variance.unbiased")
def unbiased_batch_variance(ctx: Context) -> None:
    _check_batch_variance_mean(ctx, unbiased=True, what="unbiased batch variance", control_at=2, shift=-1.5)


# p in {0.05, 0.1, 0.3}, t in {1, 5, 30}, sigma^2 in {0.25, 4, 9} (sigma^2 != 1, where the start hides the law)
RUNNING_VAR_GRID = ({"p": 0.3, "t": 1, "sigma^2": 4.0}, {"p": 0.1, "t": 5, "sigma^2": 0.25},
                    {"p": 0.05, "t": 30, "sigma^2": 9.0}, {"p": 0.3, "t": 5, "sigma^2": 9.0})


@experiment("batchnorm.running_var")
def running_variance(ctx: Context) -> None:
    batch = ctx.param("B", 16)
    ctx.param("update", "torch.nn.functional.batch_norm(training=True), running_var initialised to 1")
    record_grid(ctx, RUNNING_VAR_GRID)

    def final(n: int, p: float, steps: int, sigma: float) -> torch.Tensor:
        check_replicas(n)
        running_mean = torch.zeros(n, device=ctx.device)
        running_var = torch.ones(n, device=ctx.device)
        for _ in range(steps):
            x = skewed((batch, n), ctx.generator, mean=3.0, std=sigma)  # replicas are BatchNorm channels
            F.batch_norm(x, running_mean, running_var, training=True, momentum=p)
        return running_var

    for k, point in enumerate(RUNNING_VAR_GRID):
        theory = ctx.formula(**point)
        sampler = lambda n, pt=point: final(n, pt["p"], pt["t"], math.sqrt(pt["sigma^2"]))
        acc = sized(ctx, sampler, rel_se_mean())
        ctx.check_mean(f"E[running_var_t] = catalogue formula at {label(point)}", acc, theory, ctx.margin,
                       point={**point, "B": batch})
        if k == 1:
            ctx.check_mean(f"control: formula x (1 + 1.5 margins) at {label(point)}", acc, theory, ctx.margin,
                           point={**point, "B": batch}, shift=1.5)
    grid_series(ctx, "E[running_var_t] over the grid", "E[running_var_t]")


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
