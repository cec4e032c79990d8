"""Claims about exponential moving averages (EMAs) and running averages."""
from __future__ import annotations

import sympy as sp

from ..claim import Claim, Formula
from ._symbols import N, S_t, beta, c_x, k, mu, mu_t, sigma_x2, t
from ._sources import emat, ttic

CLAIMS = (
    Claim(
        id="ema.bias.mean",
        title="An EMA started at zero has mean (1 - beta^t) mu after t updates",
        statement=r"E[\langle X\rangle_{t}] = (1-\beta^{t})\mu,\quad \langle X\rangle_0 = 0",
        assumptions=(r"E[X_t] = \mu for all t", r"0 \le \beta < 1"),
        sources=(emat("§7 Exercise 1, Eqs. (52)-(66)"),),
        empirical="statistical",
        formula=Formula(r"E[\langle X\rangle_t]", (1 - beta**t) * mu),
    ),
    Claim(
        id="ema.bias.debias",
        title="Dividing by 1 - beta^t removes the zero-start bias of an EMA",
        statement=r"E\Big[\frac{\langle X\rangle_{t}}{1-\beta^{t}}\Big] = \mu",
        assumptions=(r"E[X_t] = \mu", r"0 \le \beta < 1", "t >= 1"),
        sources=(emat("§7 Exercise 1 Part 2, Eqs. (68)-(71)"),),
        empirical="statistical",
        formula=Formula(r"E\Big[\frac{\langle X\rangle_t}{1-\beta^t}\Big]", mu),
    ),
    Claim(
        id="ema.geometric_sum",
        title="The telescoping identity behind the EMA mean",
        statement=r"(1-\beta)\sum_{\tau=0}^{t}\beta^{\tau} = 1-\beta^{t+1}",
        sources=(emat("§7 Exercise 1, Eqs. (63)-(65)"),),
    ),
    Claim(
        id="ema.unrolled_weights",
        title="An EMA is a weighted sum of past inputs with weights (1-beta) beta^(t-k), summing to 1 - beta^t",
        statement=r"\langle X\rangle_t = (1-\beta)\sum_{k=1}^{t}\beta^{t-k}X_k,\quad \sum_{k=1}^t (1-\beta)\beta^{t-k} = 1-\beta^t",
        assumptions=(r"\langle X\rangle_0 = 0",),
        sources=(emat("§7 Exercise 1, Eq. (61)"),),
        empirical="deterministic",
        # (the weight of X_k in <X>_t, the weights' total)
        formula=Formula(r"\big(w_{t,k},\ \sum_{k=1}^t w_{t,k}\big)",
                        sp.Tuple((1 - beta) * beta ** (t - k), 1 - beta**t)),
    ),
    Claim(
        id="ema.running_average.variance.stationary",
        title="Stationary variance of a running average with beta = 1 - 1/N",
        statement=r"\sigma^2_{\hat\mu,\infty} = \frac{\sigma_x^2}{(2-\frac{1}{N})N}",
        assumptions=("x_t iid with variance sigma_x^2", "N >= 1"),
        sources=(ttic("Problem 1(a), solution"),),
        empirical="statistical",
        formula=Formula(r"\sigma^2_{\hat\mu,\infty}", sigma_x2 / ((2 - 1 / N) * N)),
    ),
    Claim(
        id="ema.running_average.variance.finite_t",
        title="Exact variance of a running average after t steps from a zero start",
        statement=r"\sigma^2_{\hat\mu,t} = \frac{1-(1-\frac1N)^{2t}}{(2-\frac{1}{N})N}\,\sigma_x^2",
        assumptions=("x_t iid with variance sigma_x^2", r"\hat\mu_0 = 0"),
        general="finite-t companion of TTIC Problem 1(a); the notes only state the limit",
        empirical="statistical",
        formula=Formula(r"\sigma^2_{\hat\mu,t}", (1 - (1 - 1 / N) ** (2 * t)) / ((2 - 1 / N) * N) * sigma_x2),
    ),
    Claim(
        id="ema.running_average.versus_plain",
        title="For large N the running average has about half the variance of a plain N-average",
        statement=r"\frac{\sigma^2_{\hat\mu,\infty}}{\sigma_x^2/N} = \frac{1}{2-\frac1N} \to \frac12",
        assumptions=("x_t iid with variance sigma_x^2",),
        sources=(ttic("Problem 1(b), solution"),),
        empirical="statistical",
        formula=Formula(r"\frac{\sigma^2_{\hat\mu,\infty}}{\sigma_x^2/N}", 1 / (2 - 1 / N)),
    ),
    Claim(
        id="ema.unnormalised_sum.limit",
        title="The un-normalised recursion y_t = (1-1/N) y_{t-1} + c converges to N c",
        statement=r"y_\infty = N c",
        assumptions=("x_t = c for all t >= 1", "N > 1 so the limit exists"),
        sources=(ttic("Problem 2(a), solution"),),
        empirical="deterministic",
        formula=Formula(r"y_\infty", N * c_x),
    ),
    Claim(
        id="ema.unnormalised_sum.scaled",
        title="The un-normalised recursion is N times the running average of the same inputs",
        statement=r"y_t = N\mu_t",
        assumptions=("y_0 = mu_0 = 0",),
        sources=(ttic("Problem 2(b)-(c), solution"),),
        empirical="deterministic",
        formula=Formula(r"y_t", N * mu_t),
    ),
    Claim(
        id="ema.warmup.min_t_n",
        title="With step 1/min(t, N) a constant input is tracked exactly from the first step",
        statement=r"y_t = \Big(1-\frac{1}{\min(t,N)}\Big)y_{t-1} + \frac{1}{\min(t,N)}c = c\quad (t\ge1)",
        assumptions=("x_t = c for all t >= 1", "y_0 arbitrary"),
        sources=(ttic("Problem 3, solution"),),
        empirical="deterministic",
        formula=Formula(r"y_t", c_x),  # for every t >= 1, whatever y_0 and N
    ),
    Claim(
        id="ema.warmup.plain_average",
        title="For t <= N the min(t, N) running average is exactly the plain average of the inputs so far",
        statement=r"y_t = \frac{1}{t}\sum_{k=1}^{t}x_k\quad (t\le N)",
        assumptions=("y_0 arbitrary",),
        general="what TTIC Problem 3's warm-up computes for any input, not only a constant",
        empirical="deterministic",
        formula=Formula(r"y_t", S_t / t),  # S_t = x_1 + ... + x_t, for 1 <= t <= N
    ),
)
