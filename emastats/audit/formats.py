"""Render audit results for people and for tools: linter text, JSON, SARIF 2.1.0 and GitHub workflow commands.

- ``text``: ``path:line: CODE severity: message``, the evidence and suggestion indented, a summary per document.
- ``json``: ``{"documents": [DocumentAudit.to_dict(), ...]}``.
- ``sarif``: one SARIF 2.1.0 run whose tool driver lists every finding code as a rule; each finding is a result
  with its rule, level (error, warning, note) and a physical location (artifact URI relative to the working
  directory when the file is under it, and the region's start and end lines), so GitHub code scanning can show
  it on a pull request (``github/codeql-action/upload-sarif``).
- ``github``: one workflow command per finding (``::error file=…,line=…,endLine=…,title=AUD001::message``) that
  GitHub Actions turns into an annotation; values are escaped as the Actions runner expects (``%``, CR and LF in
  the message; also ``:`` and ``,`` in properties).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from .codes import CODES
from .document import DocumentAudit

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def format_text(audit: DocumentAudit) -> str:
    lines = []
    for f in audit.findings:
        lines.append(f"{audit.path}:{f.line}: {f.code} {f.severity}: {f.message}")
        if f.evidence:
            lines.append(f"    evidence: {f.evidence}")
        if f.suggestion:
            lines.append(f"    suggestion: {f.suggestion}")
    lines.append(summary(audit))
    return "\n".join(lines)


def summary(audit: DocumentAudit) -> str:
    """One line: counts of findings and formulas, what was decided, what was left unchecked and why."""
    s = audit.stats
    line = (f"{audit.path}: {s['errors']} error(s), {s['warnings']} warning(s), {s['notes']} note(s); "
            f"{s['formulas']} formulas, {s['sides_parsed']}/{s['sides']} sides parsed, "
            f"{s['decided']}/{s['statements']} statements decided, {s['unchecked']} unchecked")
    if s.get("formulas_not_checked"):
        line += (f" ({s['formulas_not_checked']} formulas not checked: over their time or memory bound, "
                 "or past the formula limit or the document's time budget)")
    if s.get("context_lost"):
        line += f"; context of {s['context_lost']} formulas lost after a timeout"
    if s.get("approximate"):
        line += f"; {s['approximate']}"
    return line + f"; {s['seconds']:.1f} s"


def format_json(audits: list[DocumentAudit]) -> str:
    return json.dumps({"documents": [a.to_dict() for a in audits]}, indent=2)


def artifact_uri(path: str) -> str:
    """A relative URI (forward slashes, percent-encoded) for a file under the working directory, else file://."""
    p = Path(path)
    try:
        relative = p.resolve().relative_to(Path.cwd().resolve()) if p.is_absolute() else None
    except ValueError:
        return p.resolve().as_uri()
    posix = (relative if relative is not None else p).as_posix()
    while posix.startswith("./"):
        posix = posix[2:]
    if posix.startswith("../"):
        return p.resolve().as_uri()
    return quote(posix, safe="/")


def sarif(audits: list[DocumentAudit], version: str = "") -> dict:
    """The SARIF 2.1.0 log of an audit (see the module docstring)."""
    rule_ids = list(CODES)
    rules = [{
        "id": c.code,
        "name": "".join(w.capitalize() for w in c.title.replace("(", " ").replace(")", " ").split()
                        if w.isalnum()),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": c.explanation},
        "help": {"text": f"{c.title}. {c.explanation} (emastats audit --explain {c.code})"},
        "defaultConfiguration": {"level": c.severity},
    } for c in CODES.values()]
    results = []
    artifacts: list[dict] = []
    for audit in audits:
        uri = artifact_uri(audit.path)
        artifacts.append({"location": {"uri": uri}})
        for f in audit.findings:
            text = f.message
            if f.evidence:
                text += f"\nEvidence: {f.evidence}"
            if f.suggestion:
                text += f"\nSuggestion: {f.suggestion}"
            results.append({
                "ruleId": f.code,
                "ruleIndex": rule_ids.index(f.code),
                "level": f.severity,
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri, "index": len(artifacts) - 1},
                    "region": {"startLine": max(1, f.line), "endLine": max(1, f.line, f.end_line)},
                }}],
            })
    driver = {"name": "emastats audit", "rules": rules}
    if version:
        driver["version"] = version
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "artifacts": artifacts, "results": results,
                  "columnKind": "unicodeCodePoints"}],
    }


def format_sarif(audits: list[DocumentAudit]) -> str:
    try:
        from importlib.metadata import version

        tool_version = version("emastats")
    except Exception:  # not installed as a distribution (running from a checkout)
        tool_version = ""
    return json.dumps(sarif(audits, tool_version), indent=2)


def escape_data(value: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded (the runner decodes them)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property value: as a message, and ``:`` and ``,`` too."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_github(audits: list[DocumentAudit]) -> str:
    """One ``::error|warning|notice`` command per finding, then each document's summary as a plain log line."""
    lines = []
    for audit in audits:
        name = os.path.relpath(audit.path) if os.path.isabs(audit.path) else audit.path
        for f in audit.findings:
            text = f.message + (f"\nEvidence: {f.evidence}" if f.evidence else "") + (
                f"\nSuggestion: {f.suggestion}" if f.suggestion else "")
            props = (f"file={escape_property(name)},line={max(1, f.line)},endLine={max(1, f.line, f.end_line)},"
                     f"title={escape_property(f'{f.code} {CODES[f.code].title}')}")
            lines.append(f"::{_GITHUB_LEVEL[f.severity]} {props}::{escape_data(text)}")
        lines.append(summary(audit))
    return "\n".join(lines)
