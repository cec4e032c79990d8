"""Result objects: what a proof or an experiment says about one claim.

Results are frozen dataclasses with named fields and a ``to_dict`` that gives the
JSON schema used by ``--format json``, the result store and the reports.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence

from .verdict import Verdict

Z95 = 1.96  # two-sided 95% standard-normal quantile, for the pointwise intervals drawn in figures


def _clean(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Verdict):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class ProofResult:
    """The symbolic verdict on a claim.

    ``counterexample`` maps symbol names to exact values (as strings, e.g.
    ``{"beta": "1/2", "t": "1"}``) together with the two sides evaluated there,
    so a reader can check it by hand. ``corrected_verdict`` is the verdict on the
    claim's corrected statement, when the claim has one. ``steps`` are the key
    steps of the derivation in LaTeX, for the report.
    """

    claim_id: str
    verdict: Verdict
    method: str
    steps: tuple[str, ...] = ()
    counterexample: Mapping[str, str] | None = None
    corrected_verdict: Verdict | None = None
    reason: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class Series:
    """Points for one figure line: Monte Carlo estimates with intervals against theory."""

    name: str
    x_label: str
    y_label: str
    x: tuple[float, ...]
    estimate: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    theory: tuple[float, ...] | None = None
    theory_label: str = "theory"
    log_x: bool = False
    log_y: bool = False

    @classmethod
    def with_z_intervals(
        cls,
        name: str,
        x_label: str,
        y_label: str,
        x: Iterable[float],
        estimate: Sequence[float],
        stderr: Sequence[float],
        theory: Iterable[float] | None = None,
        **options: Any,
    ) -> Series:
        """Pointwise 95% normal intervals ``estimate ± 1.96 stderr`` (for a figure, not a test).

        ``options`` are the remaining fields (``theory_label``, ``log_x``, ``log_y``).
        """
        low = [e - Z95 * s for e, s in zip(estimate, stderr, strict=True)]
        high = [e + Z95 * s for e, s in zip(estimate, stderr, strict=True)]
        return cls(name=name, x_label=x_label, y_label=y_label, x=tuple(float(v) for v in x),
                   estimate=tuple(estimate), ci_low=tuple(low), ci_high=tuple(high),
                   theory=None if theory is None else tuple(theory), **options)

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class Check:
    """One tested quantity of one experiment, with its statistical bookkeeping.

    Statistical checks: ``estimate`` with a simultaneous ``confidence``-level
    interval [ci_low, ci_high]; ``theory`` is the value under test; ``tolerance``
    the relative equivalence margin (CONFIRMED needs the interval inside
    theory*(1 ± tolerance)); ``pvalue`` is the raw two-sided p-value of
    estimate == theory and ``pvalue_holm`` its Holm-adjusted value across the run;
    ``min_detectable`` is the smallest relative deviation the run could detect
    with the replicas used; ``replicas_needed`` the count that would make an
    INCONCLUSIVE check decidable. Deterministic checks: ``estimate`` is the
    largest absolute difference and ``tolerance`` the floating-point bound.
    ``control`` marks a deliberately wrong theory that must be REFUTED.
    """

    claim_id: str
    name: str
    kind: Literal["statistical", "deterministic"]
    estimator: str
    test: str
    theory: float
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    tolerance: float
    replicas: int
    verdict: Verdict
    pvalue: float | None = None
    pvalue_holm: float | None = None
    min_detectable: float | None = None
    replicas_needed: int | None = None
    control: bool = False
    note: str = ""
    # Added for the Monte Carlo engine (emastats.montecarlo): what the run-wide
    # finalisation needs to recompute intervals and Holm p-values from a stored check.
    stderr: float | None = None  # standard error of ``estimate``
    df: float | None = None  # degrees of freedom of a t reference (None: normal)
    margin: float | None = None  # absolute half-width of the equivalence band around ``theory``
    theory_of: Literal["stated", "corrected", "control"] = "stated"  # which theory ``theory`` is
    # Margins the budget can resolve (emastats.montecarlo.stats.decide): ``tolerance`` is the relative margin
    # the verdict was decided at, max(target_tolerance, 2 min_detectable); ``resolved`` whether that is the
    # claim's own margin ``target_tolerance``. ``scale`` is what relative margins are relative to.
    parameters: Mapping[str, Any] | None = None  # the parameter point this check simulated
    target_tolerance: float | None = None  # the claim's relative margin (Claim.margin)
    resolved: bool | None = None  # min_detectable <= target_tolerance / 2
    scale: float | None = None
    # a negative control sized from the margin: theory = reference + shift * tolerance * scale
    reference: float | None = None
    shift: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


@dataclass(frozen=True)
class EmpiricalResult:
    """The Monte Carlo verdict on a claim: all its checks, and how the run was made."""

    claim_id: str
    verdict: Verdict
    checks: tuple[Check, ...]
    seed: int
    device: str
    replicas: int
    seconds: float
    params: Mapping[str, Any] = field(default_factory=dict)
    series: tuple[Series, ...] = ()
    reason: str = ""
    corrected_verdict: Verdict | None = None  # verdict of the checks of the corrected statement, if any

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))
