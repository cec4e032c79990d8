"""``reports/index.html``: one self-contained page that works offline.

No scripts, no external fonts, styles or images: the CSS is inlined and allowed
by its sha256 hash (no ``'unsafe-inline'``), figures are base64 PNG data URIs,
formulas are MathML (rendered natively by browsers), and a
Content-Security-Policy forbids every fetch, ``<base>`` and form target, so
opening the file never touches the network.

The first screen answers "what is wrong in my notes?": the errata per source
document (``id="errata"``, first in ``<main>``), then the convention differences
from implementations, then the counts and a table of contents, then the claims
grouped by topic. Every string from a document or a store record reaches the
page through ``escape`` (``E``) and nowhere else.
"""
from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Any, Iterable, Mapping

from ..verdict import Verdict
from . import escape as E
from .errata import Erratum
from .figures import Figure
from .formatting import DASH, fmt_interval, fmt_level, fmt_pvalue, value_table
from .model import ClaimView, ReportModel, StudyView


def _css() -> str:
    return resources.files("emastats.report").joinpath("report.css").read_text(encoding="utf-8")


def csp(css: str) -> str:
    """The page's Content-Security-Policy: nothing but data: images and the one inline stylesheet (by hash)."""
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return (f"default-src 'none'; img-src data:; style-src 'sha256-{digest}'; base-uri 'none'; "
            "form-action 'none'")


def badge(verdict: Any, extra: str = "") -> str:
    value = str(verdict) if verdict else "NOT_RUN"
    css = re.sub(r"[^A-Za-z_]", "", value)
    return f'<span class="badge v-{css} {extra}">{E.text(value.replace("_", " "))}</span>'


_QUICK = ('<span class="badge quick" title="made with the quick Monte Carlo budget: fewer replicas, wider '
          'intervals; re-run without --quick for the full budget">QUICK</span>')


def _freshness_badge(view: ClaimView) -> str:
    marks = [_QUICK] if view.quick else []
    if view.freshness == "stale":
        marks.append('<span class="badge stale" title="the claim, its proof or its experiment changed since this '
                     'record was made">STALE</span>')
    elif view.freshness == "partial":
        marks.append('<span class="badge partial" title="the run stopped before this claim finished">PARTIAL</span>')
    elif view.freshness == "unknown":
        marks.append('<span class="badge unknown" title="the claim or its code could not be loaded to compare">'
                     "UNCHECKED</span>")
    return " ".join(marks)


def _img(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{E.text(fig.caption)}">'
            f"<figcaption>{E.text(fig.caption)}</figcaption></figure>")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset(),
           css: str = "", labels: Iterable[str] | None = None) -> str:
    """A table from already-escaped cell HTML; columns in ``numeric`` hold figures (tabular, unbroken).

    ``labels`` (plain text) name each cell for the narrow-screen layout, where rows become cards.
    """
    header = list(header)
    names = list(labels) if labels is not None else [re.sub(r"<[^>]+>", "", h) for h in header]
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td{NUM if i in numeric else ""} data-label="{E.text(names[i])}">{c}</td>'
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    table = f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return f'<div class="table-wrap">{table}</div>'


NUM = ' class="num"'


def _anchor(claim_id: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_.-]", "_", claim_id)


# -- page parts ---------------------------------------------------------------------------------

def _masthead(model: ReportModel) -> str:
    """Title, generation time and one "Run:" line; a field that differs between records lists each value."""
    names = {"seed": "seed", "device": "device", "quick": "budget", "git_commit": "commit", "emastats": "emastats",
             "torch": "torch", "sympy": "sympy"}
    bits = []
    for key, values in model.run_fields():
        shown = [f"<code>{E.text(v)}</code>" if key == "git_commit" else E.text(v) for v, _ in values]
        if len(values) == 1:
            bits.append(f"{names[key]} {shown[0]}")
        else:
            bits.append(f"{names[key]} " + " / ".join(f"{s} ({n} claim{'' if n == 1 else 's'})" for s, (_, n) in zip(shown, values)))
    run = f"<p>Run: {', '.join(bits)}.</p>" if bits else ""
    return (f'<header class="masthead"><div class="inner"><h1>{E.text(model.title)}</h1>'
            f"<p>Generated {E.text(model.generated)} from the result store <code>{E.text(model.store_dir)}</code>."
            f"</p>{run}</div></header>")


def _difference(diff: Any) -> str:
    if diff is None:
        return ('<div class="diff muted"><span class="label">difference</span> not computed: a formula did not '
                "parse as one equation with the same left-hand side; compare the two formulas</div>")
    what = "factors" if diff.level == "factors" else "terms"
    printed = " ".join(f'<span class="term del">{E.math(t)}</span>' for t in diff.printed) or \
        '<span class="muted">none</span>'
    corrected = " ".join(f'<span class="term ins">{E.math(t)}</span>' for t in diff.corrected) or \
        '<span class="muted">none</span>'
    return (f'<div class="diff"><span class="label">difference</span> only in the notes: {printed} '
            f'<span class="sep">→</span> only in the correction: {corrected} <span class="muted">({what})</span></div>')


def _erratum(e: Erratum) -> str:
    """One erratum as a card: where and what, the printed formula beside the correction, the differing terms."""
    if e.claim_id is None:  # an audit finding
        evidence = (f'<div class="evidence"><span class="label">counterexample / differing term</span> '
                    f"{E.rich(e.evidence)}</div>" if e.evidence else "")
        suggestion = (f'<div class="evidence"><span class="label">suggestion</span> {E.rich(e.suggestion)}</div>'
                      if e.suggestion else "")
        return (f'<div class="erratum"><div class="where"><strong>{E.text(e.location)}</strong> · audit '
                f'<code>{E.text(e.code)}</code></div><div class="finding">{E.rich(e.note)}</div>'
                f"{evidence}{suggestion}</div>")
    checked = f'<div class="check-kind">checked as {E.math(e.checked)}</div>' if e.checked else ""
    corrected = (f'<div class="formula small">{E.math(e.corrected)}</div>' if e.corrected
                 else '<p class="muted">no correction in the catalogue</p>')
    verdicts = " ".join(f"{ {'empirical': 'Monte Carlo'}.get(k, k)} {badge(v)}" for k, v in (e.verdicts or {}).items()
                        if k != "combined")
    return (f'<div class="erratum"><div class="where"><strong>{E.text(e.location)}</strong> · '
            f'<a href="#{_anchor(e.claim_id)}">{E.text(e.title)}</a> <span class="verdicts">{verdicts}</span></div>'
            f'<div class="pair"><div><span class="label">printed in the notes</span>'
            f'<div class="formula small">{E.math(e.printed)}</div>{checked}</div>'
            f'<div><span class="label">correction</span>{corrected}</div></div>'
            f"{_difference(e.difference)}</div>")


def _errata(model: ReportModel) -> str:
    """The first section: per document, what is wrong, where, and how the printed formula differs."""
    parts = ['<section id="errata" class="errata"><h2>Errata: what is wrong in the notes</h2>']
    if not model.errata:
        parts.append('<p class="ok">No refuted claim and no audit error: nothing in the notes was found wrong.</p>')
    else:
        total = sum(len(v) for v in model.errata.values())
        entries = [e for items in model.errata.values() for e in items]
        how = []
        if any(e.claim_id for e in entries):
            how.append("claims refuted by an exact proof (counterexample) or a Monte Carlo test, with the terms "
                       "by which the printed formula differs computed from the two formulas' sympy parses")
        if any(e.claim_id is None for e in entries):
            how.append("errors the audit found, with its counterexample")
        parts.append(f"<p>{total} error(s) in {len(model.errata)} document(s): {'; '.join(how)}.</p>")
        for doc, items in model.errata.items():
            parts.append(f'<h3 class="doc"><code>{E.text(doc)}</code> <span class="muted">({len(items)})</span></h3>')
            parts.append("".join(_erratum(e) for e in items))
    if model.conventions:
        parts.append(f'<h3 id="conventions">Conventions that differ from implementations '
                     f'<span class="muted">({len(model.conventions)})</span></h3>'
                     '<p class="muted">Not errors in the mathematics: the notes use another convention than '
                     "torch.optim or pandas, so code written from the notes computes something else.</p>")
        parts.append("".join(_erratum(e) for e in model.conventions))
    parts.append("</section>")
    return "".join(parts)


def _cards(counts: Mapping[str, int], only: Iterable[str]) -> str:
    keep = [v for v in only if counts.get(v)] or list(only)[:1]
    return "".join(f'<div class="card v-{E.text(v)}"><div class="n">{counts.get(v, 0)}</div>'
                   f'<div class="label">{E.text(v.replace("_", " "))}</div></div>' for v in keep)


def _problem_text(p: Any) -> str:
    return str(getattr(p, "message", None) or getattr(p, "reason", "") or "")


def _summary(model: ReportModel) -> str:
    parts = ['<h2 id="summary">Summary</h2>']
    if model.claims:
        all_verdicts = [v.value for v in Verdict]
        parts.append(
            f"<p>{len(model.claims)} claims. Each has a symbolic verdict (exact proof) and, where it can be "
            "simulated, a Monte Carlo verdict; they are counted separately.</p>"
            '<div class="count-rows">'
            f'<div class="count-row"><h4>Symbolic</h4><div class="cards">'
            f"{_cards(model.counts_symbolic, all_verdicts)}</div></div>"
            f'<div class="count-row"><h4>Monte Carlo</h4><div class="cards">'
            f"{_cards(model.counts_empirical, all_verdicts)}</div></div>"
            f'<div class="count-row"><h4>Combined</h4><div class="cards">'
            f"{_cards(model.counts, all_verdicts)}</div></div></div>")
        if model.quick_count:
            parts.append(f'<p>{_QUICK} {model.quick_count} of {len(model.claims)} claims were simulated with the '
                         "quick budget; their Monte Carlo verdicts rest on fewer replicas.</p>")
    if model.stale_ids:
        ids = ", ".join(f'<a href="#{_anchor(i)}"><code>{E.text(i)}</code></a>' for i in model.stale_ids)
        parts.append(f'<div class="notice"><strong>{len(model.stale_ids)} stale record(s).</strong> The claim, its '
                     f"proof or its experiment changed after these were made; their verdicts are shown but must not "
                     f"be relied on. Re-run them with <code>emastats verify --resume</code>: {ids}</div>")
    if model.problems:
        items = "".join(f"<li><code>{E.text(getattr(p, 'path', ''))}</code>: {E.text(_problem_text(p))}</li>"
                        for p in model.problems)
        parts.append(f'<div class="notice problem" id="store-problems"><strong>Store problems.</strong> These '
                     f'records could not be used and were left out:<ul class="plain">{items}</ul></div>')
    if model.claims:
        parts.append(_toc(model))
    if model.audits or model.studies:
        links = [f'<a href="#audit-{i}">{E.text(d.get("path"))}</a> ({len(d.get("findings") or [])} findings)'
                 for i, d in enumerate(model.audits)]
        links += [f'<a href="#study-{E.text(s.name)}">study {E.text(s.name)}</a>' for s in model.studies]
        parts.append("<p>Also in this report: " + "; ".join(links) + ".</p>")
    return "\n".join(parts)


def _toc(model: ReportModel) -> str:
    """Table of contents: per topic, each claim with its symbolic, Monte Carlo and combined verdicts."""
    out = ['<nav id="contents" aria-label="claims"><h3>Contents</h3>']
    for name, views in model.groups:
        rows = [[f'<a href="#{_anchor(c.id)}">{E.text(c.claim.get("title"))}</a>'
                 f'<div class="check-kind">{E.text(c.id)}</div>',
                 badge((c.record.symbolic or {}).get("verdict")),
                 badge((c.record.empirical or {}).get("verdict")),
                 badge(c.record.combined) + " " + _freshness_badge(c)] for c in views]
        out.append(f'<h4 class="group"><a href="#topic-{E.text(_slug(name))}">{E.text(name)}</a> '
                   f'<span class="muted">({len(views)})</span></h4>')
        out.append(_table(["claim", "symbolic", "Monte Carlo", "combined"], rows, css="toc"))
    out.append("</nav>")
    return "".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _sources(claim: Mapping[str, Any]) -> str:
    sources = claim.get("sources") or []
    if not sources:
        return f'<p class="muted">General result, not taken from the notes: {E.text(claim.get("general"))}</p>'
    items = "".join(f"<li><code>{E.text(s.get('document'))}</code>, {E.text(s.get('location'))}</li>"
                    for s in sources if isinstance(s, Mapping))
    return f'<ul class="plain">{items}</ul>'


def _corrected(view: ClaimView) -> str:
    corrected = view.claim.get("corrected")
    if not corrected:
        return ""
    sym, emp = view.record.symbolic or {}, view.record.empirical or {}
    refuted = sym.get("verdict") == "REFUTED" or emp.get("verdict") == "REFUTED"
    heading = "Corrected statement (what holds instead)" if refuted else "Corrected statement proposed in the catalogue"
    checked = ""
    if view.corrected_checked_tex:
        checked = f'<p class="check-kind">formula checked: {E.math(view.corrected_checked_tex)}</p>'
    verdicts = (f'<p class="verdict-line">symbolic {badge(sym.get("corrected_verdict"))}<span class="sep">|</span>'
                f'Monte Carlo {badge(emp.get("corrected_verdict"))}</p>')
    return (f'<div class="corrected"><h4>{heading}</h4><div class="formula">{E.math(corrected, True)}</div>'
            f"{checked}{verdicts}</div>")


# Proof-step wording made plain: a spot check that is not "all ... are 0" found a nonzero value.
_FAILED_SPOT = re.compile(r"component (\d+): exact spot check \(")
_GLOSSARY = {
    "S_a": r"S_a = \sum_i a_i,\ S_b = \sum_i b_i,\ P = \sum_i a_i b_i"
           r"\ \text{(}a_i, b_i\text{: two components of example } i\text{'s gradient)}",
}


def _steps(steps: list[Any], has_corrected: bool) -> str:
    """Proof steps as formulas; a second "claimed:" block is the corrected statement and is labelled so."""
    items, claimed_seen = [], 0
    glossary = []
    for step in steps:
        tex = str(step)
        if r"\text{claimed: }" in tex:
            claimed_seen += 1
            if claimed_seen > 1 and has_corrected:
                tex = tex.replace(r"\text{claimed: }", r"\text{corrected statement: }")
            else:
                tex = tex.replace(r"\text{claimed: }", r"\text{as printed in the notes: }")
        failed = _FAILED_SPOT.search(tex)
        if failed:
            tex = _FAILED_SPOT.sub(lambda m: f"component {m.group(1)} is not 0: exact spot check FAILED (", tex)
        items.append(f'<li class="{"failed" if failed else ""}">{E.math(tex)}</li>')
        for key, text in _GLOSSARY.items():
            if key in tex and text not in glossary:
                glossary.append(text)
    note = "".join(f'<p class="check-kind">where {E.math(g)}</p>' for g in glossary)
    return '<ol class="steps">' + "".join(items) + "</ol>" + note


def _proof(view: ClaimView) -> str:
    symbolic = view.record.symbolic
    if not symbolic:
        return '<h4>Proof</h4><p class="muted">No symbolic check was run.</p>'
    out = [f'<h4>Proof</h4><p>{badge(symbolic.get("verdict"))} Method: {E.text(symbolic.get("method"))}'
           f'<span class="muted"> ({E.number(symbolic.get("seconds"), 3)} s)</span></p>']
    steps = symbolic.get("steps") or []
    if isinstance(steps, list) and steps:
        out.append(_steps(steps, bool(view.claim.get("corrected"))))
    counterexample = symbolic.get("counterexample")
    if isinstance(counterexample, Mapping) and counterexample:
        rows = [[E.label(k), f"<code>{E.text(v)}</code>"] for k, v in counterexample.items()]
        out.append("<p>Counterexample (exact values; check by hand):</p>" + _table(["quantity", "value"], rows))
    if symbolic.get("reason"):
        out.append(f"<p>{E.rich(symbolic['reason'])}</p>")
    return "".join(out)


def _parameters(params: Any) -> str:
    if not isinstance(params, Mapping) or not params:
        return ""
    return '<div class="check-kind">' + ", ".join(f"{E.label(k)} = {E.number(v)}" for k, v in params.items()) + \
        "</div>"


def _check_rows(checks: list[Any]) -> list[list[str]]:
    rows = []
    for c in checks:
        if not isinstance(c, Mapping):
            continue
        role = ""
        if c.get("control"):
            role = '<span title="negative control: a deliberately wrong theory that must be refuted">control</span>, '
        elif c.get("theory_of") == "corrected":
            role = "corrected statement, "
        name = f'<div class="scroll">{E.label(c.get("name"))}</div><div class="check-kind">{role}{E.text(c.get("kind"))}</div>'
        name += _parameters(c.get("parameters"))
        interval = E.text(fmt_interval(c.get("ci_low"), c.get("ci_high")))
        level = c.get("confidence")
        if isinstance(level, (int, float)) and level and c.get("kind") == "statistical":
            interval += f'<div class="check-kind">{E.text(fmt_level(level))} level</div>'
        pvalue = c.get("pvalue_holm")
        rows.append([
            name, E.number(c.get("theory")), E.number(c.get("estimate")), interval,
            E.number(c.get("tolerance"), 3),
            E.text(fmt_pvalue(pvalue)) if isinstance(pvalue, (int, float)) else E.number(pvalue),
            E.number(c.get("min_detectable"), 3), E.number(c.get("replicas")), badge(c.get("verdict")),
        ])
    return rows


def _replicas_text(view: ClaimView) -> str:
    span = view.replicas
    if span is None:
        return f"{E.number((view.record.empirical or {}).get('replicas'))} replicas"
    low, high = span
    if low == high:
        return f"{E.number(low)} replicas per check"
    return f"{E.number(low)} to {E.number(high)} replicas per check (see the table)"


def _monte_carlo(view: ClaimView) -> str:
    emp = view.record.empirical
    if not emp:
        return '<h4>Monte Carlo</h4><p class="muted">No Monte Carlo experiment was run for this claim.</p>'
    quick = f" {_QUICK}" if view.quick else ""
    head = (f'<h4>Monte Carlo</h4><p>{badge(emp.get("verdict"))}{quick} {_replicas_text(view)}, '
            f'seed <code>{E.text(emp.get("seed"))}</code>, device <code>{E.text(emp.get("device"))}</code>, '
            f'{E.number(emp.get("seconds"), 3)} s.</p>')
    parts = [head]
    if emp.get("reason"):
        parts.append(f"<p>{E.rich(emp['reason'])}</p>")
    checks = emp.get("checks") or []
    if isinstance(checks, list) and checks:
        parts.append(_table(
            ["check", "theory", "estimate", "interval", '<span title="relative equivalence margin">tol.</span>',
             "Holm p", '<span title="smallest relative deviation the run could detect">min. det.</span>',
             "replicas", "verdict"],
            _check_rows(checks), numeric={1, 2, 3, 4, 5, 6, 7}, css="checks",
            labels=["check", "theory", "estimate", "interval", "tolerance", "Holm p", "min. detectable", "replicas",
                    "verdict"]))
        tests = sorted({str(c.get("test")) for c in checks if isinstance(c, Mapping) and c.get("test")})
        if tests:
            parts.append('<p class="muted">Tests: ' + "; ".join(E.text(t) for t in tests) + ".</p>")
    if view.figures:
        parts.append('<div class="figures">' + "".join(_img(f) for f in view.figures) + "</div>")
    return "".join(parts)


def _claim_section(view: ClaimView) -> str:
    claim, record = view.claim, view.record
    classes = "item claim" + (" is-stale" if view.stale else "") + (" is-quick" if view.quick else "")
    assumptions = claim.get("assumptions") or []
    if not isinstance(assumptions, list):
        assumptions = [assumptions]
    meta = record.meta
    provenance = [f"source hash <code>{E.text(str(record.source_hash)[:16])}</code>"]
    if meta.get("git_commit"):
        provenance.append(f"commit <code>{E.text(str(meta['git_commit'])[:12])}</code>")
    if meta.get("timestamp"):
        provenance.append(f"recorded {E.text(meta['timestamp'])}")
    provenance.append("quick budget" if view.quick else "full budget")
    if not record.final:
        provenance.append("incomplete record")
    checked = ""
    if view.checked_tex:
        checked = (f'<h4>Formula checked</h4><div class="formula">{E.math(view.checked_tex, True)}</div>')
    margin = ""
    margin_value = claim.get("margin", (record.empirical or {}).get("margin"))
    if margin_value is not None and record.empirical:
        margin = (f'<p class="muted">Equivalence margin of the claim (relative): {E.number(margin_value)}: '
                  "CONFIRMED needs each interval within this fraction of the theory.</p>")
    return "".join([
        f'<section class="{classes}" id="{_anchor(view.id)}">',
        f'<div class="item-head"><h3>{E.text(claim.get("title"))}</h3>'
        f'<div>{badge(record.combined)} {_freshness_badge(view)}</div></div>',
        f'<div class="id"><code>{E.text(view.id)}</code></div>',
        f'<div class="statements"><div><h4>Statement, as in the notes</h4>'
        f'<div class="formula">{E.math(claim.get("statement"), True)}</div></div>{checked and f"<div>{checked}</div>"}'
        "</div>",
        ('<h4>Assumptions</h4><ul class="plain">' + "".join(f"<li>{E.math(E.prose_tex(str(a)))}</li>" for a in assumptions) + "</ul>")
        if assumptions else "",
        f"<h4>Sources</h4>{_sources(claim)}",
        _corrected(view),
        _details(view, _proof(view) + _monte_carlo(view) + margin),
        f'<div class="provenance">{" · ".join(provenance)}</div>',
        "</section>",
    ])


def _details(view: ClaimView, inner: str) -> str:
    """Proof steps, checks and figures: open for a claim that needs attention, folded (no script) otherwise."""
    attention = str(view.record.combined) not in ("PROVED", "CONFIRMED") or view.freshness != "current"
    sym = (view.record.symbolic or {}).get("verdict")
    emp = (view.record.empirical or {}).get("verdict")
    summary = (f"Proof {badge(sym)} and Monte Carlo {badge(emp)}: steps, checks and figures")
    return f'<details class="evidence-block"{" open" if attention else ""}><summary>{summary}</summary>{inner}</details>'


def _severity_badge(severity: Any) -> str:
    s = re.sub(r"[^a-z]", "", str(severity or "info").lower())
    return f'<span class="badge sev-{s}">{E.text(s.upper())}</span>'


# Audit statistics in words (the audit record stores them under short keys).
STAT_WORDS = {
    "formulas": "formulas found", "checked": "formulas checked", "unchecked": "formulas not checked",
    "sides_parsed": "formula sides parsed", "sides": "formula sides", "parsed_fraction": "fraction of sides parsed",
    "statements": "statements", "findings": "findings", "errors": "errors", "warnings": "warnings",
    "seconds": "seconds", "lines": "lines", "timeouts": "formulas over the time bound",
}


def stat_value(value: Any, text, number) -> str:
    """A statistic's value: a number, or a count per reason ({reason: n}) as "reason (n), ..."."""
    if isinstance(value, Mapping):
        return ", ".join(f"{text(k)} ({number(v)})" for k, v in value.items()) or number(0)
    return number(value)


def stat_words(key: Any) -> str:
    """An audit statistic's key as words: known keys translated, others with underscores as spaces."""
    k = str(key)
    return STAT_WORDS.get(k, k.replace("_", " "))


def _audit_section(doc: Mapping[str, Any], index: int) -> str:
    """One audited document: each finding at its line, with severity, code, message, evidence and suggestion."""
    findings = [f for f in (doc.get("findings") or []) if isinstance(f, Mapping)]
    rows = []
    for f in findings:
        line, end = f.get("line"), f.get("end_line")
        where = E.text(line) if end in (None, line) else f"{E.text(line)}\u2013{E.text(end)}"
        detail = [f'<div class="finding">{E.rich(f.get("message"))}</div>']
        if f.get("evidence"):
            detail.append(f'<div class="evidence"><span class="label">counterexample / differing term</span> '
                          f'{E.rich(f.get("evidence"))}</div>')
        if f.get("suggestion"):
            detail.append(f'<div class="evidence"><span class="label">suggestion</span> '
                          f'{E.rich(f.get("suggestion"))}</div>')
        rows.append([where, _severity_badge(f.get("severity")), f"<code>{E.text(f.get('code'))}</code>",
                     "".join(detail)])
    body = (_table(["line", "severity", "code", "finding"], rows, css="findings")
            if rows else '<p class="muted">No findings.</p>')
    stats = doc.get("stats") or {}
    stats_html = ""
    if isinstance(stats, Mapping) and stats:
        stats_html = '<p class="muted">' + ", ".join(
            f"{E.text(stat_words(k))}: {stat_value(v, E.text, E.number)}" for k, v in stats.items()) + "</p>"
    return (f'<section class="item audit" id="audit-{index}"><div class="item-head"><h3>Audit of '
            f'<code>{E.text(doc.get("path"))}</code></h3><div>{len(findings)} finding(s)</div></div>'
            f"{stats_html}{body}</section>")


def _verdict_cell(text: str) -> str:
    """A verdict written as text ("REFUTED (control)") as a badge followed by the rest of the text."""
    word, _, rest = text.partition(" ")
    if word in {v.value for v in Verdict}:
        return badge(word) + (f' <span class="muted">{E.text(rest)}</span>' if rest else "")
    return E.text(text)


def _study_section(study: StudyView) -> str:
    data = study.data
    parts = [f'<section class="item study" id="study-{E.text(study.name)}"><div class="item-head">'
             f'<h3>{E.text(data.get("title") or study.name)}</h3><div><code>{E.text(study.name)}</code></div></div>']
    for key in ("question", "description", "conclusion"):
        if data.get(key):
            parts.append(f"<h4>{key}</h4><p>{E.rich(data[key])}</p>")
    table = value_table(data.get("values"))
    if table is not None:
        verdict_column = table.columns.index("verdict") if "verdict" in table.columns else -1
        rows = [[_verdict_cell(x) if i == verdict_column else (E.label(x) if i == 0 else E.text(x))
                 for i, x in enumerate(row)] for row in table.rows]
        parts.append(_table([E.text(c) for c in table.columns], rows,
                            numeric=set(range(1, len(table.columns))) - {verdict_column}, css="values"))
    if study.figures:
        parts.append('<div class="figures">' + "".join(_img(f) for f in study.figures) + "</div>")
    meta = data.get("meta") or {}
    if isinstance(meta, Mapping):
        bits = [f"{k} {E.text(meta[k])}" for k in ("seed", "device", "replicas", "git_commit") if meta.get(k) is not None]
        if meta.get("quick"):
            bits.append(_QUICK)
        if bits:
            parts.append(f'<div class="provenance">{" · ".join(bits)}</div>')
    parts.append("</section>")
    return "".join(parts)


def render_html(model: ReportModel) -> str:
    """The whole page as one string (formulas converted once and memoised in the model's render cache)."""
    cache = model.cache
    if cache is None:
        return _render_html(model)
    with E.memo(cache.table("mathml", E.memo_version())):
        page = _render_html(model)
    cache.save_tables()
    return page


def _render_html(model: ReportModel) -> str:
    body = [_masthead(model), "<main>"]
    if model.claims or model.audits:
        body.append(_errata(model))
    body.append(_summary(model))
    if model.claims:
        body.append('<h2 id="claims">Claims</h2>')
        for name, views in model.groups:
            body.append(f'<h2 class="topic" id="topic-{E.text(_slug(name))}">{E.text(name)}</h2>')
            body += [_claim_section(c) for c in views]
    if model.audits:
        body.append('<h2 id="audits">Audited documents</h2>')
        body += [_audit_section(d, i) for i, d in enumerate(model.audits)]
    if model.studies:
        body.append('<h2 id="studies">Studies</h2>')
        body += [_study_section(s) for s in model.studies]
    body.append(f'<footer class="page">{E.text(model.title)} · {len(model.claims)} claims · rendered from '
                f"<code>{E.text(model.store_dir)}</code> without re-running · {DASH} means not available</footer>")
    body.append("</main>")
    css = _css()
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp(css)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{E.text(model.title)}</title>"
        f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
