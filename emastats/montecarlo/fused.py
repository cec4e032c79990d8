"""Fused Monte Carlo runs of the two hot paths, on the torch reference path or a Triton kernel.

Two runs, each returning the float64 ``Moments`` of the replicas' final state:

* ``recursion_moments``: a scalar recursion driven by Gaussian noise, for T
  steps: the EMA ``m <- beta m + (1-beta) x`` of ``x = mean + std z``; heavy-ball
  momentum ``v <- mu v - lr g, w <- w + v``; or Adam (bias-corrected), with the
  noisy gradient ``g = h w + sigma z`` of the quadratic ``h w^2 / 2``;
* ``linear_sgd_moments``: minibatch SGD with replacement on the linear
  least-squares model, ``w <- w - (lr/B) sum_b x_{i_b} (x_{i_b}.w - y_{i_b})``.

Both draw their randomness from counter-based Philox streams keyed by
(seed, replica, step) (``philox.py``), so the numbers of replica r do not
depend on the device, the backend or how the replicas are chunked.

Backends: ``torch`` (the reference, and the default off CUDA) computes the
streams with torch integer arithmetic and runs the package's own code on them
(``sampling.ema_final``, ``optimizers.heavy_ball``/``adam``,
``LinearMinibatchGradient.sgd_step_``), so a kernel is checked against the same
code the experiments use. ``triton`` runs the fused kernel
(``triton_kernels.py``): on CUDA devices, or on CPU tensors under
``TRITON_INTERPRET=1`` (tests). ``auto`` picks triton only on a CUDA device with
triton installed. The two backends agree replica by replica to float32
rounding (normals to about 1e-6 relative: float32 log/cos differ by an ulp
between libraries; indices exactly).

Moments are accumulated about ``shift``, by default the noise-free mean path
(exact for the EMA, heavy ball and SGD, whose mean follows the deterministic
recursion since they are linear in the noise), so float32 partial sums do not cancel.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..errors import UsageError
from . import optimizers, philox
from .accumulators import Moments
from .context import DEFAULT_CHUNK
from .datasets import Dataset, LinearMinibatchGradient
from .device import normalize_device
from .sampling import check_batch, check_beta, check_replicas, ema_final

Backend = Literal["auto", "torch", "triton"]
Rule = Literal["ema", "heavy_ball", "adam"]
Noise = Literal["gaussian", "exponential"]


def triton_available() -> bool:
    """Whether triton can be imported (the optional ``gpu`` extra)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    """Whether ``TRITON_INTERPRET`` asks triton to interpret kernels on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "yes", "on")


def choose_backend(device: torch.device | str, backend: Backend = "auto") -> str:
    """``torch`` or ``triton`` for a run on ``device``; ``auto`` is triton only on CUDA with triton installed."""
    dev = normalize_device(device)
    if backend == "auto":
        return "triton" if dev.type == "cuda" and triton_available() else "torch"
    if backend == "torch":
        return "torch"
    if backend != "triton":
        raise UsageError(f"unknown backend {backend!r}; use auto, torch or triton")
    if not triton_available():
        raise UsageError("the triton backend needs triton: pip install 'emastats[gpu]'")
    if dev.type != "cuda" and not (dev.type == "cpu" and interpreting()):
        raise UsageError(f"the triton kernels run on CUDA devices (or on the CPU under TRITON_INTERPRET=1), "
                         f"not on {dev}")
    return "triton"


@dataclass(frozen=True)
class Recursion:
    """A scalar noise-driven recursion: ``rule``, its parameters ``values`` (kernel order), the start ``init``
    and the standardised noise z (``gaussian`` N(0, 1), or ``exponential`` Exp(1) - 1: mean 0, variance 1).

    Build it with ``ema``, ``heavy_ball`` or ``adam`` below.
    """

    rule: Rule
    values: tuple[float, ...]
    init: float
    noise: Noise = "gaussian"

    def noise_free(self, steps: int) -> float:
        """The final state with z = 0 throughout (float64): the mean of the EMA and heavy ball exactly."""
        x, a, b = float(self.init), 0.0, 0.0
        v = self.values
        for t in range(steps):
            if self.rule == "ema":
                x = v[0] * x + (1 - v[0]) * v[1]
            elif self.rule == "heavy_ball":
                a = v[1] * a - v[0] * v[2] * x
                x += a
            else:
                g = v[4] * x
                a, b = v[1] * a + (1 - v[1]) * g, v[2] * b + (1 - v[2]) * g * g
                x -= v[0] * (a / (1 - v[1] ** (t + 1))) / (math.sqrt(b / (1 - v[2] ** (t + 1))) + v[3])
        return x

    def corrections(self, steps: int, device: torch.device) -> torch.Tensor:
        """Adam's ``(1 - beta1^(t+1), 1 - beta2^(t+1))`` per step in float32, computed in float64 as ``adam`` does."""
        if self.rule != "adam":
            return torch.ones(2, dtype=torch.float32, device=device)
        t = np.arange(1, steps + 1, dtype=np.float64)
        c = np.stack([1 - self.values[1] ** t, 1 - self.values[2] ** t], axis=1)
        return torch.as_tensor(c, dtype=torch.float32, device=device).contiguous()

    def reference(self, noise: torch.Tensor) -> torch.Tensor:
        """Final states (R,) from noise (T, R) with the package's torch code (the reference path)."""
        v = self.values
        if self.rule == "ema":
            return ema_final(noise * v[2] + v[1], v[0], self.init)
        start = torch.full(noise.shape[1:], float(self.init), dtype=noise.dtype, device=noise.device)
        if self.rule == "heavy_ball":
            rule, h, sigma = optimizers.heavy_ball(v[0], v[1]), v[2], v[3]
        else:
            rule, h, sigma = optimizers.adam(v[0], v[1], v[2], v[3]), v[4], v[5]
        return optimizers.run(rule, lambda w, t: w * h + noise[t] * sigma, start, noise.shape[0])[-1]


def _check_noise(noise: str) -> Noise:
    if noise not in philox.NOISES:
        raise UsageError(f"unknown noise {noise!r}; use {' or '.join(philox.NOISES)}")
    return noise  # type: ignore[return-value]


def ema(beta: float, mean: float = 0.0, std: float = 1.0, init: float = 0.0, noise: Noise = "gaussian") -> Recursion:
    """EMA ``m <- beta m + (1-beta) x_t`` of ``x_t = mean + std z_t`` from ``m_0 = init`` (z of kind ``noise``)."""
    return Recursion("ema", (check_beta(beta), float(mean), float(std)), float(init), _check_noise(noise))


def heavy_ball(lr: float, momentum: float, curvature: float = 1.0, noise: float = 1.0,
               init: float = 0.0) -> Recursion:
    """Heavy ball ``v <- mu v - lr g``, ``w <- w + v`` with ``g = h w + sigma z`` (``optimizers.heavy_ball``)."""
    optimizers.heavy_ball(lr, momentum)  # validates
    return Recursion("heavy_ball", (float(lr), float(momentum), float(curvature), float(noise)), float(init))


def adam(lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, curvature: float = 1.0,
         noise: float = 1.0, init: float = 1.0) -> Recursion:
    """Adam (``optimizers.adam``) on the quadratic with ``g = h w + sigma z``."""
    optimizers.adam(lr, beta1, beta2, eps)  # validates
    return Recursion("adam", (float(lr), float(beta1), float(beta2), float(eps), float(curvature), float(noise)),
                     float(init))


@dataclass(frozen=True)
class FusedRun:
    """Moments of the final states, the backend that produced them, and the states when asked for."""

    moments: Moments
    backend: str
    states: torch.Tensor | None


def _moments_from_sums(n: int, shift: np.ndarray, sums: np.ndarray) -> Moments:
    """A ``Moments`` from summed kernel partials: d power sums S1 then S11, S21, S22 (d x d each)."""
    d = shift.shape[0]
    s11, s21, s22 = (sums[d + k * d * d: d + (k + 1) * d * d].reshape(d, d) for k in range(3))
    return Moments(int(n), shift.astype(np.float64), sums[:d].copy(), s11.copy(), s21.copy(), s22.copy())


def _chunks(total: int, chunk: int) -> list[tuple[int, int]]:
    """(start, size) pieces of at most ``chunk`` (>= 2) replicas each; a last piece of 1 joins the one before."""
    pieces = [(s, min(chunk, total - s)) for s in range(0, total, max(2, int(chunk)))]
    if len(pieces) > 1 and pieces[-1][1] == 1:
        (s, n), _ = pieces[-2], pieces.pop()
        pieces[-1] = (s, n + 1)
    return pieces


def _check_steps(steps: int) -> int:
    if int(steps) != steps or steps < 1:
        raise UsageError(f"steps must be a positive integer, got {steps!r}")
    return int(steps)


def recursion_moments(recursion: Recursion, *, steps: int, replicas: int, seed: int,
                      device: torch.device | str = "cpu", backend: Backend = "auto", shift: float | None = None,
                      replica_offset: int = 0, keep_states: bool = False, chunk: int = DEFAULT_CHUNK) -> FusedRun:
    """Moments of the final state of ``recursion`` over ``replicas`` replicas (noise keyed by seed, replica, step)."""
    steps, replicas = _check_steps(steps), check_replicas(replicas)
    dev = normalize_device(device)
    which = choose_backend(dev, backend)
    centre = recursion.noise_free(steps) if shift is None else float(shift)
    shift_arr = np.array([centre])
    if which == "triton":
        from . import triton_kernels

        partial, states = triton_kernels.launch_recursion(
            recursion.rule, recursion.values, recursion.init, recursion.corrections(steps, dev), seed=seed,
            replicas=replicas, steps=steps, shift=centre, replica_offset=replica_offset, device=dev,
            write_states=keep_states, noise=recursion.noise)
        # with d = 1 the kernel's four power sums (y, y^2, y^3, y^4) are exactly S1, S11, S21, S22
        sums = partial.to("cpu", torch.float64).sum(dim=0).numpy()
        return FusedRun(_moments_from_sums(replicas, shift_arr, sums), which, states)
    acc, kept = Moments.empty(1, shift_arr), []
    for start, n in _chunks(replicas, chunk):
        z = philox.noise(recursion.noise, seed, n, steps, replica_offset=replica_offset + start, device=dev)
        final = recursion.reference(z)
        acc.add(final)
        if keep_states:
            kept.append(final)
    return FusedRun(acc, which, torch.cat(kept) if keep_states else None)


def _noise_free_sgd(features: np.ndarray, targets: np.ndarray, w0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Full-batch gradient descent for ``steps`` steps in float64: the exact mean of w_T under SGD with replacement."""
    n = features.shape[0]
    hessian, rhs = features.T @ features / n, features.T @ targets / n
    w = w0.astype(np.float64).copy()
    for _ in range(steps):
        w -= lr * (hessian @ w - rhs)
    return w


def linear_sgd_moments(data: Dataset, *, learning_rate: float, batch: int, steps: int, replicas: int, seed: int,
                       w0: torch.Tensor | None = None, device: torch.device | str = "cpu",
                       backend: Backend = "auto", shift: np.ndarray | None = None, replica_offset: int = 0,
                       keep_states: bool = False, chunk: int = DEFAULT_CHUNK) -> FusedRun:
    """Moments of w_T of minibatch SGD (with replacement) on the linear model ``data``, all replicas from ``w0``."""
    if data.model != "linear":
        raise UsageError(f"the fused SGD kernel is for linear regression, got a {data.model} dataset")
    steps, replicas = _check_steps(steps), check_replicas(replicas)
    check_batch(data.size, batch, True)
    if not learning_rate > 0:
        raise UsageError(f"learning rate must be > 0, got {learning_rate!r}")
    dev = normalize_device(device)
    which = choose_backend(dev, backend)
    start = torch.zeros(data.dim, dtype=torch.float64) if w0 is None else torch.as_tensor(w0, dtype=torch.float64)
    if start.shape != (data.dim,):
        raise UsageError(f"w0 must have shape ({data.dim},), got {tuple(start.shape)}")
    centre = (_noise_free_sgd(data.features.double().numpy(), data.targets.double().numpy(), start.numpy(),
                              float(learning_rate), steps) if shift is None else np.asarray(shift, np.float64))
    if which == "triton":
        from . import triton_kernels

        x = data.features.to(dev, torch.float32).contiguous()
        y = data.targets.to(dev, torch.float32).contiguous()
        partial, states = triton_kernels.launch_linear_sgd(
            x, y, start.to(dev, torch.float32), torch.as_tensor(centre, dtype=torch.float32, device=dev),
            learning_rate=learning_rate, batch=batch, seed=seed, replicas=replicas, steps=steps,
            replica_offset=replica_offset, write_states=keep_states)
        sums = partial.to("cpu", torch.float64).sum(dim=0).numpy()
        return FusedRun(_moments_from_sums(replicas, centre, sums), which, states)
    kernel = LinearMinibatchGradient(data, torch.float32, dev)
    acc, kept = Moments.empty(data.dim, centre), []
    for first, n in _chunks(replicas, chunk):
        w = start.to(dev, torch.float32).expand(n, data.dim).clone()
        for t in range(steps):
            idx = philox.minibatch_indices(seed, n, t, batch, data.size, replica_offset=replica_offset + first,
                                           device=dev)
            kernel.sgd_step_(w, idx, learning_rate)
        acc.add(w)
        if keep_states:
            kept.append(w)
    return FusedRun(acc, which, torch.cat(kept) if keep_states else None)
