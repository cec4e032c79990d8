"""Fused kernels: the Philox reference stream, the torch reference path, and the Triton kernels under
``TRITON_INTERPRET=1`` on CPU tensors, checked replica by replica against the reference (same seed).

Tolerances: Philox words and minibatch indices must match exactly; final states within 2e-6 relative
(the normals go through float32 log/sqrt/cos, which numpy and torch may round an ulp apart; the
recursions are linear or contracting in the noise, so that error does not grow); moments' means and
variances within 1e-5 relative. The Triton tests skip when triton (the ``gpu`` extra) is not installed.
"""
from __future__ import annotations

import importlib
import math
import os
import sys

import numpy as np
import pytest
import torch
from scipy import stats as sps

from emastats.errors import UsageError
from emastats.montecarlo import fused, philox
from emastats.montecarlo.datasets import spector_logistic, synthetic_linear_regression

# triton decides interpreted-or-compiled when it is imported (its own @jit helpers included), so the
# interpreter is switched on here, before any import of triton; nothing else in the suite imports triton.
INTERPRET_FROM_IMPORT = "triton" not in sys.modules
if INTERPRET_FROM_IMPORT:
    os.environ["TRITON_INTERPRET"] = "1"

SEED = (1 << 62) + 12345  # a 63-bit seed, as claim seeds are: exercises both key words


# ---- the reference stream ---------------------------------------------------------------------

@pytest.mark.parametrize("key, counter, expected", [
    (0, (0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((1 << 64) - 1, (0xFFFFFFFF,) * 4, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (0x299F31D0A4093822, (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_matches_the_random123_known_answers(key, counter, expected):
    words = philox.philox4x32(key, torch.tensor([counter[0]]), *counter[1:])
    assert tuple(int(w) for w in words) == expected


def test_lemire_index_is_the_exact_floor_of_the_64_bit_product():
    gen = np.random.default_rng(0)
    hi, lo = gen.integers(0, 1 << 32, 1000), gen.integers(0, 1 << 32, 1000)
    for n in (1, 7, 1000, (1 << 31) - 1):
        got = philox.lemire_index(torch.as_tensor(hi), torch.as_tensor(lo), n)
        exact = [((int(h) << 32) + int(l)) * n >> 64 for h, l in zip(hi, lo)]
        assert got.tolist() == exact


def test_stream_normals_are_standard_normal():
    z = philox.normals(SEED, 1 << 14, 8).double().flatten()  # 131072 draws
    n = z.numel()
    assert abs(z.mean().item()) < 5 / math.sqrt(n)
    assert abs(z.var().item() - 1) < 5 * math.sqrt(2 / n)
    assert sps.kstest(z.numpy(), "norm").pvalue > 1e-4  # fixed seed: deterministic, level 1e-4


def test_stream_exponentials_are_centred_unit_exponentials():
    e = philox.exponentials(SEED, 1 << 14, 8).double().flatten()  # 131072 draws
    n = e.numel()
    assert abs(e.mean().item()) < 5 / math.sqrt(n)
    assert abs(e.var().item() - 1) < 5 * math.sqrt(8 / n)  # Var[(E-1)^2] = mu4 - 1 = 8
    assert sps.kstest(e.numpy() + 1, "expon").pvalue > 1e-4  # fixed seed: deterministic, level 1e-4
    assert torch.equal(philox.noise("exponential", SEED, 5, 8), philox.exponentials(SEED, 5, 8))


def test_stream_indices_are_uniform_and_depend_on_the_step():
    idx = philox.minibatch_indices(SEED, 4096, 3, 49, 1000)
    assert idx.shape == (4096, 49) and int(idx.min()) >= 0 and int(idx.max()) < 1000
    counts = torch.bincount(idx.flatten(), minlength=1000).numpy()
    assert sps.chisquare(counts).pvalue > 1e-4
    assert not torch.equal(idx, philox.minibatch_indices(SEED, 4096, 4, 49, 1000))


def test_a_replica_draws_the_same_numbers_whatever_the_chunking():
    whole = philox.normals(SEED, 50, 9)
    part = philox.normals(SEED, 20, 9, replica_offset=30)
    assert torch.equal(whole[:, 30:], part)
    rec = fused.ema(0.8, 1.0, 2.0)
    a = fused.recursion_moments(rec, steps=9, replicas=50, seed=SEED, keep_states=True)
    b = fused.recursion_moments(rec, steps=9, replicas=50, seed=SEED, keep_states=True, chunk=7)
    assert torch.equal(a.states, b.states) and a.moments.n == b.moments.n == 50


# ---- the torch reference path against theory (calibrated: fixed seeds, 5-sigma bounds) ---------

def test_ema_reference_matches_the_closed_form_mean_and_variance():
    beta, mean, std, steps, init = 0.9, 2.0, 1.5, 10, 0.5
    run = fused.recursion_moments(fused.ema(beta, mean, std, init), steps=steps, replicas=1 << 15, seed=SEED)
    m = run.moments
    assert run.backend == "torch"
    theory_mean = mean * (1 - beta**steps) + init * beta**steps
    theory_var = std**2 * (1 - beta) / (1 + beta) * (1 - beta ** (2 * steps))
    assert abs(m.mean()[0] - theory_mean) < 5 * m.stderr_mean()[0]
    assert abs(m.variance()[0] - theory_var) < 5 * m.stderr_variance()[0]


def test_sgd_reference_mean_is_the_full_batch_path():
    data = synthetic_linear_regression(200, 6, seed=1)
    run = fused.linear_sgd_moments(data, learning_rate=0.05, batch=4, steps=12, replicas=1 << 12, seed=SEED)
    m = run.moments
    # the default shift is the full-batch path, i.e. the exact mean of w_T: the mean offset is noise only
    z = (m.mean() - m.shift) / m.stderr_mean()
    assert np.all(np.abs(z) < 5), z
    assert np.all(m.variance() > 0)


# ---- argument checks and backend choice ---------------------------------------------------------

def test_backend_choice(monkeypatch):
    assert fused.choose_backend("cpu") == "torch"
    monkeypatch.setattr(fused, "triton_available", lambda: True)
    assert fused.choose_backend("cuda") == "triton" and fused.choose_backend("cuda:0", "torch") == "torch"
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(UsageError, match="CUDA devices"):
        fused.choose_backend("cpu", "triton")
    monkeypatch.setattr(fused, "triton_available", lambda: False)
    assert fused.choose_backend("cuda") == "torch"
    with pytest.raises(UsageError, match="emastats\\[gpu\\]"):
        fused.choose_backend("cuda", "triton")
    with pytest.raises(UsageError, match="unknown backend"):
        fused.choose_backend("cpu", "cublas")


@pytest.mark.parametrize("call, message", [
    (lambda: fused.ema(1.0), "beta"),
    (lambda: fused.adam(0.1, beta1=1.5), "beta1"),
    (lambda: fused.recursion_moments(fused.ema(0.5), steps=0, replicas=8, seed=1), "steps"),
    (lambda: fused.recursion_moments(fused.ema(0.5), steps=3, replicas=1, seed=1), "replicas"),
    (lambda: fused.linear_sgd_moments(spector_logistic(), learning_rate=0.1, batch=2, steps=1, replicas=4,
                                      seed=1), "linear regression"),
    (lambda: fused.linear_sgd_moments(synthetic_linear_regression(10, 2), learning_rate=0.1, batch=0, steps=1,
                                      replicas=4, seed=1), "batch size"),
])
def test_bad_arguments_are_usage_errors(call, message):
    with pytest.raises(UsageError, match=message):
        call()


# ---- Triton kernels under the interpreter, against the reference -----------------------------------

@pytest.fixture(scope="module")
def interpreted():
    """triton_kernels, run by triton's interpreter on CPU tensors (TRITON_INTERPRET=1 set before triton's import)."""
    pytest.importorskip("triton")
    from triton import knobs

    if not knobs.runtime.interpret or not INTERPRET_FROM_IMPORT:
        pytest.skip("triton was imported before this module could set TRITON_INTERPRET=1")
    import triton

    if tuple(int(p) for p in triton.__version__.split(".")[:2]) < (3, 9):
        # triton 3.6's interpreter cannot loop to a runtime bound with numpy >= 2 (int() of a 1-element array);
        # the compiled path of that version is checked by the compile test and by benchmarks/fused_check.py
        pytest.skip(f"the kernels' interpreter tests need triton >= 3.9 (the version pinned), got {triton.__version__}")
    return importlib.import_module("emastats.montecarlo.triton_kernels")


@pytest.mark.parametrize("batch", [1, 7, 32])
def test_kernel_indices_are_the_reference_indices_exactly(interpreted, batch):
    got = interpreted.launch_indices(seed=SEED, replicas=37, step=5, batch=batch, n=1000, device=torch.device("cpu"))
    assert torch.equal(got.long(), philox.minibatch_indices(SEED, 37, 5, batch, 1000))


RECURSIONS = [fused.ema(0.9, 2.0, 1.5, 0.5), fused.ema(0.0, -1.0, 0.5), fused.ema(0.7, 0.5, 2.0, noise="exponential"),
              fused.heavy_ball(0.1, 0.9, curvature=1.0, noise=1.0, init=1.0),
              fused.adam(0.01, 0.9, 0.999, 1e-8, curvature=2.0, noise=0.5, init=1.0)]


@pytest.mark.parametrize("recursion", RECURSIONS, ids=lambda r: f"{r.rule}-{r.noise}")
def test_recursion_kernel_equals_the_reference(interpreted, recursion):
    # T = 13 (not a multiple of 4), R = 300 (not a multiple of the block), an offset replica range
    kw = dict(steps=13, replicas=300, seed=SEED, replica_offset=1000, keep_states=True)
    kernel = fused.recursion_moments(recursion, backend="triton", **kw)
    ref = fused.recursion_moments(recursion, backend="torch", **kw)
    assert kernel.backend == "triton" and ref.backend == "torch"
    scale = ref.states.abs().max().item()
    assert torch.allclose(kernel.states, ref.states, rtol=2e-6, atol=2e-6 * scale)
    assert kernel.moments.n == ref.moments.n == 300
    np.testing.assert_allclose(kernel.moments.mean(), ref.moments.mean(), rtol=1e-5)
    np.testing.assert_allclose(kernel.moments.variance(), ref.moments.variance(), rtol=1e-5)
    np.testing.assert_allclose(kernel.moments.fourth_central(), ref.moments.fourth_central(), rtol=1e-4)


def test_recursion_kernel_moments_do_not_need_the_states(interpreted):
    kw = dict(steps=6, replicas=200, seed=7)
    a = fused.recursion_moments(RECURSIONS[0], backend="triton", **kw)
    b = fused.recursion_moments(RECURSIONS[0], backend="triton", keep_states=True, **kw)
    assert a.states is None and np.array_equal(a.moments.s11, b.moments.s11)


@pytest.mark.parametrize("replicas", [37, 150])
def test_linear_sgd_kernel_equals_the_reference(interpreted, replicas):
    # d = 5 (padded to 8), B = 7 (odd: 4 + 3 index pairs), R not a multiple of the block; with R = 150 the
    # 5 tiles of 32 replicas are shared by 4 persistent programs, so one sums moments over two tiles
    data = synthetic_linear_regression(120, 5, seed=2)
    kw = dict(learning_rate=0.05, batch=7, steps=6, replicas=replicas, seed=SEED, replica_offset=11,
              keep_states=True, w0=torch.linspace(-1, 1, 5))
    kernel = fused.linear_sgd_moments(data, backend="triton", **kw)
    ref = fused.linear_sgd_moments(data, backend="torch", **kw)
    assert torch.allclose(kernel.states, ref.states, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(kernel.moments.mean(), ref.moments.mean(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(kernel.moments.covariance(), ref.moments.covariance(), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(kernel.moments.fourth_central(), ref.moments.fourth_central(), rtol=1e-3, atol=1e-12)


def _context(seed: int = 11):
    from emastats.montecarlo.context import Context
    from emastats.montecarlo.runner import make_generator

    cpu = torch.device("cpu")
    return Context(claim_id="t", seed=seed, claim_seed=seed, device=cpu, generator=make_generator(cpu, seed),
                   quick=True, replicas=64)


@pytest.mark.parametrize("columns", [1, 2])
def test_engine_recursion_source_kernel_equals_its_reference(interpreted, columns):
    # what an experiment gets from kernels.recursion_sampler on the fused engine: the same keys (same generator
    # seed) through the kernel and through the reference give the same moments; 2 columns take the states path
    from emastats.montecarlo import kernels

    recs = (fused.ema(0.8, 0.5, 1.5, noise="exponential"), fused.heavy_ball(0.2, 0.5, 1.0, 0.7))[:columns]
    got = {b: kernels.RecursionSource(_context(), recs, 9, scale=-2.0, backend=b).moments(300)
           for b in ("triton", "torch")}
    a, b = got["triton"], got["torch"]
    assert a.n == b.n == 300 and a.d == b.d == columns
    np.testing.assert_allclose(a.mean(), b.mean(), rtol=1e-5)
    np.testing.assert_allclose(a.covariance(), b.covariance(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(a.fourth_central(), b.fourth_central(), rtol=1e-4)


def test_engine_linear_sgd_source_kernel_equals_its_reference(interpreted):
    from emastats.montecarlo import kernels

    data = synthetic_linear_regression(24, 3, seed=0)
    got = {b: kernels.LinearSGDSource(_context(), data, 1.0, 4, 1, scale=-1.0, backend=b).moments(100)
           for b in ("triton", "torch")}
    a, b = got["triton"], got["torch"]
    np.testing.assert_allclose(a.mean(), b.mean(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.covariance(), b.covariance(), rtol=1e-4, atol=1e-9)


def test_bench_times_the_fused_kernels_where_they_can_run(interpreted, monkeypatch):
    # the CUDA-only timing code, run here on CPU tensors by the interpreter (rates meaningless, shape checked)
    from emastats.montecarlo import bench

    monkeypatch.setattr(bench, "_triton_ready", lambda device: "")
    monkeypatch.setattr(bench, "FUSED_SGD_STEPS", 2)  # the interpreter is slow; the shape is what is checked
    report = bench.run_benchmarks(torch.device("cpu"), ema_replicas=64, ema_steps=4, examples=50, dim=4, batch=8,
                                  replicas=16, sgd_steps=2, repeats=1, curve_cap=8)
    f = report.fused
    assert f.backend == "triton" and f.sgd_steps == bench.FUSED_SGD_STEPS
    assert (f.ema_replicas, f.sgd_replicas) == (64, 16)
    for value in (f.ema_replica_steps_per_s, f.rng_fill_per_s, f.ema_ratio_to_rng, f.ema_fraction_of_limit,
                  f.sgd_replica_steps_per_s, f.naive_replica_steps_per_s, f.sgd_ratio_to_naive,
                  f.sgd_fraction_of_limit, f.sgd_fraction_of_flop_limit):
        assert value > 0
    assert [c.implementation for c in report.curves] == ["triton recursion_kernel", "triton linear_sgd_kernel"]
    assert "fused EMA" in bench._text(report) and "fused SGD" in bench._text(report)


@pytest.mark.slow
def test_kernels_compile_for_a_gpu_without_one():
    # the compiled path (fast intrinsics, persistent SGD, tl.dot moments) cannot run here, but triton can
    # compile it to an sm_90 cubin; a fresh process, because this one imported triton as an interpreter
    pytest.importorskip("triton")
    import subprocess

    code = ("from emastats.montecarlo.triton_kernels import compile_for_cuda\n"
            "print(sorted(k for k, v in compile_for_cuda(90).items() if v))")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(sorted(["linear_sgd", "recursion_adam", "recursion_ema", "recursion_ema_exponential",
                                              "recursion_heavy_ball"]))
