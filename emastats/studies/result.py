"""What a study produces: named values with intervals and verdicts, exact numbers, figure series, provenance.

A study's statistical comparisons are ``emastats.results.Check`` objects decided
by the Monte Carlo engine's rules (simultaneous intervals over the study's
family, Holm-adjusted p-values, equivalence margins); ``StudyValue`` is the
row the report shows for each. Exact quantities (tr Sigma of a dataset, a
closed-form prediction) are ``ExactValue``: no interval because nothing was
sampled. The JSON form (``to_dict``) is the store's ``emastats.study/1`` record.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..results import Check, Series, _clean
from ..verdict import Verdict

STUDY_SCHEMA = "emastats.study/1"


@dataclass(frozen=True)
class StudyValue:
    """One tested number: estimate with its simultaneous interval, the theory it is tested against, the verdict."""

    name: str
    estimate: float
    ci_low: float
    ci_high: float
    theory: float
    verdict: Verdict
    confidence: float
    tolerance: float
    replicas: int
    test: str
    control: bool = False
    pvalue_holm: float | None = None
    min_detectable: float | None = None
    note: str = ""

    @classmethod
    def from_check(cls, check: Check) -> "StudyValue":
        return cls(name=check.name, estimate=check.estimate, ci_low=check.ci_low, ci_high=check.ci_high,
                   theory=check.theory, verdict=check.verdict, confidence=check.confidence,
                   tolerance=check.tolerance, replicas=check.replicas, test=check.test, control=check.control,
                   pvalue_holm=check.pvalue_holm, min_detectable=check.min_detectable, note=check.note)


@dataclass(frozen=True)
class ExactValue:
    """A number computed exactly (no sampling), e.g. tr Sigma of a dataset or a closed-form prediction.

    A reported but untested estimate (e.g. a fitted B_crit) gives its interval in
    ``ci_low``/``ci_high`` (and says how it was made in ``note``); its row is then
    marked "estimate" instead of "exact".
    """

    name: str
    value: float
    note: str = ""
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def kind(self) -> str:
        return "exact" if self.ci_low is None else "estimate"


@dataclass(frozen=True)
class StudyFacts:
    """What a study definition returns besides its checks and series: its text and its exact numbers.

    ``findings`` are sentences computed from the estimates (never fixed text
    about the outcome); the verdict summary is added by the runner.
    """

    title: str
    question: str
    exact: tuple[ExactValue, ...] = ()
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyResult:
    """A finished study: its values (decided), exact numbers, series and provenance."""

    name: str
    title: str
    question: str
    conclusion: str
    values: tuple[StudyValue, ...]
    exact: tuple[ExactValue, ...]
    series: tuple[Series, ...]
    seed: int
    device: str
    quick: bool
    seconds: float
    params: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def verdict_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for v in self.values:
            if not v.control:
                counts[str(v.verdict)] = counts.get(str(v.verdict), 0) + 1
        return counts

    @property
    def controls_refuted(self) -> bool:
        """Every negative control was REFUTED (otherwise the study could not tell wrong from right)."""
        return all(v.verdict is Verdict.REFUTED for v in self.values if v.control)

    def to_dict(self) -> dict[str, Any]:
        """The store record (schema ``emastats.study/1``): values first as rows, exact numbers as rows too."""
        rows = [{"name": v.name, "estimate": v.estimate, "ci_low": v.ci_low, "ci_high": v.ci_high,
                 "theory": v.theory, "verdict": str(v.verdict) + (" (control)" if v.control else ""),
                 "confidence": v.confidence, "tolerance": v.tolerance, "replicas": v.replicas,
                 "pvalue_holm": v.pvalue_holm, "min_detectable": v.min_detectable}
                for v in self.values]
        rows += [{"name": e.name, "estimate": e.value, "verdict": e.kind}
                 | ({} if e.ci_low is None else {"ci_low": e.ci_low, "ci_high": e.ci_high}) for e in self.exact]
        meta = dict(self.meta)
        meta.update({"seed": self.seed, "device": self.device, "quick": self.quick, "seconds": self.seconds})
        return _clean({
            "schema": STUDY_SCHEMA,
            "name": self.name,
            "title": self.title,
            "question": self.question,
            "conclusion": self.conclusion,
            "values": rows,
            "tests": [{"name": v.name, "test": v.test, "note": v.note, "control": v.control} for v in self.values],
            "exact": [{"name": e.name, "value": e.value, "note": e.note}
                      | ({} if e.ci_low is None else {"ci_low": e.ci_low, "ci_high": e.ci_high}) for e in self.exact],
            "series": [s.to_dict() for s in self.series],
            "params": dict(self.params),
            "meta": meta,
        })
