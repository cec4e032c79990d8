"""Monte Carlo experiments for the RMSProp and Adam claims (emastats/catalogue/adaptive.py).

Deterministic claims run the update rules of ``emastats.montecarlo.optimizers``
in float64 and compare states and steps with the claimed closed forms.
Statistical claims feed iid gradients (or real minibatch gradients of the
statsmodels Spector data, fitted by logistic regression) to the rules over many
replicas and compare sample means with theory; each carries a negative control,
and where the notes' version is wrong both it (stated, must be REFUTED) and the
corrected version (must be CONFIRMED) are checked.

Run on its own: ``python experiments/adaptive.py``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from emastats.claim import Formula
from emastats.experiments._sweep import label, law_tensor, record_grid, rel_se_mean, sized
from emastats.montecarlo import Context, experiment, gaussian, minibatch_indices, minibatch_means
from emastats.montecarlo import optimizers as opt
from emastats.montecarlo.datasets import gradient_moments, minimiser, spector_logistic
from emastats.results import Series

F64 = torch.float64
ROUNDING = 1e-12  # relative float64 agreement for a few hundred elementwise updates
MAX_REPLICAS = 512
DIM = 8


def _quadratic(ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    """Curvatures a in [0.5, 2] and starts w_0 ~ N(0, I) of L(w) = 1/2 sum_k a_k w_k^2, one per replica."""
    r = min(ctx.replicas, MAX_REPLICAS)
    a = torch.empty((r, DIM), dtype=F64, device=ctx.device).uniform_(0.5, 2.0, generator=ctx.generator)
    w0 = torch.randn((r, DIM), generator=ctx.generator, dtype=F64, device=ctx.device)
    return a, w0


def _spread_gradients(ctx: Context, shape: tuple[int, ...]) -> torch.Tensor:
    """Nonzero float64 values with random signs and magnitudes spread over 1e-3..1e3."""
    sign = torch.randint(0, 2, shape, generator=ctx.generator, device=ctx.device).to(F64) * 2 - 1
    scale = torch.empty(shape, dtype=F64, device=ctx.device).uniform_(-3.0, 3.0, generator=ctx.generator)
    return sign * 10.0**scale


@experiment("rmsprop.update.sign")
def rmsprop_update_sign(ctx: Context) -> None:
    lr, beta2, eps = ctx.param("eta", 1e-4), ctx.param("beta2", 0.9), ctx.param("eps", 1e-8)
    ctx.param("loss", "L(w) = 1/2 sum_k a_k w_k^2, a_k ~ U(0.5, 2), w_0 ~ N(0, I), one per replica")
    a, w0 = _quadratic(ctx)

    def loss_change(rule: opt.Optimizer) -> torch.Tensor:
        step = rule.update(a * w0, rule.init(w0))  # one step from the zero state
        w1 = opt.apply_updates(w0, step.updates)
        return 0.5 * (a * w1 * w1).sum(-1) - 0.5 * (a * w0 * w0).sum(-1)

    printed, corrected = loss_change(opt.rmsprop_as_printed(lr, beta2, eps)), loss_change(opt.rmsprop(lr, beta2, eps))
    ones = torch.ones_like(printed)
    ctx.check_close("the printed step (plus sign) lowers L on every replica", (printed < 0).to(F64), ones,
                    atol=0.5, note="indicator of L(w_1) < L(w_0); a difference of 1 means some replica went up")
    ctx.check_close("the corrected step (minus sign) lowers L on every replica", (corrected < 0).to(F64), ones,
                    atol=0.5, theory_of="corrected")


@experiment("rmsprop.constant_gradient")
def rmsprop_constant_gradient(ctx: Context) -> None:
    lr, beta2, steps = ctx.param("eta", 0.01), ctx.param("beta2", 0.8), ctx.param("T", 150)
    ctx.param("gradient", "constant per replica, random sign, |g| log-uniform on [1e-3, 1e3]; eps = 0")
    g = _spread_gradients(ctx, (min(ctx.replicas, MAX_REPLICAS), DIM))
    rule = opt.rmsprop(lr, beta2, eps=0.0)
    state, squares, steps_taken = rule.init(g), [], []
    for _ in range(steps):
        out = rule.update(g, state)
        state = out.state
        squares.append(state.square)
        steps_taken.append(out.updates)
    squares, steps_taken = torch.stack(squares), torch.stack(steps_taken)
    # the catalogue's pair (<g^2>_t, eta g / sqrt(<g^2>_t)), evaluated at every t = 1..T and every gradient
    t = np.arange(1, steps + 1, dtype=np.float64)[:, None, None]
    point = {"t": t, "g": g.cpu().numpy(), "beta2": beta2, "eta": lr}
    average, size = (law_tensor(ctx.formula.component(k), point, ctx.device, squares.shape) for k in (0, 1))
    ctx.check_close("<g^2>_t = catalogue formula, every t", squares, average, atol=0.0, rtol=ROUNDING)
    ctx.check_close("step_t = -(catalogue formula: eta g / sqrt(<g^2>_t)), every t", steps_taken, -size,
                    atol=0.0, rtol=ROUNDING)
    ctx.check_close(f"step_T = -eta sign(g) at T = {steps} (the limit, whatever |g|)", steps_taken[-1],
                    -lr * torch.sign(g), atol=0.0, rtol=ROUNDING, replicas=g.shape[0])
    ctx.check_close("control: step_T = -eta g (size-dependent, as plain SGD)", steps_taken[-1], -lr * g,
                    atol=0.0, rtol=ROUNDING, replicas=g.shape[0], control=True)


@experiment("adam.second_moment.first_step")
def adam_second_moment_first_step(ctx: Context) -> None:
    beta1 = ctx.param("beta1", 0.9)
    betas2 = ctx.param("beta2 grid", (0.999, 0.9, 0.3))  # the notes' 0.999 and two more, none 1/2
    g = _spread_gradients(ctx, (min(ctx.replicas, MAX_REPLICAS), DIM))
    replicas = g.shape[0]
    for k, beta2 in enumerate(betas2):
        rule = opt.adam(1e-3, beta1, beta2)
        state = rule.update(g, rule.init(g)).state
        law = law_tensor(ctx.formula, {"beta2": beta2, "g": g.cpu().numpy()}, ctx.device)
        ctx.check_close(f"<g^2>_1 = catalogue formula ((1 - beta2) g^2) at beta2 = {beta2:g}", state.second, law,
                        atol=0.0, rtol=ROUNDING, replicas=replicas)
        if k == 0:  # the notes' default: g^2 / 1000, which the bias correction restores to g^2
            _, corrected = opt.bias_corrected_moments(state.first, state.second, state.count, beta1, beta2)
            ctx.check_close("its bias correction restores g^2: <g^2>_1 / (1 - beta2) = g^2", corrected, g * g,
                            atol=0.0, rtol=ROUNDING, replicas=replicas)
            ctx.check_close("control: <g^2>_1 = g^2", state.second, g * g, atol=0.0, rtol=ROUNDING,
                            replicas=replicas, control=True)


# (beta1, beta2, mu, sigma): beta1 in {0.9, 0.7, 0.3}, beta2 in {0.999, 0.95, 0.8} (none 1/2, so beta <-> 1 - beta is
# seen), mu in {2, 0.5, -1.5} (mu != 1 and mu^2 != mu, so <g> and <g^2> cannot be swapped unseen), each at 2, 4 and
# 10 updates (an exponent off by one is wrong at every t)
ADAM_GRID = ({"beta1": 0.9, "beta2": 0.999, "mu": 2.0, "sigma": 1.0}, {"beta1": 0.7, "beta2": 0.95, "mu": 0.5, "sigma": 1.5},
             {"beta1": 0.3, "beta2": 0.8, "mu": -1.5, "sigma": 0.5})
HORIZONS = (2, 4, 10)  # numbers of updates made; the notes' formula divides by 0 after one


def _affine(law: Formula, point: dict[str, float]) -> tuple[float, float, float]:
    """``(c0, cm, cv)`` with ``law = c0 + cm m + cv v`` at ``point`` (m, v the running averages), checked at a third
    pair; the proof shows the estimates are affine in the averages (else it raises)."""
    c0 = law(m=0.0, v=0.0, **point)
    cm, cv = law(m=1.0, v=0.0, **point) - c0, law(m=0.0, v=1.0, **point) - c0
    if not math.isclose(law(m=2.0, v=3.0, **point), c0 + 2 * cm + 3 * cv, rel_tol=1e-9, abs_tol=1e-12):
        raise ValueError(f"{law.quantity} is not affine in the running averages m, v")
    return c0, cm, cv


@experiment("adam.bias_correction")
def adam_bias_correction(ctx: Context) -> None:
    ctx.param("gradients", "iid N(mu, sigma^2), scalar, one stream per replica")
    record_grid(ctx, ADAM_GRID)
    ctx.param("updates", list(HORIZONS))
    steps = max(HORIZONS)
    laws = {"stated": ctx.formula, "corrected": ctx.corrected_formula}
    family = 4 * len(HORIZONS) * len(ADAM_GRID) + 3
    for g_index, grid_point in enumerate(ADAM_GRID):
        b1, b2, mu, sigma = (grid_point[k] for k in ("beta1", "beta2", "mu", "sigma"))
        # per horizon and law (stated, corrected): the affine coefficients of mhat and vhat in (<g>, <g^2>)
        coeffs = {(c, th, k): _affine(laws[th].component(k), {"beta1": b1, "beta2": b2, "t": c - 1})
                  for c in HORIZONS for th in laws for k in (0, 1)}

        def estimates(n: int, b1: float = b1, b2: float = b2, mu: float = mu, sigma: float = sigma,
                      coeffs: dict = coeffs) -> torch.Tensor:
            """Per replica, per horizon: corrected mhat, corrected vhat, the notes' mhat and vhat."""
            grads = gaussian((steps, n), ctx.generator, mean=mu, std=sigma).to(F64)
            m = torch.zeros(n, dtype=F64, device=grads.device)
            v, cols = torch.zeros_like(m), []
            for c in range(1, steps + 1):  # c = number of updates made so far; the averages are <.>_c, t = c - 1
                m = b1 * m + (1 - b1) * grads[c - 1]
                v = b2 * v + (1 - b2) * grads[c - 1] ** 2
                if c in HORIZONS:
                    for th in ("corrected", "stated"):
                        for k in (0, 1):
                            c0, cm, cv = coeffs[(c, th, k)]
                            cols.append(c0 + cm * m + cv * v)
            return torch.stack(cols, dim=1)

        first, second = mu, mu**2 + sigma**2
        # sized on the corrected estimates (the notes' divide by ~0 and are refuted by orders of magnitude)
        acc = sized(ctx, estimates, rel_se_mean(None, [4 * h + k for h in range(len(HORIZONS)) for k in (0, 1)]),
                    family=family)
        for h, c in enumerate(HORIZONS):
            point = {"beta1": b1, "beta2": b2, "t": c - 1, "mu": mu, "sigma": sigma}
            for k, (what, truth) in enumerate((("mhat", first), ("vhat", second))):
                target = ("E[g]", "E[g^2]")[k]
                ctx.check_mean(f"corrected: E[{what}] = {target} after {c} updates, {label(grid_point)}", acc, truth,
                               ctx.margin, index=4 * h + k, theory_of="corrected", point=point)
                ctx.check_mean(f"notes: E[{what}] = {target} after {c} updates, {label(grid_point)}", acc, truth,
                               ctx.margin, index=4 * h + 2 + k, point=point)
        if g_index == 0:
            point = {"beta1": b1, "beta2": b2, "t": 3, "mu": mu, "sigma": sigma}
            ctx.check_mean("control: E[corrected mhat] = (1 - beta1^4) E[g] after 4 updates (correction undone)", acc,
                           (1 - b1**4) * first, ctx.margin, index=4, control=True, point=point)
            point = {**point, "t": 9}
            ctx.check_mean("control: E[corrected vhat] = E[g]^2 after 10 updates (variance forgotten)", acc,
                           first**2, ctx.margin, index=9, control=True, point=point)
            ctx.check_mean("control: E[corrected vhat] = E[g^2] x (1 + 1.5 margins) after 10 updates", acc, second,
                           ctx.margin, index=9, shift=1.5, point=point)


@experiment("adam.batch_size_coupling")
def adam_batch_size_coupling(ctx: Context) -> None:
    data = spector_logistic()
    w = minimiser(data) * 0.5  # away from the optimum, so the mean gradient is not zero
    ctx.param("dataset", data.description)
    ctx.param("w", "half the maximum-likelihood estimate")
    moments = gradient_moments(data.to(ctx.device), w.to(ctx.device))
    k = int(moments.full_batch.abs().argmax())
    ctx.param("coordinate k (largest |g_fb|)", k)
    per_example = moments.per_example.to(torch.float32)
    # B in {2, 8, 32, 128} (at B = 1 the claim is the definition of sigma^2; its content is the 1/B), and every
    # coordinate: each has its own g and sigma, so g and sigma take as many values as there are coordinates
    batches = (2, 8, 32, 128)
    coords = range(per_example.shape[1])
    ctx.param("g, sigma", "each coordinate's full-batch gradient and per-example standard deviation")
    estimates, stderrs, theory = [], [], []
    for j, b in enumerate(batches):
        def squares(n: int, b: int = b) -> torch.Tensor:
            idx = minibatch_indices(data.size, b, n, ctx.generator, replacement=True)
            return minibatch_means(per_example, idx).to(F64) ** 2

        points = [{"g": float(moments.full_batch[i]), "sigma": math.sqrt(float(moments.covariance[i, i])), "B": b}
                  for i in coords]
        values = [ctx.formula(**pt) for pt in points]
        acc = sized(ctx, squares, rel_se_mean(None, coords), family=17)  # sized on the data, not on the law
        for i in coords:
            ctx.check_mean(f"E[g_B,{i}^2] = catalogue formula at B = {b}", acc, values[i], ctx.margin, index=i,
                           point={**points[i], "coordinate": i})
        if j == len(batches) - 1:
            ctx.check_mean(f"control: formula x (1 + 1.5 margins), coordinate {k}, B = {b}", acc, values[k],
                           ctx.margin, index=k, point={**points[k], "coordinate": k}, shift=1.5)
        estimates.append(acc.mean()[k])
        stderrs.append(acc.stderr_mean()[k])
        theory.append(values[k])
    ctx.add_series(Series.with_z_intervals(f"E[g_B,{k}^2] against B", "B", f"E[g_B,{k}^2]", batches, estimates,
                                           stderrs, theory, theory_label="catalogue formula g^2 + sigma^2 / B",
                                           log_x=True))


if __name__ == "__main__":
    import sys

    from emastats.verification import script_main

    sys.exit(script_main(__name__))
