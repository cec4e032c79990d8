"""Proofs about minibatch gradients (EMAT31530 §1; TTIC 31230 Problem 5).

Run on its own: ``python proofs/minibatch.py``.

Notation: N examples with gradients g_1..g_N, g_fb = (1/N) sum g_i, Sigma^1 the
population covariance (1/N) sum (g_i - g_fb)(g_i - g_fb)^T, and g_mb the mean of
a minibatch of size B. Every moment claim is decided twice: by a symbolic
derivation for general N and B, and by exact enumeration of *all* minibatches
for small N (with symbolic or rational gradients), which uses no independence
argument at all. The ``check_*`` functions take the claimed formula as an
argument, so wrong variants go through the same derivation in the tests.
"""
from __future__ import annotations

import itertools
from typing import Callable

import sympy as sp

from emastats.proving import Derivation, claimed, proof, refuted, script_main
from emastats.symbolic import (
    ExchangeableFamily,
    IidSequence,
    ZeroTest,
    all_of,
    all_zero,
    decide,
    equal,
    is_zero,
    minibatch_moments,
    population_moments,
)
from emastats.verdict import Verdict

N = sp.Symbol("N", integer=True, positive=True)
B = sp.Symbol("B", integer=True, positive=True)
T = sp.Symbol("T", integer=True, positive=True)
K = sp.Symbol("K", integer=True, positive=True)
eta = sp.Symbol("eta", positive=True)
g_fb = sp.Symbol("g_fb", real=True)
var_mb = sp.Symbol("sigma_mb^2", positive=True)  # Var[g_mb]
sigma1 = sp.Symbol("Sigma^1", positive=True)  # one entry of the population covariance
G = sp.IndexedBase("G")  # the B draws of a minibatch, or the T minibatch gradients of a window
j = sp.Symbol("j", integer=True, positive=True)

SIDES = ("derived", "claimed")  # names of the two sides in a counterexample
SMALL_CASES = [(n, b) for n in range(1, 5) for b in range(1, 4)]  # enumeration: N = 1..4, B = 1..3
BOTH_SIZES = {N: (2, 30), B: (2, 30)}

# Claimed covariance of the minibatch mean as a function of (Sigma^1, N, B).
CovarianceLaw = Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]


def symbolic_gradients(n: int, dim: int = 1) -> list[tuple[sp.Symbol, ...]]:
    """g_1..g_n as symbols (dim coordinates each), so enumeration proves identities for any values."""
    return [tuple(sp.Symbol(f"g_{i}{'abc'[d]}" if dim > 1 else f"g_{i}", real=True) for d in range(dim))
            for i in range(1, n + 1)]


# --- the gradient of a mean is the mean of the gradients ---------------------------------------


@proof("minibatch.loss_derivative")
def loss_derivative() -> Derivation:
    """d/dw of (1/M) sum L_i = (1/M) sum dL_i/dw: linearity of d/dw, for symbolic M and arbitrary L_i."""
    w = sp.Symbol("w", real=True)
    i = sp.Symbol("i", integer=True, positive=True)
    M = sp.Symbol("M", integer=True, positive=True)
    L = sp.Function("L")
    general = sp.Sum(L(i, w), (i, 1, M)).diff(w) / M - sp.Sum(sp.Derivative(L(i, w), w), (i, 1, M)) / M
    general_ok = is_zero(general)
    # the same on concrete differentiable losses L_i(w) = a_i w^3 + b_i sin(w) + c_i for M = 4
    a, b, c = (sp.symbols(f"{x}1:5", real=True) for x in "abc")
    losses = [a[n] * w**3 + b[n] * sp.sin(w) + c[n] for n in range(4)]
    concrete_ok = is_zero(sp.diff(sum(losses) / 4, w) - sum(sp.diff(f, w) for f in losses) / 4,
                          [w, *a, *b, *c])
    steps = [r"\frac{d}{dw}\frac1M\sum_{i=1}^M L_i = \frac1M\sum_{i=1}^M \frac{dL_i}{dw}\ \text{(d/dw is linear)}",
             r"M=4,\ L_i = a_iw^3 + b_i\sin w + c_i:\ \text{residual } 0"]
    return decide(all_of(general_ok, concrete_ok), "linearity of the derivative", steps)


# --- unbiasedness ------------------------------------------------------------------------------

# Claimed mean of the minibatch mean as a function of (g_fb, N, B): the catalogue's law, bound by name.
MeanLaw = Callable[[sp.Expr, sp.Expr, sp.Expr], sp.Expr]


def mean_law(claim_id: str) -> MeanLaw:
    """The catalogue's law of ``claim_id`` for E[g_mb] as a function of (g_fb, N, B) (free of N and B if right)."""
    return claimed(claim_id).as_function("g_fb", "N", "B")


def enumeration_mean_check(law: MeanLaw, replacement: bool) -> ZeroTest:
    """E[g_mb] - law(g_fb, N, B) = 0 over all minibatches, for N = 2..4, B = 1..3 (B <= N without replacement),
    with symbolic g_i."""
    residuals = []
    for n, b in SMALL_CASES:
        if n < 2 or (not replacement and b > n):
            continue
        values = symbolic_gradients(n)
        residuals.append(minibatch_moments(values, b, replacement=replacement).mean[0]
                         - law(population_moments(values)[0][0], sp.Integer(n), sp.Integer(b)))
    return all_zero(residuals)


def concrete_mean_counterexample(law: MeanLaw, replacement: bool) -> dict[str, object] | None:
    """The smallest case (N, B, g_i = 0, 1, ..., N-1) where the exact E[g_mb] differs from ``law``."""
    for n in range(2, 6):
        for b in range(1, (4 if replacement else n) + 1):
            values = list(range(n))
            exact = minibatch_moments(values, b, replacement=replacement).mean[0]
            g = population_moments(values)[0][0]
            value = sp.nsimplify(law(g, sp.Integer(n), sp.Integer(b)))
            if exact != value:
                return {"N": n, "B": b, "g_i": ", ".join(map(str, values)), "g_fb": g,
                        "exact E[g_mb] over all minibatches": exact, "claimed": value}
    return None


def check_unbiased(law: MeanLaw, replacement: bool) -> Derivation:
    """Decide E[g_mb] = law(g_fb, N, B): symbolic derivation for general N and B, then exact enumeration."""
    if replacement:
        draws = IidSequence(G, g_fb, sigma1,
                            assumption="I_1..I_B iid uniform on {1..N}, so G_j = g_{I_j} has mean g_fb")
        mean = draws.expectation(sp.Sum(G[j], (j, 1, B)) / B)
        steps = [r"E[g_{I_j}] = \sum_{i=1}^N \tfrac1N g_i = g_{fb}",
                 rf"E\big[\tfrac1B\textstyle\sum_{{j=1}}^B g_{{I_j}}\big] = {sp.latex(mean)}"]
        symbolic = equal(mean, law(g_fb, N, B), domains={N: (2, 30), B: (1, 30)}, sides=SIDES)
        method, listed = "linearity + exact enumeration", r"N^B \text{ index tuples}"
    else:
        inclusion = sp.combsimp(sp.binomial(N - 1, B - 1) / sp.binomial(N, B))
        mean = N * g_fb * inclusion / B  # (1/B) sum_i g_i P(i in mb), with sum_i g_i = N g_fb
        steps = [rf"P(i\in mb) = \binom{{N-1}}{{B-1}}\Big/\binom{{N}}{{B}} = {sp.latex(inclusion)}",
                 rf"E[g_{{mb}}] = \frac1B\sum_{{i=1}}^N g_i\,P(i\in mb) = {sp.latex(sp.simplify(mean))}"]
        symbolic = all_of(equal(inclusion, B / N, domains=BOTH_SIZES),
                          equal(mean, law(g_fb, N, B), domains=BOTH_SIZES, sides=SIDES))
        method, listed = "inclusion probability + exact enumeration", r"\binom NB \text{ subsets}"
    enumerated = enumeration_mean_check(law, replacement)
    steps += [rf"\text{{claimed: }} {sp.latex(law(g_fb, N, B))}",
              rf"\text{{enumeration of all }} {listed},\ 2\le N\le4,\ B\le3:\ \text{{{enumerated.method}}}"]
    verdict = all_of(symbolic, enumerated)
    if verdict.verdict is False:
        example = concrete_mean_counterexample(law, replacement)
        if example is not None:
            return refuted(method, example, steps)
    return decide(verdict, method, steps)


@proof("minibatch.unbiased.with_replacement")
def unbiased_with_replacement() -> Derivation:
    """E[(1/B) sum_j g_{I_j}] = (1/B) sum_j E[g_{I_j}] = g_fb, since E[g_I] = sum_i g_i / N for uniform I."""
    return check_unbiased(mean_law("minibatch.unbiased.with_replacement"), replacement=True)


@proof("minibatch.unbiased.without_replacement")
def unbiased_without_replacement() -> Derivation:
    """Each example is in a uniform B-subset with probability C(N-1, B-1)/C(N, B) = B/N."""
    return check_unbiased(mean_law("minibatch.unbiased.without_replacement"), replacement=False)


# --- covariance of the minibatch mean ----------------------------------------------------------


def pair_covariance_without_replacement() -> tuple[sp.Expr, sp.Expr]:
    """(Cov(G_1^a, G_2^b), Sigma^1_ab) for two distinct draws of a uniform random subset.

    With S_a = sum_i g_i^a, S_b = sum_i g_i^b, P = sum_i g_i^a g_i^b: the ordered pair
    (I_1, I_2) is uniform on the N(N-1) pairs i != j, so E[G_1^a G_2^b] = (S_a S_b - P) / (N (N - 1)).
    """
    s_a, s_b, p = sp.symbols("S_a S_b P", real=True)
    cross = (s_a * s_b - p) / (N * (N - 1)) - (s_a / N) * (s_b / N)
    population = p / N - (s_a / N) * (s_b / N)
    return cross, population


def derived_covariance(replacement: bool) -> sp.Expr:
    """Cov of the minibatch mean in units of Sigma^1, for symbolic N and B."""
    if replacement:
        draws = IidSequence(G, g_fb, sigma1, assumption="I_1..I_B iid uniform, so the G_j are independent")
        return draws.variance_of(sp.Sum(G[j], (j, 1, B)) / B)
    cross, population = pair_covariance_without_replacement()
    ratio = sp.factor(sp.cancel(cross / population))  # -1/(N-1): free of the data, so Cov(G_1, G_2) = ratio Sigma^1
    if ratio.free_symbols - {N}:
        raise NotImplementedError(f"the pair covariance is not a multiple of Sigma^1: ratio {ratio}")
    return ExchangeableFamily.mean_variance(B, sigma1, ratio * sigma1)


def enumeration_covariance_check(law: CovarianceLaw, replacement: bool, cases: list[tuple[int, int]]) -> ZeroTest:
    """Exact covariance matrices over all minibatches (2-d symbolic gradients) minus law(Sigma^1, N, B)."""
    residuals = []
    for n, b in cases:
        values = symbolic_gradients(n, dim=2)
        moments = minibatch_moments(values, b, replacement=replacement)
        _, population = population_moments(values)
        claimed = population.applyfunc(lambda s: law(s, sp.Integer(n), sp.Integer(b)))
        residuals.extend(moments.covariance - claimed)
    return all_zero(residuals)


def concrete_counterexample(law: CovarianceLaw, replacement: bool) -> dict[str, str] | None:
    """The smallest case (N, B, g_i = 0, 1, ..., N-1) where the exact variance differs from ``law``."""
    for n in range(2, 6):
        for b in range(1 if replacement else 2, (4 if replacement else n) + 1):
            values = list(range(n))
            exact = minibatch_moments(values, b, replacement=replacement).variance
            sigma = population_moments(values)[1][0, 0]
            claimed = sp.nsimplify(law(sigma, sp.Integer(n), sp.Integer(b)))
            if exact != claimed:
                return {"N": n, "B": b, "g_i": ", ".join(map(str, values)), "Sigma^1": sigma,
                        "exact Var[g_mb] over all minibatches": exact, "claimed": claimed}
    return None


def check_covariance(law: CovarianceLaw, replacement: bool) -> Derivation:
    """Decide Cov[g_mb] = law(Sigma^1, N, B): symbolic derivation, enumeration, concrete counterexample."""
    derived = derived_covariance(replacement)
    symbolic = equal(derived, law(sigma1, N, B), domains=BOTH_SIZES, sides=SIDES)
    cases = [(n, b) for n, b in SMALL_CASES if replacement or 1 < b <= n]
    enumerated = enumeration_covariance_check(law, replacement, cases)
    steps = [rf"\mathrm{{Cov}}[g_{{mb}}] = {sp.latex(sp.factor(derived))}\quad(\text{{per entry of }}\Sigma^1)",
             rf"\text{{claimed: }} {sp.latex(law(sigma1, N, B))}",
             rf"\text{{exact enumeration, 2-d symbolic }} g_i,\ {len(cases)}\text{{ cases }} N\le4,\ B\le3:\ "
             rf"\text{{{enumerated.method}}}"]
    if not replacement:
        cross, population = pair_covariance_without_replacement()
        pair_ok = equal(cross, -population / (N - 1), domains={N: (2, 30)})
        steps.insert(0, rf"\mathrm{{Cov}}(G_1, G_2) = \frac{{S_aS_b - P}}{{N(N-1)}} - \frac{{S_aS_b}}{{N^2}}"
                        rf" = -\frac{{\Sigma^1}}{{N-1}}\ \text{{({'holds' if pair_ok.verdict else 'fails'})}}")
        symbolic = all_of(pair_ok, symbolic)
    method = "bilinearity (" + ("independent draws" if replacement else "exchangeable draws") + ") + exact enumeration"
    verdict = all_of(symbolic, enumerated)
    if verdict.verdict is False:
        example = concrete_counterexample(law, replacement)
        if example is not None:
            return refuted(method, example, steps)
    return decide(verdict, method, steps)


def covariance_law(claim_id: str, corrected: bool = False) -> CovarianceLaw:
    """The catalogue's covariance law of ``claim_id`` as a function of (Sigma^1, N, B)."""
    return claimed(claim_id, corrected).as_function("Sigma^1", "N", "B")


@proof("minibatch.covariance.with_replacement")
def covariance_with_replacement() -> Derivation:
    """Cov[g_mb] = Sigma^1 / B when the B indices are iid uniform."""
    return check_covariance(covariance_law("minibatch.covariance.with_replacement"), replacement=True)


@proof("minibatch.covariance.without_replacement")
def covariance_without_replacement() -> Derivation:
    """Cov[g_mb] = Sigma^1 / B is refuted without replacement; the corrected law holds."""
    stated = check_covariance(covariance_law("minibatch.covariance.without_replacement"), replacement=False)
    if stated.verdict is not Verdict.REFUTED:
        return stated
    corrected = check_covariance(covariance_law("minibatch.covariance.without_replacement", corrected=True),
                                 replacement=False)
    steps = [*stated.steps,
             r"\text{corrected } \tfrac1B\tfrac{N-B}{N-1}\Sigma^1\text{: " + corrected.verdict.value + "}",
             *corrected.steps[-2:]]  # its claimed form and its enumeration; the derivation is shared
    return refuted(stated.method, stated.counterexample or {}, steps, corrected=corrected.verdict)


# --- T = 1/eta steps with a frozen gradient ----------------------------------------------------

WINDOW = IidSequence(G, g_fb, var_mb,
                     assumption="g_{mb;1..T} independent, each with mean g_fb and variance Var[g_mb]")


def check_frozen_mean(claimed: sp.Expr) -> Derivation:
    """E[eta sum_{t=1}^T g_{mb;t}] = eta T g_fb, = g_fb at eta = 1/T (linearity only)."""
    mean = WINDOW.expectation(eta * sp.Sum(G[j], (j, 1, T))).subs(eta, 1 / T)
    steps = [r"E\big[\eta\textstyle\sum_{t=1}^T g_{mb;t}\big] = \eta T g_{fb}",
             rf"\eta = 1/T:\ {sp.latex(mean)}", rf"\text{{claimed: }} {sp.latex(claimed)}"]
    return decide(equal(mean, claimed, sides=SIDES), "linearity of expectation", steps)


@proof("minibatch.frozen_gradient.mean")
def frozen_gradient_mean() -> Derivation:
    """E[eta sum_{t=1}^T g_{mb;t}] = g_fb at eta = 1/T."""
    return check_frozen_mean(claimed("minibatch.frozen_gradient.mean").bind({"g_fb": g_fb, "eta": 1 / T,
                                                                              "N": N, "B": B}))


def check_frozen_variance(claimed_in_t: sp.Expr, claimed_in_eta: sp.Expr) -> Derivation:
    """Var[eta sum g_{mb;t}] = eta^2 T Var[g_mb] (independence), compared with both forms of the claim."""
    variance = WINDOW.variance_of(eta * sp.Sum(G[j], (j, 1, T))).subs(eta, 1 / T)
    first = equal(variance, claimed_in_t, sides=SIDES)
    second = equal(variance, claimed_in_eta.subs(eta, 1 / T), sides=SIDES)
    steps = [r"\mathrm{Var}\big[\eta\textstyle\sum_{t=1}^T g_{mb;t}\big] = \eta^2\,T\,\mathrm{Var}[g_{mb}]"
             r"\ \text{(independent terms)}",
             rf"\eta = 1/T:\ {sp.latex(variance)}"]
    return decide(all_of(first, second), "variance of a sum of independent terms", steps)


@proof("minibatch.frozen_gradient.variance")
def frozen_gradient_variance() -> Derivation:
    """Var[eta sum_{t=1}^T g_{mb;t}] = Var[g_mb] / T = eta Var[g_mb] at eta = 1/T."""
    law = claimed("minibatch.frozen_gradient.variance")
    return check_frozen_variance(law.bind({"eta": 1 / T, "sigma_mb^2": var_mb}),
                                 law.bind({"eta": eta, "sigma_mb^2": var_mb}))


# --- gradient accumulation ---------------------------------------------------------------------


@proof("minibatch.accumulation")
def accumulation() -> Derivation:
    """(1/K) sum_k (1/B) sum_{i in mb_k} g_i = (1/(KB)) sum over the disjoint union.

    Disjoint minibatches of size B index the union bijectively by (k, j), so the
    union sum is the double sum; the rest is pulling constants out of sums.
    """
    k = sp.Symbol("k", integer=True, positive=True)
    g = sp.IndexedBase("g")
    accumulated = sp.Sum(sp.Sum(g[k, j], (j, 1, B)) / B, (k, 1, K)) / K
    union = sp.Sum(sp.Sum(g[k, j], (j, 1, B)), (k, 1, K)) / (K * B)
    general = is_zero(accumulated - union, domains={K: (1, 4), B: (1, 4)})
    # cross-check on real index sets: every ordered pair of disjoint 2-subsets of 5 examples, symbolic g_i
    values = [v[0] for v in symbolic_gradients(5)]
    residuals = []
    for first, second in itertools.permutations(itertools.combinations(range(5), 2), 2):
        if set(first) & set(second):
            continue
        step_mean = (sum(values[i] for i in first) / 2 + sum(values[i] for i in second) / 2) / 2
        residuals.append(step_mean - sum(values[i] for i in set(first) | set(second)) / 4)
    enumerated = all_zero(residuals)
    steps = [r"\frac1K\sum_{k=1}^K\frac1B\sum_{j=1}^B g_{k,j} = \frac{1}{KB}\sum_{k=1}^K\sum_{j=1}^B g_{k,j}",
             rf"\text{{all {len(residuals)} ordered pairs of disjoint 2-subsets of 5 examples: }}"
             rf"\text{{{enumerated.method}}}"]
    return decide(all_of(general, enumerated), "linearity + enumeration of disjoint minibatches", steps)


if __name__ == "__main__":
    raise SystemExit(script_main())
