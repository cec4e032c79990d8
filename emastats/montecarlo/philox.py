"""Counter-based random streams shared by the fused GPU kernels and their torch reference.

The fused kernels (``triton_kernels.py``) draw their randomness inside the
kernel from Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy
as 1, 2, 3", SC 2011), as triton's ``tl.philox`` computes it: a counter of four
32-bit words and a 64-bit key (the seed) give four independent 32-bit words.
This module computes the same words with torch integer arithmetic on any
device, so a kernel's numbers can be reproduced, replica by replica and step by
step, by the package's torch code path (the reference).

Counters used (``c0, c1, c2, c3``):

* noise of a scalar recursion: ``(replica, step // 4, 0, 0)``; the four words
  give the noise of steps ``4g .. 4g+3``: two Box-Muller pairs (Gaussian), or
  one centred exponential per word (``exponentials``).
* Minibatch indices of SGD: ``(replica, step, j, 1)`` for ``j < ceil(B/2)``;
  words 0-1 give index ``j``, words 2-3 index ``ceil(B/2) + j`` (when < B).

Words to numbers:

* uniform ``u = (word >> 9) 2^-23 + 2^-24`` in (0, 1), exact in float32 (23
  random bits, never 0 or 1, so ``log u`` is finite);
* normals by Box-Muller with the angle centred on 0,
  ``sqrt(-2 log u1) (cos theta, sin theta)``, ``theta = 2 pi (u2 - 1/2)`` in
  (-pi, pi) (``u2 - 1/2`` is exact; the centred range is where a GPU's fast
  sine and cosine are accurate): exactly N(0, 1) up to the 23-bit resolution
  of ``u1`` (tails beyond 5.8 sigma, a probability of 8e-9, are cut off);
* a centred exponential ``-log u - 1`` (mean 0, variance 1, skewness 2) from one
  word: ``u`` has 23 bits, so the tail beyond 16.6 (probability 6e-8) is cut off
  and the mean is off by less than 1e-6;
* an index uniform on {0..n-1} from two words ``hi, lo`` by Lemire's
  multiply-shift on their 64 bits, ``floor((hi 2^32 + lo) n / 2^64)``, computed
  exactly as ``(hi n + ((lo n) >> 32)) >> 32``; each index has probability
  ``floor(2^64/n)/2^64`` or ``ceil(2^64/n)/2^64``, a relative bias below
  ``n / 2^64`` (5e-17 for n = 1000), far below anything a Monte Carlo run resolves.

Integer words are exact on every backend; the float32 transcendental functions
(log, sqrt, cos, sin) may differ by an ulp or so between torch and numpy
(triton's interpreter), and by about 1e-6 absolute from the GPU's fast
intrinsics the compiled kernel uses, so normals agree to about 1e-6.
"""
from __future__ import annotations

import math

import torch

from .sampling import check_replicas

MASK32 = 0xFFFFFFFF
_ROUND_A, _ROUND_B = 0xD2511F53, 0xCD9E8D57  # Philox-4x32 multipliers (as tl.philox)
_KEY_A, _KEY_B = 0x9E3779B9, 0xBB67AE85  # Weyl key increments
ROUNDS = 10
NOISE_STREAM, INDEX_STREAM = 0, 1  # the c3 word (INDEX) and the c2/c3 words (NOISE) that separate the streams


def _mulhilo(a: torch.Tensor, constant: int) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 32-bit words of ``a * constant`` for 32-bit ``a`` held in int64 (no int64 overflow)."""
    a_hi, a_lo = a >> 16, a & 0xFFFF
    high_part, low_part = a_hi * constant, a_lo * constant  # each < 2^48
    hi = (high_part + (low_part >> 16)) >> 16
    lo = (((high_part & 0xFFFF) << 16) + low_part) & MASK32
    return hi, lo


def philox4x32(seed: int, c0: torch.Tensor, c1: torch.Tensor | int, c2: torch.Tensor | int,
               c3: torch.Tensor | int) -> tuple[torch.Tensor, ...]:
    """The four 32-bit words (as int64 tensors) of Philox-4x32-10 at counter (c0, c1, c2, c3), key ``seed``.

    ``seed`` is a 64-bit integer split as key (low word, high word); counters
    broadcast against each other like tensors. Matches ``tl.philox(seed, c0, c1, c2, c3)``.
    """
    device = c0.device
    words = torch.broadcast_tensors(*(torch.as_tensor(c, dtype=torch.int64, device=device) & MASK32
                                      for c in (c0, c1, c2, c3)))
    x0, x1, x2, x3 = (w.clone() for w in words)
    seed = int(seed) & ((1 << 64) - 1)
    k0, k1 = seed & MASK32, seed >> 32
    for _ in range(ROUNDS):
        hi_b, lo_b = _mulhilo(x2, _ROUND_B)
        hi_a, lo_a = _mulhilo(x0, _ROUND_A)
        x0, x1, x2, x3 = hi_b ^ x1 ^ k0, lo_b, hi_a ^ x3 ^ k1, lo_a
        k0, k1 = (k0 + _KEY_A) & MASK32, (k1 + _KEY_B) & MASK32
    return x0, x1, x2, x3


def uniform(word: torch.Tensor) -> torch.Tensor:
    """float32 ``(word >> 9) 2^-23 + 2^-24`` in (0, 1) from 32-bit words (exact)."""
    return (word >> 9).to(torch.float32) * (2.0 ** -23) + 2.0 ** -24


def box_muller(u1: torch.Tensor, u2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent N(0, 1) float32 arrays from two uniform (0, 1) arrays (angle in (-pi, pi))."""
    r = torch.sqrt(-2.0 * torch.log(u1))
    theta = (2.0 * math.pi) * (u2 - 0.5)
    return r * torch.cos(theta), r * torch.sin(theta)


def normals(seed: int, replicas: int, steps: int, *, replica_offset: int = 0,
            device: torch.device | str = "cpu") -> torch.Tensor:
    """The (steps, replicas) float32 N(0, 1) noise a fused recursion kernel draws (see the module docstring)."""
    check_replicas(replicas)
    groups = -(-int(steps) // 4)
    r = torch.arange(replica_offset, replica_offset + replicas, dtype=torch.int64, device=device)
    g = torch.arange(groups, dtype=torch.int64, device=device)
    w = philox4x32(seed, r[None, :], g[:, None], NOISE_STREAM, NOISE_STREAM)
    n0, n1 = box_muller(uniform(w[0]), uniform(w[1]))
    n2, n3 = box_muller(uniform(w[2]), uniform(w[3]))
    return torch.stack([n0, n1, n2, n3], dim=1).reshape(groups * 4, replicas)[:steps]


def exponentials(seed: int, replicas: int, steps: int, *, replica_offset: int = 0,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """The (steps, replicas) float32 centred exponentials ``-log u - 1`` a fused recursion kernel draws."""
    check_replicas(replicas)
    groups = -(-int(steps) // 4)
    r = torch.arange(replica_offset, replica_offset + replicas, dtype=torch.int64, device=device)
    g = torch.arange(groups, dtype=torch.int64, device=device)
    w = philox4x32(seed, r[None, :], g[:, None], NOISE_STREAM, NOISE_STREAM)
    e = torch.stack([-torch.log(uniform(word)) - 1.0 for word in w], dim=1)
    return e.reshape(groups * 4, replicas)[:steps]


NOISES = {"gaussian": normals, "exponential": exponentials}  # name -> stream; the kernels' NOISE codes 0, 1


def noise(kind: str, seed: int, replicas: int, steps: int, *, replica_offset: int = 0,
          device: torch.device | str = "cpu") -> torch.Tensor:
    """The (steps, replicas) float32 noise of kind ``gaussian`` (N(0, 1)) or ``exponential`` (Exp(1) - 1)."""
    return NOISES[kind](seed, replicas, steps, replica_offset=replica_offset, device=device)


def lemire_index(hi: torch.Tensor, lo: torch.Tensor, n: int) -> torch.Tensor:
    """``floor((hi 2^32 + lo) n / 2^64)`` for 32-bit words, exactly, as int64 (requires n < 2^31)."""
    return (hi * n + ((lo * n) >> 32)) >> 32


def minibatch_indices(seed: int, replicas: int, step: int, batch: int, n: int, *, replica_offset: int = 0,
                      device: torch.device | str = "cpu") -> torch.Tensor:
    """The (replicas, batch) int64 indices a fused SGD kernel draws at ``step`` (see the module docstring)."""
    half = -(-int(batch) // 2)
    r = torch.arange(replica_offset, replica_offset + replicas, dtype=torch.int64, device=device)
    j = torch.arange(half, dtype=torch.int64, device=device)
    w = philox4x32(seed, r[:, None], int(step), j[None, :], INDEX_STREAM)
    first, second = lemire_index(w[0], w[1], n), lemire_index(w[2], w[3], n)
    return torch.cat([first, second[:, :batch - half]], dim=1)
