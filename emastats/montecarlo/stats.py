"""Statistical verdicts: intervals, the equivalence decision, Holm's correction, power.

Every statistical check reduces to an estimate with a standard error ``se`` (and
degrees of freedom ``df`` when its reference distribution is Student's t, else
normal), a theory value ``theory`` and an absolute equivalence margin ``margin``
(``tolerance * scale``, scale usually |theory|). The family is one claim: over
the m statistical checks of a claim, at the claim's family-wise level ``alpha``
(``claim_alpha``: the catalogue-wide level over the number of claims with an experiment
of the catalogue, so a claim's verdict never depends on which other claims ran
and the catalogue-wide rate stays at most the catalogue-wide level):

* the interval of each check is the Bonferroni-simultaneous interval
  ``estimate +- q * se`` with ``q`` the two-sided ``1 - alpha/m`` quantile, so all
  m intervals cover their targets together with probability >= 1 - alpha;
* ``p`` is the two-sided p-value of ``estimate == theory`` and ``p_holm`` its Holm
  step-down adjustment over the m checks (statsmodels ``multipletests``);
* REFUTED when ``p_holm < alpha`` (the theory is excluded after Holm's
  correction; this takes precedence, so a real deviation smaller than the margin
  still refutes an exact claim);
  CONFIRMED when the simultaneous interval lies inside ``theory +- margin`` (an
  equivalence test: with probability >= 1 - alpha the true value is within the
  margin); INCONCLUSIVE otherwise, with the replica count that would decide it.

``min_detectable`` is the smallest relative deviation from ``theory`` that the
check detects with power 80% at the simultaneous level: (q + z_0.8) * se / scale.
Margins the budget can resolve: each check carries the claim's relative margin
(``target_tolerance``, ``Claim.margin``); it is decided at that margin when
min_detectable <= margin / 2, so CONFIRMED means an error of the margin's size
would have been seen; otherwise at the margin the budget achieved,
2 min_detectable, which is stored as ``tolerance`` with ``resolved = False`` and
named in the claim's reason. A negative control sized from the margin has a
``reference`` (the true value) and a ``shift``: its theory is
reference + shift * tolerance * scale, set when the family is decided.
Deterministic checks (trajectories that must agree to rounding) are decided at
once and are not part of the Holm family.
"""
from __future__ import annotations

import gc
import math
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from scipy import stats as _st
from statsmodels.stats.multitest import multipletests

from ..results import Check
from ..verdict import Verdict

DEFAULT_ALPHA = 0.05  # catalogue-wide family-wise error rate; each claim gets claim_alpha(DEFAULT_ALPHA)
POWER = 0.8  # power at which min_detectable is quoted


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval at ``level``."""

    low: float
    high: float
    level: float

    def inside(self, low: float, high: float) -> bool:
        return low <= self.low and self.high <= high

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def quantile(prob: float, df: float | None = None) -> float:
    """The ``prob`` quantile of N(0, 1), or of Student's t with ``df`` degrees of freedom."""
    return float(_st.norm.ppf(prob) if df is None else _st.t.ppf(prob, df))


def interval(estimate: float, stderr: float, level: float, df: float | None = None) -> Interval:
    """Two-sided ``level`` interval estimate +- q se (normal, or t with ``df``)."""
    q = quantile(0.5 + level / 2, df)
    return Interval(estimate - q * stderr, estimate + q * stderr, level)


def pvalue(estimate: float, stderr: float, theory: float, df: float | None = None) -> float:
    """Two-sided p-value of ``estimate == theory`` (z test, or t test with ``df``)."""
    if stderr <= 0 or not math.isfinite(stderr):
        return 0.0 if estimate != theory else 1.0
    z = abs(estimate - theory) / stderr
    return float(2 * (_st.norm.sf(z) if df is None else _st.t.sf(z, df)))


def holm(pvalues: Sequence[float], alpha: float = DEFAULT_ALPHA) -> list[float]:
    """Holm step-down adjusted p-values (statsmodels ``multipletests``, method 'holm')."""
    if not pvalues:
        return []
    # statsmodels' Holm branch calls gc.collect(), a full collection that costs ~0.5 s once torch is loaded;
    # freezing the existing objects first makes that collection scan nothing (they are unfrozen right after).
    gc.freeze()
    try:
        _, adjusted, _, _ = multipletests(list(pvalues), alpha=alpha, method="holm")
    finally:
        gc.unfreeze()
    return [float(p) for p in adjusted]


def simultaneous_level(m: int, alpha: float = DEFAULT_ALPHA) -> float:
    """Per-interval confidence so that m Bonferroni intervals hold together at 1 - alpha."""
    return 1.0 - alpha / max(m, 1)


def min_detectable(stderr: float, scale: float, level: float, df: float | None = None,
                   power: float = POWER) -> float:
    """Smallest relative deviation |true - theory| / scale found with ``power`` at ``level`` (two-sided)."""
    if scale == 0:
        return math.inf
    return (quantile(0.5 + level / 2, df) + quantile(power, df)) * stderr / abs(scale)


def replicas_needed(replicas: int, estimate: float, stderr: float, theory: float, margin: float,
                    level: float, df: float | None = None) -> int | None:
    """Replicas that would decide an undecided check, assuming se ~ 1/sqrt(replicas) and the same estimate.

    A check decides once the interval half-width q se drops below the deviation
    |estimate - theory| (REFUTED) or, inside the margin, below margin - deviation
    (CONFIRMED); whichever needs fewer replicas comes first.
    """
    q = quantile(0.5 + level / 2, df)
    dev = abs(estimate - theory)
    room = max(dev, margin - dev)
    if room <= 0 or stderr <= 0:
        return None
    return max(replicas, math.ceil(replicas * (q * stderr / room) ** 2 * 1.05))


def claim_alpha(alpha: float = DEFAULT_ALPHA) -> float:
    """Each claim's family-wise level: ``alpha`` over the number of catalogue claims that have an experiment.

    Bonferroni across claims with a count fixed by the catalogue, not by the run:
    a claim's verdict does not depend on which other claims ran, and over the
    whole catalogue the chance that any true claim is falsely refuted stays at
    most ``alpha``.
    """
    from .. import catalogue

    k = sum(c.empirical != "none" for c in catalogue.CLAIMS.values())  # any of them may make statistical checks
    return alpha / max(k, 1)


def resolution(check: Check, level: float) -> tuple[float, float, float]:
    """(scale, min_detectable, tolerance) of a statistical check at ``level``.

    ``tolerance`` is the relative margin the check can honestly be decided at:
    the claim's margin ``target_tolerance`` when the budget resolves it
    (min_detectable <= target / 2, so an error of the margin's size is seen with
    power well above 80 %), else 2 min_detectable, the margin the budget achieved.
    """
    se = check.stderr if check.stderr is not None else math.nan
    target = check.target_tolerance if check.target_tolerance is not None else check.tolerance
    if check.scale is not None:
        scale = abs(check.scale)
    elif check.margin is not None and check.tolerance > 0:
        scale = check.margin / check.tolerance  # a record made before ``scale`` was stored
    else:
        scale = abs(check.theory)
    md = min_detectable(se, scale, level, check.df)
    tol = max(target, 2 * md) if math.isfinite(md) else target
    return scale, md, tol


def prepare(check: Check, level: float) -> Check:
    """The check with its resolution and, for a control sized from the margin, its theory and p-value set.

    Idempotent: it reads only the estimate, the standard error, the target margin
    and (controls) the reference, so a stored check re-finalises to the same values.
    """
    scale, md, tol = resolution(check, level)
    target = check.target_tolerance if check.target_tolerance is not None else check.tolerance
    theory = check.theory
    if check.reference is not None and check.shift is not None:
        theory = check.reference + check.shift * tol * scale
    se = check.stderr if check.stderr is not None else math.nan
    return replace(check, theory=theory, tolerance=tol, margin=tol * scale, scale=scale, target_tolerance=target,
                   min_detectable=md, resolved=bool(md <= target / 2),
                   pvalue=pvalue(check.estimate, se, theory, check.df))


def decide(check: Check, pvalue_holm: float, level: float, alpha: float = DEFAULT_ALPHA) -> Check:
    """The (prepared) check with its simultaneous interval, Holm p-value and verdict filled in.

    REFUTED when the Holm-adjusted p-value is below alpha; CONFIRMED when the
    simultaneous interval lies inside theory +- tolerance * scale (the resolved
    margin: see :func:`resolution`); INCONCLUSIVE otherwise.
    """
    se = check.stderr if check.stderr is not None else math.nan
    margin = check.margin if check.margin is not None else check.tolerance * abs(check.theory)
    ci = interval(check.estimate, se, level, check.df)
    if not (math.isfinite(check.estimate) and math.isfinite(se)):
        verdict = Verdict.ERROR
    elif pvalue_holm < alpha:
        verdict = Verdict.REFUTED
    elif ci.inside(check.theory - margin, check.theory + margin):
        verdict = Verdict.CONFIRMED
    else:
        verdict = Verdict.INCONCLUSIVE
    needed = None
    if verdict is Verdict.INCONCLUSIVE:
        needed = replicas_needed(check.replicas, check.estimate, se, check.theory, margin, level, check.df)
    return replace(check, ci_low=ci.low, ci_high=ci.high, confidence=level, verdict=verdict,
                   pvalue_holm=pvalue_holm, margin=margin, replicas_needed=needed)


def finalise(checks: Sequence[Check], alpha: float = DEFAULT_ALPHA) -> list[Check]:
    """Decide the statistical checks of one family (one claim) together; deterministic ones pass through.

    The family is all statistical checks given, negative controls included (they
    only make the correction stricter for the others). Order is preserved.
    """
    stat = [i for i, c in enumerate(checks) if c.kind == "statistical"]
    level = simultaneous_level(len(stat), alpha)
    prepared = {i: prepare(checks[i], level) for i in stat}
    raw = [prepared[i].pvalue if prepared[i].pvalue is not None else 0.0 for i in stat]
    adjusted = holm(raw, alpha)
    out = list(checks)
    for i, p_adj in zip(stat, adjusted, strict=True):
        out[i] = decide(prepared[i], p_adj, level, alpha)
    return out


def aggregate(verdicts: Iterable[Verdict]) -> Verdict:
    """One verdict from several checks of the same theory: any REFUTED refutes, all CONFIRMED confirm."""
    vs = list(verdicts)
    if not vs:
        return Verdict.NOT_RUN
    if Verdict.ERROR in vs:
        return Verdict.ERROR
    if Verdict.REFUTED in vs:
        return Verdict.REFUTED
    if all(v is Verdict.CONFIRMED for v in vs):
        return Verdict.CONFIRMED
    return Verdict.INCONCLUSIVE


@dataclass(frozen=True)
class ClaimVerdicts:
    """A claim's empirical verdicts: on its statement, on its corrected statement, and why."""

    stated: Verdict
    corrected: Verdict | None
    reason: str


def claim_verdicts(checks: Sequence[Check]) -> ClaimVerdicts:
    """Verdicts on the stated and corrected theories from decided checks.

    A negative control that is not REFUTED shows that the experiment cannot tell
    a wrong theory from a right one, so it turns a CONFIRMED into INCONCLUSIVE.
    """
    stated = aggregate(c.verdict for c in checks if c.theory_of == "stated" and not c.control)
    corrected_checks = [c for c in checks if c.theory_of == "corrected" and not c.control]
    corrected = aggregate(c.verdict for c in corrected_checks) if corrected_checks else None
    failed = [c.name for c in checks if c.control and c.verdict is not Verdict.REFUTED]
    reasons = []
    if failed:
        reasons.append(f"negative control(s) not refuted: {', '.join(failed)}")
        if stated is Verdict.CONFIRMED:
            stated = Verdict.INCONCLUSIVE
        if corrected is Verdict.CONFIRMED:
            corrected = Verdict.INCONCLUSIVE
    coarse = [c for c in checks if c.kind == "statistical" and not c.control and c.resolved is False
              and c.verdict is not Verdict.REFUTED]  # a refutation needs no margin
    if coarse:
        worst = max(coarse, key=lambda c: c.tolerance)
        reasons.append(f"decided within +-{100 * worst.tolerance:.3g}% only: the budget resolves "
                       f"{100 * worst.min_detectable:.3g}% (min detectable), not half the claim's "
                       f"+-{100 * (worst.target_tolerance or 0):.3g}% margin ('{worst.name}')")
    undecided = [c for c in checks if c.verdict is Verdict.INCONCLUSIVE and c.replicas_needed]
    if undecided:
        worst = max(undecided, key=lambda c: c.replicas_needed or 0)
        reasons.append(f"undecided: about {worst.replicas_needed} replicas (now {worst.replicas}) "
                       f"would decide '{worst.name}'")
    return ClaimVerdicts(stated, corrected, "; ".join(reasons))
