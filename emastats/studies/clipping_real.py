"""Clipped gradients of a real model: per-example against batch-mean clipping, and the symmetrised distribution.

With per-example gradients g_1..g_N (full-batch gradient G) and a threshold c,
``clip_c(v) = v min(1, c/|v|)``:

* per-example clipping (DP-SGD, Abadi et al. 2016) averages clip_c(g_i) over a
  minibatch; with replacement its expectation is m_c = (1/N) sum clip_c(g_i) for
  every batch size B (its bias does not shrink with B) and its covariance is
  Sigma_c / B, Sigma_c the (1/N) covariance of the clipped gradients;
* batch-mean clipping clips the minibatch mean, clip_c(G_B); as B grows G_B -> G
  and its direction bias vanishes;
* the symmetrised distribution puts mass 1/2N on G + xi_i and G - xi_i
  (xi_i = g_i - G): the same mean and covariance, no skew. Chen, Wu and Hong
  (2020) show that clipping a distribution symmetric about G keeps the clipped
  mean a descent direction; pointwise, <G, clip_c(G + xi) + clip_c(G - xi)> >= 0.

The direction bias of an expected update u is 1 - cos(u, G) (its scale is
absorbed by the learning rate).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor

from ..montecarlo.sampling import minibatch_indices


def clip(v: Tensor, c: float) -> Tensor:
    """Rows of ``v`` scaled to norm at most c."""
    norms = v.norm(dim=-1, keepdim=True)
    return v * torch.clamp(c / norms.clamp_min(1e-300), max=1.0)


def cosine_gap(u: Tensor, g: Tensor) -> float:
    """1 - cos(u, g)."""
    return float(1.0 - (u @ g) / (u.norm() * g.norm()))


def _gap_of_mean(draws: Tensor, g: Tensor) -> float:
    """1 - cos(E u, G) from ``draws`` of u: <mean, G> is unbiased and |E u|^2 is estimated without the
    noise floor, |mean|^2 - tr Cov / R (else the Monte Carlo noise alone would show up as a bias)."""
    r = draws.shape[0]
    mean = draws.mean(0)
    norm2 = float(mean @ mean) - float(((draws - mean) ** 2).sum(1).sum()) / (r - 1) / r
    return float(1.0 - float(mean @ g) / (max(norm2, 1e-300) ** 0.5 * float(g.norm())))


def clipping_stats(pe: Tensor, quantiles: Sequence[float], batches: Sequence[int], draws: int,
                   gen: torch.Generator) -> list[dict[str, Any]]:
    """For each threshold c = q * median |g_i|: exact per-example and symmetrised biases, the pointwise
    symmetric-pair inner product, and for each B the batch-clipping bias and the per-example-clipped
    minibatch mean's squared deviation against tr Sigma_c / B (``draws`` minibatches with replacement)."""
    pe = pe.to(torch.float64)
    n = pe.shape[0]
    g = pe.mean(0)
    norms = pe.norm(dim=1)
    median = float(norms.median())
    out, clipped_all = [], []
    for q in quantiles:
        c = q * median
        clipped = clip(pe, c)
        clipped_all.append(clipped)
        m = clipped.mean(0)
        mirror = clip(2 * g - pe, c)  # clip_c(G - xi_i)
        pair_inner = ((clipped + mirror) @ g) / float(g @ g)
        out.append({
            "q": q, "c": c, "clipped_fraction": float((norms > c).double().mean()),
            "gap_per_example": cosine_gap(m, g), "gap_symmetrised": cosine_gap((clipped + mirror).mean(0) / 2, g),
            "min_pair_inner": float(pair_inner.min()), "trace_clipped": float(((clipped - m) ** 2).sum(1).mean()),
            "batches": [],
        })
    for b in batches:  # the same minibatches serve every threshold
        idx = minibatch_indices(n, b, draws, gen, replacement=True)
        batch_means = torch.nn.functional.embedding_bag(idx, pe, mode="mean")
        for row, clipped in zip(out, clipped_all):
            per_example = torch.nn.functional.embedding_bag(idx, clipped, mode="mean")
            ratio = ((per_example - clipped.mean(0)) ** 2).sum(1) / (row["trace_clipped"] / b)  # E = 1
            row["batches"].append({
                "B": b, "gap_batch_clipping": _gap_of_mean(clip(batch_means, row["c"]), g),
                "trace_ratio_mean": float(ratio.mean()), "trace_ratio_var": float(ratio.var()),
            })
    return out
