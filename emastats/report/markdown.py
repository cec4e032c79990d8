"""``reports/index.md``: the report as GitHub-flavoured Markdown, ``$...$`` maths and PNG figures.

Same content and order as the HTML page (both read one ReportModel). Formulas
go through ``mathml.normalise`` so that prose in assumptions reads as text in
GitHub's math renderer too; inside table cells ``|`` is written ``\\vert`` so a
formula cannot split the row.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from .formatting import fmt_interval, fmt_level, fmt_number, fmt_pvalue, value_table
from .mathml import normalise, split_prose
from .model import ClaimView, ReportModel, StudyView

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(text: Any) -> str:
    """Plain text safe in Markdown (no accidental emphasis, links, HTML or table breaks)."""
    return _MD_SPECIAL.sub(r"\\\1", "" if text is None else str(text)).replace("\n", " ")


def inline_math(tex: str, in_table: bool = False) -> str:
    s = normalise(tex).replace("\n", " ")
    if in_table:
        s = s.replace("|", r"\vert ")
    return f"${s}$"


def display_math(tex: str) -> str:
    return f"$$\n{normalise(tex)}\n$$"


def md_rich(text: Any, in_table: bool = False) -> str:
    """Prose that may hold maths: kept ``$...$`` spans, else formulas found by ``split_prose`` in ``$...$``."""
    if text is None or text == "":
        return ""
    s = str(text)
    if "$" in s:
        return s.replace("|", r"\|") if in_table else s
    return "".join(inline_math(seg.text, in_table) if seg.is_math else md_escape(seg.text) for seg in split_prose(s))


def _verdict(v: Any) -> str:
    return f"**{v or 'NOT_RUN'}**"


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _anchor(claim_id: str) -> str:
    """GitHub's heading anchor for '### `id`': lower case, dots dropped."""
    return re.sub(r"[^a-z0-9_-]", "", claim_id.lower())


def _summary(model: ReportModel) -> list[str]:
    out = ["## Summary", ""]
    if model.claims:
        out += [f"{len(model.claims)} claims; combined verdict of the symbolic proof and the Monte Carlo experiment:",
                "", _table(["verdict", "claims"], [[v, str(n)] for v, n in model.counts.items()]), ""]
    if model.stale_ids:
        out += [f"> **{len(model.stale_ids)} stale record(s)**: the claim, its proof or its experiment changed after "
                "they were made; re-run with `emastats verify --resume`: "
                + ", ".join(f"`{i}`" for i in model.stale_ids), ""]
    if model.problems:
        out += ["> **Unreadable records** (skipped):"] + [f"> - `{p.path}`: {md_escape(p.reason)}" for p in model.problems]
        out.append("")
    if model.claims:
        rows = []
        for c in model.claims:
            flag = f" {c.freshness.upper()}" if c.freshness != "current" else ""
            rows.append([f"[`{c.id}`](#{_anchor(c.id)})", md_escape(c.claim.get("title")),
                         _verdict((c.record.symbolic or {}).get("verdict")),
                         _verdict((c.record.empirical or {}).get("verdict")), _verdict(c.record.combined) + flag])
        out += [_table(["claim", "title", "symbolic", "Monte Carlo", "combined"], rows), ""]
    return out


def _claim(view: ClaimView, figure_dir: str) -> list[str]:
    claim, record = view.claim, view.record
    sym, emp = record.symbolic or {}, record.empirical or {}
    stale = " — **STALE**: re-run with `emastats verify --resume`" if view.stale else ""
    out = [f"### `{view.id}`", "", f"**{md_escape(claim.get('title'))}** — combined verdict {_verdict(record.combined)}"
           f"{stale}", "", "Statement, as in the notes:", "", display_math(claim.get("statement", "")), ""]
    if claim.get("assumptions"):
        out += ["Assumptions:", ""] + [f"- {inline_math(a)}" for a in claim["assumptions"]] + [""]
    if claim.get("sources"):
        out += ["Sources:", ""] + [f"- `{s.get('document')}`, {md_escape(s.get('location'))}" for s in claim["sources"]]
    else:
        out.append(f"General result, not taken from the notes: {md_escape(claim.get('general'))}")
    out.append("")
    if claim.get("corrected"):
        refuted = "REFUTED" in (sym.get("verdict"), emp.get("verdict"))
        label = "Corrected statement (what holds instead)" if refuted else "Corrected statement proposed in the catalogue"
        out += [f"{label}: symbolic {_verdict(sym.get('corrected_verdict'))}, Monte Carlo "
                f"{_verdict(emp.get('corrected_verdict'))}", "", display_math(claim["corrected"]), ""]
    if sym:
        out += [f"**Proof** — {_verdict(sym.get('verdict'))}, method: {md_escape(sym.get('method'))} "
                f"({fmt_number(sym.get('seconds'), 3)} s)", ""]
        out += [f"{i}. {inline_math(s)}" for i, s in enumerate(sym.get("steps") or [], 1)]
        if sym.get("steps"):
            out.append("")
        if sym.get("counterexample"):
            rows = [[inline_math(str(k), True), f"`{v}`"] for k, v in sym["counterexample"].items()]
            out += ["Counterexample (exact values):", "", _table(["quantity", "value"], rows), ""]
        if sym.get("reason"):
            out += [md_rich(sym["reason"]), ""]
    else:
        out += ["**Proof** — no symbolic check was run.", ""]
    if emp:
        out += [f"**Monte Carlo** — {_verdict(emp.get('verdict'))}: {fmt_number(emp.get('replicas'))} replicas, "
                f"seed `{emp.get('seed')}`, device `{emp.get('device')}`, {fmt_number(emp.get('seconds'), 3)} s", ""]
        if emp.get("reason"):
            out += [md_rich(emp["reason"]), ""]
        rows = []
        for c in emp.get("checks") or []:
            name = md_escape(c.get("name")) + (" (control)" if c.get("control") else "")
            level = f" ({fmt_level(c['confidence'])})" if c.get("confidence") and c.get("kind") == "statistical" else ""
            rows.append([name, fmt_number(c.get("theory")), fmt_number(c.get("estimate")),
                         fmt_interval(c.get("ci_low"), c.get("ci_high")) + level, fmt_number(c.get("tolerance"), 3),
                         fmt_pvalue(c.get("pvalue_holm")), fmt_number(c.get("replicas")), _verdict(c.get("verdict"))])
        if rows:
            out += [_table(["check", "theory", "estimate", "interval", "tolerance", "Holm p", "replicas", "verdict"],
                           rows), ""]
        for fig in view.figures:
            out += [f"![{md_escape(fig.caption)}]({figure_dir}/{fig.filename})", ""]
    else:
        out += ["**Monte Carlo** — no experiment was run for this claim.", ""]
    commit = record.meta.get("git_commit")
    out += [f"<sub>source hash `{record.source_hash[:16]}`" + (f", commit `{str(commit)[:12]}`" if commit else "")
            + ("" if record.final else ", incomplete record") + "</sub>", ""]
    return out


def _audit(doc: Mapping[str, Any]) -> list[str]:
    findings = doc.get("findings") or []
    out = [f"### Audit of `{doc.get('path')}`", "", f"{len(findings)} finding(s).", ""]
    if findings:
        rows = []
        for f in findings:
            line, end = f.get("line"), f.get("end_line")
            rows.append([str(line) if end in (None, line) else f"{line}–{end}", f"**{f.get('severity')}**",
                         f"`{f.get('code')}`", md_rich(f.get("message"), True), md_rich(f.get("evidence"), True),
                         md_rich(f.get("suggestion"), True)])
        out += [_table(["line", "severity", "code", "finding", "counterexample / differing term", "suggestion"], rows),
                ""]
    return out


def _study(study: StudyView, figure_dir: str) -> list[str]:
    data = study.data
    out = [f"### Study `{study.name}`", ""]
    if data.get("title"):
        out += [f"**{md_escape(data['title'])}**", ""]
    for key in ("question", "description", "conclusion"):
        if data.get(key):
            out += [f"*{key}*: {md_rich(data[key])}", ""]
    table = value_table(data.get("values"))
    if table is not None:
        out += [_table(table.columns, [[md_escape(x) for x in row] for row in table.rows]), ""]
    for fig in study.figures:
        out += [f"![{md_escape(fig.caption)}]({figure_dir}/{fig.filename})", ""]
    return out


def render_markdown(model: ReportModel, figure_dir: str = "figures") -> str:
    """The whole report as Markdown; figures are linked from ``figure_dir`` (relative to the .md file)."""
    out = [f"# {model.title}", "",
           f"Generated {model.generated} from the result store `{model.store_dir}`.", ""]
    for run in model.runs[:4]:
        bits = [f"seed `{run['seed']}`" if run.get("seed") is not None else "",
                f"device `{run['device']}`" if run.get("device") else "",
                "quick budget" if run.get("quick") else "",
                f"commit `{str(run['git_commit'])[:12]}`" if run.get("git_commit") else "",
                f"emastats {run['emastats']}" if run.get("emastats") else "",
                f"torch {run['torch']}" if run.get("torch") else ""]
        out += ["Run: " + ", ".join(b for b in bits if b), ""]
    out += _summary(model)
    if model.claims:
        out += ["## Claims", ""]
        for c in model.claims:
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
