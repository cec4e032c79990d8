"""Audit one document: read it, extract its formulas, parse and check each in the worker, gather findings.

Everything that reads the document's content runs in the worker process under the document's time budget:
turning the file into text (``readers``), finding the formulas (``extract``), and each formula's parsing and
checking (one worker call with its own time bound, so a formula that hangs or exhausts memory costs its own
findings only: AUD202). The parent only reads bytes (bounded, see ``readers.read_bytes``) and keeps the clock.

The context (definitions stated so far) lives in the worker. After each formula the worker sends back a pickled
checkpoint of it (a few kB); when a formula's worker is killed, the fresh worker restores the last checkpoint,
or, if a checkpoint could not be made, replays the formulas since the last one, within the remaining budget.
If that fails too the context is reset, an AUD204 warning says how many formulas' definitions were lost, and
every formula that was not checked (timed out, or beyond the budget) is counted as unchecked.
"""
from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field, replace

from ..errors import InputFileError
from .analyse import FormulaInfo, FormulaOutcome, RunState, Tally, analyse_formula
from .context import Context
from .extract import Formula, extract
from .findings import Finding
from .model import DocumentModel, build_model
from .parse import ParsedFormula, parse_formula
from .pseudocode import PseudoCodeResult, audit_pseudocode
from .readers import PDF_NOTE, Source, read_input, to_source
from .worker import Worker

FORMULA_SECONDS = 10.0  # parse + checks of one formula
MAX_FORMULAS = 3000  # notes have hundreds; beyond this the rest is reported as unchecked
DOCUMENT_SECONDS = 300.0  # a document's whole budget, so that many slow formulas cannot add up to a hang
RESTORE_SECONDS = 90.0  # at most this, and at most half the remaining budget, to rebuild the context
# Exercises the parser's common paths once, so the first real formula is not charged the warm-up.
WARM_UP_FORMULA = r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\langle g^2 \rangle_{t+1}} + \epsilon} \hat{m}_{t} + \sum_{i=1}^{N} (1-\beta)^2 x_i"


@dataclass
class DocumentAudit:
    """Findings and statistics of one audited document."""

    path: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def has_error(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict:
        return {"path": self.path, "findings": [f.to_dict() for f in self.findings], "stats": self.stats}


@dataclass(frozen=True)
class Prepared:
    """A document turned into formulas by the worker: its source (without the text) and how long that took."""

    source: Source
    formulas: list[Formula]
    model: DocumentModel  # scopes and notation: the document-model stage, built in the worker
    seconds: float
    pseudocode: PseudoCodeResult = field(default_factory=PseudoCodeResult)  # code blocks' checks (pseudocode.py)


def _prepare_in_worker(path: str, fmt: str, raw: bytes) -> Prepared | str:
    """Runs in the worker: the formulas of a file's bytes, or the one-line reason it cannot be audited."""
    start = time.perf_counter()
    try:
        source = to_source(path, fmt, raw)
    except InputFileError as exc:
        return str(exc)
    formulas = extract(source.text, source.dialect)
    model = build_model(source.text, source.dialect, formulas)
    pseudo = audit_pseudocode(source.text, source.dialect, model.scope_of)
    return Prepared(replace(source, text=""), formulas, model, time.perf_counter() - start, pseudo)


def prepare(path: str, worker: Worker, raw: tuple[str, bytes] | None = None) -> Prepared:
    """Read a notes file and find its formulas (in the worker, within the document's budget).

    InputFileError (one line, exit 2) when the file cannot be read, holds no text, or takes longer than the
    document's budget to turn into formulas.
    """
    fmt, data = raw if raw is not None else read_input(path)
    _warm_parent()
    start = time.perf_counter()
    result = worker.call(_prepare_in_worker, path, fmt, data, timeout=DOCUMENT_SECONDS)
    if result.timed_out:
        raise InputFileError(f"{path}: finding the formulas took longer than the document's {DOCUMENT_SECONDS:g} s "
                             "budget; nothing was checked")
    if not result.ok:
        raise InputFileError(f"{path}: cannot read the notes ({result.error})")
    if isinstance(result.value, str):
        raise InputFileError(result.value)
    return replace(result.value, seconds=time.perf_counter() - start)


def read_document(path: str) -> tuple[str, str]:
    """The text and extractor dialect of a text notes file (.md, .qmd, .txt, .tex, .html); InputFileError otherwise.

    Kept for callers that want the text itself; the audit goes through ``prepare``.
    """
    fmt, raw = read_input(path)
    if fmt in ("pdf", "ipynb"):
        raise InputFileError(f"{path}: a {fmt} file has no plain text; use prepare() to audit it")
    source = to_source(path, fmt, raw)
    return source.text, source.dialect


_PARENT_WARM: list[bool] = []


def _warm_parent() -> None:
    """Import and exercise the parser once in this process: workers forked later inherit its tables."""
    if not _PARENT_WARM:
        parse_formula(WARM_UP_FORMULA)  # a fixed, known formula: safe to run outside the worker
        _PARENT_WARM.append(True)


@dataclass(frozen=True)
class FormulaReport:
    """What the worker sends back for one formula (small: no sympy objects cross the process boundary)."""

    findings: list[Finding]
    tally: Tally
    sides: int
    sides_parsed: int
    rejected: bool
    checkpoint: bytes | None = None  # the pickled context after this formula; None when it cannot be pickled


# The worker's per-document state: the context stays in the child between formulas; a pickled copy (the
# checkpoint) goes to the parent so that a fresh child can take over after a kill.
_SESSION: dict = {}


class ContextLost(RuntimeError):
    """The worker has no context (a fresh process that was never reset); the parent resets it."""


def session_reset(seed: int, notation=None) -> None:
    _SESSION.clear()
    _SESSION.update(context=Context(), run=RunState(), seed=seed, notation=notation)


def _checkpoint() -> bytes | None:
    try:
        return pickle.dumps((_SESSION["context"], _SESSION["run"]), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an unpicklable expression: the parent falls back to replaying formulas
        return None


def session_formula(latex: str, info: FormulaInfo) -> FormulaReport:
    """Parse and check one formula in the worker, against (and updating) the session's context."""
    if "context" not in _SESSION:
        raise ContextLost("the worker has no context")
    parsed: ParsedFormula = parse_formula(latex, _SESSION.get("notation"))
    context: Context = _SESSION["context"].copy()
    outcome: FormulaOutcome = analyse_formula(parsed, info, context, _SESSION["run"], _SESSION["seed"])
    _SESSION["context"], _SESSION["run"] = outcome.context, outcome.run
    sides = sum(len(st.sides) for st in parsed.statements)
    parsed_sides = sum(s.expr is not None for st in parsed.statements for s in st.sides)
    return FormulaReport(outcome.findings, outcome.tally, sides, parsed_sides, bool(parsed.rejected), _checkpoint())


def session_restore(checkpoint: bytes | None, formulas: list[tuple[str, FormulaInfo]], seed: int,
                    notation=None) -> None:
    """Rebuild the context in a fresh worker after a kill: the last checkpoint, then the formulas checked since.

    The checkpoint was pickled by this package's own worker from this document, never read from a file.
    """
    session_reset(seed, notation)
    if checkpoint is not None:
        context, run = pickle.loads(checkpoint)
        _SESSION.update(context=context, run=run)
    for latex, info in formulas:
        try:
            session_formula(latex, info)
        except Exception:  # a formula that failed before fails again: skip it, as the first pass did
            continue


def audit_text(text: str, kind: str, path: str, worker: Worker, seed: int = 0) -> DocumentAudit:
    """Audit a document given as text in an extractor dialect ("md", "txt", "tex" or "plain")."""
    if not text.strip():
        raise InputFileError(f"{path}: the text is empty; there is nothing to audit")
    start = time.perf_counter()
    result = worker.call(_extract_with_model, text, kind, timeout=DOCUMENT_SECONDS)
    if not result.ok:
        raise InputFileError(f"{path}: cannot find the formulas ({result.error})")
    fmt = {"md": "md", "txt": "txt", "tex": "tex"}.get(kind, "html")
    formulas, model, pseudo = result.value
    return audit_prepared(Prepared(Source(path, fmt, ""), formulas, model, time.perf_counter() - start, pseudo),
                          worker, seed)


def _extract_with_model(text: str, kind: str) -> tuple[list[Formula], DocumentModel, PseudoCodeResult]:
    """Runs in the worker: a text's formulas, its document model and its pseudo-code checks."""
    formulas = extract(text, kind)
    model = build_model(text, kind, formulas)
    return formulas, model, audit_pseudocode(text, kind, model.scope_of)


def _restore(worker: Worker, checkpoint: bytes | None, tail: list, seed: int, notation, seconds: float) -> bool:
    result = worker.call(session_restore, checkpoint, tail, seed, notation, timeout=max(seconds, 0.1))
    return result.ok


def audit_prepared(prepared: Prepared, worker: Worker, seed: int = 0) -> DocumentAudit:
    """Check every formula of a prepared document (see the module docstring)."""
    start = time.perf_counter() - prepared.seconds  # the budget counts the reading too
    formulas = prepared.formulas
    _warm_parent()
    worker.warm_up(parse_formula, WARM_UP_FORMULA)
    model = prepared.model
    worker.call(session_reset, seed, model.notation)
    findings: list[Finding] = []
    totals = Tally()
    checkpoint: bytes | None = None
    tail: list[tuple[str, FormulaInfo]] = []  # checked since the last checkpoint (only when pickling failed)
    checked = 0  # formulas whose definitions are in the worker's context
    sides = sides_parsed = rejected = timeouts = not_checked = lost = 0
    for number, formula in enumerate(formulas):
        remaining = DOCUMENT_SECONDS - (time.perf_counter() - start)
        if number >= MAX_FORMULAS or remaining <= 0:
            why = (f"more than {MAX_FORMULAS} formulas" if number >= MAX_FORMULAS
                   else f"the document's {DOCUMENT_SECONDS:g} s budget is spent")
            not_checked += len(formulas) - number
            findings.append(Finding(formula.line, formulas[-1].end_line, "AUD203",
                                    f"{len(formulas) - number} formulas from here on not checked: {why}"))
            break
        info = FormulaInfo(formula.line, formula.end_line, formula.display, formula.prose_before,
                           model.scope_of(formula.line), model.kind_of(formula.line),
                           prose_after=formula.prose_after)
        result = worker.call(session_formula, formula.latex, info, timeout=min(FORMULA_SECONDS, remaining))
        if not result.ok:
            timeouts += result.timed_out
            not_checked += 1
            findings.append(Finding(formula.line, formula.end_line, "AUD202",
                                    f"formula not checked: {result.error}"))
            if result.timed_out or "died" in result.error or "ContextLost" in result.error:
                remaining = DOCUMENT_SECONDS - (time.perf_counter() - start)
                seconds = min(RESTORE_SECONDS, remaining / 2)
                if not _restore(worker, checkpoint, tail, seed, model.notation, seconds):
                    worker.call(session_reset, seed, model.notation)
                    lost += checked
                    findings.append(Finding(
                        formula.line, formula.end_line, "AUD204",
                        f"the definitions of the {checked} formulas checked before this line were lost (rebuilding "
                        f"them after the timeout took longer than {seconds:.3g} s); "
                        "later formulas are checked without them"))
                    checkpoint, tail, checked = None, [], 0
            continue
        report: FormulaReport = result.value
        checked += 1
        if report.checkpoint is not None:
            checkpoint, tail = report.checkpoint, []
        else:
            tail.append((formula.latex, info))
        findings += report.findings
        sides += report.sides
        sides_parsed += report.sides_parsed
        rejected += report.rejected
        for name in vars(totals):
            setattr(totals, name, getattr(totals, name) + getattr(report.tally, name))
    pseudo = prepared.pseudocode
    findings += pseudo.findings
    totals.statements += pseudo.statements
    totals.decided += pseudo.decided
    totals.holds += pseudo.holds
    totals.definitions += pseudo.statements - pseudo.decided
    if not formulas and not pseudo.statements:
        findings.append(Finding(1, 1, "AUD205", _no_formulas_message(prepared.source)))
    findings = [_locate(f, prepared.source) for f in findings]
    findings.sort(key=lambda f: (f.line, f.code))
    seconds = time.perf_counter() - start
    statements = max(totals.statements, 1)
    stats = {
        "format": prepared.source.fmt,
        "formulas": len(formulas),
        "sides": sides,
        "sides_parsed": sides_parsed,
        "parsed_fraction": round(sides_parsed / sides, 4) if sides else 1.0,
        "statements": totals.statements,
        "decided": totals.decided,
        "decided_fraction": round(min(totals.decided, statements) / statements, 4),
        "holds": totals.holds,
        "definitions": totals.definitions,
        "unchecked": totals.unchecked + totals.unparsed + not_checked,
        "unchecked_reasons": dict(totals.reasons.most_common()),
        "formulas_not_checked": not_checked,
        "context_lost": lost,
        "rejected": rejected,
        "timeouts": timeouts,
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "notes": sum(f.severity == "note" for f in findings),
        "seconds": round(seconds, 3),
    }
    if prepared.source.approximate:
        stats["approximate"] = PDF_NOTE
    return DocumentAudit(prepared.source.path, findings, stats)


def _no_formulas_message(source: Source) -> str:
    where = {"pdf": "the PDF's text layer", "ipynb": "the notebook's Markdown cells", "html": "the page's text"}
    return (f"no formulas found in {where.get(source.fmt, 'the notes')}: nothing was checked. Maths must be "
            "between $…$, $$…$$, \\[…\\], \\begin{equation}…\\end{equation} (or align, gather, …) or in a "
            "```math fence")


def _locate(finding: Finding, source: Source) -> Finding:
    """A finding at the file's line; notebooks name the cell, PDFs the page and that their text is approximate."""
    if source.file_lines is None and source.labels is None:
        return finding
    n = len(source.labels or source.file_lines or ())

    def at(line: int) -> int:
        if source.file_lines is None:
            return line
        return source.file_lines[min(max(line, 1), n) - 1]

    label = source.labels[min(max(finding.line, 1), n) - 1] if source.labels else ""
    if source.approximate:
        label = f"{label} of the extracted text; {PDF_NOTE}"
    message = f"{finding.message} [{label}]" if label else finding.message
    return replace(finding, line=at(finding.line), end_line=at(finding.end_line), message=message)


def audit_path(path: str, worker: Worker, seed: int = 0) -> DocumentAudit:
    """Read, extract and audit one notes file."""
    return audit_prepared(prepare(path, worker), worker, seed)
