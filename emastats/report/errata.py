"""Errata: what is wrong in each source document, and the terms by which the printed formula differs.

A claim whose proof or experiment REFUTED it is an erratum of every document it
cites; a claim about an implementation (``impl.*``: what torch.optim or pandas
compute) is a *convention difference*, listed apart, since the notes are not
wrong to use another convention. An audit finding of severity ``error`` is an
erratum of the audited file at its line.

``differing_terms`` compares the printed and the corrected formula as sympy
objects: both are parsed by the audit's bounded parser (``audit.parse``: size and
bracket pre-checks, sympy's LaTeX grammar, never ``eval``/``sympify`` of text),
sides are paired in order, and for each pair that differs the summands present
on one side only are reported (or, when both sides are one product sharing
factors, the factors present on one side only). When a formula does not parse,
no difference is claimed: the entry shows both formulas and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

MAX_TERMS = 6  # more differing terms than this is a rewrite, not a typo: listed as "whole side"


@dataclass(frozen=True)
class Difference:
    """Terms (LaTeX, from sympy objects) found only in the printed formula and only in the correction."""

    printed: tuple[str, ...]
    corrected: tuple[str, ...]
    level: str  # "terms" (summands) or "factors"

    def to_dict(self) -> dict[str, Any]:
        return {"printed_only": list(self.printed), "corrected_only": list(self.corrected), "level": self.level}


@dataclass(frozen=True)
class Erratum:
    """One thing wrong in a document: where, what is printed, what holds, and how they differ."""

    document: str
    location: str
    printed: str  # LaTeX as in the notes (or the audit's quoted formula)
    corrected: str | None
    difference: Difference | None
    claim_id: str | None = None  # None for an audit finding
    title: str = ""
    verdicts: Mapping[str, str] | None = None
    note: str = ""  # an audit finding's message
    evidence: str = ""  # an audit finding's counterexample or differing term
    suggestion: str = ""
    code: str = ""  # an audit finding's code
    checked: str | None = None  # the formula the proof checked (LaTeX from sympy), when recorded
    corrected_checked: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "document": self.document, "location": self.location, "claim": self.claim_id, "title": self.title,
            "printed": self.printed, "corrected": self.corrected,
            "difference": self.difference.to_dict() if self.difference else None,
            "verdicts": dict(self.verdicts or {}), "note": self.note, "evidence": self.evidence,
            "suggestion": self.suggestion, "code": self.code, "checked": self.checked,
            "corrected_checked": self.corrected_checked,
        }


def _printer(display: Mapping[str, str]) -> Any:
    """sympy's LaTeX printer, showing the audit parser's canonical names as the notes write them.

    (Defined on first use: the report imports this module without paying for sympy.)
    """
    import sympy
    from sympy.core.function import AppliedUndef
    from sympy.printing.latex import LatexPrinter

    class Printer(LatexPrinter):
        def _name(self, key: str) -> str:
            if key.endswith("^") and len(key) > 1:
                return r"\hat{" + self._name(key[:-1]) + "}"
            shown = display.get(key, key)
            if shown == key or not shown.startswith("\\"):
                return super()._print_Symbol(sympy.Symbol(key))
            return shown

        def _print_Symbol(self, expr: Any, style: str = "plain") -> str:  # noqa: ARG002
            return self._name(expr.name)

        def _print_Sum(self, expr: Any) -> str:
            # the parser writes an unbounded \sum_i as a sum from 1 to |i|: print it as the notes do
            if all(len(lim) == 3 and lim[1] == 1 and str(lim[2]) == f"|{lim[0]}|" for lim in expr.limits):
                index = ", ".join(self._print(lim[0]) for lim in expr.limits)
                return r"\sum_{" + index + "} " + self._print(expr.function)
            return super()._print_Sum(expr)

        def _print_Function(self, expr: Any, exp: str | None = None) -> str:
            if isinstance(expr, AppliedUndef):  # the parser writes a subscripted name x_{t+1} as x(t + 1)
                args = ", ".join(self._print(a) for a in expr.args)
                out = "{" + self._name(type(expr).__name__) + "}_{" + args + "}"
                return "{" + out + "}^{" + exp + "}" if exp else out
            return super()._print_Function(expr, exp)

    return Printer({"mul_symbol": None})


_SEPARATORS = (r",\qquad", r",\quad", r",\ ", r";\ ", r"\qquad", r"\quad", ";")


def split_statements(latex: str) -> list[str]:
    r"""``latex`` cut at top-level statement separators (``,\ ``, ``\quad``, ``;``) outside any bracket.

    The notes chain several equations in one display (``\hat m = ..., \hat v = ..., w = ...``); each is
    parsed and compared on its own, so that one unparsable piece does not hide the others.
    """
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(latex):
        ch = latex[i]
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth = max(0, depth - 1)
        elif depth == 0:
            for sep in _SEPARATORS:
                if latex.startswith(sep, i) and not latex[i + len(sep):i + len(sep) + 1].isalpha() or (
                        latex.startswith(sep, i) and sep[-1] == " "):
                    pieces.append(latex[start:i])
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
                continue
            continue
        i += 1
    pieces.append(latex[start:])
    return [p.strip() for p in pieces if p.strip()]


def _word_like(expr: Any) -> bool:
    """A parse that read a word as a product of letters (``w^{torch}`` as w^(c h o r t)): not a formula."""
    if expr is None:
        return False
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Mul):
            letters = [f for f in node.args if isinstance(f, sympy.Symbol) and len(f.name) == 1]
            if len(letters) >= 4 or (len(letters) >= 3 and any(
                    isinstance(p, sympy.Pow) and p.exp is node for p in sympy.preorder_traversal(expr))):
                return True
    return False


def _sides(latex: str) -> tuple[list[tuple[tuple[str, ...], list[Any]]], dict[str, str]] | None:
    """Statements of ``latex`` as (relations, sympy sides; None for a side that did not parse), and the names."""
    from ..audit.parse import parse_formula

    statements: list[tuple[tuple[str, ...], list[Any]]] = []
    atoms: dict[str, str] = {}
    for piece in split_statements(latex):
        try:
            parsed = parse_formula(piece)
        except Exception:  # the parser is bounded; a failure means "no difference claimed" for this piece
            continue
        if parsed.rejected:
            continue
        statements += [(tuple(st.relations), [None if _word_like(side.expr) else side.expr for side in st.sides])
                       for st in parsed.statements]
        atoms.update(parsed.atoms)
    return (statements, atoms) if statements else None


def _only(a: Iterable[Any], b: Iterable[Any]) -> list[Any]:
    rest = list(b)
    out = []
    for term in a:
        if term in rest:
            rest.remove(term)
        else:
            out.append(term)
    return out


def _compare(a: Any, b: Any) -> tuple[list[Any], list[Any], str] | None:
    """Summands (or factors) of sympy ``a`` not in ``b`` and of ``b`` not in ``a``; None when ``a == b``."""
    import sympy

    if a == b:
        return None
    ta, tb = sympy.Add.make_args(a), sympy.Add.make_args(b)
    only_a, only_b = _only(ta, tb), _only(tb, ta)
    if len(only_a) == 1 and len(only_b) == 1:
        fa, fb = sympy.Mul.make_args(only_a[0]), sympy.Mul.make_args(only_b[0])
        xa, xb = _only(fa, fb), _only(fb, fa)
        shared = [f for f in fa if f in fb and not f.is_number]
        if shared and not all(f.is_number for f in (*xa, *xb)):
            return xa, xb, "factors"
    return only_a, only_b, "terms"


def differing_terms(printed: str | None, corrected: str | None) -> Difference | None:
    """The terms by which two formulas differ, from their sympy parses; None when that cannot be computed.

    Each formula is cut into statements (``split_statements``); a printed
    statement is paired with the first correction statement that has the same
    chain of relations and one identical side (the same equation, e.g. the same
    left-hand side); sides are then paired by position; a side that did not
    parse on either formula is skipped (no guess). None also when no parsed side
    differs, or when a side differs in more than ``MAX_TERMS`` terms.
    """
    if not printed or not corrected:
        return None
    pa, pc = _sides(printed) or (None, None), _sides(corrected) or (None, None)
    (sa, atoms_a), (sc, atoms_c) = pa, pc
    if sa is None or sc is None:
        return None
    printer = _printer({**atoms_a, **atoms_c})
    only_p: list[str] = []
    only_c: list[str] = []
    levels = set()
    unused = list(sc)
    for rel_a, stmt_a in sa:
        # the same equation: same chain of relations and one side (e.g. the left-hand side) identical
        match = next(((rel_c, stmt_c) for rel_c, stmt_c in unused if rel_c == rel_a and len(stmt_c) == len(stmt_a)
                      and any(x is not None and x == y for x, y in zip(stmt_a, stmt_c))), None)
        if match is None:
            continue
        unused.remove(match)
        stmt_c = match[1]
        for side_a, side_c in zip(stmt_a, stmt_c):
            if side_a is None or side_c is None:
                continue
            found = _compare(side_a, side_c)
            if found is None:
                continue
            xa, xc, level = found
            if len(xa) + len(xc) > MAX_TERMS:
                return None
            levels.add(level)
            only_p += [printer.doprint(t) for t in xa]
            only_c += [printer.doprint(t) for t in xc]
    if not only_p and not only_c:
        return None
    return Difference(tuple(dict.fromkeys(only_p)), tuple(dict.fromkeys(only_c)),
                      "factors" if levels == {"factors"} else "terms")


def is_convention(claim_id: str) -> bool:
    """A claim about what an implementation (torch.optim, pandas) computes: a convention, not an error."""
    return claim_id.startswith("impl.")


def is_refuted(record: Any) -> bool:
    """Whether the notes' statement was refuted, by the proof, the experiment or the combination."""
    sides = [(record.symbolic or {}).get("verdict"), (record.empirical or {}).get("verdict"), record.combined]
    return "REFUTED" in sides
