"""Study ``sgd-noise``: minibatch gradient noise on real data, against Sigma/B and the finite-population factor.

Data: the Spector-Mazzeo grade data bundled with statsmodels (N = 32), fitted by
logistic regression and by a small tanh MLP (``emastats.studies.models``), each
at the start of training (logistic: w = 0; MLP: a seeded Glorot start), where
the full-batch gradient G is far from zero. Exact per-example gradients
(torch.func) give G, Sigma (1/N convention), tr Sigma and the simple noise scale
B_simple = tr Sigma / |G|^2.

Measured, for B = 1, 2, 4, ..., N/2 with and without replacement:
E|g_B - G|^2 = tr Cov(g_B) (G is known exactly, so the mean of |g_B - G|^2 is an
unbiased estimate of the trace), against tr Sigma / B and tr Sigma / B (N-B)/(N-1),
and the log-log slope of the trace in B (theory -1; without replacement the
trace is regressed on B (N-1)/(N-B), also slope -1). Then B_simple from two
batch sizes only, as large-batch training papers estimate it, with the bias of
the ratio estimator against the exact value.
"""
from __future__ import annotations

import math

import torch

from emastats.montecarlo import Context, minibatch_indices
from emastats.montecarlo.datasets import gradient_moments, spector_logistic
from emastats.results import Series
from emastats.studies.estimators import log_mean, mean_estimate, ratio_of_means, two_batch_parts
from emastats.studies.models import MLP, moments_of
from emastats.studies.result import ExactValue, StudyFacts

TITLE = "SGD gradient noise on real data: Sigma/B, the finite-population factor and B_simple"
QUESTION = ("Does the minibatch gradient covariance of a real model follow Sigma/B with replacement and "
            "Sigma/B (N-B)/(N-1) without, and how biased is the two-batch estimate of the noise scale B_simple?")
TOLERANCE = 0.10  # relative equivalence margin of every trace and slope check
HIDDEN = 8
SMALL_BATCH = 2  # the two batch sizes of the B_simple estimate
GROUPS = (1, 64)  # pairs averaged before taking the ratio
MIN_GROUPS = 16


def _models(ctx: Context):
    """(label, GradientMoments) for logistic regression and the MLP on the spector data."""
    data = spector_logistic().to(ctx.device)
    logistic = gradient_moments(data, torch.zeros(data.dim, dtype=torch.float64, device=ctx.device))
    mlp = MLP(inputs=data.dim - 1, hidden=HIDDEN)  # the MLP has its own biases: drop the intercept column
    w0 = mlp.initial(ctx.generator)
    features = data.features[:, 1:].contiguous()
    per_example = mlp.per_example_gradients(features, data.targets, w0)
    return data.size, [("logistic", logistic), (f"MLP({mlp.inputs}-{HIDDEN}-1)", moments_of(per_example, w0))]


def _minibatch_means(per_example: torch.Tensor, batch: int, replicas: int, ctx: Context, replacement: bool):
    idx = minibatch_indices(per_example.shape[0], batch, replicas, ctx.generator, replacement=replacement)
    return torch.nn.functional.embedding_bag(idx, per_example, mode="mean")


def _covariance_scaling(ctx: Context, label: str, gm, n: int, batches: list[int], replicas: int) -> list[str]:
    findings = []
    for replacement in (True, False):
        how = "with" if replacement else "without"
        logs, ses, xs, est, lo, hi, theory = [], [], [], [], [], [], []
        for b in batches:
            g = _minibatch_means(gm.per_example, b, replicas, ctx, replacement)
            dev2 = ((g - gm.full_batch) ** 2).sum(1)
            factor = 1.0 if replacement else (n - b) / (n - 1)
            t = gm.trace / b * factor
            ctx.check_mean(f"{label}: tr Cov(g_B), B={b}, {how} replacement", dev2, t, TOLERANCE,
                           estimator="mean of |g_B - G|^2 over minibatches (G exact)")
            if not replacement and b == batches[-1]:
                ctx.check_mean(f"{label}: control, B={b} without replacement vs tr Sigma/B", dev2, gm.trace / b,
                               TOLERANCE, control=True, estimator="mean of |g_B - G|^2 over minibatches (G exact)")
            m = mean_estimate(dev2)
            lm = log_mean(dev2)
            logs.append(lm.value)
            ses.append(lm.stderr)
            xs.append(math.log(b) if replacement else math.log(b * (n - 1) / (n - b)))
            est.append(m.value)
            lo.append(m.value - 2 * m.stderr)
            hi.append(m.value + 2 * m.stderr)
            theory.append(t)
        x_name = "log B" if replacement else "log(B (N-1)/(N-B))"
        slope = ctx.check_slope(f"{label}: slope of log tr Cov in {x_name}, {how} replacement", xs, logs, -1.0,
                                TOLERANCE, y_stderr=ses, replicas=replicas)
        findings.append(f"{label}, {how} replacement: fitted slope {slope.estimate:.3f} (theory -1).")
        ctx.add_series(Series(
            name=f"{label}: tr Cov(g_B), {how} replacement", x_label="batch size B",
            y_label="tr Cov(g_B)", x=tuple(float(b) for b in batches), estimate=tuple(est), ci_low=tuple(lo),
            ci_high=tuple(hi), theory=tuple(theory),
            theory_label="tr Sigma / B" + ("" if replacement else " (N-B)/(N-1)"), log_x=True, log_y=True))
    return findings


def _noise_scale(ctx: Context, label: str, gm, n: int, replicas: int) -> list[str]:
    big = n // 2
    exact = gm.trace / float((gm.full_batch**2).sum())
    small_sq = (_minibatch_means(gm.per_example, SMALL_BATCH, replicas, ctx, True) ** 2).sum(1)
    big_sq = (_minibatch_means(gm.per_example, big, replicas, ctx, True) ** 2).sum(1)
    parts = two_batch_parts(small_sq, big_sq, SMALL_BATCH, big)
    findings = []
    negative = float((parts.gradient_sq <= 0).double().mean())
    for m in GROUPS:
        groups = replicas // m
        if groups < MIN_GROUPS:  # too few groups for a standard error at this budget
            continue
        g2 = parts.gradient_sq[: groups * m].reshape(groups, m).mean(1)
        tr = parts.trace[: groups * m].reshape(groups, m).mean(1)
        ratio = mean_estimate(tr / g2)
        ctx.check_estimate(f"{label}: B_simple, mean of ratios over groups of {m} pair(s)", ratio.value,
                           ratio.stderr, exact, TOLERANCE, replicas=groups,
                           estimator=f"mean over {groups} groups of (mean tr S_est)/(mean |G|^2_est), {m} pairs each",
                           test="z test / z interval, standard error s/sqrt(groups)")
        findings.append(f"{label}: ratio estimator from {m} pair(s) has relative bias "
                        f"{(ratio.value - exact) / exact:+.1%} (exact B_simple {exact:.3g}).")
    pooled = ratio_of_means(parts.trace, parts.gradient_sq)
    ctx.check_estimate(f"{label}: B_simple, ratio of means over all pairs", pooled.value, pooled.stderr, exact,
                       TOLERANCE, replicas=replicas, estimator="mean tr S_est / mean |G|^2_est over all pairs",
                       test="z interval, delta-method standard error of a ratio of means")
    findings.append(f"{label}: {negative:.1%} of single pairs give |G|^2_est <= 0, where the ratio is meaningless.")
    return findings


def run(ctx: Context) -> StudyFacts:
    replicas = ctx.param("minibatches per cell", ctx.replicas)
    n, models = _models(ctx)
    batches = ctx.param("batch sizes", [2**k for k in range(int(math.log2(n // 2)) + 1)])
    ctx.param("B_simple batch sizes", [SMALL_BATCH, n // 2])
    exact, findings = [], []
    for label, gm in models:
        g2 = float((gm.full_batch**2).sum())
        exact += [ExactValue(f"{label}: tr Sigma", gm.trace), ExactValue(f"{label}: |G|^2", g2),
                  ExactValue(f"{label}: B_simple = tr Sigma/|G|^2", gm.trace / g2)]
        findings += _covariance_scaling(ctx, label, gm, n, batches, replicas)
        findings += _noise_scale(ctx, label, gm, n, replicas)
    exact.append(ExactValue("N (spector examples)", float(n)))
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings))
