"""One training run of minibatch SGD on the digits: the unit of work (a "cell") of the digits studies.

A cell is a plain dict of parameters (so it pickles to a Dask worker and hashes
into a store key) and returns a plain dict of numbers. It is deterministic:
the start ``w_0`` comes from ``init_seed`` alone (runs that share it share
their start: common random numbers across batch sizes and learning rates), the
minibatches from ``seed``; the cell runs on one CPU thread, so it gives the
same numbers in this process, in a Dask worker, serially or in parallel.

SGD: ``w_{t+1} = w_t - lr * (1/B) sum_{i in batch_t} grad l_i(w_t)``, batches of
``batch`` distinct training examples drawn uniformly afresh each step.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

import torch

from ..montecarlo.sampling import minibatch_indices
from .clipping_real import clipping_stats
from .digits import load
from .nets import make_model

CHUNK = 32  # minibatches drawn at once, so that runs stopping early do not pay for all their steps
DIVERGED = 2.0  # a run whose training loss exceeds this multiple of its starting loss has diverged: stop it


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread (reduction order, hence the numbers, do not depend on the machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _generator(seed: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def hessian_noise_scale(model, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, pe: torch.Tensor,
                        examples: int | None = None, gen: torch.Generator | None = None,
                        chunk: int = 256) -> dict[str, float]:
    """B_noise = tr(H Sigma) / (G^T H G) (McCandlish et al. 2018, eq. 2.7), by Hessian-vector products.

    H is the Hessian of the full training loss at ``w``; tr(H Sigma) = (1/N) sum_i xi_i^T H xi_i with
    xi_i = g_i - G, one forward-over-reverse HVP per example (vmapped in chunks): exact over all N, or
    with ``examples`` = M < N the mean over M distinct examples drawn by ``gen`` (unbiased for the same
    mean, M times cheaper). Meaningful only when G^T H G > 0; otherwise ``b_noise`` is NaN.
    """
    from torch.func import grad, jvp, vmap

    w = w.detach()
    g = pe.mean(0)
    xi = pe - g
    if examples is not None and examples < xi.shape[0]:
        xi = xi[torch.randperm(xi.shape[0], generator=gen, device=xi.device)[:examples]]
    gradient = grad(lambda v: model.loss(v, x, y))

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return jvp(gradient, (w,), (v,))[1]

    trace = sum(float((xi[i: i + chunk] * vmap(hvp)(xi[i: i + chunk])).sum()) for i in range(0, xi.shape[0], chunk))
    trace /= xi.shape[0]
    ghg = float(g @ hvp(g))
    return {"trace_h_sigma": trace, "ghg": ghg, "b_noise": trace / ghg if ghg > 0 else math.nan}


def noise_snapshot(model, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, pairs: int, b_small: int, b_big: int,
                   gen: torch.Generator, b_noise: bool = False, hvp_examples: int | None = None) -> dict[str, Any]:
    """Exact tr Sigma, |G|^2, B_simple at ``w`` from all N per-example gradients, plus two-batch estimates.

    Exact: G = (1/N) sum g_i, tr Sigma = (1/N) sum |g_i - G|^2, B_simple = tr Sigma / |G|^2.
    Sampled (McCandlish et al. 2018, App. A): ``pairs`` independent minibatch
    means G_s, G_b of sizes b_small < b_big drawn with replacement, returned as
    the squared norms |G_s|^2, |G_b|^2 (the unbiased parts are formed later).
    """
    pe = model.per_example_gradients(w, x, y).to(torch.float64)
    g = pe.mean(0)
    g2 = float(g @ g)
    trace = float(((pe - g) ** 2).sum(1).mean())
    n = pe.shape[0]
    small = minibatch_indices(n, b_small, pairs, gen, replacement=True)
    big = minibatch_indices(n, b_big, pairs, gen, replacement=True)
    small_sq = (torch.nn.functional.embedding_bag(small, pe, mode="mean") ** 2).sum(1)
    big_sq = (torch.nn.functional.embedding_bag(big, pe, mode="mean") ** 2).sum(1)
    out = {"trace": trace, "g2": g2, "b_simple": trace / g2, "small_sq": small_sq.tolist(), "big_sq": big_sq.tolist()}
    if b_noise:
        out.update(hessian_noise_scale(model, w, x, y, pe, hvp_examples, gen))
    return out


class _Adam:
    """Adam (Kingma and Ba 2015) with bias correction, in place on a flat parameter vector:
    m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, w -= lr (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)."""

    def __init__(self, cell: dict[str, Any]) -> None:
        self.b1, self.b2, self.eps = float(cell["beta1"]), float(cell["beta2"]), float(cell["eps"])
        self.m = self.v = None
        self.t = 0

    def step(self, w: torch.Tensor, g: torch.Tensor, lr: float) -> None:
        if self.m is None:
            self.m, self.v = torch.zeros_like(g), torch.zeros_like(g)
        self.t += 1
        self.m.mul_(self.b1).add_(g, alpha=1 - self.b1)
        self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        w -= lr * m_hat / (v_hat.sqrt() + self.eps)


def train_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Train one run and report what the cell asks for.

    Keys of ``cell``: model ('mlp'/'cnn'), width, batch, lr, steps (maximum), seed, init_seed,
    device ('cpu'); optional target (stop when the training loss <= target; report
    ``steps_to_target``, None when not reached), record_every (training-loss curve
    spacing), checkpoints (steps at which to take ``noise_snapshot``) with pairs,
    b_small, b_big; snapshot_at_target (take one when the target is reached; with b_noise, add
    ``hessian_noise_scale`` over hvp_examples examples, default all); clip_quantiles,
    clip_batches, clip_draws (add ``clipping_stats`` to each checkpoint's snapshot); optimizer
    ('sgd' default, or 'adam' with beta1, beta2, eps).
    """
    with one_thread():
        device = torch.device(cell.get("device", "cpu"))
        model = make_model(cell["model"], cell.get("width"))
        data = load("train", device)
        held = load("held-back", device)
        x, y = data.features, data.labels
        w = model.initial(_generator(cell["init_seed"], device)).requires_grad_(True)
        adam = _Adam(cell) if cell.get("optimizer", "sgd") == "adam" else None
        gen = _generator(cell["seed"], device)
        batch, lr, steps = int(cell["batch"]), float(cell["lr"]), int(cell["steps"])
        target = cell.get("target")
        every = int(cell.get("record_every", 0))
        checkpoints = sorted(set(int(c) for c in cell.get("checkpoints", ())))
        batches = None
        curve: list[float] = []
        snapshots: list[dict[str, Any]] = []
        reached = None
        with torch.no_grad():
            loss = float(model.loss(w, x, y))
        blow_up = DIVERGED * loss
        track = target is not None  # else the full loss is needed at checkpoints and record points only
        for t in range(steps + 1):
            if every and t % every == 0:
                curve.append(loss)
            if t in checkpoints:
                snap = noise_snapshot(model, w.detach(), x, y, int(cell["pairs"]), int(cell["b_small"]),
                                      int(cell["b_big"]), gen)
                if "clip_quantiles" in cell:
                    snap["clipping"] = clipping_stats(model.per_example_gradients(w.detach(), x, y),
                                                      cell["clip_quantiles"], cell["clip_batches"],
                                                      int(cell["clip_draws"]), gen)
                with torch.no_grad():
                    snap.update(step=t, loss=loss, held_loss=float(model.loss(w, held.features, held.labels)))
                snapshots.append(snap)
            if target is not None and loss <= target:
                reached = t
                if cell.get("snapshot_at_target"):
                    snap = noise_snapshot(model, w.detach(), x, y, int(cell["pairs"]), int(cell["b_small"]),
                                          int(cell["b_big"]), gen, b_noise=bool(cell.get("b_noise")),
                                          hvp_examples=cell.get("hvp_examples"))
                    snapshots.append(dict(snap, step=t, loss=loss))
                break
            if t == steps or not math.isfinite(loss) or loss > blow_up:
                break  # out of steps, or diverged: the loss has more than doubled from its start
            if t % CHUNK == 0:  # draw batches a chunk at a time: runs that stop early do not pay for all steps
                batches = minibatch_indices(data.size, batch, CHUNK, gen, replacement=False)
            idx = batches[t % CHUNK]
            (g,) = torch.autograd.grad(model.loss(w, x[idx], y[idx]), w)
            with torch.no_grad():
                if adam is None:
                    w -= lr * g
                else:
                    adam.step(w, g, lr)
                if track or (t + 1) in checkpoints or t + 1 == steps or (every and (t + 1) % every == 0):
                    # the full loss costs a forward pass over N: only where it is used
                    loss = float(model.loss(w, x, y))
        return {"steps_to_target": reached, "final_loss": loss, "curve": curve, "snapshots": snapshots}
