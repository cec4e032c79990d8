"""Expectation algebra: E and Var of a quantity the notes defined, from the moments the notes stated.

E is linear and Var quadratic: for a form ``X = c_0 + sum_i c_i Y_i`` of random quantities ``Y_i`` whose
moments the scope stated (``\\mathrm{Var}[g_b] = \\sigma^2``, for every b),

    E[X] = c_0 + sum_i c_i E[Y_i]                          (linearity; no assumption)
    Var[X] = sum_i c_i^2 Var[Y_i]                          (independent Y_i, stated in the scope's prose)

and a sum over an index, ``sum_{b=1}^{B} c(b) g_b`` of identically distributed terms, is the same with the
sum kept symbolic: ``Var = sum_b c(b)^2 Var[g_b]`` (``symbolic.moments.IidSequence`` states the same rule for
proofs). A single random term needs no independence: Var[a Y] = a^2 Var[Y]. Anything else (a product of two
random quantities, the same family both inside a sum and outside it, a nonlinear function) is not a form
these rules cover: ``None``, and the statement is left to the other checks.
"""
from __future__ import annotations

import re

import sympy
from sympy.core.function import AppliedUndef

from .context import Context, atom_name


def random_name(expr: sympy.Basic, context: Context) -> str | None:
    """The name of a random quantity with stated moments (``g`` for ``g_b``, ``g_3`` or ``g``), else None."""
    name = atom_name(expr)
    if name is None:
        return None
    if any((kind, name) in context.moments for kind in ("Var", "E")):
        return name
    return None


def _expand_definitions(expr: sympy.Basic, context: Context, depth: int = 3) -> sympy.Basic:
    """Symbols the notes defined (``\\bar g = \\frac{1}{B} \\sum_b g_b``) replaced by their definitions, and
    indexed quantities defined for every index (``x_k = x^\\star + \\xi_k``) by theirs at the index used."""
    for _ in range(depth):
        mapping = {}
        for s in expr.free_symbols:
            d = context.definitions.get(s.name)
            if d is not None and isinstance(d.lhs, sympy.Symbol) and not d.recursive and \
                    ("Var", s.name) not in context.moments:
                mapping[s] = d.rhs
        for f in expr.atoms(AppliedUndef):
            name = type(f).__name__
            d = context.definitions.get(name)
            if d is None or d.recursive or not isinstance(d.lhs, AppliedUndef) or len(d.lhs.args) != len(f.args) \
                    or not all(isinstance(a, sympy.Symbol) for a in d.lhs.args) or \
                    any((kind, name) in context.moments for kind in ("Var", "E")):
                continue
            mapping[f] = d.rhs.xreplace(dict(zip(d.lhs.args, f.args)))
        if not mapping:
            break
        expr = expr.xreplace(mapping)
    return _distribute_sums(expr)


def _distribute_sums(expr: sympy.Basic) -> sympy.Basic:
    """``sum_k a_k (c + Y_k)`` as ``sum_k a_k c + sum_k a_k Y_k``: one random family per sum."""
    def split(e: sympy.Sum) -> sympy.Basic:
        body = sympy.expand(e.function)
        if not isinstance(body, sympy.Add):
            return e
        return sympy.Add(*[sympy.Sum(term, *e.limits) for term in body.args])
    try:
        return expr.replace(lambda e: isinstance(e, sympy.Sum), split)
    except (TypeError, ValueError, AttributeError):
        return expr


def _terms(expr: sympy.Basic, context: Context):
    """(coefficient, random atom or None, sum limits or None) per term of the expanded form; None if not linear."""
    out = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coefficient, random, limits = sympy.Integer(1), None, None
        for factor in sympy.Mul.make_args(term):
            if isinstance(factor, sympy.Sum):
                if random is not None or len(factor.limits) != 1:
                    return None
                (k, lo, hi) = factor.limits[0]
                inner = _terms(factor.function, context)
                if inner is not None and len(inner) == 1 and inner[0][1] is None:
                    coefficient *= factor  # sum_k a_k c: nothing random inside, a constant
                    continue
                if inner is None or len(inner) != 1 or inner[0][1] is None or inner[0][2] is not None:
                    return None
                c, atom, _ = inner[0]
                if not (isinstance(atom, AppliedUndef) and atom.args == (k,)):
                    return None  # sum_b c g_b: each term its own draw g_b
                coefficient *= c
                random, limits = atom, (k, lo, hi)
            elif random_name(factor, context) is not None:
                if random is not None:
                    return None  # a product of random quantities
                random = factor
            elif any(random_name(a, context) for a in factor.atoms(sympy.Symbol, AppliedUndef)):
                return None  # a random quantity inside a nonlinear function
            else:
                coefficient *= factor
        out.append((coefficient, random, limits))
    return out


def moment(kind: str, expr: sympy.Basic, context: Context, independent: bool) -> sympy.Basic | None:
    """E[expr] or Var[expr] by the rules of the module docstring, or None when they do not apply."""
    terms = _terms(_expand_definitions(expr, context), context)
    if terms is None:
        return None
    merged: dict[tuple, sympy.Basic] = {}  # (1 - beta) g_0 expands to g_0 - beta g_0: one term, one weight
    for coefficient, atom, limits in terms:
        merged[(atom, limits)] = merged.get((atom, limits), sympy.Integer(0)) + coefficient
    terms = [(c, atom, limits) for (atom, limits), c in merged.items()]
    random_terms = [t for t in terms if t[1] is not None]
    if not random_terms:
        return None  # nothing random: not a statement about moments
    atoms = [(t[1], t[2] is not None) for t in random_terms]
    names = [atom_name(a) for a, _ in atoms]
    if kind == "Var":
        several = len(random_terms) > 1 or random_terms[0][2] is not None
        if several and not independent:
            return None  # a variance of a sum needs the independence the prose did not state
        if len(set(map(str, (a for a, _ in atoms)))) != len(atoms):
            return None
        if any(names.count(n) > 1 and any(in_sum for (a, in_sum) in atoms if atom_name(a) == n) for n in names):
            return None  # g_1 + sum_b g_b: the same draws twice
    total = sympy.Integer(0)
    for coefficient, atom, limits in terms:
        if atom is None:
            total += coefficient if kind == "E" else 0
            continue
        value = context.moments.get((kind, atom_name(atom)))
        if value is None:
            return None
        weight = coefficient if kind == "E" else coefficient ** 2
        total += sympy.Sum(weight * value, limits) if limits is not None else weight * value
    return total


def closed(expr: sympy.Basic) -> sympy.Basic:
    """Sums with a summand free of their index closed (sum_{b=1}^{B} c = B c), for the message."""
    try:
        return expr.replace(lambda e: isinstance(e, sympy.Sum) and not (e.function.free_symbols &
                                                                         {lim[0] for lim in e.limits}),
                            lambda e: e.doit())
    except (TypeError, ValueError, AttributeError):
        return expr


def factor_between(stated: sympy.Basic, expected: sympy.Basic) -> sympy.Basic | None:
    """stated / expected when that is a single monomial (a missing square, a missing factor), else None."""
    try:
        ratio = sympy.powsimp(sympy.cancel(closed(stated) / closed(expected)))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None
    if ratio.is_Add or ratio.atoms(sympy.Sum) or ratio.atoms(AppliedUndef) or ratio == 1:
        return None  # (a ratio of moments, Var[X] - Var[Y] over Var[X] + Var[Y], is no single missing factor)
    return ratio


def with_named_moments(expr: sympy.Basic, context: Context) -> Context:
    """A context in which every ``Var[Y]`` / ``E[Y]`` that ``expr`` names stands for itself (Var(aX) = a Var(X))."""
    found = {}
    for f in expr.atoms(AppliedUndef):
        kind = type(f).__name__
        if kind in ("Var", "E") and len(f.args) == 1 and atom_name(f.args[0]) is not None:
            key = (kind, atom_name(f.args[0]))
            if key not in context.moments:
                found[key] = f if isinstance(f.args[0], sympy.Symbol) else None
    if not any(v is not None for v in found.values()):
        return context
    context = context.copy()
    context.moments.update({k: v for k, v in found.items() if v is not None})
    return context


MAX_UNROLL_STEPS = 80


def unroll(expr: sympy.Basic, context: Context) -> sympy.Basic | None:
    """``expr`` with every recursively defined quantity at a fixed index replaced through its recurrence, down to
    the stated initial values (a constant symbol ``m[0]`` where none was stated); None if it does not terminate."""
    for _ in range(MAX_UNROLL_STEPS):
        mapping = {}
        for f in expr.atoms(AppliedUndef):
            name = type(f).__name__
            d = context.definitions.get(name)
            if d is None or not d.recursive or len(f.args) != 1 or not f.args[0].is_Integer \
                    or not isinstance(d.lhs, AppliedUndef) or len(d.lhs.args) != 1:
                continue
            n = int(f.args[0])
            if (name, (n,)) in context.values:
                mapping[f] = context.values[(name, (n,))]
                continue
            (arg,) = d.lhs.args
            symbols = list(arg.free_symbols)
            if len(symbols) != 1 or arg.coeff(symbols[0]) != 1:
                return None
            shift = sympy.expand(arg - symbols[0])
            if not shift.is_Integer:
                return None
            if n - int(shift) < 0 or n <= 0:
                mapping[f] = sympy.Symbol(f"{name}[{n}]")  # an unstated initial value: a constant
            else:
                mapping[f] = d.rhs.xreplace({symbols[0]: sympy.Integer(n - int(shift))})
        if not mapping:
            return expr
        expr = expr.xreplace(mapping)
    return None


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_MOMENT_WORDS = re.compile(r"\b(mean|expectation|expected value|variance)\s*(?:of\s+)?\$([^$]{1,80})\$", re.I)


def prose_moments(prose: str) -> list[tuple[str, str, str]]:
    """(kind, subject LaTeX, value LaTeX) for "the $g_i$ are iid with mean $\\mu$ and variance $\\sigma^2$".

    The subject is the last formula without a relation before the moment words; only a sentence that names it
    and gives the value as a formula counts (prose is read, never guessed from).
    """
    found = []
    for sentence in _SENTENCE_END.split(prose):
        moments = list(_MOMENT_WORDS.finditer(sentence))
        if not moments:
            continue
        names = [m for m in re.finditer(r"\$([^$]{1,200})\$", sentence[:moments[0].start()])
                 if not re.search(r"[=<>]|\\(le|ge|in|sim)\b", m.group(1))]
        if not names:
            continue
        for m in moments:
            kind = "Var" if m.group(1).lower() == "variance" else "E"
            found.append((kind, names[-1].group(1), m.group(2)))
    return found
