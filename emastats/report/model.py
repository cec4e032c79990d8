"""What a report shows, gathered from the result store once: claims with freshness, documents, counts.

The HTML, Markdown and JSON renderers all read this one model, so the three
outputs cannot disagree about a verdict or a count.
"""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping

from ..verdict import Verdict
from .figures import Figure, draw_all, draw_checks
from .store import ClaimRecord, ResultStore, StoreProblem, source_hash

Freshness = Literal["current", "stale", "partial", "unknown"]
VERDICT_ORDER = tuple(v.value for v in Verdict)


@dataclass(frozen=True)
class ClaimView:
    """One claim's record, whether it still matches the code (``freshness``) and its figures."""

    record: ClaimRecord
    freshness: Freshness
    figures: tuple[Figure, ...]

    @property
    def claim(self) -> dict[str, Any]:
        return self.record.claim

    @property
    def id(self) -> str:
        return self.record.claim_id

    @property
    def stale(self) -> bool:
        return self.freshness == "stale"


@dataclass(frozen=True)
class StudyView:
    """One study record and the figures of its series."""

    data: dict[str, Any]
    figures: tuple[Figure, ...]

    @property
    def name(self) -> str:
        return str(self.data.get("name"))


@dataclass(frozen=True)
class ReportModel:
    """Everything a report renders, in display order."""

    store_dir: str
    generated: str
    claims: tuple[ClaimView, ...]
    audits: tuple[dict[str, Any], ...]
    studies: tuple[StudyView, ...]
    problems: tuple[StoreProblem, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """What the report is: a verification report when it has claims, else an audit or study report."""
        if self.claims:
            return "emastats verification report"
        return "emastats audit report" if self.audits else "emastats study report"

    @property
    def stale_ids(self) -> list[str]:
        return [c.id for c in self.claims if c.stale]

    @property
    def runs(self) -> list[dict[str, Any]]:
        """The distinct runs (seed, device, commit, mode) the records come from, for the report header."""
        seen: dict[tuple, dict[str, Any]] = {}
        for c in self.claims:
            meta = c.record.meta
            empirical = c.record.empirical or {}
            run = {
                "seed": meta.get("seed", empirical.get("seed")),
                "device": meta.get("device", empirical.get("device")),
                "git_commit": meta.get("git_commit"),
                "quick": meta.get("quick"),
                "emastats": meta.get("emastats"),
                "torch": meta.get("torch"),
                "sympy": meta.get("sympy"),
            }
            seen.setdefault(tuple(sorted((k, str(v)) for k, v in run.items())), run)
        return list(seen.values())


HashFunction = Callable[[str], "str | None"]


def catalogue_hasher() -> HashFunction:
    """Current source hash of a claim id from the installed catalogue, proofs and experiments.

    Returns None for a claim that is no longer in the catalogue or whose code
    cannot be loaded: its freshness is then ``unknown``, shown as such, never as current.
    """
    from .. import catalogue
    from ..proving import registered
    from .store import experiment_registry

    try:
        proofs = registered()
    except Exception:  # a broken proofs package must not stop the report; freshness becomes unknown
        proofs = None
    try:
        experiments = experiment_registry()
    except Exception:
        experiments = None

    def current(claim_id: str) -> str | None:
        claim = catalogue.CLAIMS.get(claim_id)
        if claim is None or proofs is None or experiments is None:
            return None
        return source_hash(claim, proofs, experiments)

    return current


def _freshness(record: ClaimRecord, current_hash: str | None) -> Freshness:
    if current_hash is None:
        return "unknown"
    if record.source_hash != current_hash:
        return "stale"
    return "current" if record.final else "partial"


def _shared_level(rows: Iterable[Mapping[str, Any]]) -> float | None:
    """The confidence level of a set of checks or study values when they all share one (for figure legends)."""
    levels = {r.get("confidence") for r in rows} - {None}
    return float(levels.pop()) if len(levels) == 1 else None


def _confidence(record: ClaimRecord) -> float | None:
    checks = (record.empirical or {}).get("checks", [])
    return _shared_level(c for c in checks if c.get("kind") == "statistical")


def _claim_figures(record: ClaimRecord) -> list[Figure]:
    """One figure per stored series; a claim with statistical checks but no series gets a checks figure."""
    empirical = record.empirical or {}
    drawn = draw_all(empirical.get("series") or [], record.claim_id, _confidence(record))
    if not drawn:
        checks_figure = draw_checks(empirical.get("checks") or [], record.claim_id, 0)
        if checks_figure is not None:
            drawn.append(checks_figure)
    return drawn


def verdict_counts(verdicts: list[str]) -> dict[str, int]:
    """Counts per verdict, every verdict of the vocabulary present (zero included), in vocabulary order."""
    counted = Counter(verdicts)
    counts = {v: counted.get(v, 0) for v in VERDICT_ORDER}
    for other in sorted(set(counted) - set(VERDICT_ORDER)):  # an unknown verdict string is shown, not dropped
        counts[other] = counted[other]
    return counts


def build_model(store: ResultStore, hasher: HashFunction | None = None, figures: bool = True) -> ReportModel:
    """Read the store into a ReportModel; ``hasher`` gives current source hashes (None: catalogue_hasher())."""
    hasher = hasher or catalogue_hasher()
    claim_order = _catalogue_order()
    views = []
    for record in sorted(store.records(), key=lambda r: (claim_order.get(r.claim_id, len(claim_order)), r.claim_id)):
        drawn = tuple(_claim_figures(record)) if figures else ()
        views.append(ClaimView(record, _freshness(record, hasher(record.claim_id)), drawn))
    studies = []
    for data in store.documents("study"):
        values = data.get("values") if isinstance(data.get("values"), list) else []
        level = _shared_level(v for v in values if isinstance(v, Mapping))
        drawn = tuple(draw_all(data.get("series") or [], f"study-{data.get('name')}", level)) if figures else ()
        studies.append(StudyView(data, drawn))
    audits = store.documents("audit")
    return ReportModel(
        store_dir=str(store.root),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        claims=tuple(views),
        audits=tuple(audits),
        studies=tuple(studies),
        problems=tuple(store.problems),
        counts=verdict_counts([v.record.combined for v in views]),
    )


def _catalogue_order() -> Mapping[str, int]:
    """Position of each claim id in the catalogue, so the report follows the catalogue's order."""
    from .. import catalogue

    return {cid: i for i, cid in enumerate(catalogue.CLAIMS)}
