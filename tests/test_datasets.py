"""Datasets with exact per-example gradients, and the batched minibatch-gradient kernel."""
from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from emastats.errors import UsageError
from emastats.montecarlo import datasets as ds
from emastats.montecarlo.sampling import minibatch_indices, uniform_indices

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


def test_sgd_step_matches_the_naive_step_and_buffers_do_not_leak(linear):
    gen = torch.Generator().manual_seed(1)
    kernel = ds.LinearMinibatchGradient(linear, dtype=F64)
    w = torch.randn((6, linear.dim), generator=gen, dtype=F64)
    first = torch.randint(0, linear.size, (6, 4), generator=gen)
    second = torch.randint(0, linear.size, (6, 4), generator=gen, dtype=torch.int64).int()  # int32 indices too
    grad_first = kernel(w, first)
    kernel(w, second)  # reuses the pattern buffers: must not change the first result
    assert torch.allclose(grad_first, ds.naive_linear_minibatch_gradient(linear.features, linear.targets, w, first),
                          atol=1e-12)
    expected = w - 0.1 * ds.naive_linear_minibatch_gradient(linear.features, linear.targets, w, second.long())
    stepped = w.clone()
    assert kernel.sgd_step_(stepped, second, 0.1) is stepped
    assert torch.allclose(stepped, expected, atol=1e-12)
    # a non-finite replica in one call must not poison a later call through the reused buffers
    bad = w.clone()
    bad[0] = float("inf")
    kernel(bad, first)
    assert torch.allclose(kernel(w, first), grad_first, atol=1e-12)
    # the gather path used off the CPU computes the same gradient and step
    kernel._sparse = False
    assert torch.allclose(kernel(w, first), grad_first, atol=1e-12)
    assert torch.allclose(kernel.sgd_step_(w.clone(), second, 0.1), expected, atol=1e-12)


# --- exact index sampling (feeds the kernel) ----------------------------------------------------

def test_uniform_indices_are_uniform_by_a_chi_square_test():
    """Pearson chi-square on 10^6 draws over n = 1000 cells (df 999), false-alarm level 1e-3.

    With the noncentral chi-square, power is 0.9 at a noncentrality of 212, i.e.
    a relative RMS deviation sqrt(n sum (p_i - 1/n)^2) of 0.0145 from uniform.
    """
    n, count = 1000, 10 ** 6
    draws = uniform_indices(n, count, torch.Generator().manual_seed(7))
    assert draws.dtype == torch.int64 and int(draws.min()) >= 0 and int(draws.max()) < n
    counts = torch.bincount(draws, minlength=n).double()
    statistic = float(((counts - count / n) ** 2).sum() / (count / n))
    assert stats.chi2.sf(statistic, n - 1) > 1e-3


def test_rejected_words_are_redrawn_so_no_index_is_favoured():
    """n = 3 * 2^29: without rejection, floor(u n / 2^31) = floor(3u/4) gives indices = 0 mod 3
    for two words in four (probability 1/2 instead of 1/3), and a quarter of all words are
    rejected, so the redraw loop runs every call. z-test of the fraction = 1/3 on 30000 draws,
    two-sided false-alarm level 1e-6 (|z| < 4.89); power 0.9 against a shift of 0.017."""
    n, count = 3 * 2 ** 29, 30000
    draws = uniform_indices(n, count, torch.Generator().manual_seed(3))
    assert int(draws.min()) >= 0 and int(draws.max()) < n
    fraction = float((draws % 3 == 0).double().mean())
    z = (fraction - 1 / 3) / math.sqrt((1 / 3) * (2 / 3) / count)
    assert abs(z) < 4.89


def test_uniform_indices_are_seeded_and_fill_out_buffers():
    a = uniform_indices(1000, 500, torch.Generator().manual_seed(5))
    b = uniform_indices(1000, 500, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    out32 = torch.empty((20, 25), dtype=torch.int32)
    assert uniform_indices(1000, 500, torch.Generator().manual_seed(5), out=out32) is out32
    assert torch.equal(out32.reshape(-1).long(), a)
    block = torch.empty((20, 25), dtype=torch.int64)
    assert minibatch_indices(1000, 25, 20, torch.Generator().manual_seed(5), replacement=True, out=block) is not None
    assert torch.equal(block.reshape(-1), a)
    assert torch.equal(uniform_indices(1, 10, torch.Generator()), torch.zeros(10, dtype=torch.int64))


@pytest.mark.parametrize("call", [
    lambda g: uniform_indices(0, 5, g),
    lambda g: uniform_indices(2 ** 31 + 1, 5, g),
    lambda g: uniform_indices(10, 5, g, out=torch.empty(4, dtype=torch.int64)),
    lambda g: uniform_indices(10, 5, g, out=torch.empty(5)),
    lambda g: uniform_indices(10, 5, g, out=torch.empty((5, 2), dtype=torch.int64)[:, 0]),  # not contiguous
    lambda g: uniform_indices(10, -1, g),
    lambda g: minibatch_indices(10, 3, 4, g, replacement=True, out=torch.empty((3, 4), dtype=torch.int64)),
    lambda g: minibatch_indices(10, 3, 4, g, replacement=False, out=torch.empty((4, 3), dtype=torch.int64)),
])
def test_bad_sampler_arguments_are_usage_errors(call):
    with pytest.raises(UsageError):
        call(torch.Generator())


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
