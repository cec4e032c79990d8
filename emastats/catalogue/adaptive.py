"""Claims about RMSProp and Adam."""
from __future__ import annotations

import sympy as sp

from ..claim import Claim, Formula
from ._symbols import B, avg_g, avg_g2, beta1, beta2, eta, g, sigma, t
from ._sources import emat, ttic

_ESTIMATES = r"(\hat m_{t+1}, \hat v_{t+1})\ \text{with } m = \langle g\rangle_{t+1},\ v = \langle g^2\rangle_{t+1}"

CLAIMS = (
    Claim(
        id="rmsprop.update.sign",
        title="The RMSProp update as written (plus sign) is a descent step",
        statement=r"w_{t+1} = w_t + \frac{\eta}{\sqrt{\langle g^2\rangle_{t+1}+\epsilon}}\,g_{mb;t}",
        assumptions=("a descent step lowers the loss for small eta", "g != 0"),
        sources=(emat("§4, the RMSProp update (printed as Eq. (39)); also Eqs. (31)-(33) and Adam Eq. (37)"),),
        corrected=r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\langle g^2\rangle_{t+1}+\epsilon}}\,g_{mb;t}",
        empirical="deterministic",
    ),
    Claim(
        id="rmsprop.sqrt_epsilon",
        title="Moving epsilon out of the square root",
        statement=r"\sqrt{g^2+\epsilon} = |g| + \epsilon",
        assumptions=(r"\epsilon > 0",),
        sources=(emat("§4, Eqs. (31)-(32)"),),
        corrected=r"|g| \le \sqrt{g^2+\epsilon} \le |g| + \sqrt{\epsilon},\ \text{equal to } |g| \text{ only in the limit } \epsilon\to0",
    ),
    Claim(
        id="rmsprop.constant_gradient",
        title="Under a constant gradient RMSProp's step tends to eta sign(g), whatever the gradient's size",
        statement=r"g_t \equiv g \Rightarrow \langle g^2\rangle_t = (1-\beta_2^{t})g^2 \to g^2,\ "
        r"\frac{\eta\,g}{\sqrt{\langle g^2\rangle_t}} \to \eta\,\mathrm{sign}(g)",
        assumptions=(r"\langle g^2\rangle_0 = 0", r"\epsilon = 0", "g != 0"),
        sources=(emat("§4, Eqs. (31)-(34)"),),
        empirical="deterministic",
        # (<g^2>_t, eta g / sqrt(<g^2>_t)) under g_t = g from <g^2>_0 = 0: the step's size is free of |g|
        formula=Formula(r"\big(\langle g^2\rangle_t,\ \eta g/\sqrt{\langle g^2\rangle_t}\big)",
                        sp.Tuple((1 - beta2**t) * g**2, eta * sp.sign(g) / sp.sqrt(1 - beta2**t))),
    ),
    Claim(
        id="adam.second_moment.first_step",
        title="Adam's first second-moment estimate is (1 - beta2) g^2, a thousandth of g^2 at beta2 = 0.999",
        statement=r"\langle g^2\rangle_1 = (1-\beta_2)\,g_1^2 = \frac{1}{1000}g_1^2\quad(\beta_2 = 0.999)",
        assumptions=(r"\langle g^2\rangle_0 = 0",),
        sources=(emat("§5, Eq. (38)"),),
        empirical="deterministic",
        formula=Formula(r"\langle g^2\rangle_1", (1 - beta2) * g**2),  # = g^2/1000 at beta2 = 0.999
    ),
    Claim(
        id="adam.bias_correction",
        title="Adam's bias correction as printed in the notes",
        statement=r"\hat m_{t+1} = \frac{\langle g^2\rangle_{t+1}}{1-\beta_1^{t}},\ "
        r"\hat v_{t+1} = \frac{\langle g\rangle_{t+1}}{1-\beta_2^{t}},\ "
        r"w_{t+1} = w_t + \frac{\eta}{\sqrt{\hat v_{t+1}+\epsilon}}\hat m_{t+1}",
        assumptions=(r"\langle g\rangle_0 = \langle g^2\rangle_0 = 0", "t counts updates from 0"),
        sources=(emat("§5, Eqs. (39)-(43)"),),
        corrected=r"\hat m_{t+1} = \frac{\langle g\rangle_{t+1}}{1-\beta_1^{t+1}},\ "
        r"\hat v_{t+1} = \frac{\langle g^2\rangle_{t+1}}{1-\beta_2^{t+1}},\ "
        r"w_{t+1} = w_t - \frac{\eta\,\hat m_{t+1}}{\sqrt{\hat v_{t+1}}+\epsilon}",
        empirical="statistical",
        # the two bias-corrected estimates, as functions of m = <g>_{t+1}, v = <g^2>_{t+1} and t; the update's sign is
        # the proof's (deterministic) part
        formula=Formula(_ESTIMATES, sp.Tuple(avg_g2 / (1 - beta1**t), avg_g / (1 - beta2**t))),
        corrected_formula=Formula(_ESTIMATES, sp.Tuple(avg_g / (1 - beta1 ** (t + 1)), avg_g2 / (1 - beta2 ** (t + 1)))),
    ),
    Claim(
        id="adam.batch_size_coupling",
        title="The second moment Adam tracks shrinks with batch size towards the squared mean gradient",
        statement=r"E[\hat g_B^2] = g^2 + \frac{\sigma^2}{B}",
        assumptions=("the B per-example gradients are iid with mean g and variance sigma^2",),
        sources=(ttic("Problem 4(d), solution"),),
        empirical="statistical",
        formula=Formula(r"E[\hat g_B^2]", g**2 + sigma**2 / B),
    ),
)
