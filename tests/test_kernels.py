"""``kernels.ExactIndexSampler``: the CPU SGD loop's buffered sampler draws exactly ``minibatch_indices``' numbers.

Equality is exact (same generator calls, same indices), including the float64 path (n <= 2^22) with many Lemire
rejections (n = 3 * 2^20 + 1 rejects about 1e-3 of the words, ~130 per call here), the int64 path (n > 2^22,
about half rejected) and n = 1.
"""
from __future__ import annotations

import pytest
import torch

from emastats.errors import UsageError
from emastats.montecarlo.kernels import FLOAT_EXACT_N, ExactIndexSampler
from emastats.montecarlo.sampling import minibatch_indices


@pytest.mark.parametrize("n, batch, replicas, dtype", [
    (1000, 32, 64, torch.int32), (1000, 7, 33, torch.int64), (3 * (1 << 20) + 1, 32, 4096, torch.int32),
    (FLOAT_EXACT_N, 5, 7, torch.int64), ((1 << 30) + 1, 3, 50, torch.int64), ((1 << 30) + 1, 4, 40, torch.int32),
    (1, 3, 4, torch.int32),
])
def test_buffered_sampler_draws_the_exact_sampler_indices(n, batch, replicas, dtype):
    a, b = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    sampler = ExactIndexSampler(n, batch, replicas, a, dtype)
    for _ in range(3):
        got = sampler()
        assert got.dtype == dtype and got.shape == (replicas, batch)
        assert torch.equal(got.long(), minibatch_indices(n, batch, replicas, b, replacement=True))
    assert torch.equal(torch.randint(0, 1 << 30, (8,), generator=a), torch.randint(0, 1 << 30, (8,), generator=b))


def test_buffered_sampler_rejects_bad_arguments():
    gen = torch.Generator()
    with pytest.raises(UsageError):
        ExactIndexSampler(0, 1, 4, gen)
    with pytest.raises(UsageError):
        ExactIndexSampler(10, 2, 4, gen, torch.float32)
