"""Batched sampling kernels: the EMA recursion and minibatch indices, replicas as a tensor dimension.

Parameters are validated here, at the kernel entry points, so that every
experiment and benchmark gets the same one-line ``UsageError`` for a bad beta,
a batch larger than the dataset without replacement, or too few replicas.
"""
from __future__ import annotations

import torch

from ..errors import UsageError

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


def minibatch_indices(n_examples: int, batch: int, replicas: int, generator: torch.Generator, *,
                      replacement: bool) -> torch.Tensor:
    """Indices of one minibatch per replica, shape (replicas, batch), on the generator's device.

    With replacement the B indices are iid uniform on {0..N-1}; without, they are
    the first B entries of an independent uniform random permutation per
    replica (argsort of iid uniforms), i.e. a uniformly random B-subset.
    """
    check_batch(n_examples, batch, replacement)
    check_replicas(replicas)
    device = generator.device
    if replacement:
        return torch.randint(0, n_examples, (replicas, batch), generator=generator, device=device)
    keys = torch.rand((replicas, n_examples), generator=generator, device=device)
    return keys.argsort(dim=1)[:, :batch]


def minibatch_means(values: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Mean over each replica's minibatch of per-example ``values`` (N, ...) -> (replicas, ...)."""
    return values[indices].mean(dim=1)
