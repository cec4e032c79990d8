"""Study ``adam-coupling``: Adam's second-moment estimate against batch size, and the effective step size.

With the parameters frozen (the spector logistic regression at w = 0, exact
per-example gradients), the minibatch gradient's coordinates have mean g_j and,
with replacement, variance sigma_j^2 / B (sigma_j^2 the per-example variance,
1/N convention), so Adam's bias-corrected second moment v_hat tracks

    E[v_hat_j] = E[g_B,j^2] = g_j^2 + sigma_j^2 / B     (times (N-B)/(N-1) on the sigma term without replacement)

exactly at every step (the corrected EMA of iid inputs is unbiased). The
per-coordinate step eta m_hat_j / (sqrt(v_hat_j) + eps) then has mean close to
eta g_j / sqrt(g_j^2 + sigma_j^2 / B): in noise-dominated coordinates Adam's
effective step grows like sqrt(B) with the batch size, up to eta sign(g_j) when
the noise is averaged away. The step's prediction neglects the fluctuation of
v_hat (Jensen) and the correlation of m_hat with v_hat, which the Monte Carlo
measures.
"""
from __future__ import annotations

import math

import torch

from emastats.montecarlo import Context, minibatch_indices
from emastats.montecarlo.datasets import gradient_moments, spector_logistic
from emastats.results import Series
from emastats.studies.estimators import mean_estimate
from emastats.studies.result import ExactValue, StudyFacts

TITLE = "Adam and the batch size: the second moment tracks g^2 + sigma^2/B, and the step grows with B"
QUESTION = ("Does Adam's second-moment estimate follow g^2 + sigma^2/B on real gradients, and how does that "
            "change the effective step size as the batch grows?")
TOLERANCE = 0.05
BETA1, BETA2, LR, EPS = 0.9, 0.999, 1e-3, 1e-8


def _adam_moments(ctx: Context, per_example: torch.Tensor, batch: int, replicas: int, steps: int,
                  replacement: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Bias-corrected (m_hat, v_hat) after ``steps`` minibatch gradients at frozen parameters, (R, d) each."""
    d = per_example.shape[1]
    m = torch.zeros((replicas, d), dtype=torch.float64, device=ctx.device)
    v = torch.zeros_like(m)
    for _ in range(steps):
        idx = minibatch_indices(per_example.shape[0], batch, replicas, ctx.generator, replacement=replacement)
        g = torch.nn.functional.embedding_bag(idx, per_example, mode="mean")
        m = BETA1 * m + (1 - BETA1) * g
        v = BETA2 * v + (1 - BETA2) * g * g
    return m / (1 - BETA1**steps), v / (1 - BETA2**steps)


def run(ctx: Context) -> StudyFacts:
    replicas = ctx.param("replicas", max(64, ctx.replicas // 4))
    steps = ctx.param("Adam steps at frozen parameters", 200 if ctx.quick else 1000)
    ctx.param("beta1, beta2, eta, eps", [BETA1, BETA2, LR, EPS])
    data = spector_logistic().to(ctx.device)
    gm = gradient_moments(data, torch.zeros(data.dim, dtype=torch.float64, device=ctx.device))
    n = data.size
    g2 = gm.full_batch**2
    var = torch.diagonal(gm.covariance)
    noisy = int(torch.argmax(var / g2))  # the coordinate where the noise dominates most
    batches = ctx.param("batch sizes", [2**k for k in range(int(math.log2(n // 2)) + 1)])
    ctx.param("noisiest coordinate", noisy)

    second = {True: [], False: []}
    step_points, step_theory = [], []
    for replacement in (True, False):
        how = "with" if replacement else "without"
        for b in batches:
            m_hat, v_hat = _adam_moments(ctx, gm.per_example, b, replicas, steps, replacement)
            factor = 1.0 if replacement else (n - b) / (n - 1)
            theory = float((g2 + var * factor / b).sum())
            check = ctx.check_mean(f"sum_j v_hat_j, B={b}, {how} replacement", v_hat.sum(1), theory, TOLERANCE,
                                   estimator="mean over replicas of the bias-corrected second moment, summed")
            second[replacement].append((check, theory))
            if not replacement and b == batches[-1]:
                ctx.check_mean(f"control: sum_j v_hat_j, B={b} without replacement vs g^2 + sigma^2/B",
                               v_hat.sum(1), float((g2 + var / b).sum()), TOLERANCE, control=True)
            if replacement:
                step = LR * m_hat[:, noisy] / (v_hat[:, noisy].sqrt() + EPS)
                predicted = LR * float(gm.full_batch[noisy]) / math.sqrt(float(g2[noisy] + var[noisy] / b))
                ctx.check_mean(f"mean Adam step, coordinate {noisy}, B={b}", step, predicted, 2 * TOLERANCE,
                               estimator="mean over replicas of eta m_hat/(sqrt(v_hat)+eps)")
                step_points.append(mean_estimate(step))
                step_theory.append(predicted)

    for replacement, rows in second.items():
        how = "with" if replacement else "without"
        ctx.add_series(Series(
            f"Adam second moment sum_j v_hat_j, {how} replacement", "batch size B", "sum_j E[v_hat_j]",
            tuple(map(float, batches)), tuple(c.estimate for c, _ in rows),
            tuple(c.estimate - 2 * (c.stderr or 0) for c, _ in rows),
            tuple(c.estimate + 2 * (c.stderr or 0) for c, _ in rows), tuple(t for _, t in rows),
            "|g|^2 + tr Sigma / B" + ("" if replacement else " (N-B)/(N-1)"), log_x=True, log_y=True))
    ctx.add_series(Series(
        f"mean Adam step on coordinate {noisy} (eta = {LR:g})", "batch size B", "E[eta m_hat/(sqrt(v_hat)+eps)]",
        tuple(map(float, batches)), tuple(p.value for p in step_points),
        tuple(p.value - 2 * p.stderr for p in step_points), tuple(p.value + 2 * p.stderr for p in step_points),
        tuple(step_theory), "eta g / sqrt(g^2 + sigma^2/B)", log_x=True))  # the step may be negative: linear y

    growth = step_points[-1].value / step_points[0].value
    snr = float(g2[noisy] / var[noisy])
    findings = (
        f"Coordinate {noisy} has g^2/sigma^2 = {snr:.3g}: Adam's mean step grows {growth:.2f}-fold from B=1 to "
        f"B={batches[-1]} (predicted {step_theory[-1] / step_theory[0]:.2f}; pure sqrt(B) scaling would be "
        f"{math.sqrt(batches[-1]):.2f}, the sign-descent limit eta|g|/|g| = {LR:g}).",
    )
    exact = [ExactValue("|g|^2 (full batch, w = 0)", float(g2.sum())), ExactValue("tr Sigma", gm.trace)]
    exact += [ExactValue(f"g_{j}^2 / sigma_{j}^2", float(g2[j] / var[j])) for j in range(data.dim)]
    return StudyFacts(TITLE, QUESTION, tuple(exact), findings)
