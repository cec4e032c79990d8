"""Claims about normalisation layers, activations and batch statistics."""
from __future__ import annotations

from ..claim import Claim, Formula
from ._symbols import B, p, sigma2, t

CLAIMS = (
    Claim(
        id="batchnorm.variance.biased",
        title="The biased batch variance underestimates the variance by (B-1)/B",
        statement=r"E\Big[\frac1B\sum_{b=1}^B (x_b-\bar x)^2\Big] = \frac{B-1}{B}\sigma^2",
        assumptions=("x_b iid with variance sigma^2",),
        general="BatchNorm normalises with the biased batch variance",
        empirical="statistical",
        formula=Formula(r"E\Big[\frac1B\sum_{b=1}^B (x_b-\bar x)^2\Big]", (B - 1) / B * sigma2),
    ),
    Claim(
        id="batchnorm.variance.unbiased",
        title="Bessel's correction makes the batch variance unbiased",
        statement=r"E\Big[\frac{1}{B-1}\sum_{b=1}^B (x_b-\bar x)^2\Big] = \sigma^2",
        assumptions=("x_b iid with variance sigma^2", "B >= 2"),
        general="BatchNorm's running variance is updated with the unbiased batch variance",
        empirical="statistical",
        formula=Formula(r"E\Big[\frac{1}{B-1}\sum_{b=1}^B (x_b-\bar x)^2\Big]", sigma2),
    ),
    Claim(
        id="batchnorm.running_var",
        title="The EMA running variance started at 1 has mean m_t = (1-p)^t + (1-(1-p)^t) sigma^2",
        statement=r"E[\hat\sigma^2_t] = (1-p)^t + \big(1-(1-p)^t\big)\sigma^2",
        assumptions=(r"\hat\sigma^2_0 = 1", r"\hat\sigma^2_{t} = (1-p)\hat\sigma^2_{t-1} + p\,s^2_t,\ s_t^2 \text{ the unbiased batch variance}"),
        general="torch.nn.BatchNorm running statistics (momentum p, running_var initialised to 1)",
        empirical="statistical",
        formula=Formula(r"E[\hat\sigma^2_t]", (1 - p) ** t + (1 - (1 - p) ** t) * sigma2),
    ),
    Claim(
        id="sigmoid.derivative_bound",
        title="The sigmoid's derivative is sigma(1 - sigma) and never exceeds 1/4",
        statement=r"\sigma'(x) = \sigma(x)(1-\sigma(x)) \le \frac14",
        general="why deep sigmoid networks shrink gradients",
    ),
)
