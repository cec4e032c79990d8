"""Claims about gradient clipping."""
from __future__ import annotations

import sympy as sp

from ..claim import Claim, Formula
from ..symbolic.gaussian import regularized_lower_gamma as _P, std_normal_cdf as _Phi, std_normal_pdf as _phi
from ._sources import emat
from ._symbols import c, d, kappa, mu, sigma



# X ~ N(mu, sigma^2): mu and sigma are the statement's m and s
_a, _b = (-c - mu) / sigma, (c - mu) / sigma
VALUE_CLIPPED_MEAN = mu * (_Phi(_b) - _Phi(_a)) + sigma * (_phi(_a) - _phi(_b)) + c * (1 - _Phi(_b)) - c * _Phi(_a)
# X ~ N(0, sigma^2 I_d)
_U = c**2 / (2 * sigma**2)
NORM_CLIPPED_MEAN = (sigma * sp.sqrt(2) * sp.gamma((d + 1) / 2) / sp.gamma(d / 2) * _P((d + 1) / 2, _U)
                     + c * (1 - _P(d / 2, _U)))

CLAIMS = (
    Claim(
        id="clipping.biased",
        title="Clipping a minibatch gradient biases its expectation",
        statement=r"E[\mathrm{clip}(g_{mb}, -c, c)] \ne g_{fb}\ \text{in general}",
        assumptions=("clip is applied elementwise with min = -max",),
        sources=(emat("§6, Eqs. (44)-(46)"),),
        empirical="statistical",
    ),
    Claim(
        id="clipping.value.gaussian",
        title="Closed form of the mean of a value-clipped Gaussian",
        statement=r"E[\mathrm{clip}(X,-c,c)] = m[\Phi(b)-\Phi(a)] + s[\varphi(a)-\varphi(b)] + c[1-\Phi(b)] - c\,\Phi(a),"
        r"\ a = \frac{-c-m}{s},\ b = \frac{c-m}{s}",
        assumptions=(r"X \sim N(m, s^2)", "c > 0"),
        general="closed form used to measure clipping bias (EMAT31530 §6 states only that a bias exists)",
        empirical="statistical",
        formula=Formula(r"E[\mathrm{clip}(X,-c,c)]", VALUE_CLIPPED_MEAN),
    ),
    Claim(
        id="clipping.norm.gaussian",
        title="Closed form of the mean norm of a norm-clipped isotropic Gaussian",
        statement=r"E[\min(\|X\|, c)] = s\sqrt2\,\frac{\Gamma(\frac{d+1}{2})}{\Gamma(\frac d2)}\,P\big(\tfrac{d+1}{2},\tfrac{c^2}{2s^2}\big)"
        r" + c\Big(1-P\big(\tfrac d2,\tfrac{c^2}{2s^2}\big)\Big)",
        assumptions=(r"X \sim N(0, s^2 I_d)", "P is the regularised lower incomplete gamma function"),
        general="closed form for norm clipping (EMAT31530 §6 names clipping; the notes give no formula)",
        empirical="statistical",
        formula=Formula(r"E[\min(\|X\|, c)]", NORM_CLIPPED_MEAN),
    ),
    Claim(
        id="clipping.per_example.bias_independent_of_b",
        title="Clip-each-example-then-average has the same bias at every batch size",
        statement=r"E\Big[\frac1B\sum_{b=1}^{B}\mathrm{clip}(g_{i_b})\Big] = E[\mathrm{clip}(g_i)]\ \forall B",
        assumptions=("indices iid uniform (with replacement)",),
        general="per-example clipping as in differentially private SGD",
        empirical="statistical",
        # free of B: a wrong law is one that depends on it (the experiment sweeps B)
        formula=Formula(r"E\Big[\frac1B\sum_{b=1}^{B}\mathrm{clip}(g_{i_b})\Big]", kappa),
    ),
)
