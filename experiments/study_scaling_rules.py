"""Study ``scaling-rules``: the SGD linear rule and the Adam square-root rule on the digits, and where they break.

Published relations:
* SGD, linear scaling rule (Goyal et al. 2017; the SDE view with temperature
  eta/B: Smith and Le 2018, Jastrzebski et al. 2017): multiplying the batch
  size by k and the learning rate by k leaves the training curve, as a function
  of examples seen, unchanged while eta is small;
* Adam, square-root scaling rule (Malladi, Lyu, Panigrahi and Arora 2022, "On
  the SDEs and scaling rules for adaptive gradient algorithms"): batch k B with
  eta sqrt(k), 1 - beta1 and 1 - beta2 times k, and eps / sqrt(k).
Both are first-order (small eta) approximations: they should hold for small
base learning rates and break as eta grows. The square-root rule's derivation
also assumes that minibatch noise dominates the mean gradient (B well below
the noise scale B_simple); the ``noise-scale`` study measures B_simple ~ 40 at
the start of training on this model, so k B0 = 64 is outside that regime early
on, and the rule is tested there as it would be used.

Here: the 64-32-10 MLP on the digits' training half, baseline B0 = 16 for T0
steps, scaled run B = k B0 for T0/k steps (k = 4), the same start per seed
(common random numbers), independent minibatches. Trajectory statistic: the
training loss after the same number of examples E = T0 B0, compared as
log(L_scaled / L_baseline) (paired by seed), and the whole loss curve at
matched examples in the figures.

Tests (one family, alpha = 0.05, Holm; engine rules): for every base
learning rate on each optimizer's ladder, log(L_scaled / L_base) = 0 within
log 1.1 (the scaled run's loss within 10%), t test over seeds; runs that
diverge are reported, not tested. Controls: the same runs without the rule
(k B, T0/k steps, unchanged hyperparameters) must be refuted.
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

TITLE = "Scaling rules on real data: SGD linear rule and Adam square-root rule, and where they break"
QUESTION = ("When the batch grows k-fold, does SGD with eta x k (Goyal et al. 2017) and Adam with eta x sqrt(k), "
            "1 - beta x k, eps / sqrt(k) (Malladi et al. 2022) reach the same training loss after the same number "
            "of examples, and at which base learning rate does each rule break?")
MARGIN = math.log(1.1)  # the scaled run's loss within 10% of the baseline's
B0, K = 16, 4
ADAM = dict(beta1=0.9, beta2=0.999, eps=1e-8)

TIERS = {
    "tiny": dict(seeds=2, steps=80, sgd=[0.125, 0.25, 2.0], adam=[0.003], records=4),
    "quick": dict(seeds=5, steps=800, sgd=[0.03125, 0.0625, 0.125, 0.25, 0.5], adam=[0.0003, 0.001, 0.003, 0.01],
                  records=8),
    "full": dict(seeds=12, steps=3200, sgd=[0.015625, 0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0],
                 adam=[0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03], records=16),
}


def tier(ctx: Context) -> str:
    return "tiny" if ctx.replicas < 512 else ("quick" if ctx.quick else "full")


def _scaled(optimizer: str, lr: float, rule: bool) -> dict:
    """Hyperparameters of the k B run: the rule's, or (control) the baseline's unchanged."""
    if optimizer == "sgd":
        return dict(optimizer="sgd", lr=lr * K if rule else lr)
    if not rule:
        return dict(optimizer="adam", lr=lr, **ADAM)
    return dict(optimizer="adam", lr=lr * math.sqrt(K), beta1=1 - K * (1 - ADAM["beta1"]),
                beta2=1 - K * (1 - ADAM["beta2"]), eps=ADAM["eps"] / math.sqrt(K))


def cells(ctx: Context, grid: dict) -> list[dict]:
    out = []
    steps, rec = grid["steps"], grid["steps"] // grid["records"]
    controls = {"sgd": grid["sgd"][len(grid["sgd"]) // 2], "adam": grid["adam"][len(grid["adam"]) // 2]}
    for s in range(grid["seeds"]):
        init = claim_seed(ctx.seed, f"scaling-rules/init/{s}")
        for optimizer in ("sgd", "adam"):
            for lr in grid[optimizer]:
                base = dict(optimizer=optimizer, lr=lr, **(ADAM if optimizer == "adam" else {}))
                runs = [("base", base, B0, steps, rec), ("rule", _scaled(optimizer, lr, True), K * B0, steps // K,
                                                         rec // K)]
                if lr == controls[optimizer]:
                    runs.append(("none", _scaled(optimizer, lr, False), K * B0, steps // K, rec // K))
                for kind, hyper, batch, n, every in runs:
                    key = f"{optimizer}-lr{lr:g}-{kind}-s{s}"
                    out.append(dict(hyper, key=key, model="mlp", width=32, batch=batch, steps=n, record_every=every,
                                    seed=claim_seed(ctx.seed, f"scaling-rules/{key}"), init_seed=init, device=ctx.device.type,
                                    base_lr=lr, kind=kind, seed_index=s))
    return out


def _finished(curve: list[float], points: int) -> bool:
    """The run recorded every point with a finite loss (a diverged run stops early)."""
    return len(curve) == points and all(map(math.isfinite, curve))


def run(ctx: Context, sweep: SweepOptions | None = None) -> StudyFacts:
    name = tier(ctx)
    grid = TIERS[name]
    ctx.param("tier", name)
    ctx.param("setup", f"MLP(64-32-10) on the digits' training half, baseline B={B0} for {grid['steps']} steps, "
                       f"scaled B={K * B0} for {grid['steps'] // K} steps, k={K}, Adam baseline {ADAM}")
    for k in ("seeds", "sgd", "adam"):
        ctx.param(f"base learning rates ({k})" if k != "seeds" else k, grid[k])
    grid_cells = cells(ctx, grid)
    report = run_sweep("scaling-rules", train_cell, grid_cells, sweep or SweepOptions())
    ctx.param("sweep", {"scheduler": report.scheduler, "cells": len(grid_cells), "ran": report.ran,
                        "reused": report.reused, "folder": report.folder})
    res = {(c["optimizer"], c["base_lr"], c["kind"], c["seed_index"]): report.results[c["key"]] for c in grid_cells}
    seeds, points = grid["seeds"], grid["records"] + 1
    exact, findings = [], []
    rule_name = {"sgd": "SGD linear rule (eta x k)", "adam": "Adam square-root rule"}

    def final_logs(optimizer: str, lr: float, kind: str) -> np.ndarray | None:
        rows = []
        for s in range(seeds):
            a, b = res[(optimizer, lr, "base", s)]["curve"], res[(optimizer, lr, kind, s)]["curve"]
            if not (_finished(a, points) and _finished(b, points)):
                return None  # a run diverged (stopped early): the rule is broken here, nothing to test
            rows.append(math.log(b[-1] / a[-1]))
        return np.array(rows)

    for optimizer in ("sgd", "adam"):
        lrs, est, lo, hi, held = grid[optimizer], [], [], [], []
        for lr in lrs:
            logs = final_logs(optimizer, lr, "rule")
            if logs is None:
                findings.append(f"{rule_name[optimizer]}: at base eta {lr:g} a run diverged; the rule breaks.")
                broken = sum(not _finished(res[(optimizer, lr, kind, s)]["curve"], points)
                             for s in range(seeds) for kind in ("base", "rule"))
                exact.append(ExactValue(f"{rule_name[optimizer]}, base eta {lr:g}: runs diverged (of {2 * seeds})",
                                        float(broken), note="training loss doubled; this learning rate is not tested"))
                continue
            m, se, a, b = seed_interval(logs)
            ctx.check_estimate(f"{rule_name[optimizer]}, base eta {lr:g}: log(L_scaled / L_base) at equal examples",
                               float(m), float(se), 0.0, MARGIN, scale=1.0, replicas=seeds, df=seeds - 1,
                               test="t test / t interval over seeds (paired by start)",
                               estimator="mean over seeds of the log ratio of training losses after "
                                         f"{grid['steps'] * B0} examples")
            est.append(float(m)), lo.append(float(a)), hi.append(float(b)), held.append(lr)
        if held:
            ctx.add_series(Series(
                name=f"{rule_name[optimizer]}: loss ratio at equal examples against the base learning rate",
                x_label="base learning rate eta", y_label="log(L_scaled / L_base)", x=tuple(held),
                estimate=tuple(est), ci_low=tuple(lo), ci_high=tuple(hi), theory=(0.0,) * len(held),
                theory_label="rule holds exactly (ratio 1)", log_x=True))
            inside = [lr for lr, m in zip(held, est) if abs(m) < MARGIN]
            findings.append(f"{rule_name[optimizer]}: mean loss ratio within 10% at base eta "
                            f"{', '.join(f'{v:g}' for v in inside) or 'none'} of {', '.join(f'{v:g}' for v in lrs)} "
                            "(descriptive; the decisions are in the table).")
        control_lr = lrs[len(lrs) // 2]
        logs = final_logs(optimizer, control_lr, "none")
        if logs is not None:
            m, se, _, _ = seed_interval(logs)
            ctx.check_estimate(f"{optimizer.upper()} without any rule (k B, same hyperparameters), base eta "
                               f"{control_lr:g}: log(L_scaled / L_base) = 0", float(m), float(se), 0.0, MARGIN,
                               scale=1.0, replicas=seeds, df=seeds - 1, control=True,
                               test="t test / t interval over seeds (paired by start)",
                               estimator="mean over seeds of the log ratio of training losses at equal examples")
        # loss against examples, baseline against the rule, at the smallest base learning rate
        lr = lrs[0]
        base = [res[(optimizer, lr, "base", s)]["curve"] for s in range(seeds)]
        scaled = [res[(optimizer, lr, "rule", s)]["curve"] for s in range(seeds)]
        if all(len(c) == points for c in base + scaled):
            m, _, a, b = seed_interval(np.array(scaled))
            e = grid["steps"] // grid["records"] * B0
            ctx.add_series(Series(
                name=f"{rule_name[optimizer]}: training loss against examples, base eta {lr:g}",
                x_label="examples seen", y_label="training loss", x=tuple(float(e * i) for i in range(points)),
                estimate=tuple(m), ci_low=tuple(a), ci_high=tuple(b), theory=tuple(np.array(base).mean(0)),
                theory_label=f"baseline B={B0} (the rule predicts the same curve)", log_y=True))
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings))
