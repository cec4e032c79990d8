"""Running experiments: one seeded generator per claim, each claim its own statistical family.

``run_experiment`` runs one claim's experiment and decides its checks within
the claim (simultaneous intervals, Holm's correction over the claim's checks);
the result is saved at once so an interrupted run loses nothing.
``finalise_results`` re-decides each claim's family (idempotent) and recomputes
its verdicts; it works equally on results rebuilt from the store by
``empirical_from_dict``, which is how ``--resume`` ends with the same records.
"""
from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import replace
from typing import Any, Mapping, Sequence

import torch

from ..claim import Claim
from ..results import Check, EmpiricalResult, Series
from ..verdict import Verdict
from . import stats
from .context import QUICK_DIVISOR, Context, replica_multiplier
from .registry import ExperimentFunction
from .sampling import check_replicas

DEFAULT_REPLICAS = 1 << 15  # per-claim budget of a full run


def claim_seed(run_seed: int, claim_id: str) -> int:
    """A 63-bit seed for one claim, from the run seed and the claim id (stable across runs and selections)."""
    digest = hashlib.sha256(f"{int(run_seed)}:{claim_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def budget(quick: bool, replicas: int | None = None, device: torch.device | None = None) -> int:
    """A claim's replica budget: ``replicas`` or the default (times the device's multiplier when the default),
    divided by QUICK_DIVISOR when quick."""
    if replicas is None:
        full = int(DEFAULT_REPLICAS * (replica_multiplier(device) if device is not None else 1.0))
    else:
        full = check_replicas(replicas)
    return check_replicas(max(2, full // QUICK_DIVISOR) if quick else full)


def _result(ctx: Context, checks: Sequence[Check], seconds: float, reason: str = "",
            verdict: Verdict | None = None) -> EmpiricalResult:
    decided = stats.claim_verdicts(checks)
    why = "; ".join(r for r in (reason, decided.reason) if r)
    return EmpiricalResult(
        claim_id=ctx.claim_id, verdict=verdict or decided.stated, checks=tuple(checks), seed=ctx.seed,
        device=str(ctx.device), replicas=ctx.replicas, seconds=round(seconds, 4), params=dict(ctx.params),
        series=tuple(ctx.series), reason=why, corrected_verdict=None if verdict else decided.corrected,
    )


def run_experiment(claim_id: str, fn: ExperimentFunction, *, seed: int, device: torch.device, quick: bool,
                   replicas: int | None = None, alpha: float = stats.DEFAULT_ALPHA,
                   claim: Claim | None = None) -> EmpiricalResult:
    """Run one experiment; its checks are decided within the claim, which is their whole family, at
    ``stats.claim_alpha(alpha)`` (``alpha`` is the catalogue-wide level).

    ``claim`` is the claim simulated (its formula and margin); by default the
    catalogue's claim of that id. An exception inside the experiment gives an
    ERROR result with the reason, so one broken experiment does not take the run down.
    """
    if claim is None:
        from .. import catalogue

        claim = catalogue.CLAIMS.get(claim_id)
    cseed = claim_seed(seed, claim_id)
    ctx = Context(claim_id=claim_id, seed=int(seed), claim_seed=cseed, device=device,
                  generator=make_generator(device, cseed), quick=quick,
                  replicas=budget(quick, replicas, device), claim=claim)
    start = time.perf_counter()
    try:
        with torch.no_grad():
            fn(ctx)
    except Exception as exc:  # noqa: BLE001 - reported as the claim's ERROR
        last = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} (at {last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
        return _result(ctx, ctx.checks, time.perf_counter() - start, reason, Verdict.ERROR)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if not ctx.checks:
        return _result(ctx, (), seconds, "the experiment recorded no check", Verdict.ERROR)
    return _result(ctx, stats.finalise(ctx.checks, stats.claim_alpha(alpha)), seconds)


def finalise_results(results: Sequence[EmpiricalResult],
                     alpha: float = stats.DEFAULT_ALPHA) -> list[EmpiricalResult]:
    """Decide each claim's statistical checks as its own family and recompute each claim's verdicts.

    A claim's verdict therefore does not depend on which other claims ran; this
    is idempotent, so results rebuilt from the store re-finalise to the same values.
    """
    out = []
    for r in results:
        mine = stats.finalise(r.checks, stats.claim_alpha(alpha))
        if r.verdict is Verdict.ERROR:
            out.append(replace(r, checks=tuple(mine)))
            continue
        # only ERROR results carry a reason of their own; the others' reason is the controls' verdict
        v = stats.claim_verdicts(mine)
        out.append(replace(r, checks=tuple(mine), verdict=v.stated, corrected_verdict=v.corrected, reason=v.reason))
    return out


def _verdict(value: Any) -> Verdict | None:
    return None if value is None else Verdict(value)


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def check_from_dict(d: Mapping[str, Any]) -> Check:
    """Rebuild a Check from its ``to_dict`` form (None floats back to NaN where a float is required)."""
    data = dict(d)
    for key in ("theory", "estimate", "ci_low", "ci_high", "confidence", "tolerance"):
        data[key] = _float(data.get(key))
    data["verdict"] = Verdict(data["verdict"])
    known = set(Check.__dataclass_fields__)
    return Check(**{k: v for k, v in data.items() if k in known})


def series_from_dict(d: Mapping[str, Any]) -> Series:
    data = {k: v for k, v in d.items() if k in Series.__dataclass_fields__}
    for key in ("x", "estimate", "ci_low", "ci_high", "theory"):
        if data.get(key) is not None:
            data[key] = tuple(_float(v) for v in data[key])
    return Series(**data)


def empirical_from_dict(d: Mapping[str, Any]) -> EmpiricalResult:
    """Rebuild an EmpiricalResult from its ``to_dict`` form (as stored in the result store)."""
    data = {k: v for k, v in d.items() if k in EmpiricalResult.__dataclass_fields__}
    data["verdict"] = Verdict(data["verdict"])
    data["corrected_verdict"] = _verdict(data.get("corrected_verdict"))
    data["checks"] = tuple(check_from_dict(c) for c in data.get("checks", ()))
    data["series"] = tuple(series_from_dict(s) for s in data.get("series", ()))
    data["params"] = dict(data.get("params") or {})
    return EmpiricalResult(**data)
