"""Fused Triton kernels for the two hot paths (optional: ``pip install emastats[gpu]``).

Imported only by ``fused.py`` when a kernel is asked for; importing this module
needs triton. On a CUDA device the kernels are compiled; on CPU tensors they
run under triton's interpreter (``TRITON_INTERPRET=1`` set before this module is
imported), which is how the test suite checks them without a GPU.

* ``recursion_kernel``: one program per ``BLOCK`` replicas runs a scalar
  recursion (EMA, heavy ball or Adam on the quadratic ``h w^2 / 2``) for T
  steps. The noise is drawn in the kernel from Philox (four values per call,
  steps 4g..4g+3, counters as ``philox.normals``: Gaussian, or centred
  exponential as ``philox.exponentials``), the state stays in
  registers, and the program writes only the power sums of its replicas' final
  observable about ``shift`` (and the final states when asked, for tests).
* ``linear_sgd_kernel``: minibatch SGD on the linear least-squares model for
  T steps. The B indices of each replica and step are drawn in the kernel
  (``philox.minibatch_indices``) as one (replicas, pairs) tile per step, each
  Philox call made once, and staged in a small per-program scratch buffer; the
  batch is then consumed one index pair at a time, so only two gathered rows
  per replica are live, never a (replicas, B, d) block; rows of X come from
  global memory (X, 128 KB for N = 1000, d = 32, is meant to stay in L1/L2:
  Triton gives no explicit shared-memory placement); w stays in registers
  across steps. The kernel is persistent: a fixed number of programs
  (``persistent_programs``: 3 per SM) loop over tiles of ``SGD_BLOCK_R``
  replicas and add each tile's power sums (S1, S11, S21, S22 of ``Moments``) of
  the final w about ``shift`` into their own float64 slot: d + 3 d^2 numbers per
  program, not per replica, in a fixed order (no atomics).

Moments are summed in float64 about a shift close to the mean (``fused.py``
passes the noise-free mean path) and the per-program sums are reduced in
float64 on the host; states are float32 throughout, as on the torch path.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

RULES = {"ema": 0, "heavy_ball": 1, "adam": 2}
NOISES = {"gaussian": 0, "exponential": 1}  # as philox.NOISES
RECURSION_BLOCK = 128
SGD_BLOCK_R = 32  # replicas per tile (>= 16: the tile's moments are tl.dot products over replicas)
SGD_WARPS = 4


@triton.jit
def _uniform(word):
    """float32 (word >> 9) 2^-23 + 2^-24 in (0, 1), as ``philox.uniform``."""
    return (word >> 9).to(tl.float32) * 1.1920928955078125e-07 + 5.9604644775390625e-08


@triton.jit
def _box_muller(u1, u2, FAST: tl.constexpr):
    """Two N(0, 1) from two uniforms, as ``philox.box_muller``; FAST: the GPU's fast log/sin/cos intrinsics.

    The fast intrinsics (about 1e-6 absolute error on (-pi, pi)) replace the libdevice functions, whose
    range reduction and slow-path branches would otherwise be most of the kernel's instructions.
    The interpreter has no intrinsics, so tests run FAST = False.
    """
    theta = 6.283185307179586 * (u2 - 0.5)
    if FAST:
        r = tl.sqrt(-2.0 * libdevice.fast_logf(u1))
        c = libdevice.fast_cosf(theta)
        s = libdevice.fast_sinf(theta)
    else:
        r = tl.sqrt_rn(-2.0 * tl.log(u1))
        c = tl.cos(theta)
        s = tl.sin(theta)
    return r * c, r * s


@triton.jit
def _centred_exp(word, FAST: tl.constexpr):
    """-log u - 1 (Exp(1) - 1) from one word, as ``philox.exponentials``; FAST: the fast log intrinsic."""
    u = _uniform(word)
    if FAST:
        e = -libdevice.fast_logf(u)
    else:
        e = -tl.log(u)
    return e - 1.0


@triton.jit
def _noise4(w0, w1, w2, w3, NOISE: tl.constexpr, FAST: tl.constexpr):
    """The noise of four steps from one Philox call: NOISE 0 Gaussian (two Box-Muller pairs), 1 Exp(1) - 1."""
    if NOISE == 0:
        z0, z1 = _box_muller(_uniform(w0), _uniform(w1), FAST)
        z2, z3 = _box_muller(_uniform(w2), _uniform(w3), FAST)
    else:
        z0 = _centred_exp(w0, FAST)
        z1 = _centred_exp(w1, FAST)
        z2 = _centred_exp(w2, FAST)
        z3 = _centred_exp(w3, FAST)
    return z0, z1, z2, z3


@triton.jit
def _lemire(hi, lo, n):
    """floor((hi 2^32 + lo) n / 2^64) for uint32 words, exactly (as ``philox.lemire_index``)."""
    h = hi.to(tl.uint64)
    lo_n = lo.to(tl.uint64) * n
    return ((h * n + (lo_n >> 32)) >> 32).to(tl.int32)


@triton.jit
def _advance(RULE: tl.constexpr, x, a, b, z, active, corr_ptr, t, p0, p1, p2, p3, p4, p5):
    """One step of rule RULE on state (x, a, b) with noise z; unchanged where ``active`` is false.

    EMA: x <- p0 x + (1 - p0)(p1 + p2 z).
    Heavy ball: g = p2 x + p3 z; a <- p1 a - p0 g; x <- x + a.
    Adam: g = p4 x + p5 z; a <- p1 a + (1-p1) g; b <- p2 b + (1-p2) g^2;
          x <- x - p0 (a / c1) / (sqrt(b / c2) + p3) with c1, c2 = 1 - beta^(t+1) read from corr_ptr.
    """
    # one return after static (constexpr) branches: the form the Triton compiler handles everywhere
    a_new = a
    b_new = b
    if RULE == 0:
        x_new = x * p0 + (1.0 - p0) * (z * p2 + p1)
    elif RULE == 1:
        g = x * p2 + z * p3
        a_new = a * p1 - g * p0
        x_new = x + a_new
    else:
        g = x * p4 + z * p5
        c1 = tl.load(corr_ptr + 2 * t, mask=active, other=1.0)
        c2 = tl.load(corr_ptr + 2 * t + 1, mask=active, other=1.0)
        a_new = a * p1 + (1.0 - p1) * g
        b_new = b * p2 + (1.0 - p2) * (g * g)
        # IEEE-rounded division and square root, as torch computes them
        x_new = x + tl.div_rn(-p0 * tl.div_rn(a_new, c1), tl.sqrt_rn(tl.div_rn(b_new, c2)) + p3)
    return tl.where(active, x_new, x), tl.where(active, a_new, a), tl.where(active, b_new, b)


@triton.jit
def recursion_kernel(partial_ptr, states_ptr, corr_ptr, seed, replicas, replica_offset, steps, init, shift,
                     p0, p1, p2, p3, p4, p5, RULE: tl.constexpr, BLOCK: tl.constexpr,
                     WRITE_STATES: tl.constexpr, FAST: tl.constexpr, NOISE: tl.constexpr):
    pid = tl.program_id(0)
    local = pid * BLOCK + tl.arange(0, BLOCK)
    valid = local < replicas
    counter = (local + replica_offset).to(tl.uint32)
    zero = counter * 0
    x = tl.zeros((BLOCK,), tl.float32) + init
    a = tl.zeros((BLOCK,), tl.float32)
    b = tl.zeros((BLOCK,), tl.float32)
    groups = (steps + 3) // 4
    for g in range(0, groups):
        w0, w1, w2, w3 = tl.philox(seed, counter, zero + g, zero, zero)
        z0, z1, z2, z3 = _noise4(w0, w1, w2, w3, NOISE, FAST)
        t = 4 * g
        x, a, b = _advance(RULE, x, a, b, z0, t < steps, corr_ptr, t, p0, p1, p2, p3, p4, p5)
        x, a, b = _advance(RULE, x, a, b, z1, t + 1 < steps, corr_ptr, t + 1, p0, p1, p2, p3, p4, p5)
        x, a, b = _advance(RULE, x, a, b, z2, t + 2 < steps, corr_ptr, t + 2, p0, p1, p2, p3, p4, p5)
        x, a, b = _advance(RULE, x, a, b, z3, t + 3 < steps, corr_ptr, t + 3, p0, p1, p2, p3, p4, p5)
    if WRITE_STATES:
        tl.store(states_ptr + local, x, mask=valid)
    y = tl.where(valid, x - shift, 0.0).to(tl.float64)
    y2 = y * y
    tl.store(partial_ptr + pid * 4 + 0, tl.sum(y, axis=0))
    tl.store(partial_ptr + pid * 4 + 1, tl.sum(y2, axis=0))
    tl.store(partial_ptr + pid * 4 + 2, tl.sum(y2 * y, axis=0))
    tl.store(partial_ptr + pid * 4 + 3, tl.sum(y2 * y2, axis=0))


@triton.jit
def linear_sgd_kernel(partial_ptr, states_ptr, scratch_ptr, x_ptr, y_ptr, w0_ptr, shift_ptr, seed, replicas,
                      replica_offset, steps, n, dim, batch, half, scale, tiles, BLOCK_R: tl.constexpr,
                      BLOCK_P: tl.constexpr, BLOCK_D: tl.constexpr, WRITE_STATES: tl.constexpr):
    pid = tl.program_id(0)
    programs = tl.num_programs(0)
    pairs = tl.arange(0, BLOCK_P)
    # this program's index scratch, (BLOCK_R, 2 BLOCK_P) int32: first indices of each pair, then second ones
    scratch = scratch_ptr + pid * (BLOCK_R * 2 * BLOCK_P) + tl.arange(0, BLOCK_R)[:, None] * (2 * BLOCK_P)
    rows = scratch_ptr + pid * (BLOCK_R * 2 * BLOCK_P) + tl.arange(0, BLOCK_R) * (2 * BLOCK_P)
    cols = tl.arange(0, BLOCK_D)
    col_ok = cols < dim
    start = tl.load(w0_ptr + cols, mask=col_ok, other=0.0)
    centre = tl.load(shift_ptr + cols, mask=col_ok, other=0.0)
    # this program's float64 moment sums live in its own zeroed slot of partial_ptr (d + 3 d^2 numbers),
    # added to after each tile: no atomics (deterministic) and no registers held across the step loop
    base = partial_ptr + pid * (dim + 3 * dim * dim)
    square = cols[:, None] * dim + cols[None, :]
    square_ok = col_ok[:, None] & col_ok[None, :]
    for tile in range(pid, tiles, programs):
        local = tile * BLOCK_R + tl.arange(0, BLOCK_R)
        valid = local < replicas
        counter = (local + replica_offset).to(tl.uint32)
        c0 = counter[:, None] + (pairs * 0).to(tl.uint32)[None, :]
        c2 = (counter * 0)[:, None] + pairs.to(tl.uint32)[None, :]
        row_ok = valid[:, None] & col_ok[None, :]
        w = tl.zeros((BLOCK_R, BLOCK_D), tl.float32) + start[None, :]
        for t in range(0, steps):
            # all of this step's indices at once, as a (replicas, pairs) tile: each Philox call is made by
            # one thread (in the (replicas, d) layout below it would be repeated across the lanes of a row)
            h0, l0, h1, l1 = tl.philox(seed, c0, c2 * 0 + t, c2, c2 * 0 + 1)
            tl.store(scratch + pairs[None, :], _lemire(h0, l0, n))
            tl.store(scratch + BLOCK_P + pairs[None, :], _lemire(h1, l1, n))
            tl.debug_barrier()
            # then the batch one index pair at a time: two gathered rows per replica live in registers,
            # never a (replicas, batch, d) block; the gradient is taken at the step's starting w
            grad = tl.zeros((BLOCK_R, BLOCK_D), tl.float32)
            for j in range(0, half):
                i0 = tl.load(rows + j)
                i1 = tl.load(rows + BLOCK_P + j)
                second = valid & (local * 0 + j < batch - half)  # the second index of pair j exists
                x0 = tl.load(x_ptr + i0[:, None] * dim + cols[None, :], mask=row_ok, other=0.0)
                x1 = tl.load(x_ptr + i1[:, None] * dim + cols[None, :], mask=second[:, None] & col_ok[None, :],
                             other=0.0)
                r0 = tl.sum(x0 * w, axis=1) - tl.load(y_ptr + i0, mask=valid, other=0.0)
                r1 = tl.sum(x1 * w, axis=1) - tl.load(y_ptr + i1, mask=second, other=0.0)
                grad += r0[:, None] * x0 + r1[:, None] * x1
            w = w - grad * scale
            tl.debug_barrier()  # every thread has read this step's indices before the next step writes
        if WRITE_STATES:
            tl.store(states_ptr + local[:, None] * dim + cols[None, :], w, mask=row_ok)
        # moments of this tile about the shift: float32 sums of BLOCK_R terms by tl.dot (IEEE, no TF32),
        # then added in float64 across tiles
        y = tl.where(row_ok, w - centre[None, :], 0.0)
        y2 = y * y
        s1 = tl.sum(y, axis=0).to(tl.float64)
        s11 = tl.dot(tl.trans(y), y, input_precision="ieee").to(tl.float64)
        s21 = tl.dot(tl.trans(y2), y, input_precision="ieee").to(tl.float64)
        s22 = tl.dot(tl.trans(y2), y2, input_precision="ieee").to(tl.float64)
        tl.store(base + cols, tl.load(base + cols, mask=col_ok, other=0.0) + s1, mask=col_ok)
        at = base + dim + square
        tl.store(at, tl.load(at, mask=square_ok, other=0.0) + s11, mask=square_ok)
        at = base + dim + dim * dim + square
        tl.store(at, tl.load(at, mask=square_ok, other=0.0) + s21, mask=square_ok)
        at = base + dim + 2 * dim * dim + square
        tl.store(at, tl.load(at, mask=square_ok, other=0.0) + s22, mask=square_ok)
        tl.debug_barrier()  # this tile's read-modify-writes are done before the next tile's begin


@triton.jit
def indices_kernel(out_ptr, seed, replicas, step, n, batch, half, BLOCK_R: tl.constexpr, BLOCK_P: tl.constexpr):
    """The (R, B) minibatch indices ``linear_sgd_kernel`` draws at ``step`` (to check them against the reference)."""
    local = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    pairs = tl.arange(0, BLOCK_P)
    c0 = local.to(tl.uint32)[:, None] + (pairs * 0).to(tl.uint32)[None, :]
    c2 = (local * 0).to(tl.uint32)[:, None] + pairs.to(tl.uint32)[None, :]
    h0, l0, h1, l1 = tl.philox(seed, c0, c2 * 0 + step, c2, c2 * 0 + 1)
    row = out_ptr + local[:, None] * batch
    ok = (local < replicas)[:, None]
    tl.store(row + pairs[None, :], _lemire(h0, l0, n), mask=ok & (pairs < half)[None, :])
    tl.store(row + half + pairs[None, :], _lemire(h1, l1, n), mask=ok & (pairs < batch - half)[None, :])


def launch_indices(*, seed: int, replicas: int, step: int, batch: int, n: int, device: torch.device) -> torch.Tensor:
    """Run ``indices_kernel``: (replicas, batch) int32 indices, as ``philox.minibatch_indices``."""
    half = -(-batch // 2)
    out = torch.empty((replicas, batch), dtype=torch.int32, device=device)
    indices_kernel[(triton.cdiv(replicas, SGD_BLOCK_R),)](out, int(seed), int(replicas), int(step), int(n),
                                                          int(batch), int(half), BLOCK_R=SGD_BLOCK_R,
                                                          BLOCK_P=triton.next_power_of_2(half))
    return out


SGD_PROGRAMS_PER_SM = 3  # compiled for sm_90 (triton 3.9): 152 registers x 128 threads, so 3 programs fit an SM


def persistent_programs(device: torch.device) -> int:
    """Programs of the persistent SGD kernel: SGD_PROGRAMS_PER_SM per multiprocessor on CUDA, 4 elsewhere.

    It fixes the order in which replicas' moments are summed, so it is part of "same seed and device,
    same numbers": it depends only on the device. (4 in the interpreter, so tests loop over tiles.)
    """
    if device.type == "cuda":
        return SGD_PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    return 4


def launch_recursion(rule: str, values: tuple[float, ...], init: float, corrections: torch.Tensor, *, seed: int,
                     replicas: int, steps: int, shift: float, replica_offset: int, device: torch.device,
                     write_states: bool, noise: str = "gaussian") -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``recursion_kernel``; returns (per-program float64 power sums (P, 4), final states (R,) or None)."""
    programs = triton.cdiv(replicas, RECURSION_BLOCK)
    partial = torch.empty((programs, 4), dtype=torch.float64, device=device)
    states = torch.empty(replicas if write_states else 1, dtype=torch.float32, device=device)
    p = [float(v) for v in values] + [0.0] * (6 - len(values))
    recursion_kernel[(programs,)](partial, states, corrections, int(seed), int(replicas), int(replica_offset),
                                  int(steps), float(init), float(shift), *p, RULE=RULES[rule],
                                  BLOCK=RECURSION_BLOCK, WRITE_STATES=write_states, FAST=device.type == "cuda",
                                  NOISE=NOISES[noise], enable_fp_fusion=True)
    return partial, (states if write_states else None)


def launch_linear_sgd(features: torch.Tensor, targets: torch.Tensor, w0: torch.Tensor, shift: torch.Tensor, *,
                      learning_rate: float, batch: int, seed: int, replicas: int, steps: int, replica_offset: int,
                      write_states: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``linear_sgd_kernel``; returns (per-program float64 sums (P, d + 3 d^2), final w (R, d) or None)."""
    n, dim = features.shape
    half = -(-batch // 2)
    tiles = triton.cdiv(replicas, SGD_BLOCK_R)
    device = features.device
    programs = min(tiles, persistent_programs(device))
    partial = torch.zeros((programs, dim + 3 * dim * dim), dtype=torch.float64, device=device)
    block_p = triton.next_power_of_2(half)
    scratch = torch.empty((programs, SGD_BLOCK_R, 2 * block_p), dtype=torch.int32, device=device)
    states = torch.empty((replicas, dim) if write_states else (1,), dtype=torch.float32, device=device)
    linear_sgd_kernel[(programs,)](partial, states, scratch, features, targets, w0, shift, int(seed), int(replicas),
                                   int(replica_offset), int(steps), int(n), int(dim), int(batch), int(half),
                                   float(learning_rate) / batch, int(tiles), BLOCK_R=SGD_BLOCK_R, BLOCK_P=block_p,
                                   BLOCK_D=max(16, triton.next_power_of_2(dim)), WRITE_STATES=write_states,
                                   num_warps=SGD_WARPS, enable_fp_fusion=True)
    return partial, (states if write_states else None)


def compile_for_cuda(arch: int = 90) -> dict[str, bytes]:
    """Compile every kernel, as the JIT would for d = 32, B = 32, to a cubin for sm_``arch``: no GPU needed.

    Returns {kernel name: cubin}. It checks that the compiled (non-interpreted) path, including the fast
    intrinsics used only on CUDA, is valid Triton; it needs triton imported without TRITON_INTERPRET.
    """
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, compile as triton_compile

    target = GPUTarget("cuda", arch, 32)

    def build(fn, types: dict[str, str], constants: dict[str, object], **options) -> bytes:
        names = list(types)
        aligned = {(names.index(k),): [["tt.divisibility", 16]] for k, v in types.items()
                   if v.startswith("*") or k in ("replicas", "dim", "batch", "half")}
        signature = {**types, **{k: "constexpr" for k in constants}}
        source = ASTSource(fn=fn, signature=signature, constexprs=constants, attrs=aligned)
        return triton_compile(source, target=target, options={"enable_fp_fusion": True, **options}).asm["cubin"]

    f32, i32 = "fp32", "i32"
    recursion = {"partial_ptr": "*fp64", "states_ptr": "*fp32", "corr_ptr": "*fp32", "seed": "i64",
                 "replicas": i32, "replica_offset": i32, "steps": i32, "init": f32, "shift": f32,
                 **{f"p{k}": f32 for k in range(6)}}
    sgd = {"partial_ptr": "*fp64", "states_ptr": "*fp32", "scratch_ptr": "*i32", "x_ptr": "*fp32", "y_ptr": "*fp32",
           "w0_ptr": "*fp32", "shift_ptr": "*fp32", "seed": "i64", "replicas": i32, "replica_offset": i32,
           "steps": i32, "n": i32, "dim": i32, "batch": i32, "half": i32, "scale": f32, "tiles": i32}
    out = {f"recursion_{rule}": build(recursion_kernel, recursion, {"RULE": code, "BLOCK": RECURSION_BLOCK,
                                                                     "WRITE_STATES": False, "FAST": True, "NOISE": 0})
           for rule, code in RULES.items()}
    out["recursion_ema_exponential"] = build(recursion_kernel, recursion, {
        "RULE": RULES["ema"], "BLOCK": RECURSION_BLOCK, "WRITE_STATES": False, "FAST": True, "NOISE": 1})
    out["linear_sgd"] = build(linear_sgd_kernel, sgd, {"BLOCK_R": SGD_BLOCK_R, "BLOCK_P": 16, "BLOCK_D": 32,
                                                       "WRITE_STATES": False}, num_warps=SGD_WARPS)
    return out
