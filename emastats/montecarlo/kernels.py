"""The one dispatch point between an experiment's hot path and the engine that runs it.

An experiment hands its own torch sampler (``n -> samples``, drawing from
``ctx.generator``) together with a description of the same computation as a
fused run (``fused.Recursion`` columns, or minibatch SGD on a linear model).
``engine(ctx.device)`` decides which one runs:

* ``fused``: the Triton kernels of ``fused.py``, which draw their noise in the
  kernel and stream float64 moments (``context.MomentSource``): no noise and,
  for one column, no states are written, and all replicas go in one launch;
* ``torch``: the experiment's own sampler, unchanged.

The choice is ``$EMASTATS_ENGINE``: ``auto`` (default: fused on a CUDA device
with triton installed, torch otherwise), ``fused`` (forced) or ``torch``. A fused
run uses the Triton kernel where it can run (a CUDA device with triton, or CPU
tensors under ``TRITON_INTERPRET=1``) and otherwise the fused path's torch
reference (``fused.py``: the same Philox streams and recursion, equal to the
kernel to float32 rounding), which is how the tests run whole experiments on
the fused path quickly. Device types are compared, never device strings.

Streams differ by design between the engines: the fused run's Philox keys are
drawn from ``ctx.generator`` (one key per call and column), so a run is still a
function of (seed, device), but it does not reproduce the torch path's draws;
the two engines agree in distribution (same law of the noise, same recursion),
which the tests check by running the wired experiments on both (|z| <= 5 between
their estimates, same verdicts). Each call of a fused source draws fresh
keys, so the two stages of ``Context.sized_moments`` are independent.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import torch

from ..errors import UsageError
from . import fused
from .accumulators import Moments
from .context import Context, MomentSource
from .datasets import Dataset
from .device import normalize_device
from .sampling import _WORD_BITS, _WORD_RANGE, _lemire_indices_, check_batch, check_replicas

ENGINE_ENV = "EMASTATS_ENGINE"
ENGINES = ("auto", "fused", "torch")
LAUNCH_REPLICAS = 1 << 28  # replicas per launch when moments are streamed (the kernel's counters are 32-bit)
STATES_REPLICAS = 1 << 24  # replicas per launch when the states of several columns are kept (64 MB a column)
FLOAT_EXACT_N = 1 << 22  # ExactIndexSampler computes in float64 up to this n (u n < 2^53)

Engine = Literal["fused", "torch"]
Sampler = Callable[[int], torch.Tensor]


def engine(device: torch.device | str) -> Engine:
    """``fused`` or ``torch`` for a run on ``device``, from ``$EMASTATS_ENGINE`` (auto, fused or torch)."""
    asked = os.environ.get(ENGINE_ENV, "auto").strip().lower() or "auto"
    if asked not in ENGINES:
        raise UsageError(f"{ENGINE_ENV} must be auto, fused or torch, got {asked!r}")
    if asked == "auto":  # fused.choose_backend's auto: triton only on a CUDA device with triton installed
        return "fused" if fused.choose_backend(device, "auto") == "triton" else "torch"
    return asked  # type: ignore[return-value]


def fused_backend(device: torch.device | str) -> str:
    """The backend of a fused run on ``device``: ``triton`` where the kernel can run, else its ``torch`` reference."""
    if normalize_device(device).type != "cuda" and not fused.interpreting():
        return "torch"  # decided without importing triton (which would fix its mode for this process)
    try:
        return fused.choose_backend(device, "triton")
    except UsageError:
        return "torch"


def _keys(ctx: Context, count: int) -> list[int]:
    """``count`` fresh 62-bit Philox keys drawn from the claim's generator (reproducible for a seed and device)."""
    drawn = torch.randint(0, 1 << 62, (count,), generator=ctx.generator, device=ctx.generator.device)
    return [int(k) for k in drawn.tolist()]


def _pieces(total: int, size: int) -> list[tuple[int, int]]:
    """(start, count) launches of at most ``size`` replicas each; every launch passes its start as
    ``replica_offset``, so the Philox streams of the replicas do not depend on where the cuts fall."""
    return [(s, min(size, total - s)) for s in range(0, total, size)]


def scale_moments(m: Moments, factor: float) -> Moments:
    """The moments of ``factor * x`` from those of x (exact: each power sum of order k scales by factor^k)."""
    c = float(factor)
    return Moments(m.n, m.shift * c, m.s1 * c, m.s11 * c**2, m.s21 * c**3, m.s22 * c**4)


@dataclass
class RecursionSource(MomentSource):
    """Final states of independent scalar recursions, one column each, T steps, on the fused engine."""

    ctx: Context
    recursions: tuple[fused.Recursion, ...]
    steps: int
    scale: float = 1.0
    backend: str = "triton"

    def moments(self, replicas: int) -> Moments:
        keys, dev = _keys(self.ctx, len(self.recursions)), self.ctx.device
        if len(self.recursions) == 1:  # moments streamed by the kernel, nothing else written
            (rec,), (key,) = self.recursions, keys
            acc = Moments.empty(1, np.array([rec.noise_free(self.steps)]))
            for start, n in _pieces(replicas, LAUNCH_REPLICAS):
                acc = acc.merge(fused.recursion_moments(rec, steps=self.steps, replicas=n, seed=key, device=dev,
                                                        backend=self.backend, replica_offset=start).moments)
            return scale_moments(acc, self.scale)
        # several columns: their states side by side, so the cross sums of Moments are those of the joint sample
        acc = None
        for start, n in _pieces(replicas, STATES_REPLICAS):
            cols = [fused.recursion_moments(rec, steps=self.steps, replicas=n, seed=key, device=dev,
                                            backend=self.backend, replica_offset=start, keep_states=True).states
                    for rec, key in zip(self.recursions, keys)]
            part = torch.stack(cols, dim=1) * self.scale
            acc = Moments.from_samples(part) if acc is None else acc.update(part)
        assert acc is not None
        return acc


@dataclass
class LinearSGDSource(MomentSource):
    """w_T of minibatch SGD (with replacement) on a linear model from ``w0``, on the fused engine, times ``scale``."""

    ctx: Context
    data: Dataset
    learning_rate: float
    batch: int
    steps: int
    w0: torch.Tensor | None = None
    scale: float = 1.0
    backend: str = "triton"

    def moments(self, replicas: int) -> Moments:
        (key,) = _keys(self.ctx, 1)
        acc = None
        for start, n in _pieces(replicas, LAUNCH_REPLICAS):
            part = fused.linear_sgd_moments(self.data.to(torch.device("cpu")), learning_rate=self.learning_rate,
                                            batch=self.batch, steps=self.steps, replicas=n, seed=key,
                                            w0=self.w0, device=self.ctx.device, backend=self.backend,
                                            replica_offset=start).moments
            acc = part if acc is None else acc.merge(part)
        assert acc is not None
        return scale_moments(acc, self.scale)


def _record(ctx: Context, kernel: str) -> str:
    """Record the engine among the run's parameters; returns the fused run's backend."""
    backend = fused_backend(ctx.device)
    how = f"Triton {kernel}" if backend == "triton" else f"torch reference of {kernel}"
    ctx.param("engine", f"fused ({how}; Philox streams keyed from the claim's generator)")
    return backend


def recursion_sampler(ctx: Context, recursions: Sequence[fused.Recursion], steps: int, fallback: Sampler, *,
                      scale: float = 1.0) -> Sampler | MomentSource:
    """The sampler of the final states of ``recursions`` (one column each) after ``steps`` steps, times ``scale``.

    ``fallback`` is the experiment's torch sampler of the same quantity (its columns in the same order,
    ``scale`` already applied); it is returned unchanged on the torch engine.
    """
    if engine(ctx.device) == "torch":
        return fallback
    backend = _record(ctx, "recursion_kernel, moments streamed" if len(recursions) == 1
                      else "recursion_kernel, states of the columns side by side")
    return RecursionSource(ctx, tuple(recursions), int(steps), float(scale), backend)


def recursion_states(ctx: Context, recursion: fused.Recursion, steps: int, replicas: int,
                     fallback: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The (replicas,) final states of ``recursion`` after ``steps`` steps, for code that needs the states.

    On the fused engine the kernel writes them (float32, one key per call); on the torch engine
    ``fallback()`` (the caller's own simulation) computes them.
    """
    if engine(ctx.device) == "torch":
        return fallback()
    backend = _record(ctx, "recursion_kernel, states written")
    (key,) = _keys(ctx, 1)
    return torch.cat([fused.recursion_moments(recursion, steps=int(steps), replicas=n, seed=key, device=ctx.device,
                                              backend=backend, replica_offset=start, keep_states=True).states
                      for start, n in _pieces(int(replicas), STATES_REPLICAS)])


def linear_sgd_sampler(ctx: Context, data: Dataset, *, learning_rate: float, batch: int, steps: int,
                       fallback: Sampler, w0: torch.Tensor | None = None,
                       scale: float = 1.0) -> Sampler | MomentSource:
    """The sampler of ``scale`` w_T, minibatch SGD with replacement on the linear model ``data`` from ``w0``.

    With ``w0 = 0``, ``steps = 1``, ``learning_rate = 1`` and ``scale = -1`` that is the minibatch-mean
    gradient at 0 of the squared loss. ``fallback`` (the experiment's torch sampler) runs on the torch engine.
    """
    if engine(ctx.device) == "torch":
        return fallback
    backend = _record(ctx, "linear_sgd_kernel, moments streamed")
    return LinearSGDSource(ctx, data, float(learning_rate), int(batch), int(steps), w0, float(scale), backend)


class ExactIndexSampler:
    """``minibatch_indices(n, batch, replicas, generator, replacement=True)`` with its work buffers kept.

    The CPU SGD loop's sampler: the same generator calls and the same indices as ``sampling.uniform_indices``
    (Lemire's multiply-shift of 31-bit words, the rare biased words redrawn the same way), but the words, the
    products and the rejection test live in buffers made once, so a step allocates nothing (fresh pages cost
    more than the arithmetic) and the indices can be int32 (half the bytes for the sparse kernel to read).
    Each call overwrites and returns ``out``, (replicas, batch).
    """

    def __init__(self, n: int, batch: int, replicas: int, generator: torch.Generator,
                 dtype: torch.dtype = torch.int32) -> None:
        check_batch(n, batch, True)
        check_replicas(replicas)
        if not 1 <= n <= _WORD_RANGE or dtype not in (torch.int32, torch.int64):
            raise UsageError(f"need 1 <= n <= 2^31 and int32/int64 indices, got n = {n}, {dtype}")
        device, count = generator.device, replicas * batch
        self.n, self.generator, self._threshold = int(n), generator, _WORD_RANGE % int(n)
        self.out = torch.empty((replicas, batch), dtype=dtype, device=device)
        self._flat = self.out.view(-1)
        self._words = torch.empty(count, dtype=torch.int32, device=device)
        # u n / 2^31 is exact in float64 while u n < 2^53, i.e. n <= 2^22: then its integer part is the index and
        # its fraction times 2^31 the low word Lemire rejects on (float64 multiplies are vectorised, int64 are not)
        self._exact_in_float = self.n <= FLOAT_EXACT_N
        self._work = torch.empty(count, dtype=torch.float64 if self._exact_in_float else torch.int64, device=device)

    def __call__(self) -> torch.Tensor:
        work = self._work.copy_(self._words.random_(generator=self.generator))
        if self._exact_in_float:
            self._flat.copy_(work.mul_(self.n * 2.0 ** -_WORD_BITS))  # truncation = floor (>= 0)
            low, threshold = work.frac_(), self._threshold * 2.0 ** -_WORD_BITS
        else:
            work.mul_(self.n)  # u n < 2^62: exact in int64
            torch.bitwise_right_shift(work, _WORD_BITS, out=self._flat)
            low, threshold = work.bitwise_and_(_WORD_RANGE - 1), self._threshold
        if low.numel() and low.min() < threshold:  # rare (3e-7 per word for n = 1000)
            redraw = (low < threshold).nonzero().squeeze(1)
            while redraw.numel():  # exactly as sampling.uniform_indices: each position's own iid stream
                fresh = torch.empty(redraw.numel(), dtype=torch.int64, device=self._flat.device)
                rejected = _lemire_indices_(fresh, self.generator, self.n)
                self._flat[redraw] = fresh.to(self._flat.dtype)
                redraw = redraw[rejected]
        return self.out
