"""What a report shows, gathered from the result store once: claims with freshness, documents, counts.

The HTML, Markdown and JSON renderers all read this one model, so the three
outputs cannot disagree about a verdict or a count.
"""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping

from pathlib import Path

from ..verdict import Verdict
from . import errata as _errata_module
from .cache import RenderCache, module_version
from .errata import Difference, Erratum, differing_terms, is_convention, is_refuted
from .figures import Figure, cached, draw_all, draw_checks
from .store import ClaimRecord, ResultStore, StoreProblem, source_hash

ERRATA_VERSION = module_version(_errata_module.__file__)  # cached differences are redone when errata.py changes
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

    @property
    def quick(self) -> bool:
        """Made with the quick Monte Carlo budget (fewer replicas: wider intervals, fewer decided checks)."""
        return bool(self.record.meta.get("quick"))

    @property
    def group(self) -> str:
        """The topic the table of contents groups this claim under (its id's first part)."""
        return TOPICS.get(self.id.split(".", 1)[0], self.id.split(".", 1)[0])

    @property
    def replicas(self) -> tuple[int, int] | None:
        """Smallest and largest replica count over the claim's checks (what was actually simulated)."""
        counts = [c.get("replicas") for c in (self.record.empirical or {}).get("checks") or []
                  if isinstance(c, Mapping) and isinstance(c.get("replicas"), int) and c.get("replicas") > 0]
        return (min(counts), max(counts)) if counts else None

    @property
    def printed_tex(self) -> str:
        """The statement as the notes print it."""
        return str(self.claim.get("statement") or "")

    @property
    def checked_tex(self) -> str | None:
        """The formula the proof checked, as LaTeX from its sympy object (when the record carries it)."""
        value = self.claim.get("formula_latex")
        return str(value) if value else None

    @property
    def corrected_checked_tex(self) -> str | None:
        value = self.claim.get("corrected_latex")
        return str(value) if value else None


TOPICS = {
    "minibatch": "Minibatch gradients", "ema": "Exponential moving averages", "momentum": "Momentum",
    "rmsprop": "RMSProp", "adam": "Adam", "noise": "Gradient noise and temperature", "clipping": "Clipping",
    "batchnorm": "Batch statistics", "norm": "Normalisation", "impl": "Implementations (torch.optim, pandas)",
}


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
    problems: tuple[Any, ...]
    counts: dict[str, int] = field(default_factory=dict)
    counts_symbolic: dict[str, int] = field(default_factory=dict)
    counts_empirical: dict[str, int] = field(default_factory=dict)
    errata: dict[str, tuple[Erratum, ...]] = field(default_factory=dict)  # document -> errors in it
    conventions: tuple[Erratum, ...] = ()  # implementation conventions the notes differ from
    cache: RenderCache | None = field(default=None, compare=False, repr=False)  # memo of slow pure steps

    @property
    def groups(self) -> list[tuple[str, list[ClaimView]]]:
        """Claims by topic, topics in catalogue order."""
        out: dict[str, list[ClaimView]] = {}
        for c in self.claims:
            out.setdefault(c.group, []).append(c)
        return list(out.items())

    @property
    def quick_count(self) -> int:
        return sum(c.quick for c in self.claims)

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

    def run_fields(self) -> list[tuple[str, list[tuple[str, int]]]]:
        """One "Run:" line's fields: each provenance field with its distinct values and how many claims have each."""
        fields = ("seed", "device", "quick", "git_commit", "emastats", "torch", "sympy")
        out = []
        for key in fields:
            counted: Counter[str] = Counter()
            for c in self.claims:
                meta, emp = c.record.meta, c.record.empirical or {}
                value = meta.get(key, emp.get(key) if key in ("seed", "device") else None)
                if key == "quick":
                    value = "quick" if value else "full"
                if value is not None:
                    counted[str(value)[:12] if key == "git_commit" else str(value)] += 1
            if counted:
                out.append((key, counted.most_common()))
        return out


HashFunction = Callable[[str], "str | None"]


def _source_fingerprint() -> list[tuple[str, int, int]] | None:
    """(path, mtime_ns, size) of every .py file a source hash can read: emastats, proofs, experiments."""
    import importlib.util

    roots = []
    for name in ("emastats", "proofs", "experiments"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return None
        roots += [Path(p) for p in spec.submodule_search_locations]
    out = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            try:
                st = path.stat()
            except OSError:
                return None
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return out


def catalogue_hasher(cache: RenderCache | None = None) -> HashFunction:
    """Current source hash of a claim id from the installed catalogue, proofs and experiments.

    Returns None for a claim that is no longer in the catalogue or whose code
    cannot be loaded: its freshness is then ``unknown``, shown as such, never as current.
    With a ``cache``, the hashes of the whole catalogue are kept between renders
    while no source file (path, modification time, size) changed: hashing reads
    the source of every proof and experiment, which costs seconds.
    """
    fingerprint = _source_fingerprint() if cache is not None and cache.folder is not None else None
    if fingerprint is not None:
        from .. import catalogue

        def compute_all() -> dict[str, str | None]:
            current = _live_hasher()
            return {cid: current(cid) for cid in catalogue.CLAIMS}

        table = cache.get("source-hashes", "1", fingerprint, compute_all)
        if isinstance(table, dict):
            return lambda claim_id: table.get(claim_id) if isinstance(table.get(claim_id), str) else None
    return _live_hasher()


def _live_hasher() -> HashFunction:
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


def _claim_figures(record: ClaimRecord, cache: RenderCache | None = None) -> list[Figure]:
    """One figure per stored series; a claim with statistical checks but no series gets a checks figure."""
    empirical = record.empirical or {}
    drawn = draw_all(empirical.get("series") or [], record.claim_id, _confidence(record), cache)
    if not drawn:
        checks = [c for c in empirical.get("checks") or [] if isinstance(c, Mapping)]
        checks_figure = cached(cache, "checks", [checks, record.claim_id],
                               lambda: draw_checks(checks, record.claim_id, 0))
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


def build_model(store: ResultStore, hasher: HashFunction | None = None, figures: bool = True,
                cache_dir: str | Path | None = None) -> ReportModel:
    """Read the store into a ReportModel; ``hasher`` gives current source hashes (None: catalogue_hasher()).

    ``cache_dir`` (e.g. ``<out>/.cache``) keeps figures and formula differences between renders, keyed
    by the hash of their inputs, so re-rendering after a one-claim run redraws one claim's figures only.
    """
    cache = RenderCache(cache_dir)
    hasher = hasher or catalogue_hasher(cache)
    claim_order = _catalogue_order()
    views = []
    for record in sorted(store.records(), key=lambda r: (claim_order.get(r.claim_id, len(claim_order)), r.claim_id)):
        drawn = tuple(_claim_figures(record, cache)) if figures else ()
        views.append(ClaimView(record, _freshness(record, hasher(record.claim_id)), drawn))
    studies = []
    for data in store.documents("study"):
        values = data.get("values") if isinstance(data.get("values"), list) else []
        level = _shared_level(v for v in values if isinstance(v, Mapping))
        drawn = tuple(draw_all(data.get("series") or [], f"study-{data.get('name')}", level, cache)) if figures else ()
        studies.append(StudyView(data, drawn))
    audits = store.documents("audit")
    model = ReportModel(
        store_dir=str(store.root),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        claims=tuple(views),
        audits=tuple(audits),
        studies=tuple(studies),
        problems=tuple(store.problems),
        counts=verdict_counts([v.record.combined for v in views]),
        counts_symbolic=verdict_counts([_side(v.record.symbolic) for v in views]),
        counts_empirical=verdict_counts([_side(v.record.empirical) for v in views]),
        errata=_errata(views, audits, cache),
        conventions=tuple(_claim_erratum(v, v.claim.get("sources")[0] if v.claim.get("sources") else None, cache)
                          for v in views if is_refuted(v.record) and is_convention(v.id)),
        cache=cache,
    )
    cache.table("mathml", _escape_version())  # kept by prune: filled when the page is rendered
    cache.prune()
    return model


def _escape_version() -> str:
    from .escape import memo_version

    return memo_version()


def _side(result: Mapping[str, Any] | None) -> str:
    return str(result.get("verdict")) if isinstance(result, Mapping) and result.get("verdict") is not None else "NOT_RUN"


def _difference(printed: str | None, corrected: str | None, cache: RenderCache | None) -> Difference | None:
    """``differing_terms`` of two formulas, memoised in ``cache`` (parsing costs a fraction of a second)."""
    if not printed or not corrected:
        return None
    if cache is None:
        return differing_terms(printed, corrected)

    def compute() -> dict[str, Any] | None:
        d = differing_terms(printed, corrected)
        return d.to_dict() if d else None

    value = cache.get("difference", ERRATA_VERSION, [printed, corrected], compute)
    if not isinstance(value, dict):
        return None
    return Difference(tuple(map(str, value.get("printed_only") or ())), tuple(map(str, value.get("corrected_only") or ())),
                      str(value.get("level") or "terms"))


def _claim_erratum(view: ClaimView, source: Mapping[str, Any] | None, cache: RenderCache | None = None) -> Erratum:
    """A refuted claim as an erratum of ``source``: printed and corrected formula and their differing terms."""
    printed, corrected = view.printed_tex, view.claim.get("corrected")
    # prefer the formulas the proof checked (LaTeX printed from sympy objects): they parse reliably
    difference = _difference(view.checked_tex, view.corrected_checked_tex, cache)
    difference = difference or _difference(printed, str(corrected) if corrected else None, cache)
    source = source if isinstance(source, Mapping) else {}
    return Erratum(
        document=str(source.get("document") or "general (no source document)"),
        location=str(source.get("location") or view.claim.get("general") or ""),
        printed=printed, corrected=str(corrected) if corrected else None, difference=difference,
        claim_id=view.id, title=str(view.claim.get("title") or ""),
        verdicts={"symbolic": _side(view.record.symbolic), "empirical": _side(view.record.empirical),
                  "combined": str(view.record.combined)},
        checked=view.checked_tex, corrected_checked=view.corrected_checked_tex,
    )


def _errata(views: Iterable[ClaimView], audits: Iterable[Mapping[str, Any]],
            cache: RenderCache | None = None) -> dict[str, tuple[Erratum, ...]]:
    """Per source document, the refuted claims citing it and the audit's error findings in it."""
    out: dict[str, list[Erratum]] = {}
    for view in views:
        if not is_refuted(view.record) or is_convention(view.id):
            continue
        for source in view.claim.get("sources") or [None]:
            erratum = _claim_erratum(view, source, cache)
            out.setdefault(erratum.document, []).append(erratum)
    for doc in audits:
        path = str(doc.get("path"))
        for f in doc.get("findings") or []:
            if not isinstance(f, Mapping) or str(f.get("severity")).lower() != "error":
                continue
            line, end = f.get("line"), f.get("end_line")
            where = f"line {line}" if end in (None, line) else f"lines {line}\u2013{end}"
            out.setdefault(path, []).append(Erratum(
                document=path, location=where, printed="", corrected=None, difference=None,
                note=str(f.get("message") or ""), evidence=str(f.get("evidence") or ""),
                suggestion=str(f.get("suggestion") or ""), code=str(f.get("code") or "")))
    return {doc: tuple(out[doc]) for doc in sorted(out)}


def _catalogue_order() -> Mapping[str, int]:
    """Position of each claim id in the catalogue, so the report follows the catalogue's order."""
    from .. import catalogue

    return {cid: i for i, cid in enumerate(catalogue.CLAIMS)}
