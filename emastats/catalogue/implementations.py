"""Claims about what frameworks really compute: torch.optim and pandas ewm against the notes' formulas.

Each claim says "implementation X computes formula Y". Where the implementation
differs from the formula as the notes (or common usage) write it, the claim is
expected to be REFUTED and ``corrected`` says what the implementation does
instead. Whether it differs is decided by ``proofs/implementations.py`` (sympy,
on the implementation's documented recursion) and by
``experiments/implementations.py`` (the real torch / pandas objects on
identical gradient streams), never by this file.
"""
from __future__ import annotations

from ..claim import Claim
from ._sources import emat, ttic

_TORCH_SGD = "torch.optim.SGD: b_1 = g_0, b_{t+1} = mu b_t + (1 - dampening) g_t (t >= 1), w_{t+1} = w_t - lr b_{t+1}"
_TORCH_RMSPROP = "torch.optim.RMSprop: s_{t+1} = alpha s_t + (1 - alpha) g_t^2 from s_0 = 0, w_{t+1} = w_t - lr g_t/(sqrt(s_{t+1}) + eps)"
_TORCH_ADAM = ("torch.optim.Adam: m, v EMAs from zero, w_{t+1} = w_t - lr m_hat/(sqrt(v_hat) + eps), "
               "m_hat = m_{t+1}/(1 - beta1^(t+1)), v_hat = v_{t+1}/(1 - beta2^(t+1))")

CLAIMS = (
    # --- torch.optim.SGD -------------------------------------------------------------------------
    Claim(
        id="impl.torch_sgd.traditional_form",
        title="torch.optim.SGD(momentum=mu, dampening=0) is the notes' traditional momentum with v_0 = 0",
        statement=r"w^{torch}_t = w^{trad}_t\ \forall t,\quad v_{t+1} = \mu v_t - \eta g_t,\ w_{t+1} = w_t + v_{t+1},\ v_0 = 0",
        assumptions=(_TORCH_SGD, "constant learning rate eta = lr", "the same gradient stream g_t"),
        sources=(emat("§3, Eq. (18) and the sentence after it naming PyTorch"),),
        general="compares torch.optim.SGD's momentum buffer b with the velocity v = -eta b",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_sgd.momentum_first_step",
        title="torch.optim.SGD's momentum buffer follows b_{t+1} = mu b_t + (1 - dampening) g_t from b_0 = 0",
        statement=r"b_{t+1} = \mu b_t + (1-\tau) g_t,\ b_0 = 0\quad(\tau = \text{dampening})",
        assumptions=(_TORCH_SGD, r"0 < \tau < 1"),
        corrected=r"b_1 = g_0\ \text{(no dampening on the first step)},\quad b_{t+1} = \mu b_t + (1-\tau) g_t\ (t\ge1)",
        general="how torch initialises the momentum buffer: to the first gradient, undamped",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_sgd.average_form",
        title="torch.optim.SGD(momentum=beta1, dampening=beta1, lr=eta_avg) is the notes' average-form momentum",
        statement=r"w^{torch}_t = w^{avg}_t,\quad \langle g\rangle_{t+1} = \beta_1\langle g\rangle_t + (1-\beta_1)g_t,"
        r"\ w_{t+1} = w_t - \eta_{avg}\langle g\rangle_{t+1},\ \langle g\rangle_0 = 0",
        assumptions=(_TORCH_SGD, r"momentum = dampening = \beta_1, so 1 - dampening = 1 - \beta_1", r"0 < \beta_1 < 1"),
        sources=(emat("§3, Eqs. (19)-(20)"),),
        corrected=r"w^{torch}_t = w^{avg}_t \text{ when the average starts at } \langle g\rangle_0 = g_0"
        r"\ \text{(torch's buffer starts at the first gradient, not at zero)}",
        general="the natural way to get the notes' EMA momentum out of torch.optim.SGD",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_sgd.lr_schedule",
        title="With a learning-rate schedule eta_t, torch.optim.SGD is still traditional momentum with eta_trad = eta_t",
        statement=r"v_{t+1} = \mu v_t - \eta_t g_t,\ w_{t+1} = w_t + v_{t+1}\ \text{ gives } w^{torch}_t",
        assumptions=(_TORCH_SGD, "lr changed to eta_t before step t", "dampening = 0, v_0 = 0"),
        sources=(emat("§3, Eq. (18) read with a time-varying eta_trad"),),
        corrected=r"w_{t+1} = w_t - \eta_t b_{t+1},\ b_{t+1} = \mu b_t + g_t:"
        r"\ \text{torch rescales the whole buffer by the current } \eta_t\text{, i.e. } v_{t+1} = \frac{\eta_{t}}{\eta_{t-1}}\mu v_t - \eta_t g_t",
        general="what a scheduler does to the momentum buffer in torch.optim.SGD",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_sgd.nesterov",
        title="torch.optim.SGD(nesterov=True) is look-ahead Nesterov momentum in the shifted variable w + mu u",
        statement=r"\phi^{torch}_t = w_t + \mu u_t,\quad u_{t+1} = \mu u_t - \eta\nabla L(w_t+\mu u_t),\ w_{t+1} = w_t + u_{t+1},\ u_0 = 0",
        assumptions=(_TORCH_SGD, r"nesterov: \phi_{t+1} = \phi_t - \eta(g_t + \mu b_{t+1}), g_t = \nabla L(\phi_t)", "dampening = 0"),
        general="checks the catalogue's momentum.nesterov.lookahead against torch's own Nesterov",
        empirical="deterministic",
    ),
    # --- torch.optim.Adam ------------------------------------------------------------------------
    Claim(
        id="impl.torch_adam.bias_corrected_update",
        title="torch.optim.Adam computes the bias-corrected Adam update with exponents t+1 and eps outside the root",
        statement=r"w_{t+1} = w_t - \eta\frac{\langle g\rangle_{t+1}/(1-\beta_1^{t+1})}{\sqrt{\langle g^2\rangle_{t+1}/(1-\beta_2^{t+1})}+\epsilon}",
        assumptions=(_TORCH_ADAM, r"\langle g\rangle_0 = \langle g^2\rangle_0 = 0", "t counts updates from 0"),
        general="the corrected form of the catalogue's adam.bias_correction, checked against torch",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_adam.eps_placement",
        title="torch.optim.Adam puts eps inside the square root, as the notes write it",
        statement=r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\hat v_{t+1}+\epsilon}}\hat m_{t+1}",
        assumptions=(_TORCH_ADAM, r"\epsilon > 0"),
        sources=(emat("§5, Eqs. (37) and (43) (sign and m/v naming corrected; only eps placement tested)"),),
        corrected=r"w_{t+1} = w_t - \frac{\eta\,\hat m_{t+1}}{\sqrt{\hat v_{t+1}}+\epsilon}",
        empirical="deterministic",
    ),
    # --- torch.optim.RMSprop ---------------------------------------------------------------------
    Claim(
        id="impl.torch_rmsprop.square_avg",
        title="torch.optim.RMSprop's square_avg is the notes' EMA of squared gradients with beta2 = alpha, from zero",
        statement=r"s^{torch}_{t} = \langle g^2\rangle_{t},\quad \langle g^2\rangle_{t+1} = \beta_2\langle g^2\rangle_t + (1-\beta_2)g_t^2,\ \langle g^2\rangle_0 = 0,\ \beta_2 = \alpha",
        assumptions=(_TORCH_RMSPROP, "centered=False, momentum=0"),
        sources=(emat("§4, Eq. (29)"),),
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_rmsprop.eps_placement",
        title="torch.optim.RMSprop puts eps inside the square root, as the notes write it",
        statement=r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\langle g^2\rangle_{t+1}+\epsilon}}g_t",
        assumptions=(_TORCH_RMSPROP, r"\epsilon > 0"),
        sources=(emat("§4, the RMSProp update printed as Eq. (39) (sign corrected; only eps placement tested)"),),
        corrected=r"w_{t+1} = w_t - \frac{\eta\,g_t}{\sqrt{\langle g^2\rangle_{t+1}}+\epsilon}",
        empirical="deterministic",
    ),
    Claim(
        id="impl.torch_rmsprop.first_step",
        title="torch.optim.RMSprop's steps have size about eta from the first step on",
        statement=r"|w_1 - w_0| = \eta\ \text{(as } \epsilon\to0\text{)}",
        assumptions=(_TORCH_RMSPROP, "g_0 != 0", "no bias correction in torch's RMSprop"),
        sources=(emat("§4, Eqs. (33)-(34): the step size is about eta whatever the gradient"),),
        corrected=r"|w_1 - w_0| = \frac{\eta|g_0|}{\sqrt{1-\alpha}\,|g_0|+\epsilon} \to \frac{\eta}{\sqrt{1-\alpha}}"
        r"\ (= 10\eta \text{ at the default } \alpha = 0.99)",
        empirical="deterministic",
    ),
    # --- pandas ewm ------------------------------------------------------------------------------
    Claim(
        id="impl.pandas_ewm.adjust_true_is_debiased",
        title="pandas ewm(alpha=1-beta, adjust=True).mean() is the bias-corrected EMA <x>_t/(1-beta^t)",
        statement=r"\mathrm{ewm}_{adjust}(x)_t = \frac{\sum_{i=0}^{t-1}\beta^i x_{t-i}}{\sum_{i=0}^{t-1}\beta^i} = \frac{\langle x\rangle_t}{1-\beta^t},\ \langle x\rangle_0 = 0",
        assumptions=("x_1, ..., x_t with no missing values", r"0 < \beta < 1"),
        sources=(emat("§7 Exercise 1 Part 2, Eqs. (68)-(71)"),),
        general="pandas' adjust=True weighting compared with the notes' debiased EMA",
        empirical="deterministic",
    ),
    Claim(
        id="impl.pandas_ewm.adjust_false_start",
        title="pandas ewm(alpha=1-beta, adjust=False).mean() is the notes' zero-start EMA",
        statement=r"\mathrm{ewm}_{recursive}(x)_t = \langle x\rangle_t,\ \langle x\rangle_t = \beta\langle x\rangle_{t-1} + (1-\beta)x_t,\ \langle x\rangle_0 = 0",
        assumptions=("x_1, ..., x_t with no missing values", r"0 < \beta < 1"),
        sources=(emat("§7 Exercise 1, the EMA recursion started at zero"),),
        corrected=r"\mathrm{ewm}_{recursive}(x)_t = \beta\,\mathrm{ewm}_{t-1} + (1-\beta)x_t \text{ started at } \mathrm{ewm}_1 = x_1"
        r"\ \text{(no zero-start bias to correct)}",
        empirical="deterministic",
    ),
    Claim(
        id="impl.pandas_ewm.span_is_not_n",
        title="pandas ewm(span=N) is the running average with beta = 1 - 1/N",
        statement=r"\mathrm{ewm}(span=N) \equiv \text{EMA with } 1-\beta = \frac{1}{N}",
        assumptions=("adjust=False, so both are plain recursions", "N > 1"),
        sources=(ttic("Problem 1, the running average with beta = 1 - 1/N"),),
        corrected=r"\mathrm{span}=N \Rightarrow 1-\beta = \frac{2}{N+1};\ \text{com} = N-1 \text{ (or alpha} = 1/N\text{) gives } 1-\beta = \frac1N",
        empirical="deterministic",
    ),
    Claim(
        id="impl.pandas_ewm.var_bias_true",
        title="pandas ewm(...).var(bias=True) is the weighted population variance with the mean's own weights",
        statement=r"\mathrm{var}_{bias} = \frac{\sum_i w_i (x_i-\bar x_w)^2}{\sum_i w_i},\ \bar x_w = \frac{\sum_i w_i x_i}{\sum_i w_i},"
        r"\ w_i = \beta^{t-i}\ (adjust),\ w_1 = \beta^{t-1}, w_{i>1} = (1-\beta)\beta^{t-i}\ (recursive)",
        assumptions=("x_1, ..., x_t with no missing values", r"0 < \beta < 1"),
        general="what pandas' exponentially weighted variance computes, for adjust=True and adjust=False",
        empirical="deterministic",
    ),
    Claim(
        id="impl.pandas_ewm.var_bias_false",
        title="pandas ewm(...).var(bias=False) rescales by W^2/(W^2 - sum w^2), which makes it unbiased for iid inputs",
        statement=r"\mathrm{var}_{unbiased} = \frac{W^2}{W^2-\sum_i w_i^2}\mathrm{var}_{bias},\ W = \sum_i w_i,"
        r"\quad E[\mathrm{var}_{unbiased}] = \sigma^2 \text{ for iid } x_i",
        assumptions=("x_i iid with variance sigma^2 (for the expectation)", "t >= 2"),
        general="the reliability-weights correction pandas applies; the analogue of Bessel's N/(N-1)",
        empirical="deterministic",
    ),
)
