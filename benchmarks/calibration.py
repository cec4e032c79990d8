"""Calibration of emastats' statistical verdicts over many seeds (not run by the tests or CI).

    python benchmarks/calibration.py [--seeds 100] [--full] [--claim ID ...] [--device cpu] [--json]
    python benchmarks/calibration.py --mutations [--claim ID ...] [--mc-claim ID ...] [--device cpu]

Runs the chosen experiments (default: every statistical experiment of the EMA,
minibatch and batch-statistics topics) once per seed, each claim its own Holm
family, and reports the rate of REFUTED verdicts on true claims per claim
(against alpha) and catalogue-wide (against 1 - (1 - alpha)^k), the coverage of the simultaneous and of pointwise 95%
intervals, and how often true checks are CONFIRMED and negative controls
REFUTED. ``--quick`` budgets are the default so that 100 seeds take minutes.

``--mutations`` measures kill rates instead: every wrong variant of every
catalogue formula (``emastats.symbolic.mutations``) through the claim's proof,
and, at the full budget, through the experiments of the ``--mc-claim`` claims;
equivalent rewrites are run too and must never be refuted. With ``--claim``,
only the formulas of the named claims (ids or topics) are mutated. A law that
must be free of the sizes its experiment sweeps (``SIZE_FREE``) also gets the
size-factor variants (``mutations.size_factors``) at one grid point.
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
    parser.add_argument("--mutations", action="store_true", help="measure mutation kill rates instead")
    parser.add_argument("--mc-claim", action="append", metavar="ID",
                        help="claims whose variants also run through Monte Carlo at the full budget (repeatable)")
    args = parser.parse_args(argv)
    if args.mutations:
        only = {c.id for c in catalogue.select(args.claim)} if args.claim else None
        return mutation_kill_rates(args.mc_claim or [], resolve_device(args.device), only)
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
          f"1 - (1 - {report.claim_alpha:.2g})^{len(ids)} = {report.catalogue_wide_bound:.3f}")
    for cid, bad in (report.per_claim_false_refutations or {}).items():
        plo, phi = clopper_pearson(bad, report.seeds)
        print(f"  {cid}: {bad}/{report.seeds} = {bad / report.seeds:.3f} (95% CI {plo:.3f}-{phi:.3f}) "
              f"against the claim's level {report.claim_alpha:.2g}")
    print(f"true checks resolving half the margin (min detectable <= margin/2): {report.resolved_rate:.3f}")
    print(f"per true check: refuted {report.false_refutation_rate_per_check:.4f}, "
          f"confirmed {report.confirmed_rate:.4f}")
    print(f"coverage of true theories: simultaneous intervals {report.simultaneous_coverage:.4f}, "
          f"pointwise 95% intervals {report.pointwise_coverage_95:.4f}")
    print(f"negative controls refuted: {report.control_refuted_rate:.4f}")
    print(f"wall time {report.seconds:.1f} s")
    return 0


# laws that must not depend on the sizes their experiments sweep: one grid point of those sizes each
SIZE_FREE = {
    "minibatch.unbiased.with_replacement": {"N": 24, "B": 16},
    "minibatch.unbiased.without_replacement": {"N": 24, "B": 8},
    "minibatch.frozen_gradient.mean": {"N": 24, "B": 4, "eta": 0.2},
    "clipping.per_example.bias_independent_of_b": {"B": 4},
}


def mutation_kill_rates(mc_claims: list[str], device, only: set[str] | None = None) -> int:
    """Print the symbolic kill rate over every variant of every formula (of the claims in ``only``, when given),
    and the Monte Carlo one for ``mc_claims``."""
    import dataclasses
    import time

    from emastats.montecarlo import run_experiment
    from emastats.proving import registered as registered_proofs
    from emastats.proving import run_proof
    from emastats.symbolic.mutations import mutants, rewrites
    from emastats.verdict import Verdict

    proofs, experiments = registered_proofs(), registered()
    point = {"N": 5, "mu": 0.5, "B": 4, "sigma_x^2": 2.25, "t": 4, "p": 0.1, "beta": 0.9}
    killed = total = rewrites_refuted = n_rewrites = mc_killed = mc_total = mc_rewrites_refuted = mc_rewrites = 0
    for claim in catalogue.CLAIMS.values():
        if only is not None and claim.id not in only:
            continue
        for field in ("formula", "corrected_formula"):
            formula = getattr(claim, field)
            if formula is None:
                continue
            wrong = mutants(formula.expr, point, SIZE_FREE.get(claim.id) if field == "formula" else None)
            for kind, variants in (("wrong", wrong), ("same", rewrites(formula.expr))):
                for name, expr in variants:
                    edited = dataclasses.replace(claim, **{field: formula.with_expr(expr)})
                    r = run_proof(edited, proofs[claim.id])
                    verdict = r.verdict if field == "formula" else r.corrected_verdict
                    refuted = verdict is Verdict.REFUTED
                    if kind == "wrong":
                        killed, total = killed + refuted, total + 1
                    else:
                        rewrites_refuted, n_rewrites = rewrites_refuted + refuted, n_rewrites + 1
                    line = f"symbolic {claim.id} [{field}] {kind}: {name}: {verdict}"
                    if claim.id in mc_claims:
                        start = time.perf_counter()
                        e = run_experiment(claim.id, experiments[claim.id], seed=7, device=device, quick=False,
                                           claim=edited)
                        mc = e.verdict if field == "formula" else e.corrected_verdict
                        if kind == "wrong":
                            mc_killed, mc_total = mc_killed + (mc is Verdict.REFUTED), mc_total + 1
                        else:
                            mc_rewrites_refuted += mc is Verdict.REFUTED
                            mc_rewrites += 1
                        line += f"; Monte Carlo (full budget): {mc} in {time.perf_counter() - start:.1f} s"
                    print(line, flush=True)
    print(f"symbolic kill rate: {killed}/{total} = {killed / max(total, 1):.3f}; "
          f"equivalent rewrites refuted: {rewrites_refuted}/{n_rewrites}")
    if mc_claims:
        print(f"Monte Carlo kill rate (full budget, {', '.join(mc_claims)}): {mc_killed}/{mc_total} = "
              f"{mc_killed / max(mc_total, 1):.3f}; equivalent rewrites refuted: {mc_rewrites_refuted}/{mc_rewrites}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
