"""The engine switch (``kernels.py``): experiments on the fused path against the same experiments on the torch path.

The fused path draws from Philox streams keyed from the claim's generator, the torch path from the generator
itself, so the two runs are independent samples of the same quantities: each check's estimates must agree within
5 combined standard errors (|z| <= 5, two independent estimates), and every check must reach the same verdict
(controls refuted on both). The fused runs here use the kernel's torch reference, which
``test_fused.py`` checks against the Triton kernel itself replica by replica; the interpreter is too slow for
whole experiments.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emastats.errors import UsageError
from emastats.montecarlo import fused, kernels, resolve_device, run_experiment
from emastats.montecarlo.accumulators import Moments
from emastats.montecarlo.context import Context
from emastats.montecarlo.registry import registered
from emastats.montecarlo.runner import make_generator

CPU = torch.device("cpu")

# one claim per wired kind: an EMA of skewed inputs (one column, streamed moments), heavy ball with several
# columns side by side (states), and the minibatch gradient as one SGD step on the linear model (d = 3)
WIRED = ("ema.bias.mean", "noise.temperature.momentum", "minibatch.covariance.with_replacement")


def _ctx() -> Context:
    return Context(claim_id="t", seed=1, claim_seed=1, device=CPU, generator=make_generator(CPU, 1), quick=True,
                   replicas=64)


def test_engine_switch(monkeypatch):
    monkeypatch.delenv(kernels.ENGINE_ENV, raising=False)
    assert kernels.engine(CPU) == "torch"  # auto: fused only on a CUDA device with triton
    monkeypatch.setattr(fused, "triton_available", lambda: True)
    assert kernels.engine("cuda") == "fused"  # cuda and cuda:N alike: the device type decides
    monkeypatch.setenv(kernels.ENGINE_ENV, "torch")
    assert kernels.engine("cuda:0") == "torch"
    monkeypatch.setenv(kernels.ENGINE_ENV, "Fused")
    assert kernels.engine(CPU) == "fused"
    monkeypatch.setenv(kernels.ENGINE_ENV, "gpu")
    with pytest.raises(UsageError, match="EMASTATS_ENGINE must be auto, fused or torch"):
        kernels.engine(CPU)


def test_the_torch_engine_returns_the_experiments_own_sampler(monkeypatch):
    monkeypatch.setenv(kernels.ENGINE_ENV, "torch")
    ctx = _ctx()
    own = lambda n: torch.zeros(n)  # noqa: E731
    assert kernels.recursion_sampler(ctx, [fused.ema(0.5)], 3, own) is own
    assert kernels.linear_sgd_sampler(ctx, None, learning_rate=1.0, batch=2, steps=1, fallback=own) is own
    assert "engine" not in ctx.params  # torch-path reports are unchanged


def test_scaled_moments_are_the_moments_of_the_scaled_samples():
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 3
    a, b = kernels.scale_moments(Moments.from_samples(x), -1.7), Moments.from_samples(-1.7 * x)
    np.testing.assert_allclose(a.mean(), b.mean(), rtol=1e-12)
    np.testing.assert_allclose(a.covariance(), b.covariance(), rtol=1e-12)
    np.testing.assert_allclose(a.fourth_central(), b.fourth_central(), rtol=1e-10)
    np.testing.assert_allclose(a.stderr_covariance(), b.stderr_covariance(), rtol=1e-10)


def test_a_fused_source_draws_fresh_replicas_on_every_call(monkeypatch):
    source = kernels.RecursionSource(_ctx(), (fused.ema(0.5, 0.0, 1.0),), 3, backend="torch")
    first, second = source.moments(256), source.moments(256)
    assert first.n == second.n == 256 and first.s1[0] != second.s1[0]
    again = kernels.RecursionSource(_ctx(), (fused.ema(0.5, 0.0, 1.0),), 3, backend="torch").moments(256)
    assert np.array_equal(again.s11, first.s11)  # same generator seed, same keys: reproducible


@pytest.mark.parametrize("claim_id", WIRED)
def test_wired_experiment_agrees_across_engines(claim_id, monkeypatch):
    # the kernel's torch reference (never triton here: this process may hold triton as an interpreter)
    monkeypatch.setattr(kernels, "fused_backend", lambda device: "torch")
    experiment = registered()[claim_id]
    runs = {}
    for name in ("torch", "fused"):
        monkeypatch.setenv(kernels.ENGINE_ENV, name)
        runs[name] = run_experiment(claim_id, experiment, seed=5, device=resolve_device("cpu"), quick=True)
    torch_run, fused_run = runs["torch"], runs["fused"]
    assert "engine" not in torch_run.params and fused_run.params["engine"].startswith("fused (torch reference")
    assert [c.name for c in fused_run.checks] == [c.name for c in torch_run.checks]
    for a, b in zip(torch_run.checks, fused_run.checks):
        if a.kind != "statistical":
            continue
        z = (b.estimate - a.estimate) / math.hypot(a.stderr, b.stderr)
        assert abs(z) <= 5, (a.name, a.estimate, b.estimate, z)
        assert b.verdict == a.verdict, (a.name, a.verdict, b.verdict)
    assert fused_run.verdict == torch_run.verdict


@pytest.mark.parametrize("engine_name", ["torch", "fused"])
def test_study_simulation_matches_the_exact_variance_on_both_engines(engine_name, monkeypatch):
    # study "temperature" takes its heavy-ball states from kernels.recursion_states (the kernel writes them)
    from emastats.experiments import study_temperature as study
    from emastats.studies.temperature_theory import heavy_ball_variance_exact

    monkeypatch.setattr(kernels, "fused_backend", lambda device: "torch")
    monkeypatch.setenv(kernels.ENGINE_ENV, engine_name)
    ctx = _ctx()
    eta, batch, mu = 0.4, 4, 0.5
    w = study._simulate_1d(ctx, 1 << 14, study._steps_1d(eta, mu), eta, batch, mu)
    assert w.dtype == torch.float64 and w.shape == (1 << 14,)
    m = Moments.from_samples(w)
    theory = heavy_ball_variance_exact(eta, mu, study.LAMBDA, study.SIGMA2, batch)
    assert abs(m.variance()[0] - theory) <= 5 * m.stderr_variance()[0]
    assert ("engine" in ctx.params) == (engine_name == "fused")
