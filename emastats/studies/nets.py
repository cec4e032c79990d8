"""Small classifiers for the digits with one flat parameter vector and exact per-example gradients.

Each network maps a batch of 64-pixel inputs to 10 logits and is trained on the
mean softmax cross-entropy ``L(w) = (1/N) sum_i l_i(w)``, ``l_i = logsumexp(s_i) - s_i[y_i]``.
Parameters are one flat vector (float64 by default), so that per-example
gradients ``g_i = grad l_i(w)`` are an ``(N, P)`` matrix computed by
``torch.func.vmap(torch.func.grad(...))`` on whatever device the tensors are on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.func import grad, vmap
from torch.nn import functional as F

from ..errors import UsageError
from .digits import CLASSES, SIDE

PIXELS = SIDE * SIDE


class Classifier:
    """Shared maths: loss, per-example gradients, accuracy. Subclasses define ``shapes`` and ``logits``."""

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Number of parameters P."""
        return sum(math.prod(s) for _, s in self.shapes())

    def unflatten(self, w: Tensor) -> dict[str, Tensor]:
        if w.shape != (self.size,):
            raise UsageError(f"{self} parameters must have shape ({self.size},), got {tuple(w.shape)}")
        out, i = {}, 0
        for name, shape in self.shapes():
            n = math.prod(shape)
            out[name] = w[i: i + n].reshape(shape)
            i += n
        return out

    def logits(self, w: Tensor, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def initial(self, generator: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
        """He/Glorot-style start: weights N(0, 1/fan_in), biases zero (on the generator's device)."""
        parts = []
        for name, shape in self.shapes():
            if name.startswith("b"):
                parts.append(torch.zeros(math.prod(shape), dtype=dtype, device=generator.device))
            else:
                fan_in = math.prod(shape[1:])
                parts.append(torch.randn(math.prod(shape), generator=generator, dtype=dtype,
                                         device=generator.device) / math.sqrt(fan_in))
        return torch.cat(parts)

    def losses(self, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Per-example cross-entropies l_i(w), shape (N,)."""
        return F.cross_entropy(self.logits(w, x), y, reduction="none")

    def loss(self, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy over the batch."""
        return F.cross_entropy(self.logits(w, x), y)

    def accuracy(self, w: Tensor, x: Tensor, y: Tensor) -> float:
        return float((self.logits(w, x).argmax(1) == y).double().mean())

    def _example_loss(self, w: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self.logits(w, x.unsqueeze(0)), y.unsqueeze(0))

    def per_example_gradients(self, w: Tensor, x: Tensor, y: Tensor, chunk: int = 1024) -> Tensor:
        """``(N, P)`` exact per-example gradients by vmap over torch.func.grad (in chunks to bound memory)."""
        if x.ndim != 2 or x.shape[1] != PIXELS:
            raise UsageError(f"{self} expects inputs of shape (N, {PIXELS}), got {tuple(x.shape)}")
        self.unflatten(w)  # shape check with a clear message
        g = vmap(grad(self._example_loss), in_dims=(None, 0, 0))
        return torch.cat([g(w, x[i: i + chunk], y[i: i + chunk]) for i in range(0, x.shape[0], chunk)])


@dataclass(frozen=True)
class DigitsMLP(Classifier):
    """64 -> ``hidden`` tanh -> 10 logits."""

    hidden: int = 32

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise UsageError(f"an MLP needs hidden >= 1, got {self.hidden}")

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("w1", (self.hidden, PIXELS)), ("b1", (self.hidden,)), ("w2", (CLASSES, self.hidden)),
                ("b2", (CLASSES,))]

    def logits(self, w: Tensor, x: Tensor) -> Tensor:
        p = self.unflatten(w)
        return torch.tanh(x @ p["w1"].T + p["b1"]) @ p["w2"].T + p["b2"]

    def __str__(self) -> str:
        return f"MLP(64-{self.hidden}-10)"


@dataclass(frozen=True)
class DigitsCNN(Classifier):
    """conv 3x3 (1 -> ``channels``, padding 1), ReLU, 2x2 max-pool, linear to 10 logits."""

    channels: int = 4

    def __post_init__(self) -> None:
        if self.channels < 1:
            raise UsageError(f"a CNN needs channels >= 1, got {self.channels}")

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        c, pooled = self.channels, (SIDE // 2) ** 2
        return [("wc", (c, 1, 3, 3)), ("bc", (c,)), ("w2", (CLASSES, c * pooled)), ("b2", (CLASSES,))]

    def logits(self, w: Tensor, x: Tensor) -> Tensor:
        p = self.unflatten(w)
        h = F.relu(F.conv2d(x.reshape(-1, 1, SIDE, SIDE), p["wc"], p["bc"], padding=1))
        h = F.max_pool2d(h, 2).flatten(1)
        return h @ p["w2"].T + p["b2"]

    def __str__(self) -> str:
        return f"CNN(conv3x3x{self.channels}-pool-10)"


MODELS = {"mlp": DigitsMLP, "cnn": DigitsCNN}


def make_model(name: str, width: int | None = None) -> Classifier:
    """``mlp`` or ``cnn`` with its width (hidden units / channels), default 32 / 4."""
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name]() if width is None else MODELS[name](width)
