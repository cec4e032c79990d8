"""scikit-learn's handwritten digits (1,797 8x8 images, 10 classes), shipped with the package: no download.

Pixels (integers 0..16) are scaled to [0, 1]. The data are split once, by a
fixed permutation (seed ``SPLIT_SEED``, stratified by class), into a training
half that every study optimises on and a held-back half that no study tunes
on; the split does not depend on a study's seed, so every run sees the same
halves.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ..errors import UsageError

SPLIT_SEED = 14  # fixed before any study was developed; changing it changes every number
CLASSES = 10
SIDE = 8


@dataclass(frozen=True)
class Digits:
    """One half of the digits: ``features`` (N, 64) in [0, 1] and integer ``labels`` (N,) in 0..9."""

    features: Tensor
    labels: Tensor
    name: str

    @property
    def size(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float64) -> "Digits":
        return Digits(self.features.to(device, dtype), self.labels.to(device), self.name)


@lru_cache(maxsize=1)
def _arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a declared dependency
        raise UsageError("the digits studies need scikit-learn: pip install scikit-learn") from exc
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64) / 16.0, np.asarray(bunch.target, dtype=np.int64)


def split_indices() -> tuple[np.ndarray, np.ndarray]:
    """(train, held-back) row indices: within each class a fixed random half goes to training."""
    _, y = _arrays()
    rng = np.random.default_rng(SPLIT_SEED)
    train, held = [], []
    for c in range(CLASSES):
        rows = rng.permutation(np.flatnonzero(y == c))
        half = (rows.size + 1) // 2
        train.append(rows[:half])
        held.append(rows[half:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(held))


def load(part: str = "train", device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> Digits:
    """The ``train`` or ``held-back`` half of the digits on ``device``."""
    if part not in ("train", "held-back"):
        raise UsageError(f"digits part must be 'train' or 'held-back', got {part!r}")
    x, y = _arrays()
    rows = split_indices()[0 if part == "train" else 1]
    return Digits(torch.from_numpy(x[rows]).to(device, dtype), torch.from_numpy(y[rows]).to(device),
                  f"digits ({part}, N={rows.size})")
