"""Order relations (<, <=, >, >=): conditions are recorded, claims are checked at seeded points of their domain.

A statement with a relation other than ``=`` is one of:

* an **approximation** (``\\approx``, ``\\sim``) or a **limit** (``\\to``): unchecked, each with its own reason;
* a **condition** (``0 < \\beta < 1``, ``t \\ge 1``, ``0 < \\eta\\lambda < 2``): a chain of numbers around one
  name or one product of names. It states the domain of those names for the rest of the scope and is counted
  as a definition, never checked;
* an **inequality claim** (any other chain of order relations, ``=`` links allowed): both sides are evaluated
  at seeded random points of the domain of every name in them, the domain coming from the name's role (indices
  and counts are positive integers, decay rates ``beta``/``rho`` lie in (0, 1), learning rates, epsilon and
  standard deviations are positive) narrowed by the conditions stated in the scope and in the same formula.
  Points that violate a stated condition are dropped.

A claim holds (decided) when it holds at every point evaluated (at least ``MIN_POINTS``). It fails (AUD019) only
when it fails at a point that satisfies every stated condition and neither the sentence before nor the one
after the formula states a condition the check could not read ("for …", "when …", "if …", "assume …",
"provided …" with anything but conditions of the kind above): then it abstains. A name without a known domain
(a function, a norm of an unknown, a sequence, a parameter with no role) makes it abstain: nothing is guessed.

Nothing here parses text of the document except to look for cue words and to read the inline formulas of a
cue sentence through ``parse_formula``; the sides are the sympy expressions the analyser already has.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from .compare import apply_assumptions
from .context import Context, base_of, is_integer_name
from .findings import to_latex
from .evaluate import Evaluator, Point, Undecidable, _mp, show

ORDER = ("<", "<=", ">", ">=")
CODE = "AUD019"
POINTS = 24
MIN_POINTS = 8
REASON_APPROX = "approximation"
REASON_LIMIT = "limit"
REASON_OTHER = "relation other than = or an order (≠, ⇒, ⇔, ≡, ∝)"
REASON_UNDECIDED = "inequality not decided"
REASON_PROSE = "inequality with a condition in prose"
DECAY_NAMES = {"beta", "rho"}  # decay rates and momentum coefficients: in (0, 1)
POSITIVE_NAMES = {"eta", "alpha", "lr", "epsilon", "varepsilon", "sigma"}  # rates, epsilon, standard deviations
_CUE = re.compile(r"\b(for|when|whenever|if|iff|assum\w*|provided|given|as long as|unless|only)\b", re.I)
_POSITIVE_VALUES = tuple(Fraction(x) for x in ("1/100", "1/10", "1/4", "1/3", "1/2", "2/3", "1", "3/2", "2", "3",
                                                "5", "10", "100"))
_UNIT_VALUES = tuple(Fraction(x) for x in ("1/100", "1/10", "1/4", "1/3", "1/2", "2/3", "3/4", "9/10", "99/100"))


@dataclass
class Condition:
    """``lo < expr <= hi`` (either bound may be None) over the names of ``expr``, a name or product of names."""

    expr: sympy.Basic
    lo: sympy.Basic | None = None
    lo_strict: bool = True
    hi: sympy.Basic | None = None
    hi_strict: bool = True

    def names(self) -> set[str]:
        return {s.name for s in self.expr.free_symbols}

    def bounds_name(self, name: str) -> bool:
        """Whether the condition bounds ``name`` alone (``0 < \\beta < 1``, not ``\\eta\\lambda < 2``)."""
        return isinstance(self.expr, sympy.Symbol) and self.expr.name == name

    def holds(self, value) -> bool:
        if self.lo is not None:
            lo = _mp(_fraction(self.lo))
            if value < lo or (self.lo_strict and value == lo):
                return False
        if self.hi is not None:
            hi = _mp(_fraction(self.hi))
            if value > hi or (self.hi_strict and value == hi):
                return False
        return True


def _fraction(bound: sympy.Basic) -> Fraction:
    """A condition's rational bound as an exact Fraction."""
    r = sympy.Rational(bound)
    return Fraction(int(r.p), int(r.q))


@dataclass
class Outcome:
    verdict: str  # "condition", "holds", "fails", "unchecked"
    reason: str = ""
    conditions: list[Condition] = field(default_factory=list)
    message: str = ""
    evidence: str = ""


def relation_reason(relations: tuple[str, ...]) -> str | None:
    """The unchecked reason of a chain that is not an order chain; None for an order chain (``=`` links allowed)."""
    if "~" in relations:
        return REASON_APPROX
    if "->" in relations:
        return REASON_LIMIT
    if not all(r in ORDER or r == "=" for r in relations) or not any(r in ORDER for r in relations):
        return REASON_OTHER
    up = any(r in ("<", "<=") for r in relations)
    down = any(r in (">", ">=") for r in relations)
    return REASON_OTHER if up and down else None


def _number(expr: sympy.Basic) -> bool:
    return bool(expr.is_number) and expr.is_real is not False and not expr.has(sympy.zoo, sympy.nan) \
        and expr.is_finite is not False


def _monomial(expr: sympy.Basic) -> bool:
    """A name or a product of names (``\\eta\\lambda``): what a condition bounds."""
    factors = expr.args if isinstance(expr, sympy.Mul) else (expr,)
    return all(isinstance(f, sympy.Symbol) for f in factors) and len(factors) <= 3


def _as_names(expr: sympy.Basic, context: Context | None = None) -> sympy.Basic:
    """``beta(1)`` (the parser's reading of ``\\beta_1``) as the name ``beta_1`` where nothing defines it as a
    sequence: a term at a fixed integer index is one quantity."""
    swap = {}
    for f in expr.atoms(AppliedUndef):
        name = type(f).__name__
        if name in ("E", "Var", "Cov", "clip", "tr", "diag", "softmax", "relu") or not f.args or \
                not all(a.is_Integer for a in f.args):
            continue
        key = (name, tuple(int(a) for a in f.args))
        if context is not None and (key in context.values or name in context.definitions):
            continue
        swap[f] = sympy.Symbol(name + "_" + "_".join(str(a) for a in key[1]))
    return expr.xreplace(swap) if swap else expr


def as_condition(sides: list[sympy.Basic], relations: tuple[str, ...]) -> Condition | None:
    """``0 < \\beta < 1``, ``t \\ge 1``, ``\\eta\\lambda < 2`` as a Condition; None for anything else."""
    if any(r not in ORDER for r in relations) or relations_reversed(relations) is None:
        return None
    if any(s is None for s in sides):
        return None
    sides = [_as_names(s) for s in sides]
    named = [i for i, s in enumerate(sides) if not _number(s)]
    if len(named) != 1 or not _monomial(sides[named[0]]):
        return None
    i = named[0]
    if not all(_number(s) and s.is_rational for j, s in enumerate(sides) if j != i):
        return None
    up = relations[0] in ("<", "<=")
    c = Condition(sides[i])
    if i > 0:  # the side before and its relation: a bound below (<) or above (>)
        bound, strict = sides[i - 1], relations[i - 1] in ("<", ">")
        if up:
            c.lo, c.lo_strict = bound, strict
        else:
            c.hi, c.hi_strict = bound, strict
    if i < len(sides) - 1:
        bound, strict = sides[i + 1], relations[i] in ("<", ">")
        if up:
            c.hi, c.hi_strict = bound, strict
        else:
            c.lo, c.lo_strict = bound, strict
    return c


def relations_reversed(relations: tuple[str, ...]) -> bool | None:
    """False for an ascending chain (<, <=), True for a descending one, None when mixed."""
    ups = {r in ("<", "<=") for r in relations if r in ORDER}
    return None if len(ups) != 1 else not ups.pop()


def _leaf_names(expr: sympy.Basic, context: Context, depth: int = 4) -> set[str] | None:
    """The names an expression finally depends on, through definitions and stated values; None when it applies
    a function or sequence that is not a stated value (its domain is unknown)."""
    for f in expr.atoms(AppliedUndef):
        if not all(a.is_Integer for a in f.args) or (type(f).__name__, tuple(int(a) for a in f.args)) \
                not in context.values:
            return None
    bound = {lim[0] for s in expr.atoms(sympy.Sum, sympy.Product) for lim in s.limits}
    out: set[str] = set()
    for s in expr.free_symbols - bound:
        name = s.name
        if (name, ()) in context.values:
            value = context.values[(name, ())]
            sub = _leaf_names(value, context, depth - 1) if depth > 0 else None
        elif name in context.definitions and isinstance(context.definitions[name].lhs, sympy.Symbol):
            d = context.definitions[name]
            sub = _leaf_names(d.rhs, context, depth - 1) if depth > 0 and not d.recursive else None
        else:
            out.add(name)
            continue
        if sub is None:
            return None
        out |= sub
    return out


def _role(name: str) -> str | None:
    if is_integer_name(name):
        return "integer"
    base = base_of(name)
    if base in DECAY_NAMES:
        return "unit"
    if base in POSITIVE_NAMES:
        return "positive"
    return None


def _rng(seed: int, k: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"ineq:{seed}:{k}:{name}".encode()).digest()[:8], "big")


def _sample(name: str, role: str | None, bounds: list[Condition], seed: int, k: int):
    """A value for ``name``: from its role, or between the bounds a condition on the name alone gives."""
    r = _rng(seed, k, name)
    if role == "integer":
        return 1 + r % 10
    own = [c for c in bounds if c.bounds_name(name)]
    lo = max((_fraction(c.lo) for c in own if c.lo is not None), default=None)
    hi = min((_fraction(c.hi) for c in own if c.hi is not None), default=None)
    if role in ("unit", "positive"):  # the role's range narrowed by the stated bounds: (0, 1) or (0, inf)
        lo = Fraction(0) if lo is None else max(lo, Fraction(0))
    if role == "unit":
        hi = Fraction(1) if hi is None else min(hi, Fraction(1))
    if lo is not None and hi is not None:
        if hi <= lo:
            return None
        u = _UNIT_VALUES[r % len(_UNIT_VALUES)]
        return lo + (hi - lo) * u
    if lo is not None:
        return lo + _POSITIVE_VALUES[r % len(_POSITIVE_VALUES)]
    if hi is not None:
        return hi - _POSITIVE_VALUES[r % len(_POSITIVE_VALUES)]
    return None


def readable_prose(text: str, after: bool) -> tuple[bool, list[Condition]]:
    """Whether the sentence next to a formula states no condition the check cannot read, and the conditions it
    states in inline formulas (``for $0 < \\eta\\lambda < 2$``). ``after``: the sentence after the formula."""
    from .parse import parse_formula

    text = (text or "").strip()
    if after:
        m = re.search(r"(?<=[.!?])\s|\n\s*\n", text)
        sentence = text[:m.start()] if m else text
    else:
        pieces = [p for p in re.split(r"(?<=[.!?])\s|\n\s*\n", text) if p.strip()]
        sentence = pieces[-1] if pieces else ""
    prose = re.sub(r"\$[^$]*\$", " ", sentence)
    if not _CUE.search(prose):
        return True, []
    found: list[Condition] = []
    formulas = re.findall(r"\$([^$]+)\$", sentence)
    if not formulas:
        return False, []
    for latex in formulas:
        parsed = parse_formula(latex)
        if parsed.rejected:
            return False, []
        for st in parsed.statements:
            c = as_condition([s.expr for s in st.sides], st.relations) if st.relations else None
            if c is None:
                return False, []
            found.append(c)
    return True, found


def check(sides: list[sympy.Basic], relations: tuple[str, ...], context: Context, seed: int,
          conditions: list[Condition], assumptions=(), prose_before: str = "", prose_after: str | None = None
          ) -> Outcome:
    """Classify and check one chain with at least one relation other than ``=`` (see the module doc)."""
    reason = relation_reason(relations)
    if reason is not None:
        return Outcome("unchecked", reason)
    condition = as_condition(sides, relations)
    if condition is not None:
        return Outcome("condition", conditions=[condition])
    if any(s is None for s in sides):
        return Outcome("unchecked", REASON_UNDECIDED)
    # the sides as written must have known domains too: an assumption about f(x^*) is read for every argument
    # by ``apply_assumptions`` and could otherwise turn unknown functions into numbers
    if any(_leaf_names(_as_names(s, context), context) is None for s in sides):
        return Outcome("unchecked", REASON_UNDECIDED)
    sides = [_as_names(apply_assumptions(s, tuple(assumptions)), context) for s in sides]
    names: set[str] = set()
    for s in sides:
        leaves = _leaf_names(s, context)
        if leaves is None:
            return Outcome("unchecked", REASON_UNDECIDED)
        names |= leaves
    ok_before, before = readable_prose(prose_before, after=False)
    ok_after, after = readable_prose(prose_after or "", after=True)
    stated = list(conditions) + before + after
    roles = {n: _role(n) for n in names}
    if any(roles[n] is None and not any(c.bounds_name(n) for c in stated)
           for n in names):
        return Outcome("unchecked", REASON_UNDECIDED)  # a name with no role and no stated bound: never guessed
    relevant = [c for c in stated if c.names() <= names]
    # a condition tying a name here to one not here (eta lambda < 2 for a claim about eta): a failure is no evidence
    entangled = any(c.names() & names and not c.names() <= names for c in stated)
    checked, edge = 0, False
    for k in range(POINTS):
        values = {}
        for n in sorted(names):
            v = _sample(n, roles[n], stated, seed, k)
            if v is None:
                return Outcome("unchecked", REASON_UNDECIDED)
            values[n] = v
        ev = Evaluator(context, Point(seed=seed, integers={n for n in names if roles[n] == "integer"},
                                      assigned=dict(values)))
        try:
            if not all(c.holds(ev.value(c.expr)) for c in relevant):
                continue
            vals = [ev.value(s) for s in sides]
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            continue
        checked += 1
        for i, rel in enumerate(relations):
            a, b = vals[i], vals[i + 1]
            if _holds(a, b, rel):
                continue
            if not (ok_before and ok_after) or prose_after is None:
                return Outcome("unchecked", REASON_PROSE)
            if entangled:
                return Outcome("unchecked", REASON_UNDECIDED)
            if any(roles[n] == "integer" and values[n] == 1 and not _bounded_below(n, stated) for n in values):
                edge = True  # an index at 1 where no condition says it may be 1 (t - 1 in a denominator …)
                break
            point = ", ".join(f"{n} = {values[n]}" for n in sorted(values)) or "no free names"
            return Outcome("fails", message=f"inequality does not hold: {to_latex(sides[i])} {_rel_latex(rel)} "
                                            f"{to_latex(sides[i + 1])}",
                           evidence=f"at {point} (every stated condition holds there) the left side is {show(a)} "
                                    f"and the right side is {show(b)}")
    if checked < MIN_POINTS or edge:
        return Outcome("unchecked", REASON_UNDECIDED)
    return Outcome("holds")


def _bounded_below(name: str, stated: list[Condition]) -> bool:
    """Whether a stated condition on ``name`` alone lets it be 1 (``t \\ge 1``, ``1 \\le t \\le T``)."""
    return any(c.bounds_name(name) and c.lo is not None and c.holds(1)
               for c in stated)


def _holds(a, b, rel: str) -> bool:
    tol = mpmath.mpf(10) ** -30 * max(mpmath.mpf(1), abs(a), abs(b))
    if rel == "=":
        return abs(a - b) <= tol
    if rel == "<":
        return a < b - tol
    if rel == "<=":
        return a <= b + tol
    if rel == ">":
        return a > b + tol
    return a >= b - tol


def _rel_latex(rel: str) -> str:
    return {"<": "<", "<=": "\\le", ">": ">", ">=": "\\ge", "=": "="}[rel]


def analyse_statement(analysis, st, sides: list[sympy.Basic], relations: tuple[str, ...]) -> None:
    """The analyser's hook: tally one statement with a relation other than ``=`` and report a failure.

    ``analysis`` is ``analyse._Analysis``: its context, seed, run state (``run.conditions``: the conditions
    stated so far in the scope), formula info (prose before and after) and tally are used.
    """
    run = analysis.run
    here = []
    for other in analysis.parsed.statements:  # conditions stated in the same formula ("…, \\quad 0 < \\beta < 1")
        if other is not st and other.relations and all(s.expr is not None for s in other.sides):
            c = as_condition([s.expr for s in other.sides], other.relations)
            if c is not None:
                here.append(c)
    outcome = check(sides, relations, analysis.context, analysis.seed, list(run.conditions) + here,
                    analysis.assumptions(), analysis.info.prose_before, analysis.info.prose_after)
    if outcome.verdict == "condition":
        run.conditions = list(run.conditions) + outcome.conditions
        analysis.tally.definitions += 1
    elif outcome.verdict == "holds":
        analysis.count_holds()
    elif outcome.verdict == "fails":
        analysis.tally.decided += 1
        analysis.report(st, CODE, outcome.message, evidence=outcome.evidence)
    else:
        analysis.unchecked(outcome.reason)
