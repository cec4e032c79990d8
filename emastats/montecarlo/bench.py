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
  ``minibatch_indices`` stream (``kernels.ExactIndexSampler``: int32 indices,
  work buffers kept between steps), the naive step with
  ``torch.randint``, numpy with ``Generator.integers``. Since the kernel's
  sampler is itself faster than ``torch.randint``, the naive step is also
  timed with the kernel's sampler (``speedup_vs_naive_same_sampler``), which
  isolates the gradient-and-update gain. The gradient alone, on fixed
  indices, is reported too, and the index sampler against ``torch.randint``
  (indices per second).

Per device, the same run also measures the device's limits and reports each kernel's fraction of them:

* **Probes** (``DeviceLimits``): memory bandwidth from a copy probe (``y.copy_(x)``, 2 x 4 bytes
  per float32 element moved) and peak float32 FLOP/s from a matmul probe (``n x n @ n x n``,
  2 n^3 FLOPs; on CUDA with TF32 off, torch's default for float32 matmuls).
* **Limits**: the EMA's is the rate at which the device can write one float32 per replica-step
  (bandwidth / 4 bytes): any EMA that stores its noise, such as the torch.randn baseline, stays
  below it, and a fused kernel that never writes the noise can exceed it (a fraction > 1). The SGD
  step's is min(FLOP/s / (4 B d), bandwidth / (8 d)): 4 B d FLOPs per replica-step (residuals and
  the gradient sum, a multiply-add each) and w read and written once in float32.
* **Fused kernels** (CUDA with triton installed, ``fused.py``): the Triton EMA kernel (noise drawn
  in the kernel, T steps in registers, only moments written) against the torch.randn fill rate,
  and the Triton SGD kernel against the naive gather+bmm step, each timed as one kernel launch.
  Elsewhere they are not timed (triton's CPU interpreter is a correctness tool, not a fast path)
  and the report says so.
* **Curves** over replica counts 4096, 4 x 4096, ... up to the largest count whose baseline
  buffers fit in a quarter of the free memory (``torch.cuda.mem_get_info`` on CUDA, available
  physical pages on the CPU), capped on the CPU (``CPU_CURVE_CAP``; --quick: ``QUICK_CURVE_CAP``).

Each timing is the best of many short rounds (the usual microbenchmark
convention: the minimum is the least disturbed by other load on a shared
machine); rates are replica-steps per second. Nothing here is asserted; tests only check the shape
of the report.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..errors import UsageError
from .datasets import LinearMinibatchGradient, naive_linear_minibatch_gradient, synthetic_linear_regression
from .device import describe, resolve_device
from .kernels import ExactIndexSampler
from .sampling import check_replicas, ema_final, gaussian

CPU_CURVE_CAP = {"ema": 1 << 20, "sgd": 1 << 16}  # replicas: keeps a full CPU bench to a few minutes
QUICK_CURVE_CAP = 1 << 14  # --quick: two points, 4096 and 16384
CURVE_START = 4096
FUSED_SGD_STEPS = 16  # steps per launch of the fused SGD kernel when timed (launch overhead amortised)
MEMORY_SHARE = 4  # a curve's baseline buffers may use 1/MEMORY_SHARE of the free memory
CPU_AIMS = {"ema_ratio_to_rng": 0.8, "sgd_speedup_vs_naive": 4.0}  # on 2 CPU cores (issue 13)
CUDA_AIMS = {"fused_ema_ratio_to_rng": 1.0, "fused_sgd_fraction_of_flop_limit": 0.25}  # (issue 13)

LEARNING_RATE = 0.01  # small enough that w stays bounded over the timed steps
SAMPLING = ("each step samples its own way, as its user would: kernel with the exact minibatch_indices stream "
            "(kernels.ExactIndexSampler: int32, work buffers kept), naive with torch.randint, numpy with "
            "numpy.random.Generator.integers; "
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
class DeviceLimits:
    """Bandwidth (bytes/s) from a copy probe and float32 FLOP/s from a matmul probe, measured in this run."""

    copy_bytes_per_s: float
    matmul_flops_per_s: float
    copy_elements: int
    matmul_size: int

    def ema_limit(self) -> float:
        """Replica-steps/s at which the device can write one float32 per replica-step."""
        return self.copy_bytes_per_s / 4

    def sgd_limit(self, batch: int, dim: int) -> float:
        """min(FLOP/s / (4 B d), bandwidth / (8 d)) replica-steps/s of one SGD step (see the module docstring)."""
        return min(self.sgd_flop_limit(batch, dim), self.copy_bytes_per_s / (8 * dim))

    def sgd_flop_limit(self, batch: int, dim: int) -> float:
        return self.matmul_flops_per_s / (4 * batch * dim)


@dataclass(frozen=True)
class FusedBench:
    """The Triton kernels (CUDA only) against the same baselines, or why they were not timed."""

    backend: str
    note: str
    ema_replicas: int = 0
    ema_steps: int = 0
    ema_replica_steps_per_s: float = 0.0
    rng_fill_per_s: float = 0.0
    ema_ratio_to_rng: float = 0.0
    ema_fraction_of_limit: float = 0.0
    sgd_replicas: int = 0
    sgd_steps: int = 0
    sgd_replica_steps_per_s: float = 0.0
    naive_replica_steps_per_s: float = 0.0
    sgd_ratio_to_naive: float = 0.0
    sgd_fraction_of_limit: float = 0.0
    sgd_fraction_of_flop_limit: float = 0.0


@dataclass(frozen=True)
class CurvePoint:
    """One replica count: a kernel's rate, its baseline's rate (same run), their ratio, the fraction of the limit."""

    kernel: str
    implementation: str
    replicas: int
    replica_steps_per_s: float
    baseline: str
    baseline_replica_steps_per_s: float
    ratio: float
    fraction_of_limit: float


@dataclass(frozen=True)
class Aim:
    """A stated speed target and whether this run met it."""

    name: str
    value: float
    target: float
    met: bool


@dataclass(frozen=True)
class BenchReport:
    device: str
    repeats: int
    ema: EmaBench
    sgd: SgdBench
    limits: DeviceLimits | None = None
    ema_fraction_of_limit: float = 0.0
    sgd_fraction_of_limit: float = 0.0
    fused: FusedBench | None = None
    curves: tuple[CurvePoint, ...] = ()
    aims: tuple[Aim, ...] = ()

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

    def emastats_indices(dtype: torch.dtype = torch.int64) -> Callable[[], torch.Tensor]:
        """The package's exact sampler (``minibatch_indices``' numbers), with work buffers of its own."""
        return ExactIndexSampler(examples, batch, replicas, gen, dtype)

    def randint_indices() -> torch.Tensor:
        return torch.randint(0, examples, (replicas, batch), generator=gen, device=device)

    def kernel_step() -> Callable[[], None]:
        w, sample = w0.clone(), emastats_indices(torch.int32)  # int32: half the index bytes for the sparse kernel
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


def probe_device(device: torch.device, repeats: int, *, quick: bool = False) -> DeviceLimits:
    """Copy bandwidth and float32 matmul FLOP/s of ``device``, best of ``repeats`` rounds."""
    cuda = device.type == "cuda"
    elements = (1 << 28) if cuda else (1 << 22 if quick else 1 << 24)
    size = 8192 if cuda else (512 if quick else 1024)
    src = torch.ones(elements, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    a = torch.randn((size, size), dtype=torch.float32, device=device)
    b = torch.randn((size, size), dtype=torch.float32, device=device)
    out = torch.empty_like(a)
    copy, matmul = _best_seconds([lambda: dst.copy_(src), lambda: torch.mm(a, b, out=out)], repeats, device)
    return DeviceLimits(2 * 4 * elements / copy, 2 * size**3 / matmul, elements, size)


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device``: ``torch.cuda.mem_get_info`` on CUDA, available physical pages on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def curve_replicas(device: torch.device, bytes_per_replica: int, cap: int | None) -> list[int]:
    """4096, 4 x 4096, ... while the baseline's buffers fit in 1/MEMORY_SHARE of the free memory (and <= cap)."""
    limit = free_memory(device) // MEMORY_SHARE // max(1, bytes_per_replica)
    if cap is not None:
        limit = min(limit, cap)
    counts, r = [], CURVE_START
    while r <= limit:
        counts.append(r)
        r *= 4
    return counts or [max(2, min(CURVE_START, limit))]


def _triton_ready(device: torch.device) -> str:
    """'' when the fused kernels can be timed on ``device``, else why not."""
    from .fused import triton_available

    if device.type != "cuda":
        return "not timed: the fused Triton kernels run on CUDA devices only (the CPU keeps the torch path)"
    if not triton_available():
        return "not timed: triton is not installed (pip install 'emastats[gpu]')"
    return ""


def _fused_ema_run(device: torch.device, replicas: int, steps: int) -> Callable[[], object]:
    from . import triton_kernels
    from .fused import ema

    rec = ema(0.9)
    corr = rec.corrections(steps, device)
    return lambda: triton_kernels.launch_recursion(rec.rule, rec.values, rec.init, corr, seed=1, replicas=replicas,
                                                   steps=steps, shift=0.0, replica_offset=0, device=device,
                                                   write_states=False)


def _fused_sgd_run(device: torch.device, kernel: LinearMinibatchGradient, batch: int, replicas: int,
                   steps: int) -> Callable[[], object]:
    from . import triton_kernels

    w0 = torch.zeros(kernel.dim, dtype=torch.float32, device=device)
    return lambda: triton_kernels.launch_linear_sgd(kernel.features, kernel.targets, w0, w0,
                                                    learning_rate=LEARNING_RATE, batch=batch, seed=1,
                                                    replicas=replicas, steps=steps, replica_offset=0,
                                                    write_states=False)


def _naive_sgd_run(device: torch.device, kernel: LinearMinibatchGradient, examples: int, batch: int,
                   replicas: int, seed: int = 0) -> Callable[[], object]:
    """One naive gather+bmm SGD step with torch.randint indices (the baseline)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    w = torch.zeros((replicas, kernel.dim), dtype=torch.float32, device=device)
    x, y = kernel.features, kernel.targets

    def step() -> None:
        idx = torch.randint(0, examples, (replicas, batch), generator=gen, device=device)
        w.sub_(naive_linear_minibatch_gradient(x, y, w, idx), alpha=LEARNING_RATE)

    return step


def _package_sgd_run(device: torch.device, kernel: LinearMinibatchGradient, examples: int, batch: int,
                     replicas: int) -> Callable[[], object]:
    """One step of the package's torch path: exact int32 indices (``ExactIndexSampler``), then ``sgd_step_``."""
    gen = torch.Generator(device=device).manual_seed(0)
    w = torch.zeros((replicas, kernel.dim), dtype=torch.float32, device=device)
    sample = ExactIndexSampler(examples, batch, replicas, gen, torch.int32)
    return lambda: kernel.sgd_step_(w, sample(), LEARNING_RATE)


def bench_fused(device: torch.device, limits: DeviceLimits, *, ema_replicas: int, ema_steps: int, examples: int,
                dim: int, batch: int, replicas: int, sgd_steps: int, repeats: int) -> FusedBench:
    """The Triton kernels against torch.randn's fill rate and the naive SGD step (CUDA with triton only)."""
    why = _triton_ready(device)
    if why:
        return FusedBench("torch", why)
    gen = torch.Generator(device=device).manual_seed(0)
    fused_ema, rng = _best_seconds([_fused_ema_run(device, ema_replicas, ema_steps),
                                    lambda: gaussian((ema_steps, ema_replicas), gen)], repeats, device)
    kernel = LinearMinibatchGradient(synthetic_linear_regression(examples, dim, seed=0), torch.float32, device)
    # a fused call is one launch of FUSED_SGD_STEPS steps, a naive call one step
    fused_launch, naive_step = _best_seconds([_fused_sgd_run(device, kernel, batch, replicas, FUSED_SGD_STEPS),
                                              _naive_sgd_run(device, kernel, examples, batch, replicas)],
                                             repeats, device)
    ema_rate, rng_rate = ema_replicas * ema_steps / fused_ema, ema_replicas * ema_steps / rng
    sgd_rate, naive_rate = replicas * FUSED_SGD_STEPS / fused_launch, replicas / naive_step
    return FusedBench(
        "triton", "timed as one kernel launch each (moments reduced on the host afterwards are not included)",
        ema_replicas, ema_steps, ema_rate, rng_rate, ema_rate / rng_rate, ema_rate / limits.ema_limit(),
        replicas, FUSED_SGD_STEPS, sgd_rate, naive_rate, sgd_rate / naive_rate, sgd_rate / limits.sgd_limit(batch, dim),
        sgd_rate / limits.sgd_flop_limit(batch, dim))


def bench_curves(device: torch.device, limits: DeviceLimits, *, quick: bool, ema_steps: int, examples: int,
                 dim: int, batch: int, sgd_steps: int, repeats: int, cap: int | None = None
                 ) -> tuple[CurvePoint, ...]:
    """Each kernel and its baseline over replica counts from 4096 to the memory bound (see the module docstring)."""
    def cap_of(kernel: str) -> int | None:
        device_cap = None if device.type == "cuda" else (QUICK_CURVE_CAP if quick else CPU_CURVE_CAP[kernel])
        caps = [c for c in (device_cap, cap) if c is not None]
        return min(caps) if caps else None

    fused = not _triton_ready(device)
    gen = torch.Generator(device=device).manual_seed(0)
    points: list[CurvePoint] = []
    for r in curve_replicas(device, 4 * ema_steps + 16, cap_of("ema")):
        if fused:
            name, run = "triton recursion_kernel", _fused_ema_run(device, r, ema_steps)
        else:
            name, run = "ema_final(gaussian)", (lambda r=r: ema_final(gaussian((ema_steps, r), gen), 0.9))
        kernel_s, rng_s = _best_seconds([run, lambda r=r: gaussian((ema_steps, r), gen)], repeats, device)
        rate, base = r * ema_steps / kernel_s, r * ema_steps / rng_s
        points.append(CurvePoint("ema", name, r, rate, "torch.randn fill", base, rate / base,
                                 rate / limits.ema_limit()))
    kernel = LinearMinibatchGradient(synthetic_linear_regression(examples, dim, seed=0), torch.float32, device)
    for r in curve_replicas(device, 4 * batch * dim + 16 * batch + 8 * dim, cap_of("sgd")):
        # a fused call is one launch of FUSED_SGD_STEPS steps; a torch call is one step, timed over sgd_steps calls
        if fused:
            name, run, calls, steps_per_call = ("triton linear_sgd_kernel",
                                                _fused_sgd_run(device, kernel, batch, r, FUSED_SGD_STEPS), 1,
                                                FUSED_SGD_STEPS)
        else:
            name, run, calls, steps_per_call = ("sgd_step_", _package_sgd_run(device, kernel, examples, batch, r),
                                                sgd_steps, 1)
        kernel_s, = _best_seconds([run], repeats, device, calls)
        naive_s, = _best_seconds([_naive_sgd_run(device, kernel, examples, batch, r)], repeats, device, sgd_steps)
        rate, base = r * steps_per_call / kernel_s, r / naive_s
        points.append(CurvePoint("sgd", name, r, rate, "naive gather+bmm step", base, rate / base,
                                 rate / limits.sgd_limit(batch, dim)))
    return tuple(points)


def _aims(device: torch.device, ema: EmaBench, sgd: SgdBench, fused: FusedBench) -> tuple[Aim, ...]:
    if device.type == "cuda":
        if fused.backend != "triton":
            return ()
        values = {"fused_ema_ratio_to_rng": fused.ema_ratio_to_rng,
                  "fused_sgd_fraction_of_flop_limit": fused.sgd_fraction_of_flop_limit}
        targets = CUDA_AIMS
    else:
        values, targets = {"ema_ratio_to_rng": ema.ratio_to_rng, "sgd_speedup_vs_naive": sgd.speedup_vs_naive}, CPU_AIMS
    return tuple(Aim(k, float(values[k]), float(t), bool(values[k] >= t)) for k, t in targets.items())


def run_benchmarks(device: torch.device, *, quick: bool = False, ema_replicas: int = 1 << 16, ema_steps: int = 16,
                   examples: int = 1000, dim: int = 32, batch: int = 32, replicas: int = 4096, sgd_steps: int = 2,
                   repeats: int | None = None, curves: bool = True, curve_cap: int | None = None) -> BenchReport:
    """All benchmarks on ``device``; each timing is the best of ``repeats`` rounds (``quick``: 5, else 20).

    An EMA round is one call on ``ema_steps`` x ``ema_replicas`` inputs; an SGD round is ``sgd_steps`` steps.
    The probes, the fused kernels (CUDA) and the curves (``curves``; fewer repeats: 3, --quick 2) follow;
    ``curve_cap`` caps the curves' replica counts on any device (tests use a tiny one).
    """
    check_replicas(ema_replicas)
    check_replicas(replicas)
    if min(ema_steps, sgd_steps) < 1:
        raise UsageError("benchmark step counts must be >= 1")
    repeats = repeats if repeats is not None else (5 if quick else 20)
    if repeats < 1:
        raise UsageError(f"repeats must be >= 1, got {repeats}")
    sizes = dict(ema_steps=ema_steps, examples=examples, dim=dim, batch=batch, sgd_steps=sgd_steps)
    with torch.no_grad():
        ema = bench_ema(device, ema_replicas, ema_steps, repeats)
        sgd = bench_sgd(device, examples, dim, batch, replicas, sgd_steps, repeats)
        limits = probe_device(device, repeats, quick=quick)
        fused = bench_fused(device, limits, ema_replicas=ema_replicas, replicas=replicas, repeats=repeats, **sizes)
        curve = (bench_curves(device, limits, quick=quick, repeats=2 if quick else 3, cap=curve_cap, **sizes)
                 if curves else ())
    return BenchReport(describe(device), repeats, ema, sgd, limits,
                       ema.ema_replica_steps_per_s / limits.ema_limit(),
                       sgd.kernel_replica_steps_per_s / limits.sgd_limit(batch, dim), fused, curve,
                       _aims(device, ema, sgd, fused))


def _text(report: BenchReport) -> str:
    e, s = report.ema, report.sgd
    lines = [
        f"device: {report.device}   (best of {report.repeats} repeats; rates in replica-steps/s)",
        (f"EMA kernel  R={e.replicas} T={e.steps}: {e.ema_replica_steps_per_s:.3g}/s, "
         f"float32 normals {e.rng_normals_per_s:.3g}/s, ratio to RNG {e.ratio_to_rng:.2f}"
         # the kernel draws the same normals and more, so a ratio above 1 can only come from disturbed timings
         + (" (above 1: the timings were disturbed by other load; rerun on a quiet machine)"
            if e.ratio_to_rng > 1.05 else "")),
        (f"SGD step    N={s.examples} d={s.dim} B={s.batch} R={s.replicas}: "
         f"kernel {s.kernel_replica_steps_per_s:.3g}/s, naive gather+bmm {s.naive_replica_steps_per_s:.3g}/s "
         f"({s.naive_same_sampler_replica_steps_per_s:.3g}/s with the kernel's sampler), "
         f"numpy {s.numpy_replica_steps_per_s:.3g}/s"),
        (f"            speed-up {s.speedup_vs_naive:.2f}x vs naive ({s.speedup_vs_naive_same_sampler:.2f}x with the "
         f"same sampler), {s.speedup_vs_numpy:.2f}x vs numpy; "
         f"gradient alone {s.gradient_only_speedup_vs_naive:.2f}x vs naive"),
        (f"            index sampler {s.sampler_indices_per_s:.3g} indices/s "
         f"(torch.randint {s.randint_indices_per_s:.3g}/s); sampling: {s.sampling}"),
    ]
    lim = report.limits
    if lim is not None:
        lines += [
            (f"limits      copy probe {lim.copy_bytes_per_s:.3g} B/s, matmul probe {lim.matmul_flops_per_s:.3g} "
             f"FLOP/s (n={lim.matmul_size}); EMA {report.ema_fraction_of_limit:.3g} of the write limit "
             f"{lim.ema_limit():.3g}/s, SGD {report.sgd_fraction_of_limit:.3g} of its limit "
             f"{lim.sgd_limit(s.batch, s.dim):.3g}/s"),
        ]
    f = report.fused
    if f is not None and f.backend == "triton":
        lines += [
            (f"fused EMA   R={f.ema_replicas} T={f.ema_steps}: {f.ema_replica_steps_per_s:.3g}/s, "
             f"torch.randn fill {f.rng_fill_per_s:.3g}/s, ratio to RNG {f.ema_ratio_to_rng:.2f}, "
             f"{f.ema_fraction_of_limit:.3g} of the write limit"),
            (f"fused SGD   R={f.sgd_replicas} T={f.sgd_steps}: {f.sgd_replica_steps_per_s:.3g}/s, naive "
             f"{f.naive_replica_steps_per_s:.3g}/s, ratio {f.sgd_ratio_to_naive:.2f}, "
             f"{f.sgd_fraction_of_limit:.3g} of the limit ({f.sgd_fraction_of_flop_limit:.3g} of the FLOP limit)"),
        ]
    elif f is not None:
        lines.append(f"fused       {f.note}")
    for c in report.curves:
        lines.append(f"curve {c.kernel:<4}  R={c.replicas:<9d} {c.implementation}: {c.replica_steps_per_s:.3g}/s, "
                     f"{c.baseline} {c.baseline_replica_steps_per_s:.3g}/s, ratio {c.ratio:.2f}, "
                     f"{c.fraction_of_limit:.3g} of the limit")
    for a in report.aims:
        lines.append(f"aim         {a.name} = {a.value:.3g} (target >= {a.target:g}): {'met' if a.met else 'NOT met'}")
    return "\n".join(lines)


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
