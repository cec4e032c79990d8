"""Parse a formula into statements of sympy expressions, after size and bracket pre-checks.

A formula becomes rows (``\\\\`` in aligned blocks), rows become statements (split further at ``\\qquad``), and a
statement is a chain of sides joined by relations: ``a = b = c`` is sides ``[a, b, c]`` and relations
``["=", "="]``. A row that starts with a relation (``&= …``) continues the previous row's last side.

Pre-checks run on the raw text before any parser sees it, because sympy's LaTeX backends have traps: one
evaluates ``10^{10^{10}}`` while parsing, another silently stops at an unmatched bracket (``x+y)+z`` parses as
``x+y``) and reads ``E[x]`` as ``E*x``. So: brackets must balance, sides are bounded in length, numeric power
towers are refused, and ``E[…]`` is rewritten to an operator by ``normalise``. Parsing itself uses sympy's
ANTLR backend (``parse_latex``) on the normalised text; no document text reaches ``eval``/``sympify``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy
from sympy.core.function import AppliedUndef

from .normalise import (Normalised, Notation, TooLarge, Unsupported, clean_text, normalise_side, operator_name,
                        placeholder_name, tokenize)

MAX_FORMULA_CHARS = 4000
MAX_SIDE_CHARS = 1200
RELATIONS = {"=": "=", "\\neq": "!=", "\\ne": "!=", "\\approx": "~", "\\leq": "<=", "\\le": "<=", "\\geq": ">=",
             "\\ge": ">=", "<": "<", ">": ">", "\\to": "->", "\\rightarrow": "->", "\\sim": "~", "\\equiv": "==",
             "\\propto": "prop", "\\Rightarrow": "=>", "\\implies": "=>", "\\approxeq": "~", "\\simeq": "~",
             "\\lt": "<", "\\gt": ">", "\\leqslant": "<=", "\\geqslant": ">=",
             # assignments (pseudo-code and definitions): "<-" = the left side takes the right side's value
             "\\Leftrightarrow": "<=>", "\\iff": "<=>", "\\mapsto": "->",
             "\\leftarrow": "<-", "\\gets": "<-", "\\coloneqq": "<-", "\\pluseq": "+=", "\\minuseq": "-="}
# Assignment spellings rewritten to one token each before splitting (``:=`` would otherwise split at ``=``).
_ASSIGNMENTS = ((re.compile(r"\\mathrel\{\+\}\s*=|(?<![\\{])\+\s*="), r" \\pluseq "),
                (re.compile(r"\\mathrel\{-\}\s*=|(?<![\\{<>])-\s*="), r" \\minuseq "),
                (re.compile(r":\s*=|\\mathrel\{:\}\s*=|\\colonequals"), r" \\coloneqq "),
                # "equal by definition" (\stackrel{def}{=}, \defeq, \triangleq): an equation, read as one (a name on
                # the left is defined by it, a moment on the left is a derivation step)
                (re.compile(r"\\defeq|\\triangleq|\\(?:stackrel|overset)\{\s*(?:\\text(?:rm)?\{\s*|\\mathrm\{\s*)?"
                            r"(?:def|\\triangle|\\Delta)\s*\}?\s*\}\s*(?:\{\s*=\s*\}|=)"), " = "),
                # a relation with a note over it (\stackrel{(a)}{=}, \overset{\text{Jensen}}{\le}): the relation
                (re.compile(r"\\(?:stackrel|overset|underset)\{(?:[^{}]|\{[^{}]*\})*\}\s*\{\s*(=|<|>|\\[lg]eq?|\\approx|\\neq?)"
                            r"\s*\}"), r" \1 "))
_UNSUPPORTED_ENVS = ("cases", "array", "matrix", "pmatrix", "bmatrix", "vmatrix", "tabular")


class Rejected(ValueError):
    """The formula fails a pre-check (unbalanced brackets, too long): reported as a warning, never parsed."""


@dataclass(frozen=True)
class Side:
    """One side of a statement: its LaTeX, its sympy expression (None if it could not be parsed) and why not."""

    latex: str
    expr: sympy.Expr | None = None
    problem: str = ""


@dataclass(frozen=True)
class Statement:
    """A chain of sides joined by relations; ``continued`` when the row began with a relation (``&= …``)."""

    sides: tuple[Side, ...]
    relations: tuple[str, ...]
    continued: bool = False
    row: int = 0  # lines after the formula's first line

    @property
    def parsed(self) -> bool:
        return all(s.expr is not None for s in self.sides)


@dataclass(frozen=True)
class ParsedFormula:
    """All statements of one formula, or the reason the whole formula was refused."""

    statements: tuple[Statement, ...] = ()
    rejected: str = ""
    atoms: dict[str, str] = field(default_factory=dict)  # canonical key -> display LaTeX


def precheck(latex: str) -> None:
    """Raise Rejected if the formula is too long or its brackets do not balance."""
    if len(latex) > MAX_FORMULA_CHARS:
        raise Rejected(f"formula of {len(latex)} characters exceeds the {MAX_FORMULA_CHARS}-character bound")
    stack: list[str] = []
    closers = {"(": ")", "[": "]", "\\{": "\\}", "\\langle": "\\rangle", "\\lbrack": "]", "{": "}"}
    after_sizer = ""  # "\\left" or "\\right": the next token is a delimiter, "." being the invisible one

    def close(tok: str) -> None:
        expected = {"\\rbrack": "]"}.get(tok, tok)
        if not stack or stack[-1] not in (expected, "*") and not (after_sizer == "\\right" and stack[-1] == "|"):
            raise Rejected(f"unmatched bracket {tok!r}")
        stack.pop()

    for tok in tokenize(latex):
        if tok.isspace():
            continue
        if after_sizer:
            sizer, after_sizer = after_sizer, ""
            if tok == ".":
                if sizer == "\\left":
                    stack.append("*")
                elif stack:
                    stack.pop()
                else:
                    raise Rejected("unmatched \\right.")
            elif tok in closers and sizer in ("\\left", "\\bigl", "\\Bigl", "\\biggl"):
                stack.append(closers[tok])
            elif tok in ("|", "\\|", "\\vert", "\\Vert"):
                if sizer == "\\left":
                    stack.append("|")
                elif stack:
                    stack.pop()
            else:
                after_sizer = ""
                if tok in closers:
                    stack.append(closers[tok])
                elif tok in (")", "]", "}", "\\}", "\\rangle", "\\rbrack"):
                    after_sizer = sizer
                    close(tok)
                    after_sizer = ""
            continue
        if tok in ("\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr"):
            after_sizer = "\\left" if tok in ("\\left", "\\bigl", "\\Bigl", "\\biggl") else "\\right"
            continue
        if tok in closers:
            stack.append(closers[tok])
        elif tok in (")", "]", "}", "\\}", "\\rangle", "\\rbrack"):
            close(tok)
    if stack:
        raise Rejected(f"unclosed bracket (expected {stack[-1]!r})")


def _clean(latex: str) -> str:
    """Remove what carries no mathematics: tags, labels, inner environment markers, alignment marks."""
    for pattern, replacement in _ASSIGNMENTS:
        latex = pattern.sub(replacement, latex)
    text = re.sub(r"\\(tag\*?|label|eqref|ref)\{[^{}]*\}", " ", latex)
    text = re.sub(r"\\(begin|end)\{(aligned|split|gathered|alignedat|align|eqnarray|equation|gather|multline)\*?\}"
                  r"(\{[^{}]*\})?", " ", text)
    text = re.sub(r"\{\s*\}", " ", text)  # &{} = …: an empty group only spaces the relation
    text = text.replace("&", " ")
    text = re.sub(r"\\(nonumber|notag|qedhere|qed)(?![A-Za-z])", " ", text)
    text = re.sub(r"\\left\s*<", r"\\langle ", text)  # \left< x, y \right>: an inner product, not "less than"
    text = re.sub(r"\\right\s*>", r"\\rangle ", text)
    return text


def _split_top(tokens: list[str], is_separator) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        if tok in ("{", "(", "[", "\\{", "\\langle"):
            depth += 1
        elif tok in ("}", ")", "]", "\\}", "\\rangle"):
            depth -= 1
        if depth == 0 and is_separator(tok):
            parts.append([tok])
        else:
            parts[-1].append(tok)
    return parts


_QUANTIFIER = re.compile(r"[,;]?\s*(\\q?quad\s*)?(\\forall|\\text\{\s*for all\b|\\text\{\s*for every\b)")


def _without_leading_quantifier(row: str) -> str:
    """``\\forall x \\in \\R^n,\\ f(x) = …``: the statement after the quantifier's top-level comma (a statement
    for every x is what random points check anyway)."""
    stripped = row.lstrip()
    if not stripped.startswith("\\forall"):
        return row
    depth = 0
    for i, ch in enumerate(stripped):
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == "," and depth == 0:
            rest = re.sub(r"^(\s|\\[ ;,:!]|\\q?quad)+", "", stripped[i + 1:])
            if any(r in rest for r in ("=", "\\le", "\\ge", "<", ">")):
                return rest
            return row
    return row


def _without_quantifier(row: str) -> str:
    """``a = b, \\forall i``: the statement without its trailing quantifier (it holds for every i anyway)."""
    row = _without_leading_quantifier(row)
    m = _QUANTIFIER.search(row)
    if m and any(r in row[:m.start()] for r in ("=", "\\le", "\\ge", "<", ">")):
        return row[:m.start()]
    return row


_TRAILING = {",", ".", ";", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\quad", "\\qquad", "~"}


def _without_trailing_punctuation(tokens: list[str]) -> str:
    """A side's LaTeX without the sentence's punctuation and spacing after it (``x_t\\,,`` -> ``x_t``)."""
    end = len(tokens)
    while end and (tokens[end - 1].isspace() or tokens[end - 1] in _TRAILING):
        end -= 1
    return "".join(tokens[:end]).strip()


_INDEX_RANGE = re.compile(r"(?:[tkijns]|\\tau)=(?:-?\d+|[A-Za-z])(?:,(?:-?\d+|[A-Za-z](?:[+-]\d+)?|\\[lc]?dots))+,?")


_DECLARATION_ARROWS = ("\\to", "\\rightarrow", "\\mapsto", "\\longrightarrow", "\\longmapsto")


def _declaration(group: list[str]) -> bool:
    """``f \\colon \\R^n \\to \\R``, ``h : x \\mapsto y``: a name's domain and range, a declaration, not a claim."""
    plain = [t for t in group if not t.isspace()]
    colon = next((i for i, t in enumerate(plain) if t in ("\\colon", ":")), None)
    if colon is None or not 1 <= colon <= 3 or not any(t in _DECLARATION_ARROWS for t in plain[colon + 1:]):
        return False
    head = plain[:colon]
    return all(re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", t) for t in head) and not any(t in RELATIONS and t not in
                                                                                 _DECLARATION_ARROWS for t in plain)


def _parenthesised_condition(chunk: list[str]) -> bool:
    """Whether a chunk is one parenthesised group holding a relation: ``(k \\geq 0)``, ``(t = 1, 2, …)``."""
    plain = [t for t in chunk if not t.isspace() and t not in _TRAILING]
    if len(plain) < 3 or plain[0] != "(" or plain[-1] != ")":
        return False
    depth = 0
    for i, t in enumerate(plain):
        depth += {"(": 1, ")": -1}.get(t, 0)
        if depth == 0 and i < len(plain) - 1:
            return False  # (a)(b): two groups, not one condition
    return any(t in RELATIONS for t in plain)


def _comma_statements(group: list[str]) -> list[list[str]]:
    """A row's statements separated by top-level commas: ``\\beta_1 = 0.9, \\beta_2 = 0.999`` is two statements.

    Split only where every piece has a relation (``x = 1, 2, 3`` is a list, not statements); an index range at
    the end (``…, t = 1, 2, \\dots``) says where the statement holds and is dropped, as a trailing
    ``\\forall`` is. A row that is only an index range is no statement.
    """
    if _declaration(group):
        return []
    pieces = [p[1:] if p and p[0] == "," else p for p in _split_top(group, lambda t: t == ",")]
    if len(pieces) < 2:
        return [group]
    plain = ["".join(t for t in p if not t.isspace() and t not in _TRAILING) for p in pieces]
    for start in range(len(pieces)):  # the first piece from which the rest is an index range
        if _INDEX_RANGE.fullmatch(",".join(plain[start:])):
            pieces, plain = pieces[:start], plain[:start]
            break
    if not pieces:
        return []
    if len(pieces) == 1 or not all(any(t in RELATIONS for t in p) for p in pieces):
        return [sum((([","] if i else []) + p for i, p in enumerate(pieces)), [])]
    return pieces


def split_statements(latex: str) -> list[tuple[int, bool, list[str], list[str]]]:
    """(row, continued, sides' LaTeX, relations) for each statement of a formula, before parsing."""
    text = _clean(latex)
    if any(f"\\begin{{{env}}}" in text for env in _UNSUPPORTED_ENVS):
        raise Unsupported("cases/array environment")
    statements = []
    rows = [_without_quantifier(row) for row in re.split(r"\\\\(?:\[[^\]]*\])?", text)]
    line_offset = 0
    for row in rows:
        row_line = line_offset + row[: len(row) - len(row.lstrip())].count("\n")
        line_offset += row.count("\n")
        tokens = tokenize(row)
        chunks = [[t for t in chunk if t not in ("\\qquad", "\\quad")]
                  for chunk in _split_top(tokens, lambda t: t in ("\\qquad", "\\quad"))]
        # "… \quad (k \geq 0)": a condition in parentheses after the statement says where it holds
        chunks = chunks[:1] + [c for c in chunks[1:] if not _parenthesised_condition(c)]
        # \quad separates statements only when both pieces have a relation; otherwise it is spacing
        groups: list[list[str]] = []
        for chunk in chunks:
            has_relation = any(t in RELATIONS for t in chunk)
            if groups and not (has_relation and any(t in RELATIONS for t in groups[-1])):
                groups[-1] += [" "] + chunk
            else:
                groups.append(chunk)
        for group in (piece for g in groups for piece in _comma_statements(g)):
            parts = _split_top(group, lambda t: t in RELATIONS)
            sides, relations = [], []
            for i, part in enumerate(parts):
                if i > 0:
                    relations.append(RELATIONS[part[0]])
                    part = part[1:]
                side = _without_trailing_punctuation(part)
                sides.append(side)
            if not any(sides):
                continue  # "$\to$" in a sentence: an arrow used as a word, no statement
            continued = bool(relations) and not sides[0]
            if continued:
                sides = sides[1:]
            statements.append((row_line, continued, sides, relations))
    return statements


def _to_sympy(expr: sympy.Basic, norm: Normalised) -> sympy.Basic:
    """Replace placeholders by canonical names, operator placeholders by functions, floats by rationals."""
    by_name = {placeholder_name(p): atom for p, atom in norm.atoms.items()}
    mapping = {s: (sympy.E if by_name[s.name].key == "e" else sympy.Symbol(by_name[s.name].key))
               for s in expr.atoms(sympy.Symbol) if s.name in by_name}
    expr = expr.xreplace(mapping)

    def convert(node: sympy.Basic) -> sympy.Basic:
        name = type(node).__name__
        if name in by_name:
            return sympy.Function(by_name[name].key)(*node.args)
        if name in ("max", "min") and node.args:  # \max(a, b) as the parser builds it
            return (sympy.Max if name == "max" else sympy.Min)(*node.args)
        m = re.fullmatch(r"F_\{([A-Za-z]+)\}", name)
        if m:
            op = operator_name(m.group(1))
            if op == "sign" and len(node.args) == 1:
                return sympy.sign(node.args[0])
            if op == "sigmoid" and len(node.args) == 1:
                return 1 / (1 + sympy.exp(-node.args[0]))
            if op == "Gamma" and len(node.args) == 1:
                return sympy.gamma(node.args[0])
            return sympy.Function(op)(*node.args)
        raise Unsupported(f"function {name} is not a known name")

    expr = expr.replace(lambda e: isinstance(e, AppliedUndef), convert)
    expr = expr.replace(_is_decimal_fraction, lambda e: sympy.Rational(*_decimal_parts(e)))
    expr = expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})
    return expr


def antlr_parse(text: str) -> sympy.Basic:
    """sympy's ANTLR LaTeX backend, in SLL prediction mode first (ten times faster), full LL on failure.

    This repeats what ``sympy.parsing.latex.parse_latex(backend="antlr")`` does (lexer, parser, error
    listener, ``convert_relation``) with two changes: the fast prediction mode, and a strict end check so
    that trailing text the grammar cannot use (``x+y)+z``) is an error instead of being silently dropped.
    """
    import antlr4
    from antlr4.atn.PredictionMode import PredictionMode
    from sympy.parsing.latex import _parse_latex_antlr as backend
    from sympy.parsing.latex.errors import LaTeXParsingError

    text = text.strip()
    last_error: Exception | None = None
    for mode in (PredictionMode.SLL, PredictionMode.LL):
        listener = backend.MathErrorListener(text)
        lexer = backend.LaTeXLexer(antlr4.InputStream(text))
        lexer.removeErrorListeners()
        lexer.addErrorListener(listener)
        parser = backend.LaTeXParser(antlr4.CommonTokenStream(lexer))
        parser.removeErrorListeners()
        parser.addErrorListener(listener)
        parser._interp.predictionMode = mode
        try:
            relation = parser.math().relation()
        except LaTeXParsingError as exc:
            last_error = exc
            continue
        if relation.stop is None or relation.start.start != 0 or relation.stop.stop != len(text) - 1:
            raise LaTeXParsingError("text left over after the formula (an unmatched bracket?)")
        return backend.convert_relation(relation)
    assert last_error is not None
    raise last_error


_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d{1,30})(?![\d.])")


def _exact_decimals(latex: str) -> str:
    """Decimal literals as exact fractions (``0.0396`` -> ``{\\frac{396}{10000}}``), so that the parser's arithmetic
    on them (``\\frac{v}{0.0396}``) stays exact instead of rounding through binary floats."""
    return _DECIMAL.sub(lambda m: "{\\frac{" + str(int(m.group(1) + m.group(2))) + "}{1" + "0" * len(m.group(2)) + "}}",
                        latex)


def _decimal_parts(e: sympy.Basic) -> tuple[int, int]:
    (num,) = [a for a in e.args if a.is_Integer]
    (den,) = [a.base for a in e.args if isinstance(a, sympy.Pow)]
    return int(num), int(den)


def _is_decimal_fraction(e: sympy.Basic) -> bool:
    """``{\\frac{396}{10000}}`` as the parser leaves it (396 times 10000^-1, unevaluated): a decimal literal."""
    if not (isinstance(e, sympy.Mul) and len(e.args) == 2):
        return False
    nums = [a for a in e.args if a.is_Integer]
    pows = [a for a in e.args if isinstance(a, sympy.Pow) and a.exp == -1 and a.base.is_Integer]
    return len(nums) == 1 and len(pows) == 1 and re.fullmatch(r"10+", str(pows[0].base)) is not None


def parse_side(latex: str, norm: Normalised) -> sympy.Basic:
    """One side to sympy; raises Unsupported, TooLarge or ValueError (parser failures)."""
    from sympy.parsing.latex.errors import LaTeXParsingError

    if len(latex) > MAX_SIDE_CHARS:
        raise TooLarge(f"side of {len(latex)} characters")
    normalise_side(latex, norm)
    try:
        raw = antlr_parse(_exact_decimals(norm.latex))
    except LaTeXParsingError as exc:
        raise Unsupported(f"parser: {str(exc).splitlines()[0][:80]}") from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, RecursionError, ZeroDivisionError) as exc:
        raise Unsupported(f"parser: {type(exc).__name__}") from None
    if isinstance(raw, sympy.core.relational.Relational):
        raise Unsupported("relation inside a side")
    return _to_sympy(raw, norm)


def parse_formula(latex: str, notation: Notation | None = None) -> ParsedFormula:
    """Pre-check, split and parse a whole formula; parse problems are recorded per side, never raised.

    ``notation`` is what the document model decided for the whole document (which superscripts are indices).
    """
    latex = clean_text(latex)
    try:
        precheck(latex)
    except Rejected as exc:
        return ParsedFormula(rejected=str(exc))
    try:
        raw_statements = split_statements(latex)
    except Unsupported as exc:
        return ParsedFormula(statements=(), rejected="", atoms={"__unsupported__": str(exc)})
    norm = Normalised(latex="", notation=notation or Notation())
    statements = []
    for row, continued, sides, relations in raw_statements:
        parsed_sides = []
        labels_before = len(norm.e_labels)
        for side in sides:
            try:
                parsed_sides.append(Side(side, parse_side(side, norm)))
            except TooLarge as exc:
                return ParsedFormula(rejected=f"too large to analyse: {exc}")
            except Unsupported as exc:
                parsed_sides.append(Side(side, None, str(exc)))
            except RecursionError:
                parsed_sides.append(Side(side, None, "nested too deeply"))
        if len(set(norm.e_labels[labels_before:])) > 1:
            # E_{x ~ p}[…] = E_{x ~ q}[…]: expectations over different distributions (or one named, one not) are
            # different operators; read as one they would make importance weights look wrong
            parsed_sides = [Side(s.latex, None, "expectations over different distributions") for s in parsed_sides]
        statements.append(Statement(tuple(parsed_sides), tuple(relations), continued, row))
    atoms = {a.key: a.display for a in norm.atoms.values()}
    return ParsedFormula(tuple(statements), "", atoms)
