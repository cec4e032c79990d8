"""Audit one document: read it, extract its formulas, parse and check each in the worker, gather findings.

The context (definitions stated so far) lives here, in the parent; each formula's parsing and checking is one
worker call with a time bound, so a formula that hangs or exhausts memory costs its own findings only
(AUD202) and the document goes on with the context as it was before that formula.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputFileError
from .analyse import FormulaInfo, FormulaOutcome, RunState, Tally, analyse_formula
from .context import Context
from .extract import MAX_DOCUMENT_CHARS, extract
from .findings import Finding
from .model import build_model
from .parse import ParsedFormula, parse_formula
from .worker import Worker

SUFFIXES = {".md": "md", ".markdown": "md", ".txt": "txt", ".tex": "tex"}
FORMULA_SECONDS = 10.0  # parse + checks of one formula
MAX_FORMULAS = 3000  # notes have hundreds; beyond this the rest is reported as unchecked
DOCUMENT_SECONDS = 300.0  # a document's whole budget, so that many slow formulas cannot add up to a hang
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


def read_document(path: str) -> tuple[str, str]:
    """The text and kind ("md", "txt", "tex") of a notes file; InputFileError with the reason otherwise."""
    p = Path(path)
    kind = SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputFileError(f"{path}: not a .md, .txt or .tex file")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_DOCUMENT_CHARS:
        raise InputFileError(f"{path}: {len(raw)} bytes is larger than the {MAX_DOCUMENT_CHARS}-byte limit for notes")
    if b"\x00" in raw:
        raise InputFileError(f"{path}: binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # OCR output in a legacy encoding: the maths is ASCII anyway
    return text, kind


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


# The worker's per-document state: the context stays in the child between formulas, so it is never pickled.
_SESSION: dict = {}


def session_reset(seed: int, notation=None) -> None:
    _SESSION.clear()
    _SESSION.update(context=Context(), run=RunState(), seed=seed, notation=notation)


def session_formula(latex: str, info: FormulaInfo) -> FormulaReport:
    """Parse and check one formula in the worker, against (and updating) the session's context."""
    parsed: ParsedFormula = parse_formula(latex, _SESSION.get("notation"))
    context: Context = _SESSION["context"].copy()
    outcome: FormulaOutcome = analyse_formula(parsed, info, context, _SESSION["run"], _SESSION["seed"])
    _SESSION["context"], _SESSION["run"] = outcome.context, outcome.run
    sides = sum(len(st.sides) for st in parsed.statements)
    parsed_sides = sum(s.expr is not None for st in parsed.statements for s in st.sides)
    return FormulaReport(outcome.findings, outcome.tally, sides, parsed_sides, bool(parsed.rejected))


def session_replay(formulas: list[tuple[str, FormulaInfo]], seed: int, notation=None) -> None:
    """Rebuild the context in a fresh worker after a kill, from the formulas that were checked before."""
    session_reset(seed, notation)
    for latex, info in formulas:
        try:
            session_formula(latex, info)
        except Exception:  # a formula that failed before fails again: skip it, as the first pass did
            continue


def audit_text(text: str, kind: str, path: str, worker: Worker, seed: int = 0) -> DocumentAudit:
    """Audit a document's text (see the module docstring)."""
    start = time.perf_counter()
    formulas = extract(text, kind)
    _warm_parent()
    worker.warm_up(parse_formula, WARM_UP_FORMULA)
    model = build_model(text, kind, formulas)  # scopes and notation: the document model stage
    worker.call(session_reset, seed, model.notation)
    findings: list[Finding] = []
    totals = Tally()
    done: list[tuple[str, FormulaInfo]] = []
    sides = sides_parsed = rejected = timeouts = 0
    for number, formula in enumerate(formulas):
        if number >= MAX_FORMULAS or time.perf_counter() - start > DOCUMENT_SECONDS:
            why = (f"more than {MAX_FORMULAS} formulas" if number >= MAX_FORMULAS
                   else f"the document's {DOCUMENT_SECONDS:g} s budget is spent")
            findings.append(Finding(formula.line, formulas[-1].end_line, "AUD203",
                                    f"{len(formulas) - number} formulas from here on not checked: {why}"))
            break
        info = FormulaInfo(formula.line, formula.end_line, formula.display, formula.prose_before,
                           model.scope_of(formula.line), model.kind_of(formula.line))
        result = worker.call(session_formula, formula.latex, info, timeout=FORMULA_SECONDS)
        if not result.ok:
            timeouts += 1
            findings.append(Finding(formula.line, formula.end_line, "AUD202",
                                    f"formula not checked: {result.error}"))
            if result.timed_out or "died" in result.error:
                worker.warm_up(session_replay, done, seed, model.notation)
            continue
        report: FormulaReport = result.value
        done.append((formula.latex, info))
        findings += report.findings
        sides += report.sides
        sides_parsed += report.sides_parsed
        rejected += report.rejected
        for name in vars(totals):
            setattr(totals, name, getattr(totals, name) + getattr(report.tally, name))
    findings.sort(key=lambda f: (f.line, f.code))
    seconds = time.perf_counter() - start
    statements = max(totals.statements, 1)
    stats = {
        "formulas": len(formulas),
        "sides": sides,
        "sides_parsed": sides_parsed,
        "parsed_fraction": round(sides_parsed / sides, 4) if sides else 1.0,
        "statements": totals.statements,
        "decided": totals.decided,
        "decided_fraction": round(min(totals.decided, statements) / statements, 4),
        "holds": totals.holds,
        "definitions": totals.definitions,
        "unchecked": totals.unchecked + totals.unparsed,
        "unchecked_reasons": dict(totals.reasons.most_common()),
        "rejected": rejected,
        "timeouts": timeouts,
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
        "notes": sum(f.severity == "note" for f in findings),
        "seconds": round(seconds, 3),
    }
    return DocumentAudit(path, findings, stats)


def audit_path(path: str, worker: Worker, seed: int = 0) -> DocumentAudit:
    text, kind = read_document(path)
    return audit_text(text, kind, path, worker, seed)
