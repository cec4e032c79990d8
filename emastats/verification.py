"""``emastats verify``: prove and simulate claims, store each record at once, finalise the run, report.

Flow for each selected claim, in catalogue order: run its proof
(``emastats.proving``), run its Monte Carlo experiment
(``emastats.montecarlo``), combine the two verdicts (``verdict.combine``) and
save the record with ``final: false`` straight away, so a run killed midway
loses at most the claim in progress. Each claim's statistical checks are one
family (simultaneous intervals, Holm's correction at alpha over that claim's
checks: ``montecarlo.stats``), so a claim's verdict does not depend on what else
ran; the catalogue-wide rate is reported (:func:`familywise`). When every claim
is done every record is rewritten with its final verdicts and ``final: true``.

``--resume`` reuses every record of the current source (``report.store.source_hash``)
made with the same seed, budget and device type, final or not: a record that
was saved but not finalised (the run was killed or interrupted) holds a finished
proof and experiment, so only the run-wide decision (simultaneous intervals,
Holm) is redone. It re-runs the others (missing, stale, invalid) and
re-finalises the whole family, so a resumed run ends with the same records as an
uninterrupted one. Ctrl-C says how many records were saved and to use ``--resume``.

Budgets never replace each other silently. ``--quick --resume`` keeps every
final full-budget record as it is (it is neither re-run nor rewritten: the run
skips that claim, with a warning); ``--quick`` without ``--resume`` re-runs and
replaces them, as asked, after a warning. A record of a newer schema is moved
aside (``<id>.json.newer-schema``) with a warning before it is replaced.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

from . import catalogue, params
from .claim import Claim
from .results import Check, EmpiricalResult, ProofResult
from .verdict import Verdict, combine

SEED_LIMIT = params.SEED_LIMIT


@dataclass(frozen=True)
class Settings:
    """How a verify run simulates: everything that, with the source, determines its numbers."""

    seed: int
    device: Any  # torch.device
    quick: bool
    alpha: float

    def matches(self, meta: Mapping[str, Any]) -> bool:
        """Whether a stored record was made with these settings.

        Same device type and same Monte Carlo engine: the numbers differ across either. A record from
        before the engine switch has no ``engine`` and was made by the torch engine.
        """
        return (meta.get("seed") == self.seed and meta.get("quick") == self.quick
                and str(meta.get("device_type")) == self.device.type and meta.get("alpha") == self.alpha
                and meta.get("engine", "torch") == self.engine())

    def engine(self) -> str:
        """The Monte Carlo engine this run uses on its device (``montecarlo.kernels.engine``)."""
        from .montecarlo.kernels import engine

        return engine(self.device)

    def meta(self) -> dict[str, Any]:
        return {"seed": self.seed, "quick": self.quick, "device_type": self.device.type,
                "device": str(self.device), "alpha": self.alpha, "engine": self.engine()}


@dataclass(frozen=True)
class ClaimOutcome:
    """One claim after verify: its proof, its experiment and the combined verdict."""

    claim: Claim
    symbolic: ProofResult
    empirical: EmpiricalResult | None
    combined: Verdict
    reused: bool = False


# ----- validation ---------------------------------------------------------------------------------

def validate_seed(seed: int) -> int:
    """``seed`` when it is an integer in [0, 2^63); else UsageError (``params.seed``, one message everywhere)."""
    return params.seed(seed)


# ----- converting stored results back -------------------------------------------------------------

def proof_from_dict(d: Mapping[str, Any]) -> ProofResult:
    """Rebuild a ProofResult from its ``to_dict`` form."""
    corrected = d.get("corrected_verdict")
    return ProofResult(
        claim_id=d["claim_id"], verdict=Verdict(d["verdict"]), method=d.get("method", ""),
        steps=tuple(d.get("steps") or ()), counterexample=d.get("counterexample"),
        corrected_verdict=Verdict(corrected) if corrected else None, reason=d.get("reason", ""),
        seconds=float(d.get("seconds") or 0.0),
    )


def _combined(symbolic: ProofResult, empirical: EmpiricalResult | None) -> Verdict:
    return combine(symbolic.verdict, empirical.verdict if empirical else Verdict.NOT_RUN)


# ----- running ------------------------------------------------------------------------------------

def _empirical(claim: Claim, experiments: Mapping[str, Callable], settings: Settings) -> EmpiricalResult | None:
    """The claim's Monte Carlo result: None for pure algebra, NOT_RUN when its experiment is missing."""
    from .montecarlo.runner import run_experiment

    fn = experiments.get(claim.id)
    if fn is None:
        if claim.empirical == "none":
            return None
        return EmpiricalResult(claim.id, Verdict.NOT_RUN, (), settings.seed, str(settings.device), 0, 0.0,
                               reason="no Monte Carlo experiment is registered for this claim")
    return run_experiment(claim.id, fn, seed=settings.seed, device=settings.device, quick=settings.quick,
                          alpha=settings.alpha, claim=claim)


def _progress(enabled: bool):
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not enabled:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


def verify(claims: Sequence[Claim], settings: Settings, store_dir: str, *, resume: bool = False,
           progress: bool = False, time_limit_s: float | None = None) -> list[ClaimOutcome]:
    """Prove and simulate ``claims``, saving each record as it completes, then finalise them all.

    Returns the final outcomes in catalogue order.
    """
    from .montecarlo.registry import registered as registered_experiments
    from .montecarlo.runner import empirical_from_dict, finalise_results
    from .proving import DEFAULT_TIME_LIMIT, registered as registered_proofs, run_proof
    from .provenance import run_metadata
    from .report.store import ClaimRecord, ResultStore, source_hash

    proofs, experiments = registered_proofs(), registered_experiments()
    store = ResultStore(store_dir, warn=_warn)
    meta = run_metadata(command="verify", **settings.meta())
    hashes = {c.id: source_hash(c, proofs, experiments) for c in claims}

    def save(outcome: ClaimOutcome, final: bool, extra: Mapping[str, Any] | None = None) -> None:
        store.save(ClaimRecord(
            claim=outcome.claim.to_dict(), symbolic=outcome.symbolic.to_dict(),
            empirical=outcome.empirical.to_dict() if outcome.empirical else None,
            combined=str(outcome.combined), source_hash=hashes[outcome.claim.id], meta={**meta, **(extra or {})},
            final=final))

    existing = {c.id: store.load(c.id) for c in claims} if (resume or settings.quick) else {}
    claims, _kept = _protect_full_budget(claims, existing, settings, resume)
    for problem in store.problems if resume else ():
        _warn(f"{problem.path}: {problem.message}; re-running that claim")

    outcomes: list[ClaimOutcome] = []
    try:
        with _progress(progress) as bar:
            task = bar.add_task("verify", total=len(claims)) if bar else None
            for claim in claims:
                if bar:
                    bar.update(task, description=claim.id)
                record = existing.get(claim.id) if resume else None
                if (record is not None and record.source_hash == hashes[claim.id]
                        and settings.matches(record.meta) and record.symbolic is not None):
                    # final or not: its proof and experiment are finished; Holm is redone below for the whole run
                    symbolic = proof_from_dict(record.symbolic)
                    empirical = empirical_from_dict(record.empirical) if record.empirical else None
                    outcomes.append(ClaimOutcome(claim, symbolic, empirical, _combined(symbolic, empirical), True))
                else:
                    symbolic = run_proof(claim, proofs.get(claim.id), time_limit_s or DEFAULT_TIME_LIMIT)
                    empirical = _empirical(claim, experiments, settings)
                    outcome = ClaimOutcome(claim, symbolic, empirical, _combined(symbolic, empirical))
                    save(outcome, final=False)  # at once: an interrupted run keeps every finished claim
                    outcomes.append(outcome)
                if bar:
                    bar.advance(task)
    except KeyboardInterrupt:
        fresh = sum(not o.reused for o in outcomes)
        _warn(f"interrupted: {fresh} claim record(s) of this run are saved in {store_dir} "
              f"({len(outcomes)} of {len(claims)} claims done, {len(outcomes) - fresh} reused); run the same "
              "command with --resume to reuse them and finish the rest")
        raise

    # each claim is its own family (re-deciding is idempotent); then rewrite all records as final
    with_mc = [i for i, o in enumerate(outcomes) if o.empirical is not None]
    decided = finalise_results([outcomes[i].empirical for i in with_mc], settings.alpha)
    for i, empirical in zip(with_mc, decided, strict=True):
        o = outcomes[i]
        outcomes[i] = replace(o, empirical=empirical, combined=_combined(o.symbolic, empirical))
    family = {"statistical_checks": _statistical_count(outcomes), "claims_in_run": len(outcomes),
              "familywise": familywise(outcomes, settings.alpha)}
    for o in outcomes:
        save(o, final=True, extra=family)
    return outcomes


def _warn(message: str) -> None:
    print(f"emastats: warning: {message}", file=sys.stderr)


def _is_full_budget(record: Any) -> bool:
    return record is not None and record.final and record.meta.get("quick") is False


def _protect_full_budget(claims: Sequence[Claim], existing: Mapping[str, Any], settings: Settings,
                         resume: bool) -> tuple[list[Claim], list[str]]:
    """The claims to run, and the ids whose full-budget records a quick run keeps (``--quick --resume``).

    A quick run without ``--resume`` replaces full-budget records, as asked, after a warning.
    """
    full = [c.id for c in claims if _is_full_budget(existing.get(c.id))] if settings.quick else []
    if not full:
        return list(claims), []
    if resume:
        _warn(f"--quick --resume keeps {len(full)} full-budget record(s) as they are and does not re-run them: "
              f"{', '.join(full)} (run without --quick to refresh them, or without --resume to replace them)")
        return [c for c in claims if c.id not in set(full)], full
    _warn(f"--quick replaces {len(full)} full-budget record(s) with quick ones: {', '.join(full)} "
          "(use --resume to keep them)")
    return list(claims), []


# ----- output -------------------------------------------------------------------------------------

def headline(result: EmpiricalResult) -> Check | None:
    """The check that best explains a claim's empirical verdict: a stated, non-control check with that verdict."""
    stated = [c for c in result.checks if not c.control and c.theory_of == "stated"]
    same = [c for c in stated if c.verdict is result.verdict]
    return (same or stated or [None])[0]


def margin_text(result: EmpiricalResult) -> str:
    """The relative margin a claim's checks were decided at: '+-1%', or '+-3.2% (claim: 1%)' when the
    budget could not resolve the claim's own margin; empty without statistical checks."""
    stat = [c for c in result.checks if c.kind == "statistical" and not c.control and c.verdict is not Verdict.REFUTED]
    if not stat:  # a refutation needs no margin
        return ""
    worst = max(stat, key=lambda c: c.tolerance)
    text = f"+-{100 * worst.tolerance:.2g}%"
    if worst.resolved is False and worst.target_tolerance is not None:
        text += f" (claim: {100 * worst.target_tolerance:.2g}%)"
    return text


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def controls_summary(outcomes: Sequence[ClaimOutcome]) -> tuple[int, int, list[str]]:
    """(refuted, total, names of those not refuted) over the negative controls of the run."""
    controls = [(o.claim.id, c) for o in outcomes if o.empirical for c in o.empirical.checks if c.control]
    missed = [f"{cid}: {c.name}" for cid, c in controls if c.verdict is not Verdict.REFUTED]
    return len(controls) - len(missed), len(controls), missed


def familywise(outcomes: Sequence[ClaimOutcome], alpha: float) -> dict[str, Any]:
    """How false refutations are controlled: Holm at ``alpha`` within each claim, and the catalogue-wide bound.

    Each claim is tested at ``claim_alpha(alpha)`` = alpha / (claims with an experiment in the
    catalogue); claims use independent generators, so over the k claims of this run
    the chance that any true claim is falsely refuted is at most
    1 - (1 - claim_alpha)^k <= alpha.
    """
    from .montecarlo.stats import claim_alpha

    per_claim = claim_alpha(alpha)
    k = sum(1 for o in outcomes if o.empirical and any(c.kind == "statistical" for c in o.empirical.checks))
    return {"catalogue_alpha": alpha, "per_claim_alpha": per_claim, "claims_with_statistical_checks": k,
            "catalogue_wide_bound": round(1 - (1 - per_claim) ** k, 4)}


def _statistical_count(outcomes: Sequence[ClaimOutcome]) -> int:
    return sum(1 for o in outcomes if o.empirical for c in o.empirical.checks if c.kind == "statistical")


def text_report(outcomes: Sequence[ClaimOutcome], settings: Settings, seconds: float, device_text: str) -> str:
    """The terminal report: one row per claim with its three verdicts and its headline check."""
    from .render_text import _table

    rows = []
    for o in outcomes:
        e = o.empirical
        c = headline(e) if e else None
        interval = f"[{_num(c.ci_low)}, {_num(c.ci_high)}]" if c and c.kind == "statistical" else ""
        rows.append([o.claim.id, str(o.symbolic.verdict), str(e.verdict) if e else "-",
                     str(e.corrected_verdict) if e and e.corrected_verdict else "", str(o.combined),
                     _num(c.estimate) if c else "", _num(c.theory) if c and c.kind == "statistical" else "",
                     interval, margin_text(e) if e else "", str(c.replicas) if c else ""])
    table = _table(["claim", "symbolic", "empirical", "corrected", "combined", "estimate", "theory",
                    "interval", "margin", "replicas"], rows)
    m = _statistical_count(outcomes)
    fw = familywise(outcomes, settings.alpha)
    refuted, total, missed = controls_summary(outcomes)
    lines = [
        f"emastats verify: seed {settings.seed}, device {device_text}, "
        f"{'quick' if settings.quick else 'full'} budget; {m} statistical checks, Holm at "
        f"{fw['per_claim_alpha']:.2g} within each claim (catalogue-wide false-refutation rate "
        f"<= {fw['catalogue_wide_bound']:.3g} over {fw['claims_with_statistical_checks']} claims)",
        "", table, "",
    ]
    notes = [f"{o.claim.id}: {o.empirical.reason}" for o in outcomes if o.empirical and o.empirical.reason]
    notes += [f"{o.claim.id}: proof: {o.symbolic.reason}" for o in outcomes if o.symbolic.reason]
    notes += [_disagreement(o, fw["per_claim_alpha"]) for o in outcomes if _sides_disagree(o)]
    if notes:
        lines += notes + [""]
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[str(o.combined)] = counts.get(str(o.combined), 0) + 1
    lines.append(f"{len(outcomes)} claims: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())))
    lines.append(f"negative controls: {refuted}/{total} refuted" + (f" (NOT refuted: {'; '.join(missed)})"
                                                                     if missed else ""))
    reused = sum(o.reused for o in outcomes)
    lines.append(f"wall time {seconds:.1f} s" + (f" ({reused} record(s) reused by --resume)" if reused else ""))
    return "\n".join(lines)


def _sides_disagree(outcome: ClaimOutcome) -> bool:
    """ERROR because one side refuted what the other proved or confirmed (not because a side failed to run)."""
    sides = {outcome.symbolic.verdict, outcome.empirical.verdict if outcome.empirical else Verdict.NOT_RUN}
    return Verdict.REFUTED in sides and bool(sides & {Verdict.PROVED, Verdict.CONFIRMED})


def _disagreement(outcome: ClaimOutcome, claim_alpha: float) -> str:
    """What a person should do with an ERROR from disagreeing sides: one of them is wrong, or the refutation is
    chance."""
    symbolic = outcome.symbolic.verdict
    empirical = outcome.empirical.verdict if outcome.empirical else Verdict.NOT_RUN
    return (f"{outcome.claim.id}: ERROR: the proof says {symbolic} and the simulation {empirical}. Either one side "
            f"is wrong, or a true claim was refuted by chance (at most {claim_alpha:.2g} per claim and run): run it "
            f"again with another --seed, and at the full budget, before trusting either side")


def json_payload(outcomes: Sequence[ClaimOutcome], settings: Settings, seconds: float, device_text: str) -> dict:
    """The ``prove`` JSON schema, each claim extended with ``empirical`` and ``combined``, plus run metadata."""
    from .cli import prove_payload
    from .provenance import run_metadata

    payload = prove_payload([o.symbolic for o in outcomes], [o.claim for o in outcomes], seconds)
    for row, o in zip(payload["claims"], outcomes, strict=True):
        record = o.claim.to_dict()
        for key in ("formula_latex", "corrected_latex", "parameters", "margin"):
            row[key] = record[key]
        row["symbolic_verdict"] = row["verdict"]
        row["empirical"] = o.empirical.to_dict() if o.empirical else None
        row["combined"] = str(o.combined)
    refuted, total, missed = controls_summary(outcomes)
    payload["meta"] = run_metadata(
        command="verify", wall_seconds=round(seconds, 3), device_description=device_text,
        statistical_checks=_statistical_count(outcomes), familywise=familywise(outcomes, settings.alpha),
        controls={"refuted": refuted, "total": total, "not_refuted": missed}, **settings.meta())
    return payload


# ----- command line -------------------------------------------------------------------------------

def run_cli(args: argparse.Namespace) -> int:
    """``emastats verify``: see the module docstring. Exit 0, or 1 when a claim ended in ERROR."""
    from .montecarlo.device import describe, resolve_device
    from .montecarlo.stats import DEFAULT_ALPHA

    started = getattr(args, "started", None) or time.perf_counter()  # set by cli.main: imports count too
    seed = validate_seed(args.seed)
    claims = catalogue.select(args.claim)
    device = resolve_device(args.device)
    settings = Settings(seed=seed, device=device, quick=bool(args.quick), alpha=DEFAULT_ALPHA)
    start = time.perf_counter()
    outcomes = verify(claims, settings, args.store, resume=bool(args.resume), progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    device_text = describe(device)
    report = None
    if not args.no_report:
        from .report import render

        report = render(args.store, args.out)
    total = time.perf_counter() - started
    if args.format == "json":
        payload = json_payload(outcomes, settings, seconds, device_text)
        payload["meta"]["total_seconds"] = round(total, 3)
        if report is not None:
            payload["meta"]["report"] = str(report.html.resolve())
        print(json.dumps(payload, indent=2))
    else:
        print(text_report(outcomes, settings, seconds, device_text))
        if report is not None:
            print(f"report: {report.html.resolve()}")
        print(f"total time {total:.1f} s (the wall time above is proofs and simulation; start-up and report "
              f"{total - seconds:.1f} s)")
    return 1 if any(o.combined is Verdict.ERROR for o in outcomes) else 0


def script_main(module_name: str = "__main__") -> int:
    """Entry point of an ``experiments/*.py`` script run on its own: simulate its claims, print the checks."""
    from .montecarlo.device import describe, resolve_device
    from .montecarlo.registry import defined_in
    from .montecarlo.runner import finalise_results, run_experiment
    from .render_text import _table

    device = resolve_device("auto")
    seed = 20261122
    results = finalise_results([run_experiment(cid, fn, seed=seed, device=device, quick=False)
                                for cid, fn in defined_in(module_name).items()])
    rows = [[r.claim_id, c.name[:60], "control" if c.control else c.theory_of, str(c.verdict), _num(c.estimate),
             _num(c.theory)] for r in results for c in r.checks]
    print(f"device {describe(device)}, seed {seed} (Holm over this module's checks only)")
    print(_table(["claim", "check", "theory of", "verdict", "estimate", "theory"], rows))
    return 0 if all(r.verdict is not Verdict.ERROR for r in results) else 1
