"""Exact-or-high-precision evaluation of a formula at a seeded random point, unrolling stated recurrences.

This is the primary evidence of every check: two sides that differ at a point are not equal, and the point is
the counterexample. Values are small rationals (so counterexamples read well), integers for indices, counts
and summation limits (from 2 to 6, so ``t - 2`` is still a valid index); everything is computed with mpmath at
50 digits. A quantity the document defined is computed from its definition; an indexed one is unrolled through
its recurrence down to its stated initial value (or a random one when none was stated). In *dry-run* mode
(``check_update``) every gradient is the constant ``gradient``, states start at zero and epsilon is fixed.

Nothing here parses text: the input is sympy expressions from ``parse``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fractions import Fraction

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from .context import Context, Definition, base_of, is_epsilon, is_gradient, is_integer_name

mpmath.mp.dps = 50
MAX_SUM_TERMS = 400
MAX_DEPTH = 150
_DENOMINATORS = (2, 3, 4, 5, 6, 7, 8, 9, 10)


class Undecidable(Exception):
    """The expression cannot be evaluated at this point (complex value, limit, derivative, unknown node)."""


@dataclass
class DryRun:
    """Dry-run settings: constant gradient, epsilon, zero initial states."""

    gradient: Fraction = Fraction(1)
    epsilon: Fraction = Fraction(0)
    inputs: frozenset[str] = frozenset()  # other base names held at the constant ``gradient`` (the x of <x>)

    def is_input(self, name: str) -> bool:
        return is_gradient(name) or base_of(name) in self.inputs


@dataclass
class Point:
    """One seeded random point: the values given to free names, recorded for the counterexample."""

    seed: int
    integers: set[str] = field(default_factory=set)
    assigned: dict[str, Fraction | int] = field(default_factory=dict)
    overrides: dict[tuple, object] = field(default_factory=dict)  # (name, args) -> value, highest priority

    def _rng(self, name: str) -> int:
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def value_of(self, name: str) -> Fraction | int:
        if name not in self.assigned:
            r = self._rng(name)
            if name in self.integers or is_integer_name(name):
                self.assigned[name] = 3 + r % 4  # 3..6
            else:
                den = _DENOMINATORS[r % len(_DENOMINATORS)]
                num = 1 + (r >> 8) % (den - 1)
                self.assigned[name] = Fraction(num, den)
        return self.assigned[name]


def _mp(x: Fraction | int) -> mpmath.mpf:
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    return mpmath.mpf(x)


class Evaluator:
    """Evaluates sympy expressions numerically under a context, at one point."""

    def __init__(self, context: Context, point: Point, dry_run: DryRun | None = None) -> None:
        self.context = context
        self.point = point
        self.dry = dry_run
        self.cache: dict[tuple, object] = {}
        self.depth = 0
        self.active: set = set()  # names and (name, index) being evaluated: a cycle is undecidable

    # -- public ----------------------------------------------------------------------------------
    def value(self, expr: sympy.Basic, env: dict[sympy.Symbol, object] | None = None):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.depth -= 1
            raise Undecidable("recursion too deep")
        try:
            return self._value(expr, env or {})
        finally:
            self.depth -= 1

    # -- nodes -----------------------------------------------------------------------------------
    def _value(self, e: sympy.Basic, env: dict):
        if e in env:
            return env[e]
        if isinstance(e, sympy.Integer):
            return mpmath.mpf(int(e))
        if isinstance(e, sympy.Rational):
            return mpmath.mpf(int(e.p)) / int(e.q)
        if isinstance(e, sympy.Float):
            return mpmath.mpf(str(e))
        if e is sympy.pi:
            return mpmath.pi
        if e is sympy.E:
            return mpmath.e
        if isinstance(e, sympy.Symbol):
            return self._symbol(e.name)
        if isinstance(e, sympy.Add):
            return mpmath.fsum(self.value(a, env) for a in e.args)
        if isinstance(e, sympy.Mul):
            out = mpmath.mpf(1)
            for a in e.args:
                out *= self.value(a, env)
            return out
        if isinstance(e, sympy.Pow):
            base, exponent = self.value(e.args[0], env), self.value(e.args[1], env)
            if base == 0 and mpmath.re(exponent) < 0:
                raise ZeroDivisionError("division by zero")
            if abs(exponent) > 10_000:
                raise Undecidable("exponent too large")
            result = mpmath.power(base, exponent)
            return self._real(result)
        if isinstance(e, sympy.Abs):
            return abs(self.value(e.args[0], env))
        if isinstance(e, sympy.sign):
            return mpmath.sign(self.value(e.args[0], env))
        if isinstance(e, sympy.exp):
            return mpmath.exp(self.value(e.args[0], env))
        if isinstance(e, sympy.log):
            x = self.value(e.args[0], env)
            if x <= 0:
                raise Undecidable("log of a non-positive number")
            return mpmath.log(x)
        if isinstance(e, (sympy.Min, sympy.Max)):
            values = [self.value(a, env) for a in e.args]
            return min(values) if isinstance(e, sympy.Min) else max(values)
        if isinstance(e, sympy.factorial):
            n = self._integer(self.value(e.args[0], env))
            if n < 0 or n > 200:
                raise Undecidable("factorial out of range")
            return mpmath.factorial(n)
        if isinstance(e, sympy.binomial):
            return mpmath.binomial(self.value(e.args[0], env), self.value(e.args[1], env))
        if isinstance(e, (sympy.sin, sympy.cos, sympy.tan, sympy.tanh, sympy.sinh, sympy.cosh)):
            fn = getattr(mpmath, type(e).__name__)
            return fn(self.value(e.args[0], env))
        if isinstance(e, (sympy.Sum, sympy.Product)):
            return self._sum(e, env)
        if isinstance(e, AppliedUndef):
            return self._function(e, env)
        raise Undecidable(f"cannot evaluate {type(e).__name__}")

    @staticmethod
    def _real(x):
        if isinstance(x, mpmath.mpc):
            if abs(x.imag) > mpmath.mpf(10) ** -40 * max(1, abs(x.real)):
                raise Undecidable("complex value")
            return x.real
        return x

    @staticmethod
    def _integer(x) -> int:
        n = int(mpmath.nint(x))
        if abs(x - n) > mpmath.mpf(10) ** -30:
            raise Undecidable("an index or limit is not an integer")
        return n

    def _sum(self, e: sympy.Basic, env: dict):
        body = e.args[0]
        limits = list(e.limits)

        def run(level: int, inner_env: dict):
            if level == len(limits):
                return self.value(body, inner_env)
            var, lo, hi = limits[level]
            a, b = self._integer(self.value(lo, inner_env)), self._integer(self.value(hi, inner_env))
            if b - a + 1 > MAX_SUM_TERMS:
                raise Undecidable("sum too long")
            terms = [run(level + 1, {**inner_env, var: mpmath.mpf(k)}) for k in range(a, b + 1)]
            if isinstance(e, sympy.Sum):
                return mpmath.fsum(terms)
            out = mpmath.mpf(1)
            for term in terms:
                out *= term
            return out

        return run(0, dict(env))

    def _symbol(self, name: str):
        key = (name, ())
        if key in self.point.overrides:
            return self._evaluate_override(key)
        if self.dry is not None:
            if self.dry.is_input(name):
                return _mp(self.dry.gradient)
            if is_epsilon(name):
                return _mp(self.dry.epsilon)
        if key in self.context.values:
            return self.value(self.context.values[key])
        definition = self.context.definitions.get(name)
        if definition is not None and isinstance(definition.lhs, sympy.Symbol) and name not in self.active:
            self.active.add(name)  # a cycle of definitions falls back to a random value
            try:
                return self.value(definition.rhs)
            finally:
                self.active.discard(name)
        return _mp(self.point.value_of(name))

    def _evaluate_override(self, key: tuple):
        value = self.point.overrides[key]
        if isinstance(value, sympy.Basic):
            return self.value(value)
        return value

    def _function(self, e: AppliedUndef, env: dict):
        name = type(e).__name__
        if self.dry is not None and self.dry.is_input(name) and any(
                a.atoms(AppliedUndef) or any(not is_integer_name(s.name) for s in a.free_symbols) for a in e.args):
            return _mp(self.dry.gradient)  # \nabla L(w_t): in a dry run every gradient is the constant one
        args = tuple(self.value(a, env) for a in e.args)
        if name in ("E", "Var", "Cov", "clip", "tr", "diag", "softmax", "relu"):
            return self._opaque(name, e, env, args)
        definition = self.context.definitions.get(name)
        if _is_function_definition(definition, len(args)) and (name, "call") not in self.active:
            # f(x) = x^2 + 3x stated: f applied to any value is its right side there
            self.active.add((name, "call"))
            try:
                return self.value(definition.rhs, dict(zip(definition.lhs.args, args)))
            finally:
                self.active.discard((name, "call"))
        try:
            int_args = tuple(self._integer(a) for a in args)
        except Undecidable:  # T(eta): a function of a real argument, not an index
            return self._opaque(name, e, env, args)
        key = (name, int_args)
        if key in self.point.overrides:
            return self._evaluate_override(key)
        if key in self.cache:
            return self.cache[key]
        if self.dry is not None and self.dry.is_input(name) and not (
                key in self.context.values and int_args and int_args[0] <= 0):
            return _mp(self.dry.gradient)  # (a stated initial value, g_0 = 0, is kept: it is what the notes run)
        if self.dry is not None and is_epsilon(name):
            return _mp(self.dry.epsilon)
        if key in self.active:
            raise Undecidable("circular definitions")
        self.active.add(key)
        try:
            if key in self.context.values:
                result = self.value(self.context.values[key])
            else:
                result = self._unroll(name, int_args)
        finally:
            self.active.discard(key)
        self.cache[key] = result
        return result

    def _opaque(self, name: str, e: sympy.Basic, env: dict, args: tuple):
        """An undefined function of real arguments: a random value per distinct argument values."""
        label = name + "(" + ",".join(mpmath.nstr(a, 20) for a in args) + ")"
        if name in ("clip",) and len(args) == 3:
            x, hi, lo = args
            return min(max(x, lo), hi)
        value = self.point.value_of(label)
        return _mp(value)

    def _unroll(self, name: str, n: tuple[int, ...]):
        definition: Definition | None = self.context.definitions.get(name)
        if definition is None or not isinstance(definition.lhs, AppliedUndef) or len(n) != 1:
            return self._free(name, n)
        (arg,) = definition.lhs.args
        symbols = list(arg.free_symbols)
        if len(symbols) != 1:
            if arg.is_Integer and int(arg) == n[0]:
                return self.value(definition.rhs)
            return self._free(name, n)
        s = symbols[0]
        coeff = arg.coeff(s)
        rest = sympy.expand(arg - coeff * s)
        if coeff != 1 or rest.free_symbols or not rest.is_Integer:
            return self._free(name, n)
        t_value = n[0] - int(rest)
        if definition.recursive and n[0] <= 0:
            return self._initial(name, n)  # a recurrence runs from index 1; index 0 is the initial value
        return self.value(definition.rhs, {s: mpmath.mpf(t_value)})

    def _initial(self, name: str, n: tuple[int, ...]):
        if (name, n) in self.context.values:
            return self.value(self.context.values[(name, n)])
        if self.dry is not None:
            return mpmath.mpf(0)  # states start at zero, as the optimisers initialise them
        return self._free(name, n)

    def _free(self, name: str, n: tuple[int, ...]):
        if self.dry is not None and n and n[0] <= 0 and not is_gradient(name):
            return mpmath.mpf(0)
        return _mp(self.point.value_of(f"{name}{list(n)}"))


def _is_function_definition(definition: Definition | None, arity: int) -> bool:
    """A non-recursive definition of a function of real arguments (f(x) = …, not w_{t+1} = …)."""
    return (definition is not None and not definition.recursive and isinstance(definition.lhs, AppliedUndef)
            and len(definition.lhs.args) == arity and all(
                isinstance(a, sympy.Symbol) and not is_integer_name(a.name) for a in definition.lhs.args))


def close(a, b) -> bool:
    """Equal to 30 digits (relative to the larger magnitude, or absolute near zero)."""
    scale = max(mpmath.mpf(1), abs(a), abs(b))
    return abs(a - b) <= mpmath.mpf(10) ** -30 * scale


def show(x) -> str:
    """A value for a message: a short fraction when it is one, else 6 significant digits."""
    if isinstance(x, (int, Fraction)):
        return str(x)
    frac = Fraction(mpmath.nstr(x, 40)).limit_denominator(10_000)
    if abs(_mp(frac) - x) < mpmath.mpf(10) ** -30:
        return str(frac)
    return mpmath.nstr(x, 6)
