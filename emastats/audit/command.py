"""``emastats audit PATH ... [--format text|json|sarif|github] [--report] [--explain CODE]``.

Text output is one line per finding, like a linter: ``path:line: CODE severity: message``, then the evidence
and the suggested correction indented, then a summary per document; ``sarif`` and ``github`` fit code scanning
and workflow annotations (see ``formats``). Exit code 1 when an error-severity finding exists, 0 otherwise, 2 on
bad usage or an unreadable, empty or binary file (one line on stderr, via ``EmastatsError``).

Inputs: .md, .markdown, .qmd, .rmd, .txt, .tex, .ipynb, .pdf, .html, .htm (see ``readers``).
"""
from __future__ import annotations

import argparse
import sys

from ..errors import UsageError
from .codes import explain
from .document import DocumentAudit, audit_prepared, prepare
from .formats import format_github, format_json, format_sarif, format_text
from .readers import check_input
from .worker import Worker

FORMATS = ("text", "json", "sarif", "github")


def _save_and_render(audits: list[DocumentAudit], store_dir: str, out_dir: str) -> str:
    from ..provenance import run_metadata
    from ..report import render
    from ..report.store import AUDIT_SCHEMA, ResultStore

    store = ResultStore(store_dir)
    meta = run_metadata(command="audit")
    for audit in audits:
        store.save_document({"schema": AUDIT_SCHEMA, **audit.to_dict(), "meta": meta})
    report = render(store_dir, out_dir)
    return f"audit records in {store_dir}; report: {report.html.resolve()}"


def run_cli(args: argparse.Namespace) -> int:
    """Audit the given files; see the module docstring for the output and exit codes."""
    if getattr(args, "list_codes", False):
        from .codes import CODES

        width = max(len(c) for c in CODES)
        print("\n".join(f"{c.code:<{width}}  {c.severity:<7}  {c.title}" for c in CODES.values()))
        return 0
    if args.explain == "":
        print("usage: emastats audit --explain CODE; list the codes with 'emastats audit --list-codes'")
        return 0
    if args.explain:
        print(explain(args.explain))
        return 0
    if getattr(args, "show_model", False):
        from .model import run_show_model
        return run_show_model(args)
    if not args.paths:
        raise UsageError("audit needs at least one PATH (a .md, .qmd, .ipynb, .tex, .txt, .pdf or .html file) "
                         "or --explain CODE")
    for path in args.paths:  # cheap checks (format, regular file, size) of every file first
        check_input(path)
    with Worker() as worker:
        # every file is read and its formulas found before any is checked: a bad input stops the run early
        prepared = [prepare(path, worker) for path in args.paths]
        audits = [audit_prepared(p, worker) for p in prepared]
    fmt = getattr(args, "format", "text")
    if fmt == "json":
        print(format_json(audits))
    elif fmt == "sarif":
        print(format_sarif(audits))
    elif fmt == "github":
        print(format_github(audits))
    else:
        print("\n".join(format_text(a) for a in audits))
    if args.report:
        message = _save_and_render(audits, args.store, args.out)
        print(message, file=sys.stdout if fmt == "text" else sys.stderr)
    return 1 if any(a.has_error for a in audits) else 0
