"""Calibration of emastats' statistical verdicts over many seeds (not run by the tests or CI).

    python benchmarks/calibration.py [--seeds 100] [--full] [--claim ID ...] [--device cpu] [--json]

Runs the chosen experiments (default: every statistical experiment of the EMA,
minibatch and batch-statistics topics) once per seed, each claim its own Holm
family, and reports the rate of REFUTED verdicts on true claims per claim
(against alpha) and catalogue-wide (against 1 - (1 - alpha)^k), the coverage of the simultaneous and of pointwise 95%
intervals, and how often true checks are CONFIRMED and negative controls
REFUTED. ``--quick`` budgets are the default so that 100 seeds take minutes.
"""
from __future__ import annotations

import argparse
import json
import sys

from emastats import catalogue
from emastats.errors import EmastatsError
from emastats.montecarlo import registered, resolve_device
from emastats.montecarlo.calibration import calibrate, clopper_pearson

DEFAULT_TOPICS = ("ema", "minibatch", "batchnorm", "adam", "noise")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="number of seeds (default 100)")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="full budgets instead of --quick ones")
    parser.add_argument("--claim", action="append", metavar="ID", help="claim id or topic (repeatable)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.seeds < 1:
            raise EmastatsError("--seeds must be at least 1")
        device = resolve_device(args.device)
        experiments = registered()
        chosen = catalogue.select(args.claim or list(DEFAULT_TOPICS))
        ids = [c.id for c in chosen if c.empirical == "statistical" and c.id in experiments]
    except EmastatsError as exc:
        print(f"calibration: error: {exc}", file=sys.stderr)
        return 2
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    report = calibrate(ids, list(seeds), quick=not args.full, device=device)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    lo, hi = report.familywise_error_ci95
    print(f"{len(ids)} experiments x {report.seeds} seeds ({'full' if args.full else 'quick'} budgets, "
          f"{device}), {report.true_checks_per_run} true checks and {report.controls_per_run} controls per run")
    print(f"catalogue-wide false refutations: {report.runs_with_false_refutation}/{report.seeds} runs = "
          f"{report.familywise_error_rate:.3f} (95% CI {lo:.3f}-{hi:.3f}) against "
          f"1 - (1 - {report.alpha})^{len(ids)} = {report.catalogue_wide_bound:.3f}")
    for cid, bad in (report.per_claim_false_refutations or {}).items():
        plo, phi = clopper_pearson(bad, report.seeds)
        print(f"  {cid}: {bad}/{report.seeds} = {bad / report.seeds:.3f} (95% CI {plo:.3f}-{phi:.3f}) "
              f"against alpha = {report.alpha}")
    print(f"true checks resolving half the margin (min detectable <= margin/2): {report.resolved_rate:.3f}")
    print(f"per true check: refuted {report.false_refutation_rate_per_check:.4f}, "
          f"confirmed {report.confirmed_rate:.4f}")
    print(f"coverage of true theories: simultaneous intervals {report.simultaneous_coverage:.4f}, "
          f"pointwise 95% intervals {report.pointwise_coverage_95:.4f}")
    print(f"negative controls refuted: {report.control_refuted_rate:.4f}")
    print(f"wall time {report.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
