"""Batched sampling kernels: the EMA recursion and minibatch indices, replicas as a tensor dimension.

Parameters are validated here, at the kernel entry points, so that every
experiment and benchmark gets the same one-line ``UsageError`` for a bad beta,
a batch larger than the dataset without replacement, or too few replicas.
"""
from __future__ import annotations

import torch

from ..errors import UsageError
from .device import same_device

SAMPLE_DTYPE = torch.float32  # sampling is the bottleneck; moments are summed in float64


def check_beta(beta: float) -> float:
    """An EMA decay must satisfy 0 <= beta < 1 (beta = 1 never forgets the start value)."""
    b = float(beta)
    if not 0.0 <= b < 1.0:
        raise UsageError(f"EMA decay beta must be in [0, 1), got {beta!r}")
    return b


def check_replicas(replicas: int) -> int:
    """At least two replicas: a variance or an interval needs two samples."""
    if int(replicas) != replicas or replicas <= 1:
        raise UsageError(f"replicas must be an integer greater than 1, got {replicas!r}")
    return int(replicas)


def check_batch(n_examples: int, batch: int, replacement: bool) -> None:
    """1 <= B, and B <= N when the batch is drawn without replacement."""
    if n_examples < 1:
        raise UsageError(f"the dataset needs at least one example, got N = {n_examples}")
    if batch < 1:
        raise UsageError(f"batch size B must be at least 1, got {batch}")
    if not replacement and batch > n_examples:
        raise UsageError(f"batch size B = {batch} exceeds the dataset size N = {n_examples} without replacement")


def gaussian(shape: tuple[int, ...], generator: torch.Generator, *, mean: float = 0.0, std: float = 1.0,
             dtype: torch.dtype = SAMPLE_DTYPE) -> torch.Tensor:
    """iid N(mean, std^2) samples on the generator's device."""
    x = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return x.mul_(std).add_(mean) if (std != 1.0 or mean != 0.0) else x


def skewed(shape: tuple[int, ...], generator: torch.Generator, *, mean: float = 0.0, std: float = 1.0,
           dtype: torch.dtype = SAMPLE_DTYPE) -> torch.Tensor:
    """iid mean + std (E - 1) with E ~ Exponential(1): skewness 2, excess kurtosis 6.

    Used where a claim assumes only a mean and a variance, so the checks (and
    their fourth-moment standard errors) are exercised on non-Gaussian data.
    """
    x = torch.empty(shape, device=generator.device, dtype=dtype).exponential_(1.0, generator=generator)
    return x.sub_(1.0).mul_(std).add_(mean)


def ema_path(inputs: torch.Tensor, beta: float, init: float | torch.Tensor = 0.0) -> torch.Tensor:
    """States of the EMA m_t = beta m_{t-1} + (1 - beta) x_t for t = 1..T, batched over replicas.

    ``inputs`` has shape (T, replicas, ...) and the result has the same shape
    (row t-1 is m_t); ``init`` is m_0 (a scalar or a tensor of one row's shape).
    The loop is over time only; each step updates every replica at once.
    """
    b = check_beta(beta)
    if inputs.ndim < 2:
        raise ValueError(f"inputs must have shape (T, replicas, ...), got {tuple(inputs.shape)}")
    check_replicas(inputs.shape[1])
    out = torch.empty_like(inputs)
    state = torch.zeros_like(inputs[0]).add_(init)
    for t in range(inputs.shape[0]):
        state.mul_(b).add_(inputs[t], alpha=1.0 - b)
        out[t] = state
    return out


def ema_final(inputs: torch.Tensor, beta: float, init: float | torch.Tensor = 0.0) -> torch.Tensor:
    """Only the last state m_T of ``ema_path`` (memory of one row)."""
    b = check_beta(beta)
    check_replicas(inputs.shape[1])
    state = torch.zeros_like(inputs[0]).add_(init)
    for t in range(inputs.shape[0]):
        state.mul_(b).add_(inputs[t], alpha=1.0 - b)
    return state


def running_average_beta(n: int) -> float:
    """beta = 1 - 1/N of a running average over about N inputs (N >= 1)."""
    if n < 1:
        raise UsageError(f"the running-average length N must be at least 1, got {n}")
    return 1.0 - 1.0 / n


_WORD_BITS = 31  # ``Tensor.random_()`` on int32: a generator word reduced mod 2^31, i.e. 31 uniform bits
_WORD_RANGE = 1 << _WORD_BITS


def _lemire_indices_(out: torch.Tensor, generator: torch.Generator, n: int) -> torch.Tensor:
    """Fill the flat int64 ``out`` with ``floor(u n / 2^31)`` of fresh 31-bit words ``u``; return positions to redraw.

    The candidates are exactly uniform on {0..n-1} once the words whose low
    part ``u n mod 2^31`` falls below ``2^31 mod n`` are rejected (D. Lemire,
    "Fast random integer generation in an interval", ACM TOMACS 2019): each
    index then keeps exactly ``floor(2^31 / n)`` words. Rejections are rare,
    so they are detected with one ``min`` and located only when there are any.
    (Splitting words into 15-bit halves halves the generator calls but makes
    rejections common for n = 1000, and locating them cost more than it saved.)
    """
    words = torch.empty(out.shape, dtype=torch.int32, device=out.device).random_(generator=generator)
    out.copy_(words).mul_(n)  # u n < 2^62: no overflow in int64
    low = out & (_WORD_RANGE - 1)
    out.bitwise_right_shift_(_WORD_BITS)
    threshold = _WORD_RANGE % n
    if out.numel() == 0 or int(low.min()) >= threshold:
        return out.new_empty(0)
    return (low < threshold).nonzero().squeeze(1)


def uniform_indices(n: int, count: int, generator: torch.Generator, *, out: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """``count`` iid indices uniform on {0..n-1}, exactly, as a flat int64 tensor (or into ``out``).

    Each index is ``floor(u n / 2^31)`` of one 31-bit generator word ``u``
    (Lemire's multiply-shift), with the few words that would bias it
    rejected; a rejected position is redrawn from fresh words until accepted,
    so it holds the first accepted value of its own iid stream: exact, no
    bias, positions independent. A word is rejected with probability
    ``(2^31 mod n) / 2^31 < n / 2^31`` (3e-7 for n = 1000), so redraws are
    rare and cheap. (``torch.randint`` reduces a 32-bit word mod n, a relative
    bias up to n / 2^32, and costs more per index on the CPU.) ``out``, if
    given, is a preallocated contiguous int32/int64 tensor of ``count``
    elements (any shape) that receives the indices, so that a loop need not
    allocate a fresh buffer every step.
    """
    if not 1 <= n <= _WORD_RANGE:
        raise UsageError(f"the index range n must be in [1, 2^31], got {n}")
    if count < 0:
        raise UsageError(f"the number of indices must be >= 0, got {count}")
    if out is None:
        out = torch.empty(count, dtype=torch.int64, device=generator.device)
    elif (out.numel() != count or out.dtype not in (torch.int32, torch.int64)
          or not same_device(out.device, generator.device)
          or not out.is_contiguous()):
        raise UsageError(f"out must be a contiguous int32/int64 tensor of {count} elements on {generator.device}, "
                         f"got {out.dtype} with {out.numel()} elements on {out.device}")
    flat = out.view(-1)
    work = flat if flat.dtype == torch.int64 else torch.empty(count, dtype=torch.int64, device=out.device)
    redraw = _lemire_indices_(work, generator, n)
    while redraw.numel():
        fresh = torch.empty(redraw.numel(), dtype=torch.int64, device=out.device)
        rejected = _lemire_indices_(fresh, generator, n)
        work[redraw] = fresh
        redraw = redraw[rejected]
    if work is not flat:
        flat.copy_(work)
    return out


def minibatch_indices(n_examples: int, batch: int, replicas: int, generator: torch.Generator, *,
                      replacement: bool, out: torch.Tensor | None = None) -> torch.Tensor:
    """Indices of one minibatch per replica, shape (replicas, batch), on the generator's device.

    With replacement the B indices are iid uniform on {0..N-1}, drawn exactly
    by ``uniform_indices`` (into ``out`` if given: an int32/int64 tensor of
    shape (replicas, batch)); without, they are the first B entries of an
    independent uniform random permutation per replica (argsort of iid
    uniforms), i.e. a uniformly random B-subset.
    """
    check_batch(n_examples, batch, replacement)
    check_replicas(replicas)
    device = generator.device
    if replacement:
        if out is not None and tuple(out.shape) != (replicas, batch):
            raise UsageError(f"out must have shape ({replicas}, {batch}), got {tuple(out.shape)}")
        indices = uniform_indices(n_examples, replicas * batch, generator, out=out)
        return indices.view(replicas, batch)
    if out is not None:
        raise UsageError("out= is only supported for sampling with replacement")
    keys = torch.rand((replicas, n_examples), generator=generator, device=device)
    return keys.argsort(dim=1)[:, :batch]


def minibatch_means(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Mean over each replica's minibatch of per-example ``values`` (N, ...) -> (replicas, ...)."""
    return values[indices].mean(dim=1)
