"""The empirical studies: each runs at a tiny budget, its numbers are finite and carry intervals; study maths."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from conftest import run_cli
from emastats.errors import UsageError
from emastats.report.store import ResultStore, validate_document
from emastats.studies import STUDIES, load_study, run_study
from emastats.studies import run_cli as study_cli
from emastats.studies.clipping_theory import clipped_fixed_point, gamma_clip_mean, norm_clip_mean_norm, value_clip_mean
from emastats.studies.estimators import ratio_of_means, two_batch_parts
from emastats.studies.models import MLP, moments_of
from emastats.studies.temperature_theory import (
    heavy_ball_variance_exact,
    heavy_ball_variance_sde,
    sgd_variance_exact,
    stationary_covariance_exact,
    stationary_covariance_sde,
)
from emastats.verdict import Verdict

TINY = 64 * 8  # replicas before the --quick division: 64 per cell


@pytest.fixture(scope="module", params=sorted(STUDIES))
def study(request):
    torch.set_num_threads(1)
    return run_study(request.param, quick=True, seed=3, device="cpu", replicas=TINY)


def test_study_runs_with_finite_numbers_and_intervals(study):
    assert study.values, "a study must test something"
    for v in study.values:
        assert math.isfinite(v.estimate) and math.isfinite(v.theory), v.name
        assert v.ci_low <= v.estimate <= v.ci_high, v.name
        assert v.verdict in (Verdict.CONFIRMED, Verdict.REFUTED, Verdict.INCONCLUSIVE), v.name
        assert 0 < v.confidence <= 1 and v.tolerance > 0
        if v.confidence == 1:  # a deterministic check: no sampling, so no interval around its value
            assert v.ci_low == v.estimate == v.ci_high, v.name
    for e in study.exact:
        assert math.isfinite(e.value), e.name
    assert study.series
    for s in study.series:
        assert len(s.x) == len(s.estimate) == len(s.ci_low) == len(s.ci_high)
        assert s.theory is None or len(s.theory) == len(s.x)
        assert all(lo <= est <= hi for lo, est, hi in zip(s.ci_low, s.estimate, s.ci_high))
    assert study.conclusion.endswith(".")


def test_study_record_is_a_valid_store_document(study, tmp_path):
    record = study.to_dict()
    assert validate_document(record) == "emastats.study"
    path = ResultStore(tmp_path).save_document(record)
    back = json.loads(path.read_text())
    assert back["name"] == study.name and back["meta"]["seed"] == 3
    assert len(back["series"]) == len(study.series)
    assert {"torch", "git_commit"} <= set(back["meta"])


def test_study_is_reproducible_from_its_seed():
    a = run_study("temperature", quick=True, seed=5, device="cpu", replicas=TINY)
    b = run_study("temperature", quick=True, seed=5, device="cpu", replicas=TINY)
    assert [v.estimate for v in a.values] == [v.estimate for v in b.values]


def test_unknown_study_is_a_one_line_usage_error():
    with pytest.raises(UsageError, match="valid studies: sgd-noise, clipping, temperature, adam-coupling"):
        load_study("sgd_noise")
    proc = run_cli("study", "no-such-study", timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown study 'no-such-study'" in proc.stderr


def test_cli_writes_the_store_and_prints_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("emastats.montecarlo.runner.DEFAULT_REPLICAS", TINY)
    args = argparse.Namespace(name="temperature", quick=True, seed=1, store=str(tmp_path), device="cpu",
                              format="json")
    assert study_cli(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["schema"] == "emastats.study/1" and printed["name"] == "temperature"
    assert (tmp_path / "study" / "temperature.json").is_file()


# ----- the maths the studies rely on -----------------------------------------------------------------

@pytest.mark.parametrize("m, s, c", [(1.0, 3.0, 0.5), (-0.3, 0.7, 1.0), (2.0, 1.0, 2.5)])
def test_value_clip_mean_matches_quadrature(m, s, c):
    numeric, _ = integrate.quad(lambda x: np.clip(x, -c, c) * stats.norm.pdf(x, m, s), m - 12 * s, m + 12 * s,
                                points=[-c, c], limit=200)
    assert value_clip_mean(m, s, c) == pytest.approx(numeric, abs=1e-9)


@pytest.mark.parametrize("s, d, c", [(1.0, 1, 0.5), (1.0, 10, 3.0), (2.0, 3, 1.0)])
def test_norm_clip_mean_norm_matches_quadrature(s, d, c):
    numeric, _ = integrate.quad(lambda r: min(r, c) * stats.chi.pdf(r, d, scale=s), 0, 20 * s, points=[c], limit=200)
    assert norm_clip_mean_norm(s, d, c) == pytest.approx(numeric, abs=1e-9)


@pytest.mark.parametrize("a, sigma, k, c", [(0.0, 2.0, 1, 1.0), (0.4, 2.0, 4, 1.0), (-0.2, 1.0, 16, 0.5)])
def test_gamma_clip_mean_matches_quadrature(a, sigma, k, c):
    g = stats.gamma(k, scale=1 / k)
    numeric, _ = integrate.quad(lambda x: np.clip(a + sigma * (x - 1), -c, c) * g.pdf(x), 0, 60, limit=400,
                                points=[1 + (-c - a) / sigma, 1 + (c - a) / sigma])
    assert gamma_clip_mean(a, sigma, k, c) == pytest.approx(numeric, abs=1e-8)


def test_clipped_fixed_point_is_a_root_and_zero_for_symmetric_noise():
    delta = clipped_fixed_point(lambda x: gamma_clip_mean(x, 2.0, 1, 1.0), 2.0, 1.0)
    assert gamma_clip_mean(2.0 * delta, 2.0, 1, 1.0) == pytest.approx(0.0, abs=1e-10)
    assert delta > 0  # right-skewed noise pushes the clipped mean down, so SGD settles above the minimum
    assert clipped_fixed_point(lambda x: value_clip_mean(x, 1.0, 0.5), 1.0, 0.5) == pytest.approx(0.0, abs=1e-10)


def test_temperature_formulas_agree_with_lyapunov_solutions():
    h, s = np.array([[2.0]]), np.array([[1.5]])
    assert stationary_covariance_exact(h, s, 0.3, 3)[0, 0] == pytest.approx(sgd_variance_exact(0.3, 2.0, 1.5, 3))
    assert stationary_covariance_exact(h, s, 0.3, 3, mu=0.7)[0, 0] == pytest.approx(
        heavy_ball_variance_exact(0.3, 0.7, 2.0, 1.5, 3))
    assert stationary_covariance_sde(h, s, 0.3, 3, mu=0.7)[0, 0] == pytest.approx(
        heavy_ball_variance_sde(0.3, 0.7, 2.0, 1.5, 3))
    assert sgd_variance_exact(1.0, 2.0, 1.0, 1) == math.inf  # eta lambda = 2: no stationary distribution
    assert np.isinf(stationary_covariance_exact(h, s, 1.1, 1)).all()


def test_two_batch_parts_are_unbiased_on_exact_expectations():
    g2, trace = 0.3, 2.0
    small, big = g2 + trace / 2, g2 + trace / 16  # E|G_B|^2 = |G|^2 + tr Sigma / B
    parts = two_batch_parts(torch.tensor([small]), torch.tensor([big]), 2, 16)
    assert float(parts.gradient_sq) == pytest.approx(g2)
    assert float(parts.trace) == pytest.approx(trace)
    with pytest.raises(ValueError):
        two_batch_parts(torch.tensor([1.0]), torch.tensor([1.0]), 4, 4)


def test_ratio_of_means_is_exact_for_proportional_samples():
    den = torch.tensor([1.0, 2.0, 4.0, 3.0], dtype=torch.float64)
    r = ratio_of_means(2.5 * den, den)
    assert r.value == pytest.approx(2.5) and r.stderr == pytest.approx(0.0, abs=1e-12)


def test_mlp_per_example_gradients_match_autograd():
    mlp = MLP(inputs=3, hidden=4)
    gen = torch.Generator().manual_seed(0)
    w = mlp.initial(gen)
    x = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    per_example = mlp.per_example_gradients(x, y, w)
    for i in range(5):
        wi = w.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(mlp.example_loss(wi, x[i], y[i]), wi)
        assert torch.allclose(per_example[i], expected, atol=1e-12)
    gm = moments_of(per_example, w)
    assert gm.trace == pytest.approx(float(per_example.var(0, unbiased=False).sum()))
    with pytest.raises(UsageError):
        mlp.per_example_gradients(x, y, w[:-1])
