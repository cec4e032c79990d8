"""A small MLP with exact per-example gradients (torch.func), for the studies' real-data runs.

The MLP has one tanh hidden layer and a single logit output, trained with the
binary cross-entropy ``softplus(s) - y s`` like the logistic regression in
``emastats.montecarlo.datasets``; its parameters are one flat float64 vector so
that per-example gradients are ``(N, P)`` matrices just like the linear models'.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import grad, vmap

from ..errors import UsageError
from ..montecarlo.datasets import GradientMoments


@dataclass(frozen=True)
class MLP:
    """``s(x) = w2 . tanh(W1 x + b1) + b2`` with ``inputs`` inputs and ``hidden`` tanh units."""

    inputs: int
    hidden: int

    def __post_init__(self) -> None:
        if self.inputs < 1 or self.hidden < 1:
            raise UsageError(f"an MLP needs inputs >= 1 and hidden >= 1, got {self.inputs}, {self.hidden}")

    @property
    def size(self) -> int:
        """Number of parameters P = hidden * inputs + hidden + hidden + 1."""
        return self.hidden * self.inputs + 2 * self.hidden + 1

    def logit(self, w: Tensor, x: Tensor) -> Tensor:
        """The output logit for one input ``x`` (length ``inputs``)."""
        h, d = self.hidden, self.inputs
        w1 = w[: h * d].reshape(h, d)
        b1 = w[h * d: h * d + h]
        w2 = w[h * d + h: h * d + 2 * h]
        b2 = w[-1]
        return torch.dot(w2, torch.tanh(w1 @ x + b1)) + b2

    def example_loss(self, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Binary cross-entropy of one example: softplus(s) - y s."""
        s = self.logit(w, x)
        return torch.nn.functional.softplus(s) - y * s

    def initial(self, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
        """Glorot-style start: weights N(0, 1/fan_in), biases zero (on the generator's device)."""
        h, d = self.hidden, self.inputs
        device = generator.device
        w1 = torch.randn(h * d, generator=generator, dtype=dtype, device=device) / d**0.5
        w2 = torch.randn(h, generator=generator, dtype=dtype, device=device) / h**0.5
        zeros = torch.zeros(h, dtype=dtype, device=device)
        return torch.cat([w1, zeros, w2, torch.zeros(1, dtype=dtype, device=device)])

    def per_example_gradients(self, features: Tensor, targets: Tensor, w: Tensor) -> Tensor:
        """``(N, P)`` exact per-example gradients by vmap over torch.func.grad."""
        if w.shape != (self.size,):
            raise UsageError(f"MLP parameters must have shape ({self.size},), got {tuple(w.shape)}")
        if features.shape[1] != self.inputs:
            raise UsageError(f"MLP expects {self.inputs} inputs, got {features.shape[1]}")
        return vmap(grad(self.example_loss), in_dims=(None, 0, 0))(w, features, targets)


def moments_of(per_example: Tensor, w: Tensor) -> GradientMoments:
    """g_fb, Sigma = (1/N) sum (g_i - g_fb)(g_i - g_fb)^T and tr Sigma of fixed per-example gradients."""
    g_fb = per_example.mean(0)
    centred = per_example - g_fb
    sigma = centred.T @ centred / per_example.shape[0]
    return GradientMoments(w, per_example, g_fb, sigma, float(torch.trace(sigma)))
