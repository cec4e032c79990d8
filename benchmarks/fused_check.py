"""Check the fused Triton kernels against the torch reference path on one device (run once on a GPU machine).

Usage: ``python benchmarks/fused_check.py [--device cuda] [--replicas 65536] [--claims ID,...|none]
[--skip-kernels] [--json]``.

For each recursion (EMA, heavy ball, Adam) and for linear minibatch SGD, the kernel and the
reference run with the same seed and replica range; the report gives the largest state difference
relative to the largest state, and the relative differences of the moments' means and variances,
with a stated tolerance: states within 1e-5 relative (the CPU tests, which run the interpreter with
exactly rounded log/sin/cos, use 2e-6 for the recursions; on CUDA the recursion kernel uses the fast
log/sin/cos intrinsics, about 1e-6 absolute error on a normal). Then a calibrated check against theory: the EMA's
final variance against std^2 (1-beta)/(1+beta)(1-beta^(2T)), as a z-score with the fourth-moment
standard error.

Then, unless ``--claims none``: the experiments wired to the fused kernels (``kernels.py``) run once on
each engine (``EMASTATS_ENGINE=torch`` and ``fused``, --quick budgets, same seed) and each statistical
check's two estimates must agree within 5 combined standard errors (independent streams by design),
with the same verdicts. And the per-example gradients of the logistic and MLP models (vmap of
torch.func.grad, batched on the device) must equal a loop of one autograd call per example to 1e-10
relative (float64). ``--skip-kernels`` leaves out the kernel rows (a CPU dry run without the
interpreter). Exit status 1 when a tolerance is exceeded or |z| > 5.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
import torch

from emastats.montecarlo import fused, kernels, run_experiment
from emastats.montecarlo.datasets import minimiser, per_example_gradients, spector_logistic
from emastats.montecarlo.datasets import synthetic_linear_regression
from emastats.montecarlo.device import resolve_device
from emastats.montecarlo.registry import registered

# every experiment that calls kernels.recursion_sampler / linear_sgd_sampler
WIRED = ("ema.bias.mean", "ema.bias.debias", "ema.running_average.variance.stationary",
         "ema.running_average.variance.finite_t", "ema.running_average.versus_plain",
         "noise.temperature.sgd_discrete", "noise.temperature.momentum", "minibatch.unbiased.with_replacement",
         "minibatch.covariance.with_replacement")

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


def engines_agree(claim_id: str, device: torch.device, seed: int = 5) -> dict:
    """One wired experiment on each engine (--quick); the largest |z| between their estimates, verdicts equal."""
    runs = {}
    before = os.environ.get(kernels.ENGINE_ENV)
    try:
        for name in ("torch", "fused"):
            os.environ[kernels.ENGINE_ENV] = name
            runs[name] = run_experiment(claim_id, registered()[claim_id], seed=seed, device=device, quick=True)
    finally:
        if before is None:
            os.environ.pop(kernels.ENGINE_ENV, None)
        else:
            os.environ[kernels.ENGINE_ENV] = before
    a, b = runs["torch"], runs["fused"]
    worst, same = 0.0, a.verdict == b.verdict and [c.name for c in a.checks] == [c.name for c in b.checks]
    for x, y in zip(a.checks, b.checks):
        if x.kind == "statistical":
            worst = max(worst, abs(y.estimate - x.estimate) / math.hypot(x.stderr, y.stderr))
            same &= x.verdict == y.verdict
    return {"claim": claim_id, "engine": b.params.get("engine", "torch (not wired?)"), "max_abs_z": worst,
            "same_verdicts": bool(same), "seconds_torch": a.seconds, "seconds_fused": b.seconds,
            "ok": bool(same and worst <= 5 and "engine" in b.params)}


def per_example_rows(device: torch.device) -> list[dict]:
    """vmap(grad) per-example gradients against one autograd call per example (logistic, MLP), float64."""
    from emastats.studies.models import MLP

    data = spector_logistic()
    w = (minimiser(data) * 0.5).to(device)
    x, y = data.features.to(device), data.targets.to(device)
    mlp = MLP(inputs=x.shape[1], hidden=16)
    wm = mlp.initial(torch.Generator(device=device).manual_seed(0))
    cases = {"logistic": (per_example_gradients(data.to(device), w), w,
                          lambda v, i: torch.nn.functional.softplus(x[i] @ v) - y[i] * (x[i] @ v)),
             "mlp": (mlp.per_example_gradients(x, y, wm), wm, lambda v, i: mlp.example_loss(v, x[i], y[i]))}
    rows = []
    for name, (batched, w0, loss) in cases.items():
        loop = torch.stack([_grad(loss, w0, i) for i in range(x.shape[0])])
        rel = float((batched - loop).abs().max() / loop.abs().max())
        rows.append({"model": name, "examples": int(x.shape[0]), "max_rel_diff": rel, "tolerance": 1e-10,
                     "ok": rel <= 1e-10})
    return rows


def _grad(loss, w0: torch.Tensor, i: int) -> torch.Tensor:
    v = w0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(v, i), v)
    return g


def kernel_rows(device: torch.device, replicas: int) -> list[dict]:
    """Each Triton kernel against its torch reference, same seed and replica range (states to 1e-5 relative)."""
    rows = []
    recursions = {"ema": fused.ema(0.9, 2.0, 1.5, 0.5), "ema_exponential": fused.ema(0.7, 0.5, 2.0, noise="exponential"),
                  "heavy_ball": fused.heavy_ball(0.1, 0.9, init=1.0), "adam": fused.adam(0.01, curvature=2.0, noise=0.5)}
    for name, rec in recursions.items():
        kw = dict(steps=16, replicas=replicas, seed=SEED, device=device, keep_states=True)
        rows.append({"kernel": name, "tolerance": 1e-5,
                     **_compare(fused.recursion_moments(rec, backend="triton", **kw),
                                fused.recursion_moments(rec, backend="torch", **kw))})
    data = synthetic_linear_regression(1000, 32, seed=0)
    kw = dict(learning_rate=0.01, batch=32, steps=16, replicas=min(replicas, 1 << 14), seed=SEED,
              device=device, keep_states=True)
    rows.append({"kernel": "linear_sgd", "tolerance": 1e-5,
                 **_compare(fused.linear_sgd_moments(data, backend="triton", **kw),
                            fused.linear_sgd_moments(data, backend="torch", **kw))})
    for row in rows:
        row["ok"] = row["state_max_rel_diff"] <= row["tolerance"]
    return rows


def ema_theory_z(device: torch.device, replicas: int) -> float:
    """The kernel's EMA variance against std^2 (1-beta)/(1+beta)(1-beta^(2T)), as a z-score."""
    beta, std, steps = 0.9, 1.5, 16
    m = fused.recursion_moments(fused.ema(beta, 0.0, std), steps=steps, replicas=replicas, seed=SEED + 1,
                                device=device, backend="triton").moments
    theory = std**2 * (1 - beta) / (1 + beta) * (1 - beta ** (2 * steps))
    return float((m.variance()[0] - theory) / m.stderr_variance()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--replicas", type=int, default=1 << 16)
    parser.add_argument("--theory-replicas", type=int, default=1 << 22)
    parser.add_argument("--claims", default=",".join(WIRED), help="wired claims to run on both engines, or none")
    parser.add_argument("--skip-kernels", action="store_true", help="leave out the kernel rows (CPU dry runs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    result: dict = {"device": str(device)}
    if not args.skip_kernels:
        result["rows"] = kernel_rows(device, args.replicas)
        result["ema_variance_z"] = ema_theory_z(device, args.theory_replicas)
    claims = [] if args.claims == "none" else [c for c in args.claims.split(",") if c]
    result["engines"] = [engines_agree(c, device) for c in claims]
    result["per_example"] = per_example_rows(device)
    ok = (all(r["ok"] for key in ("rows", "engines", "per_example") for r in result.get(key, []))
          and abs(result.get("ema_variance_z", 0.0)) <= 5)
    result["ok"] = bool(ok)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for r in result.get("rows", []):
            print(f"{r['kernel']:<16} states {r['state_max_rel_diff']:.2e} (tolerance {r['tolerance']:g}), "
                  f"means {r['mean_max_rel_diff']:.2e}, variances {r['variance_max_rel_diff']:.2e}")
        if "ema_variance_z" in result:
            print(f"EMA variance vs theory, {args.theory_replicas} replicas: z = {result['ema_variance_z']:.2f}")
        for r in result["engines"]:
            print(f"{r['claim']:<42} engines agree: max |z| {r['max_abs_z']:.2f}, same verdicts {r['same_verdicts']} "
                  f"({r['seconds_torch']:.2f} s torch, {r['seconds_fused']:.2f} s fused)")
        for r in result["per_example"]:
            print(f"per-example gradients, {r['model']}: vmap vs loop {r['max_rel_diff']:.1e} relative")
        print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
