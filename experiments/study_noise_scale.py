"""Study ``noise-scale``: the gradient noise scale B_simple along training, exactly and by the two-batch estimator.

Published relations (McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model
of Large-Batch Training"): the simple noise scale B_simple = tr Sigma / |G|^2
(their eq. 2.8; Sigma the per-example gradient covariance, G the full-batch
gradient), estimated in practice from minibatch gradient norms at two batch
sizes b < B (their App. A): with replacement E|G_B|^2 = |G|^2 + tr Sigma / B, so

    |G|^2_est = (B |G_B|^2 - b |G_b|^2) / (B - b),   tr S_est = (|G_b|^2 - |G_B|^2) / (1/b - 1/B)

are unbiased, and B_simple is estimated by the ratio of their averages. They
also report that the noise scale grows as training proceeds (their Sec. 3).

Here: SGD (B=32) on the training half of the digits with a 64-32-10 MLP and a
small CNN; at checkpoints along training all N=901 per-example gradients are
computed exactly (torch.func), giving the exact tr Sigma (1/N convention),
|G|^2 and B_simple, plus many two-batch pairs. Intervals are over seeds
(independent starts and minibatch orders).

Tests (one family, alpha = 0.05, Holm; engine rules): unbiasedness of the two
App. A estimators at the first and last checkpoint (mean of
estimate/exact = 1 within 10%), the ratio-of-means B_simple at the last
checkpoint against the exact value (10%), and a control "B_simple does not
change between the first and last checkpoint" that a growth or fall refutes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from emastats.montecarlo import Context, claim_seed
from emastats.results import Series
from emastats.studies.estimators import mean_estimate, seed_interval, two_batch_parts
from emastats.studies.result import ExactValue, StudyFacts
from emastats.studies.sweep import SweepOptions, run_sweep
from emastats.studies.training import train_cell

TITLE = "Gradient noise scale along training on real data: exact B_simple and the two-batch estimator"
QUESTION = ("Along SGD training of an MLP and a CNN on the digits, how do tr Sigma, |G|^2 and B_simple = "
            "tr Sigma/|G|^2 evolve, are the two-batch estimators of McCandlish et al. (2018, App. A) unbiased, "
            "and does B_simple change over training?")
TOLERANCE = 0.10
BATCH, LR = 32, 0.5
MODELS = (("mlp", 32), ("cnn", 4))

TIERS = {
    "tiny": dict(seeds=2, checkpoints=[0, 20, 60], pairs=32, b_small=8, b_big=256, models=MODELS[:1]),
    "quick": dict(seeds=6, checkpoints=[0, 50, 100, 200, 400, 800], pairs=128, b_small=8, b_big=512,
                  models=MODELS),
    "full": dict(seeds=16, checkpoints=[0, 25, 50, 100, 200, 400, 800, 1600, 3200], pairs=512, b_small=8,
                 b_big=512, models=MODELS),
}


def tier(ctx: Context) -> str:
    return "tiny" if ctx.replicas < 512 else ("quick" if ctx.quick else "full")


def cells(ctx: Context, grid: dict) -> list[dict]:
    out = []
    for model, width in grid["models"]:
        for s in range(grid["seeds"]):
            key = f"{model}-s{s}"
            out.append(dict(key=key, model=model, width=width, batch=BATCH, lr=LR, steps=max(grid["checkpoints"]),
                            seed=claim_seed(ctx.seed, f"noise-scale/{key}"),
                            init_seed=claim_seed(ctx.seed, f"noise-scale/init/{key}"),
                            checkpoints=grid["checkpoints"], pairs=grid["pairs"], b_small=grid["b_small"],
                            b_big=grid["b_big"], device=ctx.device.type))
    return out


def run(ctx: Context, sweep: SweepOptions | None = None) -> StudyFacts:
    name = tier(ctx)
    grid = TIERS[name]
    ctx.param("tier", name)
    ctx.param("training", f"plain SGD, B={BATCH}, lr={LR}, batches without replacement, float64")
    ctx.param("data", "scikit-learn digits, training half (N=901); exact per-example gradients on all of it")
    for k in ("seeds", "checkpoints", "pairs", "b_small", "b_big"):
        ctx.param(k, grid[k])
    grid_cells = cells(ctx, grid)
    report = run_sweep("noise-scale", train_cell, grid_cells, sweep or SweepOptions())
    ctx.param("sweep", {"scheduler": report.scheduler, "cells": len(grid_cells), "ran": report.ran,
                        "reused": report.reused, "folder": report.folder})
    steps = grid["checkpoints"]
    tested = [0, len(steps) - 1]  # first and last checkpoint: fewer checks, narrower simultaneous intervals
    exact, findings = [], []
    for model, _ in grid["models"]:
        runs = [report.results[c["key"]]["snapshots"] for c in grid_cells if c["model"] == model]
        runs = [r for r in runs if len(r) == len(steps)]  # a diverged run stops early; none did in development
        label = "MLP(64-32-10)" if model == "mlp" else "CNN(conv3x3x4-pool-10)"
        if len(runs) < 2:
            findings.append(f"{label}: fewer than two runs reached the last checkpoint; nothing tested.")
            continue
        trace = np.array([[s["trace"] for s in r] for r in runs])
        g2 = np.array([[s["g2"] for s in r] for r in runs])
        loss = np.array([[s["loss"] for s in r] for r in runs])
        bsim = trace / g2
        est_bsim = np.empty_like(bsim)
        for k, step in enumerate(steps):
            parts = [two_batch_parts(torch.tensor(r[k]["small_sq"], dtype=torch.float64),
                                     torch.tensor(r[k]["big_sq"], dtype=torch.float64), grid["b_small"],
                                     grid["b_big"]) for r in runs]
            est_bsim[:, k] = [float(p.trace.mean() / p.gradient_sq.mean()) for p in parts]
            if k in tested:
                tr_ratio = torch.cat([p.trace / trace[i, k] for i, p in enumerate(parts)])
                g_ratio = torch.cat([p.gradient_sq / g2[i, k] for i, p in enumerate(parts)])
                how = f"{grid['pairs']} pairs (b={grid['b_small']}, B={grid['b_big']}) x {len(runs)} seeds"
                ctx.check_mean(f"{label}, step {step}: tr S_est / tr Sigma (App. A, unbiased)", tr_ratio, 1.0,
                               TOLERANCE, estimator=f"mean of two-batch trace estimate / exact trace, {how}")
                ctx.check_mean(f"{label}, step {step}: |G|^2_est / |G|^2 (App. A, unbiased)", g_ratio, 1.0,
                               TOLERANCE, estimator=f"mean of two-batch |G|^2 estimate / exact |G|^2, {how}")
        last = len(steps) - 1
        rel = mean_estimate(torch.tensor(est_bsim[:, last] / bsim[:, last]))
        ctx.check_estimate(f"{label}, step {steps[last]}: B_simple ratio-of-means estimate / exact", rel.value,
                           rel.stderr, 1.0, TOLERANCE, replicas=len(runs), df=len(runs) - 1,
                           estimator=f"per seed: mean tr S_est / mean |G|^2_est over {grid['pairs']} pairs, "
                                     "divided by the exact B_simple; mean over seeds",
                           test="t test / t interval over seeds")
        growth = mean_estimate(torch.tensor(np.log(bsim[:, last] / bsim[:, 0])))
        ctx.check_estimate(f"{label}: log(B_simple at step {steps[last]} / at step 0) = 0 (no change)",
                           growth.value, growth.stderr, 0.0, TOLERANCE, scale=1.0, replicas=len(runs),
                           df=len(runs) - 1, control=True, estimator="mean over seeds of the log ratio of exact "
                           "B_simple", test="t test / t interval over seeds",
                           note="control: the published observation is that the noise scale changes (grows) "
                                "over training, so 'no change' should be refuted")
        peak = int(np.argmax(bsim.mean(0)))
        findings.append(
            f"{label}: B_simple goes from {bsim[:, 0].mean():.3g} at step 0 to {bsim[:, last].mean():.3g} at step "
            f"{steps[last]} (factor {math.exp(growth.value):.2f}, training loss {loss[:, 0].mean():.2f} -> "
            f"{loss[:, last].mean():.3f}); its seed-mean peaks at step {steps[peak]} ({bsim[:, peak].mean():.3g}).")
        x = tuple(float(s) for s in steps)
        m, _, lo, hi = seed_interval(bsim)
        exact += [ExactValue(f"{label}: B_simple at step {s} (seed mean)", float(m[k]), ci_low=float(lo[k]),
                             ci_high=float(hi[k]), note="exact per seed; pointwise 95% t interval over seeds")
                  for k, s in enumerate(steps) if k in tested]
        ctx.add_series(Series(name=f"{label}: B_simple along training", x_label="SGD step",
                              y_label="B_simple = tr Sigma / |G|^2", x=x, estimate=tuple(m), ci_low=tuple(lo),
                              ci_high=tuple(hi), theory=tuple(est_bsim.mean(0)),
                              theory_label="two-batch estimate (McCandlish et al. App. A)", log_y=True))
        for arr, what in ((trace, "tr Sigma"), (g2, "|G|^2")):
            m, _, lo, hi = seed_interval(arr)
            ctx.add_series(Series(name=f"{label}: {what} along training", x_label="SGD step", y_label=what, x=x,
                                  estimate=tuple(m), ci_low=tuple(np.maximum(lo, m * 1e-3)), ci_high=tuple(hi),
                                  log_y=True))
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings))
