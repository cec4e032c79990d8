"""Claims about momentum: its two parameterisations, unrolling, Nesterov, stability."""
from __future__ import annotations

import sympy as sp

from ..claim import Claim, Formula
from ._sources import emat
from ._symbols import beta1, eta_trad, mu, s

CLAIMS = (
    Claim(
        id="momentum.equivalence",
        title="Traditional (velocity) and average (EMA) momentum give the same trajectory under the stated mapping",
        statement=r"\mu = \beta_1,\quad \eta_{avg} = \frac{\eta_{trad}}{1-\beta_1}"
        r"\ \Rightarrow\ w^{trad}_t = w^{avg}_t\ \forall t",
        assumptions=(
            r"v_{t+1} = \mu v_t - \eta_{trad} g_t,\ w_{t+1} = w_t + v_{t+1}",
            r"\langle g\rangle_{t+1} = \beta_1\langle g\rangle_t + (1-\beta_1) g_t,\ w_{t+1} = w_t - \eta_{avg}\langle g\rangle_{t+1}",
            r"the same gradient sequence g_t and w_0 in both",
            r"initial state matched: v_0 = -\eta_{avg}\langle g\rangle_0 (e.g. both zero)",
        ),
        sources=(emat("§3, Eqs. (18), (20), (21); §3.1, Eqs. (22)-(28)"),),
        empirical="deterministic",
        formula=Formula(r"\eta_{avg}", eta_trad / (1 - beta1)),  # the mapping under which the trajectories agree
    ),
    Claim(
        id="momentum.heavy_ball.unrolled",
        title="Heavy ball from rest moves by a weighted sum of past gradients with weights (1 - mu^(T-t))/(1 - mu)",
        statement=r"w_T - w_0 = -\eta\sum_{t=0}^{T-1}\frac{1-\mu^{T-t}}{1-\mu}\,g_t",
        assumptions=("v_0 = 0", r"v_{t+1} = \mu v_t - \eta g_t,\ w_{t+1} = w_t + v_{t+1}", r"0 \le \mu < 1"),
        general="standard unrolling of the EMAT31530 Eq. (18) recursion",
        empirical="deterministic",
        # the weight of -eta g_t in w_T - w_0, s = T - t steps after g_t was applied
        formula=Formula(r"c_{s}", (1 - mu**s) / (1 - mu)),
    ),
    Claim(
        id="momentum.nesterov.lookahead",
        title="Nesterov's look-ahead form and the PyTorch form are the same algorithm in shifted variables",
        statement=r"u_{t+1} = \mu u_t - \eta\nabla L(w_t + \mu u_t),\ w_{t+1} = w_t + u_{t+1}"
        r"\ \Longleftrightarrow\ \phi_t = w_t + \mu u_t \text{ follows } b_{t+1} = \mu b_t + \nabla L(\phi_t),"
        r"\ \phi_{t+1} = \phi_t - \eta(\nabla L(\phi_t) + \mu b_{t+1})",
        assumptions=("u_0 = 0 and b_0 = 0", r"b_t = -u_t/\eta"),
        general="Nesterov momentum as implemented by torch.optim.SGD(nesterov=True)",
        empirical="deterministic",
    ),
    Claim(
        id="momentum.stability.gd",
        title="Gradient descent on a quadratic with curvature lambda is stable iff 0 < eta lambda < 2",
        statement=r"|1-\eta\lambda| < 1 \iff 0 < \eta\lambda < 2",
        assumptions=(r"L(w) = \frac{\lambda}{2}w^2,\ \lambda > 0",),
        sources=(emat("§3, the oscillation discussion before Eq. (16)"),),
        empirical="deterministic",
        formula=Formula(r"\sup\{\eta\lambda:\ \text{stable}\}", sp.Integer(2)),  # the region is 0 < eta lambda < this
    ),
    Claim(
        id="momentum.stability.heavy_ball",
        title="Heavy ball on a quadratic is stable iff 0 < eta lambda < 2(1 + mu)",
        statement=r"\rho\Big(\begin{smallmatrix}1+\mu-\eta\lambda & -\mu\\ 1 & 0\end{smallmatrix}\Big) < 1 \iff 0 < \eta\lambda < 2(1+\mu)",
        assumptions=(r"L(w) = \frac{\lambda}{2}w^2,\ \lambda > 0", r"0 \le \mu < 1"),
        general="why momentum tolerates larger steps (EMAT31530 §3 motivates it, does not derive it)",
        empirical="deterministic",
        formula=Formula(r"\sup\{\eta\lambda:\ \text{stable}\}", 2 * (1 + mu)),  # the region is 0 < eta lambda < this
    ),
)
