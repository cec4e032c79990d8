"""Calibration of the statistical verdicts: run experiments over many seeds and count what they say.

For each seed the chosen experiments run as in ``emastats verify``: each claim
is its own family (Holm across that claim's checks at alpha). A check is *true*
when its theory is the truth: a non-control check of a claim that holds as
stated, or a check of the corrected statement of a claim that does not
(``false_as_stated``). Measured:

* per claim, the family-wise false-refutation rate: the fraction of seeds in
  which any true check of that claim is REFUTED, to be compared with the
  claim's level ``stats.claim_alpha(alpha)``;
* catalogue-wide, the fraction of seeds in which any true check of any claim
  is REFUTED, to be compared with 1 - (1 - claim_alpha)^k for k claims
  (each with a Clopper-Pearson 95% interval for the rate itself);
* the coverage of the simultaneous intervals and of pointwise 95% intervals
  (estimate +- q se) for the true checks;
* the rates at which true checks are CONFIRMED and negative controls REFUTED.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import torch
from scipy.stats import beta as _beta_dist

from ..results import Check
from ..verdict import Verdict
from . import stats
from .registry import registered
from .runner import finalise_results, run_experiment

def false_as_stated_in_catalogue() -> frozenset[str]:
    """Claims the catalogue gives a corrected statement: as stated they are false, so refuting them is right."""
    from .. import catalogue

    return frozenset(c.id for c in catalogue.CLAIMS.values() if c.corrected is not None)


@dataclass(frozen=True)
class CalibrationReport:
    """What the statistical checks said over ``seeds`` independent runs."""

    claims: tuple[str, ...]
    seeds: int
    quick: bool
    alpha: float
    true_checks_per_run: int
    controls_per_run: int
    runs_with_false_refutation: int
    familywise_error_rate: float
    familywise_error_ci95: tuple[float, float]
    false_refutation_rate_per_check: float
    simultaneous_coverage: float
    pointwise_coverage_95: float
    confirmed_rate: float
    control_refuted_rate: float
    seconds: float
    per_claim_false_refutations: dict[str, int] | None = None  # seeds in which a true check of the claim is refuted
    catalogue_wide_bound: float | None = None  # 1 - (1 - claim_alpha)^k: the rate if every claim holds its level
    claim_alpha: float | None = None  # each claim's family-wise level (stats.claim_alpha)
    resolved_rate: float | None = None  # fraction of true checks whose min detectable is at most half the margin

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for a rate."""
    a = (1 - level) / 2
    low = 0.0 if successes == 0 else float(_beta_dist.ppf(a, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(_beta_dist.ppf(1 - a, successes + 1, trials - successes))
    return low, high


def is_true(check: Check, false_as_stated: Iterable[str]) -> bool:
    """Whether ``check`` tests a theory that holds (controls never do)."""
    if check.control or check.kind != "statistical":
        return False
    return check.theory_of == "corrected" or check.claim_id not in set(false_as_stated)


def _covers(check: Check, level: float) -> bool:
    ci = stats.interval(check.estimate, check.stderr or 0.0, level, check.df)
    return ci.covers(check.theory)


def calibrate(claim_ids: Sequence[str], seeds: Sequence[int], *, quick: bool = True,
              device: torch.device | None = None, false_as_stated: Iterable[str] | None = None,
              alpha: float = stats.DEFAULT_ALPHA) -> CalibrationReport:
    """Run ``claim_ids``' experiments once per seed (each seed one Holm family) and tally the verdicts."""
    experiments = registered()
    missing = [c for c in claim_ids if c not in experiments]
    if missing:
        raise KeyError(f"no experiment registered for {', '.join(missing)}")
    device = device or torch.device("cpu")
    false_as_stated = frozenset(false_as_stated_in_catalogue() if false_as_stated is None else false_as_stated)
    start = time.perf_counter()
    bad_runs = n_true = n_true_refuted = n_confirmed = n_sim_cover = n_95_cover = n_ctl = n_ctl_refuted = 0
    per_run_true = per_run_ctl = n_resolved = 0
    per_claim = {cid: 0 for cid in claim_ids}
    for seed in seeds:
        results = finalise_results([run_experiment(cid, experiments[cid], seed=int(seed), device=device,
                                                   quick=quick, alpha=alpha) for cid in claim_ids], alpha)
        checks = [c for r in results for c in r.checks if c.kind == "statistical"]
        true = [c for c in checks if is_true(c, false_as_stated)]
        controls = [c for c in checks if c.control]
        per_run_true, per_run_ctl = len(true), len(controls)
        refuted = sum(c.verdict is Verdict.REFUTED for c in true)
        bad_runs += refuted > 0
        for cid in {c.claim_id for c in true if c.verdict is Verdict.REFUTED}:
            per_claim[cid] += 1
        n_resolved += sum(bool(c.resolved) for c in true)
        n_true += len(true)
        n_true_refuted += refuted
        n_confirmed += sum(c.verdict is Verdict.CONFIRMED for c in true)
        n_sim_cover += sum(c.ci_low <= c.theory <= c.ci_high for c in true)
        n_95_cover += sum(_covers(c, 0.95) for c in true)
        n_ctl += len(controls)
        n_ctl_refuted += sum(c.verdict is Verdict.REFUTED for c in controls)
    runs = len(seeds)
    return CalibrationReport(
        claims=tuple(claim_ids), seeds=runs, quick=quick, alpha=alpha, true_checks_per_run=per_run_true,
        controls_per_run=per_run_ctl, runs_with_false_refutation=bad_runs,
        familywise_error_rate=bad_runs / runs, familywise_error_ci95=clopper_pearson(bad_runs, runs),
        false_refutation_rate_per_check=n_true_refuted / max(n_true, 1),
        simultaneous_coverage=n_sim_cover / max(n_true, 1), pointwise_coverage_95=n_95_cover / max(n_true, 1),
        confirmed_rate=n_confirmed / max(n_true, 1), control_refuted_rate=n_ctl_refuted / max(n_ctl, 1),
        seconds=round(time.perf_counter() - start, 2), per_claim_false_refutations=per_claim,
        catalogue_wide_bound=round(1 - (1 - stats.claim_alpha(alpha)) ** len(claim_ids), 4),
        claim_alpha=stats.claim_alpha(alpha),
        resolved_rate=n_resolved / max(n_true, 1),
    )
