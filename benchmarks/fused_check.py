"""Check the fused Triton kernels against the torch reference path on one device (run once on a GPU machine).

Usage: ``python benchmarks/fused_check.py [--device cuda] [--replicas 65536] [--json]``.

For each recursion (EMA, heavy ball, Adam) and for linear minibatch SGD, the kernel and the
reference run with the same seed and replica range; the report gives the largest state difference
relative to the largest state, and the relative differences of the moments' means and variances,
with a stated tolerance: states within 1e-5 relative (the CPU tests, which run the interpreter with
exactly rounded log/sin/cos, use 2e-6 for the recursions; on CUDA the recursion kernel uses the fast
log/sin/cos intrinsics, about 1e-6 absolute error on a normal). Then a calibrated check against theory: the EMA's
final variance against std^2 (1-beta)/(1+beta)(1-beta^(2T)), as a z-score with the fourth-moment
standard error. Exit status 1 when a tolerance is exceeded or |z| > 5.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from emastats.montecarlo import fused
from emastats.montecarlo.datasets import synthetic_linear_regression
from emastats.montecarlo.device import resolve_device

SEED = (1 << 62) + 2026


def _compare(kernel: fused.FusedRun, ref: fused.FusedRun) -> dict[str, float]:
    scale = float(ref.states.abs().max())
    return {
        "state_max_rel_diff": float((kernel.states.double() - ref.states.double()).abs().max()) / scale,
        "mean_max_rel_diff": float(np.max(np.abs(kernel.moments.mean() - ref.moments.mean())
                                          / np.maximum(np.abs(ref.moments.mean()), 1e-30))),
        "variance_max_rel_diff": float(np.max(np.abs(kernel.moments.variance() - ref.moments.variance())
                                              / ref.moments.variance())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--replicas", type=int, default=1 << 16)
    parser.add_argument("--theory-replicas", type=int, default=1 << 22)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    rows, ok = [], True
    recursions = {"ema": fused.ema(0.9, 2.0, 1.5, 0.5), "heavy_ball": fused.heavy_ball(0.1, 0.9, init=1.0),
                  "adam": fused.adam(0.01, curvature=2.0, noise=0.5)}
    for name, rec in recursions.items():
        kw = dict(steps=16, replicas=args.replicas, seed=SEED, device=device, keep_states=True)
        row = {"kernel": name, "tolerance": 1e-5,
               **_compare(fused.recursion_moments(rec, backend="triton", **kw),
                          fused.recursion_moments(rec, backend="torch", **kw))}
        ok &= row["state_max_rel_diff"] <= row["tolerance"]
        rows.append(row)
    data = synthetic_linear_regression(1000, 32, seed=0)
    kw = dict(learning_rate=0.01, batch=32, steps=16, replicas=min(args.replicas, 1 << 14), seed=SEED,
              device=device, keep_states=True)
    row = {"kernel": "linear_sgd", "tolerance": 1e-5,
           **_compare(fused.linear_sgd_moments(data, backend="triton", **kw),
                      fused.linear_sgd_moments(data, backend="torch", **kw))}
    ok &= row["state_max_rel_diff"] <= row["tolerance"]
    rows.append(row)
    beta, std, steps = 0.9, 1.5, 16
    m = fused.recursion_moments(fused.ema(beta, 0.0, std), steps=steps, replicas=args.theory_replicas, seed=SEED + 1,
                                device=device, backend="triton").moments
    theory = std**2 * (1 - beta) / (1 + beta) * (1 - beta ** (2 * steps))
    z = float((m.variance()[0] - theory) / m.stderr_variance()[0])
    ok &= abs(z) <= 5
    result = {"device": str(device), "rows": rows, "ema_variance_z": z, "ok": bool(ok)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in rows:
            print(f"{r['kernel']:<11} states {r['state_max_rel_diff']:.2e} (tolerance {r['tolerance']:g}), "
                  f"means {r['mean_max_rel_diff']:.2e}, variances {r['variance_max_rel_diff']:.2e}")
        print(f"EMA variance vs theory, {args.theory_replicas} replicas: z = {z:.2f}; {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
