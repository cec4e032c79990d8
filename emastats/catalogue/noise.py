"""Claims about gradient noise and the 'temperature' of SGD."""
from __future__ import annotations

import sympy as sp

from ..claim import Claim, Formula
from ._symbols import B, Sigma_g, alpha, eta0, i, lam, mu, n, sigma
from ._sources import ttic

# the Ornstein-Uhlenbeck stationary variance eta0 Sigma^1 / (2 lambda) on L = lambda w^2 / 2 (Sigma^1 = sigma^2):
# what the two temperature claims assert SGD's own stationary variance to be (it depends on eta0 alone)
LANGEVIN_VARIANCE = eta0 * sigma**2 / (2 * lam)

CLAIMS = (
    Claim(
        id="noise.weighted_sum.covariance",
        title="Covariance of a weighted sum of iid gradient vectors",
        statement=r"\Sigma_{\Delta\Phi} = \Big(\sum_i\alpha_i\Big)\Sigma_g,\quad \Delta\Phi = \sum_i\alpha_i\hat g_i",
        assumptions=(r"\hat g_i iid with covariance \Sigma_g", r"\alpha_i fixed numbers"),
        sources=(ttic("Problem 6, the identity to show"),),
        corrected=r"\Sigma_{\Delta\Phi} = \Big(\sum_i\alpha_i^2\Big)\Sigma_g",
        empirical="statistical",
        formula=Formula(r"\Sigma_{\Delta\Phi}", sp.Sum(alpha[i], (i, 1, n)) * Sigma_g),
        corrected_formula=Formula(r"\Sigma_{\Delta\Phi}", sp.Sum(alpha[i] ** 2, (i, 1, n)) * Sigma_g),
    ),
    Claim(
        id="noise.temperature.langevin",
        title="For Langevin dynamics with eta = B eta0 the stationary distribution depends on eta0 alone",
        statement=r"\eta = B\eta_0 \Rightarrow \eta\Sigma^B = \eta_0\Sigma^1,"
        r"\ \mathrm{Var}_\infty[\Phi] = \frac{\eta_0\Sigma^1}{2\lambda}\text{ on } L = \tfrac{\lambda}{2}\Phi^2",
        assumptions=(r"\Sigma^B = \Sigma^1/B", "continuous time (Ornstein-Uhlenbeck), quadratic loss"),
        sources=(ttic("Problem 5, statement and conclusion"),),
    ),
    Claim(
        id="noise.temperature.sgd_discrete",
        title="Discrete-time SGD with eta = B eta0 has a stationary variance independent of B",
        statement=r"\eta = B\eta_0 \Rightarrow \mathrm{Var}_\infty[w] \text{ does not depend on } B",
        assumptions=(r"L = \frac{\lambda}{2}w^2", r"w_{t+1} = w_t - \eta(\lambda w_t + \xi_t),\ \mathrm{Var}[\xi_t] = \sigma^2/B", r"0 < \eta\lambda < 2"),
        sources=(ttic("Problem 5 (the Langevin conclusion read as a statement about SGD itself)"),),
        corrected=r"\mathrm{Var}_\infty[w] = \frac{\eta\sigma^2}{B\lambda(2-\eta\lambda)} = \frac{\eta_0\sigma^2}{\lambda(2-B\eta_0\lambda)}"
        r" = \frac{\eta_0\sigma^2}{2\lambda}\big(1 + O(B\eta_0\lambda)\big)",
        empirical="statistical",
        # the stated law as a value: the continuous-time (Langevin) variance, free of B, read as SGD's own
        formula=Formula(r"\mathrm{Var}_\infty[w]", LANGEVIN_VARIANCE),
        corrected_formula=Formula(r"\mathrm{Var}_\infty[w]", eta0 * sigma**2 / (lam * (2 - B * eta0 * lam))),
    ),
    Claim(
        id="noise.temperature.momentum",
        title="Heavy ball with eta = (1 - mu) B eta0 has a stationary variance independent of mu and B",
        statement=r"\eta = (1-\mu)B\eta_0 \Rightarrow \mathrm{Var}_\infty[w] \text{ depends on } \eta_0 \text{ only}",
        assumptions=(
            r"L = \frac{\lambda}{2}w^2",
            r"v_{t+1} = \mu v_t - \eta(\lambda w_t + \xi_t),\ w_{t+1} = w_t + v_{t+1},\ \mathrm{Var}[\xi_t] = \sigma^2/B",
            "the recursion is stable",
        ),
        sources=(ttic("Problem 6, introduction"),),
        corrected=r"\mathrm{Var}_\infty[w] = \frac{\eta\sigma^2(1+\mu)}{B\lambda(1-\mu)(2(1+\mu)-\eta\lambda)}"
        r" = \frac{\eta_0\sigma^2(1+\mu)}{\lambda(2(1+\mu)-(1-\mu)B\eta_0\lambda)}",
        empirical="statistical",
        formula=Formula(r"\mathrm{Var}_\infty[w]", LANGEVIN_VARIANCE),  # free of mu and B
        corrected_formula=Formula(r"\mathrm{Var}_\infty[w]",
                                  eta0 * sigma**2 * (1 + mu) / (lam * (2 * (1 + mu) - (1 - mu) * B * eta0 * lam))),
    ),
)
