"""Study ``temperature``: stationary parameter variance of SGD and heavy ball, exact discrete time versus SDE.

Quadratics with Gaussian minibatch noise of covariance Sigma / B (1-D, and an
anisotropic 3-D one with correlated noise), and SGD on the spector logistic
regression around its minimiser (real per-example gradients, minibatches drawn
with replacement). Each run starts at the minimum, is burned in for many
relaxation times, and the variance is estimated across independent replicas at
the final step (fourth-moment standard errors), against

* the exact discrete-time prediction (``emastats.studies.temperature_theory``), and
* the small-eta SDE prediction, which misses the factor 2/(2 - eta lambda) (SGD) and
  2(1+mu)/(2(1+mu) - eta lambda) (heavy ball) and so fails as eta lambda approaches the
  divergence threshold, where the exact variance blows up and the SDE's stays finite.

Scalings: eta = B eta0 (eta/B fixed) for SGD and eta = (1 - mu) B eta0 for heavy ball, under which
the SDE variance is the same for every B (and mu), while the exact one is not.
For the logistic regression the prediction linearises the gradient at the minimiser (H the
Hessian, Sigma the per-example gradient covariance there), so its failure at large eta mixes
discreteness with nonlinearity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from emastats.montecarlo import Context, fused, kernels, minibatch_indices
from emastats.montecarlo.datasets import gradient_moments, minimiser, spector_logistic
from emastats.results import Series
from emastats.studies.result import ExactValue, StudyFacts
from emastats.studies.temperature_theory import (
    heavy_ball_variance_exact,
    heavy_ball_variance_sde,
    sgd_variance_exact,
    sgd_variance_sde,
    stationary_covariance_exact,
    stationary_covariance_sde,
)

TITLE = "The temperature of SGD: stationary variance, exact discrete time against the small-eta SDE"
QUESTION = ("With eta/B fixed (and eta = (1-mu) B eta0 for heavy ball), is the stationary variance independent "
            "of B and mu as the SDE says, and where does the SDE prediction break down?")
TOLERANCE = 0.10  # variances need ~2 (z/tol)^2 replicas; 10 % keeps --quick decidable
BURN_IN = 1e-4  # run until the start's share of the variance, rho^(2T), is below this
REPLICA_FACTOR = 4  # the quadratic runs are cheap: 4x the budget
LAMBDA, SIGMA2, ETA0 = 1.0, 1.0, 0.1
SGD_BATCHES = (1, 2, 4, 8, 12, 16, 19)  # eta lambda = B eta0 lambda up to 1.9
DIVERGENT_BATCH = 21  # eta lambda = 2.1: beyond the threshold
MOMENTA = (0.5, 0.9)
HB_BATCHES = (1, 4, 16, 28)  # (1 - mu) B eta0 lambda up to 1.4 at mu = 0.5
ANISO_CURVATURES = (0.5, 2.0, 8.0)
ANISO_LRS = (0.02, 0.08, 0.16, 0.23)  # eta lambda_max up to 1.84
LOGISTIC_ETA0, LOGISTIC_BATCHES = 0.05, (1, 4, 16)  # eta = B eta0 small: the linear regime
LOGISTIC_LARGE_BATCH, LOGISTIC_LARGE_LRS = 16, (2.0, 8.0)  # up to eta lambda_max 1.5: nonlinear and discrete


def _noise(ctx: Context, shape: tuple[int, ...], std: float | torch.Tensor) -> torch.Tensor:
    return std * torch.randn(shape, generator=ctx.generator, dtype=torch.float64, device=ctx.device)


def _simulate_1d(ctx: Context, replicas: int, steps: int, eta: float, batch: float, mu: float = 0.0) -> torch.Tensor:
    """w_T of heavy ball (SGD when mu = 0) on lambda w^2 / 2 with noise N(0, sigma^2/B), from the minimum
    (the fused kernel on a GPU: ``kernels.recursion_states``)."""
    std = math.sqrt(SIGMA2 / batch)

    def torch_path() -> torch.Tensor:
        w = torch.zeros(replicas, dtype=torch.float64, device=ctx.device)
        v = torch.zeros_like(w)
        for _ in range(steps):
            v = mu * v - eta * (LAMBDA * w + _noise(ctx, (replicas,), std))
            w = w + v
        return w

    run = fused.heavy_ball(eta, mu, LAMBDA, std)
    return kernels.recursion_states(ctx, run, steps, replicas, torch_path).to(torch.float64)


def _steps_1d(eta: float, mu: float) -> int:
    """Enough steps for the slowest mode to forget the start: contraction^(2T) < BURN_IN."""
    transition = np.array([[1 + mu - eta * LAMBDA, -mu], [1.0, 0.0]])
    rho = max(np.abs(np.linalg.eigvals(transition)))
    return int(math.ceil(math.log(BURN_IN) / (2 * math.log(rho)))) + 10


def _series(name: str, x_label: str, xs, checks, theory, label: str) -> Series:
    """A figure line from decided-later checks: estimate with a +-2 standard-error band, against ``theory``."""
    est = tuple(c.estimate for c in checks)
    se = tuple(c.stderr or 0.0 for c in checks)
    return Series(name, x_label, "stationary variance", tuple(map(float, xs)), est,
                  tuple(e - 2 * s for e, s in zip(est, se)), tuple(e + 2 * s for e, s in zip(est, se)),
                  tuple(theory), label, log_x=True, log_y=True)


def _sgd_1d(ctx: Context, replicas: int) -> list[str]:
    points, exact, sde = [], [], []
    for b in SGD_BATCHES:
        eta = b * ETA0
        w = _simulate_1d(ctx, replicas, _steps_1d(eta, 0.0), eta, b)
        ex, sd = sgd_variance_exact(eta, LAMBDA, SIGMA2, b), sgd_variance_sde(eta, LAMBDA, SIGMA2, b)
        check = ctx.check_variance(f"1-D SGD, eta = B eta0, B={b} (eta lambda={eta * LAMBDA:.2g}): Var vs exact",
                                   w, ex, TOLERANCE)
        if b == SGD_BATCHES[-1]:
            ctx.check_variance(f"control: 1-D SGD, B={b}: Var vs SDE", w, sd, TOLERANCE, control=True)
        points.append(check)
        exact.append(ex)
        sde.append(sd)
    ctx.add_series(_series("1-D SGD with eta = B eta0, vs exact", "batch size B (eta = B eta0)", SGD_BATCHES, points,
                           exact, "exact discrete time"))
    ctx.add_series(_series("1-D SGD with eta = B eta0, vs SDE", "batch size B (eta = B eta0)", SGD_BATCHES, points,
                           sde, "small-eta SDE"))
    eta = DIVERGENT_BATCH * ETA0
    w = _simulate_1d(ctx, min(replicas, 256), 200, eta, DIVERGENT_BATCH)
    breakdown = 2 - 2 / 1.1  # eta lambda where the SDE is 10 % low
    return [f"1-D SGD: at B={SGD_BATCHES[-1]} the exact variance is {exact[-1] / sde[-1]:.1f} times the SDE's; "
            f"the SDE is more than 10 % low once eta lambda > {breakdown:.3f} (B > {breakdown / (ETA0 * LAMBDA):.1f}); "
            f"at B={DIVERGENT_BATCH} (eta lambda={eta * LAMBDA:.1f}) 200 steps reach a variance of "
            f"{float(w.var()):.3g} (diverging) while the SDE predicts {sgd_variance_sde(eta, LAMBDA, SIGMA2, DIVERGENT_BATCH):.3g}."]


def _heavy_ball_1d(ctx: Context, replicas: int) -> list[str]:
    findings = []
    for mu in MOMENTA:
        points, exact = [], []
        for b in HB_BATCHES:
            eta = (1 - mu) * b * ETA0
            w = _simulate_1d(ctx, replicas, _steps_1d(eta, mu), eta, b, mu)
            ex = heavy_ball_variance_exact(eta, mu, LAMBDA, SIGMA2, b)
            check = ctx.check_variance(f"heavy ball mu={mu:g}, eta=(1-mu) B eta0, B={b}: Var vs exact", w, ex,
                                       TOLERANCE)
            points.append(check)
            exact.append(ex)
        sde = heavy_ball_variance_sde((1 - mu) * ETA0, mu, LAMBDA, SIGMA2, 1)
        ctx.add_series(_series(f"heavy ball mu={mu:g}, eta = (1-mu) B eta0", "batch size B", HB_BATCHES, points,
                               exact, "exact discrete time"))
        findings.append(f"heavy ball mu={mu:g}: exact variance rises from {exact[0]:.4g} (B=1) to {exact[-1]:.4g} "
                        f"(B={HB_BATCHES[-1]}); the SDE says {sde:.4g} at every B and mu.")
    return findings


def _anisotropic(ctx: Context, replicas: int) -> list[str]:
    h = np.diag(ANISO_CURVATURES)
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.5], [0.2, 0.5, 1.0]])
    noise = corr * np.outer(np.sqrt(ANISO_CURVATURES), np.sqrt(ANISO_CURVATURES))  # Sigma ~ H, correlated
    chol = torch.as_tensor(np.linalg.cholesky(noise), dtype=torch.float64, device=ctx.device)
    hess = torch.as_tensor(h, dtype=torch.float64, device=ctx.device)
    points, exact, sde = [], [], []
    for eta in ANISO_LRS:
        steps = int(math.ceil(math.log(BURN_IN) / (2 * math.log(1 - eta * min(ANISO_CURVATURES))))) + 10
        w = torch.zeros((replicas, 3), dtype=torch.float64, device=ctx.device)
        for _ in range(steps):
            w = w - eta * (w @ hess + _noise(ctx, (replicas, 3), 1.0) @ chol.T)
        ex = float(np.trace(stationary_covariance_exact(h, noise, eta, 1)))
        sd = float(np.trace(stationary_covariance_sde(h, noise, eta, 1)))
        check = ctx.check_mean(f"3-D SGD, eta={eta:g} (eta lambda_max={eta * max(ANISO_CURVATURES):.2g}): "
                               f"E|w|^2 vs exact tr C", (w**2).sum(1), ex, TOLERANCE,
                               estimator="mean of |w_T|^2 over replicas (E w = 0)")
        points.append(check)
        exact.append(ex)
        sde.append(sd)
    ctx.check_mean("control: 3-D SGD at the largest eta vs SDE tr C", (w**2).sum(1), sde[-1], TOLERANCE, control=True)
    ctx.add_series(_series("anisotropic 3-D SGD: tr C vs exact", "learning rate eta", ANISO_LRS, points, exact,
                           "exact (discrete Lyapunov)"))
    ctx.add_series(_series("anisotropic 3-D SGD: tr C vs SDE", "learning rate eta", ANISO_LRS, points, sde,
                           "small-eta SDE (continuous Lyapunov)"))
    return [f"3-D SGD: at eta={ANISO_LRS[-1]:g} the exact tr C is {exact[-1] / sde[-1]:.2f} times the SDE's, "
            f"driven by the stiffest direction (lambda={max(ANISO_CURVATURES):g})."]


@dataclass(frozen=True)
class _Linearised:
    """The spector logistic regression at its minimiser: data, w*, Hessian H and gradient covariance Sigma."""

    data: object
    w_star: torch.Tensor
    hessian: np.ndarray
    noise: np.ndarray

    @classmethod
    def load(cls, device: torch.device) -> "_Linearised":
        data = spector_logistic().to(device)
        w_star = minimiser(data)
        p = torch.sigmoid(data.features @ w_star)
        hess = (data.features * (p * (1 - p)).unsqueeze(1)).T @ data.features / data.size
        return cls(data, w_star, hess.cpu().numpy(), gradient_moments(data, w_star).covariance.cpu().numpy())


def _logistic_run(ctx: Context, model: _Linearised, replicas: int, batch: int, eta: float, scaling: str):
    """SGD from w* with minibatches drawn with replacement; the check of E|w_T - w*|^2 against the linearised
    exact prediction, and the (exact, SDE) predictions."""
    data, w_star = model.data, model.w_star
    lam_min, lam_max = np.linalg.eigvalsh(model.hessian)[[0, -1]]
    steps = int(math.ceil(math.log(BURN_IN) / (2 * math.log(1 - eta * float(lam_min))))) + 10
    w = w_star.expand(replicas, -1).clone()
    for _ in range(steps):
        idx = minibatch_indices(data.size, batch, replicas, ctx.generator, replacement=True)
        x, y = data.features[idx], data.targets[idx]  # (R, B, d), (R, B)
        residual = torch.sigmoid((x * w.unsqueeze(1)).sum(-1)) - y
        w = w - eta * (x * residual.unsqueeze(-1)).mean(1)
    ex = float(np.trace(stationary_covariance_exact(model.hessian, model.noise, eta, batch)))
    sd = float(np.trace(stationary_covariance_sde(model.hessian, model.noise, eta, batch)))
    check = ctx.check_mean(f"logistic SGD, {scaling}, B={batch}, eta={eta:g} (eta lambda_max={eta * lam_max:.2f}): "
                           f"E|w - w*|^2 vs linearised exact", ((w - w_star) ** 2).sum(1), ex, TOLERANCE,
                           estimator="mean of |w_T - w*|^2 over replicas")
    return check, ex, sd


def _logistic(ctx: Context, replicas: int) -> tuple[list[str], list[ExactValue]]:
    model = _Linearised.load(ctx.device)
    lam_max = float(np.linalg.eigvalsh(model.hessian)[-1])
    findings = []
    settings = {
        "eta = B eta0": ([(b, b * LOGISTIC_ETA0) for b in LOGISTIC_BATCHES], "batch size B", 0),
        f"B = {LOGISTIC_LARGE_BATCH}, large eta": ([(LOGISTIC_LARGE_BATCH, eta) for eta in LOGISTIC_LARGE_LRS],
                                                    "learning rate eta", 1),
    }
    for scaling, (grid, x_label, x_index) in settings.items():
        runs = [_logistic_run(ctx, model, replicas, b, eta, scaling) for b, eta in grid]
        xs = [point[x_index] for point in grid]
        checks, exact, sde = zip(*runs)
        ctx.add_series(_series(f"logistic regression SGD, {scaling}: vs linearised exact", x_label, xs, checks,
                               exact, "exact discrete (linearised)"))
        ctx.add_series(_series(f"logistic regression SGD, {scaling}: vs SDE", x_label, xs, checks, sde,
                               "small-eta SDE (linearised)"))
        ratios = ", ".join(f"{c.estimate / e:.2f}" for c, e in zip(checks, exact))
        findings.append(f"logistic regression (spector), {scaling}: measured/linearised-exact E|w-w*|^2 = {ratios} "
                        f"along {x_label} {xs}; the SDE's values are {', '.join(f'{v:.3g}' for v in sde)}.")
    exact_values = [ExactValue("logistic: largest Hessian eigenvalue at w*", lam_max),
                    ExactValue("logistic: divergence threshold 2/lambda_max of the linearisation", 2 / lam_max)]
    return findings, exact_values


def run(ctx: Context) -> StudyFacts:
    replicas = ctx.param("replicas", ctx.replicas)
    ctx.param("lambda, sigma^2, eta0", [LAMBDA, SIGMA2, ETA0])
    findings = _sgd_1d(ctx, REPLICA_FACTOR * replicas)
    findings += _heavy_ball_1d(ctx, REPLICA_FACTOR * replicas)
    findings += _anisotropic(ctx, REPLICA_FACTOR * replicas)
    logistic_findings, exact = _logistic(ctx, max(64, replicas // 4))
    exact += [ExactValue(f"1-D SGD exact/SDE variance ratio at B={b}", 2 / (2 - b * ETA0 * LAMBDA))
              for b in SGD_BATCHES]
    return StudyFacts(TITLE, QUESTION, tuple(exact), tuple(findings + logistic_findings))
