"""Monte Carlo experiments for the momentum claims (emastats/catalogue/momentum.py).

All five claims are deterministic: trajectories of the real update rules
(``emastats.montecarlo.optimizers``) are compared, replica by replica and step
by step, in float64, against what the claim says they are. Gradients come from
random diagonal quadratics ``L(w) = 1/2 sum_k a_k (w_k - c_k)^2`` (one per
replica) plus a fixed random "noise" stream, so they depend on the iterate and
an equivalence cannot hold by accident. Stability claims run the recursions on
a grid of (eta lambda, mu) values (one grid point per replica) and compare the
observed long-run behaviour with the stated condition. Each claim has a
negative control: a slightly wrong version that the same comparison must
REFUTE, which shows the comparison can see a difference.

Run on its own: ``python experiments/momentum.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from emastats.experiments._sweep import record_grid
from emastats.montecarlo import Context, experiment
from emastats.montecarlo import optimizers as opt

F64 = torch.float64
ROUNDING = 1e-9  # float64 trajectories of O(1) values over <= 200 steps agree far below this
MAX_REPLICAS = 256  # deterministic comparisons need few replicas; more only costs time
DIM = 4


@dataclass(frozen=True)
class NoisyQuadratic:
    """Per-replica gradients ``a * (w - c) + noise[t]``: curvatures a in [0.2, 2], centres c and noise N(0, 1).

    ``start`` is the common initial iterate w_0 ~ N(0, I) of the optimisers compared on it.
    """

    curvature: torch.Tensor  # (R, d)
    centre: torch.Tensor  # (R, d)
    noise: torch.Tensor  # (T, R, d)
    start: torch.Tensor  # (R, d)

    def gradient(self, w: torch.Tensor, t: int) -> torch.Tensor:
        return self.curvature * (w - self.centre) + self.noise[t]


def _noisy_quadratic(ctx: Context, steps: int) -> NoisyQuadratic:
    """Draw the problem and its start (in that order, from ``ctx.generator``) and record how gradients are made."""
    ctx.param("gradients", "a (w - c) + xi_t on random diagonal quadratics, xi_t ~ N(0, I) fixed per step")
    r = min(ctx.replicas, MAX_REPLICAS)
    g, dev = ctx.generator, ctx.device
    curvature = torch.empty((r, DIM), dtype=F64, device=dev).uniform_(0.2, 2.0, generator=g)
    centre = torch.randn((r, DIM), generator=g, dtype=F64, device=dev)
    noise = torch.randn((steps, r, DIM), generator=g, dtype=F64, device=dev)
    start = torch.randn((r, DIM), generator=g, dtype=F64, device=dev)
    return NoisyQuadratic(curvature, centre, noise, start)


# (eta_trad, beta1): three step sizes and three decays, none 1/2 (where beta1 and 1 - beta1 coincide)
EQUIVALENCE_GRID = ({"eta_trad": 0.05, "beta1": 0.9}, {"eta_trad": 0.1, "beta1": 0.7}, {"eta_trad": 0.01, "beta1": 0.3})


@experiment("momentum.equivalence")
def momentum_equivalence(ctx: Context) -> None:
    steps = ctx.param("T", 200)
    record_grid(ctx, EQUIVALENCE_GRID)
    problem = _noisy_quadratic(ctx, steps)
    w0 = problem.start
    for k, point in enumerate(EQUIVALENCE_GRID):
        lr, beta = point["eta_trad"], point["beta1"]
        eta_avg = ctx.formula(**point)  # the catalogue's mapping, evaluated here
        traditional = opt.run(opt.heavy_ball(lr, beta), problem.gradient, w0, steps)
        average = opt.run(opt.heavy_ball_average(eta_avg, beta), problem.gradient, w0, steps)
        ctx.check_close(f"w_t(traditional) = w_t(average) with eta_avg = catalogue formula = {eta_avg:.6g}, every t, "
                        f"at eta_trad = {lr:g}, beta1 = {beta:g}", average, traditional, atol=ROUNDING, rtol=ROUNDING)
        if k == 0:
            same_lr = opt.run(opt.heavy_ball_average(lr, beta), problem.gradient, w0, steps)
            ctx.check_close("control: eta_avg = eta_trad (no 1/(1 - beta1) factor)", same_lr, traditional,
                            atol=ROUNDING, rtol=ROUNDING, control=True)


@experiment("momentum.heavy_ball.unrolled")
def heavy_ball_unrolled(ctx: Context) -> None:
    lr, steps = ctx.param("eta", 0.1), ctx.param("T", 60)
    mus = ctx.param("mu grid", (0.8, 0.3, 0.95))  # none 1/2, where mu and 1 - mu coincide
    ctx.param("gradients", "iid N(0, I) sequence g_0..g_{T-1}, the same for both sides")
    r = min(ctx.replicas, MAX_REPLICAS)
    grads = torch.randn((steps, r, DIM), generator=ctx.generator, dtype=F64, device=ctx.device)
    w0 = torch.randn((r, DIM), generator=ctx.generator, dtype=F64, device=ctx.device)
    horizon = torch.arange(steps + 1, device=ctx.device)[:, None]
    t = torch.arange(steps, device=ctx.device)[None, :]
    lag = horizon - t  # s = T - t steps since g_t was applied

    def unrolled(weight_of_lag) -> torch.Tensor:
        """w_0 - eta sum_{t<T} weight(T - t) g_t for every horizon T = 0..steps at once."""
        table = torch.tensor([0.0] + [weight_of_lag(n) for n in range(1, steps + 1)], dtype=F64, device=ctx.device)
        weights = torch.where(lag > 0, table[lag.clamp(min=0)], torch.zeros((), dtype=F64, device=ctx.device))
        return w0 - lr * torch.einsum("Tt,trd->Trd", weights, grads)

    for k, mu in enumerate(mus):
        path = opt.run(opt.heavy_ball(lr, mu), lambda w, n: grads[n], w0, steps)
        # the catalogue's weight c_s, evaluated at each lag s = 1..T
        ctx.check_close(f"w_T - w_0 = -eta sum_t c_(T-t) g_t, c_s = catalogue formula, every T, at mu = {mu:g}", path,
                        unrolled(lambda n, mu=mu: ctx.formula(s=n, mu=mu)), atol=ROUNDING, rtol=ROUNDING)
        if k == 0:
            ctx.check_close("control: weights c_(s+1) (exponent one too high)", path,
                            unrolled(lambda n, mu=mu: ctx.formula(s=n + 1, mu=mu)), atol=ROUNDING, rtol=ROUNDING,
                            control=True)


@experiment("momentum.nesterov.lookahead")
def nesterov_lookahead(ctx: Context) -> None:
    lr, mu, steps = ctx.param("eta", 0.05), ctx.param("mu", 0.9), ctx.param("T", 150)
    problem = _noisy_quadratic(ctx, steps)
    w0 = problem.start
    lookahead = opt.run(opt.nesterov_lookahead(lr, mu), problem.gradient, w0, steps)
    velocity = torch.cat([torch.zeros_like(w0)[None], lookahead[1:] - lookahead[:-1]])  # u_t = w_t - w_{t-1}
    shifted = lookahead + mu * velocity  # phi_t = w_t + mu u_t
    pytorch_form = opt.run(opt.nesterov_pytorch(lr, mu), problem.gradient, w0, steps)
    ctx.check_close("phi_t (PyTorch form) = w_t + mu u_t (look-ahead form), every t", pytorch_form, shifted,
                    atol=ROUNDING, rtol=ROUNDING)
    ctx.check_close("control: phi_t = w_t (no shift)", pytorch_form, lookahead, atol=ROUNDING, rtol=ROUNDING,
                    control=True)


# --- stability on a quadratic -----------------------------------------------------------------

STABILITY_STEPS = 2000  # spectral radius <= 0.99 at the grid points kept, so 0.99^2000 < 1e-8
BOUNDARY_GAP = 0.05  # grid points this close to a stated boundary are left out (decay too slow to see)


def _grows(path_end: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """1.0 where |w_T| >= |w_0| (not decaying, inf and nan included), else 0.0."""
    return (~(path_end.abs() < start.abs())).to(F64)


@experiment("momentum.stability.gd")
def stability_gd(ctx: Context) -> None:
    steps = ctx.param("T", 400)
    h = torch.arange(1, 160, dtype=F64, device=ctx.device) / 40 + 1 / 80  # eta*lambda in (0, 4), never 2
    ctx.param("eta lambda grid", "k/40 + 1/80, k = 1..159")
    w0 = torch.ones_like(h)
    path = [w0]
    for _ in range(steps):
        path.append(path[-1] - h * path[-1])  # w <- w - eta grad L, grad L = lambda w
    bound = ctx.formula()  # the catalogue's upper end of the stable region, 2
    ctx.check_close(f"|w_T| >= |w_0| exactly where the condition 0 < eta lambda < {bound:g} (catalogue) fails",
                    _grows(path[-1], w0), ((h <= 0) | (h >= bound)).to(F64), atol=0.5, replicas=h.numel(),
                    note="indicator comparison over the grid: any disagreement gives a difference of 1")
    early = torch.stack(path[:21])  # before |w_t| under- or overflows anywhere on the grid
    ctx.check_close("w_(t+1) / w_t = 1 - eta lambda for t < 20 (the contraction factor)", early[1:] / early[:-1],
                    (1 - h).expand(20, -1), atol=0.0, rtol=1e-12)
    ctx.check_close("control: stable iff 0 < eta lambda < 1 (no oscillation allowed)", _grows(path[-1], w0),
                    ((h <= 0) | (h >= 1)).to(F64), atol=0.5, replicas=h.numel(), control=True)


MUS = (0.0, 0.3, 0.6, 0.9, 0.95)


def _heavy_ball_grid(ctx: Context) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(eta lambda, mu, stated upper bound) grid points, flattened, without those within BOUNDARY_GAP of 0 or of
    the catalogue's upper bound (evaluated at each mu)."""
    bounds = torch.tensor([ctx.formula(mu=m) for m in MUS], dtype=F64, device=ctx.device)
    hs = torch.arange(1, 90, dtype=F64, device=ctx.device) / 20  # eta*lambda in (0, 4.5)
    h, mu = torch.meshgrid(hs, torch.tensor(MUS, dtype=F64, device=ctx.device), indexing="ij")
    h, mu, upper = h.reshape(-1), mu.reshape(-1), bounds.expand(hs.numel(), -1).reshape(-1)
    keep = (h - upper).abs() > BOUNDARY_GAP
    return h[keep], mu[keep], upper[keep]


@experiment("momentum.stability.heavy_ball")
def stability_heavy_ball(ctx: Context) -> None:
    steps = ctx.param("T", STABILITY_STEPS)
    mus = ", ".join(f"{m:g}" for m in MUS)
    ctx.param("grid", f"eta lambda = k/20 (k = 1..89) x mu in ({mus}), gap {BOUNDARY_GAP}")
    h, mu, upper = _heavy_ball_grid(ctx)
    stated_unstable = ((h <= 0) | (h >= upper)).to(F64)  # outside 0 < eta lambda < the catalogue's bound

    # the companion matrix [[1 + mu - h, -mu], [1, 0]] of (w_{t+1}, w_t), one per grid point
    companion = torch.zeros((h.numel(), 2, 2), dtype=F64, device=ctx.device)
    companion[:, 0, 0], companion[:, 0, 1], companion[:, 1, 0] = 1 + mu - h, -mu, 1.0
    radius = torch.linalg.eigvals(companion).abs().amax(dim=-1)
    ctx.check_close("spectral radius >= 1 exactly where 0 < eta lambda < catalogue bound (mu) fails",
                    (radius >= 1).to(F64), stated_unstable, atol=0.5, replicas=h.numel())

    # heavy ball with lambda = 1 and a per-grid-point (eta, mu): v <- mu v - eta w, w <- w + v
    w0 = torch.ones_like(h)
    w, v = w0.clone(), torch.zeros_like(w0)
    for _ in range(steps):
        v = mu * v - h * w
        w = w + v
    ctx.check_close("simulated |w_T| >= |w_0| exactly where 0 < eta lambda < catalogue bound (mu) fails",
                    _grows(w, w0), stated_unstable, atol=0.5, replicas=h.numel(),
                    note=f"T = {steps} steps from w_0 = 1, v_0 = 0; indicator comparison over the grid")
    ctx.check_close("control: the gradient-descent condition 0 < eta lambda < 2 (mu ignored)", _grows(w, w0),
                    ((h <= 0) | (h >= 2)).to(F64), atol=0.5, replicas=h.numel(), control=True)


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
