"""Speed of the Monte Carlo kernels, measured side by side in one run (``emastats bench``).

Two figures, each against a baseline measured in the same process on the same device:

* **EMA kernel**: replica-steps per second of ``ema_final(gaussian((T, R)), beta)``
  (draw the inputs, run the recursion) as a ratio to the rate at which torch
  draws float32 normals alone. One normal per replica-step is the least any EMA
  simulation must draw, so the ratio is at most about 1; it says how much the
  recursion costs on top of the random numbers.
* **Minibatch-SGD kernel**: replica-steps per second of a full SGD step on the
  synthetic linear regression (sample B indices per replica, the minibatch
  gradient, the update), N = 1000, d = 32, B = 32, R = 4096 by default, with
  the sparse kernel (``LinearMinibatchGradient.sgd_step_``) against (a) the
  same step with a naive gather + ``bmm`` gradient and (b) a plain numpy step
  (fancy-index gather and einsum, vectorised over replicas).

  Sampling (stated in the report as ``sgd.sampling``): each step samples its
  own way, as its user would — the kernel with the package's exact
  ``minibatch_indices`` into a preallocated buffer, the naive step with
  ``torch.randint``, numpy with ``Generator.integers``. Since the kernel's
  sampler is itself faster than ``torch.randint``, the naive step is also
  timed with the kernel's sampler (``speedup_vs_naive_same_sampler``), which
  isolates the gradient-and-update gain. The gradient alone, on fixed
  indices, is reported too, and the index sampler against ``torch.randint``
  (indices per second).

Each timing is the best of many short rounds (the usual microbenchmark
convention: the minimum is the least disturbed by other load on a shared
machine); rates are replica-steps per second. Nothing here is asserted; tests only check the shape
of the report.
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..errors import UsageError
from .datasets import LinearMinibatchGradient, naive_linear_minibatch_gradient, synthetic_linear_regression
from .device import describe, resolve_device
from .sampling import check_replicas, ema_final, gaussian, minibatch_indices

LEARNING_RATE = 0.01  # small enough that w stays bounded over the timed steps
SAMPLING = ("each step samples its own way, as its user would: kernel with emastats minibatch_indices (exact, "
            "preallocated buffer), naive with torch.randint, numpy with numpy.random.Generator.integers; "
            "speedup_vs_naive_same_sampler gives the naive step the kernel's sampler instead")


@dataclass(frozen=True)
class EmaBench:
    """EMA kernel against the float32 normal generator (rates in replica-steps per second)."""

    replicas: int
    steps: int
    rng_normals_per_s: float
    ema_replica_steps_per_s: float
    ratio_to_rng: float


@dataclass(frozen=True)
class SgdBench:
    """One minibatch-SGD step three ways (rates in replica-steps per second), and the gradient alone."""

    examples: int
    dim: int
    batch: int
    replicas: int
    steps: int
    kernel_replica_steps_per_s: float
    naive_replica_steps_per_s: float
    naive_same_sampler_replica_steps_per_s: float
    numpy_replica_steps_per_s: float
    speedup_vs_naive: float
    speedup_vs_naive_same_sampler: float
    speedup_vs_numpy: float
    gradient_only_speedup_vs_naive: float
    sampler_indices_per_s: float
    randint_indices_per_s: float
    sampling: str


@dataclass(frozen=True)
class BenchReport:
    device: str
    repeats: int
    ema: EmaBench
    sgd: SgdBench

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _best_seconds(runs: Sequence[Callable[[], object]], repeats: int, device: torch.device,
                  calls: int = 1) -> list[float]:
    """Seconds per call of each of ``runs``: the fastest of ``repeats`` rounds of ``calls`` calls.

    The rounds of the different runs are interleaved (A, B, C, A, B, C, ...)
    after one warm-up call each, so that load from other processes falls on
    all of them alike; the minimum over rounds is the least disturbed
    estimate. CUDA work is synchronised before each clock reading.
    """
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for run in runs:
        run()
    sync()
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for k, run in enumerate(runs):
            start = time.perf_counter()
            for _ in range(calls):
                run()
            sync()
            best[k] = min(best[k], (time.perf_counter() - start) / calls)
    return best


def bench_ema(device: torch.device, replicas: int, steps: int, repeats: int, beta: float = 0.9) -> EmaBench:
    """Time ``ema_final(gaussian((steps, replicas)), beta)`` against ``gaussian((steps, replicas))`` alone."""
    gen = torch.Generator(device=device).manual_seed(0)
    rng, ema = _best_seconds([lambda: gaussian((steps, replicas), gen),
                              lambda: ema_final(gaussian((steps, replicas), gen), beta)], repeats, device)
    work = replicas * steps
    return EmaBench(replicas, steps, work / rng, work / ema, rng / ema)


def bench_sgd(device: torch.device, examples: int, dim: int, batch: int, replicas: int, steps: int,
              repeats: int) -> SgdBench:
    """Time SGD steps (rounds of ``steps``): the sparse kernel, the naive torch step two ways, the numpy step."""
    data = synthetic_linear_regression(examples, dim, seed=0)
    kernel = LinearMinibatchGradient(data, torch.float32, device)
    x, y = kernel.features, kernel.targets
    gen = torch.Generator(device=device).manual_seed(0)
    w0 = torch.zeros((replicas, dim), dtype=torch.float32, device=device)

    def emastats_indices() -> Callable[[], torch.Tensor]:
        """The package's exact sampler, writing into a buffer of its own."""
        buffer = torch.empty((replicas, batch), dtype=torch.int64, device=device)
        return lambda: minibatch_indices(examples, batch, replicas, gen, replacement=True, out=buffer)

    def randint_indices() -> torch.Tensor:
        return torch.randint(0, examples, (replicas, batch), generator=gen, device=device)

    def kernel_step() -> Callable[[], None]:
        w, sample = w0.clone(), emastats_indices()
        return lambda: kernel.sgd_step_(w, sample(), LEARNING_RATE)

    def naive_step(sample: Callable[[], torch.Tensor]) -> Callable[[], None]:
        w = w0.clone()
        return lambda: w.sub_(naive_linear_minibatch_gradient(x, y, w, sample()), alpha=LEARNING_RATE)

    xn, yn = data.features.numpy().astype(np.float32), data.targets.numpy().astype(np.float32)
    rng = np.random.default_rng(0)
    wn = np.zeros((replicas, dim), dtype=np.float32)

    def numpy_step() -> None:
        idx = rng.integers(0, examples, size=(replicas, batch))
        xb = xn[idx]
        residual = np.einsum("rbd,rd->rb", xb, wn) - yn[idx]
        wn[:] -= LEARNING_RATE * np.einsum("rbd,rb->rd", xb, residual) / batch

    fast, slow, slow_same, plain = _best_seconds(
        [kernel_step(), naive_step(randint_indices), naive_step(emastats_indices()), numpy_step], repeats, device,
        steps)

    idx = emastats_indices()()
    w = torch.randn((replicas, dim), generator=gen, device=device)
    fast_gradient, slow_gradient, sampler, randint = _best_seconds(
        [lambda: kernel(w, idx), lambda: naive_linear_minibatch_gradient(x, y, w, idx), emastats_indices(),
         randint_indices], repeats, device, steps)

    return SgdBench(examples, dim, batch, replicas, steps, replicas / fast, replicas / slow, replicas / slow_same,
                    replicas / plain, slow / fast, slow_same / fast, plain / fast, slow_gradient / fast_gradient,
                    idx.numel() / sampler, idx.numel() / randint, SAMPLING)


def run_benchmarks(device: torch.device, *, quick: bool = False, ema_replicas: int = 1 << 16, ema_steps: int = 16,
                   examples: int = 1000, dim: int = 32, batch: int = 32, replicas: int = 4096, sgd_steps: int = 2,
                   repeats: int | None = None) -> BenchReport:
    """Both benchmarks on ``device``; each timing is the best of ``repeats`` rounds (``quick``: 5, else 20).

    An EMA round is one call on ``ema_steps`` x ``ema_replicas`` inputs; an SGD round is ``sgd_steps`` steps.
    """
    check_replicas(ema_replicas)
    check_replicas(replicas)
    if min(ema_steps, sgd_steps) < 1:
        raise UsageError("benchmark step counts must be >= 1")
    repeats = repeats if repeats is not None else (5 if quick else 20)
    if repeats < 1:
        raise UsageError(f"repeats must be >= 1, got {repeats}")
    with torch.no_grad():
        ema = bench_ema(device, ema_replicas, ema_steps, repeats)
        sgd = bench_sgd(device, examples, dim, batch, replicas, sgd_steps, repeats)
    return BenchReport(describe(device), repeats, ema, sgd)


def _text(report: BenchReport) -> str:
    e, s = report.ema, report.sgd
    return "\n".join([
        f"device: {report.device}   (best of {report.repeats} repeats; rates in replica-steps/s)",
        (f"EMA kernel  R={e.replicas} T={e.steps}: {e.ema_replica_steps_per_s:.3g}/s, "
         f"float32 normals {e.rng_normals_per_s:.3g}/s, ratio to RNG {e.ratio_to_rng:.2f}"),
        (f"SGD step    N={s.examples} d={s.dim} B={s.batch} R={s.replicas}: "
         f"kernel {s.kernel_replica_steps_per_s:.3g}/s, naive gather+bmm {s.naive_replica_steps_per_s:.3g}/s "
         f"({s.naive_same_sampler_replica_steps_per_s:.3g}/s with the kernel's sampler), "
         f"numpy {s.numpy_replica_steps_per_s:.3g}/s"),
        (f"            speed-up {s.speedup_vs_naive:.2f}x vs naive ({s.speedup_vs_naive_same_sampler:.2f}x with the "
         f"same sampler), {s.speedup_vs_numpy:.2f}x vs numpy; "
         f"gradient alone {s.gradient_only_speedup_vs_naive:.2f}x vs naive"),
        (f"            index sampler {s.sampler_indices_per_s:.3g} indices/s "
         f"(torch.randint {s.randint_indices_per_s:.3g}/s); sampling: {s.sampling}"),
    ])


def run_cli(args: argparse.Namespace) -> int:
    """``emastats bench [--device D] [--quick] [--format text|json]``."""
    device = resolve_device(getattr(args, "device", "auto"))
    report = run_benchmarks(device, quick=bool(getattr(args, "quick", False)))
    if getattr(args, "format", "text") == "json":
        from ..provenance import run_metadata

        print(json.dumps({**report.to_dict(), "meta": run_metadata(command="bench")}, indent=2))
    else:
        print(_text(report))
    return 0
