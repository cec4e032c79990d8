"""Proofs about gradient noise and the 'temperature' of SGD (TTIC 31230 Problems 5-6).

Run on its own: ``python proofs/noise.py``.

The stationary variances are exact: each recursion is written as
``x_{t+1} = A x_t + G xi_t`` and its discrete Lyapunov equation
``P = A P A^T + G S G^T`` is solved symbolically (``emastats.symbolic.lyapunov``).
The continuous-time (Ornstein-Uhlenbeck) constant of the notes is the limit of
the same computation as the time step goes to 0. The deciding functions take the
formula under test as an argument, so wrong variants are judged by the same code.
"""
from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Mapping

import sympy as sp

from emastats.claim import Formula
from emastats.proving import Derivation, claimed, proof, refuted, script_main
from emastats.symbolic.decide import all_of, as_check, decide, verdict_of
from emastats.symbolic.enumeration import minibatch_moments, population_moments
from emastats.symbolic.lyapunov import LyapunovSolution, stability_conditions, stationary_covariance
from emastats.symbolic.moments import IidSequence
from emastats.symbolic.zero import all_zero, equal, is_zero
from emastats.verdict import Verdict

eta, eta0, lam, sigma = sp.symbols("eta eta0 lambda sigma", positive=True)
B = sp.Symbol("B", integer=True, positive=True)
mu = sp.Symbol("mu", nonnegative=True)
DOMAINS = {mu: (0, 1), lam: (0, 1), eta: (0, 2), eta0: (0, 1)}  # inside the stable region

# a concrete point a reader can check by hand: lambda = sigma = 1, eta0 = 1/4
_NICE = {lam: sp.Integer(1), sigma: sp.Integer(1), eta0: sp.Rational(1, 4)}


# ---------------------------------------------------------------- covariance of a weighted sum

alpha = sp.IndexedBase("alpha")  # the catalogue's weights, same name, so the law binds to them


def weighted_sum_covariance_verdict(law: Formula, corrected: Verdict | None = None) -> Derivation:
    """Decide ``Cov(sum_{i=1}^n alpha_i g_i) = law(alpha, n, Sigma_g)`` for iid ``g_i``.

    A covariance matrix is fixed by its quadratic form, so it is enough that for
    every fixed vector ``u`` the scalars ``X_i = u^T g_i`` (iid, variance
    ``q = u^T Sigma_g u``) satisfy ``Var(sum alpha_i X_i) = law`` at ``Sigma_g = q``;
    the toolkit gives ``Var = q sum alpha_i^2`` for a symbolic number ``n`` of terms.
    ``law`` is the catalogue's :class:`Formula`, bound by name (``alpha``, ``n``, ``Sigma_g``).
    """
    i, N = sp.Symbol("i", integer=True, positive=True), sp.Symbol("N", integer=True, positive=True)
    X, q = sp.IndexedBase("X"), sp.Symbol("q", positive=True)
    family = IidSequence(X, sp.Symbol("m", real=True), q, "u^T g_i iid with variance q = u^T Sigma_g u")
    variance = family.variance_of(sp.Sum(alpha[i] * X[i], (i, 1, N)))
    claimed = law.bind({"n": N, "Sigma_g": q})
    steps = [r"\mathrm{Var}\Big(u^\top\sum_i\alpha_i\hat g_i\Big) = " + sp.latex(variance)
             + r",\quad q = u^\top\Sigma_g u",
             r"\text{claimed: } " + sp.latex(claimed)]
    # compare for n = 1..4 with symbolic alphas, then for symbolic n when the sums match term by term
    for size in range(1, 5):
        alphas = {alpha[k]: sp.Symbol(f"alpha{k}", real=True) for k in range(1, size + 1)}
        exact = (variance.subs(N, size).doit()).xreplace(alphas)
        stated = (claimed.subs(N, size).doit()).xreplace(alphas)
        test = equal(exact, stated)
        if test.verdict is False:
            return refuted("variance of a linear form (iid), polarisation; exact enumeration",
                           _weighted_sum_counterexample(law, size), steps, corrected=corrected)
        if test.verdict is None:
            return decide(test, "variance of a linear form (iid)", steps, corrected=corrected)
    general = sp.simplify(variance - _indexed_from_one(claimed, i))
    if general == 0:
        # the vector check by enumeration: alpha = (1/2, 1/2) is the minibatch mean of B = 2 draws
        data = [(1, 0), (0, 1), (-1, -1)]
        _, sigma_g = population_moments(data)
        mm = minibatch_moments(data, 2, replacement=True)
        matrix_check = all_zero(list(mm.covariance - sigma_g / 2))
        steps.append(r"\text{vectors } (1,0),(0,1),(-1,-1),\ \alpha = (\tfrac12,\tfrac12):\ \Sigma_{\Delta\Phi} = "
                     + sp.latex(mm.covariance) + r" = \tfrac12\Sigma_g")
        return decide(all_of(matrix_check), "variance of a linear form (iid), polarisation; exact enumeration",
                      steps, corrected=corrected)
    return decide(is_zero(general), "variance of a linear form (iid)", steps, corrected=corrected)


def _indexed_from_one(expr: sp.Expr, index: sp.Symbol) -> sp.Expr:
    """Every single sum of ``expr`` re-indexed to run from ``index`` = 1 (so equal sums compare equal)."""
    def from_one(total: sp.Sum) -> sp.Expr:
        var, low, _ = total.limits[0]
        return total.change_index(var, var - (low - 1), index)

    return expr.replace(lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1, from_one)


def _weighted_sum_counterexample(law: Formula, size: int) -> dict:
    """Var(sum alpha_i g_i) by enumeration of g_i = +-1 with probability 1/2 each (Sigma_g = 1), against the law.

    Tried at alpha = (1/2, 1/2), then at unequal weights with ``size`` terms (where the law failed)."""
    candidates = [(sp.Rational(1, 2),) * 2, tuple(sp.Rational(1, 2**k) for k in range(size)),
                  tuple(sp.Rational((-1) ** k * (k + 1), k + 2) for k in range(size))]
    for weights in candidates:
        signs = list(itertools.product((-1, 1), repeat=len(weights)))  # every outcome, equally likely
        sums = [sum(w * x for w, x in zip(weights, outcome)) for outcome in signs]
        mean = sp.Rational(sum(sums), 1) / len(signs)
        enumerated = sum((v - mean) ** 2 for v in sums) / len(signs)
        value = law.bind({"n": len(weights), "Sigma_g": 1}).doit().xreplace(
            {alpha[k + 1]: w for k, w in enumerate(weights)})
        if sp.simplify(value - enumerated) != 0:
            return {"g_i": "+1 or -1 with probability 1/2 each (Sigma_g = 1)", "n": len(weights),
                    "alpha": "(" + ", ".join(str(w) for w in weights) + ")",
                    "Var(DeltaPhi) (enumerated)": enumerated, "claimed": value}
    return {"n": size, "note": "the law differs from (sum alpha_i^2) Sigma_g with symbolic weights at this n"}


@proof("noise.weighted_sum.covariance")
def weighted_sum_covariance() -> Derivation:
    """(sum alpha) Sigma_g is wrong (alpha = (1/2, 1/2) gives 1/2, not 1); the factor is sum alpha^2."""
    fixed = weighted_sum_covariance_verdict(claimed("noise.weighted_sum.covariance", corrected=True))
    return weighted_sum_covariance_verdict(claimed("noise.weighted_sum.covariance"), corrected=fixed.verdict)


# ---------------------------------------------------------------- stationary variances


@lru_cache(maxsize=1)
def sgd_stationary() -> LyapunovSolution:
    """``w_{t+1} = (1 - eta lambda) w_t - eta xi_t``, ``Var xi = sigma^2 / B``: SGD on L = lambda w^2 / 2."""
    return stationary_covariance(1 - eta * lam, -eta, sigma**2 / B, domains=DOMAINS)


@lru_cache(maxsize=1)
def heavy_ball_stationary() -> LyapunovSolution:
    """State (w, v): ``v' = mu v - eta(lambda w + xi)``, ``w' = w + v'``, ``Var xi = sigma^2 / B``."""
    A = sp.Matrix([[1 - eta * lam, mu], [-eta * lam, mu]])
    return stationary_covariance(A, sp.Matrix([-eta, -eta]), sigma**2 / B, domains=DOMAINS)


def stationary_variance_verdict(solution: LyapunovSolution, candidate: sp.Expr, nice: Mapping[sp.Symbol, sp.Expr],
                                corrected: Verdict | None = None) -> Derivation:
    """Decide ``Var_inf[w] = candidate`` against the exact Lyapunov solution.

    Refuted at the concrete, stable point ``nice`` when the two differ there (else at
    the zero test's own witness).
    """
    if solution.satisfied is not True:
        return decide(solution.check, "discrete Lyapunov equation", solution.latex_steps(), corrected=corrected)
    exact = sp.factor(solution.variance(0))
    stability = stability_conditions(solution.A)
    steps = solution.latex_steps() + [r"\mathrm{Var}_\infty[w] = " + sp.latex(exact),
                                      r"\text{stable iff } " + stability.latex()]
    test = equal(exact, candidate, domains=DOMAINS)
    if test.verdict is False:
        at_nice = exact.xreplace(nice), candidate.xreplace(nice)
        if at_nice[0] != at_nice[1] and stability.holds_at(nice):
            return refuted("discrete Lyapunov equation, solved exactly",
                           {**{k.name: val for k, val in nice.items()},
                            "Var_inf[w] (Lyapunov)": at_nice[0], "claimed": at_nice[1]}, steps, corrected=corrected)
    return decide(test, "discrete Lyapunov equation, solved exactly", steps, corrected=corrected)


def stated_law_verdict(variance: sp.Expr, stated: sp.Expr, names: tuple[sp.Symbol, ...],
                       points: tuple[Mapping[sp.Symbol, sp.Expr], ...], solution: LyapunovSolution,
                       corrected: Verdict | None = None, steps: tuple[str, ...] = (),
                       context: Mapping[str, object] | None = None) -> Derivation:
    """Decide ``Var_inf = stated`` (the catalogue's stated law, free of ``names`` as the notes read it).

    The partial derivatives of the exact ``variance`` in ``names`` are shown (the
    notes say they vanish). Refuted at concrete stable parameter ``points`` where
    the exact variance and the stated law differ, with both values at each point.
    """
    partials = {n: sp.factor(sp.diff(variance, n)) for n in names}
    steps = list(steps) + [rf"\partial_{{{sp.latex(n)}}}\mathrm{{Var}}_\infty = " + sp.latex(d)
                           for n, d in partials.items()]
    steps.append(r"\text{claimed: } \mathrm{Var}_\infty[w] = " + sp.latex(stated))
    test = equal(variance, stated, domains=DOMAINS, sides=("Var_inf[w] (Lyapunov)", "claimed"))
    if test.verdict is False:
        stability = stability_conditions(solution.A)
        values = [sp.factor(variance.xreplace(p)) for p in points]
        claims = [sp.factor(stated.xreplace(p)) for p in points]
        stable = all(stability.holds_at({**p, eta: _eta_at(p)}) for p in points)
        if stable and any(v != c for v, c in zip(values, claims)):
            common = {k: x for k, x in points[0].items() if all(p[k] == x for p in points)}
            witness: dict[str, object] = {k.name: x for k, x in common.items()}
            for label, p, val, claim in zip("abc", points, values, claims):
                witness.update({f"{k.name} ({label})": x for k, x in p.items() if k not in common})
                witness[f"Var_inf[w] ({label})"] = val
                witness[f"claimed ({label})"] = claim
            witness.update(context or {})
            return refuted("exact stationary variance against the stated law", witness, steps, corrected=corrected)
    return decide(test, "exact stationary variance against the stated law", steps, corrected=corrected)


def _eta_at(point: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
    """The learning rate the point implies: eta = (1 - mu) B eta0 (mu = 0 for plain SGD)."""
    return (1 - point.get(mu, 0)) * point[B] * point[eta0]


def sde_limit(variance_of_eta0: sp.Expr) -> sp.Expr:
    """``lim_{eta0 -> 0} Var / (eta0 sigma^2 / (2 lambda))``: 1 means the SDE constant is the small-step limit."""
    return sp.cancel(sp.limit(variance_of_eta0 / (eta0 * sigma**2 / (2 * lam)), eta0, 0, "+"))


def _sde_limit_step(limit: sp.Expr) -> str:
    """The report line of :func:`sde_limit`'s value."""
    return (r"\text{SDE limit } \eta_0\to0:\ \mathrm{Var}_\infty \Big/ \tfrac{\eta_0\sigma^2}{2\lambda} \to "
            + sp.latex(limit))


def _sde_context() -> dict[str, object]:
    """The continuous-time constant at the concrete point: the same for every B and mu."""
    return {"SDE limit eta0 sigma^2/(2 lambda) (every point)": (eta0 * sigma**2 / (2 * lam)).xreplace(_NICE)}


@proof("noise.temperature.langevin")
def temperature_langevin() -> Derivation:
    """eta Sigma^B = eta0 Sigma^1 when eta = B eta0; the OU stationary variance is eta0 Sigma^1 / (2 lambda)."""
    sigma1 = sp.Symbol("Sigma1", positive=True)  # the per-example variance Sigma^1 (a quadratic form u^T Sigma^1 u)
    family = IidSequence(sp.IndexedBase("X"), sp.Symbol("g", real=True), sigma1, "per-example gradients iid")
    sigma_b = sp.simplify(family.variance_of(family.sample_mean(B)))
    diffusion = (B * eta0) * sigma_b  # eta Sigma^B with eta = B eta0
    dt = sp.Symbol("Delta_t", positive=True)
    # the notes' Langevin step on L = lambda Phi^2/2: Phi' = Phi - lambda Phi dt + sqrt(dt) eps, Var eps = D
    euler = stationary_covariance(1 - lam * dt, sp.sqrt(dt), diffusion, domains={dt: (0, 1), lam: (0, 1)})
    discrete = sp.factor(euler.variance(0))
    continuous = sp.limit(discrete, dt, 0, "+")
    steps = [r"\Sigma^B = \mathrm{Var}\Big(\tfrac1B\sum_b \hat g_b\Big) = " + sp.latex(sigma_b),
             r"\eta\Sigma^B\big|_{\eta=B\eta_0} = " + sp.latex(sp.simplify(diffusion)),
             *euler.latex_steps(),
             r"\mathrm{Var}_\infty[\Phi](\Delta t) = " + sp.latex(discrete)
             + r"\ \to_{\Delta t\to0}\ " + sp.latex(continuous)]
    check = all_of(
        equal(sigma_b, sigma1 / B),
        equal(diffusion, eta0 * sigma1),
        euler.check,
        equal(continuous, eta0 * sigma1 / (2 * lam)),
        is_zero(sp.diff(continuous, B)),
    )
    return decide(check, "variance of a mean (iid); Lyapunov equation of the Euler step, dt -> 0", steps)


def sgd_variance_at_eta0() -> sp.Expr:
    """The exact SGD stationary variance with eta = B eta0."""
    return sp.factor(sgd_stationary().variance(0).subs(eta, B * eta0))


def heavy_ball_variance_at_eta0() -> sp.Expr:
    """The exact heavy-ball stationary variance with eta = (1 - mu) B eta0."""
    return sp.factor(heavy_ball_stationary().variance(0).subs(eta, (1 - mu) * B * eta0))


@proof("noise.temperature.sgd_discrete")
def temperature_sgd_discrete() -> Derivation:
    """With eta = B eta0 the exact variance eta0 sigma^2 / (lambda (2 - B eta0 lambda)) grows with B: it is not
    the stated, B-free law (the catalogue's formula, the Langevin value eta0 sigma^2 / (2 lambda))."""
    solution = sgd_stationary()
    scaled = sgd_variance_at_eta0()
    in_eta0 = claimed("noise.temperature.sgd_discrete", corrected=True).bind(
        {"eta0": eta0, "sigma": sigma, "lambda": lam, "B": B})
    general = in_eta0.subs(eta0, eta / B)  # the same law in terms of eta = B eta0
    formula = stationary_variance_verdict(solution, general, {**_NICE, B: sp.Integer(1), eta: sp.Rational(1, 4)})
    limit = sde_limit(scaled)
    x = sp.Symbol("x", positive=True)  # x = B eta0 lambda: the relative correction is O(x)
    relative_excess = (scaled / (eta0 * sigma**2 / (2 * lam)) - 1).subs(eta0, x / (B * lam))
    correction = sp.limit(sp.simplify(relative_excess) / x, x, 0)
    fixed = all_of(
        as_check(formula),
        equal(scaled, in_eta0, domains=DOMAINS),
        equal(limit, 1),
        is_zero(correction - sp.Rational(1, 2)),
    )
    fixed_verdict = verdict_of(fixed)
    steps = [r"\eta = B\eta_0:\ \mathrm{Var}_\infty[w] = " + sp.latex(scaled),
             _sde_limit_step(limit)
             + r",\ \text{relative correction } \sim " + sp.latex(correction) + r"\,B\eta_0\lambda",
             r"\lambda=\sigma=1,\ \eta_0=\tfrac14:\ B=1: " + sp.latex(scaled.xreplace({**_NICE, B: 1}))
             + r",\ B=2: " + sp.latex(scaled.xreplace({**_NICE, B: 2})) + r"\ (\text{SDE: } \tfrac18 \text{ for both})"]
    points = ({**_NICE, B: sp.Integer(1)}, {**_NICE, B: sp.Integer(2)})
    stated = claimed("noise.temperature.sgd_discrete").bind({"eta0": eta0, "sigma": sigma, "lambda": lam, "B": B})
    return stated_law_verdict(scaled, stated, (B,), points, solution, corrected=fixed_verdict,
                              steps=tuple(formula.steps) + tuple(steps), context=_sde_context())


@proof("noise.temperature.momentum")
def temperature_momentum() -> Derivation:
    """With eta = (1 - mu) B eta0 the exact heavy-ball variance still depends on mu and B."""
    solution = heavy_ball_stationary()
    scaled = heavy_ball_variance_at_eta0()
    in_eta0 = claimed("noise.temperature.momentum", corrected=True).bind(
        {"eta0": eta0, "sigma": sigma, "lambda": lam, "B": B, "mu": mu})
    general = in_eta0.subs(eta0, eta / ((1 - mu) * B))  # the same law in terms of eta = (1 - mu) B eta0
    nice = {**_NICE, B: sp.Integer(1), mu: sp.Rational(1, 2), eta: sp.Rational(1, 8)}
    formula = stationary_variance_verdict(solution, general, nice)
    limit = sde_limit(scaled)
    fixed = all_of(as_check(formula), equal(scaled, in_eta0, domains=DOMAINS), equal(limit, 1))
    fixed_verdict = verdict_of(fixed)
    points = ({**_NICE, B: sp.Integer(1), mu: sp.Integer(0)}, {**_NICE, B: sp.Integer(1), mu: sp.Rational(1, 2)},
              {**_NICE, B: sp.Integer(2), mu: sp.Integer(0)})
    steps = [r"\eta = (1-\mu)B\eta_0:\ \mathrm{Var}_\infty[w] = " + sp.latex(scaled),
             _sde_limit_step(limit)]
    stated = claimed("noise.temperature.momentum").bind({"eta0": eta0, "sigma": sigma, "lambda": lam, "B": B,
                                                         "mu": mu})
    return stated_law_verdict(scaled, stated, (mu, B), points, solution, corrected=fixed_verdict,
                              steps=tuple(formula.steps) + tuple(steps), context=_sde_context())


if __name__ == "__main__":
    raise SystemExit(script_main())
