"""Datasets with exact per-example gradients, and the batched minibatch-gradient kernel."""
from __future__ import annotations

import pytest
import torch

from emastats.errors import UsageError
from emastats.montecarlo import datasets as ds

F64 = torch.float64


@pytest.fixture(scope="module")
def linear() -> ds.Dataset:
    return ds.synthetic_linear_regression(size=60, dim=5, noise=0.5, seed=1)


@pytest.fixture(scope="module")
def spector() -> ds.Dataset:
    return ds.spector_logistic()


def test_synthetic_data_is_seeded_and_has_an_intercept(linear):
    again = ds.synthetic_linear_regression(size=60, dim=5, noise=0.5, seed=1)
    other = ds.synthetic_linear_regression(size=60, dim=5, noise=0.5, seed=2)
    assert torch.equal(linear.features, again.features) and torch.equal(linear.targets, again.targets)
    assert not torch.equal(linear.targets, other.targets)
    assert torch.equal(linear.features[:, 0], torch.ones(60, dtype=F64))
    assert (linear.size, linear.dim, linear.model) == (60, 5, "linear")


def test_spector_loads_offline_from_statsmodels(spector):
    assert (spector.size, spector.dim, spector.model) == (32, 4, "logistic")
    assert set(spector.targets.tolist()) == {0.0, 1.0}
    assert torch.allclose(spector.features[:, 1:].mean(0), torch.zeros(3, dtype=F64), atol=1e-12)


def test_per_example_gradients_match_the_closed_forms(linear, spector):
    w = torch.linspace(-1, 1, linear.dim, dtype=F64)
    x, y = linear.features, linear.targets
    assert torch.allclose(ds.per_example_gradients(linear, w), x * (x @ w - y)[:, None], atol=1e-12)
    w = torch.linspace(-0.5, 0.5, spector.dim, dtype=F64)
    x, y = spector.features, spector.targets
    assert torch.allclose(ds.per_example_gradients(spector, w), x * (torch.sigmoid(x @ w) - y)[:, None], atol=1e-12)


def test_gradient_moments_are_the_population_moments(spector):
    w = torch.zeros(spector.dim, dtype=F64)
    m = ds.gradient_moments(spector, w)
    g = m.per_example
    assert torch.allclose(m.full_batch, g.mean(0))
    assert torch.allclose(m.covariance, torch.cov(g.T, correction=0), atol=1e-14)
    assert m.trace == pytest.approx(float(torch.trace(m.covariance)))
    assert torch.linalg.eigvalsh(m.covariance).min() > -1e-14
    n, b = spector.size, 4
    assert torch.allclose(m.minibatch_covariance(b), m.covariance / b)
    assert torch.allclose(m.minibatch_covariance(b, replacement=False), m.covariance * (n - b) / (b * (n - 1)))
    with pytest.raises(UsageError):
        m.minibatch_covariance(n + 1, replacement=False)


def test_minimiser_zeroes_the_full_batch_gradient(linear, spector):
    for data in (linear, spector):
        g_fb = ds.gradient_moments(data, ds.minimiser(data)).full_batch
        assert g_fb.abs().max() < 1e-10, data.name


def test_fast_kernel_matches_naive_and_autograd(linear):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn((7, linear.dim), generator=gen, dtype=F64)
    idx = torch.randint(0, linear.size, (7, 9), generator=gen)
    idx[0] = 3  # all the same example: repeats must count once each
    kernel = ds.LinearMinibatchGradient(linear, dtype=F64)
    fast = kernel(w, idx)
    naive = ds.naive_linear_minibatch_gradient(linear.features, linear.targets, w, idx)
    assert torch.allclose(fast, naive, atol=1e-12, rtol=1e-12)
    for r in range(7):  # the gradient of the minibatch mean loss, by autograd
        wr = w[r].clone().requires_grad_(True)
        xb, yb = linear.features[idx[r]], linear.targets[idx[r]]
        (0.5 * (xb @ wr - yb) ** 2).mean().backward()
        assert torch.allclose(fast[r], wr.grad, atol=1e-12)
    single = ds.LinearMinibatchGradient(linear)(w.float(), idx)  # float32 default
    assert torch.allclose(single.double(), naive, atol=1e-4, rtol=1e-4)


def test_kernel_rejects_bad_input(linear, spector):
    kernel = ds.LinearMinibatchGradient(linear)
    with pytest.raises(UsageError):
        kernel(torch.zeros(3, linear.dim + 1), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(UsageError):
        kernel(torch.zeros(3, linear.dim), torch.full((3, 2), linear.size))  # out of range: caught, not a segfault
    with pytest.raises(UsageError):
        kernel(torch.zeros(3, linear.dim), torch.zeros(3, 2))  # float indices
    with pytest.raises(UsageError):
        kernel(torch.zeros(3, linear.dim, dtype=F64), torch.zeros(3, 2, dtype=torch.long))  # float64 w, float32 data
    with pytest.raises(UsageError):
        ds.LinearMinibatchGradient(spector)
    with pytest.raises(UsageError):
        ds.per_example_gradients(linear, torch.zeros(linear.dim + 1, dtype=F64))
    with pytest.raises(UsageError):
        ds.synthetic_linear_regression(size=1)
    with pytest.raises(UsageError):
        ds.example_loss("probit", torch.zeros(2), torch.zeros(2), torch.tensor(0.0))
