"""The batched update rules: equivalences, agreement with torch.optim, clipping, accumulation, bad input."""
from __future__ import annotations

import math

import pytest
import torch

from emastats.errors import UsageError
from emastats.montecarlo import optimizers as opt

F64 = torch.float64


def _quadratic_gradient(seed: int, replicas: int = 5, dim: int = 3):
    """Gradients a (w - c) + xi_t of random diagonal quadratics, fixed noise per step."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand((replicas, dim), generator=g, dtype=F64) + 0.2
    c = torch.randn((replicas, dim), generator=g, dtype=F64)
    noise = torch.randn((100, replicas, dim), generator=g, dtype=F64)
    w0 = torch.randn((replicas, dim), generator=g, dtype=F64)
    return (lambda w, t: a * (w - c) + noise[t]), w0


def test_traditional_and_average_heavy_ball_agree_under_the_mapping():
    grad, w0 = _quadratic_gradient(0)
    beta, lr = 0.9, 0.05
    trad = opt.run(opt.heavy_ball(lr, beta), grad, w0, 50)
    avg = opt.run(opt.heavy_ball_average(lr / (1 - beta), beta), grad, w0, 50)
    assert torch.allclose(trad, avg, atol=1e-12, rtol=1e-12)
    wrong = opt.run(opt.heavy_ball_average(lr, beta), grad, w0, 50)
    assert (trad - wrong).abs().max() > 1e-2


def test_run_returns_the_whole_trajectory_and_respects_gradient_point():
    w0 = torch.zeros(2, 4, dtype=F64)
    seen = []

    def grad(w, t):
        seen.append(w.clone())
        return torch.ones_like(w)

    path = opt.run(opt.nesterov_lookahead(0.1, 0.5), grad, w0, 3)
    assert path.shape == (4, 2, 4)
    # the look-ahead point is w + mu u: after one step u = -0.1, so the second gradient is taken at -0.1 - 0.05
    assert torch.allclose(seen[1], torch.full_like(w0, -0.15))


def test_momentum_rules_match_torch_optim():
    grad, w0 = _quadratic_gradient(1)
    for ours, theirs in (
        (opt.heavy_ball(0.05, 0.9), {"momentum": 0.9}),
        (opt.nesterov_pytorch(0.05, 0.9), {"momentum": 0.9, "nesterov": True}),
    ):
        w = w0.clone().requires_grad_(True)
        sgd = torch.optim.SGD([w], lr=0.05, **theirs)
        reference = [w0.clone()]
        for t in range(40):
            w.grad = grad(w.detach(), t)
            sgd.step()
            reference.append(w.detach().clone())
        assert torch.allclose(opt.run(ours, grad, w0, 40), torch.stack(reference), atol=1e-12, rtol=1e-12), ours.name


def test_adam_matches_torch_optim_adam():
    grad, w0 = _quadratic_gradient(2)
    w = w0.clone().requires_grad_(True)
    adam = torch.optim.Adam([w], lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    reference = [w0.clone()]
    for t in range(40):
        w.grad = grad(w.detach(), t)
        adam.step()
        reference.append(w.detach().clone())
    ours = opt.run(opt.adam(0.01, 0.9, 0.99, 1e-8), grad, w0, 40)
    assert torch.allclose(ours, torch.stack(reference), atol=1e-12, rtol=1e-10)


def test_adam_bias_correction_is_exact_under_a_constant_gradient():
    g = torch.tensor([[0.5, -2.0, 3.0]], dtype=F64)
    rule = opt.adam(0.1, 0.9, 0.999, eps=0.0)
    state = rule.init(g)
    for t in range(1, 6):
        step = rule.update(g, state)
        state = step.state
        m_hat, s_hat = opt.bias_corrected_moments(state.first, state.second, t, 0.9, 0.999)
        assert torch.allclose(m_hat, g) and torch.allclose(s_hat, g * g)
        assert torch.allclose(step.updates, -0.1 * torch.sign(g))


def test_adam_as_printed_breaks_on_the_first_step():
    rule = opt.adam_as_printed(0.1)
    step = rule.update(torch.tensor([1.0, -1.0]), rule.init(torch.zeros(2)))
    assert not torch.isfinite(step.updates).any()


def test_printed_rmsprop_is_the_mirror_image_of_rmsprop():
    g = torch.tensor([[0.3, -4.0, 1e-3]], dtype=F64)
    good, bad = opt.rmsprop(0.01, 0.9), opt.rmsprop_as_printed(0.01, 0.9)
    up, down = bad.update(g, bad.init(g)).updates, good.update(g, good.init(g)).updates
    assert torch.equal(up, -down)
    assert (down * g < 0).all()  # the corrected step points against the gradient


def test_value_and_norm_clipping():
    g = torch.tensor([[3.0, -0.5, -7.0], [0.1, 0.2, 0.3]], dtype=F64)
    assert torch.equal(opt.clip_by_value(g, 1.0), torch.tensor([[1.0, -0.5, -1.0], [0.1, 0.2, 0.3]], dtype=F64))
    clipped = opt.clip_by_norm(g, 1.0)
    norms = torch.linalg.vector_norm(clipped, dim=-1)
    assert math.isclose(float(norms[0]), 1.0, rel_tol=1e-12)
    assert torch.equal(clipped[1], g[1])  # already inside the ball: unchanged
    assert torch.allclose(clipped[0] / norms[0], g[0] / torch.linalg.vector_norm(g[0]))  # direction kept
    assert torch.equal(opt.clip_by_norm(torch.zeros(1, 3), 1.0), torch.zeros(1, 3))  # no 0/0


def test_clipped_optimizer_clips_before_the_update():
    rule = opt.clipped(opt.sgd(1.0), lambda g: opt.clip_by_value(g, 0.5))
    assert torch.equal(rule.update(torch.tensor([2.0, -0.1]), None).updates, torch.tensor([-0.5, 0.1]))


def test_gradient_accumulation_equals_one_step_on_the_mean_gradient():
    grads = torch.randn((4, 3, 2), generator=torch.Generator().manual_seed(3), dtype=F64)
    for inner in (opt.sgd(0.1), opt.heavy_ball(0.1, 0.9), opt.adam(0.1)):
        acc = opt.accumulate(inner, 4)
        state, updates = acc.init(grads[0]), []
        for k in range(4):
            step = acc.update(grads[k], state)
            state = step.state
            updates.append(step.updates)
        assert all(torch.equal(u, torch.zeros_like(u)) for u in updates[:3])
        once = inner.update(grads.mean(0), inner.init(grads[0])).updates
        assert torch.allclose(updates[3], once, atol=1e-15, rtol=1e-12), inner.name
        assert state.micro == 0 and torch.equal(state.total, torch.zeros_like(state.total))


@pytest.mark.parametrize("make", [
    lambda: opt.heavy_ball(0.1, 1.0),
    lambda: opt.heavy_ball_average(0.1, -0.1),
    lambda: opt.nesterov_pytorch(0.1, 1.5),
    lambda: opt.adam(0.1, beta1=1.0),
    lambda: opt.rmsprop(0.1, beta2=float("nan")),
    lambda: opt.sgd(0.0),
    lambda: opt.sgd(-1.0),
    lambda: opt.rmsprop(0.1, eps=-1.0),
    lambda: opt.clip_by_value(torch.ones(2), 0.0),
    lambda: opt.clip_by_norm(torch.ones(2), -1.0),
    lambda: opt.accumulate(opt.sgd(0.1), 0),
    lambda: opt.bias_corrected_moments(torch.ones(1), torch.ones(1), 0, 0.9, 0.999),
    lambda: opt.run(opt.sgd(0.1), lambda w, t: w, torch.ones(1), -1),
])
def test_bad_parameters_raise_a_one_line_usage_error(make):
    with pytest.raises(UsageError) as info:
        make()
    assert "\n" not in str(info.value)
