"""Proofs about gradient clipping (EMAT31530 §6, Eqs. (44)-(46); Gaussian closed forms).

Run on its own: ``python proofs/clipping.py``.

The Gaussian means are derived by integration in sympy
(``emastats.symbolic.gaussian``), compared with the formula under test exactly,
and cross-checked by mpmath quadrature of the definition at rational
parameters. The deciding functions take the formula under test as an argument,
so wrong variants are judged by the same code.
"""
from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Callable, Sequence

import mpmath
import sympy as sp

from emastats.proving import Derivation, claimed, inconclusive, proof, proved, refuted, script_main
from emastats.symbolic.decide import all_of, decide
from emastats.symbolic.enumeration import minibatch_moments
from emastats.symbolic.gaussian import (
    norm_clip_mean,
    norm_clip_mean_quadrature,
    regularized_lower_gamma,
    value_clip_mean,
    value_clip_mean_quadrature,
)
from emastats.symbolic.moments import IidSequence
from emastats.symbolic.zero import ZeroTest, equal, is_zero

m = sp.Symbol("m", real=True)
s, c = sp.symbols("s c", positive=True)
d = sp.Symbol("d", integer=True, positive=True)
DIGITS = 20  # working precision of the quadrature cross-checks (digits)
TOLERANCE = mpmath.mpf(10) ** -12  # the quadratures of smooth pieces agree far beyond this


def clip(x: sp.Expr, bound: sp.Expr) -> sp.Expr:
    """The notes' Eq. (44) with min = -max: ``clip(x, -c, c)``."""
    return sp.Min(sp.Max(x, -bound), bound)


# ---------------------------------------------------------------- clipping is biased


@proof("clipping.biased")
def clipping_biased() -> Derivation:
    """A two-point gradient g in {0, x}, x > c: E[clip g] = c/2 but E[g] = x/2, so the bias is (c - x)/2 < 0."""
    h = sp.Symbol("h", positive=True)  # x = c + h > c
    x = c + h
    mean = (0 + x) / 2
    clipped = (clip(sp.Integer(0), c) + clip(x, c)) / 2
    bias = sp.simplify(clipped - mean)
    # the concrete case a reader can check: g in {0, 4} with probability 1/2 each, c = 1
    concrete = {c: sp.Integer(1), h: sp.Integer(3)}
    # symmetric about 0 the bias vanishes, so "in general" (not "always") is the right quantifier
    symmetric = sp.simplify((clip(-x, c) + clip(x, c)) / 2 - 0)
    # the minibatch view: data (0, 4), B = 2 with replacement: E[clip(g_mb)] = 3/4, not g_fb = 2
    minibatch = sum(clip(sp.Rational(i + j, 2), 1) for i, j in itertools.product((0, 4), repeat=2)) / 4
    steps = [r"g\in\{0, x\},\ P = \tfrac12 \text{ each},\ x = c + h > c:\ E[\mathrm{clip}(g)] - E[g] = "
             + sp.latex(bias),
             r"g\in\{0,4\},\ c=1:\ E[\mathrm{clip}(g)] = " + sp.latex(clipped.xreplace(concrete))
             + r",\ E[g] = " + sp.latex(mean.xreplace(concrete)),
             r"g\in\{-x, x\}:\ E[\mathrm{clip}(g)] - E[g] = " + sp.latex(symmetric) + r"\ (\text{no bias: not always})",
             r"\text{data } (0,4),\ B=2:\ E[\mathrm{clip}(g_{mb})] = " + sp.latex(minibatch) + r" \ne g_{fb} = 2"]
    # the claim is existential: one distribution with a nonzero bias proves it
    if bias.is_negative and clipped.xreplace(concrete) != mean.xreplace(concrete):
        return proved("explicit two-point distribution", steps)
    return inconclusive("explicit two-point distribution", f"sympy cannot tell the sign of the bias {bias}", steps)


# ---------------------------------------------------------------- value clipping of a Gaussian

ValueFormula = Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]  # (m, s, c) -> E[clip(X, -c, c)]
NormFormula = Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]  # (d, s, c) -> E[min(||X||, c)]

VALUE_POINTS = ((sp.Rational(1, 2), sp.Rational(3, 2), sp.Integer(1)),
                (sp.Integer(-2), sp.Integer(1), sp.Rational(1, 2)),
                (sp.Integer(3), sp.Rational(1, 2), sp.Integer(2)))
NORM_POINTS = ((1, sp.Rational(3, 2), sp.Integer(2)), (2, sp.Integer(1), sp.Rational(1, 2)),
               (5, sp.Rational(1, 2), sp.Integer(1)))


def _quadrature_disagreement(closed: sp.Expr, symbols: Sequence[sp.Symbol], points, quadrature) -> dict | None:
    """The first rational point where the closed form and the quadrature differ by more than TOLERANCE."""
    with mpmath.workdps(DIGITS + 10):
        for point in points:
            value = sp.N(closed.xreplace(dict(zip(symbols, point))), DIGITS + 10)
            numeric = quadrature(*point, digits=DIGITS)
            values = {sym.name: val for sym, val in zip(symbols, point)}
            if not (value.is_real and value.is_finite):  # a pole or a complex value where the mean is finite
                return {**values, "formula": f"{value} (not a finite real number)",
                        "quadrature": mpmath.nstr(numeric, 20)}
            exact = mpmath.mpf(str(value))
            if abs(exact - numeric) > TOLERANCE:
                return {**values, "formula": mpmath.nstr(exact, 20), "quadrature": mpmath.nstr(numeric, 20)}
    return None


def gaussian_formula_verdict(derived: sp.Expr, formula: sp.Expr, symbols: Sequence[sp.Symbol], points,
                             quadrature, derivation_steps: Sequence[str], extra: Sequence[ZeroTest] = (),
                             trials: int = 12) -> Derivation:
    """Compare a closed form with the integral sympy derived, then with quadrature at ``points``.

    Refuted at the first rational point where quadrature and formula differ (values
    to 20 digits); proved when the exact comparison (and every ``extra`` check) is
    zero; INCONCLUSIVE when sympy cannot simplify the difference to 0.
    """
    steps = list(derivation_steps) + [r"\text{formula under test: } " + sp.latex(formula)]
    method = "integration in sympy; exact comparison; mpmath quadrature at rational points"
    miss = _quadrature_disagreement(formula, symbols, points, quadrature)
    if miss is not None:
        return refuted(method, miss, steps)
    steps.append(rf"\text{{quadrature agrees within }}{sp.latex(sp.Float(TOLERANCE, 2))}"
                 rf"\text{{ at {len(points)} rational points}}")
    check = all_of(equal(derived, formula, trials=trials), *extra)
    if check.verdict is False:  # quadrature agreed at our points but an exact spot check found a difference
        return decide(check, method, steps)
    if check.verdict is None:
        return inconclusive(method, f"sympy could not show the formula equals the integral ({check.method})", steps)
    return decide(check, method, steps)


def value_clip_verdict(formula_of: ValueFormula) -> Derivation:
    """Decide ``E[clip(X, -c, c)] = formula(m, s, c)`` for ``X ~ N(m, s^2)``."""
    derived = value_clip_mean(m, s, c)
    formula = formula_of(m, s, c)
    return gaussian_formula_verdict(derived.expression, formula, (m, s, c), VALUE_POINTS,
                                    value_clip_mean_quadrature, derived.steps)


@proof("clipping.value.gaussian")
def value_clipped_gaussian() -> Derivation:
    """The closed form equals the integral of clip(x) against the N(m, s^2) density."""
    return value_clip_verdict(claimed("clipping.value.gaussian").as_function("mu", "sigma", "c"))


# ---------------------------------------------------------------- norm clipping of a Gaussian


def norm_clip_verdict(formula_of: NormFormula) -> Derivation:
    """Decide ``E[min(||X||, c)] = formula(d, s, c)`` for ``X ~ N(0, s^2 I_d)``, symbolic ``d``.

    Besides the integral, an independent check: ``min(R, c) = int_0^c 1[R > r] dr``,
    so ``E[min(R, c)]`` is 0 at ``c = 0`` and its ``c``-derivative is the chi-square
    survival function ``1 - P(d/2, c^2/(2 s^2))``.
    """
    derived = norm_clip_mean(d, s, c)
    formula = formula_of(d, s, c)
    survival = 1 - regularized_lower_gamma(d / 2, c**2 / (2 * s**2))
    slope = is_zero(sp.expand(sp.diff(formula, c) - survival), trials=1)
    start = is_zero(sp.limit(formula, c, 0, "+"), trials=1)
    steps = list(derived.steps) + [r"\frac{\partial}{\partial c}\,\mathrm{formula}"
                                   r" - \big(1 - P(\tfrac d2, \tfrac{c^2}{2s^2})\big) = 0,\quad"
                                   r" \mathrm{formula}\big|_{c\to0} = 0 \ (\text{layer-cake check})"]
    return gaussian_formula_verdict(derived.expression, formula, (d, s, c), NORM_POINTS,
                                    norm_clip_mean_quadrature, steps, extra=(slope, start), trials=1)


@proof("clipping.norm.gaussian")
def norm_clipped_gaussian() -> Derivation:
    """The closed form equals the integral over the chi density, for every dimension d."""
    return norm_clip_verdict(claimed("clipping.norm.gaussian").as_function("d", "sigma", "c"))


# ---------------------------------------------------------------- per-example clipping

Aggregate = Callable[[Sequence[sp.Expr], sp.Expr], sp.Expr]  # (per-example gradients of a batch, c) -> update

DATA, BOUND = (sp.Integer(0), sp.Integer(0), sp.Integer(6)), sp.Integer(1)  # g_fb = 2, E[clip(g_i)] = 1/3


def clip_each_then_average(batch: Sequence[sp.Expr], bound: sp.Expr) -> sp.Expr:
    """(1/B) sum_b clip(g_b, -c, c): per-example clipping."""
    return sum(clip(g, bound) for g in batch) / len(batch)


def average_then_clip(batch: Sequence[sp.Expr], bound: sp.Expr) -> sp.Expr:
    """clip((1/B) sum_b g_b, -c, c): clipping the minibatch mean."""
    return clip(sum(batch) / len(batch), bound)


def enumerated_means(aggregate: Aggregate, sizes: Sequence[int]) -> dict[int, sp.Expr]:
    """E[aggregate] over all N^B equally likely index tuples of DATA (with replacement), for each B."""
    out = {}
    for size in sizes:
        tuples = list(itertools.product(DATA, repeat=size))
        out[size] = sp.nsimplify(sum(aggregate(batch, BOUND) for batch in tuples) / len(tuples))
    return out


BatchLaw = Callable[[sp.Expr, sp.Expr], sp.Expr]  # (kappa = E[clip(g_i)], B) -> claimed E[update]


def batch_independence_verdict(aggregate: Aggregate, law: BatchLaw | None = None) -> Derivation:
    """Decide ``E[aggregate(g_{i_1..i_B})] = law(E[clip(g_i)], B)`` for every B (indices iid uniform).

    ``law`` defaults to the catalogue's formula (free of B). Exact enumeration on
    the data (0, 0, 6) with c = 1 refutes a B-dependence; the general proof is
    linearity: if the aggregate is the mean of the clipped per-example gradients
    (checked on symbolic inputs), each term is iid with mean ``kappa = E[clip(g_i)]``
    and the toolkit gives ``E = kappa`` for symbolic B, which must equal the law.
    """
    if law is None:
        law = claimed("clipping.per_example.bias_independent_of_b").as_function("kappa", "B")
    target = sum(clip(g, BOUND) for g in DATA) / len(DATA)
    by_size = enumerated_means(aggregate, (1, 2, 3))
    kappa, B = sp.Symbol("kappa", real=True), sp.Symbol("B", integer=True, positive=True)
    steps = [r"\text{data } (0,0,6),\ c=1:\ E[\mathrm{clip}(g_i)] = " + sp.latex(target) + r",\ g_{fb} = 2",
             r"\text{enumerated, } B = 1,2,3:\ " + ", ".join(sp.latex(val) for val in by_size.values()),
             r"\text{claimed: } " + sp.latex(law(kappa, B)) + r",\ \kappa = E[\mathrm{clip}(g_i)]"]
    for size, value in by_size.items():
        expected = sp.nsimplify(law(target, sp.Integer(size)))
        if value != expected:
            return refuted("exact enumeration of all minibatches", {"data": "(0, 0, 6)", "c": 1, "B": size,
                                                                    "E[update] (enumerated)": value,
                                                                    "E[clip(g_i)]": target, "claimed": expected},
                           steps)
    ys = sp.symbols("y1:4", real=True)
    per_example = equal(aggregate(ys, c), sum(clip(y, c) for y in ys) / 3)
    family = IidSequence(sp.IndexedBase("X"), kappa, sp.Symbol("v", positive=True),
                         "clip(g_{i_b}) iid: i_b iid uniform")
    mean = family.expectation(family.sample_mean(B))
    # the clipped values themselves, enumerated by the toolkit: their minibatch mean is unbiased for each B
    clipped = [clip(g, BOUND) for g in DATA]
    toolkit = all_of(*(is_zero(minibatch_moments(clipped, b, replacement=True).mean[0] - target) for b in (1, 2, 3)))
    steps.append(r"E\Big[\tfrac1B\sum_{b=1}^B X_b\Big] = " + sp.latex(mean) + r",\ X_b = \mathrm{clip}(g_{i_b})")
    return decide(all_of(per_example, equal(mean, law(kappa, B), domains={B: (1, 30)}), toolkit),
                  "linearity of expectation; exact enumeration", steps)


@proof("clipping.per_example.bias_independent_of_b")
def per_example_bias() -> Derivation:
    """Clip-then-average has mean E[clip(g_i)] at every B; average-then-clip does not (5/9 vs 1/3 at B = 2)."""
    contrast = enumerated_means(average_then_clip, (1, 2, 3))
    result = batch_independence_verdict(clip_each_then_average)
    steps = list(result.steps) + [r"\text{contrast, clip of the minibatch mean, } B=1,2,3:\ "
                                  + ", ".join(sp.latex(val) for val in contrast.values())]
    return replace(result, steps=tuple(steps))


if __name__ == "__main__":
    raise SystemExit(script_main())
