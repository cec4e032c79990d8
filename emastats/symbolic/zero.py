"""Deciding whether a sympy expression is identically zero.

``simplify`` alone is a poor judge: when it returns something that is not 0 the
expression may still be zero (sympy just failed to see it), and when it returns
0 we would like an independent check. So :func:`is_zero` combines two kinds of
evidence, both exact:

* seeded **spot checks**: the expression is evaluated at random exact rationals
  (integers for integer symbols) that respect each symbol's assumptions and
  declared domain. One nonzero value *refutes* the identity with a witness a
  reader can check by hand;
* **symbolic confirmation**: cheap canonical forms (``expand``, ``cancel``) and
  then ``simplify`` must reach 0 (sums are expanded with ``doit`` first).

Arbitrary inputs are sampled too: indexed inputs ``X[2]`` that appear once a
sum's bound is a number, and values ``f(3/2)`` of an undefined function ``f``
(equal arguments get equal values, so only what holds for *every* f passes).

The verdict is True only when both agree, False when a spot value is nonzero,
and None (undecided) when every spot is zero but sympy cannot show the identity.
No floating point number is ever used.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable, Mapping

import sympy as sp
from sympy.core.function import AppliedUndef

Domain = tuple[object, object]  # an open interval (lo, hi) for reals, inclusive [lo, hi] for integers
Domains = Mapping[sp.Symbol | str, Domain]

_INT_SPAN = 8  # integer symbols are drawn from [0, 8], [1, 8] or [-8, 8] unless a domain says otherwise
_MAX_NUMERATOR = 20
_MAX_DENOMINATOR = 9
_UNDEFINED = (sp.zoo, sp.nan, sp.oo, -sp.oo)


@dataclass(frozen=True)
class ZeroTest:
    """Outcome of :func:`is_zero`.

    ``verdict``: True (identically zero), False (nonzero somewhere: see
    ``witness``), None (undecided). ``witness`` maps each sampled symbol's name to
    its exact value, plus ``"value"``: the expression's exact value there.
    ``points`` is how many spot points could be evaluated to a number.
    """

    verdict: bool | None
    witness: dict[str, str] | None
    method: str
    points: int = 0
    point: Mapping[sp.Basic, sp.Rational] | None = field(default=None, repr=False, compare=False)



def conjunction(verdicts: Iterable[bool | None]) -> bool | None:
    """Three-valued "and" of check verdicts: False if any is False, True if all are True, else None."""
    verdicts = list(verdicts)
    if False in verdicts:
        return False
    return True if all(v is True for v in verdicts) else None


def _domain_of(sym: sp.Symbol, domains: Domains | None) -> Domain | None:
    if not domains:
        return None
    return domains.get(sym, domains.get(sym.name))  # type: ignore[arg-type]


def _draw(sym: sp.Symbol, domain: Domain | None, rng: random.Random, size: int = _INT_SPAN) -> sp.Rational:
    """One exact value for ``sym`` that respects its assumptions and its domain.

    ``size`` grows with the trial number, so the first points are small numbers
    (a witness a reader can check by hand) and later ones spread out.
    """
    size = max(1, min(size, _INT_SPAN))
    if sym.is_integer:
        if domain is not None:
            lo, hi = int(sp.ceiling(domain[0])), int(sp.floor(domain[1]))
            hi = min(hi, lo + size)
        elif sym.is_positive:
            lo, hi = 1, 1 + size
        elif sym.is_nonnegative:
            lo, hi = 0, size
        else:
            lo, hi = -size, size
        if lo > hi:
            raise ValueError(f"empty integer domain {domain} for {sym}")
        return sp.Integer(rng.randint(lo, hi))
    if domain is not None:
        lo, hi = Fraction(str(sp.Rational(domain[0]))), Fraction(str(sp.Rational(domain[1])))
        if not lo < hi:
            raise ValueError(f"empty domain {domain} for {sym}")
        q = rng.randint(2, 2 + size)
        value = lo + (hi - lo) * Fraction(rng.randint(1, q - 1), q)  # strictly inside (lo, hi)
        return sp.Rational(value.numerator, value.denominator)
    q = rng.randint(1, min(_MAX_DENOMINATOR, size))
    p = rng.randint(1, min(_MAX_NUMERATOR, 2 * size + 1))
    if sym.is_positive:
        return sp.Rational(p, q)
    if sym.is_nonnegative:
        return sp.Rational(p - 1, q)
    return sp.Rational(p if rng.random() < 0.5 else -p, q)


def _arbitrary_inputs(value: sp.Expr) -> list[sp.Expr]:
    """``X[2]`` and ``f(3/2)``: indexed inputs and undefined-function values at numeric points."""
    indexed = [a for a in value.atoms(sp.Indexed) if all(i.is_number for i in a.indices)]
    applied = [a for a in value.atoms(AppliedUndef) if all(arg.is_number for arg in a.args)]
    return sorted(indexed + applied, key=str)


def _evaluate(
    expr: sp.Expr, values: dict[sp.Basic, sp.Rational], rng: random.Random
) -> sp.Expr | None:
    """The exact value of ``expr`` at ``values``; None where it is undefined or not a number.

    Arbitrary inputs that become concrete only at the point (``X[1]``, ``X[2]`` of
    ``Sum(X[k], (k, 1, t))`` at t = 2, or ``f(3/2)`` for an undefined function f)
    get their own seeded values, added to ``values``.
    """
    try:
        value = expr.xreplace(values)
        if value.has(sp.Sum, sp.Product):
            value = value.doit()
        if value.has(*_UNDEFINED):
            return None
        # inputs like X[2] that only appear once the index is a number, and values f(3/2) of an
        # arbitrary function at the points the expression needs (equal arguments, equal values)
        arbitrary = _arbitrary_inputs(value)
        if arbitrary:
            drawn = {a: _draw(sp.Dummy(real=True), None, rng) for a in arbitrary}
            values.update(drawn)
            value = value.xreplace(drawn)
        if value.free_symbols:
            return None
        if not value.is_Rational:
            value = sp.simplify(value)  # e.g. radicals; still exact
    except (ZeroDivisionError, ValueError, TypeError):
        return None
    if value.has(*_UNDEFINED):
        return None
    return value


def _simplifies_to_zero(expr: sp.Expr) -> str | None:
    """Name of the first rewriting that turns ``expr`` into 0, or None."""
    if expr.has(sp.Sum, sp.Product):
        expr = expr.doit()
    for name, rewrite in (("expand", sp.expand), ("cancel", sp.cancel), ("simplify", sp.simplify)):
        try:
            if rewrite(expr) == 0:
                return name
        except (sp.PolynomialError, TypeError, ValueError):  # a rewrite that does not apply here
            continue
    return None


def is_zero(
    expr: sp.Expr | int | str,
    symbols: Iterable[sp.Symbol] | None = None,
    *,
    domains: Domains | None = None,
    trials: int = 12,
    seed: int = 0,
) -> ZeroTest:
    """Decide whether ``expr`` is identically zero over the sampled ``symbols``.

    ``symbols`` defaults to every free symbol of ``expr``. ``domains`` maps a
    symbol (or its name) to an open interval ``(lo, hi)`` for real symbols, e.g.
    ``{beta: (0, 1)}``, or to inclusive bounds for integer symbols. Points where
    ``expr`` is undefined are skipped (up to ``5 * trials`` draws).
    """
    expr = sp.sympify(expr)
    chosen = sorted(expr.free_symbols if symbols is None else set(symbols), key=str)
    labels = {i.base.label for i in expr.atoms(sp.Indexed)} | {b.label for b in expr.atoms(sp.IndexedBase)}
    chosen = [s for s in chosen if isinstance(s, sp.Symbol) and s not in labels]  # X[k] is drawn per index
    rng = random.Random(seed)
    points = 0
    for attempt in range(max(1, trials) * 5):
        if points >= max(1, trials):
            break
        size = 1 + attempt // 2  # small values first
        values: dict[sp.Basic, sp.Rational] = {s: _draw(s, _domain_of(s, domains), rng, size) for s in chosen}
        value = _evaluate(expr, values, rng)
        if value is None or value.is_zero is None:  # undefined here, or sympy cannot tell
            continue
        points += 1
        if value.is_zero is False:
            witness = {str(s): str(v) for s, v in values.items()}
            witness["value"] = str(value)
            return ZeroTest(False, witness, f"exact spot check ({points} point(s), seed {seed})", points, values)
        if not values:  # a constant: one evaluation decides
            if value.is_zero:
                return ZeroTest(True, None, "exact evaluation", 1)
            break
    rewrite = _simplifies_to_zero(expr)
    if rewrite is None:
        return ZeroTest(None, None, f"{points} exact spot check(s) are 0 but sympy could not simplify to 0", points)
    if points == 0:
        return ZeroTest(True, None, f"{rewrite} gives 0 (no point could be evaluated for a spot check)", 0)
    return ZeroTest(True, None, f"{rewrite} gives 0 and {points} exact spot checks are 0", points)


def equal(
    lhs: sp.Expr | int | str,
    rhs: sp.Expr | int | str,
    symbols: Iterable[sp.Symbol] | None = None,
    *,
    domains: Domains | None = None,
    trials: int = 12,
    seed: int = 0,
    sides: tuple[str, str] = ("lhs", "rhs"),
) -> ZeroTest:
    """:func:`is_zero` of ``lhs - rhs``: whether the two sides agree identically.

    A witness also gives both sides' exact values there, under the names ``sides``.
    """
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    test = is_zero(lhs - rhs, symbols, domains=domains, trials=trials, seed=seed)
    if test.verdict is False and test.point is not None:
        witness = dict(test.witness or {})
        for name, side in zip(sides, (lhs, rhs)):
            value = _evaluate(side, dict(test.point), random.Random(seed))
            if value is not None:
                witness[name] = str(value)
        return ZeroTest(False, witness, test.method, test.points, test.point)
    return test


def all_zero(
    exprs: Iterable[sp.Expr | int | str],
    symbols: Iterable[sp.Symbol] | None = None,
    *,
    domains: Domains | None = None,
    trials: int = 12,
    seed: int = 0,
) -> ZeroTest:
    """:func:`is_zero` of every expression: False as soon as one is nonzero, True only if all are.

    A witness also names which component failed (``"component"``, counted from 0).
    """
    exprs = [sp.sympify(e) for e in exprs]
    if symbols is not None:
        symbols = list(symbols)
    undecided: list[str] = []
    points = 0
    for index, expr in enumerate(exprs):
        test = is_zero(expr, symbols, domains=domains, trials=trials, seed=seed)
        points += test.points
        if test.verdict is False:
            witness = dict(test.witness or {})
            witness["component"] = str(index)
            return ZeroTest(False, witness, f"component {index}: {test.method}", points)
        if test.verdict is None:
            undecided.append(f"component {index}: {test.method}")
    if undecided:
        return ZeroTest(None, None, "; ".join(undecided), points)
    return ZeroTest(True, None, f"all {len(exprs)} component(s) are 0 ({points} spot checks)", points)
