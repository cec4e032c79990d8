"""Classify each statement of a formula and check it the way its kind must be checked.

Not every ``=`` is an identity. A statement is one of:

* a **numeric example** (numbers only, after the values the document stated): recomputed (AUD008);
* an **assumption** (an inline ``$x = …$`` in prose, e.g. "Setting $\\epsilon = 0$"): applies to the next
  display formula's checks; ``x_0 = c`` is an initial value and stays;
* a **definition or update rule** (``w_{t+1} = w_t - \\eta g_t``, ``\\hat m_t = …``): recorded in the context
  and run by ``check_update`` (sign, first-step division by zero, bias correction, scaling, EMA weights);
* a **derivation step**: a later side of a chain ``a = b = c``, or a restatement of the quantity the previous
  display formula was about (the next line of a derivation): must be an identity under the context (AUD001);
* an **equation being solved**: a block whose lines all contain one unknown and start from an equation in it
  (``x = a x + b``, ``0 = …``): each line is solved for the unknown and the solutions compared (AUD009);
* a **condition** ("we need …", "must satisfy …"): an equation that is not claimed to hold identically; left
  unchecked when it does not hold.

Failing comparisons between sides that name different quantities, none of which the document defined, are
left unchecked: the step relies on facts not stated as formulas. Everything unchecked is counted, never an
error.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from .canonical import NAMED
from .check_update import G1, Where, check_definition, divided_estimate
from . import check_inequality
from .check_variance import expected_variance, variance_subject
from .compare import Comparison, apply_assumptions, compare
from .context import (Context, Definition, atom_name, base_of, integer_symbols, is_integer_name,
                      referenced_functions)
from .normalise import GREEK
from .derivatives import derivative_of
from .recurrence import stationary
from .standardise import centring
from .expectation import closed, factor_between, moment, prose_moments, unroll, with_named_moments
from .model import scan_atoms
from .evaluate import Evaluator, Point, Undecidable, close, show
from .findings import Finding, to_latex
from .parse import ParsedFormula, Statement, parse_formula

ASSIGNMENTS = ("<-", "+=", "-=")
LOOP_COUNTER = "k"  # the index an assignment in a loop gets: x <- f(x) is x(k+1) = f(x(k))
OPERATORS = ("E", "Var", "Cov", "clip", "tr", "diag", "softmax", "relu")
RUN_GAP_LINES = 14
RECENT_CHARS = 800
# the next line of a derivation follows its display after at most one paragraph of prose, or after prose that
# states assumptions for it ("we assume $g_t = g$"); more prose between two statements about one name presents
# another form of it, not a derivation step
RUN_PARAGRAPHS = 1
_PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t\u200b\u3000]*\n)+")
# Prose that introduces another form of a rule rather than the next line of a derivation.
_NEW_DEFINITION = re.compile(r"\b(version|variant|alternative|another|instead|otherwise|other form|some slides|"
                             r"some notes|written as|define|we define)\b|\\item\b", re.I)  # \item: a list of alternatives
UNKNOWN = "__unknown__"
_DIVIDE_BY = re.compile(r"\bdivid\w*\s+\$([^$]{1,80})\$\s+by\s*$", re.I)
_DEVIATION = {"sd", "SD", "std", "Std", "stddev", "stdev"}  # standard deviation operators
# Greek letters that name parameters (rates, decays): sigma, Sigma and Delta name derived quantities instead.
# Capital Greek letters name functions, sets and matrices (\Gamma(n), \Pi_C, \Sigma), not step sizes or decays.
_PARAMETER_LETTERS = {g for g in GREEK if g[0].islower()} - {"sigma", "delta", "nabla", "ell", "phi", "psi"}  # a restatement this close to the previous display about the same quantity is a derivation step
_WITHOUT_REPLACEMENT = re.compile(r"\bwithout[\s-]+replacement\b", re.I)
_INDEPENDENCE = re.compile(r"\b(independent(ly)?|i\.\s?i\.\s?d\.?|iid|uncorrelated)\b", re.I)
_CONDITION_WORDS = re.compile(r"\b(need|needs|must|require|requires|satisf\w*|solve|solving|suppose|assume|if|"
                              r"condition|want|would|should|for .* to be|show|prove|check)\b", re.I)


@dataclass
class RunState:
    """What the analysis remembers between formulas (besides the context)."""

    previous_display_names: set[str] = field(default_factory=set)
    previous_forms: dict[str, tuple[sympy.Basic, sympy.Basic]] = field(default_factory=dict)  # name -> (lhs, rhs)
    previous_display_end: int = -10**9
    previous_display_line: int = -10**9  # where that display formula starts
    assumptions: list[tuple[sympy.Basic, sympy.Basic]] = field(default_factory=list)
    scope: int = 0  # the document model's scope (section, algorithm block) of the last formula
    assigned: set[str] = field(default_factory=set)  # names assigned with <- in this scope: sequences over k
    independent: bool = False  # the scope's prose states independence (iid, uncorrelated)
    recent_text: str = ""  # the last prose and formulas of this scope, for sentences that inline formulas cut
    moments_read: set = field(default_factory=set)  # (kind, subject, value) already taken from the prose
    inline_recurrences: dict = field(default_factory=dict)  # name -> Definition stated inline in this scope
    since_display: str = ""  # the prose (inline formulas as $) since the last display formula
    variances: dict = field(default_factory=dict)  # name -> (stated Var, line) in this scope
    wrong_values: set = field(default_factory=set)  # names whose stated value has an error finding
    piecewise: set = field(default_factory=set)  # names defined piece by piece (", t \\le T_w") in this scope
    conditions: list = field(default_factory=list)  # check_inequality.Condition stated in this scope (0<beta<1)


@dataclass
class Tally:
    """Counts of one formula's statements; ``reasons`` counts each reason a statement was left unchecked."""

    statements: int = 0
    decided: int = 0
    unchecked: int = 0
    definitions: int = 0
    unparsed: int = 0
    holds: int = 0
    reasons: Counter = field(default_factory=Counter)


@dataclass
class FormulaOutcome:
    findings: list[Finding]
    context: Context
    run: RunState
    tally: Tally


@dataclass(frozen=True)
class FormulaInfo:
    line: int
    end_line: int
    display: bool
    prose_before: str
    scope: int = 0  # which section or algorithm block the formula is in (``model.build_model``)
    scope_kind: str = ""  # "algorithm" for a pseudo-code block: its inline formulas are its statements
    prose_after: str | None = None  # the text just after the formula (None: not known), for conditions after it


def _names(expr: sympy.Basic) -> set[str]:
    names = {s.name for s in expr.free_symbols}
    names |= {type(f).__name__ for f in expr.atoms(AppliedUndef)}
    return names


def _expanded_names(expr: sympy.Basic, context: Context, depth: int = 4) -> set[str]:
    """The names an expression uses, with those of the definitions it relies on (a few levels deep)."""
    names = _names(expr)
    frontier = set(names)
    for _ in range(depth):
        new: set[str] = set()
        for name in frontier:
            definition = context.definitions.get(name)
            if definition is not None and "/d" not in name:
                new |= _names(definition.rhs) - _bound(definition.rhs)
        frontier = new - names
        names |= new
        if not frontier:
            break
    return names


def _bound(expr: sympy.Basic) -> set[str]:
    return {str(limit[0]) for s in expr.atoms(sympy.Sum, sympy.Product) for limit in s.limits}


def _is_number(expr: sympy.Basic) -> bool:
    return not expr.free_symbols and not expr.atoms(AppliedUndef)


def _comparable(a: sympy.Basic, b: sympy.Basic, context: Context) -> bool:
    """Whether a failed comparison is evidence: the sides name the same quantities, up to defined ones."""
    if any(type(f).__name__ in OPERATORS for f in a.atoms(AppliedUndef) | b.atoms(AppliedUndef)):
        return False  # E[.], Var[.] are evaluated as opaque values: a mismatch is no evidence
    extra = (_expanded_names(a, context) ^ _expanded_names(b, context)) - _bound(a) - _bound(b)
    # derivatives (dw/dt) are continuous-time: a step that discretises them is not an identity
    defined = {n for n in context.definitions if "/d" not in n} | {k[0] for k in context.values}
    # a Greek letter alone is a parameter (mu, beta, eta_avg): an identity must hold for all its values
    return all(n in defined or is_integer_name(n) or base_of(n) in _PARAMETER_LETTERS for n in extra)


def _condition_cue(prose: str) -> bool:
    """Whether the last sentence before a formula announces a condition rather than a fact."""
    pieces = [p for p in re.split(r"(?<=[.!?])\s|\n", prose.strip()) if p.strip()]
    tail = pieces[-1] if pieces else ""
    return bool(_CONDITION_WORDS.search(tail[-200:]))


class _Analysis:
    def __init__(self, parsed: ParsedFormula, info: FormulaInfo, context: Context, run: RunState,
                 seed: int) -> None:
        self.parsed, self.info, self.context, self.run, self.seed = parsed, info, context, run, seed
        self.findings: list[Finding] = []
        self.tally = Tally()
        self.display_names: set[str] = set()
        self.forms: dict[str, tuple[sympy.Basic, sympy.Basic]] = {}
        self.assigning = False  # the statement being analysed is an assignment (<-, :=, +=)
        self.previous_equation: sympy.Basic | None = None  # lhs - rhs of the row before, for rows written "<=> …"
        # a formula that states a condition beside its definition ("…, \\quad t \\le T_w") defines one piece
        self.piecewise = _piecewise(parsed)

    def where(self, st: Statement) -> Where:
        line = self.info.line + st.row
        return Where(line, line if len(self.parsed.statements) > 1 else self.info.end_line)

    def report(self, st: Statement, code: str, message: str, evidence: str = "", suggestion: str = "") -> None:
        """Record a finding ``code`` on the lines of statement ``st``."""
        w = self.where(st)
        self.findings.append(Finding(w.line, w.end_line, code, message, evidence=evidence, suggestion=suggestion))

    def unchecked(self, reason: str) -> None:
        """Tally one statement left unchecked, and why."""
        self.tally.unchecked += 1
        self.tally.reasons[reason] += 1

    def unparsed(self, reason: str) -> None:
        """Tally one statement whose notation could not be read, and why (the parser's reason, shortened)."""
        self.tally.unparsed += 1
        self.tally.reasons["unread notation: " + _short_reason(reason)] += 1

    def instantiation(self, a: sympy.Basic, b: sympy.Basic) -> bool:
        """``1 - \\beta^t = 1 - 0.98^2``: one side symbolic, the other a number, the values not stated as formulas."""
        a, b = (apply_assumptions(x, self.assumptions()) for x in (a, b))
        if _is_number(a) == _is_number(b):
            return False
        symbolic = b if _is_number(a) else a
        return not _all_known(symbolic, self.context)

    def count_holds(self) -> None:
        """Tally one decided check that holds."""
        self.tally.decided += 1
        self.tally.holds += 1

    def assumptions(self) -> tuple[tuple[sympy.Basic, sympy.Basic], ...]:
        return tuple(self.run.assumptions)

    def cmp(self, a: sympy.Basic, b: sympy.Basic) -> Comparison:
        assumptions = self.assumptions()
        context = self.context
        if assumptions:
            context = self.context.copy()
            context.definitions = {
                n: Definition(d.name, d.lhs, apply_assumptions(d.rhs, assumptions), d.line, d.recursive, d.scope)
                for n, d in self.context.definitions.items()}
        return compare(apply_assumptions(a, assumptions), apply_assumptions(b, assumptions), context,
                       seed=self.seed)

    def step_finding(self, st: Statement, a, b, result: Comparison, what: str, suggestion: str = "") -> None:
        if result.index_shift_only:
            self.report(st, "AUD102", f"{what} holds only if the gradient's time index is ignored",
                        evidence=f"at {_point(result)}: {result.lhs_value} vs {result.rhs_value}")
            return
        confirm = {"0": "; simplify finds the difference zero (?)", "nonzero": "; simplify confirms a nonzero "
                   "difference", "timeout": "; simplify timed out", "": ""}[result.simplify]
        self.report(st, "AUD001", f"{what} does not follow: {to_latex(a)} \\neq {to_latex(b)}",
                    evidence=f"at {_point(result)} the left side is {result.lhs_value} and the right side is "
                             f"{result.rhs_value}{confirm}",
                    suggestion=suggestion)

    # -- per kind ------------------------------------------------------------------------------------
    def numeric(self, st: Statement, sides: list[sympy.Basic], latex: list[str]) -> None:
        ev = Evaluator(self.context, Point(seed=self.seed))
        try:
            values = [ev.value(apply_assumptions(s, self.assumptions())) for s in sides]
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            self.unchecked('numeric example not evaluable')
            return
        self.tally.decided += 1
        for i in range(len(values) - 1):
            a, b = values[i], values[i + 1]
            tolerance = max(_rounding(latex[i]), _rounding(latex[i + 1]))
            if tolerance:
                value = lambda e: ev.value(apply_assumptions(e, self.assumptions()))  # noqa: E731
                tolerance += _inputs_rounding(sides[i:i + 2], latex[i:i + 2], value)
            ok = _within(a, b, tolerance) if tolerance else close(a, b)
            if not ok:
                self.report(st, "AUD008", f"numeric example is wrong: {latex[i]} = {show(a)}, not {latex[i + 1]}",
                            evidence=f"recomputed: {show(a)} vs {show(b)}"
                                     + (f" (allowed rounding {mpmath.nstr(tolerance, 2)})" if tolerance else ""),
                            suggestion=f"{latex[i]} = {show(a)}")
                return
        self.tally.holds += 1

    def uses_wrong_value(self, *exprs: sympy.Basic) -> bool:
        """Whether an expression reads a name whose stated value already has an error finding."""
        return bool(self.run.wrong_values) and any(_names(e) & self.run.wrong_values for e in exprs)

    def chain_steps(self, st: Statement, sides: list[sympy.Basic], start: int, latex: list[str] | None = None) -> None:
        for i in range(start, len(sides) - 1):
            a, b = sides[i], sides[i + 1]
            if self.uses_wrong_value(a, b):
                self.unchecked("step uses a value with an error finding")
                continue
            if latex is not None and self.rounded_step(st, a, b, latex[i], latex[i + 1]):
                continue
            if atom_name(a) is not None and _is_number(b) and not _all_known(a, self.context):
                # "mu = beta_1 = 0.9": a value given in passing, not a derivation step
                key = (atom_name(a), tuple(int(x) for x in a.args)) if isinstance(a, AppliedUndef) and all(
                    x.is_Integer for x in a.args) else (atom_name(a), ())
                self.context.values.setdefault(key, b)
                self.tally.definitions += 1
                continue
            if self.instantiation(a, b):
                self.unchecked("values substituted that the notes did not state as formulas")
                continue
            result = self.cmp(a, b)
            if result.verdict == "holds":
                self.count_holds()
            elif result.verdict == "fails" and _unrelated_steps((a, b), self.context):
                self.unchecked("a quantity at two steps with no recurrence stated")
            elif result.verdict == "fails" and _comparable(apply_assumptions(a, self.assumptions()),
                                                           apply_assumptions(b, self.assumptions()), self.context):
                self.tally.decided += 1
                self.step_finding(st, a, b, result, "this step")
            else:
                self.unchecked('step relies on facts not stated as formulas')

    def stated_constants(self, st: Statement, latex: list[str]) -> None:
        """AUD018: a rule's decimal constant that is ten times or a tenth of a value the prose just listed, when
        another of its constants matches a listed value exactly (so the prose lists this rule's constants)."""
        prose = re.sub(r"\$[^$]*\$", " ", self.info.prose_before[-400:])
        listed = {_decimal(m.group(1)) for m in _DECIMAL.finditer(prose)}
        constants = [m.group(1) for side in latex for m in _DECIMAL.finditer(side)]
        if len(constants) < 2 or not listed:
            return
        values = [_decimal(c) for c in constants]
        if not any(v in listed for v in values):
            return
        for text, value in zip(constants, values):
            if value in listed:
                continue
            near = [x for x in listed if x in (value * 10, value / 10)]
            if len(near) == 1:
                self.tally.decided += 1
                self.report(st, "AUD018", f"the constant {text} differs from the value {near[0].normalize()} the "
                                          f"text states just before by a factor of ten",
                            evidence=f"the text lists {', '.join(sorted(str(x.normalize()) for x in listed))}; the "
                                     f"rule's other constants match it")
                return

    def rounded_step(self, st: Statement, a: sympy.Basic, b: sympy.Basic, latex_a: str, latex_b: str) -> bool:
        """``… = 0.5932699`` after a computed number: equal up to the rounding the decimal states (AUD001).

        False (not handled) unless one side is a bare decimal and both sides are numbers under the stated values.
        """
        tolerance = max(_rounding(latex_a), _rounding(latex_b))
        assumptions = self.assumptions()
        a, b = apply_assumptions(a, assumptions), apply_assumptions(b, assumptions)
        if not tolerance or not (_all_known(a, self.context) and _all_known(b, self.context)):
            return False
        ev = Evaluator(self.context, Point(seed=self.seed))
        try:
            x, y = ev.value(a), ev.value(b)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            return False
        value = lambda e: Evaluator(self.context, Point(seed=self.seed)).value(e)  # noqa: E731
        tolerance += _inputs_rounding((a, b), (latex_a, latex_b), value)
        self.tally.decided += 1
        if _within(x, y, tolerance):
            self.tally.holds += 1
        else:
            self.report(st, "AUD001", f"this step does not follow: {latex_a} is {show(x)}, not {latex_b}",
                        evidence=f"recomputed: {show(x)} vs {show(y)} (allowed rounding "
                                 f"{mpmath.nstr(tolerance, 2)})")
        return True

    def statement(self, st: Statement, previous_last: sympy.Basic | None) -> sympy.Basic | None:
        sides = [s.expr for s in st.sides]
        latex = [s.latex for s in st.sides]
        if st.continued:
            if previous_last is None:
                self.unparsed('continued line after an unparsed one')
                return None
            sides = [previous_last] + sides
            latex = ["…"] + latex
        if not st.relations:
            return sides[-1]  # a mention of a quantity ($g_t$), not a statement
        self.tally.statements += 1
        if any(s is None for s in sides):
            self.unparsed(next((s.problem for s in st.sides if s.expr is None), "side not parsed"))
            return sides[-1]
        relations = st.relations
        if relations == ("=",) and len(sides) == 2 and _update_written_as_equation(sides[0], sides[1]):
            relations = ("<-",)  # W = W - alpha dW: as an equation it would say the step is zero; it is an update
        if st.continued and relations in (("<=>", "="),):
            self.equivalence_row(st, sides[1], sides[2])
            return sides[-1]
        if not st.continued and relations == ("=",):
            self.previous_equation = sides[0] - sides[1]  # the start of a chain of equivalent equations
        self.assigning = bool(relations) and relations[0] in ASSIGNMENTS
        if self.assigning and not st.continued:
            self.stated_constants(st, latex)
            if len(sides) != 2 or atom_name(sides[0]) is None:
                self.unchecked("assignment to something other than a name")
                return sides[-1]
            sides = list(self.assignment(sides[0], sides[1], relations[0]))
            relations = ("=",)
        if any(r != "=" for r in relations):
            check_inequality.analyse_statement(self, st, sides, relations)  # orders, approximations, limits
            return sides[-1]
        if all(_all_known(apply_assumptions(s, self.assumptions()), self.context) for s in sides) and (
                atom_name(sides[0]) is None or len(sides) > 2) and not _defines_function(sides[0]):
            self.numeric(st, sides, latex)
            return sides[-1]
        if self.derivative_statement(st, sides):
            return sides[-1]
        if len(sides) == 2 and self.limit_statement(st, sides[0], sides[1]):
            return sides[-1]
        if len(sides) == 2 and self.without_replacement(st, sides[0], sides[1]):
            return sides[-1]
        if len(sides) == 2 and self.deviation_statement(st, sides[0], sides[1]):
            return sides[-1]
        if len(sides) == 2 and self.moment_statement(st, sides[0], sides[1]):
            return sides[-1]
        if len(sides) == 2 and self.variance(st, sides[0], sides[1]):
            return sides[-1]
        if _named(sides[0]) is not None:
            self.named(st, [sides[0]] + [_with_named(s) for s in sides[1:]])
            return sides[-1]
        sides = [_with_named(s) for s in sides]
        name = atom_name(sides[0])
        if name is None and self.power_definition(st, sides):
            return sides[-1]
        if name is None and not self.info.display and _is_power_of_atom(sides[0]):
            self.tally.definitions += 1  # "we have $\\sigma_s^2 = …$" in prose: a statement of notation
            return sides[-1]
        if name is None:
            self.claim(st, sides, latex)
            return sides[-1]
        before = len(self.findings)
        self.chain_steps(st, sides, 1, latex)
        # v_1 = 0.02 theta_1 = 0.02 x 40 = 8: the value holds only for the substituted 40; the definition is the
        # last side before values the notes did not state as formulas were substituted
        last = next((i for i in range(1, len(sides) - 1) if self.instantiation(sides[i], sides[i + 1])), len(sides) - 1)
        self.define(st, name, sides[0], sides[1] if len(sides) == 2 else sides[last])
        if any(f.severity == "error" for f in self.findings[before:]):
            self.run.wrong_values.add(name)  # later steps that use this value repeat the error: not reported
        return sides[-1]

    def assignment(self, lhs: sympy.Basic, rhs: sympy.Basic, relation: str) -> tuple[sympy.Basic, sympy.Basic]:
        """``x <- f(x, y)`` (also ``+=``, ``-=``) as the recurrence ``x(k+1) = f(x(k), y(k+1))``.

        A name assigned earlier in the same scope is a sequence over the loop counter k, read at its new value
        (it was assigned before this line in the loop body); the assigned name itself is read at its old value.
        An assignment to an indexed name (``w_{t+1} \\gets …``) is the definition it spells.
        """
        if relation == "+=":
            rhs = lhs + rhs
        elif relation == "-=":
            rhs = lhs - rhs
        if isinstance(lhs, AppliedUndef):
            return lhs, rhs
        name = atom_name(lhs)
        assigned = self.run.assigned
        refs = {s for s in rhs.free_symbols if s.name == name or s.name in assigned}
        if not refs:
            if name in assigned:
                assigned.discard(name)  # re-assigned without its old value: a plain definition again
            return lhs, rhs
        step = sympy.Symbol(LOOP_COUNTER)
        mapping = {s: sympy.Function(s.name)(step if s.name == name else step + 1) for s in refs}
        assigned.add(name)
        return sympy.Function(name)(step + 1), rhs.xreplace(mapping)

    def named(self, st: Statement, sides: list[sympy.Basic]) -> None:
        """``\\sigma'(x) = …``: every side must equal the canonical form of the named function."""
        form = _named(sides[0])
        argument = sides[0].args[0]
        expected = form.build(argument)
        for side in sides[1:]:
            if argument.free_symbols and not argument.free_symbols & side.free_symbols and side.free_symbols:
                # \sigma(X) = 1/(1 + e^{-x}): written in another variable, a naming slip to read, not a value to test
                self.unchecked("named function written in a variable other than its argument")
                continue
            result = self.cmp(expected, side)
            if result.verdict == "holds":
                self.count_holds()
            elif result.verdict == "fails":
                self.tally.decided += 1
                self.report(st, "AUD011", f"this is not {form.name} (catalogue {', '.join(form.claim_ids)})",
                            evidence=f"at {_point(result)}: {form.name} is {result.lhs_value}, this side is "
                                     f"{result.rhs_value}",
                            suggestion=f"{to_latex(sides[0])} = {to_latex(expected)}")
                return
            else:
                self.unchecked('named formula not evaluable')

    def power_definition(self, st: Statement, sides: list[sympy.Basic]) -> bool:
        """``\\sigma_B^2 = …`` defines \\sigma_B (as the positive root) when \\sigma_B is new and not on the right."""
        lhs, rhs = sides[0], sides[-1]
        if not (self.info.display and len(sides) == 2 and isinstance(lhs, sympy.Pow)
                and isinstance(lhs.base, sympy.Symbol) and lhs.exp.is_Integer and int(lhs.exp) > 1):
            return False
        name = lhs.base.name
        if name in self.context.definitions or lhs.base in rhs.free_symbols:
            return False
        self.context.definitions[name] = Definition(name, lhs.base, rhs ** sympy.Rational(1, int(lhs.exp)),
                                                    self.where(st).line, False, self.info.scope)
        self.display_names.add(name)
        self.tally.definitions += 1
        return True

    def variance(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
        """Check a variance of a quantity defined as a weighted sum; False if the statement is not one."""
        subject = variance_subject(lhs)
        if subject is None:
            return False
        quantity, style = subject
        definition = self.context.definitions.get(quantity)
        stated = definition.rhs if definition is not None and isinstance(definition.lhs, sympy.Symbol) else None
        for assumed_lhs, assumed_rhs in self.run.assumptions:
            if isinstance(assumed_lhs, sympy.Symbol) and assumed_lhs.name == quantity:
                stated = assumed_rhs
        if stated is None:
            return False
        expected = expected_variance(stated, style, rhs)
        if expected is None:
            return False
        result = compare(rhs, expected, self.context, seed=self.seed)
        if result.verdict == "undecided":
            return False
        self.tally.decided += 1
        if result.verdict == "holds":
            self.tally.holds += 1
            return True
        self.report(st, "AUD010", f"the variance of {quantity} = {to_latex(stated)} needs the squared weights",
                    evidence=f"at {_point(result)} the stated variance is {result.lhs_value}, the sum of squared "
                             f"weights times the variances gives {result.rhs_value}",
                    suggestion=f"{to_latex(lhs)} = {to_latex(expected)}")
        return True

    def limit_statement(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
        """``\\lim_{t\\to\\infty} x_t = …`` (or of E[x_t], Var[x_t]) against the recurrence's stationary value."""
        at_infinity = _at_infinity(lhs, self.context, self.info.scope)
        if at_infinity is not None:
            lhs = at_infinity  # v_\infty: the limit of the sequence v_t
        if not (isinstance(lhs, AppliedUndef) and type(lhs).__name__ == "limit" and len(lhs.args) == 2):
            return False
        inner, variable = lhs.args
        kind, subject = "", inner
        if isinstance(inner, AppliedUndef) and type(inner).__name__ in ("E", "Var") and len(inner.args) == 1:
            kind, subject = type(inner).__name__, inner.args[0]
        name = atom_name(subject)
        if name is None or not isinstance(subject, AppliedUndef) or subject.args != (variable,):
            self.unchecked("limit of something other than a stated recurrence")
            return True
        if at_infinity is not None and sides_mention(rhs, at_infinity):
            return False  # y_inf = (1 - 1/N) y_inf + c: an equation for the limit, left to the solving checks
        expected = stationary(kind, name, with_named_moments(rhs, self.context), self.run.independent)
        if expected is None:
            self.unchecked("limit of something other than a first-order linear recurrence")
            return True
        inputs = {s for s in expected.free_symbols if s.name in {type(f).__name__ for f in
                                                                 self.context.definitions[name].rhs.atoms(AppliedUndef)}}
        if kind == "" and not inputs <= rhs.free_symbols:
            self.unchecked("limit in terms of input values not stated as formulas")  # x_t = c said in prose
            return True
        result = self.cmp(expected, rhs)
        if result.verdict == "undecided":
            self.unchecked("limit not evaluable")
            return True
        self.tally.decided += 1
        if result.verdict == "holds":
            self.tally.holds += 1
            return True
        source = self.context.definitions[name]
        shown = st.sides[0].latex if not st.continued and st.sides else to_latex(lhs)  # (the notes' own LaTeX)
        self.report(st, "AUD014", f"{shown} is not the stationary value of the recurrence for "
                                  f"{to_latex(source.lhs)} (line {source.line})",
                    evidence=f"at {_point(result)} the stationary value is {result.lhs_value}, the stated limit "
                             f"{result.rhs_value}",
                    suggestion=f"{shown} = {to_latex(expected)}")
        return True

    def derivative_statement(self, st: Statement, sides: list[sympy.Basic]) -> bool:
        """``f'(x) = …`` for an f the notes defined: every side must equal sympy's derivative of that definition."""
        derivative = derivative_of(sides[0], self.context)
        if derivative is None:
            return False
        source = derivative.definition
        for assumed_lhs, assumed_rhs in self.run.assumptions:
            if isinstance(assumed_lhs, AppliedUndef) and assumed_lhs.func == source.lhs.func and \
                    len(assumed_lhs.args) == len(source.lhs.args) and assumed_rhs.xreplace(
                        dict(zip(assumed_lhs.args, source.lhs.args))) != source.rhs:
                # the function was defined again in the prose since: which definition is meant is unclear
                self.unchecked("derivative of a function the notes redefined inline")
                return True
        try:
            expected = derivative.expected()
        except (TypeError, ValueError, AttributeError, NotImplementedError):
            return False
        source = derivative.definition
        for side in sides[1:]:
            result = self.cmp(expected, side)
            if result.verdict == "holds":
                self.count_holds()
            elif result.verdict == "fails":
                self.tally.decided += 1
                self.report(st, "AUD013", f"{to_latex(sides[0])} is not the derivative of "
                                          f"{to_latex(source.lhs)} = {to_latex(source.rhs)} (line {source.line})",
                            evidence=f"at {_point(result)}: the derivative is {result.lhs_value}, this side is "
                                     f"{result.rhs_value}",
                            suggestion=f"{to_latex(sides[0])} = {to_latex(expected)}")
                return True
            else:
                self.unchecked("derivative not evaluable")
        return True

    def equivalence_row(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> None:
        """``\\Leftrightarrow a = b`` after ``c = d``: equivalent equations, so a - b = lambda (c - d) for one
        constant lambda != 0 under the scope's definitions; a ratio that changes between points is an error."""
        previous, current = self.previous_equation, lhs - rhs
        self.previous_equation = current
        if previous is None:
            self.unchecked("equivalence after an unread line")
            return
        if _unrelated_steps((previous, current), self.context):
            self.unchecked("a quantity at two steps without a stated recurrence")
            return
        integers = {s.name for s in integer_symbols(previous) | integer_symbols(current)}
        ratios: list[tuple[object, Point]] = []
        for k in range(5):
            point = Point(seed=self.seed * 1000 + k, integers=integers)
            ev = Evaluator(self.context, point)
            try:
                a, b = ev.value(previous), ev.value(current)
            except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
                continue
            if close(a, 0) and close(b, 0):
                continue
            if close(a, 0) or close(b, 0):
                ratios.append((None, point))
            else:
                ratios.append((b / a, point))
        if len(ratios) < 3:
            self.unchecked("equivalence not evaluable")
            return
        reference = next(((r, p) for r, p in ratios if r is not None), None)
        if reference is None:
            self.unchecked("equivalence not evaluable")
            return
        first = reference[0]
        odd = [(r, p) for r, p in ratios if r is None or not close(r, first)]
        self.tally.decided += 1
        if not odd:
            self.tally.holds += 1
            return
        shown = lambda p: ", ".join(f"{n} = {v}" for n, v in sorted(p.assigned.items())) or "a random point"
        self.report(st, "AUD001", "this line is not equivalent to the previous one: the equations differ by more "
                                  "than a constant factor",
                    evidence=f"(this line's left minus right side) / (the previous line's) is "
                             f"{show(first)} at {shown(reference[1])} but "
                             f"{show(odd[0][0]) if odd[0][0] is not None else 'zero in one of them only'} at "
                             f"{shown(odd[0][1])}")

    def moment_statement(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
        """``Var[X] = …`` or ``E[X] = …``: a stated moment of a random quantity, or one derived from stated ones.

        False when the statement is neither (then the other checks see it).
        """
        if not (isinstance(lhs, AppliedUndef) and type(lhs).__name__ in ("Var", "E") and len(lhs.args) == 1):
            return False
        kind, (subject,) = type(lhs).__name__, lhs.args
        name = atom_name(subject)
        if kind == "Var" and name is not None:
            self.run.variances[str(subject)] = (rhs, self.where(st).line)
        defined = name is not None and name in self.context.definitions
        if name is not None and not defined and (isinstance(subject, sympy.Symbol) or all(
                a.is_Symbol or a.is_Integer for a in subject.args)):
            self.context.moments[(kind, name)] = rhs  # Var[g_b] = sigma^2: an assumption about every g_b
            self.tally.definitions += 1
            return True
        context = with_named_moments(rhs, self.context)
        definition = self.context.definitions.get(name) if name is not None else None
        if definition is not None and definition.recursive and isinstance(subject, AppliedUndef):
            return self.moment_of_recurrence(st, lhs, rhs, kind, subject, context)
        expected = moment(kind, subject, context, self.run.independent)
        if expected is None:
            return False
        result = compare(rhs, expected, context, seed=self.seed)
        if result.verdict == "undecided":
            return False
        self.tally.decided += 1
        if result.verdict == "holds":
            self.tally.holds += 1
            return True
        factor = factor_between(rhs, expected)
        difference = f"; the stated value is {to_latex(factor)} times the derived one" if factor is not None else ""
        rule = "linearity of E" if kind == "E" else "Var[c Y] = c^2 Var[Y] and, for independent terms, additivity"
        self.report(st, "AUD012", f"{to_latex(lhs)} does not follow from the moments stated in this section "
                                  f"({rule}){difference}",
                    evidence=f"at {_point(result)} the stated value is {result.lhs_value} and the derived one "
                             f"{result.rhs_value}",
                    suggestion=f"{to_latex(lhs)} = {to_latex(closed(expected))}")
        return True

    def deviation_statement(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
        """``sd(X) = s``: s^2 must be the variance of X the scope stated (or derives from its moments), AUD012.

        False when the statement is not a standard deviation, or no variance of X is known to compare with.
        """
        if not (isinstance(lhs, AppliedUndef) and type(lhs).__name__ in _DEVIATION and len(lhs.args) == 1):
            return False
        (subject,) = lhs.args
        stated = self.run.variances.get(str(subject))
        if stated is not None:
            variance, source = stated
        else:
            name = atom_name(subject)
            variance = moment("Var", subject, self.context, self.run.independent) if name is not None else None
            source = None
            if variance is None:
                return False
        result = self.cmp(rhs ** 2, variance)
        if result.verdict == "undecided":
            return False
        self.tally.decided += 1
        if result.verdict == "holds":
            self.tally.holds += 1
            return True
        factor = factor_between(rhs ** 2, variance)
        difference = f"; its square is {to_latex(factor)} times that variance" if factor is not None else ""
        where = f"the variance stated at line {source}" if source is not None else \
            "the variance the section's moments give"
        self.report(st, "AUD012", f"{to_latex(lhs)} is not the square root of {where}{difference}",
                    evidence=f"at {_point(result)} the square of the stated value is {result.lhs_value} and the "
                             f"variance {result.rhs_value}",
                    suggestion=f"{to_latex(lhs)} = {to_latex(sympy.sqrt(closed(variance)))}")
        return True

    def without_replacement(self, st: Statement, lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
        """``Var(batch statistic) = f(B, …)`` where this section says the batch is drawn without replacement from N.

        A batch of B = N drawn without replacement is the whole set: its mean is fixed, so the stated variance must
        vanish at B = N (the finite-population factor (N - B)/(N - 1) does this; sigma^2/B does not). The batch
        size is the one of B, b, m the right side reads; N must be named in the section's text. An error gives
        the value at B = N and a point; a right side that vanishes there is not decided by this check."""
        if not (isinstance(lhs, AppliedUndef) and type(lhs).__name__ == "Var"):
            return False
        text = self.run.recent_text + self.info.prose_before
        if not _WITHOUT_REPLACEMENT.search(text) or not re.search(r"\$N\$|\bN\b", text):
            return False
        names = {s.name: s for s in rhs.free_symbols}
        batch = [names[n] for n in ("B", "b", "m") if n in names]
        if len(batch) != 1:
            return False
        population = names.get("N", sympy.Symbol("N", positive=True))
        at_full = rhs.xreplace({batch[0]: population})
        rng = random.Random(self.seed * 7919 + self.info.line)
        point = {s: sympy.Rational(rng.randint(2, 9), rng.randint(1, 3)) for s in at_full.free_symbols}
        if population in point:
            point[population] = sympy.Integer(rng.randint(5, 20))
        try:
            value = at_full.xreplace(point)
        except (TypeError, ValueError):
            return False
        if not value.is_number or value.is_zero or not value.is_finite:
            return False
        self.tally.decided += 1
        shown = ", ".join(f"{to_latex(k)} = {to_latex(v)}" for k, v in sorted(point.items(), key=lambda kv: str(kv[0])))
        self.report(st, "AUD012", f"{to_latex(lhs)} does not vanish for a batch of the whole set: drawn without "
                                  f"replacement, a batch of {to_latex(batch[0])} = N is the full set and has no "
                                  "variance, so the finite-population factor (N - B)/(N - 1) is missing",
                    evidence=f"at {to_latex(batch[0])} = N and {shown} the stated value is {to_latex(value)}, not 0",
                    suggestion=f"{to_latex(lhs)} = {to_latex(rhs)} \\cdot \\frac{{N - {to_latex(batch[0])}}}{{N - 1}} "
                               "(for sigma^2 with divisor N; with divisor N - 1 the factor is (N - B)/N)")
        return True

    def moment_of_recurrence(self, st: Statement, lhs, rhs, kind: str, subject, context: Context) -> bool:
        """``Var[m_t] = …`` for a recursively defined m: run the recurrence at t = 1..5 (a linear form of the
        inputs at fixed steps) and compare the stated moment with the derived one at each t."""
        index = [s for s in subject.free_symbols if is_integer_name(s.name)]
        if len(index) != 1:
            return False
        (t,) = index
        for t0 in range(1, 6):
            unrolled = unroll(subject.xreplace({t: sympy.Integer(t0)}), context)
            if unrolled is None:
                return False
            expected = moment(kind, unrolled, context, self.run.independent)
            if expected is None:
                return False
            stated = rhs.xreplace({t: sympy.Integer(t0)})
            result = compare(stated, expected, context, seed=self.seed)
            if result.verdict == "undecided":
                return False
            if result.verdict == "fails":
                self.tally.decided += 1
                self.report(st, "AUD012", f"{to_latex(lhs)} does not follow from its recurrence and the moments "
                                          f"stated in this section",
                            evidence=f"at {t} = {t0}, {_point(result)}: the stated value is {result.lhs_value}, "
                                     f"running the recurrence gives {result.rhs_value}",
                            suggestion=f"at {t} = {t0}: {to_latex(lhs.xreplace({t: sympy.Integer(t0)}))} = "
                                       f"{to_latex(closed(expected))}")
                return True
        self.count_holds()
        return True

    def claim(self, st: Statement, sides: list[sympy.Basic], latex: list[str] | None = None) -> None:
        """``f(x) = g(x)`` with a non-atomic left side: an identity, unless the prose calls it a condition."""
        a, b = sides[0], sides[1]
        if self.uses_wrong_value(a, b):
            self.unchecked("step uses a value with an error finding")
            self.chain_steps(st, sides, 1, latex)
            return
        if latex is not None and self.rounded_step(st, a, b, latex[0], latex[1]):
            self.chain_steps(st, sides, 1, latex)
            return
        if self.instantiation(a, b):
            self.unchecked("values substituted that the notes did not state as formulas")
            self.chain_steps(st, sides, 1, latex)
            return
        result = self.cmp(a, b)
        if result.verdict == "holds":
            self.count_holds()
        elif result.verdict == "fails" and _unrelated_steps((a, b), self.context):
            # x_{t+1} and x_t with no recurrence stated: the two values are unrelated guesses, not a counterexample
            self.unchecked("a quantity at two steps with no recurrence stated")
        elif result.verdict == "fails":
            evidence = _comparable(apply_assumptions(a, self.assumptions()), apply_assumptions(b, self.assumptions()),
                                   self.context)
            if evidence and not _condition_cue(self.info.prose_before):
                self.tally.decided += 1
                self.step_finding(st, a, b, result, "this identity")
            else:
                self.unchecked('identity relies on facts not stated as formulas')
        else:
            self.unchecked('identity not evaluable')
        self.chain_steps(st, sides, 1, latex)

    def define(self, st: Statement, name: str, lhs: sympy.Basic, rhs: sympy.Basic) -> None:
        is_function = isinstance(lhs, AppliedUndef)
        # f(x) = (1/n) sum_i f_i(x) reads f_i (another arity): a family of functions, not a recurrence
        recursive = any(type(f).__name__ == name and len(f.args) == len(lhs.args) for f in rhs.atoms(AppliedUndef)) \
            if is_function else name in {s.name for s in rhs.free_symbols}
        fixed_index = is_function and all(a.is_Integer for a in lhs.args)
        if not self.info.display and not self.assigning and self.info.scope_kind != "algorithm":
            # inline: an assumption for the next display formula; an initial value x_0 = c stays
            if is_function and self.inline_recurrence(st, name, lhs, rhs, recursive, fixed_index):
                return
            if is_function and not recursive and self.value_of_defined_function(st, name, lhs, rhs):
                return
            # a later value of the same name replaces the earlier one ("for x = 10 …; at x = 0 …")
            self.run.assumptions = [(a, b) for a, b in self.run.assumptions if a != lhs] + [(lhs, rhs)]
            if fixed_index and _is_number(rhs):
                self.context.values[(name, tuple(int(a) for a in lhs.args))] = rhs
            elif not _is_number(rhs) and not recursive and (
                    name not in self.context.definitions or self.context.definitions[name].scope != self.info.scope
                    and atom_name(rhs) is None):  # (g_mb = g_fb: an identification assumed here, not a definition)
                # "with $r = u/2 + v/2$": a definition in prose stays (a value like $\epsilon = 0$ does not)
                self.context.definitions[name] = Definition(name, lhs, rhs, self.where(st).line, False, self.info.scope)
            self.tally.definitions += 1
            return
        self.display_names.add(name)
        self.forms[name] = (lhs, rhs)
        existing = self.context.definitions.get(name)
        if existing is not None and (isinstance(existing.lhs, AppliedUndef) != is_function or is_function and
                                     len(existing.lhs.args) != len(lhs.args)):
            existing = None  # \hat\mu and \hat\mu_t (or f(x) and f_i(x)) are different quantities
        # a name defined in another section may name another quantity there: a failed comparison with that
        # definition is a new definition, never an error (the scope's own definitions decide)
        same_scope = existing is None or existing.scope == self.info.scope
        in_run = name in self.run.previous_display_names and \
            self.info.line - self.run.previous_display_end <= RUN_GAP_LINES and \
            (_paragraphs(self.run.since_display) <= RUN_PARAGRAPHS or bool(self.run.assumptions)) and \
            not _NEW_DEFINITION.search(self.info.prose_before[-300:])
        if fixed_index or (not is_function and _is_number(rhs)):
            if existing is not None and not (existing.recursive and fixed_index and _first_index(lhs) <= 0):  # a value of a defined quantity: check it, e.g. <g^2>_1 from its recurrence
                self.checked_restatement(st, lhs, rhs, strict=same_scope and not _condition_cue(self.info.prose_before))
            else:
                key = (name, tuple(int(a) for a in lhs.args)) if fixed_index else (name, ())
                self.context.values[key] = rhs
                self.tally.definitions += 1
            return
        if recursive and not is_function:
            # x = a x + b: an equation for x (solved by a following block), not a definition
            self.unchecked('equation in the quantity it defines')
            return
        if existing is not None and not same_scope:
            # a name of another scope: this scope's own definition, checked as one (never compared with the other)
            self._register(st, name, lhs, rhs, recursive)
            return
        if self.piecewise or name in self.run.piecewise:
            # one piece of a definition by cases: another piece is no restatement of it
            if self.piecewise:
                self.run.piecewise.add(name)
            self._register(st, name, lhs, rhs, recursive)
            return
        if existing is not None and (in_run or not recursive):
            closed_form = not recursive and existing.recursive and not any(
                d.recursive for n, d in self.context.definitions.items() if n in referenced_functions(rhs)) \
                and self._in_terms_of(rhs, existing)
            strict = in_run or (closed_form and same_scope and not _condition_cue(self.info.prose_before))
            previous = self.run.previous_forms.get(name) if in_run else None
            if previous is not None and previous[0] == lhs:
                # the next line of a derivation: compare with the line before, under the assumptions between
                ok = self.checked_restatement(st, lhs, rhs, strict=strict, against=previous[1])
            else:
                ok = self.checked_restatement(st, lhs, rhs, strict=strict)
            if not ok and not strict:
                self._register(st, name, lhs, rhs, recursive)  # a new definition of the same name
            # a restatement keeps the original definition: it is the first-order recurrence to unroll
            return
        self._register(st, name, lhs, rhs, recursive)

    def _in_terms_of(self, rhs: sympy.Basic, existing: Definition) -> bool:
        """False when ``rhs`` reads new quantities that later rows of this same display define: then the block
        states another system (``x_{t+1} = \\tau z_t + (1-\\tau) y_t`` with rows for y and z below), not a closed
        form of the recurrence ``existing``."""
        known = _expanded_names(existing.rhs, self.context) | {existing.name} | set(self.context.definitions)
        new = {n for n in _expanded_names(rhs, self.context) - _bound(rhs) - known if not is_integer_name(n)}
        if not new:
            return True
        block = {atom_name(st.sides[0].expr) for st in self.parsed.statements
                 if st.relations and st.sides and st.sides[0].expr is not None}
        return not new & block

    def value_of_defined_function(self, st: Statement, name: str, lhs, rhs) -> bool:
        """``$q(x^\\star) = -b^2/(2a)$`` in prose, for a q the scope defined with named arguments: the definition
        evaluated at that point must give the stated value (AUD001). False when the statement is not one (the
        name is no function of the scope, or the left side is its definition's own form)."""
        d = self.context.definitions.get(name)
        if d is None or d.recursive or d.scope != self.info.scope or not isinstance(d.lhs, AppliedUndef) or \
                len(d.lhs.args) != len(lhs.args) or lhs.args == d.lhs.args or not _defines_function(d.lhs):
            return False
        if any(is_integer_name(s.name) for a in lhs.args for s in a.free_symbols):
            return False  # f_t(…), f(x_i): an index, not a point
        a, b = apply_assumptions(lhs, self.assumptions()), apply_assumptions(rhs, self.assumptions())
        if self.uses_wrong_value(a, b):
            return False
        result = self.cmp(lhs, rhs)
        if result.verdict == "holds":
            self.count_holds()
            return True
        if result.verdict == "fails" and _comparable(a, b, self.context) and not _unrelated_steps((a, b), self.context) \
                and not _condition_cue(self.info.prose_before):
            self.tally.decided += 1
            self.step_finding(st, lhs, rhs, result, f"this value of {name} (defined at line {d.line})")
            return True
        return False

    def inline_recurrence(self, st: Statement, name: str, lhs, rhs, recursive: bool, fixed_index: bool) -> bool:
        """An inline recurrence (``$v_t = \\beta v_{t-1} + (1-\\beta)\\theta_t$``) or an instance of one.

        Notes written mostly in inline maths state their recurrences inline. The first recurrence of a name in a
        scope is registered as its definition (and checked like a displayed one); a later inline statement about
        the same indexed name (``$v_{100} = 0.1\\theta_{100} + 0.9 v_{99}$``) is compared with it under the
        values stated so far: when it holds it is decided; otherwise it stays an assumption (no finding: prose
        around inline maths often sets conditions the analysis cannot read). False when neither applies.
        """
        existing = self.context.definitions.get(name)
        if existing is None or existing.scope != self.info.scope or not existing.recursive:
            existing = self.run.inline_recurrences.get(name)
        same_scope = existing is not None and existing.scope == self.info.scope and isinstance(existing.lhs,
                                                                                            AppliedUndef)
        if same_scope and existing.recursive and (fixed_index or not recursive or existing.line != self.where(st).line):
            index = [a for a in existing.lhs.args if isinstance(a, sympy.Symbol)]
            if len(existing.lhs.args) != 1 or len(index) != 1 or len(lhs.args) != 1:
                return False
            # unrolled 1..4 times, with the name itself an input (v_{99} a free value): an instance holds exactly
            hidden = self.context.copy()
            hidden.definitions = {n: d for n, d in self.context.definitions.items() if n != name}
            step = existing.lhs.func
            against = lhs
            for _ in range(4):
                against = against.replace(lambda e: isinstance(e, AppliedUndef) and e.func == step and len(e.args) == 1,
                                          lambda e: existing.rhs.xreplace({index[0]: e.args[0]}))
                assumptions = self.assumptions()
                result = compare(apply_assumptions(against, assumptions), apply_assumptions(rhs, assumptions), hidden,
                                 seed=self.seed)
                if result.verdict == "holds":
                    self.count_holds()
                    return True
            return False
        if recursive and not fixed_index and not same_scope:
            # kept for the instances only: as a definition it would make other inline statements that rely on
            # values stated in prose ("for beta = 0.98") look like identities
            self.run.inline_recurrences[name] = Definition(name, lhs, rhs, self.where(st).line, True, self.info.scope)
            self.tally.definitions += 1
            return True
        return False

    def checked_restatement(self, st: Statement, lhs, rhs, strict: bool, against=None) -> bool:
        result = self.cmp(lhs if against is None else against, rhs)
        if result.verdict == "holds":
            self.count_holds()
            return True
        name = atom_name(lhs)
        stated = self.context.definitions.get(name) if name is not None else None
        restates_faulty = name in self.context.faulty and (against is None or stated is not None and (
            self.run.previous_display_line <= stated.line <= self.run.previous_display_end))
        if result.verdict == "fails" and strict and restates_faulty:
            # the definition it restates already has an error finding: that finding explains the difference
            self.unchecked("restatement of a definition with an error finding")
            return False
        if result.verdict == "fails" and strict and not _comparable(
                apply_assumptions(lhs if against is None else against, self.assumptions()),
                apply_assumptions(rhs, self.assumptions()), self.context):
            # the two forms name different quantities (K in one, mu in the other) that no formula relates:
            # another definition of the name (an alternative, an analogy), not a step that can be refuted
            self.unchecked("restatement in quantities the earlier form does not use")
            return False
        if result.verdict == "fails" and strict:
            self.tally.decided += 1
            keep = f"{to_latex(lhs)} = {to_latex(against)} (the previous line)" if against is not None else ""
            name = atom_name(lhs)
            stated = self.context.definitions.get(name) if name is not None else None
            other = (f"line {self.run.previous_display_end}" if against is not None else
                     f"line {stated.line}" if stated is not None else "")
            self.step_finding(st, lhs if against is None else against, rhs, result,
                              f"this restatement of {to_latex(lhs)}" + (f" (as stated at {other})" if other else ""),
                              keep)
            return False
        self.unchecked('restatement not decided')
        return False

    def _register(self, st: Statement, name: str, lhs, rhs, recursive: bool, check: bool = True) -> None:
        definition = Definition(name, lhs, rhs, self.where(st).line, recursive, self.info.scope)
        self.context.definitions[name] = definition
        self.context.faulty.discard(name)
        self.tally.definitions += 1
        if check and not recursive and self.centring(st, definition):
            return
        if check and isinstance(lhs, AppliedUndef):
            ran: list = []
            found = check_definition(definition, self.context, self.where(st), self.seed, ran)
            if found or recursive or ran:
                self.tally.decided += 1
            self.findings += found

    def centring(self, st: Statement, definition: Definition) -> bool:
        """A standardisation (x_i - mu)/s of a family by its own batch mean and spread must centre it (AUD017);
        False when the definition is not one."""
        found = centring(definition, self.context, self.seed)
        if found is None:
            return False
        self.tally.decided += 1
        if found.centred:
            self.tally.holds += 1
            return False  # (the other checks of the definition still run)
        self.context.faulty.add(definition.name)
        self.report(st, "AUD017", f"{to_latex(definition.lhs)} does not have batch mean zero, although it is scaled "
                                  f"by the batch's spread: the batch mean {found.mean_name} must be subtracted",
                    evidence=f"over a seeded batch of {found.size} values the average of {to_latex(definition.lhs)} "
                             f"is {found.average}")
        return True

    # -- equation solving ------------------------------------------------------------------------------
    def solving_block(self) -> bool:
        """Handle a multi-line block that solves an equation; False if the block is not one."""
        statements = [s for s in self.parsed.statements if s.parsed]
        if len(statements) < 2 or len(statements) != len(self.parsed.statements):
            return False
        first = statements[0]
        target = first.sides[0].expr if first.sides and not first.continued else None
        if target is None or not (atom_name(target) or isinstance(target, sympy.Pow) and atom_name(target.base)
                                  and target.exp.is_Integer):
            return False
        u = sympy.Symbol(UNKNOWN)  # the quantity being solved for (sigma^2 is solved for as a whole)
        first_rhs = first.sides[-1].expr.xreplace({target: u})
        if u not in first_rhs.free_symbols:
            return False
        equations: list[tuple[Statement, sympy.Basic]] = []
        previous_first = None
        for st in statements:
            sides = [s.expr for s in st.sides]
            if st.continued:
                sides = [previous_first] + sides
            previous_first = sides[0]
            for i in range(1, len(sides)):
                equations.append((st, (sides[0] - sides[i]).xreplace({target: u})))
        if not all(u in eq.free_symbols for _, eq in equations):
            return False
        solutions = []
        for st, eq in equations:
            values = [_solve_linear(eq, self.context, self.seed * 100 + k) for k in range(3)]
            if any(v is None for v in values):
                return False  # not linear in the unknown, or not evaluable: left to the other checks
            solutions.append((st, values))
        self.tally.statements += len(statements)
        self.tally.decided += len(statements)
        for (_, sol_a), (st_b, sol_b) in zip(solutions, solutions[1:], strict=False):
            if not all(close(x.value, y.value) for x, y in zip(sol_a, sol_b, strict=True)):
                self.report(st_b, "AUD009", f"this line changes the solution for {to_latex(target)}",
                            evidence=f"at {_point_of(sol_a[0])}, solving the previous line gives "
                                     f"{to_latex(target)} = {show(sol_a[0].value)}, this line gives "
                                     f"{show(sol_b[0].value)}")
                return True
        self.tally.holds += len(statements)
        return True

    def enter_scope(self) -> None:
        """A formula in another section or algorithm block: the run of a derivation and its assumptions end."""
        if self.info.scope != self.run.scope:
            self.run.scope = self.info.scope
            self.run.assumptions = []
            self.run.previous_display_names = set()
            self.run.previous_forms = {}
            self.run.previous_display_end = -10**9
            self.run.previous_display_line = -10**9
            self.run.assigned = set()
            self.run.independent = False
            self.run.recent_text = ""
            self.run.moments_read = set()
            self.run.wrong_values = set()
            self.run.piecewise = set()
            self.run.inline_recurrences = {}
            self.run.variances = {}
            self.run.conditions = []
        self.run.since_display = (self.run.since_display + self.info.prose_before
                                  + ("" if self.info.display else "$"))[-4000:]
        if _INDEPENDENCE.search(self.info.prose_before):
            self.run.independent = True
        # inline formulas cut a sentence into pieces: read the moments off the recent text with its formulas
        recent = self.run.recent_text + self.info.prose_before
        for found in prose_moments(recent):
            if found not in self.run.moments_read:  # the recent text repeats: read each sentence once
                self.run.moments_read.add(found)
                self.prose_moment(*found)
        self.run.recent_text = (recent + "$" + _formula_text(self.parsed) + "$")[-RECENT_CHARS:]

    def prose_moment(self, kind: str, subject_latex: str, value_latex: str) -> None:
        """Record "the $g^k$ have variance $\\sigma^2$" as Var[g] = sigma^2 (a single name as subject only)."""
        occurrences = scan_atoms(subject_latex)
        if len(occurrences) != 1 or re.search(r"\\(hat|bar|tilde)", subject_latex):
            return
        parsed = parse_formula(value_latex)
        if parsed.rejected or len(parsed.statements) != 1 or parsed.statements[0].relations:
            return
        value = parsed.statements[0].sides[0].expr
        if value is not None:
            self.context.moments.setdefault((kind, occurrences[0].base), value)

    def prose_division(self) -> None:
        """"… divide $X_t$ by $D$" in the prose, with this formula as D: X/D must be an unbiased estimate (AUD004).

        Only when X is a quantity this scope defines at a symbolic index (an average, its unrolled sum) and the
        quotient scales as g or g^2 with a constant gradient; then it must equal that power at t = 1, 2, 3."""
        recent = self.run.recent_text
        mine = "$" + _formula_text(self.parsed) + "$"
        m = _DIVIDE_BY.search(recent[:-len(mine)][-300:]) if recent.endswith(mine) else None
        statements = self.parsed.statements
        if m is None or len(statements) != 1 or statements[0].relations or statements[0].sides[0].expr is None:
            return
        numerator = parse_formula(m.group(1), None)
        if numerator.rejected or len(numerator.statements) != 1 or numerator.statements[0].relations:
            return
        x = numerator.statements[0].sides[0].expr
        d = self.context.definitions.get(atom_name(x)) if x is not None else None
        if d is None or d.scope != self.info.scope:
            return
        result = divided_estimate(x, statements[0].sides[0].expr, self.context, self.seed)
        if result is None:
            return
        self.tally.statements += 1
        self.tally.decided += 1
        holds, n, got, expected = result
        if holds:
            self.tally.holds += 1
            return
        self.report(statements[0], "AUD004",
                    f"dividing {to_latex(x)} by {self.parsed.statements[0].sides[0].latex} does not give an unbiased "
                    f"estimate: with a constant gradient g = {G1} the quotient at step {n} is {got}, not {expected}",
                    evidence=f"{to_latex(x)} as defined at line {d.line}, from zero states")

    def run_all(self) -> None:
        self.enter_scope()
        if self.parsed.rejected:
            self.findings.append(Finding(self.info.line, self.info.end_line, "AUD201",
                                         f"formula not analysed: {self.parsed.rejected}"))
            return
        self.prose_division()
        if not (self.info.display and self.solving_block()):
            previous_last = None
            for st in self.parsed.statements:
                previous_last = self.statement(st, previous_last)
        if self.info.display:
            self.run.assumptions = []
            self.run.previous_display_names = self.display_names
            self.run.previous_forms = self.forms
            self.run.previous_display_end = self.info.end_line
            self.run.previous_display_line = self.info.line
            self.run.since_display = ""


def _decimal(text: str) -> Decimal:
    """A decimal literal as an exact, normalised Decimal (``0.10`` and ``0.1`` are one value)."""
    return Decimal(text).normalize()


def _piecewise(parsed: ParsedFormula) -> bool:
    """Whether a formula defines one case: beside a definition ``f(t) = …`` it states a condition on f's own
    argument (``t \\le W``), not on a parameter (``0 \\le \\beta < 1``)."""
    arguments: set = set()
    conditions: set = set()
    for st in parsed.statements:
        exprs = [side.expr for side in st.sides]
        if any(e is None for e in exprs) or not st.relations:
            continue
        if all(r in check_inequality.ORDER for r in st.relations):
            conditions |= set().union(*(e.free_symbols for e in exprs))
        elif st.relations[0] == "=" and isinstance(exprs[0], AppliedUndef):
            arguments |= set().union(*(a.free_symbols for a in exprs[0].args))
    return bool(arguments & conditions)


def _paragraphs(prose: str) -> int:
    """How many paragraphs of text (blocks between blank lines with more than blanks) a stretch of prose has."""
    return sum(1 for block in _PARAGRAPH_BREAK.split(prose) if block.strip(" \t\n\u200b\u3000"))


def _defines_function(lhs: sympy.Basic) -> bool:
    """``f(x) = …`` with a named (non-index) argument: a function's definition, never a numeric example, even
    where x has a value stated nearby (a table of activation functions reuses f and x row by row)."""
    return isinstance(lhs, AppliedUndef) and type(lhs).__name__ not in OPERATORS and bool(lhs.args) and all(
        isinstance(a, sympy.Symbol) and not is_integer_name(a.name) for a in lhs.args)


def _all_known(expr: sympy.Basic, context: Context, depth: int = 6) -> bool:
    """Whether an expression is a number once the values the document stated are substituted.

    A stated value may itself be an expression (``W_2 = (W_1 - F)/S + 1``): it is known only when its own
    symbols have values, so a value in symbols no formula fixed never makes a numeric example.
    """
    if depth <= 0:
        return False
    keys = [(s.name, ()) for s in expr.free_symbols]
    for f in expr.atoms(AppliedUndef):
        if not all(a.is_Integer for a in f.args):
            return False
        keys.append((type(f).__name__, tuple(int(a) for a in f.args)))
    for key in keys:
        value = context.values.get(key)
        if value is None or not (_is_number(value) or _all_known(value, context, depth - 1)):
            return False
    return True


@dataclass(frozen=True)
class _Solution:
    value: object  # mpmath number
    point: dict


def _solve_linear(equation: sympy.Basic, context: Context, seed: int) -> _Solution | None:
    """The root of ``equation`` (linear in the unknown) at one seeded point, or None."""
    values = []
    for guess in (0, 1, 2):
        point = Point(seed=seed, overrides={(UNKNOWN, ()): mpmath.mpf(guess)})
        try:
            values.append(Evaluator(context, point).value(equation))
        except (Undecidable, ZeroDivisionError, ValueError, TypeError):
            return None
    f0, f1, f2 = values
    if not close(f2 - 2 * f1 + f0, mpmath.mpf(0)) or close(f1, f0):
        return None
    return _Solution(-f0 / (f1 - f0), {k: str(v) for k, v in point.assigned.items()})


def _point_of(solution: _Solution) -> str:
    return ", ".join(f"{k} = {v}" for k, v in sorted(solution.point.items())) or "a random point"


def _is_power_of_atom(expr: sympy.Basic) -> bool:
    return isinstance(expr, sympy.Pow) and atom_name(expr.base) is not None and expr.exp.is_Integer


def _named(expr: sympy.Basic):
    if isinstance(expr, AppliedUndef) and len(expr.args) == 1:
        return NAMED.get(type(expr).__name__)
    return None


def _with_named(expr: sympy.Basic) -> sympy.Basic:
    """Named functions inside an expression replaced by their canonical forms (\\sigma(x) on a right side)."""
    return expr.replace(lambda e: _named(e) is not None and e.func.__name__ == "sigmoid",
                        lambda e: NAMED["sigmoid"].build(e.args[0]))


def _first_index(lhs: sympy.Basic) -> int:
    """For ``F(n)`` with a fixed n: the step index the recurrence would use (<= 0 means an initial value)."""
    return int(lhs.args[0]) if lhs.args and lhs.args[0].is_Integer else 1


def sides_mention(rhs: sympy.Basic, limit: sympy.Basic) -> bool:
    """Whether the right side names the limit itself (its v_inf symbol)."""
    (inner, _), = [limit.args]
    name = atom_name(inner) if not isinstance(inner, AppliedUndef) or type(inner).__name__ not in ("E", "Var") \
        else atom_name(inner.args[0])
    return any(s.name == f"{name}_inf" for s in rhs.free_symbols)


def _at_infinity(expr: sympy.Basic, context: Context, scope: int) -> sympy.Basic | None:
    """``v_\\infty`` (key ``v_inf``) of a sequence v with a stated recurrence, as ``limit(v(t), t)``; else None."""
    if not isinstance(expr, sympy.Symbol) or not expr.name.endswith("_inf"):
        return None
    d = context.definitions.get(expr.name[: -len("_inf")])
    if d is None or not d.recursive or d.scope != scope or not isinstance(d.lhs, AppliedUndef) or len(d.lhs.args) != 1:
        return None  # (a recurrence of another section may be another quantity)
    symbols = [s for s in d.lhs.args[0].free_symbols if is_integer_name(s.name)]
    if len(symbols) != 1:
        return None
    return sympy.Function("limit")(d.lhs.func(symbols[0]), symbols[0])


def _unrelated_steps(exprs: tuple[sympy.Basic, ...], context: Context) -> bool:
    """Whether a quantity appears at two indices (q_k, q_{k+1}) with no recurrence stated to relate them,
    in the expressions or the definitions they use: then the values at the two steps are unrelated guesses."""
    seen: dict[str, set] = {}
    frontier = list(exprs)
    for _ in range(3):
        nxt = []
        for expr in frontier:
            for f in expr.atoms(AppliedUndef):
                name = type(f).__name__
                if name in OPERATORS:
                    continue
                seen.setdefault(name, set()).add(f.args)
                d = context.definitions.get(name)
                if d is not None and not d.recursive:
                    at = dict(zip(d.lhs.args, f.args)) if isinstance(d.lhs, AppliedUndef) and all(
                        isinstance(a, sympy.Symbol) for a in d.lhs.args) else {}
                    nxt.append(d.rhs.xreplace(at))  # z_{k+1} = c - B q_{k+1}: the definition at that step
        frontier = nxt
    for name, args in seen.items():
        d = context.definitions.get(name)
        if len(args) > 1 and not (d is not None and (d.recursive or isinstance(d.lhs, AppliedUndef))):
            return True
    return False


def _update_written_as_equation(lhs: sympy.Basic, rhs: sympy.Basic) -> bool:
    """``x = x + step`` with a step free of x: an assignment (no one states an equation that forces step = 0)."""
    if not isinstance(lhs, sympy.Symbol) or lhs not in rhs.free_symbols:
        return False
    try:
        step = sympy.expand(rhs - lhs)
    except (TypeError, ValueError):
        return False
    outside = step.xreplace({f: sympy.Dummy() for f in step.atoms(AppliedUndef)})  # grad J(theta) may read x
    return step != 0 and lhs not in outside.free_symbols


def _formula_text(parsed: ParsedFormula) -> str:
    """A formula's LaTeX, rebuilt from its statements (sides joined by their relations)."""
    rows = []
    for st in parsed.statements:
        parts = [st.sides[0].latex] if st.sides else []
        for relation, side in zip(st.relations, st.sides[1:]):
            parts += [relation, side.latex]
        rows.append(" ".join(parts))
    return " \\\\ ".join(rows)


def _short_reason(problem: str) -> str:
    """A parser problem as a countable reason: ``parser: I expected …`` -> ``parser``, ``'\\foo'`` -> ``\\foo``."""
    if problem.startswith("parser"):
        return "parser"
    return problem.strip("'")[:60]


def _rounding(latex: str) -> mpmath.mpf:
    """The rounding a side written as a bare decimal states: half a unit in its last place (0 for other sides).

    ``= 0.593269992`` states a value to 9 places. An exact number (an integer, a fraction) allows none.
    """
    m = re.fullmatch(r"\s*-?\d*\.(\d+)\s*\.?\s*", latex)
    return mpmath.mpf(5) * mpmath.mpf(10) ** -(len(m.group(1)) + 1) if m else mpmath.mpf(0)


_DECIMAL = re.compile(r"(?<![\w.])(\d*\.(\d+))(?![\w.])")


def _within(x: mpmath.mpf, y: mpmath.mpf, tolerance: mpmath.mpf) -> bool:
    """``|x - y| <= tolerance``, with a millionth of the tolerance as slack so that a difference of exactly the
    allowed rounding is not refuted by the arithmetic."""
    return abs(x - y) <= tolerance * (1 + mpmath.mpf(10) ** -6)


def _inputs_rounding(exprs, latex, evaluate) -> mpmath.mpf:
    """``_input_rounding`` summed over the sides of one step."""
    return sum((_input_rounding(e, text, evaluate) for e, text in zip(exprs, latex)), mpmath.mpf(0))


def _input_rounding(expr: sympy.Basic, latex: str, evaluate) -> mpmath.mpf:
    """How much the rounded inputs of a worked example can move its value (first order, summed).

    A decimal of three or more significant digits (``0.75136507``) is a result rounded in an earlier step: it is
    perturbed by half a unit in its last place. Short decimals (``0.4``, ``0.05``) are taken as exact inputs.
    """
    total = mpmath.mpf(0)
    base = None
    if _rounding(latex):
        return total  # the stated result itself, not an input
    for m in _DECIMAL.finditer(latex):
        digits = m.group(1).replace(".", "").lstrip("0")
        if len(digits) < 3:
            continue
        # the parser folds constants (0.01 - 0.75136507 is one number): perturb the text and parse it again
        shifted = latex[:m.start(1)] + m.group(1) + "5" + latex[m.end(1):]  # + half a unit in the last place
        parsed = parse_formula(shifted)
        if parsed.rejected or len(parsed.statements) != 1 or parsed.statements[0].relations or \
                parsed.statements[0].sides[0].expr is None or not _is_number(parsed.statements[0].sides[0].expr):
            continue  # (only a side of numbers is perturbed: names would need the scope's notation and values)
        try:
            base = evaluate(expr) if base is None else base
            moved = evaluate(parsed.statements[0].sides[0].expr)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            continue
        total += abs(moved - base)
    return total


def _point(result: Comparison) -> str:
    if not result.counterexample:
        return "a random point"
    return ", ".join(f"{k} = {v}" for k, v in sorted(result.counterexample.items()))


def analyse_formula(parsed: ParsedFormula, info: FormulaInfo, context: Context, run: RunState,
                    seed: int = 0) -> FormulaOutcome:
    """Check one formula's statements in order; returns the findings and the updated context and run state."""
    analysis = _Analysis(parsed, info, context, run, seed)
    analysis.run_all()
    return FormulaOutcome(analysis.findings, analysis.context, analysis.run, analysis.tally)
