"""Study ``clipping``: the bias of clipped gradients against threshold c and batch size B, and where SGD ends up.

Three parts.

1. Value clipping of Gaussian gradients, per-example g_i ~ N(mu, sigma^2):
   clipping the batch mean (g_B ~ N(mu, sigma^2/B)) has mean ``value_clip_mean(mu, sigma/sqrt B, c)``,
   whose bias tends to clip(mu) - mu as B grows (zero only when |mu| < c); clipping each example and
   averaging (as DP-SGD does) has mean ``value_clip_mean(mu, sigma, c)`` at every B.
2. Norm clipping of isotropic Gaussians: E[min(|X|, c)] against its incomplete-gamma closed form
   (X ~ N(0, s^2 I_d)); and with a nonzero mean m, the bias along m of batch-mean against per-example
   norm clipping as B grows (Monte Carlo; per-example must not change with B).
3. Clipped SGD on L = lambda/2 w^2 with skewed per-example noise sigma (E - 1), E ~ Exp(1): the
   stationary mean is not the minimum 0 but (small eta) the root delta of E[clip(lambda delta + xi)] = 0,
   with xi the batch-mean noise (batch clipping: Gamma(B, B) shape, shrinking with B) or the
   per-example noise (per-example clipping: the same delta at every B).
"""
from __future__ import annotations

import math

import torch

from emastats.montecarlo import Context
from emastats.results import Series
from emastats.studies.clipping_theory import clipped_fixed_point, gamma_clip_mean, norm_clip_mean_norm, value_clip_mean
from emastats.studies.estimators import mean_estimate
from emastats.studies.result import ExactValue, StudyFacts

TITLE = "Clipping bias: value and norm clipping, batch mean versus per example, and clipped SGD's fixed point"
QUESTION = ("Which clipping biases shrink with the batch size and which do not, do the Gaussian closed forms "
            "match, and where does clipped SGD settle compared with the true minimum?")
TOLERANCE = 0.05

MU, SIGMA = 1.0, 3.0  # part 1: per-example gradient N(mu, sigma^2)
THRESHOLDS = (0.5, 2.0)  # below and above |mu|
BATCHES = (1, 4, 16, 64)
NORM_DIM, NORM_SCALE, NORM_THRESHOLDS = 10, 1.0, (1.0, 3.0, 5.0)
SGD_SIGMA, SGD_CLIP, SGD_LR, SGD_CURVATURE = 2.0, 1.0, 0.02, 1.0
SGD_BURN_IN = 1e-4  # burn in until the start's share of the offset, (1 - eta lambda h')^T, is below this
SGD_BATCHES = (1, 2, 4, 16)
DRAWS_PER_REPLICA = 16  # per-example draws per cell = replicas * 16, whatever B (cheap: one randn each)


def _gaussian(ctx: Context, shape: tuple[int, ...], mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    return mean + std * torch.randn(shape, generator=ctx.generator, dtype=torch.float64, device=ctx.device)


def _value_clipping(ctx: Context, replicas: int) -> list[str]:
    findings = []
    for c in THRESHOLDS:
        rows = {"batch mean": ([], [], []), "per example": ([], [], [])}
        theory = {"batch mean": [], "per example": []}
        for b in BATCHES:
            g = _gaussian(ctx, (replicas * DRAWS_PER_REPLICA // b, b), MU, SIGMA)  # same number of draws per cell
            samples = {"batch mean": g.mean(1).clamp(-c, c), "per example": g.clamp(-c, c).mean(1)}
            expected = {"batch mean": value_clip_mean(MU, SIGMA / math.sqrt(b), c),
                        "per example": value_clip_mean(MU, SIGMA, c)}
            for how, x in samples.items():
                # margin: 5 % of the threshold c, the scale of anything clipped at c
                ctx.check_mean(f"value clip c={c:g}, B={b}, {how}: E[clip]", x, expected[how], TOLERANCE, scale=c)
                m = mean_estimate(x)
                est, lo, hi = rows[how]
                est.append(m.value - MU)
                lo.append(m.value - MU - 2 * m.stderr)
                hi.append(m.value - MU + 2 * m.stderr)
                theory[how].append(expected[how] - MU)
            if b == BATCHES[-1] and c < MU:
                ctx.check_mean(f"control: value clip c={c:g}, B={b}, per example is unbiased", samples["per example"],
                               MU, TOLERANCE, scale=c, control=True)
        for how, (est, lo, hi) in rows.items():
            ctx.add_series(Series(f"value clipping c={c:g}, {how}", "batch size B", "bias E[clip(g)] - g_fb",
                                  tuple(float(b) for b in BATCHES), tuple(est), tuple(lo), tuple(hi),
                                  tuple(theory[how]), "Gaussian closed form", log_x=True))
        limit = max(-c, min(c, MU)) - MU
        findings.append(f"value clipping at c={c:g}: batch-mean bias goes from {theory['batch mean'][0]:+.3f} (B=1) to "
                        f"{theory['batch mean'][-1]:+.3f} (B={BATCHES[-1]}), limit clip(mu)-mu = {limit:+.3f}; "
                        f"per-example bias stays {theory['per example'][0]:+.3f}.")
    return findings


def _norm_clipping(ctx: Context, replicas: int) -> list[str]:
    x = _gaussian(ctx, (replicas * DRAWS_PER_REPLICA, NORM_DIM), 0.0, NORM_SCALE)
    norms = x.norm(dim=1)
    for c in NORM_THRESHOLDS:
        ctx.check_mean(f"norm clip c={c:g}, d={NORM_DIM}: E[min(|X|, c)]", norms.clamp(max=c),
                       norm_clip_mean_norm(NORM_SCALE, NORM_DIM, c), TOLERANCE)
    # with a mean m = e_1 (|m| = 1 < c = 3): bias along m, batch-mean versus per-example clipping
    c, mean = 3.0, torch.zeros(NORM_DIM, dtype=torch.float64, device=ctx.device)
    mean[0] = 1.0

    def clip(v: torch.Tensor) -> torch.Tensor:
        return v * torch.clamp(c / v.norm(dim=-1, keepdim=True), max=1.0)

    series = {"batch mean": ([], [], []), "per example": ([], [], [])}
    first: dict[str, tuple[float, float]] = {}
    for b in BATCHES:
        g = mean + NORM_SCALE * _gaussian(ctx, (replicas * DRAWS_PER_REPLICA // b, b, NORM_DIM))
        along = {"batch mean": clip(g.mean(1))[:, 0] - 1.0, "per example": clip(g).mean(1)[:, 0] - 1.0}
        for how, bias in along.items():
            m = mean_estimate(bias)
            est, lo, hi = series[how]
            est.append(m.value)
            lo.append(m.value - 2 * m.stderr)
            hi.append(m.value + 2 * m.stderr)
            if b == BATCHES[0]:
                first[how] = (m.value, m.stderr)
            elif b == BATCHES[-1]:
                b1, se1 = first[how]
                label = "control: " if how == "batch mean" else ""
                ctx.check_estimate(f"{label}norm clip c={c:g}, {how}: bias at B={b} minus bias at B=1", m.value - b1,
                                   math.hypot(m.stderr, se1), 0.0, TOLERANCE, scale=1.0,
                                   replicas=replicas, estimator="difference of two independent sample means",
                                   test="z test / z interval, standard error sqrt(se1^2 + se2^2)",
                                   control=how == "batch mean")
    for how, (est, lo, hi) in series.items():
        ctx.add_series(Series(f"norm clipping c={c:g}, |m|=1, d={NORM_DIM}, {how}", "batch size B",
                              "bias along m", tuple(float(b) for b in BATCHES), tuple(est), tuple(lo), tuple(hi),
                              log_x=True))
    return [f"norm clipping (c={c:g}, |m|=1, d={NORM_DIM}): bias along m is {series['per example'][0][0]:+.3f} "
            f"per example at every B, batch-mean {series['batch mean'][0][0]:+.3f} at B=1 and "
            f"{series['batch mean'][0][-1]:+.3f} at B={BATCHES[-1]}."]


def _skewed_noise(ctx: Context, shape: tuple[int, ...]) -> torch.Tensor:
    """sigma (E - 1), E ~ Exp(1): mean 0, variance sigma^2, skewness 2."""
    u = torch.rand(shape, generator=ctx.generator, dtype=torch.float64, device=ctx.device)
    return SGD_SIGMA * (-torch.log1p(-u) - 1.0)


def _relaxation_steps(k: int, delta: float) -> int:
    """Steps for the mean offset to relax to SGD_BURN_IN of its start: the linearised contraction is
    1 - eta lambda h'(lambda delta), h(a) = E[clip(a + noise)], h' by a central difference."""
    a, da = SGD_CURVATURE * delta, 1e-5
    slope = (gamma_clip_mean(a + da, SGD_SIGMA, k, SGD_CLIP) - gamma_clip_mean(a - da, SGD_SIGMA, k, SGD_CLIP)) / (2 * da)
    return int(math.ceil(math.log(SGD_BURN_IN) / math.log(1 - SGD_LR * SGD_CURVATURE * slope)))


def _clipped_sgd(ctx: Context, replicas: int, average: int) -> tuple[list[str], list[ExactValue]]:
    def offset(k: int) -> float:
        return clipped_fixed_point(lambda a: gamma_clip_mean(a, SGD_SIGMA, k, SGD_CLIP), SGD_CURVATURE, SGD_CLIP)

    per_example_offset = offset(1)
    series = {"batch mean": ([], [], [], []), "per example": ([], [], [], [])}
    for b in SGD_BATCHES:
        predicted = {"batch mean": offset(b), "per example": per_example_offset}
        for how in series:
            # the slower of the two relaxations (per-example noise is the less averaged one)
            burn_in = max(_relaxation_steps(1, per_example_offset), _relaxation_steps(b, predicted["batch mean"]))
            w = torch.zeros(replicas, dtype=torch.float64, device=ctx.device)
            total = torch.zeros_like(w)
            for t in range(burn_in + average):
                grads = SGD_CURVATURE * w.unsqueeze(1) + _skewed_noise(ctx, (replicas, b))
                step = grads.mean(1).clamp(-SGD_CLIP, SGD_CLIP) if how == "batch mean" else \
                    grads.clamp(-SGD_CLIP, SGD_CLIP).mean(1)
                w = w - SGD_LR * step
                if t >= burn_in:
                    total += w
            time_avg = total / average
            ctx.check_mean(f"clipped SGD, B={b}, {how}: stationary mean", time_avg, predicted[how], TOLERANCE,
                           scale=per_example_offset, estimator="mean over replicas of each replica's time average")
            if how == "per example" and b == SGD_BATCHES[-1]:
                ctx.check_mean(f"control: clipped SGD, B={b}, per example settles at the minimum", time_avg, 0.0,
                               TOLERANCE, scale=per_example_offset, control=True)
            m = mean_estimate(time_avg)
            est, lo, hi, th = series[how]
            est.append(m.value)
            lo.append(m.value - 2 * m.stderr)
            hi.append(m.value + 2 * m.stderr)
            th.append(predicted[how])
    for how, (est, lo, hi, th) in series.items():
        ctx.add_series(Series(f"clipped SGD stationary mean, {how} clipping", "batch size B",
                              "stationary mean of w (minimum at 0)", tuple(float(b) for b in SGD_BATCHES),
                              tuple(est), tuple(lo), tuple(hi), tuple(th), "small-eta fixed point", log_x=True))
    findings = [f"clipped SGD (skewed noise, c={SGD_CLIP:g}): per-example clipping settles at "
                f"{series['per example'][0][-1]:+.3f} at B={SGD_BATCHES[-1]} (predicted {per_example_offset:+.3f}, "
                f"minimum 0); batch-mean clipping at {series['batch mean'][0][-1]:+.3f} "
                f"(predicted {series['batch mean'][3][-1]:+.3f})."]
    worst = max(abs(e - t) / abs(per_example_offset) for est, _, _, th in series.values() for e, t in zip(est, th))
    findings.append(f"The small-eta fixed point ignores the O(eta) spread of w around it: at eta={SGD_LR:g} the "
                    f"measured stationary means differ from it by up to {worst:.1%} of the per-example offset.")
    exact = [ExactValue(f"small-eta stationary offset, batch mean, B={b}", offset(b)) for b in SGD_BATCHES]
    return findings, exact


def run(ctx: Context) -> StudyFacts:
    replicas = ctx.param("replicas per cell", ctx.replicas)
    sgd_replicas = ctx.param("clipped SGD replicas", max(64, min(ctx.replicas // 4, 2048)))
    average = ctx.param("clipped SGD averaged steps", 500 if ctx.quick else 4000)
    ctx.param("value clipping mu, sigma", [MU, SIGMA])
    ctx.param("clipped SGD (sigma, c, eta, lambda)", [SGD_SIGMA, SGD_CLIP, SGD_LR, SGD_CURVATURE])
    findings = _value_clipping(ctx, replicas)
    findings += _norm_clipping(ctx, replicas)
    sgd_findings, exact = _clipped_sgd(ctx, sgd_replicas, average)
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings + sgd_findings))
