"""Decide whether two sides are equal: seeded random substitution first, ``simplify`` as confirmation.

``compare`` evaluates both sides at ``n_points`` seeded points (``evaluate.Point``). The sides *fail* when they
differ at a majority of the points where both could be evaluated (the first such point is the counterexample),
*hold* when they agree at every such point (at least two), and are *undecided* otherwise. Two sides that hold
at five random rational points agree on a set that is not Lebesgue-null for rational functions only if they
are identical, so a false "holds" needs a coincidence of measure zero; a "fails" comes with its point and is
certain up to the 30-digit tolerance. When the sides hold only after every gradient is made index-free
(``g_t`` and ``g_{t+1}`` the same number), ``index_shift_only`` is set: the statement is right up to an index
shift, which is reported as a note, not an error.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, field

import sympy
from sympy.core.function import AppliedUndef

from .context import Context, integer_symbols, is_gradient, is_integer_name
from .evaluate import DryRun, Evaluator, Point, Undecidable, close, show

SIMPLIFY_SECONDS = 1


@dataclass(frozen=True)
class Comparison:
    verdict: str  # "holds", "fails" or "undecided"
    points: int = 0
    counterexample: dict[str, str] = field(default_factory=dict)
    lhs_value: str = ""
    rhs_value: str = ""
    reason: str = ""
    index_shift_only: bool = False
    simplify: str = ""  # "0", "nonzero", "" (not tried) or "timeout"


def apply_assumptions(expr: sympy.Basic, assumptions: tuple[tuple[sympy.Basic, sympy.Basic], ...]) -> sympy.Basic:
    """Substitute stated assumptions (``g_{mb,t} = g_fb``, ``\\epsilon = 0``) into ``expr``.

    An assumption about an indexed quantity holds for every index: its index symbols become wildcards.
    """
    for lhs, rhs in assumptions:
        if isinstance(lhs, sympy.Symbol):
            if is_integer_name(lhs.name):
                continue  # "for $\tau = 0$" names an index value, it assumes nothing
            if lhs in expr.free_symbols:
                expr = expr.subs(lhs, rhs)  # subs, not xreplace: summation variables stay bound
            continue
        wilds = {s: sympy.Wild(f"w_{s.name}") for s in integer_symbols(lhs)}
        pattern, template = lhs.xreplace(wilds), rhs.xreplace(wilds)
        try:
            expr = expr.replace(pattern, template)
        except (TypeError, ValueError, AttributeError):
            continue
    return expr


def _try_simplify(difference: sympy.Basic) -> str:
    if difference.atoms(AppliedUndef, sympy.Sum, sympy.Product) or sympy.count_ops(difference) > 80:
        return ""

    def alarm(*_: object) -> None:
        raise TimeoutError

    try:
        previous = signal.signal(signal.SIGALRM, alarm)
    except ValueError:  # not the main thread: the worker's hard kill still bounds the time
        return ""
    signal.alarm(SIMPLIFY_SECONDS)
    try:
        return "0" if sympy.simplify(difference) == 0 else "nonzero"
    except TimeoutError:
        return "timeout"
    except Exception:
        return ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def compare(lhs: sympy.Basic, rhs: sympy.Basic, context: Context, seed: int = 0, n_points: int = 5,
            dry: DryRun | None = None, overrides: dict | None = None, confirm: bool = True,
            check_shift: bool = True) -> Comparison:
    """Whether ``lhs == rhs`` under the context, at seeded random points (see the module docstring)."""
    integers = {s.name for s in integer_symbols(lhs) | integer_symbols(rhs)}
    tolerance = _float_tolerance(lhs, rhs)
    valid, failures = 0, []
    reason = ""
    for k in range(n_points):
        point = Point(seed=seed * 1000 + k, integers=integers, overrides=dict(overrides or {}))
        ev = Evaluator(context, point, dry)
        try:
            a, b = ev.value(lhs), ev.value(rhs)
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError) as exc:
            reason = str(exc) or type(exc).__name__
            continue
        valid += 1
        if not (close(a, b) or tolerance and abs(a - b) <= tolerance * max(1, abs(a), abs(b))):
            # the values of the sides' own symbols, also those computed from definitions (g_fb = mean of g_i)
            for symbol in lhs.free_symbols | rhs.free_symbols:
                if symbol.name not in point.assigned:
                    try:
                        point.assigned[symbol.name] = show(ev.value(symbol))
                    except (Undecidable, ZeroDivisionError, ValueError, TypeError):
                        pass
            failures.append((point, a, b))
    names = {s.name for s in lhs.free_symbols | rhs.free_symbols}
    names |= {type(f).__name__ for f in (lhs.atoms(AppliedUndef) | rhs.atoms(AppliedUndef))}
    if valid >= 2 and not failures:
        simplified = _try_simplify(lhs - rhs) if confirm else ""
        return Comparison("holds", valid, simplify=simplified)
    if failures and len(failures) * 2 > valid:
        point, a, b = failures[0]
        shown = {name: str(v) for name, v in point.assigned.items()
                 if name in names or any(name.startswith(n + "[") for n in names)}
        shift = False
        if check_shift and any(is_gradient(n) for n in names):
            shift = _holds_index_free(lhs, rhs, context, seed, dry, overrides)
        simplified = _try_simplify(lhs - rhs) if confirm else ""
        return Comparison("fails", valid, shown, show(a), show(b), index_shift_only=shift, simplify=simplified)
    return Comparison("undecided", valid, reason=reason or "sides could not be evaluated at enough points")


def _float_tolerance(lhs: sympy.Basic, rhs: sympy.Basic) -> float:
    """A relative tolerance of 1e-9 when a side holds a number rounded through a float (a decimal the parser
    folded, 1/0.0396 -> 25.25252525252525…), else 0: such a number is exact only to about 15 digits."""
    for side in (lhs, rhs):
        for number in side.atoms(sympy.Rational):
            if number.q > 10**9:
                return 1e-9
    return 0.0


def _holds_index_free(lhs, rhs, context, seed, dry, overrides) -> bool:
    """Whether the sides agree once every gradient ignores its index (g_t = g_{t+1} = g)."""
    def flatten(expr: sympy.Basic) -> sympy.Basic:
        return expr.replace(lambda e: isinstance(e, AppliedUndef) and is_gradient(type(e).__name__),
                            lambda e: sympy.Symbol(type(e).__name__))
    flat_context = context.copy()
    flat_context.definitions = {
        name: type(d)(d.name, d.lhs, flatten(d.rhs), d.line, d.recursive, d.scope) for name, d in context.definitions.items()
    }
    result = compare(flatten(lhs), flatten(rhs), flat_context, seed, 4, dry, overrides, confirm=False,
                     check_shift=False)
    return result.verdict == "holds"
