"""``emastats audit PATH ... [--format text|json] [--report] [--explain CODE]``.

Text output is one line per finding, like a linter: ``path:line: CODE severity: message``, then the evidence
and the suggested correction indented, then a summary per document. Exit code 1 when an error-severity
finding exists, 0 otherwise, 2 on bad usage or an unreadable file (one line on stderr, via ``EmastatsError``).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from .codes import explain
from .document import DocumentAudit, audit_path, read_document
from .worker import Worker


def format_text(audit: DocumentAudit) -> str:
    lines = []
    for f in audit.findings:
        lines.append(f"{audit.path}:{f.line}: {f.code} {f.severity}: {f.message}")
        if f.evidence:
            lines.append(f"    evidence: {f.evidence}")
        if f.suggestion:
            lines.append(f"    suggestion: {f.suggestion}")
    s = audit.stats
    lines.append(
        f"{audit.path}: {s['errors']} error(s), {s['warnings']} warning(s), {s['notes']} note(s); "
        f"{s['formulas']} formulas, {s['sides_parsed']}/{s['sides']} sides parsed, "
        f"{s['decided']}/{s['statements']} statements decided, {s['unchecked']} unchecked; {s['seconds']:.1f} s")
    return "\n".join(lines)


def _save_and_render(audits: list[DocumentAudit], store_dir: str, out_dir: str) -> str:
    from ..provenance import run_metadata
    from ..report import render
    from ..report.store import AUDIT_SCHEMA, ResultStore

    store = ResultStore(store_dir)
    meta = run_metadata(command="audit")
    for audit in audits:
        store.save_document({"schema": AUDIT_SCHEMA, **audit.to_dict(), "meta": meta})
    report = render(store_dir, out_dir)
    return f"audit records in {store_dir}; report written to {report.html}"


def run_cli(args: argparse.Namespace) -> int:
    """Audit the given files; see the module docstring for the output and exit codes."""
    if args.explain:
        print(explain(args.explain))
        return 0
    if getattr(args, "show_model", False):
        from .model import run_show_model
        return run_show_model(args)
    if not args.paths:
        raise UsageError("audit needs at least one PATH (a .md, .txt or .tex file) or --explain CODE")
    for path in args.paths:  # all inputs are checked before any work starts
        read_document(path)
    audits = []
    with Worker() as worker:
        for path in args.paths:
            audits.append(audit_path(path, worker))
    if args.format == "json":
        print(json.dumps({"documents": [a.to_dict() for a in audits]}, indent=2))
    else:
        print("\n".join(format_text(a) for a in audits))
    if args.report:
        message = _save_and_render(audits, args.store, args.out)
        print(message, file=sys.stderr if args.format == "json" else sys.stdout)
    return 1 if any(a.has_error for a in audits) else 0
