"""Study ``clipping-bias``: per-example against batch-mean clipping on a real model, and the role of symmetry.

Published relations (Chen, Wu and Hong 2020, "Understanding gradient clipping in
private SGD: a geometric perspective"; DP-SGD: Abadi et al. 2016): averaging
per-example clipped gradients is biased, and the bias comes from the asymmetry
of the per-example gradient distribution: for a distribution symmetric about
the full gradient G the clipped mean stays aligned with G (pointwise,
<G, clip_c(G + xi) + clip_c(G - xi)> >= 0). Clipping the minibatch mean
instead loses its bias as B grows; per-example clipping's expected update does
not depend on B, only its covariance Sigma_c / B shrinks.

Here: SGD (B=32, lr 0.5) on the digits with the 64-32-10 MLP; at checkpoints
the exact per-example gradients give, for thresholds c = q * median |g_i|,
the direction bias 1 - cos(E update, G) of per-example clipping (exact), of the
symmetrised distribution {G +- xi_i} (exact) and of batch-mean clipping
(Monte Carlo over minibatches, noise floor removed); intervals over seeds.

Tests (one family, alpha = 0.05, Holm; engine rules), at the last checkpoint and c = median |g_i|:
* tr Cov of the per-example-clipped minibatch mean = tr Sigma_c / B at the smallest and largest B (10%):
  per-example clipping's noise shrinks as 1/B while its expected update, hence its bias, does not move;
* control: per-example clipping of the actual gradients has no direction bias (1 - cos = 0 within 0.01);
  Chen et al. report a bias, so this should be refuted;
* deterministic: every symmetric pair's clipped sum has <G, .> >= 0 (all seeds, checkpoints, thresholds).
The bias of the symmetrised distribution and of batch-mean clipping are reported with intervals but not
tested against a value: the literature bounds them (descent direction; vanishing as B grows), it does not
give them a value at finite B.
"""
from __future__ import annotations

import math

import numpy as np

from emastats.montecarlo import Context, claim_seed
from emastats.results import Series
from emastats.studies.estimators import seed_interval
from emastats.studies.result import ExactValue, StudyFacts
from emastats.studies.sweep import SweepOptions, run_sweep
from emastats.studies.training import train_cell

TITLE = "Clipping bias on real data: per-example against batch-mean clipping, actual against symmetrised noise"
QUESTION = ("On an MLP trained on the digits, is per-example clipping biased in direction while clipping the "
            "batch mean is not at large B, and does symmetrising the per-example gradients about G remove the "
            "bias (Chen, Wu and Hong 2020)?")
GAP_MARGIN = 0.01  # absolute margin on 1 - cos (cos >= 0.99: within about 8 degrees of G), for the control
TRACE_TOLERANCE = 0.10
BATCH, LR = 32, 0.5

TIERS = {
    "tiny": dict(seeds=2, checkpoints=[0, 40], quantiles=[0.5, 1.0], batches=[8, 64], draws=64),
    "quick": dict(seeds=8, checkpoints=[0, 100, 400], quantiles=[0.25, 0.5, 1.0, 2.0], batches=[8, 32, 128],
                  draws=256),
    "full": dict(seeds=16, checkpoints=[0, 50, 100, 200, 400, 800], quantiles=[0.125, 0.25, 0.5, 1.0, 2.0, 4.0],
                 batches=[4, 8, 16, 32, 64, 128, 256], draws=1024),
}


def tier(ctx: Context) -> str:
    return "tiny" if ctx.replicas < 512 else ("quick" if ctx.quick else "full")


def cells(ctx: Context, grid: dict) -> list[dict]:
    return [dict(key=f"mlp-s{s}", model="mlp", width=32, batch=BATCH, lr=LR, steps=max(grid["checkpoints"]),
                 seed=claim_seed(ctx.seed, f"clipping-bias/mlp-s{s}"),
                 init_seed=claim_seed(ctx.seed, f"clipping-bias/init/{s}"), checkpoints=grid["checkpoints"],
                 pairs=2, b_small=1, b_big=2, clip_quantiles=grid["quantiles"], clip_batches=grid["batches"],
                 clip_draws=grid["draws"], device=ctx.device.type)
            for s in range(grid["seeds"])]


def run(ctx: Context, sweep: SweepOptions | None = None) -> StudyFacts:
    name = tier(ctx)
    grid = TIERS[name]
    ctx.param("tier", name)
    ctx.param("training", f"plain SGD, B={BATCH}, lr={LR}, MLP(64-32-10), float64; digits training half (N=901)")
    for k in ("seeds", "checkpoints", "quantiles", "batches", "draws"):
        ctx.param(k, grid[k])
    ctx.param("threshold", "c = q * median per-example gradient norm at each checkpoint")
    grid_cells = cells(ctx, grid)
    report = run_sweep("clipping-bias", train_cell, grid_cells, sweep or SweepOptions())
    ctx.param("sweep", {"scheduler": report.scheduler, "cells": len(grid_cells), "ran": report.ran,
                        "reused": report.reused, "folder": report.folder})
    snaps = [report.results[c["key"]]["snapshots"] for c in grid_cells]
    seeds, steps, qs, bs = len(snaps), grid["checkpoints"], grid["quantiles"], grid["batches"]
    shape = (seeds, len(steps), len(qs))
    pe_gap, sym_gap, pair_min, frac = (np.empty(shape) for _ in range(4))
    batch_gap, tr_mean, tr_var = (np.empty(shape + (len(bs),)) for _ in range(3))
    for i, run_snaps in enumerate(snaps):
        for k, snap in enumerate(run_snaps):
            for j, row in enumerate(snap["clipping"]):
                pe_gap[i, k, j], sym_gap[i, k, j] = row["gap_per_example"], row["gap_symmetrised"]
                pair_min[i, k, j], frac[i, k, j] = row["min_pair_inner"], row["clipped_fraction"]
                for b, brow in enumerate(row["batches"]):
                    batch_gap[i, k, j, b] = brow["gap_batch_clipping"]
                    tr_mean[i, k, j, b], tr_var[i, k, j, b] = brow["trace_ratio_mean"], brow["trace_ratio_var"]
    last, jq = len(steps) - 1, qs.index(1.0)
    m, se, _, _ = seed_interval(pe_gap[:, last, jq])
    ctx.check_estimate(f"per-example clipping, step {steps[last]}, c = median: 1 - cos(E update, G) = 0",
                       float(m), float(se), 0.0, GAP_MARGIN, scale=1.0, replicas=seeds, df=seeds - 1, control=True,
                       test="t test / t interval over seeds", estimator="mean over seeds of the exact 1 - cos",
                       note="control: Chen et al. (2020) find per-example clipping biased")
    for b in (0, len(bs) - 1):
        means, var = tr_mean[:, last, jq, b], tr_var[:, last, jq, b]
        ctx.check_estimate(
            f"per-example clipping, B={bs[b]}: tr Cov(clipped minibatch mean) / (tr Sigma_c / B)", float(means.mean()),
            math.sqrt(float(var.mean()) / (grid["draws"] * seeds)), 1.0, TRACE_TOLERANCE,
            replicas=grid["draws"] * seeds, test="z test / z interval, pooled standard error over all minibatches",
            estimator=f"mean over {grid['draws']} minibatches x {seeds} seeds of |mean clip(g) - m_c|^2 B / tr Sigma_c")
    worst = float(pair_min.min())
    ctx.check_close("min over seeds, steps, thresholds and pairs of <G, clip(G+xi) + clip(G-xi)> / |G|^2, "
                    "negative part", min(worst, 0.0), 0.0, atol=1e-9, replicas=seeds,
                    note="Chen et al. (2020): clipping a distribution symmetric about G keeps a descent direction")
    # -- figures and findings -----------------------------------------------------------------------
    exact, findings = [], []
    m_pe, _, lo_pe, hi_pe = seed_interval(pe_gap[:, last, jq])
    m_sym = sym_gap[:, last, jq].mean()
    findings.append(f"At step {steps[last]} with c = median |g_i| ({frac[:, last, jq].mean():.0%} of examples "
                    f"clipped), per-example clipping has direction bias 1 - cos = {m_pe:.3g} (95% [{lo_pe:.3g}, "
                    f"{hi_pe:.3g}]), the symmetrised gradients {m_sym:.2g}, batch-mean clipping at B={bs[-1]} "
                    f"{batch_gap[:, last, jq, -1].mean():.2g}.")
    findings.append(f"Smallest normalised symmetric-pair inner product seen: {worst:.3g} (theory: >= 0).")
    for k, step in enumerate(steps):
        for label, rows in (("per-example clipping", pe_gap[:, k, jq]), ("symmetrised", sym_gap[:, k, jq]),
                            (f"batch-mean clipping B={bs[-1]}", batch_gap[:, k, jq, -1])):
            m, _, lo, hi = seed_interval(rows)
            exact.append(ExactValue(f"{label}: 1 - cos, step {step}, c = median", float(m), ci_low=float(lo),
                                    ci_high=float(hi), note="95% t interval over seeds"))
    x_b = tuple(float(b) for b in bs)
    for j, q in enumerate(qs):
        m, _, lo, hi = seed_interval(batch_gap[:, last, j, :])
        ctx.add_series(Series(
            name=f"direction bias against batch size, c = {q:g} x median |g_i|, step {steps[last]}",
            x_label="batch size B", y_label="1 - cos(E update, G)", x=x_b, estimate=tuple(m), ci_low=tuple(lo),
            ci_high=tuple(hi), theory=(float(pe_gap[:, last, j].mean()),) * len(bs),
            theory_label="per-example clipping (exact; independent of B)", log_x=True))
    m, _, lo, hi = seed_interval(pe_gap[:, last, :])
    ctx.add_series(Series(
        name=f"per-example clipping bias against threshold, step {steps[last]}", x_label="c / median |g_i|",
        y_label="1 - cos(E update, G)", x=tuple(float(q) for q in qs), estimate=tuple(m), ci_low=tuple(lo),
        ci_high=tuple(hi), theory=tuple(sym_gap[:, last, :].mean(0)),
        theory_label="symmetrised gradients (Chen et al. 2020)", log_x=True))
    m, _, lo, hi = seed_interval(pe_gap[:, :, jq])
    ctx.add_series(Series(
        name="per-example clipping bias along training, c = median", x_label="SGD step",
        y_label="1 - cos(E update, G)", x=tuple(float(s) for s in steps), estimate=tuple(m), ci_low=tuple(lo),
        ci_high=tuple(hi), theory=tuple(sym_gap[:, :, jq].mean(0)),
        theory_label="symmetrised gradients (Chen et al. 2020)"))
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings))
