"""Canonical forms of the optimiser updates and named formulas the audit recognises, with catalogue claim ids.

An update rule in the notes is recognised by behaviour, not by spelling, so renamed symbols and consistent index
shifts do not matter: ``check_update`` runs it from zero states on a constant gradient and measures how its step
scales with the gradient (``degree``: 1 for SGD and momentum, 0 for RMSProp and Adam) and which moving averages
it reads (first moment, second moment, bias-corrected). The catalogue ids point to the claims that state and
prove the canonical form (``emastats/catalogue``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanonicalForm:
    name: str
    latex: str
    claim_ids: tuple[str, ...]
    degree: int  # how the step scales with the gradient (epsilon = 0)
    first_moment: bool  # reads an EMA of g (or a velocity)
    second_moment: bool  # reads an EMA of g^2
    bias_corrected: bool


FORMS = (
    CanonicalForm("SGD", r"w_{t+1} = w_t - \eta g_t", ("minibatch.unbiased.with_replacement",), 1, False, False,
                  False),
    CanonicalForm("momentum (EMA form)", r"\langle g\rangle_{t+1} = \beta\langle g\rangle_t + (1-\beta)g_t,\ "
                  r"w_{t+1} = w_t - \eta\langle g\rangle_{t+1}", ("momentum.equivalence",), 1, True, False, False),
    CanonicalForm("momentum (heavy ball)", r"v_{t+1} = \mu v_t - \eta g_t,\ w_{t+1} = w_t + v_{t+1}",
                  ("momentum.heavy_ball.unrolled", "momentum.equivalence"), 1, True, False, False),
    CanonicalForm("RMSProp", r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\langle g^2\rangle_{t+1}}+\epsilon} g_t",
                  ("rmsprop.update.sign", "rmsprop.constant_gradient"), 0, False, True, False),
    CanonicalForm("Adam", r"w_{t+1} = w_t - \frac{\eta\,\hat m_{t+1}}{\sqrt{\hat v_{t+1}}+\epsilon},\ "
                  r"\hat m_{t+1} = \frac{\langle g\rangle_{t+1}}{1-\beta_1^{t+1}},\ "
                  r"\hat v_{t+1} = \frac{\langle g^2\rangle_{t+1}}{1-\beta_2^{t+1}}",
                  ("adam.bias_correction", "adam.second_moment.first_step"), 0, True, True, True),
    CanonicalForm("Adam without bias correction", r"w_{t+1} = w_t - \frac{\eta\langle g\rangle_{t+1}}"
                  r"{\sqrt{\langle g^2\rangle_{t+1}}+\epsilon}", ("adam.bias_correction",), 0, True, True, False),
)

EMA = CanonicalForm("EMA", r"\langle x\rangle_{t+1} = \beta\langle x\rangle_t + (1-\beta)x_{t+1}",
                    ("ema.bias.mean", "ema.unrolled_weights"), 1, False, False, False)
BIAS_CORRECTION = CanonicalForm("EMA bias correction", r"\hat x_{t} = \frac{\langle x\rangle_t}{1-\beta^{t}}",
                                ("ema.bias.debias", "adam.bias_correction"), 1, False, False, True)


def recognise(degree: int | None, first_moment: bool, second_moment: bool, bias_corrected: bool,
              velocity: bool) -> CanonicalForm | None:
    """The canonical update whose features match (the sign and scaling are checked separately)."""
    for form in FORMS:
        if form.name.startswith("momentum (heavy") and not velocity:
            continue
        if form.name.startswith("momentum (EMA") and velocity:
            continue
        if degree is not None and form.degree != degree:
            continue
        if (form.first_moment, form.second_moment) == (first_moment or velocity, second_moment) and (
                form.bias_corrected == bias_corrected or not form.second_moment):
            return form
    return None


@dataclass(frozen=True)
class NamedFormula:
    """A function the notes name, with its canonical definition in terms of its argument."""

    name: str
    claim_ids: tuple[str, ...]
    build: object  # (sympy argument) -> sympy expression


def _sigmoid(x):
    import sympy

    return 1 / (1 + sympy.exp(-x))


def _sigmoid_derivative(x):
    import sympy

    return sympy.exp(-x) / (1 + sympy.exp(-x)) ** 2


NAMED = {
    "sigmoid": NamedFormula("the logistic sigmoid", ("sigmoid.derivative_bound",), _sigmoid),
    "sigmoid'": NamedFormula("the derivative of the logistic sigmoid", ("sigmoid.derivative_bound",),
                             _sigmoid_derivative),
}
