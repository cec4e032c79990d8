"""Fixed datasets with exact per-example gradients, and a fast batched minibatch-gradient kernel.

A minibatch experiment needs the quantities its theory is written in to be
known exactly, not estimated: for a dataset of N examples and a parameter w,

* the per-example gradients ``g_i = grad_w L_i(w)`` (``torch.func.vmap`` over
  ``torch.func.grad`` of the per-example loss, in float64);
* the full-batch gradient ``g_fb = (1/N) sum_i g_i``;
* the per-example (population) covariance ``Sigma = (1/N) sum_i (g_i - g_fb)(g_i - g_fb)^T``
  and its trace — the ``Sigma^1`` of the catalogue, so that a with-replacement
  minibatch mean has covariance ``Sigma / B``.

Two datasets: a synthetic linear regression (squared loss ``(x.w - y)^2 / 2``)
and the Spector-Mazzeo grade data that ships with statsmodels, fitted by
logistic regression (loss ``log(1 + e^{s}) - y s`` with ``s = x.w``). Both are
standardised and carry an intercept column, so they load offline and the same
seed always gives the same data.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.func import grad, vmap

from ..errors import UsageError
from .sampling import check_batch

Model = Literal["linear", "logistic"]


@dataclass(frozen=True)
class Dataset:
    """N examples ``features[i]`` (length d, intercept included) with ``targets[i]``, in float64.

    ``model`` names the per-example loss: ``linear`` is ``(x.w - y)^2 / 2``,
    ``logistic`` is the binary cross-entropy of the logit ``x.w`` (targets 0/1).
    """

    name: str
    model: Model
    features: Tensor
    targets: Tensor
    description: str

    @property
    def size(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float64) -> Dataset:
        return Dataset(self.name, self.model, self.features.to(device, dtype), self.targets.to(device, dtype),
                       self.description)


def example_loss(model: Model, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """The loss of one example ``(x, y)`` at ``w``."""
    s = torch.dot(x, w)
    if model == "linear":
        return 0.5 * (s - y) ** 2
    if model == "logistic":
        return torch.nn.functional.softplus(s) - y * s
    raise UsageError(f"unknown model {model!r}: expected 'linear' or 'logistic'")


def per_example_gradients(data: Dataset, w: Tensor) -> Tensor:
    """``(N, d)`` matrix of exact per-example gradients ``g_i(w)``, by vmap over torch.func.grad."""
    if w.shape != (data.dim,):
        raise UsageError(f"w must have shape ({data.dim},) for {data.name}, got {tuple(w.shape)}")
    one = grad(lambda w_, x, y: example_loss(data.model, w_, x, y))
    return vmap(one, in_dims=(None, 0, 0))(w.to(data.features), data.features, data.targets)


@dataclass(frozen=True)
class GradientMoments:
    """Exact moments of the per-example gradient at one ``w`` (population, i.e. 1/N, convention)."""

    w: Tensor
    per_example: Tensor  # (N, d)
    full_batch: Tensor  # (d,)   g_fb
    covariance: Tensor  # (d, d) Sigma
    trace: float  # tr Sigma

    def minibatch_covariance(self, batch: int, replacement: bool = True) -> Tensor:
        """Covariance of a size-``batch`` minibatch mean: ``Sigma/B``, times ``(N-B)/(N-1)`` without replacement."""
        n = self.per_example.shape[0]
        check_batch(n, batch, replacement)
        factor = 1.0 / batch if replacement else (n - batch) / (batch * (n - 1))
        return self.covariance * factor


def gradient_moments(data: Dataset, w: Tensor) -> GradientMoments:
    """g_i, g_fb, Sigma and tr Sigma of ``data`` at ``w``, exactly (float64)."""
    g = per_example_gradients(data, w)
    g_fb = g.mean(0)
    centred = g - g_fb
    sigma = centred.T @ centred / g.shape[0]
    return GradientMoments(w.to(g), g, g_fb, sigma, float(torch.trace(sigma)))


def minimiser(data: Dataset, iterations: int = 50) -> Tensor:
    """The w with ``g_fb(w) = 0``: least squares for ``linear``, Newton's method for ``logistic``."""
    x, y = data.features, data.targets
    if data.model == "linear":
        return torch.linalg.lstsq(x, y.unsqueeze(-1)).solution.squeeze(-1)
    w = torch.zeros(data.dim, dtype=x.dtype, device=x.device)
    for _ in range(iterations):
        p = torch.sigmoid(x @ w)
        hessian = (x * (p * (1 - p)).unsqueeze(-1)).T @ x / data.size
        step = torch.linalg.solve(hessian, x.T @ (p - y) / data.size)
        w = w - step
        if float(step.abs().max()) < 1e-13:
            break
    return w


# --- the datasets ---------------------------------------------------------------------------

def _standardise(x: Tensor) -> Tensor:
    """Zero-mean, unit-variance columns, then an intercept column of ones in front."""
    x = (x - x.mean(0)) / x.std(0)
    return torch.cat([torch.ones(x.shape[0], 1, dtype=x.dtype), x], dim=1)


def synthetic_linear_regression(size: int = 1000, dim: int = 32, noise: float = 1.0, seed: int = 0) -> Dataset:
    """``y = x.w* + noise * e`` with ``x`` (intercept + ``dim - 1`` standard normals), ``w*, e`` standard normal."""
    if size < 2 or dim < 1:
        raise UsageError(f"a linear-regression dataset needs size >= 2 and dim >= 1, got size={size}, dim={dim}")
    if not noise >= 0:
        raise UsageError(f"noise must be >= 0, got {noise!r}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.ones(size, 1, dtype=torch.float64),
                   torch.randn(size, dim - 1, generator=gen, dtype=torch.float64)], dim=1)
    w_star = torch.randn(dim, generator=gen, dtype=torch.float64)
    y = x @ w_star + noise * torch.randn(size, generator=gen, dtype=torch.float64)
    return Dataset(f"linear_regression_n{size}_d{dim}", "linear", x, y,
                   f"synthetic linear regression, N={size}, d={dim}, noise sd {noise:g}, seed {seed}")


def spector_logistic() -> Dataset:
    """The Spector-Mazzeo (1980) data bundled with statsmodels: did a teaching method (PSI) raise grades?

    N = 32 students; features GPA, TUCE, PSI (standardised) plus an intercept;
    target GRADE (1 if the grade improved). Loaded from the installed package, offline.
    """
    from statsmodels.datasets import spector

    frame = spector.load_pandas().data
    x = torch.tensor(frame[["GPA", "TUCE", "PSI"]].to_numpy(), dtype=torch.float64)
    y = torch.tensor(frame["GRADE"].to_numpy(), dtype=torch.float64)
    return Dataset("spector", "logistic", _standardise(x), y,
                   "statsmodels spector: GRADE ~ GPA + TUCE + PSI, logistic regression, N=32, d=4")


# --- minibatch gradients for many replicas ----------------------------------------------------

def naive_linear_minibatch_gradient(features: Tensor, targets: Tensor, w: Tensor, indices: Tensor) -> Tensor:
    """Reference: gather the ``(R, B, d)`` rows, two batched matrix products. Same result as the fast kernel."""
    xb = features[indices]
    residual = torch.bmm(xb, w.unsqueeze(-1)).squeeze(-1) - targets[indices]
    return torch.bmm(xb.transpose(1, 2), residual.unsqueeze(-1)).squeeze(-1) / indices.shape[1]


class LinearMinibatchGradient:
    """Minibatch-mean gradients of squared loss for R replicas at once, each at its own ``w``.

    For replica r with indices ``i_1..i_B`` the gradient is
    ``(1/B) sum_b x_{i_b} (x_{i_b}.w_r - y_{i_b})``. It is computed in two
    sparse steps that touch only the R*B sampled (replica, example) pairs:

    1. the scaled residuals ``s (x_{i_b}.w_r - y_{i_b})`` as a sampled
       dense-dense product (``torch.sparse.sampled_addmm``) of ``W`` with
       ``X^T`` on the CSR pattern of the indices, whose values start as
       ``-y_{i_b}`` so that ``alpha = beta = s`` adds both terms in one pass
       (repeated indices, i.e. sampling with replacement, are separate
       entries and count twice);
    2. the residual-weighted sum of rows as the sparse-dense product of that
       same CSR matrix with ``X`` (for the SGD step, ``addmm`` into ``w`` itself,
       so the update needs no temporary).

    With ``s = 1/B`` that is the gradient (``__call__``); with ``s = lr/B``
    it is the SGD update, applied in place by ``sgd_step_``. No ``(R, B, d)``
    block is materialised, and the product is written into a buffer kept
    between calls (fresh pages on every call cost more than the arithmetic);
    ``benchmarks/bench.py`` measures the gain over the naive gather + ``bmm``
    step. This path is used on the CPU, where it was verified and measured; on
    other devices the residuals come from a plain gather (GPU memory bandwidth
    makes that cheap) and the sum from ``embedding_bag``.
    """

    def __init__(self, data: Dataset, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"):
        if data.model != "linear":
            raise UsageError(f"LinearMinibatchGradient needs a linear-regression dataset, got {data.model}")
        self.size, self.dim = data.size, data.dim
        self.features = data.features.to(device, dtype).contiguous()
        self.targets = data.targets.to(device, dtype).contiguous()
        self._negative_targets = -self.targets
        # the sparse path was verified and measured on the CPU only (see the class docstring)
        self._sparse = self.features.device.type == "cpu"
        self._buffers: dict[tuple, tuple[Tensor, Tensor]] = {}

    def __call__(self, w: Tensor, indices: Tensor) -> Tensor:
        """``(R, d)`` gradients for ``w`` of shape ``(R, d)`` and ``indices`` of shape ``(R, B)``."""
        self._check(w, indices)
        scale = 1.0 / indices.shape[1]
        if not self._sparse:
            return self._embedding_bag(indices, self._gathered_residuals(w, indices, scale))
        return torch.sparse.mm(self._residual_matrix(w, indices, scale), self.features)

    def sgd_step_(self, w: Tensor, indices: Tensor, learning_rate: float) -> Tensor:
        """One SGD step in place, ``w_r <- w_r - lr g_r`` with ``g_r`` as in ``__call__``; returns ``w``."""
        self._check(w, indices)
        scale = float(learning_rate) / indices.shape[1]
        if not self._sparse:
            return w.sub_(self._embedding_bag(indices, self._gathered_residuals(w, indices, scale)))
        return torch.addmm(w, self._residual_matrix(w, indices, scale), self.features, alpha=-1.0, out=w)

    def _check(self, w: Tensor, indices: Tensor) -> None:
        if indices.ndim != 2 or indices.dtype not in (torch.int32, torch.int64):
            raise UsageError(f"indices must be an integer tensor of shape (R, B), "
                             f"got {indices.dtype} {tuple(indices.shape)}")
        replicas = indices.shape[0]
        if w.shape != (replicas, self.dim):
            raise UsageError(f"w must have shape ({replicas}, {self.dim}), got {tuple(w.shape)}")
        if w.dtype != self.features.dtype or w.device != self.features.device:
            raise UsageError(f"w must be {self.features.dtype} on {self.features.device} like the kernel's data, "
                             f"got {w.dtype} on {w.device}")
        # the sparse pattern is built unchecked, so an out-of-range index must be caught here
        if indices.numel():
            low, high = (int(v) for v in torch.aminmax(indices))
            if low < 0 or high >= self.size:
                raise UsageError(f"minibatch indices must lie in [0, {self.size}), got {low}..{high}")

    def _embedding_bag(self, indices: Tensor, weights: Tensor) -> Tensor:
        return torch.nn.functional.embedding_bag(indices, self.features, mode="sum", per_sample_weights=weights)

    def _gathered_residuals(self, w: Tensor, indices: Tensor, scale: float) -> Tensor:
        """``(R, B)`` values ``scale (x_{i_b}.w_r - y_{i_b})`` from the gathered rows (non-CPU devices)."""
        residuals = torch.einsum("rbd,rd->rb", self.features[indices], w) - self.targets[indices]
        return residuals.mul_(scale)

    def _residual_matrix(self, w: Tensor, indices: Tensor, scale: float) -> Tensor:
        """``(R, N)`` CSR matrix with entry ``scale (x_{i_b}.w_r - y_{i_b})`` at ``(r, i_b)`` for each pair (CPU)."""
        replicas, batch = indices.shape
        rows, values = self._pattern_buffers(replicas, batch, indices.dtype)
        flat = indices.reshape(-1)
        torch.index_select(self._negative_targets, 0, flat, out=values)
        with warnings.catch_warnings():  # torch flags sparse CSR as beta on first use
            warnings.simplefilter("ignore", UserWarning)
            pattern = torch.sparse_csr_tensor(rows, flat, values, size=(replicas, self.size), check_invariants=False)
            # out= the pattern itself: the product lands in ``values``, no copy of the pattern;
            # X^T as a transposed view is the (examples, d) row-major layout the CPU kernel reads
            torch.sparse.sampled_addmm(pattern, w, self.features.T, beta=scale, alpha=scale, out=pattern)
        return pattern

    def _pattern_buffers(self, replicas: int, batch: int, index_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """CSR row pointers and a values buffer for an (R, B) pattern, made once per shape."""
        key = (replicas, batch, index_dtype)
        if key not in self._buffers:
            device, dtype = self.features.device, self.features.dtype
            rows = torch.arange(0, replicas * batch + 1, batch, device=device, dtype=index_dtype)
            self._buffers[key] = rows, torch.empty(replicas * batch, dtype=dtype, device=device)
        return self._buffers[key]
