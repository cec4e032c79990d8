"""Choosing the torch device of a run: ``auto``, ``cpu`` or ``cuda`` (optionally ``cuda:N``).

On the CPU the engine uses one intra-op thread unless told otherwise (the
``threads`` argument or the ``EMASTATS_CPU_THREADS`` environment variable):
replicas are already a tensor dimension, and one thread keeps runs predictable
on shared machines.
"""
from __future__ import annotations

import os

import torch

from ..errors import UsageError

THREADS_ENV = "EMASTATS_CPU_THREADS"


def cpu_threads(threads: int | None = None) -> int:
    """The intra-op thread count to use on the CPU: ``threads``, else $EMASTATS_CPU_THREADS, else 1."""
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "1")
        try:
            threads = int(raw)
        except ValueError:
            raise UsageError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
    if threads < 1:
        raise UsageError(f"the CPU thread count must be at least 1, got {threads}")
    return threads


def resolve_device(name: str = "auto", threads: int | None = None) -> torch.device:
    """The torch device named by ``name``; a UsageError when it is unknown or unavailable.

    ``auto`` means CUDA when a CUDA device is available and the CPU otherwise.
    Choosing the CPU also sets torch's intra-op thread count (see ``cpu_threads``).
    """
    text = (name or "auto").strip().lower()
    if text == "auto":
        text = "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        torch.set_num_threads(cpu_threads(threads))
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UsageError(f"device {name!r} is not available: torch sees no CUDA device (use --device cpu)")
        try:
            device = torch.device(text)
        except RuntimeError:
            raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {name!r} is not available: {torch.cuda.device_count()} CUDA device(s)")
        return device
    raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


def describe(device: torch.device) -> str:
    """A short human description of ``device`` for run metadata (e.g. 'cpu (1 thread)')."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"
