"""What a document has stated so far: definitions, recurrences, numeric values and initial values.

Quantities are named by the canonical keys of ``normalise`` (``w``, ``<g^2>``, ``m^``, ``beta``); an indexed
quantity is a sympy undefined function of its index, ``w(t + 1)``. A *definition* ``w(t+1) = w(t) - eta g(t)``
is stored with its left side, so the evaluator can solve ``t + 1 = n`` for ``t`` and unroll the recurrence
down to its initial value. Roles (gradient, epsilon, index) are read off the keys.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy
from sympy.core.function import AppliedUndef

# Names that stand for integers: time, indices, counts (summation limits, batch and dataset sizes).
INTEGER_NAMES = {"t", "i", "j", "k", "n", "b", "l", "tau", "T", "N", "M", "B", "K"}
EPSILON_NAMES = {"epsilon", "varepsilon"}


@dataclass(frozen=True)
class Definition:
    """``lhs = rhs`` as stated at ``line``; ``recursive`` when ``rhs`` refers to ``lhs``'s own function."""

    name: str
    lhs: sympy.Basic
    rhs: sympy.Basic
    line: int
    recursive: bool = False
    scope: int = 0  # the section or algorithm block it was stated in


@dataclass
class Context:
    """The document's definitions so far (later ones replace earlier ones of the same name)."""

    definitions: dict[str, Definition] = field(default_factory=dict)
    values: dict[tuple, sympy.Basic] = field(default_factory=dict)  # (name, args) -> stated value
    faulty: set[str] = field(default_factory=set)  # names whose definition already has an error finding
    # stated moments of random quantities: ("Var" or "E", name) -> value (Var[g_b] = sigma^2 for every b)
    moments: dict[tuple[str, str], sympy.Basic] = field(default_factory=dict)

    def copy(self) -> "Context":
        return Context(dict(self.definitions), dict(self.values), set(self.faulty), dict(self.moments))


def atom_name(expr: sympy.Basic) -> str | None:
    """The name of a bare quantity (``w`` or ``w(t+1)``), None for anything else."""
    if isinstance(expr, sympy.Symbol):
        return expr.name
    if isinstance(expr, AppliedUndef) and not _is_operator(expr):
        return type(expr).__name__
    return None


def _is_operator(expr: sympy.Basic) -> bool:
    return type(expr).__name__ in ("E", "Var", "Cov", "clip", "tr", "diag", "softmax", "relu")


def base_of(name: str) -> str:
    """The letter a key is built on: ``g_mb`` -> ``g``, ``m^`` -> ``m``, ``<g^2>`` -> ``<g^2>``."""
    if name.startswith("<"):
        return name
    return re.split(r"[_^'~.\-]", name, maxsplit=1)[0]


def is_gradient(name: str) -> bool:
    """A per-step gradient: g, g_mb, g_fb, ĝ, g_i, ∇L, dL/dw (not an average of gradients)."""
    if name.startswith("<"):
        return False
    base = base_of(name)
    return base in ("g", "nabla", "grad") or bool(re.fullmatch(r"dcal[A-Z].*/d.*|dL.*/d.*", name))


def is_epsilon(name: str) -> bool:
    return base_of(name) in EPSILON_NAMES


def is_integer_name(name: str) -> bool:
    return name in INTEGER_NAMES or name.startswith("|") or re.fullmatch(r"[TNMBK]_.*", name) is not None


def moment_order(name: str) -> int | None:
    """The power of the gradient a quantity tracks, read from its name: <g> -> 1, <g^2> -> 2, m -> 1, v -> 2."""
    m = re.fullmatch(r"<([A-Za-z]+)(?:_[a-z;:,]+)?(?:\^(\d))?(?:_[a-z;:,]+)?>", name)
    if m:
        return int(m.group(2) or 1)
    base = base_of(name)
    if not name.startswith(base + "^"):
        return None  # a plain v or m is ambiguous (velocity, mass); \hat m and \hat v are Adam's moments
    if base == "m":
        return 1
    if base in ("v", "s", "r"):
        return 2
    return None


def averaged_input(name: str) -> str | None:
    """The quantity an average is of: ``<g^2>`` -> ``g``, ``<z>`` -> ``z``; None if not an average."""
    m = re.fullmatch(r"<([A-Za-z]+)(?:_[a-z;:,]+)?(?:\^\d)?(?:_[a-z;:,]+)?>", name)
    return m.group(1) if m else None


def referenced_functions(expr: sympy.Basic) -> set[str]:
    return {type(f).__name__ for f in expr.atoms(AppliedUndef)}


def integer_symbols(expr: sympy.Basic) -> set[sympy.Symbol]:
    """Symbols that must be integers: those inside indices of quantities and in summation limits."""
    found: set[sympy.Symbol] = set()
    for f in expr.atoms(AppliedUndef):
        if not _is_operator(f):
            for arg in f.args:
                found |= arg.free_symbols
    for s in expr.atoms(sympy.Sum, sympy.Product):
        for limit in s.limits:
            for bound in limit[1:]:
                found |= bound.free_symbols
    return found | {s for s in expr.free_symbols if is_integer_name(s.name)}
