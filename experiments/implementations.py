"""The catalogue's update rules against the real torch.optim and pandas objects, on identical inputs.

Every experiment feeds one seeded gradient (or data) stream, float64, to a real
optimizer (``torch.optim.SGD`` / ``Adam`` / ``RMSprop``) or to ``pandas``'
``ewm``, and to the formula as the notes write it and as it is corrected. The
comparisons are deterministic (``ctx.check_close``: the largest elementwise
difference against a floating-point bound), so a claim is CONFIRMED when the
trajectories agree to rounding and REFUTED when they do not. Replicas are
independent streams run at once: torch's optimizers act elementwise, so a
parameter tensor of shape (replicas, d) runs all of them in one optimizer;
pandas runs one column per replica. Agreement claims also carry a negative
control (a slightly wrong formula that must be REFUTED), which shows the
comparison can see a difference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from emastats.montecarlo import Context, experiment

ATOL = 1e-10  # float64 trajectories of O(1) numbers over tens of steps agree far below this
RTOL = 1e-9
MAX_REPLICAS = 64  # deterministic comparisons need few streams; more only costs time
DIM = 3
STEPS = 25

GradientAt = Callable[[int, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TorchRun:
    """A real torch optimizer's run: parameters w_0..w_T (T+1, R, d) and, if asked, one state buffer (T, R, d)."""

    params: torch.Tensor
    state: torch.Tensor | None


def _streams(ctx: Context) -> int:
    return min(ctx.replicas, MAX_REPLICAS)


def gradient_stream(ctx: Context, steps: int = STEPS, dim: int = DIM) -> torch.Tensor:
    """(T, R, d) float64 gradients with magnitudes spread over three decades, so eps placement shows."""
    shape = (steps, _streams(ctx), dim)
    normal = torch.randn(shape, generator=ctx.generator, dtype=torch.float64, device=ctx.device)
    log_scale = torch.empty(shape, dtype=torch.float64, device=ctx.device).uniform_(-3.0, 0.0, generator=ctx.generator)
    return normal * 10.0**log_scale


def run_torch(make: Callable[[list[torch.Tensor]], torch.optim.Optimizer], gradient_at: GradientAt, steps: int,
              w0: torch.Tensor, *, lrs: list[float] | None = None, state_key: str | None = None) -> TorchRun:
    """Step a real torch optimizer ``steps`` times, setting ``p.grad = gradient_at(t, p)`` before each step.

    ``lrs`` sets the learning rate before each step (a schedule); ``state_key``
    names an optimizer state buffer to record after each step.
    """
    p = torch.nn.Parameter(w0.clone())
    opt = make([p])
    params, states = [p.detach().clone()], []
    for t in range(steps):
        if lrs is not None:
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        p.grad = gradient_at(t, p.detach()).clone()
        opt.step()
        params.append(p.detach().clone())
        if state_key is not None:
            states.append(opt.state[p][state_key].detach().clone())
    return TorchRun(torch.stack(params), torch.stack(states) if state_key else None)


def _stream(grads: torch.Tensor) -> GradientAt:
    return lambda t, _p: grads[t]


def _cumulative(steps: torch.Tensor, w0: torch.Tensor) -> torch.Tensor:
    """w_0..w_T from w_0 and the steps w_{t+1} - w_t."""
    return torch.cat([w0.unsqueeze(0), w0 + torch.cumsum(steps, dim=0)])


# --- reference formulas (float64, vectorised over replicas) --------------------------------------------

def ema(x: torch.Tensor, beta: float, start: torch.Tensor | float = 0.0) -> torch.Tensor:
    """<x>_1..<x>_T with <x>_{t+1} = beta <x>_t + (1 - beta) x_t from <x>_0 = start (T, ...)."""
    out, state = [], torch.as_tensor(start, dtype=x.dtype, device=x.device) * torch.ones_like(x[0])
    for xt in x:
        state = beta * state + (1 - beta) * xt
        out.append(state)
    return torch.stack(out)


def traditional_momentum_steps(grads: torch.Tensor, mu: float, lrs: list[float]) -> torch.Tensor:
    """Notes Eq. (18): v_{t+1} = mu v_t - eta_t g_t from v_0 = 0; returns the steps v_1..v_T."""
    out, v = [], torch.zeros_like(grads[0])
    for t, g in enumerate(grads):
        v = mu * v - lrs[t] * g
        out.append(v)
    return torch.stack(out)


def adam_steps(grads: torch.Tensor, lr: float, beta1: float, beta2: float, eps: float, *,
               eps_inside: bool, bias_correction: bool = True) -> torch.Tensor:
    """Adam's steps from zero moments, exponents t+1 (t = 0, 1, ...), eps inside or outside the root."""
    m, v = ema(grads, beta1), ema(grads**2, beta2)
    t1 = torch.arange(1, grads.shape[0] + 1, dtype=grads.dtype, device=grads.device).view(-1, *([1] * (grads.dim() - 1)))
    if bias_correction:
        m, v = m / (1 - beta1**t1), v / (1 - beta2**t1)
    denom = torch.sqrt(v + eps) if eps_inside else torch.sqrt(v) + eps
    return -lr * m / denom


def rmsprop_steps(grads: torch.Tensor, lr: float, alpha: float, eps: float, *, eps_inside: bool) -> torch.Tensor:
    """RMSProp's steps with <g^2> from zero (notes Eq. (29), beta2 = alpha), eps inside or outside the root."""
    s = ema(grads**2, alpha)
    return -lr * grads / (torch.sqrt(s + eps) if eps_inside else torch.sqrt(s) + eps)


def _close(ctx: Context, name: str, actual: torch.Tensor, expected: torch.Tensor, *, control: bool = False,
           corrected: bool = False, note: str = "", replicas: int | None = None) -> None:
    ctx.check_close(name, actual, expected, ATOL, RTOL, control=control, replicas=replicas,
                    theory_of="corrected" if corrected else "stated", note=note)


# --- torch.optim.SGD -----------------------------------------------------------------------------------

@experiment("impl.torch_sgd.traditional_form")
def torch_sgd_traditional_form(ctx: Context) -> None:
    lr, mu = ctx.param("lr", 0.1), ctx.param("momentum", 0.9)
    grads = gradient_stream(ctx)
    w0 = torch.zeros_like(grads[0])
    run = run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu), _stream(grads), len(grads), w0)
    lrs = [lr] * len(grads)
    _close(ctx, "torch SGD w_t vs Eq. (18) from v_0 = 0", run.params, _cumulative(traditional_momentum_steps(grads, mu, lrs), w0))
    _close(ctx, "control: Eq. (18) with mu + 1e-6", run.params,
           _cumulative(traditional_momentum_steps(grads, mu + 1e-6, lrs), w0), control=True)


@experiment("impl.torch_sgd.momentum_first_step")
def torch_sgd_momentum_first_step(ctx: Context) -> None:
    lr, mu, damp = ctx.param("lr", 0.1), ctx.param("momentum", 0.9), ctx.param("dampening", 0.5)
    grads = gradient_stream(ctx)
    run = run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, dampening=damp), _stream(grads),
                    len(grads), torch.zeros_like(grads[0]), state_key="momentum_buffer")
    stated, closed, b = [], [], torch.zeros_like(grads[0])
    for t, g in enumerate(grads):
        b = mu * b + (1 - damp) * g
        stated.append(b)
        # corrected closed form: b_t = mu^(t-1) g_0 + (1 - tau) sum_{k=1}^{t-1} mu^(t-1-k) g_k (t = index + 1)
        weights = torch.tensor([mu**t] + [(1 - damp) * mu ** (t - k) for k in range(1, t + 1)],
                               dtype=grads.dtype, device=grads.device)
        closed.append(torch.einsum("k,krd->rd", weights, grads[: t + 1]))
    _close(ctx, "torch buffer vs b_{t+1} = mu b_t + (1-tau) g_t from 0", run.state, torch.stack(stated))
    _close(ctx, "torch buffer vs b_1 = g_0 closed form", run.state, torch.stack(closed), corrected=True)


@experiment("impl.torch_sgd.average_form")
def torch_sgd_average_form(ctx: Context) -> None:
    lr, beta = ctx.param("lr_avg", 1.0), ctx.param("beta1", 0.9)
    grads = gradient_stream(ctx)
    w0 = torch.zeros_like(grads[0])
    run = run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=beta, dampening=beta), _stream(grads), len(grads), w0)
    _close(ctx, "torch SGD vs Eq. (20) from <g>_0 = 0", run.params, _cumulative(-lr * ema(grads, beta), w0))
    _close(ctx, "torch SGD vs Eq. (20) from <g>_0 = g_0", run.params,
           _cumulative(-lr * ema(grads, beta, start=grads[0]), w0), corrected=True)


@experiment("impl.torch_sgd.lr_schedule")
def torch_sgd_lr_schedule(ctx: Context) -> None:
    mu = ctx.param("momentum", 0.9)
    grads = gradient_stream(ctx)
    lrs = ctx.param("lrs", [0.1 * 0.8**t for t in range(len(grads))])  # an exponential-decay schedule
    w0 = torch.zeros_like(grads[0])
    run = run_torch(lambda ps: torch.optim.SGD(ps, lr=lrs[0], momentum=mu), _stream(grads), len(grads), w0, lrs=lrs)
    _close(ctx, "torch SGD vs Eq. (18) with eta_trad = eta_t", run.params,
           _cumulative(traditional_momentum_steps(grads, mu, lrs), w0))
    steps, v = [], torch.zeros_like(grads[0])
    for t, g in enumerate(grads):
        ratio = lrs[t] / lrs[t - 1] if t > 0 else 1.0
        v = ratio * mu * v - lrs[t] * g
        steps.append(v)
    _close(ctx, "torch SGD vs v_{t+1} = (eta_t/eta_{t-1}) mu v_t - eta_t g_t", run.params,
           _cumulative(torch.stack(steps), w0), corrected=True)


@experiment("impl.torch_sgd.nesterov")
def torch_sgd_nesterov(ctx: Context) -> None:
    """On a quadratic L = sum lambda_i w_i^2 / 2, so each form evaluates its gradient at its own point."""
    lr, mu = ctx.param("lr", 0.05), ctx.param("momentum", 0.9)
    curv = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64, device=ctx.device)
    ctx.param("curvatures", curv.tolist())
    w0 = torch.randn((_streams(ctx), DIM), generator=ctx.generator, dtype=torch.float64, device=ctx.device)
    run = run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, nesterov=True),
                    lambda _t, p: curv * p, STEPS, w0)
    w, u, shifted, plain = w0.clone(), torch.zeros_like(w0), [w0.clone()], [w0.clone()]
    for _ in range(STEPS):
        u = mu * u - lr * curv * (w + mu * u)
        w = w + u
        shifted.append(w + mu * u)
        plain.append(w.clone())
    _close(ctx, "torch Nesterov vs look-ahead w_t + mu u_t", run.params, torch.stack(shifted))
    _close(ctx, "control: look-ahead w_t unshifted", run.params, torch.stack(plain), control=True)


# --- torch.optim.Adam ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TorchAdamRun:
    """torch.optim.Adam's trajectory ``params`` on the gradient stream ``grads`` from ``w0``, with its settings."""

    params: torch.Tensor
    grads: torch.Tensor
    w0: torch.Tensor
    lr: float
    beta1: float
    beta2: float
    eps: float

    def by_hand(self, *, eps_inside: bool, bias_correction: bool = True) -> torch.Tensor:
        """The trajectory :func:`adam_steps` gives on the same stream, with the same settings."""
        steps = adam_steps(self.grads, self.lr, self.beta1, self.beta2, self.eps, eps_inside=eps_inside,
                           bias_correction=bias_correction)
        return _cumulative(steps, self.w0)


def _torch_adam(ctx: Context) -> TorchAdamRun:
    """Record Adam's settings (eps large enough that its placement matters) and run torch.optim.Adam from 0."""
    lr, b1, b2, eps = (ctx.param("lr", 0.01), ctx.param("beta1", 0.9), ctx.param("beta2", 0.999),
                       ctx.param("eps", 1e-3))
    grads = gradient_stream(ctx)
    w0 = torch.zeros_like(grads[0])
    run = run_torch(lambda ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps), _stream(grads), len(grads), w0)
    return TorchAdamRun(run.params, grads, w0, lr, b1, b2, eps)


@experiment("impl.torch_adam.bias_corrected_update")
def torch_adam_bias_corrected_update(ctx: Context) -> None:
    adam = _torch_adam(ctx)
    _close(ctx, "torch Adam vs bias-corrected update, eps outside", adam.params, adam.by_hand(eps_inside=False))
    _close(ctx, "control: no bias correction", adam.params,
           adam.by_hand(eps_inside=False, bias_correction=False), control=True)


@experiment("impl.torch_adam.eps_placement")
def torch_adam_eps_placement(ctx: Context) -> None:
    adam = _torch_adam(ctx)
    _close(ctx, "torch Adam vs eps inside the root", adam.params, adam.by_hand(eps_inside=True))
    _close(ctx, "torch Adam vs eps outside the root", adam.params, adam.by_hand(eps_inside=False), corrected=True)


# --- torch.optim.RMSprop -------------------------------------------------------------------------------

@experiment("impl.torch_rmsprop.square_avg")
def torch_rmsprop_square_avg(ctx: Context) -> None:
    lr, alpha = ctx.param("lr", 0.01), ctx.param("alpha", 0.99)
    grads = gradient_stream(ctx)
    run = run_torch(lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha), _stream(grads), len(grads),
                    torch.zeros_like(grads[0]), state_key="square_avg")
    _close(ctx, "torch square_avg vs Eq. (29) from 0", run.state, ema(grads**2, alpha))
    _close(ctx, "control: Eq. (29) started at g_0^2", run.state, ema(grads**2, alpha, start=grads[0] ** 2), control=True)


@experiment("impl.torch_rmsprop.eps_placement")
def torch_rmsprop_eps_placement(ctx: Context) -> None:
    lr, alpha, eps = ctx.param("lr", 0.01), ctx.param("alpha", 0.99), ctx.param("eps", 1e-3)
    grads = gradient_stream(ctx)
    w0 = torch.zeros_like(grads[0])
    run = run_torch(lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps), _stream(grads), len(grads), w0)
    _close(ctx, "torch RMSprop vs eps inside the root", run.params,
           _cumulative(rmsprop_steps(grads, lr, alpha, eps, eps_inside=True), w0))
    _close(ctx, "torch RMSprop vs eps outside the root", run.params,
           _cumulative(rmsprop_steps(grads, lr, alpha, eps, eps_inside=False), w0), corrected=True)


@experiment("impl.torch_rmsprop.first_step")
def torch_rmsprop_first_step(ctx: Context) -> None:
    """torch's defaults (alpha = 0.99, eps = 1e-8): the first step's size against eta and eta/sqrt(1-alpha)."""
    lr, alpha, eps = ctx.param("lr", 0.01), ctx.param("alpha", 0.99), ctx.param("eps", 1e-8)
    grads = gradient_stream(ctx, steps=1)
    run = run_torch(lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps), _stream(grads), 1,
                    torch.zeros_like(grads[0]))
    size = (run.params[1] - run.params[0]).abs()
    g = grads[0].abs()
    _close(ctx, "|w_1 - w_0| vs eta", size, torch.full_like(size, lr), replicas=size.shape[0])
    _close(ctx, "|w_1 - w_0| vs eta |g|/(sqrt(1-alpha)|g| + eps)", size, lr * g / (np.sqrt(1 - alpha) * g + eps),
           corrected=True, replicas=size.shape[0])


# --- pandas ewm ----------------------------------------------------------------------------------------

def data_stream(ctx: Context, steps: int = 20) -> np.ndarray:
    """(T, R) float64 data, one column per replica (pandas runs columns independently)."""
    x = torch.randn((steps, _streams(ctx)), generator=ctx.generator, dtype=torch.float64, device=ctx.device)
    return x.cpu().numpy() + 1.0


def _frame(x: np.ndarray):
    import pandas as pd

    return pd.DataFrame(x)


def _t(array) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float64))  # a writable copy


def pandas_weights(steps: int, beta: float, adjust: bool) -> np.ndarray:
    """Weights of x_1..x_t in pandas' ewm at time t: beta^(t-i) (adjust) or beta^(t-1), (1-beta) beta^(t-i)."""
    w = beta ** np.arange(steps - 1, -1, -1, dtype=np.float64)
    if not adjust:
        w[1:] *= 1 - beta
    return w


def weighted_variances(x: np.ndarray, beta: float, adjust: bool) -> tuple[np.ndarray, np.ndarray]:
    """Biased weighted variance and the W^2/(W^2 - sum w^2) factor at every t >= 1 (rows) for every column."""
    biased, factor = np.zeros_like(x), np.full(x.shape[0], np.nan)
    for t in range(1, x.shape[0] + 1):
        w = pandas_weights(t, beta, adjust)[:, None]
        W, S2 = w.sum(), (w**2).sum()
        mean = (w * x[:t]).sum(0) / W
        biased[t - 1] = (w * (x[:t] - mean) ** 2).sum(0) / W
        factor[t - 1] = W**2 / (W**2 - S2) if t > 1 else np.nan
    return biased, factor


@experiment("impl.pandas_ewm.adjust_true_is_debiased")
def pandas_ewm_adjust_true(ctx: Context) -> None:
    beta = ctx.param("beta", 0.8)
    x = data_stream(ctx)
    got = _t(_frame(x).ewm(alpha=1 - beta, adjust=True).mean().to_numpy())
    zero_start = ema(_t(x), beta)
    t = torch.arange(1, x.shape[0] + 1, dtype=torch.float64).unsqueeze(1)
    _close(ctx, "ewm(adjust=True) vs <x>_t/(1-beta^t)", got, zero_start / (1 - beta**t))
    _close(ctx, "control: <x>_t without the correction", got, zero_start, control=True)


@experiment("impl.pandas_ewm.adjust_false_start")
def pandas_ewm_adjust_false_start(ctx: Context) -> None:
    beta = ctx.param("beta", 0.8)
    x = data_stream(ctx)
    got = _t(_frame(x).ewm(alpha=1 - beta, adjust=False).mean().to_numpy())
    xt = _t(x)
    _close(ctx, "ewm(adjust=False) vs the zero-start EMA", got, ema(xt, beta))
    started = torch.cat([xt[:1], ema(xt[1:], beta, start=xt[0])])
    _close(ctx, "ewm(adjust=False) vs the EMA started at x_1", got, started, corrected=True)


@experiment("impl.pandas_ewm.span_is_not_n")
def pandas_ewm_span_is_not_n(ctx: Context) -> None:
    n = ctx.param("N", 10)
    x = data_stream(ctx)
    xt = _t(x)

    def started(beta: float) -> torch.Tensor:
        return torch.cat([xt[:1], ema(xt[1:], beta, start=xt[0])])

    by_span = _t(_frame(x).ewm(span=n, adjust=False).mean().to_numpy())
    by_com = _t(_frame(x).ewm(com=n - 1, adjust=False).mean().to_numpy())
    _close(ctx, "ewm(span=N) vs beta = 1 - 1/N", by_span, started(1 - 1 / n))
    _close(ctx, "ewm(span=N) vs beta = 1 - 2/(N+1)", by_span, started(1 - 2 / (n + 1)), corrected=True)
    _close(ctx, "ewm(com=N-1) vs beta = 1 - 1/N", by_com, started(1 - 1 / n), corrected=True)


@experiment("impl.pandas_ewm.var_bias_true")
def pandas_ewm_var_bias_true(ctx: Context) -> None:
    beta = ctx.param("beta", 0.8)
    x = data_stream(ctx)
    for adjust in (True, False):
        got = _t(_frame(x).ewm(alpha=1 - beta, adjust=adjust).var(bias=True).to_numpy())
        biased, _ = weighted_variances(x, beta, adjust)
        _close(ctx, f"var(bias=True), adjust={adjust}, vs weighted population variance", got, _t(biased))
    # the plain (unweighted) population variance is what a reader might expect; it must differ
    plain = np.stack([x[:t].var(axis=0) for t in range(1, x.shape[0] + 1)])
    got = _t(_frame(x).ewm(alpha=1 - beta, adjust=True).var(bias=True).to_numpy())
    _close(ctx, "control: unweighted population variance", got, _t(plain), control=True)


@experiment("impl.pandas_ewm.var_bias_false")
def pandas_ewm_var_bias_false(ctx: Context) -> None:
    """Deterministic: the factor W^2/(W^2 - S2). Statistical: E[var(bias=False)] = sigma^2 over many columns."""
    beta, steps = ctx.param("beta", 0.8), ctx.param("t", 20)
    x = data_stream(ctx, steps)
    for adjust in (True, False):
        got = _t(_frame(x).ewm(alpha=1 - beta, adjust=adjust).var(bias=False).to_numpy()[1:])
        biased, factor = weighted_variances(x, beta, adjust)
        _close(ctx, f"var(bias=False), adjust={adjust}, vs W^2/(W^2-S2) var_bias", got, _t(biased[1:] * factor[1:, None]))
    # unbiasedness needs many iid columns: sigma^2 = 1, tolerance 5 %
    columns = torch.randn((steps, ctx.replicas), generator=ctx.generator, dtype=torch.float64,
                          device=ctx.device).cpu().numpy()
    frame = _frame(columns).ewm(alpha=1 - beta, adjust=True)
    unbiased = frame.var(bias=False).to_numpy()[-1]
    ctx.check_mean("E[var(bias=False)] at t for iid N(0, 1)", _t(unbiased), 1.0, 0.05)
    w = pandas_weights(steps, beta, True)
    ctx.check_mean("control: E[var(bias=True)] = sigma^2", _t(frame.var(bias=True).to_numpy()[-1]),
                   1.0, 0.05, control=True,
                   note=f"E[var(bias=True)] = (W^2 - S2)/W^2 = {1 - (w**2).sum() / w.sum()**2:.4f}")
