"""The notes' own macros: ``\\newcommand``, ``\\renewcommand``, ``\\providecommand``, ``\\def`` and
``\\DeclareMathOperator``, collected from the whole document (preamble or a ``$$`` block, MathJax style) and
expanded in every formula.

Expansion is textual and bounded, never evaluated: at most ``MAX_DEPTH`` rounds of replacement (a macro that
names itself, directly or through another, stops there and the leftover command stays unread), a formula that
would grow beyond ``MAX_GROWTH`` times its length (or ``MAX_CHARS``) keeps its original text, and a definition
longer than ``MAX_BODY`` characters is ignored. A few macros that course notes use without defining them in
the file (their preamble lives elsewhere) have a conventional meaning: ``\\trans`` is a transpose mark,
``\\R`` the reals.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MACROS = 500
MAX_BODY = 400
MAX_DEPTH = 8
MAX_GROWTH = 4
MAX_CHARS = 6000

_NAME = r"\\[A-Za-z]+"
_DEFINERS = re.compile(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand)\*?\s*(?:\{\s*(" + _NAME
                       + r")\s*\}|(" + _NAME + r"))\s*(?:\[\s*(\d)\s*\])?\s*(\[[^\]\n]{0,80}\])?\s*\{")
_DEF = re.compile(r"\\def\s*(" + _NAME + r")\s*\{")
_OPERATOR = re.compile(r"\\DeclareMathOperator(\*?)\s*(?:\{\s*(" + _NAME + r")\s*\}|(" + _NAME + r"))\s*\{")
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|.", re.S)
# Conventional meanings of macros that notes use without defining them in the file.
CONVENTIONAL = {"\\trans": "\\top", "\\transpose": "\\top", "\\R": "\\mathbb{R}", "\\Reals": "\\mathbb{R}",
                "\\N": "\\mathbb{N}", "\\Z": "\\mathbb{Z}"}


@dataclass(frozen=True)
class Macro:
    """``\\name`` with ``arity`` arguments (``#1``…) and the text it stands for; ``default`` for an optional first."""

    name: str
    arity: int
    body: str
    default: str | None = None


def _group_end(text: str, start: int) -> int | None:
    """Index after the ``}`` closing the group whose ``{`` is just before ``start``; None if unbalanced or long."""
    depth, i = 1, start
    limit = min(len(text), start + MAX_BODY + 1)
    while i < limit:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def collect(text: str) -> tuple[dict[str, Macro], list[tuple[int, int]]]:
    """The macros a text defines (the last definition of a name wins) and the spans of their definitions."""
    macros: dict[str, Macro] = {}
    spans: list[tuple[int, int]] = []
    found = []
    for m in _DEFINERS.finditer(text):
        found.append((m, m.group(1) or m.group(2), int(m.group(3) or 0), m.group(4)[1:-1] if m.group(4) else None))
    for m in _DEF.finditer(text):
        found.append((m, m.group(1), 0, None))
    for m in _OPERATOR.finditer(text):
        found.append((m, m.group(2) or m.group(3), 0, "operator"))
    for m, name, arity, default in sorted(found, key=lambda f: f[0].start()):
        end = _group_end(text, m.end())
        if end is None or len(macros) >= MAX_MACROS:
            continue
        body = text[m.end():end - 1]
        if default == "operator":
            body, default = "\\operatorname{" + body.strip() + "}", None
        spans.append((m.start(), end))
        if re.search(r"#[1-9]", body) and arity == 0:
            continue  # a body reading arguments it does not declare: not ours to guess
        macros[name] = Macro(name, arity, body, default)
    return macros, spans


def without_definitions(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the definition spans blanked (newlines kept, so that line numbers do not move)."""
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        out.append(text[last:start])
        out.append(re.sub(r"[^\n]", " ", text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def _argument(tokens: list[str], pos: int) -> tuple[str, int] | None:
    """The next argument at ``pos``: a brace group's inside or one token (spaces skipped); None at the end."""
    while pos < len(tokens) and tokens[pos].isspace():
        pos += 1
    if pos >= len(tokens):
        return None
    if tokens[pos] != "{":
        return tokens[pos], pos + 1
    depth = 0
    for q in range(pos, len(tokens)):
        if tokens[q] == "{":
            depth += 1
        elif tokens[q] == "}":
            depth -= 1
            if depth == 0:
                return "".join(tokens[pos + 1:q]), q + 1
    return None


def _expand_once(latex: str, macros: dict[str, Macro]) -> tuple[str, bool]:
    tokens = _TOKEN.findall(latex)
    out: list[str] = []
    changed = False
    pos = 0
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        macro = macros.get(tok)
        if macro is None:
            out.append(tok)
            continue
        args: list[str] = []
        ok = True
        if macro.default is not None and macro.arity:
            q = pos
            while q < len(tokens) and tokens[q].isspace():
                q += 1
            if q < len(tokens) and tokens[q] == "[":
                close = next((r for r in range(q, len(tokens)) if tokens[r] == "]"), None)
                if close is None:
                    ok = False
                else:
                    args.append("".join(tokens[q + 1:close]))
                    pos = close + 1
            else:
                args.append(macro.default)
        while ok and len(args) < macro.arity:
            arg = _argument(tokens, pos)
            if arg is None:
                ok = False
                break
            args.append(arg[0])
            pos = arg[1]
        if not ok:
            out.append(tok)
            continue
        body = re.sub(r"#([1-9])", lambda m: args[int(m.group(1)) - 1] if int(m.group(1)) <= len(args) else "",
                      macro.body)
        # a command directly followed by a letter would fuse with it (\top v -> \topv): keep them apart
        nxt = tokens[pos] if pos < len(tokens) else ""
        out.append(body + (" " if re.search(r"\\[A-Za-z]+$", body) and re.match(r"[A-Za-z]", nxt) else ""))
        changed = True
    return "".join(out), changed


def expand(latex: str, macros: dict[str, Macro]) -> str:
    """``latex`` with the macros replaced (conventional ones where the notes define no macro of that name)."""
    table = {name: Macro(name, 0, body) for name, body in CONVENTIONAL.items() if name not in macros}
    table.update(macros)
    if "\\" not in latex or not any(name in latex for name in table):
        return latex
    text = latex
    limit = min(MAX_CHARS, max(len(latex) * MAX_GROWTH, 200))
    for _ in range(MAX_DEPTH):
        text, changed = _expand_once(text, table)
        if len(text) > limit:
            return latex
        if not changed:
            break
    return text
