"""The Claim model: one mathematical statement taken from course notes, and the formula it asserts."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable, Literal, Mapping

import sympy as sp

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

Empirical = Literal["statistical", "deterministic", "none"]


@dataclass(frozen=True)
class Source:
    """Where a claim is made: the notes' file name and a human location in it."""

    document: str
    location: str

    def to_dict(self) -> dict[str, str]:
        return {"document": self.document, "location": self.location}


DEFAULT_MARGIN = 0.01  # relative equivalence margin of a claim's Monte Carlo checks at the full budget


def _exact(value: object) -> sp.Expr:
    """A float as the exact rational it prints as, an int as an Integer (sympy numbers as they are)."""
    if isinstance(value, sp.Basic):
        return value
    return sp.Rational(str(value)) if isinstance(value, float) else sp.Integer(value)


@dataclass(frozen=True)
class Formula:
    """``quantity = expr``: the value a claim asserts, as a sympy expression over named parameters.

    This object is the one source of truth for the claim's law: the proof
    (``proofs/``) proves it, with each parameter bound by name to the proof's own
    symbol (:meth:`bind`, :meth:`as_function`), and the experiment
    (``experiments/``) evaluates it at the points it simulates (:meth:`__call__`).
    ``quantity`` is the left-hand side in LaTeX, for reports only.
    """

    quantity: str
    expr: sp.Expr

    @property
    def parameters(self) -> tuple[str, ...]:
        """The names of the free symbols, sorted (an indexed family such as alpha_i is one parameter, ``alpha``)."""
        return tuple(sorted(str(s) for s in self.expr.free_symbols if isinstance(s, sp.Symbol)))

    def latex(self) -> str:
        return f"{self.quantity} = {sp.latex(self.expr)}"

    def bind(self, values: Mapping[str, object]) -> sp.Expr:
        """``expr`` with each parameter named in ``values`` replaced (by name) by that expression or number."""
        by_name = {s: sp.sympify(values[str(s)]) for s in self.expr.free_symbols if str(s) in values}
        return self.expr.xreplace(by_name)

    def as_function(self, *names: str) -> Callable[..., sp.Expr]:
        """A function of the parameters ``names`` (positionally) returning the bound expression."""
        return lambda *args: self.bind(dict(zip(names, args, strict=True)))

    def __call__(self, **values: object) -> float:
        """The formula's value at ``values`` (every parameter must be given), as a float.

        An indexed family (``alpha`` in ``sum_{i=1}^n alpha_i``) is given as a sequence,
        ``alpha=(a_1, ..., a_n)``, with its length as the sum's bound (``n=len(alpha)``).
        """
        missing = set(self.parameters) - set(values)
        if missing:
            raise ValueError(f"{self.quantity}: no value for {', '.join(sorted(missing))}")
        sequences = {name: v for name, v in values.items() if isinstance(v, (list, tuple))}
        # exact substitution first (floats as exact rationals), so a pole is a pole and not a huge number
        exact = {s: _exact(values[str(s)]) for s in self.expr.free_symbols
                 if isinstance(s, sp.Symbol) and str(s) not in sequences}
        expr = self.expr.xreplace(exact)
        if sequences:
            expr = expr.doit().replace(
                lambda e: isinstance(e, sp.Indexed) and str(e.base) in sequences,
                lambda e: _exact(sequences[str(e.base)][int(e.indices[0]) - 1]))
        value = expr.evalf(30)
        if not (value.is_real and value.is_finite):
            raise ValueError(f"{self.quantity} = {self.expr} is not a finite real number at {dict(values)}")
        return float(value)

    def component(self, k: int) -> "Formula":
        """Entry ``k`` of a formula whose value is a tuple (several laws asserted together, e.g. two estimators)."""
        if not isinstance(self.expr, sp.Tuple):
            raise ValueError(f"{self.quantity} is a single expression, not a tuple")
        return Formula(f"{self.quantity}[{k}]", self.expr[k])

    def with_expr(self, expr: sp.Expr) -> "Formula":
        """The same quantity with another expression (a corrected or a mutated law)."""
        return replace(self, expr=sp.sympify(expr))


@dataclass(frozen=True)
class Claim:
    """A claim as the notes state it, with what it assumes and where it comes from.

    ``statement`` is the claim in LaTeX as the notes make it (in our words where
    the notes give prose). ``corrected`` is the statement that holds instead,
    when the stated version is believed wrong; whether it *is* wrong is decided
    by the proof, never by this field. ``empirical`` says what kind of Monte
    Carlo check the claim admits: ``statistical`` (moments of random
    quantities), ``deterministic`` (trajectories that must agree to rounding),
    or ``none`` (pure algebra).

    ``formula`` is what the claim asserts as a sympy :class:`Formula` (when the
    claim is a law with a value), ``corrected_formula`` the law that holds
    instead; the proof proves these objects and the experiment evaluates them,
    so neither retypes the formula. ``statement`` stays the notes' printed form
    (a quoted string with its ``sources``). ``margin`` is the relative
    equivalence margin of the claim's Monte Carlo checks at the full budget.
    """

    id: str
    title: str
    statement: str
    assumptions: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    corrected: str | None = None
    empirical: Empirical = "none"
    general: str = field(default="")  # why the claim has no source, when it has none
    formula: Formula | None = None
    corrected_formula: Formula | None = None
    margin: float = DEFAULT_MARGIN

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not a dotted lower-case id like 'ema.bias.mean'")
        if not self.sources and not self.general:
            raise ValueError(f"claim {self.id} needs a source in the notes or a note that it is general")
        if not 0 < self.margin < 1:
            raise ValueError(f"claim {self.id}: margin must be a relative margin in (0, 1), got {self.margin}")

    @property
    def topic(self) -> str:
        return self.id.split(".", 1)[0]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "assumptions": list(self.assumptions),
            "sources": [s.to_dict() for s in self.sources],
            "corrected": self.corrected,
            "empirical": self.empirical,
            "general": self.general,
            "formula_latex": self.formula.latex() if self.formula else None,
            "corrected_latex": self.corrected_formula.latex() if self.corrected_formula else None,
            "parameters": list(self.formula.parameters) if self.formula else [],
            "margin": self.margin,
        }
