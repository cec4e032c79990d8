"""``reports/index.md``: the report as GitHub-flavoured Markdown, ``$...$`` maths and PNG figures.

Same content and order as the HTML page (both read one ReportModel): errata per
document first, then conventions, counts, contents and the claims by topic.
Every string from a document or a store record goes through ``escape``
(``md_text``, ``md_code``, ``md_math``, ``md_number``, ``md_rich``), so a file
name or message cannot become a link, emphasis or live HTML in a CommonMark
renderer, and a formula cannot split a table row.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from . import escape as E
from .errata import Erratum
from .formatting import fmt_interval, fmt_level, fmt_pvalue, value_table
from .html import stat_value, stat_words
from .model import ClaimView, ReportModel, StudyView


def md_escape(text: Any) -> str:
    """Plain text safe in Markdown (kept for callers of the earlier name; see ``escape.md_text``)."""
    return E.md_text(text)


def _verdict(v: Any) -> str:
    return f"**{E.md_text(v or 'NOT_RUN')}**"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _anchor(claim_id: str) -> str:
    """GitHub's heading anchor for '### `id`': lower case, dots dropped."""
    return re.sub(r"[^a-z0-9_-]", "", claim_id.lower())


def _marks(c: ClaimView) -> str:
    marks = []
    if c.quick:
        marks.append("QUICK")
    if c.freshness != "current":
        marks.append(c.freshness.upper())
    return (" " + " ".join(marks)) if marks else ""


def _difference(e: Erratum) -> str:
    d = e.difference
    if d is None:
        return "not computed"
    what = "factors" if d.level == "factors" else "terms"
    printed = ", ".join(E.md_math(t, in_table=True) for t in d.printed) or "none"
    corrected = ", ".join(E.md_math(t, in_table=True) for t in d.corrected) or "none"
    return f"printed {what}: {printed}; corrected {what}: {corrected}"


def _erratum_row(e: Erratum) -> list[str]:
    if e.claim_id is None:
        note = E.md_rich(e.note, True) + (f" ({E.md_rich(e.evidence, True)})" if e.evidence else "")
        return [E.md_text(e.location), f"{E.md_code(e.code, True)} audit", note,
                E.md_rich(e.suggestion, True) or "—", "—"]
    return [f"{E.md_text(e.location)} ([{E.md_text(e.claim_id)}](#{_anchor(e.claim_id)}))", E.md_text(e.title),
            E.md_math(e.printed, in_table=True), E.md_math(e.corrected, in_table=True) if e.corrected else "—",
            _difference(e)]


_ERRATA_HEAD = ["where", "claim", "printed in the notes", "correction", "difference"]


def _errata(model: ReportModel) -> list[str]:
    out = ["## Errata: what is wrong in the notes", ""]
    if not model.errata:
        out += ["No refuted claim and no audit error: nothing in the notes was found wrong.", ""]
    for doc, items in model.errata.items():
        out += [f"### Errata in {E.md_code(doc)} ({len(items)})", "",
                _table(_ERRATA_HEAD, [_erratum_row(e) for e in items]), ""]
    if model.conventions:
        out += ["### Conventions that differ from implementations", "",
                "Not errors in the mathematics: the notes use another convention than torch.optim or pandas.", "",
                _table(_ERRATA_HEAD, [_erratum_row(e) for e in model.conventions]), ""]
    return out


def _summary(model: ReportModel) -> list[str]:
    out = ["## Summary", ""]
    if model.claims:
        names = list(model.counts)
        rows = [[E.md_text(v), str(model.counts_symbolic.get(v, 0)), str(model.counts_empirical.get(v, 0)),
                 str(model.counts.get(v, 0))] for v in names]
        out += [f"{len(model.claims)} claims, counted by symbolic, Monte Carlo and combined verdict:", "",
                _table(["verdict", "symbolic", "Monte Carlo", "combined"], rows), ""]
        if model.quick_count:
            out += [f"**QUICK**: {model.quick_count} of {len(model.claims)} claims were simulated with the quick "
                    "budget (fewer replicas).", ""]
    if model.stale_ids:
        out += [f"> **{len(model.stale_ids)} stale record(s)**: the claim, its proof or its experiment changed after "
                "they were made; re-run with `emastats verify --resume`: "
                + ", ".join(E.md_code(i) for i in model.stale_ids), ""]
    if model.problems:
        out += ["> **Store problems** (records left out):"]
        out += [f"> - {E.md_code(getattr(p, 'path', ''))}: "
                f"{E.md_text(getattr(p, 'message', None) or getattr(p, 'reason', ''))}" for p in model.problems]
        out.append("")
    if model.claims:
        out += ["## Contents", ""]
        for name, views in model.groups:
            out += [f"**{E.md_text(name)}**", ""]
            rows = [[f"[{E.md_text(c.claim.get('title'))}](#{_anchor(c.id)})",
                     _verdict((c.record.symbolic or {}).get("verdict")),
                     _verdict((c.record.empirical or {}).get("verdict")), _verdict(c.record.combined) + _marks(c)]
                    for c in views]
            out += [_table(["claim", "symbolic", "Monte Carlo", "combined"], rows), ""]
    return out


def _check_name(c: Mapping[str, Any]) -> str:
    name = E.md_label(c.get("name"), in_table=True) + (" (control)" if c.get("control") else "")
    params = c.get("parameters")
    if isinstance(params, Mapping) and params:
        name += " (" + ", ".join(f"{E.md_label(k, True)} = {E.md_number(v)}" for k, v in params.items()) + ")"
    return name


def _claim(view: ClaimView, figure_dir: str) -> list[str]:
    claim, record = view.claim, view.record
    sym, emp = record.symbolic or {}, record.empirical or {}
    stale = " — **STALE**: re-run with `emastats verify --resume`" if view.stale else ""
    quick = " — **QUICK** budget" if view.quick else ""
    out = [f"### {E.md_code(view.id)}", "",
           f"**{E.md_text(claim.get('title'))}** — combined verdict {_verdict(record.combined)}{stale}{quick}", "",
           "Statement, as in the notes:", "", E.md_math(claim.get("statement", ""), display=True), ""]
    if view.checked_tex:
        out += ["Formula checked:", "", E.md_math(view.checked_tex, display=True), ""]
    assumptions = claim.get("assumptions") or []
    if isinstance(assumptions, list) and assumptions:
        out += ["Assumptions:", ""] + [f"- {E.md_math(E.prose_tex(str(a)))}" for a in assumptions] + [""]
    sources = [s for s in claim.get("sources") or [] if isinstance(s, Mapping)]
    if sources:
        out += ["Sources:", ""] + [f"- {E.md_code(s.get('document'))}, {E.md_text(s.get('location'))}"
                                   for s in sources]
    else:
        out.append(f"General result, not taken from the notes: {E.md_text(claim.get('general'))}")
    out.append("")
    if claim.get("corrected"):
        refuted = "REFUTED" in (sym.get("verdict"), emp.get("verdict"))
        label = "Corrected statement (what holds instead)" if refuted else "Corrected statement proposed in the catalogue"
        out += [f"{label}: symbolic {_verdict(sym.get('corrected_verdict'))}, Monte Carlo "
                f"{_verdict(emp.get('corrected_verdict'))}", "", E.md_math(claim["corrected"], display=True), ""]
    if sym:
        out += [f"**Proof** — {_verdict(sym.get('verdict'))}, method: {E.md_text(sym.get('method'))} "
                f"({E.md_number(sym.get('seconds'), 3)} s)", ""]
        steps = sym.get("steps") if isinstance(sym.get("steps"), list) else []
        out += [f"{i}. {E.md_math(s)}" for i, s in enumerate(steps, 1)]
        if steps:
            out.append("")
        cx = sym.get("counterexample")
        if isinstance(cx, Mapping) and cx:
            rows = [[E.md_label(k, in_table=True), E.md_code(v, True)] for k, v in cx.items()]
            out += ["Counterexample (exact values):", "", _table(["quantity", "value"], rows), ""]
        if sym.get("reason"):
            out += [E.md_rich(sym["reason"]), ""]
    else:
        out += ["**Proof** — no symbolic check was run.", ""]
    if emp:
        span = view.replicas
        reps = (E.md_number(emp.get("replicas")) + " replicas" if span is None else
                f"{E.md_number(span[0])} replicas per check" if span[0] == span[1] else
                f"{E.md_number(span[0])} to {E.md_number(span[1])} replicas per check")
        out += [f"**Monte Carlo** — {_verdict(emp.get('verdict'))}: {reps}, seed {E.md_code(emp.get('seed'))}, "
                f"device {E.md_code(emp.get('device'))}, {E.md_number(emp.get('seconds'), 3)} s", ""]
        if emp.get("reason"):
            out += [E.md_rich(emp["reason"]), ""]
        rows = []
        for c in emp.get("checks") or []:
            if not isinstance(c, Mapping):
                continue
            level = c.get("confidence")
            level_text = (f" ({fmt_level(level)})" if isinstance(level, (int, float)) and level
                          and c.get("kind") == "statistical" else "")
            p = c.get("pvalue_holm")
            rows.append([_check_name(c), E.md_number(c.get("theory")), E.md_number(c.get("estimate")),
                         E.md_text(fmt_interval(c.get("ci_low"), c.get("ci_high")) + level_text),
                         E.md_number(c.get("tolerance"), 3),
                         E.md_text(fmt_pvalue(p)) if isinstance(p, (int, float)) else E.md_number(p),
                         E.md_number(c.get("replicas")), _verdict(c.get("verdict"))])
        if rows:
            out += [_table(["check", "theory", "estimate", "interval", "tolerance", "Holm p", "replicas", "verdict"],
                           rows), ""]
        for fig in view.figures:
            out += [f"![{E.md_text(fig.caption)}]({figure_dir}/{fig.filename})", ""]
    else:
        out += ["**Monte Carlo** — no experiment was run for this claim.", ""]
    commit = record.meta.get("git_commit")
    out += [f"<sub>source hash {E.md_code(str(record.source_hash)[:16])}"
            + (f", commit {E.md_code(str(commit)[:12])}" if commit else "")
            + (", quick budget" if view.quick else "")
            + ("" if record.final else ", incomplete record") + "</sub>", ""]
    return out


def _audit(doc: Mapping[str, Any]) -> list[str]:
    findings = [f for f in doc.get("findings") or [] if isinstance(f, Mapping)]
    out = [f"### Audit of {E.md_code(doc.get('path'))}", "", f"{len(findings)} finding(s).", ""]
    stats = doc.get("stats")
    if isinstance(stats, Mapping) and stats:
        out += [", ".join(f"{E.md_text(stat_words(k))}: {stat_value(v, E.md_text, E.md_number)}" for k, v in stats.items()), ""]
    if findings:
        rows = []
        for f in findings:
            line, end = f.get("line"), f.get("end_line")
            where = E.md_text(line) if end in (None, line) else f"{E.md_text(line)}–{E.md_text(end)}"
            rows.append([where, f"**{E.md_text(f.get('severity'))}**", E.md_code(f.get("code"), True),
                         E.md_rich(f.get("message"), True), E.md_rich(f.get("evidence"), True),
                         E.md_rich(f.get("suggestion"), True)])
        out += [_table(["line", "severity", "code", "finding", "counterexample / differing term", "suggestion"], rows),
                ""]
    return out


def _study(study: StudyView, figure_dir: str) -> list[str]:
    data = study.data
    out = [f"### Study {E.md_code(study.name)}", ""]
    if data.get("title"):
        out += [f"**{E.md_text(data['title'])}**", ""]
    for key in ("question", "description", "conclusion"):
        if data.get(key):
            out += [f"*{key}*: {E.md_rich(data[key])}", ""]
    table = value_table(data.get("values"))
    if table is not None:
        out += [_table([E.md_text(c) for c in table.columns], [[E.md_text(x) for x in row] for row in table.rows]), ""]
    for fig in study.figures:
        out += [f"![{E.md_text(fig.caption)}]({figure_dir}/{fig.filename})", ""]
    return out


def render_markdown(model: ReportModel, figure_dir: str = "figures") -> str:
    """The whole report as Markdown; figures are linked from ``figure_dir`` (relative to the .md file)."""
    if model.cache is None:
        return _render_markdown(model, figure_dir)
    with E.memo(model.cache.table("mathml", E.memo_version())):
        text = _render_markdown(model, figure_dir)
    model.cache.save_tables()
    return text


def _render_markdown(model: ReportModel, figure_dir: str) -> str:
    out = [f"# {E.md_text(model.title)}", "",
           f"Generated {E.md_text(model.generated)} from the result store {E.md_code(model.store_dir)}.", ""]
    bits = []
    for key, values in model.run_fields():
        name = {"quick": "budget", "git_commit": "commit"}.get(key, key)
        if len(values) == 1:
            bits.append(f"{name} {E.md_code(values[0][0])}")
        else:
            bits.append(f"{name} " + " / ".join(f"{E.md_code(v)} ({n} claim{'' if n == 1 else 's'})" for v, n in values))
    if bits:
        out += ["Run: " + ", ".join(bits), ""]
    if model.claims or model.audits:
        out += _errata(model)
    out += _summary(model)
    if model.claims:
        out += ["## Claims", ""]
        for name, views in model.groups:
            out += [f"## {E.md_text(name)}", ""]
            for c in views:
                out += _claim(c, figure_dir)
    if model.audits:
        out += ["## Audited documents", ""]
        for d in model.audits:
            out += _audit(d)
    if model.studies:
        out += ["## Studies", ""]
        for s in model.studies:
            out += _study(s, figure_dir)
    return "\n".join(out).rstrip() + "\n"
