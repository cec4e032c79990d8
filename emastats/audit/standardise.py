"""Standardisation: values rescaled by the spread of their batch must have batch mean zero.

A definition ``z_i = (x_i - \\mu)/(\\sigma + \\epsilon)`` (batch norm, feature scaling) in which, by the notes' own
definitions, ``\\mu = \\frac{1}{m}\\sum_{k=1}^{m} x_k`` is the batch mean of the family x and ``\\sigma`` is built
from a sum over the same family around that mean (a spread), standardises x: averaged over the batch,

    \\frac{1}{m} \\sum_{i=1}^{m} z_i = 0        for every batch x_1..x_m and every \\epsilon.

The check evaluates that average at seeded random batches (the size m and the values drawn by
``evaluate.Point``); when it is not zero at two of them the notes' standardisation does not centre (a mean added
instead of subtracted, the mean of another family). Nothing else about the scale is judged.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy
from sympy.core.function import AppliedUndef

from .context import Context, Definition
from .evaluate import Evaluator, Point, Undecidable, show


@dataclass(frozen=True)
class Centring:
    """Whether a standardised family is centred; if not, its batch average at one seeded batch of ``size``."""

    centred: bool
    mean_name: str
    average: str = ""
    size: str = ""


def _family(defn: Definition) -> tuple[sympy.Symbol, sympy.FunctionClass] | None:
    if not isinstance(defn.lhs, AppliedUndef) or len(defn.lhs.args) != 1 or not defn.lhs.args[0].is_Symbol:
        return None
    (index,) = defn.lhs.args
    families = {f.func for f in defn.rhs.atoms(AppliedUndef) if f.args == (index,) and f.func != defn.lhs.func}
    return (index, families.pop()) if len(families) == 1 else None


def _batch_mean(d: Definition | None, family) -> sympy.Sum | None:
    """The Sum of ``d`` when ``d`` defines the mean of the family over a batch, ``(1/m) sum_{k=lo}^{hi} x_k``."""
    if d is None or d.recursive or not isinstance(d.lhs, sympy.Symbol):
        return None
    sums = list(d.rhs.atoms(sympy.Sum))
    if len(sums) != 1 or len(sums[0].limits) != 1:
        return None
    (total,) = sums
    k, lo, hi = total.limits[0]
    if total.function != family(k):
        return None
    try:
        return total if sympy.simplify(d.rhs / total * (hi - lo + 1)) == 1 else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _is_spread(d: Definition | None, family, mean: sympy.Symbol) -> bool:
    """Whether ``d`` is built from a sum over the family around its mean (a variance or standard deviation)."""
    if d is None or d.recursive:
        return False
    return any(any(isinstance(f, AppliedUndef) and f.func == family for f in s.function.atoms(AppliedUndef))
               and mean in s.function.free_symbols for s in d.rhs.atoms(sympy.Sum))


def centring(defn: Definition, context: Context, seed: int = 0) -> Centring | None:
    """Whether the standardised family's batch average vanishes at two seeded batches; None when ``defn`` is not
    a standardisation by the notes' own definitions, or the average cannot be evaluated."""
    found = _family(defn)
    if found is None:
        return None
    index, family = found
    means = {s: total for s in defn.rhs.free_symbols
             if (total := _batch_mean(context.definitions.get(s.name), family)) is not None}
    if len(means) != 1:
        return None
    (mean, total), = means.items()
    spreads = [s for s in defn.rhs.free_symbols if s != mean and _is_spread(context.definitions.get(s.name), family,
                                                                             mean)]
    if not spreads:
        return None
    _, lo, hi = total.limits[0]
    i = sympy.Dummy("i")
    batch = sympy.Sum(defn.rhs.xreplace({index: i}), (i, lo, hi)) / (hi - lo + 1)
    averages = []
    for k in range(2):
        point = Point(seed=seed * 1000 + 500 + k, integers={s.name for s in (hi - lo).free_symbols})
        try:
            value = Evaluator(context, point).value(batch)
            scale = Evaluator(context, point).value(defn.rhs.xreplace({index: lo}))
        except (Undecidable, ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
        if abs(value) <= mpmath.mpf(10) ** -20 * max(1, abs(scale)):
            return Centring(True, mean.name)
        averages.append((value, point))
    value, point = averages[0]
    size = Evaluator(Context(), point).value(hi - lo + 1)  # (the point keeps the size it drew)
    return Centring(False, mean.name, show(value), show(size))
