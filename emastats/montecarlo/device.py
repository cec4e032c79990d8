"""Choosing the torch device of a run: ``auto``, ``cpu`` or ``cuda`` (optionally ``cuda:N``).

Devices are compared only through ``normalize_device``/``same_device``, never as
strings: ``torch.device("cuda")`` and ``torch.device("cuda:0")`` are unequal
objects (and a ``torch.Generator(device="cuda")`` reports the index-less form),
although both name the current CUDA device. ``normalize_device`` gives every
CUDA device an explicit index, so equality of normalised devices is equality of
the hardware.

On the CPU the engine uses one intra-op thread unless told otherwise (the
``threads`` argument or the ``EMASTATS_CPU_THREADS`` environment variable):
replicas are already a tensor dimension, and one thread keeps runs predictable
on shared machines.
"""
from __future__ import annotations

import os

import torch

from .. import params
from ..errors import UsageError

THREADS_ENV = params.THREADS_ENV


def cpu_threads(threads: int | None = None) -> int:
    """The intra-op thread count to use on the CPU: ``threads``, else $EMASTATS_CPU_THREADS, else 1.

    Checked by ``params.cpu_threads`` (an integer from 1 to the machine's CPUs), the same rule and message
    as on the command line, so a library caller cannot ask for 100000 threads either.
    """
    if threads is None:
        return params.cpu_threads(os.environ.get(THREADS_ENV, "1"))
    return params.cpu_threads(threads, "the CPU thread count")


def normalize_device(device: torch.device | str | None) -> torch.device:
    """``device`` as a ``torch.device`` with an explicit index on CUDA (``cuda`` -> ``cuda:<current>``).

    The current CUDA device is ``torch.cuda.current_device()`` when CUDA is
    available and 0 otherwise (so the mapping is testable on a CPU machine).
    ``None`` means the CPU. Other device types are returned as torch parses them.
    """
    if device is None:
        return torch.device("cpu")
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device).strip().lower())
    except RuntimeError:
        raise UsageError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and dev.index is None:
        return torch.device("cuda", torch.cuda.current_device() if torch.cuda.is_available() else 0)
    return dev


def same_device(a: torch.device | str | None, b: torch.device | str | None) -> bool:
    """Whether ``a`` and ``b`` name the same device (``cuda`` and ``cuda:0`` do when 0 is current)."""
    return normalize_device(a) == normalize_device(b)


def resolve_device(name: str = "auto", threads: int | None = None) -> torch.device:
    """The torch device named by ``name``; a UsageError when it is unknown or unavailable.

    ``auto`` means CUDA when a CUDA device is available and the CPU otherwise.
    Choosing the CPU also sets torch's intra-op thread count (see ``cpu_threads``).
    The result is normalised (``normalize_device``): ``cuda`` comes back as ``cuda:<current>``.
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
        return normalize_device(device)
    raise UsageError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


def describe(device: torch.device) -> str:
    """A short human description of ``device`` for run metadata (e.g. 'cpu (1 thread)')."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'s' if n != 1 else ''})"
