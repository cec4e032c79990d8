"""The finding codes of ``emastats audit``, with their severity and documentation (``--explain CODE``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError


@dataclass(frozen=True)
class Code:
    code: str
    severity: str  # "error", "warning" or "note"
    title: str
    explanation: str


_CODES = (
    Code("AUD001", "error", "derivation step does not follow",
         "Two consecutive sides of a chain (a = b = c), consecutive lines about the same quantity, or a stated "
         "identity differ at a point. The evidence is the point (seeded random rationals; integers for indices "
         "and summation limits) and the two values; definitions, recurrences and assumptions the document "
         "stated earlier (including inline ones such as 'Setting $\\epsilon = 0$') are used. sympy's simplify "
         "is tried as confirmation when the sides have no undefined functions."),
    Code("AUD002", "error", "update rule climbs the loss (sign)",
         "A parameter update, run for three steps from zero states with a constant positive gradient, moves "
         "the parameter up: a descent step must subtract the (preconditioned) gradient. The suggestion flips "
         "the sign of the step."),
    Code("AUD003", "error", "division by zero at the first step",
         "Evaluated at the first step (index 1, states initialised at zero as stated or by default) the "
         "formula divides by zero, e.g. a bias correction 1 - beta^t with t = 0."),
    Code("AUD004", "error", "bias correction does not remove the bias",
         "With a constant input c and a zero start, an EMA after n steps is (1 - beta^n) c; a bias-corrected "
         "estimate must equal c at every step. The evidence gives the step and the value; usually the exponent "
         "is off by one (beta^t where the EMA has taken t+1 steps)."),
    Code("AUD005", "error", "averages swapped",
         "A first-moment estimate (m, <g>) is built from a second-moment average (<g^2>) or the reverse: "
         "measured by how the estimate scales with the gradient (as g or as g^2)."),
    Code("AUD006", "error", "update scales wrongly with the gradient (missing square root or square)",
         "With epsilon = 0, SGD and momentum steps scale as the gradient (g^1) and RMSProp/Adam steps are "
         "scale-free (g^0). A step scaling as g^d with another d (0.5, 2, -1) has lost a square root or a "
         "square."),
    Code("AUD007", "error", "moving average of the wrong quantity or with weights not summing to one",
         "An EMA <x>_{t+1} = b <x>_t + (1 - b) x_t must keep a constant input as its fixed point. The fixed "
         "point found differs from the quantity named in the brackets (e.g. <g^2> accumulating g)."),
    Code("AUD008", "error", "numeric example is wrong",
         "A statement with numbers only (after substituting values the document stated) does not hold. "
         "A decimal written with d places is allowed a rounding error of half a unit in the last place."),
    Code("AUD009", "error", "equation-solving step changes the solution",
         "Consecutive lines of a block that solves an equation for a quantity give different solutions for "
         "it (each line is solved for the quantity and the solutions compared at random points)."),
    Code("AUD010", "error", "variance of a weighted sum without squared weights",
         "For independent terms, Var(sum_i a_i X_i) = sum_i a_i^2 Var(X_i). A statement giving the variance "
         "(sigma_s^2, Sigma_s or Var[s]) of a quantity the notes defined as a weighted sum is compared with "
         "that formula at random points; the evidence is the point, the suggestion the squared-weight form."),
    Code("AUD011", "error", "named formula differs from its canonical form",
         "A named function the catalogue knows (the logistic sigmoid and its derivative) is defined or "
         "rewritten in a way that differs from its canonical form at a point; the evidence is the point."),
    Code("AUD012", "error", "moment does not follow from the stated moments",
         "E[X] or Var[X] of a quantity the notes defined as a linear form of random quantities whose moments "
         "the same section stated (Var[g_b] = sigma^2) differs from the value of the rules E[c_0 + sum c_i Y_i] "
         "= c_0 + sum c_i E[Y_i] and, for independent Y_i (stated in the prose), Var[sum c_i Y_i] = "
         "sum c_i^2 Var[Y_i]. The evidence is a point where the two differ; the message names the factor "
         "between them when it is one term (a missing square, a missing 1/B)."),
    Code("AUD013", "error", "derivative of a defined function is wrong",
         "The notes define a function (f(x) = ..., a loss L(w) = ...) and later state its derivative (f'(x), "
         "df/dx, \\partial_x f, \\nabla f(x)). The stated derivative is compared with sympy's derivative of that "
         "definition at random points; the message names the line of the definition and the evidence gives "
         "the point."),
    Code("AUD014", "error", "stated limit differs from the stationary value",
         "A limit t -> infinity of a quantity the notes define by a first-order linear recurrence x_{t+1} = a x_t + r "
         "(or of its E or Var) differs from the stationary value r/(1-a), E[r]/(1-a) or Var[r]/(1-a^2), with "
         "inputs held constant and moments as stated in the same section (Var needs independence stated). The "
         "message names the line of the recurrence; the evidence is a point where the two differ."),
    Code("AUD015", "error", "running average never reads its previous value",
         "A pseudo-code update s = p * A + (1 - p) * B of a variable initialised before the loop is an exponential "
         "average of B only if A is the previous s; when the right side reads no state (or A and B are the same "
         "quantity) every step forgets the past. The message names the term p multiplies."),
    Code("AUD016", "error", "update grows the parameters without a gradient (decay sign)",
         "A parameter update w_{t+1} = F(w_t, gradient) that reads no earlier iterate must not move the parameters "
         "away from zero when every gradient is zero: with zero gradient and zero states it must multiply w by a "
         "factor of at most 1 (a weight-decay term shrinks w). A factor above 1 at every sampled value of the "
         "positive parameters (rates, decays) means the decay term enters with the wrong sign. The evidence is the "
         "factor at a point."),
    Code("AUD017", "error", "standardised values do not have batch mean zero",
         "A definition z_i = (x_i - mu)/s in which, by the notes' own definitions, mu is the batch mean of x and s a "
         "spread of x around mu (a variance or standard deviation) standardises x, so the batch average of z_i is "
         "zero for every batch. The evidence is a seeded batch where it is not (a mean added instead of "
         "subtracted)."),
    Code("AUD018", "error", "constant differs from the value the text states",
         "An update rule written with decimal constants right after prose that lists its hyper-parameters: when "
         "another constant of the rule matches a value of that prose exactly (so the prose lists the rule's "
         "constants) and one constant matches none, but ten times or a tenth of it is a listed value, a digit was "
         "dropped or added. The message names both numbers."),
    Code("AUD019", "error", "inequality fails",
         "A chain of order relations (<, \\le, >, \\ge) is evaluated at seeded random points of its names' "
         "domains: indices and counts are positive integers, decay rates (beta, rho) lie in (0, 1), learning "
         "rates, epsilon and standard deviations are positive, narrowed by the conditions the scope or the same "
         "formula states (0 < \\beta < 1, t \\ge 1). It is reported only at a point that satisfies every stated "
         "condition, when no condition in the prose next to the formula went unread; the evidence gives the "
         "point and both sides' values. A name with no known domain leaves the inequality unchecked."),
    Code("AUD101", "note", "epsilon convention",
         "epsilon is added inside the square root; PyTorch's Adam/RMSProp and optax add it outside "
         "(sqrt(v) + epsilon). Both are used; they differ when v is comparable to epsilon^2."),
    Code("AUD102", "note", "index shift",
         "The statement holds once the gradient's time index is ignored: it uses g at a different step than "
         "the recurrence it comes from."),
    Code("AUD103", "note", "recognised canonical form",
         "An update rule was recognised as a canonical optimiser from the claim catalogue (the claim id is "
         "given)."),
    Code("AUD201", "warning", "formula rejected by the pre-check",
         "Unbalanced brackets, or a formula too long or a power tower too large to analyse safely. The formula "
         "is left unchecked."),
    Code("AUD203", "warning", "rest of the document not checked",
         "The document has more formulas than the audit checks (3000) or its time budget (300 s) ran out; the "
         "formulas from the given line on are left unchecked."),
    Code("AUD202", "warning", "symbolic work timed out or ran out of memory",
         "The worker process running this formula's checks was killed at its time or memory bound; the "
         "formula is left unchecked."),
    Code("AUD204", "warning", "context lost after a timeout",
         "After a formula's worker was killed, the definitions stated before it could not be rebuilt within "
         "the remaining budget. The context is reset: formulas after this line are checked without the earlier "
         "definitions (the message says how many formulas' definitions were lost)."),
    Code("AUD205", "warning", "no formulas found",
         "The document holds text but no maths between the delimiters the audit reads ($…$, $$…$$, \\[…\\], "
         "\\begin{equation}…, ```math fences), so nothing was checked. A PDF whose formulas are images, or "
         "notes that write maths without delimiters, give this."),
)

CODES: dict[str, Code] = {c.code: c for c in _CODES}


def explain(code: str) -> str:
    """The documentation of a code, for ``--explain``; UsageError for an unknown code."""
    entry = CODES.get(code.strip().upper())
    if entry is None:
        raise UsageError(f"unknown finding code {code!r} (known: {', '.join(CODES)})")
    return f"{entry.code} ({entry.severity}): {entry.title}\n\n{entry.explanation}"
