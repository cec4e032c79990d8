"""Proofs about exponential moving averages (EMAT31530 §7 Exercise 1; TTIC 31230 Problems 1-3).

Run on its own: ``python proofs/ema.py``.

Each claim is checked by a function that takes the *claimed* formula as an
argument (``check_*``), so the tests can feed deliberately wrong variants
through exactly the same derivation; the ``@proof`` functions pass the notes'
formula. Symbols: ``beta`` in (0, 1) (the claims assume 0 <= beta < 1; every
identity below is rational in beta, so it extends to beta = 0 by continuity),
``N`` the running-average length, ``t`` the step count.
"""
from __future__ import annotations

from typing import Callable

import sympy as sp

from emastats.proving import Derivation, claimed, proof, script_main
from emastats.symbolic import (
    IidSequence,
    Recurrence,
    all_of,
    by_induction,
    closed_sum,
    decide,
    equal,
    invariant_by_induction,
    limit_at_infinity,
    peel_last_term,
    solve_linear,
)

beta = sp.Symbol("beta", positive=True)
mu = sp.Symbol("mu", real=True)
c = sp.Symbol("c", real=True)
sigma2 = sp.Symbol("sigma_x^2", positive=True)
N = sp.Symbol("N", integer=True, positive=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
k = sp.Symbol("k", integer=True, positive=True)
X = sp.IndexedBase("X")
m = sp.Function("m")  # E[<X>_t]
v = sp.Function("v")  # Var[<X>_t]

SIDES = ("derived", "claimed")  # names of the two sides in a counterexample
IN_UNIT = {beta: (0, 1)}
N_RANGE = {N: (2, 40)}  # N > 1 where beta = 1 - 1/N must lie in (0, 1)
BETA_OF_N = 1 - 1 / N

INPUTS = IidSequence(X, mu, sigma2, assumption="X_1, X_2, ... are independent with E[X_k] = mu, Var[X_k] = sigma_x^2")


def ema_mean_recurrence() -> Recurrence:
    """E[<X>_{t+1}] = beta E[<X>_t] + (1 - beta) mu, E[<X>_0] = 0 (linearity of E only)."""
    return Recurrence(m, t, beta * m(t) + (1 - beta) * mu, {0: 0})


def ema_variance_recurrence() -> Recurrence:
    """Var[<X>_{t+1}] = beta^2 Var[<X>_t] + (1 - beta)^2 sigma^2.

    <X>_t depends on X_1..X_t only, so it is independent of X_{t+1} and the variances add.
    """
    return Recurrence(v, t, beta**2 * v(t) + (1 - beta) ** 2 * sigma2, {0: 0})


def unrolled(t_: sp.Expr = t) -> sp.Expr:
    """<X>_t = (1 - beta) sum_{k=1}^t beta^(t-k) X_k."""
    return (1 - beta) * sp.Sum(beta ** (t_ - k) * X[k], (k, 1, t_))


# --- the EMA mean and its bias correction ------------------------------------------------------


def check_ema_mean(claimed: Callable[[sp.Expr], sp.Expr]) -> Derivation:
    """E[<X>_t] = claimed(t), by solving the mean recurrence and, independently, from the unrolled sum."""
    solved = solve_linear(ema_mean_recurrence(), domains=IN_UNIT)
    by_recurrence = equal(solved.closed_form, claimed(t), domains=IN_UNIT, sides=SIDES)
    unrolled_mean = INPUTS.expectation(unrolled())
    by_unrolling = equal(unrolled_mean, claimed(t), domains=IN_UNIT, sides=SIDES)
    steps = [
        rf"{ema_mean_recurrence().latex()},\ m(0) = 0",
        rf"\text{{rsolve: }} m(t) = {sp.latex(solved.closed_form)}\ \text{{(checked back into the recurrence)}}",
        rf"E\big[(1-\beta)\textstyle\sum_{{k=1}}^t\beta^{{t-k}}X_k\big] = "
        rf"{sp.latex(sp.simplify(unrolled_mean))}",
        rf"\text{{claimed: }} {sp.latex(claimed(t))}",
    ]
    return decide(all_of(solved, by_recurrence, by_unrolling), "rsolve + linearity of the unrolled sum", steps)


@proof("ema.bias.mean")
def bias_mean() -> Derivation:
    """E[<X>_t] = (1 - beta^t) mu for iid inputs with mean mu, <X>_0 = 0."""
    law = claimed("ema.bias.mean")
    return check_ema_mean(lambda t_: law.bind({"beta": beta, "mu": mu, "t": t_}))


def check_debias(claimed_mean: Callable[[sp.Expr], sp.Expr]) -> Derivation:
    """E[<X>_t / (1 - beta^t)] = mu for t >= 1: the divisor is a constant, so E passes through it."""
    solved = solve_linear(ema_mean_recurrence(), domains=IN_UNIT)
    debiased = solved.closed_form / (1 - beta**t)
    check = equal(debiased, claimed_mean(t), domains={**IN_UNIT, t: (1, 12)}, sides=SIDES)
    steps = [
        rf"E[\langle X\rangle_t] = {sp.latex(solved.closed_form)}",
        rf"\frac{{E[\langle X\rangle_t]}}{{1-\beta^t}} = {sp.latex(sp.simplify(debiased))}\quad (t\ge1,\ \beta<1)",
    ]
    return decide(all_of(solved, check), "rsolve, then division by the constant 1 - beta^t", steps)


@proof("ema.bias.debias")
def bias_debias() -> Derivation:
    """E[<X>_t / (1 - beta^t)] = mu for every t >= 1."""
    law = claimed("ema.bias.debias")
    return check_debias(lambda t_: law.bind({"beta": beta, "mu": mu, "t": t_}))


@proof("ema.geometric_sum")
def geometric_sum() -> Derivation:
    """(1-beta) sum_{tau=0}^t beta^tau = 1 - beta^(t+1), by induction on t.

    S(0) and the increment S(t+1) - S(t) are computed from the sum itself (its last term
    split off), not written by hand; the closed form is then checked against both.
    """
    tau = sp.Symbol("tau", integer=True, nonnegative=True)
    total = lambda n: (1 - beta) * sp.Sum(beta**tau, (tau, 0, n))  # noqa: E731
    increment = sp.simplify(peel_last_term(total(t + 1), t) - total(t))
    result = by_induction(
        closed_form=lambda n: 1 - beta ** (n + 1),
        step=lambda s, n: s + increment.subs(t, n),
        initial=total(0).doit(),
        n=t,
        domains=IN_UNIT,
    )
    steps = [rf"S(t) = (1-\beta)\sum_{{\tau=0}}^{{t}}\beta^\tau,\ S(0) = {sp.latex(total(0).doit())},\ "
             rf"S(t+1) - S(t) = {sp.latex(increment)}",
             *result.latex_steps()]
    return decide(result, "induction on t", steps)


@proof("ema.unrolled_weights")
def unrolled_weights() -> Derivation:
    """<X>_t equals the weighted sum (induction on t, inputs arbitrary), and the weights sum to 1 - beta^t.

    The weight w_{t,k} and the total are the catalogue's pair, bound by name (beta, t, k)."""
    law = claimed("ema.unrolled_weights")
    weight = lambda t_, k_: law.component(0).bind({"beta": beta, "t": t_, "k": k_})  # noqa: E731
    total = law.component(1).bind({"beta": beta, "t": t})
    same_sum = by_induction(
        closed_form=lambda t_: sp.Sum(weight(t_, k) * X[k], (k, 1, t_)),
        step=lambda s, n: beta * s + (1 - beta) * X[n + 1],  # the EMA update with input X_{t+1}
        initial=sp.Integer(0),
        n=t,
        domains=IN_UNIT,
    )
    weights = closed_sum(weight(t, k), (k, 1, t))
    weights_ok = equal(weights, total, domains=IN_UNIT, sides=SIDES)
    steps = [
        r"\langle X\rangle_{t+1} = \beta\langle X\rangle_t + (1-\beta)X_{t+1},\ \langle X\rangle_0 = 0",
        rf"\text{{claimed: }} w_{{t,k}} = {sp.latex(weight(t, k))},\ \sum_k w_{{t,k}} = {sp.latex(total)}",
        *same_sum.latex_steps(),
        rf"\sum_{{k=1}}^t w_{{t,k}} = {sp.latex(sp.simplify(weights))}",
    ]
    return decide(all_of(same_sum, weights_ok), "induction on t with arbitrary inputs + geometric sum", steps)


# --- running averages with beta = 1 - 1/N (TTIC Problems 1-3) ----------------------------------


def check_stationary_variance(claimed: sp.Expr) -> Derivation:
    """lim_{t->oo} Var = (1-beta)^2 sigma^2 / (1 - beta^2) at beta = 1 - 1/N, against ``claimed``."""
    solved = solve_linear(ema_variance_recurrence(), domains=IN_UNIT)
    V = sp.Symbol("V")
    fixed_point = sp.solve(sp.Eq(V, ema_variance_recurrence().rhs.subs(v(t), V)), V)[0]  # V = beta^2 V + ...
    limit = limit_at_infinity(solved.closed_form, t, contracting=(beta,))  # beta^(2t) -> 0 for 0 < beta < 1
    agree = equal(limit, fixed_point, domains=IN_UNIT)
    stated = equal(fixed_point.subs(beta, BETA_OF_N), claimed, domains=N_RANGE, sides=SIDES)
    steps = [
        rf"{ema_variance_recurrence().latex()}\quad\text{{(}}\langle x\rangle_t\perp x_{{t+1}}\text{{)}}",
        rf"V_t = {sp.latex(solved.closed_form)}",
        rf"V_\infty = \frac{{(1-\beta)^2\sigma_x^2}}{{1-\beta^2}} = {sp.latex(sp.factor(fixed_point))}",
        rf"\beta = 1-\tfrac1N:\ V_\infty = {sp.latex(sp.factor(fixed_point.subs(beta, BETA_OF_N)))}",
    ]
    return decide(all_of(solved, agree, stated), "variance recurrence, rsolve, limit t -> oo", steps)


@proof("ema.running_average.variance.stationary")
def running_average_stationary() -> Derivation:
    """lim_{t->oo} Var[mu_t] = sigma^2 / ((2 - 1/N) N) for beta = 1 - 1/N."""
    return check_stationary_variance(claimed("ema.running_average.variance.stationary").bind(
        {"sigma_x^2": sigma2, "N": N}))


def check_finite_t_variance(claimed: sp.Expr) -> Derivation:
    """Var after t steps from 0 by two routes: rsolve on the recurrence, and the unrolled iid sum."""
    solved = solve_linear(ema_variance_recurrence(), domains=IN_UNIT)  # general beta, then beta = 1 - 1/N
    route_sum = INPUTS.variance_of(unrolled()).subs(beta, BETA_OF_N)
    by_recurrence = equal(solved.closed_form.subs(beta, BETA_OF_N), claimed, domains=N_RANGE, sides=SIDES)
    by_sum = equal(route_sum, claimed, domains=N_RANGE, sides=SIDES)
    steps = [
        rf"{ema_variance_recurrence().latex()},\ V_0 = 0",
        rf"V_t = {sp.latex(solved.closed_form)},\ \beta = 1-\tfrac1N",
        r"\mathrm{Var}\big[\tfrac1N\textstyle\sum_{k=1}^t(1-\tfrac1N)^{t-k}x_k\big] = "
        r"\tfrac{\sigma_x^2}{N^2}\sum_{j=0}^{t-1}(1-\tfrac1N)^{2j}\ \text{(independence)}",
        rf"\text{{claimed: }} {sp.latex(claimed)}",
    ]
    return decide(all_of(solved, by_recurrence, by_sum), "rsolve + variance of the unrolled iid sum", steps)


@proof("ema.running_average.variance.finite_t")
def running_average_finite_t() -> Derivation:
    """Var[mu_t] = (1 - (1 - 1/N)^(2t)) sigma^2 / ((2 - 1/N) N) after t steps from 0."""
    return check_finite_t_variance(claimed("ema.running_average.variance.finite_t").bind(
        {"sigma_x^2": sigma2, "N": N, "t": t}))


def check_versus_plain(claimed_ratio: sp.Expr, claimed_limit: sp.Expr) -> Derivation:
    """V_oo / (sigma^2 / N) against ``claimed_ratio``, and its limit N -> oo against ``claimed_limit``."""
    v_inf = ((1 - beta) ** 2 * sigma2 / (1 - beta**2)).subs(beta, BETA_OF_N)
    ratio = v_inf / (sigma2 / N)
    ratio_ok = equal(ratio, claimed_ratio, domains=N_RANGE, sides=SIDES)
    n_real = sp.Symbol("n", positive=True)
    limit = sp.limit(ratio.subs(N, n_real), n_real, sp.oo)
    limit_ok = equal(limit, claimed_limit, sides=SIDES)
    steps = [
        rf"\frac{{V_\infty}}{{\sigma_x^2/N}} = {sp.latex(sp.factor(ratio))}",
        rf"\lim_{{N\to\infty}} = {sp.latex(limit)}",
    ]
    return decide(all_of(ratio_ok, limit_ok), "closed form of the ratio, sympy limit", steps,
                  context={"limit": limit, "claimed limit": claimed_limit})


@proof("ema.running_average.versus_plain")
def running_average_versus_plain() -> Derivation:
    """V_oo / (sigma^2 / N) = 1 / (2 - 1/N), which tends to 1/2 as N -> oo."""
    ratio = claimed("ema.running_average.versus_plain").bind({"N": N})
    n_real = sp.Symbol("n", positive=True)  # the limit the statement names is the formula's own limit
    return check_versus_plain(ratio, sp.limit(ratio.subs(N, n_real), n_real, sp.oo))


def unnormalised_step(y: sp.Expr, x: sp.Expr) -> sp.Expr:
    """y_t = (1 - 1/N) y_{t-1} + x_t (TTIC Problem 2)."""
    return BETA_OF_N * y + x


def running_step(mu_prev: sp.Expr, x: sp.Expr) -> sp.Expr:
    """mu_t = (1 - 1/N) mu_{t-1} + x_t / N."""
    return BETA_OF_N * mu_prev + x / N


def check_unnormalised_limit(claimed: sp.Expr) -> Derivation:
    """With x_t = c, y_t = beta y_{t-1} + c solved by rsolve tends to c / (1 - beta); beta = 1 - 1/N gives N c.

    Solved for a general beta in (0, 1), then beta = 1 - 1/N, which lies in (0, 1) for N > 1.
    """
    y = sp.Function("y")
    recurrence = Recurrence(y, t, beta * y(t) + c, {0: 0})
    solved = solve_linear(recurrence, domains=IN_UNIT)
    limit = limit_at_infinity(solved.closed_form, t, contracting=(beta,)).subs(beta, BETA_OF_N)
    check = equal(limit, claimed, domains=N_RANGE, sides=SIDES)
    # the recursion of the notes is this one at beta = 1 - 1/N
    y_t = sp.Symbol("y_t", real=True)
    same_step = equal(unnormalised_step(y_t, c), recurrence.rhs.subs({y(t): y_t, beta: BETA_OF_N}), domains=N_RANGE)
    steps = [rf"{recurrence.latex()},\ y_0 = 0", rf"y_t = {sp.latex(sp.factor(solved.closed_form))}",
             rf"\lim_{{t\to\infty}} y_t = \frac{{c}}{{1-\beta}} = {sp.latex(limit)}\quad (\beta = 1-\tfrac1N,\ N>1)"]
    return decide(all_of(solved, same_step, check), "rsolve + limit t -> oo", steps)


@proof("ema.unnormalised_sum.limit")
def unnormalised_limit() -> Derivation:
    """y_t = (1 - 1/N) y_{t-1} + c from y_0 = 0 tends to N c."""
    return check_unnormalised_limit(claimed("ema.unnormalised_sum.limit").bind({"N": N, "c_x": c}))


def check_unnormalised_scaled(claimed: sp.Expr | Callable[[sp.Expr], sp.Expr]) -> Derivation:
    """Invariant y_t = claimed(mu_t) along both recursions fed the same arbitrary inputs (``claimed`` a function
    of mu_t, or a number that multiplies it)."""
    law = claimed if callable(claimed) else (lambda m: claimed * m)
    x_next = sp.Symbol("x_{t+1}", real=True)
    running = sp.Symbol("mu_t", real=True)
    result = invariant_by_induction(
        invariant=lambda s, n: (s[0] - law(s[1]),),
        step=lambda s, n: (unnormalised_step(s[0], x_next), running_step(s[1], x_next)),
        initial=(sp.Integer(0), sp.Integer(0)),
        generic=(law(running), running),
        n=t,
        domains=N_RANGE,
    )
    steps = [r"y_{t+1} = (1-\tfrac1N)y_t + x_{t+1},\ \mu_{t+1} = (1-\tfrac1N)\mu_t + \tfrac1N x_{t+1}",
             *result.latex_steps()]
    return decide(result, "induction on t with arbitrary inputs", steps)


@proof("ema.unnormalised_sum.scaled")
def unnormalised_scaled() -> Derivation:
    """y_t = N mu_t along the same inputs, for every t."""
    law = claimed("ema.unnormalised_sum.scaled")
    return check_unnormalised_scaled(lambda m: law.bind({"N": N, "mu_t": m}))


def warmup_step(y: sp.Expr, x: sp.Expr, n: sp.Expr) -> sp.Expr:
    """y_t = (1 - 1/min(t, N)) y_{t-1} + x_t / min(t, N), for the step that produces y_n."""
    w = 1 / sp.Min(n, N)
    return (1 - w) * y + w * x


@proof("ema.warmup.min_t_n")
def warmup_min_t_n() -> Derivation:
    """y_t = c for t >= 1: the first step has weight 1/min(1, N) = 1 and erases y_0; later steps fix c."""
    y0 = sp.Symbol("y_0", real=True)
    law = claimed("ema.warmup.min_t_n").bind({"c_x": c, "N": N})
    result = by_induction(
        closed_form=lambda n: law.subs(t, n),
        step=lambda s, n: warmup_step(s, c, n + 1),
        initial=warmup_step(y0, c, sp.Integer(1)),  # y_1 from an arbitrary y_0
        n=t,
        start=1,
        domains={**N_RANGE, t: (1, 60)},  # covers t < N and t >= N
    )
    steps = [r"y_1 = (1-\tfrac{1}{\min(1,N)})y_0 + \tfrac{c}{\min(1,N)} = c",
             r"\text{claimed: } y_t = " + sp.latex(law), *result.latex_steps()]
    return decide(result, "induction on t from t = 1", steps)


@proof("ema.warmup.plain_average")
def warmup_plain_average() -> Derivation:
    """For 1 <= t <= N, invariant y_t = S_t / t with S_t = x_1 + ... + x_t, arbitrary inputs.

    The claim is only for t <= N, so the step t -> t + 1 is taken with N = t + 1 + d, d >= 0:
    then min(t + 1, N) = t + 1 follows from the assumptions on d, not from an edit of the step.
    """
    y0 = sp.Symbol("y_0", real=True)
    x_next = sp.Symbol("x_{t+1}", real=True)
    total = sp.Symbol("S_t", real=True)
    d = sp.Symbol("d", integer=True, nonnegative=True)  # N - (t + 1)
    law = claimed("ema.warmup.plain_average")
    average = lambda total_, n: law.bind({"S_t": total_, "t": n})  # noqa: E731
    result = invariant_by_induction(
        invariant=lambda s, n: (s[0] - average(s[1], n),),
        step=lambda s, n: (warmup_step(s[0], x_next, n + 1).subs(N, n + 1 + d), s[1] + x_next),
        initial=(warmup_step(y0, x_next, sp.Integer(1)), x_next),  # y_1 = x_1 for any N >= 1; S_1 = x_1
        generic=(average(total, t), total),
        n=t,
        start=1,
        domains={t: (1, 40)},
    )
    steps = [r"t+1\le N:\ \min(t+1,N) = t+1,\ y_{t+1} = \tfrac{t}{t+1}y_t + \tfrac{1}{t+1}x_{t+1}",
             r"\text{claimed: } y_t = " + sp.latex(average(total, t)), *result.latex_steps()]
    return decide(result, "induction on t for t <= N", steps)


if __name__ == "__main__":
    raise SystemExit(script_main())
