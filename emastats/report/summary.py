"""``reports/summary.json``: the machine-readable summary of a report (schema "emastats.summary/1").

For CI and scripts: counts of combined, symbolic and empirical verdicts, the
stale and unreadable records; one row per claim with its sources, the printed
and the corrected formula (and the formulas the proof checked, when recorded),
its verdicts, its budget and the figures of each of its checks (estimate,
interval, theory, replicas, parameters); per source document its errata (the
refuted claims and audit errors, with the differing terms); the convention
differences from implementations; per audited document its findings by
severity; per study its named values.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from .model import ClaimView, ReportModel, verdict_counts

SUMMARY_SCHEMA = "emastats.summary/1"


def _side(result: dict | None, key: str = "verdict") -> str:
    return str(result.get(key)) if result and result.get(key) is not None else "NOT_RUN"


def claim_row(view: ClaimView) -> dict[str, Any]:
    """The summary of one claim: verdicts, freshness, how the Monte Carlo ran, and its checks' numbers."""
    r = view.record
    sym, emp = r.symbolic or {}, r.empirical or {}
    return {
        "id": view.id,
        "title": view.claim.get("title"),
        "sources": [x for x in view.claim.get("sources") or [] if isinstance(x, dict)],
        "statement": view.claim.get("statement"),
        "formula_latex": view.claim.get("formula_latex"),
        "corrected_latex": view.claim.get("corrected_latex"),
        "combined": r.combined,
        "symbolic": _side(r.symbolic),
        "empirical": _side(r.empirical),
        "corrected": view.claim.get("corrected"),
        "corrected_verdict_symbolic": sym.get("corrected_verdict"),
        "corrected_verdict_empirical": emp.get("corrected_verdict"),
        "freshness": view.freshness,
        "final": r.final,
        "method": sym.get("method"),
        "counterexample": sym.get("counterexample"),
        "seed": emp.get("seed", r.meta.get("seed")),
        "device": emp.get("device", r.meta.get("device")),
        "quick": view.quick,
        "replicas": emp.get("replicas"),  # the claim's budget; what each check simulated is in its "replicas"
        "replicas_per_check": list(view.replicas) if view.replicas else None,
        "margin": view.claim.get("margin", emp.get("margin")),
        "checks": [
            {k: c.get(k) for k in ("name", "kind", "theory", "estimate", "ci_low", "ci_high", "confidence",
                                   "tolerance", "margin", "pvalue_holm", "min_detectable", "replicas", "verdict",
                                   "control", "theory_of", "test", "parameters")}
            for c in emp.get("checks") or [] if isinstance(c, dict)
        ],
        "figures": [f"figures/{f.filename}" for f in view.figures],
        "source_hash": r.source_hash,
        "git_commit": r.meta.get("git_commit"),
    }


def audit_row(doc: dict[str, Any]) -> dict[str, Any]:
    findings = [f for f in doc.get("findings") or [] if isinstance(f, dict)]
    return {
        "path": doc.get("path"),
        "findings": len(findings),
        "by_severity": dict(sorted(Counter(str(f.get("severity")) for f in findings).items())),
        "codes": sorted({str(f.get("code")) for f in findings}),
        "stats": doc.get("stats"),
    }


def build_summary(model: ReportModel) -> dict[str, Any]:
    """The summary document; its ``counts`` are the report's summary table, verdict by verdict."""
    return {
        "schema": SUMMARY_SCHEMA,
        "generated": model.generated,
        "store": model.store_dir,
        "claims_total": len(model.claims),
        "counts": dict(model.counts),
        "counts_symbolic": verdict_counts([_side(c.record.symbolic) for c in model.claims]),
        "counts_empirical": verdict_counts([_side(c.record.empirical) for c in model.claims]),
        "stale": model.stale_ids,
        "partial": [c.id for c in model.claims if c.freshness == "partial"],
        "unknown_freshness": [c.id for c in model.claims if c.freshness == "unknown"],
        "problems": [{"path": str(getattr(p, "path", "")),
                      "reason": str(getattr(p, "message", None) or getattr(p, "reason", ""))} for p in model.problems],
        "quick": [c.id for c in model.claims if c.quick],
        "errata": [{"document": doc, "errata": [e.to_dict() for e in items]} for doc, items in model.errata.items()],
        "conventions": [e.to_dict() for e in model.conventions],
        "runs": model.runs,
        "claims": [claim_row(c) for c in model.claims],
        "audits": [audit_row(d) for d in model.audits],
        "studies": [
            {"name": s.name, "values": s.data.get("values"), "figures": [f"figures/{f.filename}" for f in s.figures]}
            for s in model.studies
        ],
    }
