"""``reports/index.html``: one self-contained page that works offline.

No scripts, no external fonts, styles or images: the CSS is inlined, figures
are base64 PNG data URIs, formulas are MathML (rendered natively by browsers)
and a Content-Security-Policy forbids every network fetch, so opening the file
never touches the network.
"""
from __future__ import annotations

import base64
import html
from importlib import resources
from typing import Any, Iterable, Mapping

from ..verdict import Verdict
from .figures import Figure
from .formatting import DASH, fmt_interval, fmt_level, fmt_number, fmt_pvalue, value_table
from .mathml import inline_tex, split_prose, to_mathml
from .model import ClaimView, ReportModel, StudyView

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _css() -> str:
    return resources.files("emastats.report").joinpath("report.css").read_text(encoding="utf-8")


def badge(verdict: Any, extra: str = "") -> str:
    value = str(verdict) if verdict else "NOT_RUN"
    return f'<span class="badge v-{_e(value)} {extra}">{_e(value.replace("_", " "))}</span>'


def _freshness_badge(view: ClaimView) -> str:
    if view.freshness == "stale":
        return '<span class="badge stale" title="the claim, its proof or its experiment changed since this record was made">STALE</span>'
    if view.freshness == "partial":
        return '<span class="badge partial" title="the run stopped before this claim finished">PARTIAL</span>'
    if view.freshness == "unknown":
        return '<span class="badge unknown" title="the claim or its code could not be loaded to compare">UNCHECKED</span>'
    return ""


def rich_text(text: Any) -> str:
    """Prose that may hold maths: ``$...$`` spans typeset, else formulas found by ``split_prose`` typeset."""
    if text is None or text == "":
        return ""
    s = str(text)
    if "$" in s:
        return inline_tex(s)
    return "".join(to_mathml(seg.text).html if seg.is_math else _e(seg.text) for seg in split_prose(s))


def _math(tex: str | None, display: bool = False) -> str:
    return to_mathml(tex, display=display).html if tex else ""


def _label(text: str) -> str:
    """A counterexample's quantity: typeset when it reads as maths, else shown as written.

    Proofs name quantities in plain words too ("m_hat_1 (t = 0)"); those are labels,
    not failed formulas, so they get no "could not be typeset" note.
    """
    markup = to_mathml(text)
    return markup.html if markup.typeset else f"<code>{_e(text)}</code>"


def _img(fig: Figure) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(fig.caption)}">'
            f"<figcaption>{_e(fig.caption)}</figcaption></figure>")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset(),
           css: str = "") -> str:
    """A table from already-escaped cell HTML; columns in ``numeric`` hold figures (tabular, unbroken)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    table = f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    return f'<div class="table-wrap">{table}</div>'


# -- page parts ---------------------------------------------------------------------------------

def _masthead(model: ReportModel) -> str:
    runs = model.runs
    lines = [f"<p>Generated {_e(model.generated)} from the result store <code>{_e(model.store_dir)}</code>.</p>"]
    for run in runs[:4]:
        bits = [f"seed {_e(run['seed'])}" if run.get("seed") is not None else None,
                f"device {_e(run['device'])}" if run.get("device") else None,
                "quick budget" if run.get("quick") else None,
                f"commit <code>{_e(str(run['git_commit'])[:12])}</code>" if run.get("git_commit") else None,
                f"emastats {_e(run['emastats'])}" if run.get("emastats") else None,
                f"torch {_e(run['torch'])}" if run.get("torch") else None,
                f"sympy {_e(run['sympy'])}" if run.get("sympy") else None]
        lines.append("<p>Run: " + ", ".join(b for b in bits if b) + "</p>")
    if len(runs) > 4:
        lines.append(f"<p>... and {len(runs) - 4} more runs (see each claim).</p>")
    return (f'<header class="masthead"><div class="inner"><h1>{_e(model.title)}</h1>'
            f"{''.join(lines)}</div></header>")


def _summary(model: ReportModel) -> str:
    parts = ['<h2 id="summary">Summary</h2>']
    if model.claims:
        cards = "".join(
            f'<div class="card v-{_e(v)}"><div class="n">{n}</div><div class="label">{_e(v.replace("_", " "))}</div></div>'
            for v, n in model.counts.items()
        )
        parts.append(f'<p>{len(model.claims)} claims; combined verdict of the symbolic proof and the Monte Carlo '
                     f'experiment:</p><div class="cards">{cards}</div>')
    if model.stale_ids:
        ids = ", ".join(f'<a href="#claim-{_e(i)}"><code>{_e(i)}</code></a>' for i in model.stale_ids)
        parts.append(f'<div class="notice"><strong>{len(model.stale_ids)} stale record(s).</strong> The claim, its '
                     f"proof or its experiment changed after these were made; their verdicts are shown but must not "
                     f"be relied on. Re-run them with <code>emastats verify --resume</code>: {ids}</div>")
    if model.problems:
        items = "".join(f"<li><code>{_e(p.path)}</code>: {_e(p.reason)}</li>" for p in model.problems)
        parts.append(f'<div class="notice problem"><strong>Unreadable records.</strong> These files were skipped:'
                     f'<ul class="plain">{items}</ul></div>')
    if model.claims:
        rows = []
        for c in model.claims:
            rows.append([
                f'<a href="#claim-{_e(c.id)}"><code>{_e(c.id)}</code></a>',
                _e(c.claim.get("title")),
                badge((c.record.symbolic or {}).get("verdict")),
                badge((c.record.empirical or {}).get("verdict")),
                badge(c.record.combined) + " " + _freshness_badge(c),
            ])
        parts.append(_table(["claim", "title", "symbolic", "Monte Carlo", "combined"], rows))
    if model.audits or model.studies:
        links = [f'<a href="#audit-{i}">{_e(d.get("path"))}</a> ({len(d.get("findings", []))} findings)'
                 for i, d in enumerate(model.audits)]
        links += [f'<a href="#study-{_e(s.name)}">study {_e(s.name)}</a>' for s in model.studies]
        parts.append("<p>Also in this report: " + "; ".join(links) + ".</p>")
    return "\n".join(parts)


def _sources(claim: Mapping[str, Any]) -> str:
    sources = claim.get("sources") or []
    if not sources:
        return f'<p class="muted">General result, not taken from the notes: {_e(claim.get("general"))}</p>'
    items = "".join(f"<li><code>{_e(s.get('document'))}</code>, {_e(s.get('location'))}</li>" for s in sources)
    return f'<ul class="plain">{items}</ul>'


def _corrected(view: ClaimView) -> str:
    corrected = view.claim.get("corrected")
    if not corrected:
        return ""
    sym, emp = view.record.symbolic or {}, view.record.empirical or {}
    refuted = sym.get("verdict") == "REFUTED" or emp.get("verdict") == "REFUTED"
    heading = "Corrected statement (what holds instead)" if refuted else "Corrected statement proposed in the catalogue"
    verdicts = (f'<p class="verdict-line">symbolic {badge(sym.get("corrected_verdict"))}<span class="sep">|</span>'
                f'Monte Carlo {badge(emp.get("corrected_verdict"))}</p>')
    return (f'<div class="corrected"><h4>{heading}</h4><div class="formula">{_math(corrected, True)}</div>'
            f"{verdicts}</div>")


def _proof(symbolic: Mapping[str, Any] | None) -> str:
    if not symbolic:
        return '<h4>Proof</h4><p class="muted">No symbolic check was run.</p>'
    out = [f'<h4>Proof</h4><p>{badge(symbolic.get("verdict"))} Method: {_e(symbolic.get("method"))}'
           f'<span class="muted"> ({fmt_number(symbolic.get("seconds"), 3)} s)</span></p>']
    steps = symbolic.get("steps") or []
    if steps:
        out.append('<ol class="steps">' + "".join(f"<li>{_math(s)}</li>" for s in steps) + "</ol>")
    counterexample = symbolic.get("counterexample")
    if counterexample:
        rows = [[_label(str(k)), f"<code>{_e(v)}</code>"] for k, v in counterexample.items()]
        out.append("<p>Counterexample (exact values; check by hand):</p>" + _table(["quantity", "value"], rows))
    if symbolic.get("reason"):
        out.append(f"<p>{rich_text(symbolic['reason'])}</p>")
    return "".join(out)


def _check_rows(checks: list[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for c in checks:
        name = _e(c.get("name"))
        role = ""
        if c.get("control"):
            role = '<span title="negative control: a deliberately wrong theory that must be refuted">control</span>, '
        elif c.get("theory_of") == "corrected":
            role = "corrected statement, "
        name += f'<div class="check-kind">{role}{_e(c.get("kind"))}</div>'
        level = c.get("confidence")
        interval = fmt_interval(c.get("ci_low"), c.get("ci_high"))
        if level and c.get("kind") == "statistical":
            interval += f'<div class="check-kind">{fmt_level(level)} level</div>'
        rows.append([
            name,
            fmt_number(c.get("theory")),
            fmt_number(c.get("estimate")),
            interval,
            fmt_number(c.get("tolerance"), 3),
            fmt_pvalue(c.get("pvalue_holm")),
            fmt_number(c.get("min_detectable"), 3),
            fmt_number(c.get("replicas")),
            badge(c.get("verdict")),
        ])
    return rows


def _monte_carlo(view: ClaimView) -> str:
    emp = view.record.empirical
    if not emp:
        return '<h4>Monte Carlo</h4><p class="muted">No Monte Carlo experiment was run for this claim.</p>'
    head = (f'<h4>Monte Carlo</h4><p>{badge(emp.get("verdict"))} {fmt_number(emp.get("replicas"))} replicas, '
            f'seed <code>{_e(emp.get("seed"))}</code>, device <code>{_e(emp.get("device"))}</code>, '
            f'{fmt_number(emp.get("seconds"), 3)} s.</p>')
    parts = [head]
    if emp.get("reason"):
        parts.append(f"<p>{rich_text(emp['reason'])}</p>")
    checks = emp.get("checks") or []
    if checks:
        parts.append(_table(
            ["check", "theory", "estimate", "interval", '<span title="relative equivalence margin">tol.</span>',
             "Holm p", '<span title="smallest relative deviation the run could detect">min. det.</span>',
             "replicas", "verdict"],
            _check_rows(checks), numeric={1, 2, 3, 4, 5, 6, 7}, css="checks"))
        tests = sorted({str(c.get("test")) for c in checks if c.get("test")})
        if tests:
            parts.append('<p class="muted">Tests: ' + "; ".join(_e(t) for t in tests) + ".</p>")
    if view.figures:
        parts.append('<div class="figures">' + "".join(_img(f) for f in view.figures) + "</div>")
    return "".join(parts)


def _claim_section(view: ClaimView) -> str:
    claim, record = view.claim, view.record
    classes = "item claim" + (" is-stale" if view.stale else "")
    assumptions = claim.get("assumptions") or []
    meta = record.meta
    provenance = [f"source hash <code>{_e(record.source_hash[:16])}</code>"]
    if meta.get("git_commit"):
        provenance.append(f"commit <code>{_e(str(meta['git_commit'])[:12])}</code>")
    if meta.get("timestamp"):
        provenance.append(f"recorded {_e(meta['timestamp'])}")
    if not record.final:
        provenance.append("incomplete record")
    return "".join([
        f'<section class="{classes}" id="claim-{_e(view.id)}">',
        f'<div class="item-head"><h3>{_e(claim.get("title"))}</h3>'
        f'<div>{badge(record.combined)} {_freshness_badge(view)}</div></div>',
        f'<div class="id"><code>{_e(view.id)}</code></div>',
        f'<h4>Statement, as in the notes</h4><div class="formula">{_math(claim.get("statement"), True)}</div>',
        ('<h4>Assumptions</h4><ul class="plain">' + "".join(f"<li>{_math(a)}</li>" for a in assumptions) + "</ul>")
        if assumptions else "",
        f"<h4>Sources</h4>{_sources(claim)}",
        _corrected(view),
        _proof(record.symbolic),
        _monte_carlo(view),
        f'<div class="provenance">{" · ".join(provenance)}</div>',
        "</section>",
    ])


def _severity_badge(severity: Any) -> str:
    s = str(severity or "info").lower()
    return f'<span class="badge sev-{_e(s)}">{_e(s.upper())}</span>'


def _audit_section(doc: Mapping[str, Any], index: int) -> str:
    """One audited document: each finding at its line, with severity, code, message, evidence and suggestion."""
    findings = doc.get("findings") or []
    rows = []
    for f in findings:
        line, end = f.get("line"), f.get("end_line")
        where = f"{_e(line)}" if end in (None, line) else f"{_e(line)}\u2013{_e(end)}"
        detail = [f'<div class="finding">{rich_text(f.get("message"))}</div>']
        if f.get("evidence"):
            detail.append(f'<div class="evidence"><span class="label">counterexample / differing term</span> '
                          f'{rich_text(f.get("evidence"))}</div>')
        if f.get("suggestion"):
            detail.append(f'<div class="evidence"><span class="label">suggestion</span> '
                          f'{rich_text(f.get("suggestion"))}</div>')
        rows.append([where, _severity_badge(f.get("severity")), f"<code>{_e(f.get('code'))}</code>", "".join(detail)])
    body = (_table(["line", "severity", "code", "finding"], rows, css="findings")
            if rows else '<p class="muted">No findings.</p>')
    stats = doc.get("stats") or {}
    stats_html = ""
    if isinstance(stats, Mapping) and stats:
        stats_html = '<p class="muted">' + ", ".join(f"{_e(k)}: {_e(fmt_number(v))}" for k, v in stats.items()) + "</p>"
    return (f'<section class="item audit" id="audit-{index}"><div class="item-head"><h3>Audit of '
            f'<code>{_e(doc.get("path"))}</code></h3><div>{len(findings)} finding(s)</div></div>'
            f"{stats_html}{body}</section>")


def _verdict_cell(text: str) -> str:
    """A verdict written as text ("REFUTED (control)") as a badge followed by the rest of the text."""
    word, _, rest = text.partition(" ")
    if word in {v.value for v in Verdict}:
        return badge(word) + (f' <span class="muted">{_e(rest)}</span>' if rest else "")
    return _e(text)


def _study_section(study: StudyView) -> str:
    data = study.data
    parts = [f'<section class="item study" id="study-{_e(study.name)}"><div class="item-head">'
             f'<h3>{_e(data.get("title") or study.name)}</h3><div><code>{_e(study.name)}</code></div></div>']
    for key in ("question", "description", "conclusion"):
        if data.get(key):
            parts.append(f"<h4>{key}</h4><p>{rich_text(data[key])}</p>")
    table = value_table(data.get("values"))
    if table is not None:
        verdict_column = table.columns.index("verdict") if "verdict" in table.columns else -1
        rows = [[_verdict_cell(x) if i == verdict_column else _e(x) for i, x in enumerate(row)] for row in table.rows]
        parts.append(_table([_e(c) for c in table.columns], rows,
                            numeric=set(range(1, len(table.columns))) - {verdict_column}, css="values"))
    if study.figures:
        parts.append('<div class="figures">' + "".join(_img(f) for f in study.figures) + "</div>")
    meta = data.get("meta") or {}
    bits = [f"{k} {_e(meta[k])}" for k in ("seed", "device", "replicas", "git_commit") if meta.get(k) is not None]
    if bits:
        parts.append(f'<div class="provenance">{" · ".join(bits)}</div>')
    parts.append("</section>")
    return "".join(parts)


def render_html(model: ReportModel) -> str:
    """The whole page as one string."""
    body = [_masthead(model), "<main>", _summary(model)]
    if model.claims:
        body.append('<h2 id="claims">Claims</h2>')
        body += [_claim_section(c) for c in model.claims]
    if model.audits:
        body.append('<h2 id="audits">Audited documents</h2>')
        body += [_audit_section(d, i) for i, d in enumerate(model.audits)]
    if model.studies:
        body.append('<h2 id="studies">Studies</h2>')
        body += [_study_section(s) for s in model.studies]
    body.append(f'<footer class="page">{_e(model.title)} · {len(model.claims)} claims · rendered from '
                f"<code>{_e(model.store_dir)}</code> without re-running · {DASH} means not available</footer>")
    body.append("</main>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{_e(model.title)}</title>"
        f"<style>{_css()}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
