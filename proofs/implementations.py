"""Proofs about what torch.optim and pandas ewm compute, against the notes' formulas.

Each implementation is modelled by the recursion its source code runs (the
``_torch_*`` / ``_pandas_*`` functions below, one step each, with symbolic
state). Agreements are proved by induction on a state invariant (base case and
step are sympy identities); disagreements are found by running both recursions
symbolically for one or two steps and substituting small rational values, so
that the counterexample can be checked by hand. ``experiments/implementations.py``
checks the same statements against the real torch / pandas objects.

Run on its own: ``python proofs/implementations.py``.
"""
from __future__ import annotations

from typing import Mapping

import sympy as sp

from emastats.proving import Derivation, proof, proved, refuted, script_main
from emastats.symbolic import ZeroTest, all_of, decide, is_zero, verdict_of
from emastats.verdict import Verdict

eta, mu, tau, eps = sp.symbols("eta mu tau epsilon", positive=True)
beta, beta1, beta2, alpha = sp.symbols("beta beta1 beta2 alpha", positive=True)
g, g0, g1, x1, x2 = sp.symbols("g g_0 g_1 x_1 x_2", real=True)
b, v, w, u, phi = sp.symbols("b v w u phi", real=True)


def _is_zero(expr: sp.Expr) -> ZeroTest:
    """Whether ``expr`` is identically 0 (``symbolic.is_zero``: exact spot checks, then simplification).

    False only with an evaluated nonzero witness; a simplification that merely fails is None (undecided),
    never a refutation.
    """
    return is_zero(expr)


def _holds(*tests: ZeroTest) -> bool:
    return all(t.verdict is True for t in tests)


def _counterexample(difference: sp.Expr, values: Mapping[sp.Symbol, object], lhs: sp.Expr, rhs: sp.Expr,
                    labels: tuple[str, str]) -> dict[str, object] | None:
    """Values at which ``difference`` is non-zero, with both sides evaluated there; None if it vanishes."""
    at = {k: sp.nsimplify(val) for k, val in values.items()}
    if sp.simplify(difference.subs(at)) == 0:
        return None
    found: dict[str, object] = {str(k): val for k, val in at.items()}
    found[labels[0]] = sp.nsimplify(sp.simplify(lhs.subs(at)))
    found[labels[1]] = sp.nsimplify(sp.simplify(rhs.subs(at)))
    return found


def _refute_or_prove(method: str, lhs: sp.Expr, rhs: sp.Expr, values: Mapping[sp.Symbol, object],
                     labels: tuple[str, str], steps: list[str], corrected: Verdict | None = None) -> Derivation:
    """REFUTED with a hand-checkable counterexample when lhs != rhs at ``values``; PROVED when lhs == rhs."""
    difference = sp.simplify(lhs - rhs)
    if difference == 0:
        return proved(method, steps + [r"\text{both sides agree identically}"], corrected)
    found = _counterexample(difference, values, lhs, rhs, labels)
    if found is None:  # not at the chosen values: exact spot checks elsewhere, else undecided (never refuted)
        test = is_zero(lhs - rhs)
        if test.verdict is True:
            return proved(method, steps + [rf"\text{{both sides agree identically ({test.method})}}"], corrected)
        if test.verdict is None:
            return Derivation(Verdict.INCONCLUSIVE, method, tuple(steps), corrected_verdict=corrected,
                              reason=f"sides differ by {difference} symbolically but every evaluated point agrees")
        return refuted(method, dict(test.witness or {}), steps + [rf"\text{{difference}} = {sp.latex(difference)}"],
                       corrected)
    return refuted(method, found, steps + [rf"\text{{difference}} = {sp.latex(difference)}"], corrected)


# --- the implementations' recursions, as their source code runs them --------------------------------

def _torch_sgd_buffer(buffer: sp.Expr | None, grad: sp.Expr, momentum: sp.Expr, dampening: sp.Expr) -> sp.Expr:
    """torch.optim.SGD: the buffer is cloned from the first gradient, then b <- mu b + (1-dampening) g."""
    if buffer is None:
        return grad
    return momentum * buffer + (1 - dampening) * grad


def _torch_adam_step(m: sp.Expr, s: sp.Expr, step: int | sp.Expr, lr: sp.Expr) -> sp.Expr:
    """torch.optim.Adam (single-tensor path): denom = sqrt(v)/sqrt(1-b2^step) + eps; step lr/(1-b1^step) m/denom."""
    bias1 = 1 - beta1**step
    bias2 = 1 - beta2**step
    return -(lr / bias1) * m / (sp.sqrt(s) / sp.sqrt(bias2) + eps)


# --- torch.optim.SGD -----------------------------------------------------------------------------------

@proof("impl.torch_sgd.traditional_form")
def torch_sgd_traditional_form() -> Derivation:
    """Invariant v_t = -eta b_t: base at t=1 (b_1 = g_0, v_1 = -eta g_0) and step b -> mu b + g."""
    base_v = mu * 0 - eta * g0
    base = _is_zero(base_v - (-eta * _torch_sgd_buffer(None, g0, mu, 0)))
    step = _is_zero((mu * (-eta * b) - eta * g) - (-eta * _torch_sgd_buffer(b, g, mu, 0)))
    # with v = -eta b both update w by the same amount: w + v_{t+1} = w - eta b_{t+1}
    return decide(all_of(base, step), "induction on the invariant v_t = -eta b_t", [
        r"t=1:\ v_1 = -\eta g_0 = -\eta b_1",
        r"v_{t+1} = \mu v_t - \eta g_t = -\eta(\mu b_t + g_t) = -\eta b_{t+1}",
        r"w_{t+1} = w_t + v_{t+1} = w_t - \eta b_{t+1}",
    ])


@proof("impl.torch_sgd.momentum_first_step")
def torch_sgd_momentum_first_step() -> Derivation:
    """First buffer: torch clones g_0; the stated recursion from b_0 = 0 gives (1 - tau) g_0.

    The corrected closed form b_t = mu^(t-1) g_0 + (1-tau) sum_{k=1}^{t-1} mu^(t-1-k) g_k is proved by
    induction: b_1 = g_0 and b_{t+1} = mu b_t + (1-tau) g_t.
    """
    torch_b1 = _torch_sgd_buffer(None, g0, mu, tau)
    stated_b1 = mu * 0 + (1 - tau) * g0
    t, k = sp.symbols("t k", integer=True, positive=True)
    gk = sp.IndexedBase("g")
    closed = mu ** (t - 1) * gk[0] + (1 - tau) * sp.Sum(mu ** (t - 1 - k) * gk[k], (k, 1, t - 1))
    base_ok = _is_zero(closed.subs(t, 1).doit() - gk[0])
    next_closed = mu ** t * gk[0] + (1 - tau) * sp.Sum(mu ** (t - k) * gk[k], (k, 1, t))
    recursion = _torch_sgd_buffer(closed, gk[t], mu, tau)
    step_ok = _is_zero(sp.expand(sp.simplify((next_closed - recursion).doit())))
    if step_ok.verdict is not True:  # sympy may not merge the sums; peel the last term off and compare again
        peeled = mu ** t * gk[0] + (1 - tau) * (sp.Sum(mu ** (t - k) * gk[k], (k, 1, t - 1)) + gk[t])
        step_ok = _is_zero(sp.expand(peeled - sp.expand(recursion)).doit())
    corrected = verdict_of(all_of(base_ok, step_ok))
    return _refute_or_prove("first step of the torch buffer against the stated recursion", stated_b1, torch_b1,
                            {tau: "1/2", mu: "9/10", g0: 1}, ("stated b_1", "torch b_1"),
                            [r"\text{torch: } b_1 = g_0", r"\text{stated: } b_1 = \mu\cdot0 + (1-\tau)g_0"],
                            corrected)


@proof("impl.torch_sgd.average_form")
def torch_sgd_average_form() -> Derivation:
    """Compare the first parameter step; the corrected start <g>_0 = g_0 is proved by the invariant b_t = <g>_t."""
    torch_w1 = -eta * _torch_sgd_buffer(None, g0, beta1, beta1)
    notes_w1 = -eta * (beta1 * 0 + (1 - beta1) * g0)
    warm_base = _is_zero(_torch_sgd_buffer(None, g0, beta1, beta1) - (beta1 * g0 + (1 - beta1) * g0))
    warm_step = _is_zero(_torch_sgd_buffer(b, g, beta1, beta1) - (beta1 * b + (1 - beta1) * g))
    corrected = verdict_of(all_of(warm_base, warm_step))
    return _refute_or_prove("first step of both forms from the same w_0", notes_w1, torch_w1,
                            {beta1: "9/10", eta: 1, g0: 1}, ("notes w_1 - w_0", "torch w_1 - w_0"),
                            [r"\text{torch: } b_1 = g_0 \Rightarrow w_1 - w_0 = -\eta g_0",
                             r"\text{notes: } \langle g\rangle_1 = (1-\beta_1)g_0 \Rightarrow w_1 - w_0 = -\eta(1-\beta_1)g_0",
                             r"\text{from }\langle g\rangle_0 = g_0:\ \langle g\rangle_1 = g_0 = b_1,\ "
                             r"b_{t+1} = \beta_1 b_t + (1-\beta_1)g_t \text{ is the EMA step}"],
                            corrected)


@proof("impl.torch_sgd.lr_schedule")
def torch_sgd_lr_schedule() -> Derivation:
    """Two steps with eta_0 then eta_1: torch scales the whole buffer mu g_0 + g_1 by eta_1, Eq. (18) keeps eta_0 on g_0."""
    eta0, eta1 = sp.symbols("eta_0 eta_1", positive=True)
    b1 = _torch_sgd_buffer(None, g0, mu, 0)
    b2 = _torch_sgd_buffer(b1, g1, mu, 0)
    torch_w2 = -eta0 * b1 - eta1 * b2
    v1 = -eta0 * g0
    v2 = mu * v1 - eta1 * g1
    trad_w2 = v1 + v2
    # corrected: v_t := w_t - w_{t-1} = -eta_{t-1} b_t satisfies v_{t+1} = (eta_t/eta_{t-1}) mu v_t - eta_t g_t
    eta_prev, eta_now = sp.symbols("eta_prev eta_now", positive=True)
    corrected_ok = _is_zero(-eta_now * _torch_sgd_buffer(b, g, mu, 0) - ((eta_now / eta_prev) * mu * (-eta_prev * b) - eta_now * g))
    return _refute_or_prove("two steps with a changed learning rate", trad_w2, torch_w2,
                            {mu: "1/2", eta0: 1, eta1: 2, g0: 1, g1: 1}, ("traditional w_2 - w_0", "torch w_2 - w_0"),
                            [r"\text{torch: } w_2 - w_0 = -\eta_0 g_0 - \eta_1(\mu g_0 + g_1)",
                             r"\text{traditional: } w_2 - w_0 = -\eta_0 g_0 - \mu\eta_0 g_0 - \eta_1 g_1"],
                            verdict_of(corrected_ok))


@proof("impl.torch_sgd.nesterov")
def torch_sgd_nesterov() -> Derivation:
    """Invariant phi_t = w_t + mu u_t and u_t = -eta b_t; both evaluate the gradient at the same point."""
    # step of torch's Nesterov, gradient g taken at phi
    b_next = _torch_sgd_buffer(b, g, mu, 0)
    phi_next = phi - eta * (g + mu * b_next)
    # look-ahead Nesterov from (w, u) with w = phi - mu u, u = -eta b, gradient at w + mu u = phi
    u_now = -eta * b
    w_now = phi - mu * u_now
    u_next = mu * u_now - eta * g
    w_next = w_now + u_next
    step_u = _is_zero(u_next - (-eta * b_next))
    step_phi = _is_zero((w_next + mu * u_next) - phi_next)
    # base: b_1 = g_0 is the same as b from b_0 = 0 with dampening 0, so u_0 = 0 = -eta b_0 and phi_0 = w_0
    base = _is_zero(_torch_sgd_buffer(None, g0, mu, 0) - _torch_sgd_buffer(sp.Integer(0), g0, mu, 0))
    return decide(all_of(base, step_u, step_phi), "induction on phi_t = w_t + mu u_t, u_t = -eta b_t", [
        r"u_{t+1} = \mu u_t - \eta g_t = -\eta(\mu b_t + g_t) = -\eta b_{t+1}",
        r"w_{t+1} + \mu u_{t+1} = \phi_t - \mu u_t + (1+\mu)u_{t+1} = \phi_t - \eta(g_t + \mu b_{t+1})",
    ])


# --- torch.optim.Adam ----------------------------------------------------------------------------------

@proof("impl.torch_adam.bias_corrected_update")
def torch_adam_bias_corrected_update() -> Derivation:
    """torch's rearranged step equals the textbook bias-corrected step, for the step counter s = t + 1."""
    m, s, t = sp.symbols("m s t", positive=True)
    torch_step = _torch_adam_step(m, s, t + 1, eta)
    formula = -eta * (m / (1 - beta1 ** (t + 1))) / (sp.sqrt(s / (1 - beta2 ** (t + 1))) + eps)
    # sqrt(v)/sqrt(c) = sqrt(v/c) for v >= 0, c > 0: compare squares of the denominators' first terms
    ratio = sp.simplify(sp.powsimp(sp.powdenest(torch_step / formula, force=True), force=True))
    steps = [r"\frac{\eta}{1-\beta_1^{t+1}}\frac{m}{\sqrt{v}/\sqrt{1-\beta_2^{t+1}}+\epsilon}"
             r" = \eta\frac{\hat m}{\sqrt{\hat v}+\epsilon}"]
    if ratio == 1:
        return proved("algebra on torch's rearranged update", steps)
    # the ratio did not simplify to 1: that alone refutes nothing; only an evaluated point that differs does
    test = is_zero(torch_step - formula, domains={beta1: (0, 1), beta2: (0, 1)})
    return decide(test, "algebra on torch's update, exact spot checks", steps,
                  undecided_reason=f"the ratio simplifies only to {ratio}, and no evaluated point differs")


@proof("impl.torch_adam.eps_placement")
def torch_adam_eps_placement() -> Derivation:
    """First step from zero state: m_hat = g, v_hat = g^2; compare eps inside and outside the root."""
    m1 = (1 - beta1) * g
    s1 = (1 - beta2) * g**2
    torch_step = _torch_adam_step(m1, s1, 1, eta)
    notes_step = -eta * (m1 / (1 - beta1)) / sp.sqrt(s1 / (1 - beta2) + eps)
    corrected = torch_adam_bias_corrected_update().verdict  # the corrected form is torch's own update
    return _refute_or_prove("first Adam step, both eps placements", notes_step, torch_step,
                            {eta: 1, g: 1, eps: 1, beta1: "9/10", beta2: "999/1000"},
                            ("eps inside the root", "torch"),
                            [r"\hat m_1 = g,\ \hat v_1 = g^2",
                             r"\text{torch: } -\eta g/(|g|+\epsilon),\ \text{notes: } -\eta g/\sqrt{g^2+\epsilon}"],
                            corrected)


# --- torch.optim.RMSprop -------------------------------------------------------------------------------

@proof("impl.torch_rmsprop.square_avg")
def torch_rmsprop_square_avg() -> Derivation:
    """torch: square_avg.mul_(alpha).addcmul_(g, g, value=1-alpha) from zeros; the notes' Eq. (29) with beta2 = alpha."""
    s = sp.symbols("s", nonnegative=True)
    torch_next = s * alpha + (1 - alpha) * g * g
    notes_next = (beta2 * s + (1 - beta2) * g**2).subs(beta2, alpha)
    same = _is_zero(torch_next - notes_next)
    if same.verdict is True:
        return proved("induction: same start (0) and the same step", [
            r"s_0 = \langle g^2\rangle_0 = 0",
            r"s_{t+1} = \alpha s_t + (1-\alpha)g_t^2 = \langle g^2\rangle_{t+1}\ (\beta_2=\alpha)"])
    return decide(same, "one step of both recursions", [])


@proof("impl.torch_rmsprop.eps_placement")
def torch_rmsprop_eps_placement() -> Derivation:
    s1 = (1 - alpha) * g**2
    torch_step = -eta * g / (sp.sqrt(s1) + eps)
    notes_step = -eta * g / sp.sqrt(s1 + eps)
    return _refute_or_prove("first RMSprop step, both eps placements", notes_step, torch_step,
                            {eta: 1, g: 1, eps: 1, alpha: "3/4"}, ("eps inside the root", "torch"),
                            [r"s_1 = (1-\alpha)g_0^2",
                             r"\text{torch: } -\eta g_0/(\sqrt{s_1}+\epsilon),\ \text{notes: } -\eta g_0/\sqrt{s_1+\epsilon}"])


@proof("impl.torch_rmsprop.first_step")
def torch_rmsprop_first_step() -> Derivation:
    """|w_1 - w_0| as eps -> 0 from torch's recursion, against eta."""
    gpos = sp.symbols("g", positive=True)  # |g_0|; the sign cancels in the size of the step
    size = eta * gpos / (sp.sqrt((1 - alpha) * gpos**2) + eps)
    limit = sp.simplify(sp.limit(size, eps, 0))
    expected = eta / sp.sqrt(1 - alpha)
    corrected = verdict_of(_is_zero(limit - expected))
    return _refute_or_prove("limit eps -> 0 of the first torch RMSprop step", eta, limit,
                            {eta: 1, alpha: "99/100"}, ("stated |w_1 - w_0|", "torch |w_1 - w_0|"),
                            [r"s_1 = (1-\alpha)g_0^2",
                             rf"\lim_{{\epsilon\to0}}|w_1-w_0| = {sp.latex(limit)}"], corrected)


# --- pandas ewm ----------------------------------------------------------------------------------------

@proof("impl.pandas_ewm.adjust_true_is_debiased")
def pandas_ewm_adjust_true() -> Derivation:
    """pandas keeps numerator N_t = beta N_{t-1} + x_t and weight sum D_t = beta D_{t-1} + 1.

    Invariant: <x>_t = (1-beta) N_t and 1 - beta^t = (1-beta) D_t, so N_t/D_t = <x>_t/(1-beta^t).
    """
    n_prev, d_prev, e_prev, t = sp.symbols("N D e t", real=True)
    x = sp.symbols("x", real=True)
    base = all_of(_is_zero((1 - beta) * x - (beta * 0 + (1 - beta) * x)), _is_zero((1 - beta) * 1 - (1 - beta**1)))
    # step: assume e = (1-beta) N, 1 - beta^t = (1-beta) D
    e_next = beta * ((1 - beta) * n_prev) + (1 - beta) * x
    step_mean = _is_zero(e_next - (1 - beta) * (beta * n_prev + x))
    d_at_t = (1 - beta**t) / (1 - beta)
    step_weights = _is_zero((1 - beta) * (beta * d_at_t + 1) - (1 - beta ** (t + 1)))
    return decide(all_of(base, step_mean, step_weights), "induction on N_t, D_t (pandas' running sums)", [
        r"\mathrm{ewm}_t = \frac{N_t}{D_t},\ N_t = \beta N_{t-1} + x_t,\ D_t = \beta D_{t-1} + 1",
        r"(1-\beta)N_t = \langle x\rangle_t,\quad (1-\beta)D_t = 1-\beta^t",
    ])


def _recursive_weights(t: int) -> list[sp.Expr]:
    """Weights pandas documents for adjust=False: x_1 gets beta^(t-1), x_i (i > 1) gets (1-beta) beta^(t-i)."""
    return [beta ** (t - 1)] + [(1 - beta) * beta ** (t - i) for i in range(2, t + 1)]


def _recursive_weights_match(horizon: int):
    """The adjust=False weights give the recursion y_t = beta y_{t-1} + (1-beta) x_t from y_1 = x_1, and sum to 1,
    for t = 1 .. horizon - 1 (a check: True, False with an evaluated witness, or None)."""
    xs = sp.symbols(f"x1:{horizon}", real=True)
    recursion = xs[0]
    tests = []
    for t in range(1, horizon):
        if t > 1:
            recursion = beta * recursion + (1 - beta) * xs[t - 1]
        weights = _recursive_weights(t)
        weighted = sum(wi * xi for wi, xi in zip(weights, xs[:t]))
        tests += [_is_zero(weighted - recursion), _is_zero(sum(weights) - 1)]
    return all_of(*tests)


@proof("impl.pandas_ewm.adjust_false_start")
def pandas_ewm_adjust_false_start() -> Derivation:
    """pandas' documented adjust=False weights against the zero-start EMA; the corrected start is y_1 = x_1."""
    pandas_y1 = sum(w * x for w, x in zip(_recursive_weights(1), [x1]))
    notes_y1 = beta * 0 + (1 - beta) * x1
    corrected = verdict_of(_recursive_weights_match(6))
    return _refute_or_prove("first output of both recursions", notes_y1, pandas_y1,
                            {beta: "1/2", x1: 1}, ("notes <x>_1", "pandas y_1"),
                            [r"\text{pandas: } y_1 = x_1", r"\text{notes: } \langle x\rangle_1 = (1-\beta)x_1",
                             r"\text{pandas' weights reproduce } y_t = \beta y_{t-1} + (1-\beta)x_t,\ y_1 = x_1\ (t \le 5)"],
                            corrected)


@proof("impl.pandas_ewm.span_is_not_n")
def pandas_ewm_span_is_not_n() -> Derivation:
    """pandas maps span to alpha = 2/(span + 1) and com to alpha = 1/(1 + com)."""
    n, com = sp.symbols("N com", positive=True)
    pandas_alpha = 2 / (n + 1)
    com_solution = sp.solve(sp.Eq(1 / (1 + com), 1 / n), com)
    corrected = Verdict.PROVED if com_solution == [n - 1] else Verdict.REFUTED
    return _refute_or_prove("alpha from span against 1/N", 1 / n, pandas_alpha, {n: 10},
                            ("running-average 1 - beta", "pandas alpha(span=N)"),
                            [r"\alpha_{span} = \frac{2}{N+1},\ \frac{2}{N+1} - \frac1N = \frac{N-1}{N(N+1)}",
                             r"\frac{1}{1+com} = \frac1N \iff com = N-1"], corrected)


@proof("impl.pandas_ewm.var_bias_true")
def pandas_ewm_var_bias_true() -> Derivation:
    """The adjust=False weights reproduce the recursion (so the variance's weights are the mean's own)."""
    agree = _recursive_weights_match(6)
    # the weighted population variance equals sum w x^2 / W - xbar^2 for any weights (A = sum w x^2, B = sum w x)
    A, B, W = sp.symbols("A B W", positive=True)
    xbar = B / W
    identity = _is_zero((A - 2 * xbar * B + xbar**2 * W) / W - (A / W - xbar**2))
    return decide(all_of(agree, identity),
                  "weights against the recursion for t = 1..5; expansion of the weighted variance", [
        r"y_t = \sum_i w_i x_i,\ \sum_i w_i = 1 \text{ with } w_1 = \beta^{t-1},\ w_i = (1-\beta)\beta^{t-i}",
        r"\frac{\sum w_i (x_i-\bar x)^2}{W} = \frac{\sum w_i x_i^2}{W} - \bar x^2",
    ])


@proof("impl.pandas_ewm.var_bias_false")
def pandas_ewm_var_bias_false() -> Derivation:
    """E[sum w (x - xbar_w)^2] = sigma^2 (W - S2/W) for iid x_i, so the factor W^2/(W^2 - S2) unbiases it."""
    W, S2, m, s2 = sp.symbols("W S_2 m sigma2", positive=True)
    # E[sum w x^2] = W (m^2 + s2);  E[(sum w x)^2] = m^2 W^2 + s2 S2  (independence)
    expected_sum_wx2 = W * (m**2 + s2)
    expected_sq_sum_wx = m**2 * W**2 + s2 * S2
    expected_biased = (expected_sum_wx2 - expected_sq_sum_wx / W) / W
    unbiased = sp.simplify(expected_biased * W**2 / (W**2 - S2))
    return decide(_is_zero(unbiased - s2), "expectation of the weighted variance for iid inputs", [
            r"E\Big[\sum w_i x_i^2 - \frac{(\sum w_i x_i)^2}{W}\Big] = W(m^2+\sigma^2) - \frac{m^2W^2 + \sigma^2 S_2}{W}"
            r" = \sigma^2\frac{W^2 - S_2}{W}",
            r"E[\mathrm{var}_{bias}] = \sigma^2\frac{W^2-S_2}{W^2} \Rightarrow E\Big[\frac{W^2}{W^2-S_2}\mathrm{var}_{bias}\Big] = \sigma^2",
        ])


if __name__ == "__main__":
    raise SystemExit(script_main())
