"""Claims about minibatch gradients."""
from __future__ import annotations

from ..claim import Claim, Formula
from ._symbols import B, N, Sigma1, eta, g_fb, var_mb
from ._sources import emat, ttic

CLAIMS = (
    Claim(
        id="minibatch.loss_derivative",
        title="The gradient of the minibatch mean loss is the mean of the per-example gradients",
        statement=r"\frac{d}{dw}\Big(\frac{1}{M}\sum_{i\in mb} L_i\Big) = \frac{1}{M}\sum_{i\in mb} g_i",
        assumptions=("each per-example loss is differentiable",),
        sources=(emat("§1, Eq. (4)"),),
    ),
    Claim(
        id="minibatch.unbiased.with_replacement",
        title="A minibatch drawn with replacement gives an unbiased gradient",
        statement=r"E[g_{mb}] = g_{fb} = \frac{1}{N}\sum_{i=1}^N g_i",
        assumptions=("the B indices are iid uniform on {1..N}",),
        sources=(emat("§1, Eqs. (8)-(10)"),),
        empirical="statistical",
        # free of N and B: a wrong law is one that depends on them (the experiment sweeps both)
        formula=Formula(r"E[g_{mb}]", g_fb),
    ),
    Claim(
        id="minibatch.unbiased.without_replacement",
        title="A minibatch drawn without replacement (a shuffled epoch) is also unbiased",
        statement=r"E[g_{mb}] = g_{fb}",
        assumptions=("the minibatch is a uniformly random B-subset of {1..N}",),
        sources=(emat("§1, Eq. (10) and the shuffle=True remark"),),
        empirical="statistical",
        formula=Formula(r"E[g_{mb}]", g_fb),
    ),
    Claim(
        id="minibatch.covariance.with_replacement",
        title="The covariance of a with-replacement minibatch gradient is the per-example covariance over B",
        statement=r"\Sigma^{B} = \frac{1}{B}\Sigma^{1}",
        assumptions=("the B indices are iid uniform on {1..N}", r"\Sigma^1 is the population covariance of g_i"),
        sources=(ttic("Problem 5, solution"),),
        empirical="statistical",
        formula=Formula(r"\Sigma^B", Sigma1 / B),
    ),
    Claim(
        id="minibatch.covariance.without_replacement",
        title="The Sigma/B law applied to minibatches drawn without replacement",
        statement=r"\Sigma^{B} = \frac{1}{B}\Sigma^{1}\ \text{(sampling without replacement)}",
        assumptions=("the minibatch is a uniformly random B-subset of {1..N}", "1 < B <= N"),
        sources=(ttic("Problem 5, solution (its independence step)"), emat("§1, shuffle=True remark")),
        corrected=r"\Sigma^{B} = \frac{1}{B}\,\frac{N-B}{N-1}\,\Sigma^{1}",
        empirical="statistical",
        formula=Formula(r"\Sigma^B", Sigma1 / B),
        corrected_formula=Formula(r"\Sigma^B", Sigma1 / B * (N - B) / (N - 1)),
    ),
    Claim(
        id="minibatch.frozen_gradient.mean",
        title="Over T = 1/eta steps with a frozen gradient the expected total change is the full-batch gradient",
        statement=r"E[\Delta w] = E\Big[\eta\sum_{t=1}^{T} g_{mb;t}\Big] = g_{fb},\quad T = 1/\eta",
        assumptions=("E[g_{mb;t}] = g_fb for every t (gradient frozen over the window)", "the g_{mb;t} are independent"),
        sources=(emat("§1, Eqs. (11)-(14)"),),
        empirical="statistical",
        formula=Formula(r"E[\Delta w]", g_fb),  # at eta = 1/T, for every eta, B and N
    ),
    Claim(
        id="minibatch.frozen_gradient.variance",
        title="Over T = 1/eta steps with a frozen gradient the variance of the total change is eta Var[g_mb]",
        statement=r"\mathrm{Var}[\Delta w] = \frac{1}{T}\mathrm{Var}[g_{mb}] = \eta\,\mathrm{Var}[g_{mb}]",
        assumptions=("the g_{mb;t} are iid with variance Var[g_mb]", "T = 1/eta is an integer"),
        sources=(emat("§1, Eq. (15)"),),
        empirical="statistical",
        formula=Formula(r"\mathrm{Var}[\Delta w]", eta * var_mb),
    ),
    Claim(
        id="minibatch.accumulation",
        title="Averaging K accumulated minibatch-mean gradients equals one batch of size KB",
        statement=r"\frac{1}{K}\sum_{k=1}^{K}\frac{1}{B}\sum_{i\in mb_k} g_i = \frac{1}{KB}\sum_{i\in \cup_k mb_k} g_i",
        assumptions=("the K minibatches are disjoint and each has size B", "the loss is a mean over examples"),
        general="training practice (gradient accumulation); not derived in the notes",
        empirical="deterministic",
    ),
)
