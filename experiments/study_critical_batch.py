"""Study ``critical-batch``: the steps-examples trade-off and the critical batch size on the digits.

Published relation (McCandlish, Kaplan, Amodei et al. 2018, "An Empirical Model
of Large-Batch Training", Sec. 2.2 and Fig. 4-6): at the best learning rate for
each batch size B, the steps S and examples E = B S needed to reach a fixed loss
obey (S/S_min - 1)(E/E_min - 1) = 1, i.e. S(B) = S_min (1 + B_crit/B), with the
critical batch size B_crit = E_min / S_min; and B_crit is predicted by the noise
scale B_noise = tr(H Sigma) / (G^T H G) (their eq. 2.7-2.11), of which the simple
noise scale B_simple = tr Sigma / |G|^2 is the approximation for H proportional to
the identity; both are measured exactly where the runs reach the target.

Run: plain SGD on the training half of the digits with a 64-32-10 tanh MLP,
for every (B, learning rate, seed) cell of a grid, until the full training loss
reaches the target (``emastats.studies.training``). The grid runs through
``emastats.studies.sweep`` (serial, a Dask LocalCluster, or a remote scheduler;
results stream into the store and a resumed run skips finished cells).

Tests (one family, alpha = 0.05, Holm; engine rules):
* the frontier's form: S at two held-out batch sizes against the curve fitted
  to the other batch sizes (ratio 1, margin 20%), bootstrap over seeds;
* B_crit against B_simple and against B_noise at the target: log(B_crit / B) = 0
  within log 2 (agreement within a factor of two), bootstrap over seeds for
  B_crit and the seed-to-seed standard error for B_simple / B_noise.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from emastats.montecarlo import Context, claim_seed
from emastats.results import Series
from emastats.studies.estimators import mean_estimate, seed_interval
from emastats.studies.result import ExactValue, StudyFacts
from emastats.studies.sweep import SweepOptions, run_sweep
from emastats.studies.tradeoff import best_steps, bootstrap_tradeoff, fit_tradeoff
from emastats.studies.training import train_cell

TITLE = "Critical batch size on real data: the S-E trade-off and B_crit against B_simple and B_noise"
QUESTION = ("Do steps and examples to a target loss on the digits follow (S/S_min - 1)(E/E_min - 1) = 1 "
            "(McCandlish et al. 2018), and is B_crit = E_min/S_min within a factor of two of the noise scales "
            "B_noise and B_simple at the target?")
FORM_TOLERANCE = 0.20  # relative margin of a held-out S against the fitted frontier
FACTOR = 2.0  # B_crit and B_simple "agree" when within this factor of each other
MODEL, WIDTH = "mlp", 32

TIERS = {  # chosen from the budget before any data are seen
    "tiny": dict(batches=[4, 16, 64, 256], lrs=[0.5, 1.0], seeds=2, target=0.5, steps=1000, resamples=200,
                 reference=16, pairs=8, hvp_examples=32),
    "quick": dict(batches=[4, 8, 16, 32, 64, 128, 256, 512], lrs=[0.25, 0.5, 1.0, 2.0], seeds=4, target=0.15,
                  steps=4000, resamples=1000, reference=32, pairs=16, hvp_examples=128),
    "full": dict(batches=[2, 4, 8, 16, 32, 64, 128, 256, 512], lrs=[0.125, 0.25, 0.5, 1.0, 2.0, 4.0], seeds=8,
                 target=0.1, steps=20000, resamples=2000, reference=32, pairs=16, hvp_examples=None),
}


def tier(ctx: Context) -> str:
    return "tiny" if ctx.replicas < 512 else ("quick" if ctx.quick else "full")


def cells(ctx: Context, grid: dict) -> list[dict]:
    """The (batch, lr, seed) grid; seeds derive from the run seed, the start from the seed index only."""
    out = []
    for s in range(grid["seeds"]):
        init = claim_seed(ctx.seed, f"critical-batch/init/{s}")
        for b in grid["batches"]:
            for lr in grid["lrs"]:
                key = f"B{b}-lr{lr:g}-s{s}"
                cell = dict(key=key, model=MODEL, width=WIDTH, batch=b, lr=lr, steps=grid["steps"],
                            target=grid["target"], seed=claim_seed(ctx.seed, f"critical-batch/{key}"),
                            init_seed=init, record_every=max(1, grid["steps"] // 400), device=ctx.device.type)
                if b == grid["reference"]:
                    cell.update(snapshot_at_target=True, pairs=grid["pairs"], b_small=b, b_big=4 * b, b_noise=True,
                                hvp_examples=grid["hvp_examples"])
                out.append(cell)
    return out


def _small_sample_se(replicates: np.ndarray, seeds: int) -> float:
    """Bootstrap standard error over ``seeds`` resampled seeds, times sqrt(n/(n-1)): the plain bootstrap
    variance is the plug-in one, too small by (n-1)/n, which matters with a handful of seeds."""
    return float(np.std(replicates, ddof=1)) * math.sqrt(seeds / (seeds - 1))


def _t_quantile(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, n - 1))


def run(ctx: Context, sweep: SweepOptions | None = None) -> StudyFacts:
    name = tier(ctx)
    grid = TIERS[name]
    for k in ("batches", "lrs", "seeds", "target", "steps", "resamples", "reference"):
        ctx.param(k if k != "steps" else "max steps", grid[k])
    ctx.param("model", f"MLP(64-{WIDTH}-10), tanh, softmax cross-entropy, float64, plain SGD")
    ctx.param("data", "scikit-learn digits, training half (N=901); loss = full training loss")
    ctx.param("tier", name)
    grid_cells = cells(ctx, grid)
    report = run_sweep("critical-batch", train_cell, grid_cells, sweep or SweepOptions())
    ctx.param("sweep", {"scheduler": report.scheduler, "cells": len(grid_cells), "ran": report.ran,
                        "reused": report.reused, "folder": report.folder})
    batches, lrs, seeds = grid["batches"], grid["lrs"], grid["seeds"]
    steps = np.full((len(batches), len(lrs), seeds), np.inf)
    for c in grid_cells:
        r = report.results[c["key"]]
        if r["steps_to_target"] is not None:
            steps[batches.index(c["batch"]), lrs.index(c["lr"]), int(c["key"].rsplit("s", 1)[1])] = r["steps_to_target"]
    mean_s, best_lr = best_steps(steps)
    b = np.array(batches, dtype=np.float64)
    fit = fit_tradeoff(b, mean_s)
    rng = np.random.default_rng(claim_seed(ctx.seed, "critical-batch/bootstrap"))
    boot = bootstrap_tradeoff(b, steps, grid["resamples"], rng)
    findings = [f"{int(np.isfinite(steps).sum())} of {steps.size} runs reached the target loss {grid['target']}."]
    exact = [ExactValue(label, value, ci_low=float(np.percentile(reps, 2.5)), ci_high=float(np.percentile(reps, 97.5)),
                        note="bootstrap 95% percentile interval over seeds")
             for label, value, reps in (("S_min (fit, steps)", fit.s_min, boot.s_min),
                                        ("E_min (fit, examples)", fit.e_min, boot.e_min))]

    # -- the frontier's form at held-out batch sizes ----------------------------------------------
    held = sorted({2, len(batches) - 3})
    mask = np.ones(len(batches), dtype=bool)
    mask[held] = False
    fit_out = fit_tradeoff(b[mask], mean_s[mask])
    boot_out = bootstrap_tradeoff(b, steps, grid["resamples"], np.random.default_rng(rng.integers(2**63)), mask)
    for i in held:
        pred = float(fit_out.steps(b[i]))
        boot_pred = boot_out.s_min + boot_out.e_min / b[i]
        ratios = boot_out.steps[:, i] / boot_pred
        ratios = ratios[np.isfinite(ratios)]
        if not (fit_out.valid and np.isfinite(mean_s[i]) and ratios.size > 1):
            findings.append(f"B={batches[i]}: no valid held-out prediction (fit or runs failed).")
            continue
        ctx.check_estimate(
            f"S at held-out B={batches[i]} / S predicted by the frontier fitted without it", mean_s[i] / pred,
            _small_sample_se(ratios, seeds), 1.0, FORM_TOLERANCE, replicas=seeds, df=seeds - 1,
            estimator="seed-mean steps at the best lr over S_min + E_min/B fitted to the other batch sizes",
            test=f"t test / t interval ({seeds - 1} df), bootstrap standard error over seeds (lr re-picked, curve "
                 "refitted) times sqrt(n/(n-1))")
    # -- B_crit against B_simple at the target ------------------------------------------------------
    ref = batches.index(grid["reference"])
    ref_lr = lrs[int(best_lr[ref])] if np.isfinite(mean_s[ref]) else None
    b_simple = [snap["b_simple"] for c in grid_cells
                if c["batch"] == grid["reference"] and c["lr"] == ref_lr
                for snap in report.results[c["key"]]["snapshots"]]
    if fit.valid and boot.b_crit.size > 1 and len(b_simple) > 1:
        bs = mean_estimate(torch.tensor(b_simple, dtype=torch.float64))
        log_boot = np.log(boot.b_crit)
        se = math.sqrt(_small_sample_se(log_boot, seeds) ** 2 + (bs.stderr / bs.value) ** 2)
        lo, hi = np.percentile(boot.b_crit, [2.5, 97.5])
        exact += [ExactValue("B_crit = E_min/S_min (fit)", fit.b_crit, ci_low=float(lo), ci_high=float(hi),
                             note=f"bootstrap 95% percentile interval over seeds; "
                                  f"{boot.invalid} of {grid['resamples']} resamples gave no valid fit"),
                  ExactValue("B_simple at the target (mean over seeds)", bs.value,
                             ci_low=bs.value - _t_quantile(len(b_simple)) * bs.stderr,
                             ci_high=bs.value + _t_quantile(len(b_simple)) * bs.stderr,
                             note=f"exact per run; 95% t interval over seeds; B={grid['reference']}, lr={ref_lr}")]
        ctx.check_estimate(
            "log(B_crit / B_simple at the target)", math.log(fit.b_crit / bs.value), se, 0.0,
            math.log(FACTOR), scale=1.0, replicas=seeds, df=seeds - 1,
            estimator="log of the fitted E_min/S_min over the seed-mean exact B_simple where runs hit the target",
            test=f"t test / t interval ({seeds - 1} df), standard error sqrt(n/(n-1) bootstrap var log B_crit "
                 "+ (se B_simple / B_simple)^2)",
            note=f"CONFIRMED means agreement within a factor {FACTOR:g}")
        findings.append(f"B_crit = {fit.b_crit:.3g} (bootstrap 95% [{lo:.3g}, {hi:.3g}]) against B_simple = "
                        f"{bs.value:.3g} at the target: ratio {fit.b_crit / bs.value:.2f}.")
        b_noise = [snap["b_noise"] for c in grid_cells if c["batch"] == grid["reference"] and c["lr"] == ref_lr
                   for snap in report.results[c["key"]]["snapshots"]]
        if len(b_noise) > 1 and all(math.isfinite(v) and v > 0 for v in b_noise):
            bn = mean_estimate(torch.tensor(b_noise, dtype=torch.float64))
            q = _t_quantile(len(b_noise))
            exact.append(ExactValue("B_noise = tr(H Sigma)/(G^T H G) at the target (mean over seeds)", bn.value,
                                    ci_low=bn.value - q * bn.stderr, ci_high=bn.value + q * bn.stderr,
                                    note=f"per run by Hessian-vector products over "
                                         f"{grid['hvp_examples'] or 'all'} examples; 95% t interval over seeds"))
            ctx.check_estimate(
                "log(B_crit / B_noise at the target)", math.log(fit.b_crit / bn.value),
                math.sqrt(_small_sample_se(log_boot, seeds) ** 2 + (bn.stderr / bn.value) ** 2), 0.0,
                math.log(FACTOR), scale=1.0, replicas=seeds, df=seeds - 1,
                estimator="log of the fitted E_min/S_min over the seed-mean exact B_noise where runs hit the target",
                test=f"t test / t interval ({seeds - 1} df), standard error sqrt(n/(n-1) bootstrap var log B_crit "
                     "+ (se B_noise / B_noise)^2)",
                note=f"McCandlish et al.'s model predicts B_crit = B_noise; CONFIRMED means within a factor {FACTOR:g}")
            findings.append(f"B_noise at the target = {bn.value:.3g}: B_crit / B_noise = {fit.b_crit / bn.value:.2f}.")
        else:
            findings.append("B_noise was not positive and finite in every run at the target: not tested.")
    else:
        findings.append("No valid frontier fit or no B_simple at the target: B_crit is not estimated.")
    # -- figures -----------------------------------------------------------------------------------
    finite = np.isfinite(boot.steps).all(0)
    lo_s = np.where(finite, np.percentile(np.where(np.isfinite(boot.steps), boot.steps, np.nan), 2.5, axis=0), np.nan)
    hi_s = np.where(finite, np.percentile(np.where(np.isfinite(boot.steps), boot.steps, np.nan), 97.5, axis=0), np.nan)
    ok = np.isfinite(mean_s) & np.isfinite(lo_s)
    if ok.sum() >= 2 and fit.valid:
        lo_s, hi_s = np.minimum(lo_s, mean_s), np.maximum(hi_s, mean_s)
        ctx.add_series(Series(
            name="steps to the target loss against batch size", x_label="batch size B", y_label="steps S",
            x=tuple(b[ok]), estimate=tuple(mean_s[ok]), ci_low=tuple(lo_s[ok]), ci_high=tuple(hi_s[ok]),
            theory=tuple(float(v) for v in fit.steps(b[ok])), theory_label="S_min (1 + B_crit/B), fitted",
            log_x=True, log_y=True))
        e = b[ok] * mean_s[ok]
        ctx.add_series(Series(
            name="S-E frontier", x_label="examples E = B S", y_label="steps S", x=tuple(e),
            estimate=tuple(mean_s[ok]), ci_low=tuple(lo_s[ok]), ci_high=tuple(hi_s[ok]),
            theory=tuple(float(v) for v in fit.steps_at_examples(e)),
            theory_label="(S/S_min - 1)(E/E_min - 1) = 1, fitted", log_x=True, log_y=True))
    every = grid_cells[0]["record_every"]
    for i, batch in enumerate(batches):
        if not np.isfinite(mean_s[i]):
            continue
        lr = lrs[int(best_lr[i])]
        curves = [report.results[c["key"]]["curve"] for c in grid_cells if c["batch"] == batch and c["lr"] == lr]
        n = min(len(c) for c in curves)
        if n < 2 or len(curves) < 2:
            continue
        mean, _, low, high = seed_interval(np.array([c[:n] for c in curves]))
        ctx.add_series(Series(
            name=f"training loss, B={batch}, lr={lr:g}", x_label="step", y_label="training loss",
            x=tuple(float(every * k) for k in range(n)), estimate=tuple(mean), ci_low=tuple(low),
            ci_high=tuple(high), theory=(grid["target"],) * n, theory_label="target loss", log_y=True))
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings))
