"""Batched optimiser update rules as pure init/update pairs, in the spirit of optax.

Every optimiser is an :class:`Optimizer`: ``init(params)`` builds its state and
``update(grads, state)`` returns a :class:`Step` with the additive ``updates``
(``params + updates`` is the next iterate) and the new state. Nothing is
modified in place, so two optimisers fed the same gradients can be compared
trajectory by trajectory. All rules act elementwise (or, for norm clipping, on
the last dimension), so a leading replica dimension ``(R, d)`` is simply carried
along: replicas are a tensor dimension, never a Python loop.

``gradient_point(params, state)`` is where the caller must evaluate the
gradient for the next update: the iterate itself for every rule except
Nesterov's look-ahead form, which evaluates it at ``w + mu u``.

Conventions, with t counting updates from 0 and all states starting at zero:

* heavy ball, traditional form: ``v <- mu v - eta g``, ``w <- w + v``;
* heavy ball, average form:     ``m <- beta m + (1-beta) g``, ``w <- w - eta m``
  (the same trajectory as the traditional form when ``mu = beta`` and
  ``eta_trad = (1-beta) eta_avg``);
* Nesterov, PyTorch form (``torch.optim.SGD(nesterov=True)``):
  ``b <- mu b + g``, ``w <- w - eta (g + mu b)``;
* Nesterov, look-ahead form: ``u <- mu u - eta grad L(w + mu u)``, ``w <- w + u``;
* RMSProp: ``s <- beta2 s + (1-beta2) g^2``, ``w <- w - eta g / sqrt(s + eps)``;
* Adam (Kingma & Ba): ``m <- beta1 m + (1-beta1) g``, ``s <- beta2 s + (1-beta2) g^2``,
  ``w <- w - eta mhat / (sqrt(shat) + eps)`` with ``mhat = m/(1-beta1^(t+1))``,
  ``shat = s/(1-beta2^(t+1))``.

The variants the EMAT31530 notes print (RMSProp with a plus sign, Adam with the
two moment estimates swapped, exponents one step behind and a plus sign) are
separate, named functions so that experiments can run them side by side.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from ..errors import UsageError

State = Any  # each optimiser's own frozen dataclass (or None when stateless)


@dataclass(frozen=True)
class Step:
    """What one update returns: the additive change of the iterate and the new state."""

    updates: Tensor
    state: State


@dataclass(frozen=True)
class Optimizer:
    """A named init/update pair (see the module docstring)."""

    name: str
    init: Callable[[Tensor], State]
    update: Callable[[Tensor, State], Step]
    gradient_point: Callable[[Tensor, State], Tensor] = lambda params, state: params


def apply_updates(params: Tensor, updates: Tensor) -> Tensor:
    """The next iterate ``params + updates``."""
    return params + updates


def run(optimizer: Optimizer, grad_fn: Callable[[Tensor, int], Tensor], params: Tensor, steps: int) -> Tensor:
    """Trajectory ``(steps + 1, *params.shape)`` of ``optimizer`` from ``params``.

    ``grad_fn(point, t)`` gives the gradient at ``point`` for update ``t``
    (deterministic or stochastic, as the caller chooses); it is called once per
    update at ``optimizer.gradient_point``.
    """
    if steps < 0:
        raise UsageError(f"steps must be >= 0, got {steps}")
    state = optimizer.init(params)
    path = [params]
    for t in range(steps):
        step = optimizer.update(grad_fn(optimizer.gradient_point(params, state), t), state)
        params, state = apply_updates(params, step.updates), step.state
        path.append(params)
    return torch.stack(path)


# --- parameter checks -------------------------------------------------------------------------

def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise UsageError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _decay(name: str, value: float) -> float:
    if not 0 <= value < 1:
        raise UsageError(f"{name} must lie in [0, 1), got {value!r}")
    return float(value)


def _nonnegative(name: str, value: float) -> float:
    if not value >= 0:
        raise UsageError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _zeros(state: Callable[[Tensor], State]) -> Callable[[Tensor], State]:
    """An ``init`` that wraps one zero tensor shaped like the parameters in ``state`` (all buffers start at 0)."""
    return lambda p: state(torch.zeros_like(p))


# --- first-order rules ------------------------------------------------------------------------

def sgd(lr: float) -> Optimizer:
    """Plain (stochastic) gradient descent: ``w <- w - lr g``."""
    lr = _positive("lr", lr)
    return Optimizer("sgd", lambda p: None, lambda g, s: Step(-lr * g, None))


@dataclass(frozen=True)
class VelocityState:
    """Heavy-ball velocity ``v`` (traditional form) or look-ahead Nesterov's ``u``."""

    velocity: Tensor


def heavy_ball(lr: float, momentum: float) -> Optimizer:
    """Heavy ball, traditional (velocity) form: ``v <- mu v - lr g``, ``w <- w + v``, ``v_0 = 0``."""
    lr, mu = _positive("lr", lr), _decay("momentum", momentum)

    def update(g: Tensor, s: VelocityState) -> Step:
        v = mu * s.velocity - lr * g
        return Step(v, VelocityState(v))

    return Optimizer("heavy_ball", _zeros(VelocityState), update)


@dataclass(frozen=True)
class AverageState:
    """An EMA of the gradient (average-form momentum, Adam's first moment)."""

    average: Tensor


def heavy_ball_average(lr: float, beta: float) -> Optimizer:
    """Heavy ball, average (EMA) form: ``m <- beta m + (1-beta) g``, ``w <- w - lr m``, ``m_0 = 0``."""
    lr, beta = _positive("lr", lr), _decay("beta", beta)

    def update(g: Tensor, s: AverageState) -> Step:
        m = beta * s.average + (1 - beta) * g
        return Step(-lr * m, AverageState(m))

    return Optimizer("heavy_ball_average", _zeros(AverageState), update)


@dataclass(frozen=True)
class BufferState:
    """PyTorch's momentum buffer ``b`` (a sum of past gradients, not scaled by lr)."""

    buffer: Tensor


def nesterov_pytorch(lr: float, momentum: float) -> Optimizer:
    """Nesterov as ``torch.optim.SGD(nesterov=True)``: ``b <- mu b + g``, ``w <- w - lr (g + mu b)``."""
    lr, mu = _positive("lr", lr), _decay("momentum", momentum)

    def update(g: Tensor, s: BufferState) -> Step:
        b = mu * s.buffer + g
        return Step(-lr * (g + mu * b), BufferState(b))

    return Optimizer("nesterov_pytorch", _zeros(BufferState), update)


def nesterov_lookahead(lr: float, momentum: float) -> Optimizer:
    """Nesterov's look-ahead form: ``u <- mu u - lr grad L(w + mu u)``, ``w <- w + u``, ``u_0 = 0``.

    The gradient handed to ``update`` must be taken at ``gradient_point(w, state) = w + mu u``.
    The update itself is the heavy ball's; only where the gradient is taken differs.
    """
    base = heavy_ball(lr, momentum)  # validates lr and momentum
    mu = float(momentum)
    return replace(base, name="nesterov_lookahead", gradient_point=lambda p, s: p + mu * s.velocity)


# --- adaptive rules ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SquareState:
    """RMSProp's EMA of squared gradients ``s``."""

    square: Tensor


def _rmsprop(name: str, lr: float, beta2: float, eps: float, sign: float) -> Optimizer:
    lr, beta2, eps = _positive("lr", lr), _decay("beta2", beta2), _nonnegative("eps", eps)

    def update(g: Tensor, s: SquareState) -> Step:
        sq = beta2 * s.square + (1 - beta2) * g * g
        return Step(sign * lr * g / torch.sqrt(sq + eps), SquareState(sq))

    return Optimizer(name, _zeros(SquareState), update)


def rmsprop(lr: float, beta2: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSProp: ``s <- beta2 s + (1-beta2) g^2``, ``w <- w - lr g / sqrt(s + eps)``, ``s_0 = 0``."""
    return _rmsprop("rmsprop", lr, beta2, eps, -1.0)


def rmsprop_as_printed(lr: float, beta2: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSProp with the plus sign the EMAT31530 notes print (§4): ``w <- w + lr g / sqrt(s + eps)``."""
    return _rmsprop("rmsprop_as_printed", lr, beta2, eps, +1.0)


@dataclass(frozen=True)
class AdamState:
    """Adam's two EMAs, ``m`` of g and ``s`` of g^2, and the number of updates made so far."""

    count: int
    first: Tensor
    second: Tensor


def _adam_init(p: Tensor) -> AdamState:
    return AdamState(0, torch.zeros_like(p), torch.zeros_like(p))


def _adam_hyperparameters(lr: float, beta1: float, beta2: float, eps: float) -> tuple[float, float, float, float]:
    """``(lr, beta1, beta2, eps)`` validated: lr > 0, betas in [0, 1), eps >= 0."""
    return _positive("lr", lr), _decay("beta1", beta1), _decay("beta2", beta2), _nonnegative("eps", eps)


def _adam_moments(g: Tensor, s: AdamState, beta1: float, beta2: float, count: int) -> AdamState:
    """Both EMAs after gradient ``g``: ``m <- beta1 m + (1-beta1) g``, ``s <- beta2 s + (1-beta2) g^2``."""
    return AdamState(count, beta1 * s.first + (1 - beta1) * g, beta2 * s.second + (1 - beta2) * g * g)


def adam(lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam with the correct bias correction.

    ``mhat = m_{t+1}/(1-beta1^(t+1))`` and ``shat = s_{t+1}/(1-beta2^(t+1))`` are
    unbiased for E[g] and E[g^2] when the gradients have a constant mean and
    second moment; the update is ``-lr mhat / (sqrt(shat) + eps)``.
    """
    lr, beta1, beta2, eps = _adam_hyperparameters(lr, beta1, beta2, eps)

    def update(g: Tensor, s: AdamState) -> Step:
        t = s.count + 1
        new = _adam_moments(g, s, beta1, beta2, t)
        m_hat, v_hat = new.first / (1 - beta1**t), new.second / (1 - beta2**t)
        return Step(-lr * m_hat / (torch.sqrt(v_hat) + eps), new)

    return Optimizer("adam", _adam_init, update)


def adam_as_printed(lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam exactly as the EMAT31530 notes print it (§5), kept to show what it does.

    With t the number of updates already made, the notes set
    ``mhat = s_{t+1}/(1-beta1^t)`` (the *squared*-gradient average under beta1's
    correction), ``vhat = m_{t+1}/(1-beta2^t)`` and ``w <- w + lr mhat / sqrt(vhat + eps)``.
    At t = 0 both corrections divide by zero, and ``vhat`` can be negative, so the
    iterate is inf/nan from the first step: that is what the rule computes, and
    it is returned unchanged rather than guarded.
    """
    lr, beta1, beta2, eps = _adam_hyperparameters(lr, beta1, beta2, eps)

    def update(g: Tensor, s: AdamState) -> Step:
        t = s.count
        new = _adam_moments(g, s, beta1, beta2, t + 1)
        m_hat, v_hat = new.second / (1 - beta1**t), new.first / (1 - beta2**t)  # t = 0: tensor / 0.0, inf or nan
        return Step(lr * m_hat / torch.sqrt(v_hat + eps), new)

    return Optimizer("adam_as_printed", _adam_init, update)


def bias_corrected_moments(first: Tensor, second: Tensor, t: int, beta1: float, beta2: float) -> tuple[Tensor, Tensor]:
    """Adam's corrected ``(mhat, shat)`` after ``t >= 1`` updates: ``m/(1-beta1^t)``, ``s/(1-beta2^t)``."""
    if t < 1:
        raise UsageError(f"bias correction needs t >= 1 updates, got {t}")
    return first / (1 - beta1**t), second / (1 - beta2**t)


# --- clipping and accumulation ----------------------------------------------------------------

def clip_by_value(g: Tensor, c: float) -> Tensor:
    """Elementwise ``clip(g, -c, c)``."""
    c = _positive("clip threshold c", c)
    return torch.clamp(g, -c, c)


def clip_by_norm(g: Tensor, c: float) -> Tensor:
    """Rescale each vector along the last dimension to norm ``min(||g||, c)``: ``g min(1, c/||g||)``."""
    c = _positive("clip threshold c", c)
    norm = torch.linalg.vector_norm(g, dim=-1, keepdim=True)
    return g * torch.clamp(c / norm.clamp_min(torch.finfo(g.dtype).tiny), max=1.0)


def clipped(inner: Optimizer, clip: Callable[[Tensor], Tensor], name: str | None = None) -> Optimizer:
    """``inner`` applied to ``clip(g)``, e.g. ``clipped(sgd(0.1), lambda g: clip_by_norm(g, 1.0))``."""
    return Optimizer(name or f"clipped_{inner.name}", inner.init, lambda g, s: inner.update(clip(g), s),
                     inner.gradient_point)


@dataclass(frozen=True)
class AccumulationState:
    """Micro-steps taken in the current window, the running gradient sum, and the inner state."""

    micro: int
    total: Tensor
    inner: State


def accumulate(inner: Optimizer, every: int) -> Optimizer:
    """Gradient accumulation (optax's ``MultiSteps``): apply ``inner`` to the mean of every ``every`` gradients.

    Between applications the update is zero; on the ``every``-th micro-step the
    inner optimiser sees ``(1/every) sum_k g_k`` once.
    """
    if every < 1:
        raise UsageError(f"accumulation needs every >= 1 micro-steps, got {every}")

    def init(p: Tensor) -> AccumulationState:
        return AccumulationState(0, torch.zeros_like(p), inner.init(p))

    def update(g: Tensor, s: AccumulationState) -> Step:
        total, micro = s.total + g, s.micro + 1
        if micro < every:
            return Step(torch.zeros_like(g), AccumulationState(micro, total, s.inner))
        step = inner.update(total / every, s.inner)
        return Step(step.updates, AccumulationState(0, torch.zeros_like(total), step.state))

    return Optimizer(f"accumulate_{every}_{inner.name}", init, update,
                     gradient_point=lambda p, s: inner.gradient_point(p, s.inner))
