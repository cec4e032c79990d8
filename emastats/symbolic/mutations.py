"""Wrong variants of a catalogue formula, for testing that the checks find planted errors.

Like hypothesis testing its own search on planted bugs, the test suite feeds
these variants through the proofs and the experiments in place of the
catalogue's formula and counts how many each side refutes (the kill rate).
Each generator returns ``(name, expression)`` pairs; variants that happen to be
equal to the original (e.g. an exponent shift of a formula with no power) are
left out, so every variant returned is genuinely different from the original.

* ``scaled``: the formula times (1 + 2/100) or (1 - 2/100);
* ``exponent_shifts``: every power whose exponent depends on a parameter, with the exponent +1 and -1;
* ``complement``: a parameter in (0, 1) (beta, Adam's beta1 and beta2, p, mu as momentum) replaced by 1 minus itself;
* ``sign_flips``: the sign of one term of a sum flipped;
* ``dropped_factors``: one factor of a product that depends on a parameter dropped (e.g. (N - B)/(N - 1));
* ``summand_forms``: in a sum over an index (``sum_i alpha_i^2``), the summand's power +1 and -1 (``sum_i alpha_i``)
  and the square of the sum for the sum of squares (``(sum_i alpha_i)^2``);
* ``agreeing_at``: the formula times (x / x0) for a parameter x: it agrees with the truth wherever x = x0,
  which a single-point experiment at x0 cannot tell from the truth.
* ``size_factors``: for a law that must *not* depend on the sizes N, B or the step eta (an unbiasedness law
  E[g_mb] = g_fb), the law times a plausible factor in them: the finite-population factor (N - B)/(N - 1),
  (N - 1)/N, B/N, a window of T - 1 steps (1 - eta), and (x / x0), right only where x = x0.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import sympy as sp

Variant = tuple[str, sp.Expr]


def _numerically_different(expr: sp.Expr, variant: sp.Expr) -> bool:
    """True when the two differ at a rational test point (cheap; a special function defeats simplify for minutes)."""
    symbols = [s for s in (expr.free_symbols | variant.free_symbols) if isinstance(s, sp.Symbol)]
    for k in range(2):
        point = {s: sp.Integer(3 + 2 * k) if s.is_integer else sp.Rational(7 + k, 5) for s in symbols}
        try:
            a, b = (sp.N(e.xreplace(point), 30) for e in (expr, variant))
        except (TypeError, ValueError, ZeroDivisionError):
            return False
        if a.is_number and b.is_number and a.is_finite and b.is_finite and abs(complex(a - b)) > 1e-12:
            return True
    return False


def _different(expr: sp.Expr, variant: sp.Expr) -> bool:
    return _numerically_different(expr, variant) or sp.simplify(variant - expr) != 0


def scaled(expr: sp.Expr, size: sp.Rational = sp.Rational(2, 100)) -> list[Variant]:
    return [(f"x (1 + {size})", expr * (1 + size)), (f"x (1 - {size})", expr * (1 - size))]


def exponent_shifts(expr: sp.Expr) -> list[Variant]:
    out = []
    for power in expr.atoms(sp.Pow):
        if power.exp.free_symbols:
            for shift in (1, -1):
                out.append((f"exponent of {power} {'+' if shift > 0 else '-'} 1",
                            expr.xreplace({power: power.base ** (power.exp + shift)})))
    return out


def complement(expr: sp.Expr, names: Iterable[str] = ("beta", "beta1", "beta2", "p", "mu")) -> list[Variant]:
    out = []
    for s in sorted(expr.free_symbols, key=str):
        if str(s) in names:
            out.append((f"{s} -> 1 - {s}", expr.xreplace({s: 1 - s})))
    return out


def sign_flips(expr: sp.Expr) -> list[Variant]:
    out = []
    for add in sorted(expr.atoms(sp.Add), key=sp.default_sort_key):
        terms = add.args
        flipped = sp.Add(*terms[:-1], -terms[-1], evaluate=False)
        out.append((f"sign of {terms[-1]} in {add} flipped", expr.xreplace({add: flipped})))
    return out


def dropped_factors(expr: sp.Expr) -> list[Variant]:
    out = []
    for mul in sorted(expr.atoms(sp.Mul), key=sp.default_sort_key):
        for factor in mul.args:
            if factor.free_symbols and len(mul.args) > 1:
                rest = sp.Mul(*[a for a in mul.args if a is not factor])
                out.append((f"factor {factor} dropped", expr.xreplace({mul: rest})))
    return out


def summand_forms(expr: sp.Expr) -> list[Variant]:
    out = []
    for total in sorted(expr.atoms(sp.Sum), key=sp.default_sort_key):
        body, limits = total.function, total.limits
        for power in sorted(body.atoms(sp.Pow), key=sp.default_sort_key):
            if power.exp.is_Integer:
                for shift in (1, -1):
                    changed = power.base ** (power.exp + shift)
                    out.append((f"summand {power} -> {changed}",
                                expr.xreplace({total: sp.Sum(body.xreplace({power: changed}), *limits)})))
        if body.is_Pow and body.exp == 2:
            out.append((f"{total} -> its square of the sum",
                        expr.xreplace({total: sp.Sum(body.base, *limits) ** 2})))
    return out


def agreeing_at(expr: sp.Expr, point: Mapping[str, float]) -> list[Variant]:
    """The formula times x / x0 for each parameter x of ``point`` (nonzero x0): right only where x = x0."""
    out = []
    for s in sorted(expr.free_symbols, key=str):
        x0 = point.get(str(s))
        if x0:
            out.append((f"x ({s} / {x0}): agrees where {s} = {x0}", expr * s / sp.nsimplify(x0)))
    return out


# the size parameters a law may wrongly depend on, as the catalogue spells them (same names and assumptions)
SIZES = {"N": sp.Symbol("N", integer=True, positive=True), "B": sp.Symbol("B", integer=True, positive=True),
         "eta": sp.Symbol("eta", positive=True)}


def size_factors(expr: sp.Expr, point: Mapping[str, float]) -> list[Variant]:
    """``expr`` times a factor in the sizes named in ``point`` (N, B, eta) that the true law does not have."""
    n, b, eta = SIZES["N"], SIZES["B"], SIZES["eta"]
    factors = []
    if "N" in point and "B" in point:
        factors += [("x (N - B)/(N - 1): a finite-population factor", (n - b) / (n - 1)), ("x B/N", b / n)]
    if "N" in point:
        factors.append(("x (N - 1)/N: a Bessel-style factor", (n - 1) / n))
    if "eta" in point:
        factors.append(("x (1 - eta): a window of T - 1 steps", 1 - eta))
    for name in ("N", "B", "eta"):
        if point.get(name):
            factors.append((f"x ({name} / {point[name]}): agrees where {name} = {point[name]}",
                            SIZES[name] / sp.nsimplify(point[name])))
    return [(label, expr * factor) for label, factor in factors]


def _entrywise(laws: sp.Tuple, vary) -> list[Variant]:
    """``vary`` applied to each entry of a tuple of laws, the other entries kept."""
    return [(f"entry {k}: {name}", sp.Tuple(*laws[:k], variant, *laws[k + 1:]))
            for k, entry in enumerate(laws) for name, variant in vary(entry)]


def mutants(expr: sp.Expr, point: Mapping[str, float] | None = None,
            sizes: Mapping[str, float] | None = None) -> list[Variant]:
    """Every variant above that differs from ``expr``, without duplicates (of each entry, for a tuple of laws).

    ``point``: a grid point, for the variants that agree with the truth there; ``sizes``: a grid point of the
    sizes (N, B, eta) the law must not depend on, for :func:`size_factors`."""
    if isinstance(expr, sp.Tuple):
        return _entrywise(expr, lambda e: mutants(e, point, sizes))
    candidates = (scaled(expr) + exponent_shifts(expr) + complement(expr) + sign_flips(expr)
                  + dropped_factors(expr) + summand_forms(expr) + (agreeing_at(expr, point) if point else [])
                  + (size_factors(expr, sizes) if sizes else []))
    seen: list[sp.Expr] = []
    out = []
    for name, variant in candidates:
        if variant.has(sp.zoo, sp.nan, sp.oo, -sp.oo):  # e.g. beta dropped from 1/(1 - beta): not a formula at all
            continue
        if not _different(expr, variant) or any(not _different(v, variant) for v in seen):
            continue
        seen.append(variant)
        out.append((name, variant))
    return out


def rewrites(expr: sp.Expr) -> list[Variant]:
    """Equivalent forms of ``expr`` (expanded, factored, over a common denominator): never to be refuted."""
    if isinstance(expr, sp.Tuple):
        return _entrywise(expr, rewrites)
    forms = [("expand", sp.expand(expr)), ("factor", sp.factor(expr)), ("together", sp.together(expr)),
             ("cancel", sp.cancel(expr))]
    for total in sorted(expr.atoms(sp.Sum), key=sp.default_sort_key):
        (index, low, high), = total.limits[:1] if len(total.limits) == 1 else [(None, None, None)]
        if index is not None:  # the same sum with its index shifted by one
            j = sp.Dummy(str(index))
            forms.append(("sum index shifted",
                          expr.xreplace({total: sp.Sum(total.function.xreplace({index: j + 1}), (j, low - 1, high - 1))})))
    out, seen = [], [expr]
    for name, form in forms:
        if any(form == s for s in seen):
            continue
        seen.append(form)
        out.append((name, form))
    return out
