"""The document model: scopes (sections, algorithm blocks) and, per scope, a symbol table with inferred roles.

It is built before any formula is checked, from the whole text and all its formulas, because a role needs all
occurrences of a symbol: ``w^{t}`` beside ``w^{t+1}`` is a time index, ``x^2`` alone a power.

* **Scopes.** A Markdown heading (``#`` … ``######``) or a LaTeX ``\\chapter``/``\\section``/``\\subsection``
  starts a scope; a heading numbered as a child of the numbered heading before it (``3`` then ``3.1``) continues
  its scope (siblings such as ``3.9.4`` and ``3.9.5`` do not), and a heading that continues the one before
  (Solution, Proof, Answer, Example, Remark, Hint) starts none. An ``algorithm``/``algorithmic``
  environment is a scope of its own. The analysis compares a restatement only with definitions of its own
  scope; a name stated in another scope may name another quantity there.
* **Notation.** ``Notation.superscript_index`` lists the bases whose index-like superscripts are indices: a
  base with a parenthesised superscript (``v^{(k)}``), or one defined with an index-like superscript on a
  left side (``w^{t+1} = …``, ``\\theta^{k} \\leftarrow …``), or a Latin letter seen with two or more
  index-like superscripts (``t`` and ``t+1``) and never bare where it has one. A Latin base with index-like
  superscripts but without that evidence is ``ambiguous``: formulas reading it are unchecked.
* **Roles** (for ``--show-model`` and the reader): sequence (with where its index sits), parameter, function,
  operator, set, constant, unknown.

Nothing here evaluates text: it is a token scan (``normalise.tokenize``).
"""
from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator

from .normalise import (DECORATIONS, FONT_STRIP, GREEK, TEXT_CMDS, Notation, clean_text, index_like,
                        tokenize)

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*\S)\s*#*\s*$")
# (subsections too: a Markdown "##" is a scope, and so is its LaTeX counterpart)
_TEX_SECTION = re.compile(r"\\(chapter|section|subsection|subsubsection)\*?\{([^{}]*)\}")
_ALGORITHM_BEGIN = re.compile(r"\\begin\{(algorithm|algorithmic|algorithm2e)\*?\}")
_ALGORITHM_END = re.compile(r"\\end\{(algorithm|algorithmic|algorithm2e)\*?\}")
_MD_ALGORITHM = re.compile(r"^\s*(\*\*|__)?\s*(Algorithm|Pseudo-?code)\b", re.I)
# "**Problem 3.** …", "Exercise 2:" opening a paragraph: a new problem, so a new scope (Solution continues it)
_MD_PROBLEM = re.compile(r"^\s*(\*\*|__)?\s*((Problem|Exercise|Question|Example|Theorem|Lemma|Proposition|Definition)"
                         r"\s+\d+(\.\d+)?)\b", re.I)
_CONTINUATION = re.compile(r"^[\W\d.]*(solution|proof|answer|hint|remark|note|example|derivation)s?\b", re.I)
_NUMBER = re.compile(r"^[\W]*(\d+)(?:\.\d+)*")
_SINGLE_NAME = re.compile(r"(\\(hat|bar|tilde|widehat|mathbf|boldsymbol|bm|vec)\{?)?\\?[A-Za-z]+\}?\^(\{[^{}]*\}|\S)")
_ASSIGN_TOKENS = {"=", "\\leftarrow", "\\gets", "\\coloneqq", ":="}
_OPERATOR_WORDS = {"E": "E", "mathbbE": "E", "Var": "Var", "var": "Var", "Cov": "Cov", "cov": "Cov", "tr": "tr",
                   "Tr": "tr", "nabla": "nabla", "partial": "partial", "diag": "diag"}
# Greek letters that name parameters (rates, decays) unless the notes index them
_PARAMETERS = GREEK - {"sigma", "Sigma", "delta", "Delta", "nabla", "ell", "Phi", "phi", "psi", "Psi", "theta",
                       "Theta", "xi", "omega"}
_INDEX_LETTERS = {"t", "k", "i", "j", "n", "b", "l", "tau"}


@dataclass(frozen=True)
class Scope:
    """One scope: its number, kind ("document", "section", "algorithm"), title and first line."""

    number: int
    kind: str
    title: str
    line: int


@dataclass
class SymbolInfo:
    """What the document says about one name in one scope, and the role inferred from it."""

    name: str
    role: str = "unknown"
    index_position: str = ""  # "subscript", "superscript", "parenthesised superscript"
    lines: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "index_position": self.index_position,
                "lines": self.lines[:20]}


@dataclass
class DocumentModel:
    """Scopes, the notation decisions and a symbol table per scope."""

    scopes: list[Scope]
    scope_lines: list[int]  # first line of each scope, sorted (for bisect)
    notation: Notation
    symbols: dict[int, dict[str, SymbolInfo]]

    def scope_of(self, line: int) -> int:
        """The number of the scope a (1-based) line is in."""
        i = bisect_right(self.scope_lines, line) - 1
        return self.scopes[max(i, 0)].number

    def kind_of(self, line: int) -> str:
        """The kind of the scope a line is in: "document", "section" or "algorithm"."""
        i = bisect_right(self.scope_lines, line) - 1
        return self.scopes[max(i, 0)].kind

    def to_dict(self) -> dict:
        return {
            "notation": {"superscript_index": sorted(self.notation.superscript_index),
                         "ambiguous_superscript": sorted(self.notation.ambiguous_superscript),
                         "functions": sorted(self.notation.functions),
                         "multipliers": sorted(self.notation.multipliers)},
            "scopes": [{"number": s.number, "kind": s.kind, "title": s.title, "line": s.line,
                        "symbols": [info.to_dict() for info in sorted(self.symbols.get(s.number, {}).values(),
                                                                     key=lambda i: i.name)]}
                       for s in self.scopes],
        }


# -- scopes -------------------------------------------------------------------------------------------------
def find_scopes(text: str, kind: str) -> list[Scope]:
    """The document's scopes in order; the first one (number 0) is what precedes the first heading."""
    scopes = [Scope(0, "document", "", 1)]
    last_number: str | None = None  # the number of the last section heading (3.1; None when it had none)
    in_fence = False
    section_before_algorithm: Scope | None = None
    depth = 0  # nesting of algorithm environments
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if kind in ("md", "txt") and re.match(r"^\s{0,3}(```|~~~)", line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        title = None
        if kind in ("md", "txt"):
            m = _MD_HEADING.match(line)
            title = m.group(2).strip("*_ ") if m else None
        tex = _TEX_SECTION.search(line)
        if tex:
            title = tex.group(2)
        problem = _MD_PROBLEM.match(line) if kind in ("md", "txt") and title is None else None
        if problem:
            scopes.append(Scope(len(scopes), "section", problem.group(2)[:80], number))
            continue
        if _ALGORITHM_BEGIN.search(line):
            depth += 1
            if depth > 1:
                continue  # algorithmic inside algorithm: one block
        if _ALGORITHM_BEGIN.search(line) or (kind in ("md", "txt") and title is None and _MD_ALGORITHM.match(line)):
            section_before_algorithm = section_before_algorithm or scopes[-1]
            scopes.append(Scope(len(scopes), "algorithm", line.strip()[:60], number))
            continue
        if _ALGORITHM_END.search(line):
            depth = max(depth - 1, 0)
            if depth == 0 and section_before_algorithm is not None:
                back = section_before_algorithm
                scopes.append(Scope(back.number, back.kind, back.title, number + 1))  # the section goes on
                section_before_algorithm = None
            continue
        if title is None or _CONTINUATION.match(title):
            continue
        m = _NUMBER.match(title)
        number_text = m.group(0).strip(" .#*_") if m else None
        if m and last_number is not None and number_text.startswith(last_number + "."):
            last_number = number_text
            continue  # "3.1 Proof of …" continues section 3 (a child continues its parent; siblings do not)
        last_number = number_text
        section_before_algorithm = None
        scopes.append(Scope(len(scopes), "section", title[:80], number))
    return scopes


# -- notation -----------------------------------------------------------------------------------------------
@dataclass
class _Occurrence:
    base: str
    superscript: str | None
    subscript: str | None
    applied: bool  # followed by "(" directly
    line: int
    juxtaposed: bool = False  # followed by another name (A x, A{\bf r}): a product, so a matrix or a constant


def _group_end(tokens: list[str], i: int) -> int:
    """Index after the group starting at ``i`` (a {…} group or one token), skipping spaces first."""
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i >= len(tokens):
        return i
    if tokens[i] != "{":
        return i + 1
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j] == "{":
            depth += 1
        elif tokens[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(tokens)


def _text(tokens: list[str]) -> str:
    return "".join(t for t in tokens if not t.isspace())


def scan_atoms(latex: str, line: int = 0) -> list[_Occurrence]:
    """Every letter or Greek name outside scripts, with the superscript and subscript written on it."""
    tokens = tokenize(latex)
    out: list[_Occurrence] = []
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        if t in ("_", "^") or t in TEXT_CMDS or t in ("\\begin", "\\end", "\\label", "\\tag", "\\mathcal",
                                                       "\\mathbb", "\\mathscr", "\\text"):
            i = _group_end(tokens, i + 1)
            continue
        base = None
        if t == "{":  # {\bf r}^{k}: braces and a font around one name
            end = _group_end(tokens, i)
            inner = [x for x in tokens[i + 1:end - 1] if not x.isspace() and x not in FONT_STRIP
                     and x not in ("\\bf", "\\it", "\\rm", "\\boldsymbol", "\\mathbf")]
            if len(inner) == 1 and (re.fullmatch(r"[A-Za-z]", inner[0]) or inner[0][1:] in GREEK):
                base = inner[0].lstrip("\\")
                i = end
            else:
                i += 1
                continue
        elif t in DECORATIONS or t in FONT_STRIP:
            end = _group_end(tokens, i + 1)
            inner = [x for x in tokens[i + 1:end] if not x.isspace() and x not in ("{", "}")]
            if len(inner) == 1 and (re.fullmatch(r"[A-Za-z]", inner[0]) or inner[0][1:] in GREEK):
                base = inner[0].lstrip("\\")
            i = end
        elif re.fullmatch(r"[A-Za-z]", t) or (t.startswith("\\") and t[1:] in GREEK):
            base = t.lstrip("\\")
            i += 1
        elif re.fullmatch(r"\\[VM]([A-Za-z]|" + "|".join(sorted(GREEK)) + ")", t):
            base = t[2:]  # \Vtheta, \MH: the deep-learning book's bold names
            i += 1
        else:
            i += 1
            continue
        if base is None:
            continue
        sup = sub = None
        while i < n and tokens[i] in ("_", "^", "'"):
            if tokens[i] == "'":
                i += 1
                continue
            end = _group_end(tokens, i + 1)
            group = _text(tokens[i + 1:end])
            if group.startswith("{") and group.endswith("}"):
                group = group[1:-1]
            if tokens[i] == "^":
                sup = group
            else:
                sub = group
            i = end
        applied = i < n and tokens[i] == "("
        j = i
        while j < n and tokens[j].isspace():
            j += 1
        nxt = tokens[j] if j < n else ""
        juxtaposed = bool(re.fullmatch(r"[A-Za-z]", nxt)) or nxt in ("{", "\\bf", "\\mathbf", "\\boldsymbol") or (
            nxt.startswith("\\") and nxt[1:] in GREEK)
        out.append(_Occurrence(base, sup, sub, applied, line, juxtaposed))
    return out


def _row_left_sides(latex: str) -> Iterator[str]:
    """The left side of each row of a formula (rows split at ``\\\\``): the tokens before its first
    assignment or equals sign outside brackets; rows without one yield nothing."""
    for row in re.split(r"\\\\", clean_text(latex)):
        tokens = tokenize(row.replace("&", " "))
        depth = 0
        for k, t in enumerate(tokens):
            depth += t in ("{", "(", "[") or -(t in ("}", ")", "]"))
            if t in _ASSIGN_TOKENS and depth == 0:
                yield "".join(tokens[:k])
                break


def _lhs_atoms(latex: str) -> list[str]:
    """The left sides of a formula's rows, when a left side is a single name with a superscript."""
    found = []
    for lhs in _row_left_sides(latex):
        plain = re.sub(r"\\(bf|mathbf|boldsymbol|bm|vec|it|rm)(?![A-Za-z])", "", lhs).replace(" ", "")
        plain = re.sub(r"^\{(\\?[A-Za-z]+)\}", r"\1", plain)
        if not _SINGLE_NAME.fullmatch(plain):
            continue
        occ = scan_atoms(lhs)
        if len(occ) == 1 and occ[0].superscript is not None and occ[0].subscript is None \
                and index_like(occ[0].superscript):
            found.append((occ[0].base, occ[0].superscript))
    return found


def infer_notation(formulas: list[tuple[str, int]]) -> Notation:
    """Which bases take superscript indices (see the module docstring); ``formulas`` are (latex, line)."""
    defined: set[str] = set()
    parenthesised: set[str] = set()
    shifts: dict[str, set[str]] = defaultdict(set)
    power_evidence: set[str] = set()
    companions: set[str] = set()
    bare: set[str] = set()
    for latex, line in formulas:
        text = clean_text(latex)
        occurrences = scan_atoms(text, line)
        indexed_here = {o.base for o in occurrences if o.superscript and index_like(o.superscript)}
        for o in occurrences:
            if o.superscript is None:
                if o.subscript is None and o.base in indexed_here:
                    bare.add(o.base)  # r^k beside a bare r: a power
                continue
            sup = o.superscript.replace(" ", "")
            if sup.startswith("(") and index_like(sup):
                parenthesised.add(o.base)
            elif index_like(sup) and o.subscript is None:
                shifts[o.base].add(sup)
            elif re.fullmatch(r"\d+", sup) and sup != "0":
                power_evidence.add(o.base)
        lhs = _lhs_atoms(latex)
        defined |= {b for b, _ in lhs}
        if lhs:  # v^{t+1} = beta v^t + (1 - beta) (g^{t+1})^2: g^{t+1} is indexed like the sequence defined
            companions |= {o.base for o in occurrences if o.superscript and index_like(o.superscript)
                           and o.subscript is None and o.base not in _PARAMETERS}
    index: set[str] = set()
    ambiguous: set[str] = set()
    for base in set(shifts) | parenthesised:
        if base == "e":
            continue
        latin = re.fullmatch(r"[A-Za-z]", base) is not None
        if base in parenthesised or (base in defined and base in shifts) or (
                base in companions and base in shifts and base not in bare):
            index.add(base)
        elif latin and len(shifts[base]) >= 2 and base not in power_evidence | bare:
            index.add(base)
        elif latin and base not in power_evidence | bare and base not in _INDEX_LETTERS:
            ambiguous.add(base)
    functions = set()
    multipliers = set()
    index_letters: set[str] = set()
    for latex, line in formulas:
        # x_{s+1}, a_{m-1}: a letter shifted by a number in a subscript is an index letter of this document
        index_letters |= {m for m in _SHIFTED_SUBSCRIPT.findall(latex) if m not in _INDEX_LETTERS}
        functions |= _defined_functions(latex)
        multipliers |= {o.base for o in scan_atoms(clean_text(latex), line)
                        if o.juxtaposed and o.base.isupper() and len(o.base) == 1}
    return Notation(frozenset(index), frozenset(ambiguous), frozenset(functions - {"e", "E"}),
                    frozenset(multipliers - functions), frozenset(index_letters - {"e", "E"}))


_SHIFTED_SUBSCRIPT = re.compile(r"_\{\s*([A-Za-z])\s*[+-]\s*\d+\s*\}")


_FUNCTION_LHS = re.compile(r"(\\?[A-Za-z]+)(_(\{[^{}]*\}|[A-Za-z0-9]))?\(((\\?[A-Za-z]+(_(\{[^{}]*\}|\w))?,?)+)\)")


def _defined_functions(latex: str) -> set[str]:
    """Names defined as functions on a left side: ``f(x) = …``, ``f_i(w) := …``, ``\\ell(w, b) = …``."""
    found = set()
    for lhs in _row_left_sides(latex):
        m = _FUNCTION_LHS.fullmatch(lhs.replace(" ", ""))
        args = set(re.findall(r"\\?[A-Za-z]+", m.group(4))) if m else set()
        if m and (m.group(1).lstrip("\\") in GREEK or len(m.group(1)) == 1) and \
                not args <= _INDEX_LETTERS | {"\\tau"}:  # v(t) = …: a sequence, not a function
            found.add(m.group(1).lstrip("\\"))
    return found


# -- roles --------------------------------------------------------------------------------------------------
def _role_of(occurrences: list[_Occurrence], notation: Notation, operators: set[str], sets: set[str],
             constants: set[str]) -> tuple[str, str]:
    base = occurrences[0].base
    if base in operators:
        return "operator", ""
    if base in sets:
        return "set", ""
    positions = set()
    for o in occurrences:
        if o.superscript and base in notation.superscript_index and (index_like(o.superscript) or
                                                                     o.superscript == "0"):
            positions.add("parenthesised superscript" if o.superscript.startswith("(") else "superscript")
        elif o.subscript and set(re.findall(r"[a-z]+", o.subscript)) & _INDEX_LETTERS:
            positions.add("subscript")
    if positions:
        return "sequence", ", ".join(sorted(positions))
    if base in notation.ambiguous_superscript:
        return "unknown", ""
    if any(o.applied for o in occurrences) and (base.isupper() or base in notation.functions):
        return "function", ""
    if base in constants:
        return "constant", ""
    if base in _PARAMETERS or base in constants:
        return "parameter", ""
    return "unknown", ""


def build_model(text: str, kind: str, formulas: list) -> DocumentModel:
    """The model of a document from its text and its extracted formulas (objects with ``latex`` and ``line``)."""
    scopes = find_scopes(text, kind)
    ordered = sorted(scopes, key=lambda s: s.line)
    pairs = [(f.latex, f.line) for f in formulas]
    notation = infer_notation(pairs)
    model = DocumentModel(ordered, [s.line for s in ordered], notation, {})
    per_scope: dict[int, dict[str, list[_Occurrence]]] = defaultdict(lambda: defaultdict(list))
    operators: dict[int, set[str]] = defaultdict(set)
    sets: dict[int, set[str]] = defaultdict(set)
    constants: dict[int, set[str]] = defaultdict(set)
    assigned: dict[int, set[str]] = defaultdict(set)
    for latex, line in pairs:
        scope = model.scope_of(line)
        text_ = clean_text(latex)
        for word, op in _OPERATOR_WORDS.items():
            if re.search(r"(\\(mathrm|operatorname|mathbb|text)\{)?\\?" + re.escape(word.replace("mathbb", ""))
                         + r"\}?\s*[\[(]", text_) or (word in ("nabla", "partial") and "\\" + word in text_):
                operators[scope].add(op)
        for m in re.finditer(r"\\in\s*\\?(?:mathcal\{)?([A-Za-z]+)", text_):
            sets[scope].add(m.group(1))
        m = re.fullmatch(r"\s*\\?([A-Za-z]+)\s*=\s*-?[\d.]+\s*", text_)
        if m:
            constants[scope].add(m.group(1))
        for o in scan_atoms(text_, line):
            per_scope[scope][o.base].append(o)
        m = re.match(r"\s*\\?([A-Za-z]+)\s*(\\leftarrow|\\gets|:=|\\coloneqq|\+=|-=)", text_)
        if m:
            name = m.group(1)
            assigned[scope].add(name[1:] if re.fullmatch(r"[VM][a-zA-Z]+", name) and name[1:] in GREEK | set(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") else name)
    for scope, names in per_scope.items():
        table = {}
        for name, occ in names.items():
            role, position = _role_of(occ, notation, set(), sets[scope], constants[scope])
            if role == "unknown" and name in assigned[scope]:
                role, position = "sequence", "loop counter (assigned with <-)"
            table[name] = SymbolInfo(name, role, position, sorted({o.line for o in occ}))
        for op in operators[scope]:
            table[op] = SymbolInfo(op, "operator", "", [])
        model.symbols[scope] = table
    return model


def format_model(path: str, model: DocumentModel) -> str:
    """The model as text: the notation decisions, then each scope with its symbols by role."""
    lines = [f"{path}: document model"]
    n = model.notation
    lines.append(f"  superscripts read as indices: {', '.join(sorted(n.superscript_index)) or '(none)'}")
    if n.ambiguous_superscript:
        lines.append(f"  superscripts left ambiguous (unchecked): {', '.join(sorted(n.ambiguous_superscript))}")
    if n.functions:
        lines.append(f"  defined as functions (f(x) = ...): {', '.join(sorted(n.functions))}")
    if n.multipliers:
        lines.append(f"  capitals that multiply (A x), not functions: {', '.join(sorted(n.multipliers))}")
    for scope in model.scopes:
        table = model.symbols.get(scope.number, {})
        if not table and scope.kind == "document":
            continue
        lines.append(f"  scope {scope.number} ({scope.kind}, line {scope.line}): {scope.title or '(untitled)'}")
        by_role: dict[str, list[str]] = defaultdict(list)
        for info in sorted(table.values(), key=lambda i: i.name):
            by_role[info.role].append(info.name + (f" [{info.index_position}]" if info.index_position else ""))
        for role in ("sequence", "parameter", "function", "operator", "set", "constant", "unknown"):
            if by_role.get(role):
                lines.append(f"    {role}: {', '.join(by_role[role])}")
    return "\n".join(lines)


def run_show_model(args) -> int:
    """``emastats audit --show-model PATH ...``: print each document's model (text, or JSON with --format json).

    Reading and extraction go through the audit's own bounded path (regular files only, size limit, the
    worker's time budget), so a hostile file cannot hang ``--show-model`` either.
    """
    from ..errors import UsageError
    from .document import prepare
    from .readers import check_input
    from .worker import Worker

    if not args.paths:
        raise UsageError("--show-model needs at least one PATH")
    for path in args.paths:
        check_input(path)
    with Worker() as worker:
        documents = [(path, prepare(path, worker).model) for path in args.paths]
    if getattr(args, "format", "text") == "json":
        print(json.dumps({"documents": [{"path": p, **m.to_dict()} for p, m in documents]}, indent=2))
    else:
        print("\n\n".join(format_model(p, m) for p, m in documents))
    return 0
