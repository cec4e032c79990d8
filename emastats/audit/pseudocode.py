"""Pseudo-code in notes: assignment lines of code blocks and code spans, read and executed exactly.

Course notes often state an algorithm as ASCII pseudo-code (```` ``` ```` fences without a language, or
```` `v = beta*v + (1-beta)*dW` ```` spans) rather than LaTeX. This module reads such lines, never evaluating
text: a line is kept only when it is a simple assignment (``name = expr``, ``+=``, ``-=``, ``<-``, ``←``,
``:=``) whose right side tokenises into numbers, names, ``+ - * / ^ **``, parentheses and a few maths
functions (``sqrt``, ``np.sqrt``, ``exp``, ``log``, ``abs``); anything else (strings, comparisons, keywords,
brackets of lists) is not pseudo-code and is skipped. A fence that names a programming language (```` ```python
````) is code, not notes, and is skipped too.

A block is executed as a loop body, exactly (``fractions.Fraction``; square roots and logarithms make a value
unknown, so a check reading it abstains): leading assignments of numbers are the initial values; the other
assignments run in order, once per iteration t = 1, 2, …, with every name the block never assigns held at a
seeded random rational (a constant input). ``v(t)``/``v(t-1)``/``z[i]`` are the variable ``v``/``z``. Two
checks, each needing a concrete counterexample to report:

* **AUD015, a running average that drops its state.** A variable initialised before the loop and updated with
  the weights ``p`` and ``1 - p`` (``s = p * A + (1 - p) * B``) is an exponential average of ``B``; if the
  update reads neither that variable nor any other state, every step forgets the past (``p`` multiplies the
  input ``A`` instead of the previous average).
* **AUD004, a bias correction that does not remove the bias.** An assignment ``x = E / (1 - p^t)`` corrects
  an average whose input ``B`` is what ``(1 - p)`` multiplies. With a zero start and a constant input, the
  corrected value must equal ``B`` at every step; the check runs the loop for t = 1..5 and reports the first
  step where it does not (a correction written back into the average, an off-by-one exponent), unless counting
  the steps from t = 0 would make it right (``1 - p^(t+1)`` in a loop from 0).

* **AUD002, a parameter update that climbs.** ``P = P ± step`` whose step reads P's gradient (``dP``, ``grad``,
  ``g``), directly or through the states assigned before it, must lower P when the gradient and every other
  input are positive and the states start at zero (floats here: square roots are allowed). A step that does
  not flip sign with the gradient (an accumulator of squares) or has mixed signs is not judged.

* **AUD001, a conditional claim in prose** ("if `a = x` and `b = y` then `c = d`"): both sides are computed in
  floats from the definitions the same section's code spans stated before, with the conditions substituted and
  every other input a seeded random positive number; the claim is wrong when they differ at two points.

Every other assignment line is a statement with no claim of its own (a definition). ``f(x)`` of an unknown
``f`` is a sequence read at an index only when the argument is an index (``t``, ``k-1``, ``0``); ``sum(…)``,
``max(a, b)`` and the like make the line unreadable, so it is skipped.
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from fractions import Fraction

from markdown_it import MarkdownIt

from .findings import Finding

MAX_LINE_CHARS = 200
MAX_TOKENS = 80
MAX_DEPTH = 20
MAX_EXPONENT = 64
MAX_BITS = 4096  # exact values beyond this are unknown (bounds the cost of a block)
ITERATIONS = 5
SEEDS = 2
_PSEUDO_FENCES = {"", "text", "txt", "pseudo", "pseudocode", "pseudo-code", "plaintext", "plain", "none",
                  "algorithm", "algo"}
_FUNCTIONS = {"sqrt", "np.sqrt", "math.sqrt", "torch.sqrt", "exp", "np.exp", "math.exp", "log", "np.log",
              "math.log", "abs", "np.abs"}
_KEYWORDS = {"if", "for", "while", "def", "return", "import", "print", "else", "elif", "in", "and", "or", "not",
             "lambda", "class", "with", "from", "range", "True", "False", "None"}
_INDEX_NAMES = {"t", "k", "i", "j", "n", "l", "s", "tau", "step", "epoch", "iter", "iteration"}
_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)"
                    r"|(\*\*|[-+*/^()\[\]]))")
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z_0-9]*)\s*(\([^()=]*\)|\[[^\[\]=]*\])?\s*(\+=|-=|<-|←|:=|=)(?!=)\s*(.+?)\s*$")
_COMMENT = re.compile(r"\s(#|//).*$")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_BLOCKS = MarkdownIt("commonmark").disable("inline")


class _Unreadable(ValueError):
    """The text is not a simple arithmetic expression."""


class _Unknown(ArithmeticError):
    """A value that exact arithmetic cannot give (a square root, a logarithm, a division by zero)."""


# -- reading ------------------------------------------------------------------------------------------------
def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _Unreadable(text[pos:pos + 10])
        number, name, op = m.groups()
        out.append(("num", number) if number else ("name", name) if name else ("op", op))
        pos = m.end()
        if len(out) > MAX_TOKENS:
            raise _Unreadable("too long")
    return out


class _Parser:
    """Recursive descent over the tokens: expr := term (± term)*, term := unary (*|/ unary)*, …"""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or value is not None and tok[1] != value:
            raise _Unreadable(f"expected {value}")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.peek() is not None:
            raise _Unreadable("trailing tokens")
        return node

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unreadable("too deep")
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            node = (self.take()[1], node, self.term())
        self.depth -= 1
        return node

    def term(self):
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            node = (self.take()[1], node, self.unary())
        return node

    def unary(self):
        if self.peek() == ("op", "-"):
            self.take()
            return ("neg", self.unary())
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek() in (("op", "^"), ("op", "**")):
            self.take()
            return ("^", base, self.unary())
        return base

    def atom(self):
        tok = self.take()
        if tok[0] == "num":
            return ("num", Fraction(tok[1]))
        if tok == ("op", "("):
            node = self.expr()
            self.take(")")
            return node
        if tok[0] != "name" or tok[1] in _KEYWORDS:
            raise _Unreadable(tok[1])
        name = tok[1]
        if self.peek() == ("op", "("):
            self.take()
            arg = self.expr()
            self.take(")")
            if name in _FUNCTIONS:
                return ("call", name.split(".")[-1], arg)
            if "." in name or not _index_like(arg):
                raise _Unreadable(name)  # sum(...), max(a, b), f(x + y): not a sequence read at an index
            return ("name", name)  # theta(t), v(t-1): the variable itself (the index is the loop's)
        if self.peek() == ("op", "["):
            self.take()
            self.expr()
            self.take("]")
            return ("name", name)  # z[i]: one entry, the same variable
        if "." in name:
            raise _Unreadable(name)
        return ("name", name)


def _index_like(node) -> bool:
    """``t``, ``0``, ``t-1``, ``k+1``: an index, as in ``theta(t)``."""
    if node[0] == "num" or node == ("name", node[1]) and node[1] in _INDEX_NAMES:
        return True
    return node[0] in ("+", "-") and node[1][0] == "name" and node[1][1] in _INDEX_NAMES and node[2][0] == "num"


def parse_expression(text: str):
    """The expression tree of ASCII arithmetic, or _Unreadable."""
    return _Parser(_tokens(text)).parse()


def _names(node) -> set[str]:
    kind = node[0]
    if kind == "name":
        return {node[1]}
    if kind == "num":
        return set()
    if kind in ("neg", "call"):
        return _names(node[-1])
    return _names(node[1]) | _names(node[2])


@dataclass(frozen=True)
class Assignment:
    """One pseudo-code line ``target op expr`` (``+=`` and ``-=`` already expanded)."""

    line: int
    target: str
    index: str  # "(0)", "(t)", "[i]" or ""
    expr: tuple
    text: str

    @property
    def constant(self) -> bool:
        return not _names(self.expr)


def parse_assignments(text: str, line: int) -> list[Assignment]:
    """The assignments of one line (``vdW = 0, vdb = 0`` holds two); [] when it is not simple pseudo-code."""
    text = _COMMENT.sub("", text).strip().rstrip(";")
    if not text or len(text) > MAX_LINE_CHARS or any(c in text for c in "\"'{}") or re.search(r"==|!=|<=|>=", text):
        return []
    parts = [p for p in re.split(r",\s+(?=[A-Za-z_][A-Za-z_0-9]*\s*(?:\([^()]*\))?\s*(?:=|<-|←|:=))", text)]
    out = []
    for part in parts:
        m = _ASSIGN.match(part)
        if m is None:
            return []
        target, index, op, rhs = m.groups()
        if target in _KEYWORDS:
            return []
        try:
            expr = parse_expression(rhs)
        except _Unreadable:
            return []
        if op == "+=":
            expr = ("+", ("name", target), expr)
        elif op == "-=":
            expr = ("-", ("name", target), expr)
        out.append(Assignment(line, target, (index or "").replace(" ", ""), expr, part.strip()))
    return out


@dataclass
class Block:
    """The assignments of one code block (or of the code spans of one paragraph) and where it is."""

    line: int
    assignments: list[Assignment] = field(default_factory=list)
    span: bool = False  # code spans of prose (initial values for the blocks of the same section)
    text: str = ""  # a span block's line of prose (for "if `a = b` then `c = d`")


def find_blocks(text: str) -> list[Block]:
    """Pseudo-code fences (no language, or text/pseudo) and the prose's code spans, in reading order."""
    blocks: list[Block] = []
    if "`" not in text and "~~~" not in text:
        return blocks
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    code_lines: set[int] = set()
    try:
        tokens = _BLOCKS.parse(text)
    except Exception:  # markdown-it should never fail; OCR text must not stop the audit
        tokens = []
    for tok in tokens:
        if tok.type in ("fence", "code_block") and tok.map:
            code_lines.update(range(tok.map[0], tok.map[1]))
            if tok.type != "fence" or tok.info.strip().lower() not in _PSEUDO_FENCES:
                continue
            block = Block(tok.map[0] + 1)
            for number in range(tok.map[0] + 1, tok.map[1] - 1):
                block.assignments += parse_assignments(lines[number], number + 1)
            if block.assignments:
                blocks.append(block)
    for number, line in enumerate(lines):
        if number in code_lines or "`" not in line:
            continue
        block = Block(number + 1, span=True, text=line)
        for m in _CODE_SPAN.finditer(line):
            block.assignments += parse_assignments(m.group(1), number + 1)
        if block.assignments:
            blocks.append(block)
    blocks.sort(key=lambda b: b.line)
    return blocks


# -- executing ----------------------------------------------------------------------------------------------
def _value(node, env: dict, approx: bool = False):
    """The node's value: exact (Fractions; a square root or logarithm is unknown), or with ``approx`` in floats."""
    kind = node[0]
    if kind == "num":
        return float(node[1]) if approx else node[1]
    if kind == "name":
        value = env.get(node[1])
        if value is None:
            raise _Unknown(node[1])
        return value
    if kind == "neg":
        return -_value(node[1], env, approx)
    if kind == "call":
        inner = _value(node[2], env, approx)
        if node[1] == "abs":
            return abs(inner)
        if approx and (node[1] == "sqrt" and inner >= 0 or node[1] == "log" and inner > 0
                       or node[1] == "exp" and inner < 700):
            return {"sqrt": math.sqrt, "log": math.log, "exp": math.exp}[node[1]](inner)
        if node[1] == "sqrt" and inner >= 0 and not approx:
            root_n, root_d = _isqrt(inner.numerator), _isqrt(inner.denominator)
            if root_n is not None and root_d is not None:
                return Fraction(root_n, root_d)
        raise _Unknown(node[1])
    a, b = _value(node[1], env, approx), _value(node[2], env, approx)
    if not approx and max(a.numerator.bit_length(), a.denominator.bit_length(), b.numerator.bit_length(),
                          b.denominator.bit_length()) > MAX_BITS:
        raise _Unknown("numbers too large")  # x = x^64 iterated: exact arithmetic would not end
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        if b == 0:
            raise _Unknown("division by zero")
        return a / b
    if b != int(b) or abs(b) > MAX_EXPONENT or a == 0 and b < 0:
        raise _Unknown("power")
    return a ** int(b)


def _isqrt(n: int) -> int | None:
    if n < 0:
        return None
    r = int(n ** 0.5)
    for c in (r - 1, r, r + 1):
        if c >= 0 and c * c == n:
            return c
    return None


def _one_minus(node) -> str | None:
    """``p`` when the node is ``1 - p`` (p a name)."""
    if node[0] == "-" and node[1] == ("num", 1) and node[2][0] == "name":
        return node[2][1]
    return None


def _decays(node) -> set[str]:
    """The names q that appear as ``1 - q`` (weights of an average: drawn in (0, 1))."""
    if node[0] in ("num", "name"):
        return set()
    found = {_one_minus(node)} - {None}
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= _decays(child)
    return found


def _factors(node) -> list:
    if node[0] == "*":
        return _factors(node[1]) + _factors(node[2])
    return [node]


def _terms(node) -> list:
    if node[0] == "+":
        return _terms(node[1]) + _terms(node[2])
    return [node]


def _product(factors: list):
    node = factors[0]
    for f in factors[1:]:
        node = ("*", node, f)
    return node


def ema_arms(node) -> tuple[str, tuple, tuple] | None:
    """``(p, A, B)`` when the node is ``p * A + (1 - p) * B`` (in either order of terms and factors)."""
    terms = _terms(node)
    if len(terms) != 2:
        return None
    for first, second in (terms, terms[::-1]):
        f2 = _factors(second)
        for i, factor in enumerate(f2):
            p = _one_minus(factor)
            if p is None or len(f2) < 2:
                continue
            f1 = _factors(first)
            if ("name", p) in f1 and len(f1) >= 2:
                rest = list(f1)
                rest.remove(("name", p))
                return p, _product(rest), _product(f2[:i] + f2[i + 1:])
    return None


def _weighted_input(node, p: str):
    """The quantity that ``(1 - p)`` multiplies somewhere in the node, or None."""
    if node[0] in ("num", "name"):
        return None
    if node[0] == "*":
        factors = _factors(node)
        for i, factor in enumerate(factors):
            if _one_minus(factor) == p and len(factors) >= 2:
                return _product(factors[:i] + factors[i + 1:])
    for child in node[1:]:
        if isinstance(child, tuple):
            found = _weighted_input(child, p)
            if found is not None:
                return found
    return None


def _correction(node) -> tuple[tuple, str, str] | None:
    """``(E, p, t)`` when the node is ``E / (1 - p^e)`` with p a name and e an expression of one name t."""
    if node[0] != "/":
        return None
    den = node[2]
    if den[0] == "-" and den[1] == ("num", 1) and den[2][0] == "^" and den[2][1][0] == "name":
        counters = _names(den[2][2])
        if len(counters) == 1:
            return node[1], den[2][1][1], next(iter(counters))
    return None


def show_node(node) -> str:
    kind = node[0]
    if kind == "num":
        return str(node[1])
    if kind == "name":
        return node[1]
    if kind == "neg":
        return "-" + show_node(node[1])
    if kind == "call":
        return f"{node[1]}({show_node(node[2])})"
    a, b = show_node(node[1]), show_node(node[2])
    if kind in ("*", "/", "^") and node[1][0] in ("+", "-"):
        a = f"({a})"
    if kind in ("*", "/", "^", "-") and node[2][0] in ("+", "-") or kind in ("/", "^") and node[2][0] in ("*", "/"):
        b = f"({b})"
    return f"{a} {kind} {b}" if kind in "+-" else f"{a}{kind}{b}" if kind == "^" else f"{a} {kind} {b}"


@dataclass
class PseudoCodeResult:
    """Findings and counts of a document's pseudo-code: statements read, decided, holding."""

    findings: list[Finding] = field(default_factory=list)
    statements: int = 0
    decided: int = 0
    holds: int = 0


def _span_values(span: Block) -> dict[str, Fraction]:
    """Initial values a span states (``v(0) = 0``, ``beta = 0.9``)."""
    values: dict[str, Fraction] = {}
    for a in span.assignments:
        if a.constant and a.index in ("(0)", "[0]", ""):
            try:
                values.setdefault(a.target, _value(a.expr, {}))
            except _Unknown:
                continue
    return values


def _initial_values(block: Block, stated: dict[str, Fraction]) -> tuple[dict[str, Fraction], list[Assignment]]:
    """Leading constant assignments of the block (over the section's stated values); the loop body."""
    init: dict[str, Fraction] = dict(stated)
    body = list(block.assignments)
    while body and body[0].constant:
        a = body.pop(0)
        init[a.target] = _value(a.expr, {})
    return init, body


def check_blocks(blocks: list[Block], scope_of, seed: int = 0) -> PseudoCodeResult:
    """Run the checks of the module docstring on every pseudo-code block, in one pass over the blocks."""
    result = PseudoCodeResult()
    _check_conditional_claims(blocks, scope_of, result, seed)
    stated: dict[int, dict[str, Fraction]] = {}  # per scope: values the spans before stated (first one wins)
    for block in blocks:
        scope = scope_of(block.line)
        result.statements += len(block.assignments)
        try:
            init, body = _initial_values(block, stated.get(scope, {}))
        except _Unknown:
            body = []
        if block.span:
            values = stated.setdefault(scope, {})
            for name, value in _span_values(block).items():
                values.setdefault(name, value)
        if not body:
            continue
        if not block.span:  # a span's line has no loop around it: no state to keep
            _check_states(block, init, body, result)
        _check_corrections(init, body, result, seed)
        _check_descent(init, body, result, seed)
    return result


def _check_states(block: Block, init: dict, body: list[Assignment], result: PseudoCodeResult) -> None:
    """AUD015: an average with weights p, 1 - p of a state initialised before the loop must read a state."""
    states = {a.target for a in body}
    initialised = {a.target for a in block.assignments if a.constant and a not in body}
    for a in body:
        arms = ema_arms(a.expr)
        if arms is None:
            continue
        p, first, second = arms
        result.decided += 1
        if first == second:
            result.findings.append(Finding(
                a.line, a.line, "AUD015",
                f"the weights {p} and 1 - {p} multiply the same quantity, so this is {show_node(first)} whatever "
                f"{p} is: the average {a.target} never reads its previous value",
                evidence=f"{p} * X + (1 - {p}) * X = X for X = {show_node(first)}",
                suggestion=f"{a.target} = {p} * {a.target} + (1 - {p}) * {show_node(second)}"))
            continue
        if a.target not in initialised:
            result.decided -= 1
            continue
        if _names(a.expr) & states:
            result.holds += 1
            continue
        result.findings.append(Finding(
            a.line, a.line, "AUD015",
            f"the running average {a.target} is initialised before the loop, but this update never reads it: "
            f"{p} multiplies {show_node(first)} instead of the previous {a.target}",
            evidence=f"the right side depends only on the inputs ({', '.join(sorted(_names(a.expr)))}), so "
                     f"{a.target} after a step is the same whatever it was before (the weights {p} and 1 - {p} "
                     "average nothing)",
            suggestion=f"{a.target} = {p} * {a.target} + (1 - {p}) * {show_node(second)}"))


_GRADIENT = re.compile(r"^(d[A-Z_a-z]\w*|g|g\d|grad\w*|gradient\w*|\w*_grad)$")


def _is_gradient(name: str, parameter: str) -> bool:
    """``dW`` for ``W`` (any case), ``grad``/``g``/``gradient``: the loss's gradient in pseudo-code."""
    return name.lower() == "d" + parameter.lower() or bool(_GRADIENT.match(name)) and not name.startswith(
        ("decay", "delta", "dim", "dropout"))


def _check_descent(init: dict, body: list[Assignment], result: PseudoCodeResult, seed: int) -> None:
    """AUD002: a parameter update (``P = P ± step``, the step reading P's gradient directly or through a state)
    must move P down when every input is positive (a positive gradient, positive rates) and the states start
    at zero; an accumulator (a step even in the gradient) is no descent step and is skipped."""
    assigned = {a.target for a in body}
    for position, a in enumerate(body):
        step = _carried_step(a)
        if step is None:
            continue
        reads = _reads_through(body, position, _names(step))
        gradients = {n for n in reads if _is_gradient(n, a.target) and n not in assigned}
        if not gradients or a.target in reads:
            continue
        moves = [_moves(init, body, position, gradients, sign, seed) for sign in (1, -1)]
        if any(m is None for m in moves):
            continue
        up, down = moves
        if not all(x > 0 for x in up) and not all(x < 0 for x in up) or \
                not all((x > 0) != (y > 0) for x, y in zip(up, down)):
            continue  # mixed signs, or a step even in the gradient (an accumulator): no descent claim to check
        result.decided += 1
        if all(x < 0 for x in up):
            result.holds += 1
            continue
        fixed = ("-", ("name", a.target), step) if a.expr[0] == "+" else ("+", ("name", a.target), step)
        result.findings.append(Finding(
            a.line, a.line, "AUD002",
            f"the update of {a.target} adds the step: with a positive gradient it climbs the loss",
            evidence=f"running the block from zero states with {', '.join(sorted(gradients))} > 0 held constant "
                     f"(other inputs positive), {a.target} changes by " + ", ".join(f"{x:+.4g}" for x in up),
            suggestion=f"{a.target} = {show_node(fixed)}"))


def _carried_step(a: Assignment):
    """``step`` when the assignment is ``P = P + step`` or ``P = P - step`` (step not reading P)."""
    node = a.expr
    if node[0] in ("+", "-") and node[1] == ("name", a.target) and a.target not in _names(node[2]):
        return node[2] if node[0] == "+" else ("neg", node[2])
    if node[0] == "+" and node[2] == ("name", a.target) and a.target not in _names(node[1]):
        return node[1]
    return None


def _reads_through(body: list[Assignment], position: int, names: set[str]) -> set[str]:
    """The names a line reads, through the assignments before it in the body (one pass per level)."""
    seen = set(names)
    frontier = set(names)
    for _ in range(len(body)):
        new = set()
        for b in body[:position]:
            if b.target in frontier:
                new |= _names(b.expr) - seen
        if not new:
            break
        seen |= new
        frontier = new
    return seen


def _moves(init: dict, body: list[Assignment], position: int, gradients: set[str], sign: int, seed: int):
    """How the line's target changes in the first three iterations (floats), or None when unknown."""
    assigned = {a.target for a in body}
    rng = random.Random(seed * 1000 + 31)
    env: dict = {name: 0.0 for name in assigned}
    env.update({k: float(v) for k, v in init.items()})
    decays = {q for a in body for q in _decays(a.expr)}
    for name in sorted(set().union(*(_names(a.expr) for a in body)) - assigned - set(init)):
        env[name] = rng.uniform(0.2, 0.8) if name in decays else rng.uniform(0.5, 2.0)
    for name in gradients:
        env[name] = sign * rng.uniform(0.5, 2.0)
    target = body[position].target
    env[target] = 0.0
    changes = []
    for step in range(1, 4):
        for name in ("t", "k", "n", "i"):
            if name not in assigned:
                env[name] = float(step)
        for i, b in enumerate(body):
            before = env.get(b.target)
            try:
                env[b.target] = _value(b.expr, env, approx=True)
            except (_Unknown, OverflowError, ZeroDivisionError):
                return None
            if i == position:
                changes.append(env[b.target] - before)
    if any(c == 0 or not math.isfinite(c) for c in changes):
        return None
    return changes


def _check_corrections(init: dict, body: list[Assignment], result: PseudoCodeResult, seed: int) -> None:
    """AUD004: a bias-corrected average of a constant input must equal that input at every step."""
    assigned = {a.target for a in body}
    for position, a in enumerate(body):
        found = _correction(a.expr)
        if found is None:
            continue
        inner, p, t = found
        weighted = _weighted_input(inner, p)
        if weighted is None:
            for earlier in reversed(body[:position]):
                if earlier.target in _names(inner):
                    weighted = _weighted_input(earlier.expr, p)
                    break
        if weighted is None or t in assigned or _names(weighted) & assigned:
            continue
        failure = _run_correction(body, position, init, weighted, p, t, seed)
        if failure not in (None, "unknown") and _run_correction(body, position, init, weighted, p, t, seed,
                                                                start=0) is None:
            continue  # right if the loop counts from 0: the notes' convention decides, and it is not read here
        if failure == "unknown":
            continue
        result.decided += 1
        if failure is None:
            result.holds += 1
            continue
        step, got, expected, point = failure
        result.findings.append(Finding(
            a.line, a.line, "AUD004",
            f"this bias correction does not give back a constant input: {a.target} at step {t} = {step} is "
            f"{got}, not {expected}",
            evidence=f"running the block from its stated start with {point} held constant: an average with "
                     f"weights {p}, 1 - {p} that starts at zero is (1 - {p}^{t}) times a constant input, so the "
                     f"correction must give {show_node(weighted)} at every step (a corrected value written back "
                     "into the average, or an exponent off by one, breaks this)",
            suggestion=f"keep the average and its correction apart: {a.target}_corrected = "
                       f"{show_node(('/', inner, ('-', ('num', 1), ('^', ('name', p), ('name', t)))))} (with t counting steps "
                       "from 1)"))


def _run_correction(body: list[Assignment], position: int, init: dict, weighted, p: str, t: str, seed: int,
                    start: int = 1):
    """None when the corrected value equals the weighted input at t = 1..ITERATIONS for every seed; the first
    failure as (step, got, expected, point); "unknown" when exact arithmetic cannot decide."""
    assigned = {a.target for a in body}
    inputs = sorted(set().union(*(_names(a.expr) for a in body)) - assigned - {t, p} - set(init))
    for k in range(SEEDS):
        rng = random.Random(seed * 1000 + 17 * k + 5)
        # a state with no stated initial value is unknown: whatever depends on it abstains
        env: dict[str, Fraction | None] = {name: None for name in assigned}
        env.update(init)
        decays = {p} | {q for a in body for q in _decays(a.expr)}
        for name in inputs + [p]:
            env[name] = Fraction(rng.randint(2, 8), 10) if name in decays else Fraction(rng.randint(1, 19),
                                                                                          rng.randint(2, 7))
        point = ", ".join(f"{n} = {env[n]}" for n in [p] + sorted(_names(weighted)))
        for step in range(start, start + ITERATIONS):
            env[t] = Fraction(step)
            for i, a in enumerate(body):
                try:
                    env[a.target] = _value(a.expr, env)
                except _Unknown:
                    env[a.target] = None
                if i == position:
                    got = env[a.target]
                    try:
                        expected = _value(weighted, env)
                    except _Unknown:
                        return "unknown"
                    if got is None:
                        return "unknown"
                    if got != expected:
                        return step, got, expected, point
    return None


_IF_THEN = re.compile(r"\bif\b(?P<conditions>.*)\bthen\b(?P<claim>.*)$", re.I)


def _check_conditional_claims(blocks: list[Block], scope_of, result: PseudoCodeResult, seed: int) -> None:
    """AUD001 for "if `a = x` and `b = y` then `c = d`" in prose: c and d are computed from the definitions the
    same section's code spans stated before (latest first), with the conditions substituted and every other
    input a seeded random positive number; two points where they differ make the claim wrong. A name defined in
    terms of itself, a function the reader does not know, or a value that cannot be computed: not judged."""
    stated: dict[int, dict[str, tuple]] = {}  # per scope: the latest definition of each name in the spans so far
    for block in blocks:
        m = _IF_THEN.search(block.text) if block.span else None
        if m is None:
            if block.span:
                for a in block.assignments:
                    if a.target not in _names(a.expr):
                        stated.setdefault(scope_of(block.line), {})[a.target] = a.expr
            continue
        conditions = [a for a in block.assignments if block.text.find(a.text) < m.start("claim")]
        claims = [a for a in block.assignments if a not in conditions]
        if not conditions or len(claims) != 1:
            continue
        claim = claims[0]
        definitions = stated.get(scope_of(block.line), {})
        if claim.target not in definitions:
            continue
        differing = []
        for k in range(SEEDS):
            rng = random.Random(seed * 1000 + 101 * k + 3)
            inputs: dict = {}
            try:
                env = dict(inputs)
                for c in conditions:
                    env[c.target] = _resolve(c.expr, definitions, env, rng, 0)
                left = _resolve(("name", claim.target), definitions, env, rng, 0)
                right = _resolve(claim.expr, definitions, env, rng, 0)
            except (_Unknown, OverflowError, ZeroDivisionError, RecursionError):
                differing = []
                break
            if abs(left - right) > 1e-9 * max(1.0, abs(left), abs(right)):
                differing.append((left, right, {n: v for n, v in env.items()}))
            else:
                break
        result.decided += 1
        if len(differing) < SEEDS:
            result.holds += 1 if not differing else 0
            if differing:
                result.decided -= 1
            continue
        left, right, env = differing[0]
        shown = ", ".join(f"{n} = {v:.4g}" for n, v in sorted(env.items()))
        result.findings.append(Finding(
            claim.line, claim.line, "AUD001",
            f"under the stated conditions ({'; '.join(c.text for c in conditions)}) {claim.target} is not "
            f"{show_node(claim.expr)}",
            evidence=f"with the definitions stated above and {shown}: {claim.target} = {left:.6g}, "
                     f"{show_node(claim.expr)} = {right:.6g}"))


def _resolve(node, definitions: dict, env: dict, rng: random.Random, depth: int) -> float:
    """A node's float value: names from env, else from their definition, else a random positive input."""
    if depth > MAX_DEPTH:
        raise _Unknown("definitions too deep")
    if node[0] == "name":
        name = node[1]
        if name not in env:
            if name in definitions:
                env[name] = _resolve(definitions[name], definitions, env, rng, depth + 1)
            else:
                env[name] = rng.uniform(0.5, 3.0)
        return env[name]
    if node[0] == "num":
        return float(node[1])
    values = {}
    for name in _names(node):
        values[name] = _resolve(("name", name), definitions, env, rng, depth + 1)
    return _value(node, values, approx=True)


def audit_pseudocode(text: str, kind: str, scope_of, seed: int = 0) -> PseudoCodeResult:
    """The pseudo-code checks of a Markdown/text document (other dialects have no fences or spans)."""
    if kind not in ("md", "txt"):
        return PseudoCodeResult()
    return check_blocks(find_blocks(text), scope_of, seed)
