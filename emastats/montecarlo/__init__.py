"""The Monte Carlo engine: batched replicas in torch, streaming moments, statistical verdicts.

Writing an experiment
---------------------
One function per claim, in ``experiments/<topic>.py``, registered by claim id::

    from emastats.montecarlo import Context, experiment, gaussian, ema_path

    @experiment("ema.bias.mean")
    def ema_bias_mean(ctx: Context) -> None:
        beta, t, mu = ctx.param("beta", 0.9), ctx.param("t", 5), ctx.param("mu", 2.0)

        def final_state(n: int):                       # n replicas at once, never a Python loop over them
            x = gaussian((t, n), ctx.generator, mean=mu)
            return ema_path(x, beta)[-1]

        acc = ctx.moments(final_state)                 # ctx.replicas samples, streamed in chunks, float64 sums
        ctx.check_mean("mean at t", acc, (1 - beta**t) * mu, tolerance=0.01)
        ctx.check_mean("mean at t, exponent t+1", acc, (1 - beta**(t + 1)) * mu, 0.01, control=True)

The ``Context`` (``context.py``) gives ``ctx.device``, ``ctx.generator`` (one
seeded ``torch.Generator`` per claim, seed derived from (run seed, claim id) by
``runner.claim_seed``), ``ctx.seed`` (the run's), ``ctx.claim_seed``,
``ctx.quick``, ``ctx.replicas`` (this claim's budget: 2^15, 2^12 with --quick),
``ctx.chunk``, ``ctx.budget(full)`` (a replica count, times the device multiplier
``context.replica_multiplier``, divided by 8 with --quick), ``ctx.formula`` /
``ctx.corrected_formula`` (the catalogue's law: evaluate it at each simulated point,
``ctx.formula(**point)``, never retype it), ``ctx.margin`` (the claim's relative margin,
1 % by default, whatever the budget), ``ctx.sized_moments`` (add replicas until the
minimum detectable deviation is half the margin, or a cap) and the recorders
(each takes ``point=`` the parameter point simulated, and ``shift=`` for a control
sized from the margin: theory + shift * tolerance * scale):

* ``check_mean(name, data, theory, tolerance, *, index=0, control=False, theory_of="stated", scale=None)``
  z interval with s/sqrt(n);
* ``check_variance(name, data, theory, tolerance, *, index=0, ...)`` fourth-moment standard error;
* ``check_covariance(name, data, theory, tolerance, i, j, ...)`` standard error sqrt((mu22 - s^2)/n);
* ``check_slope(name, x, y, theory, tolerance, *, y_stderr=None, replicas, ...)`` statsmodels OLS/WLS, t interval;
* ``check_estimate(name, estimate, stderr, theory, tolerance, *, replicas, estimator, test, df=None, ...)``
  any other estimator with its standard error (e.g. batch means: the mean and s/sqrt(K) of K batch estimates);
* ``check_close(name, actual, expected, atol, rtol=0, *, replicas=None, control=False)`` deterministic,
  trajectory by trajectory;
* ``add_series(Series)``, ``param(name, value)``.

``data`` is a tensor of samples (replicas,) or (replicas, d), or a ``Moments``
accumulator (``accumulators.py``: streaming, mergeable, float64, with fourth
moments and covariances). ``tolerance`` is relative to |theory| (or to ``scale``
when the theory is 0). ``control=True`` marks a deliberately wrong theory that
the experiment must REFUTE; ``theory_of="corrected"`` marks a check of the
claim's corrected statement. Verdict rules (simultaneous Bonferroni intervals,
Holm within each claim at alpha / K, the margin the budget resolves) are in ``stats.py``.

Running (``runner.py``): ``run_experiment`` runs one claim with its own
generator and decides its checks as the claim's own family; ``finalise_results``
re-decides each claim's family (idempotent, for stored results). ``emastats verify``
(``emastats/verification.py``) uses both and writes the result store;
``calibration.py`` (driven by ``benchmarks/calibration.py``) repeats runs over
many seeds to measure false-refutation rates and interval coverage.
Per-example gradients on fixed datasets are in ``datasets.py``.

Kernels (``sampling.py``) validate their parameters and raise ``UsageError``:
``ema_path``/``ema_final`` (beta in [0, 1)), ``minibatch_indices`` (B <= N
without replacement), ``check_replicas`` (> 1). ``device.resolve_device``
handles auto/cpu/cuda (one CPU thread unless told otherwise).
"""
from __future__ import annotations

from .accumulators import Moments
from .context import Context
from .device import describe, resolve_device
from .registry import experiment, registered
from .runner import DEFAULT_REPLICAS, QUICK_DIVISOR, claim_seed, finalise_results, run_experiment
from .sampling import (
    check_batch,
    check_beta,
    check_replicas,
    ema_final,
    ema_path,
    gaussian,
    minibatch_indices,
    minibatch_means,
    running_average_beta,
    skewed,
)
from .stats import DEFAULT_ALPHA

__all__ = [
    "Context", "DEFAULT_ALPHA", "DEFAULT_REPLICAS", "Moments", "QUICK_DIVISOR", "check_batch", "check_beta",
    "check_replicas", "claim_seed", "describe", "ema_final", "ema_path", "experiment", "finalise_results",
    "gaussian", "minibatch_indices", "minibatch_means", "registered", "resolve_device", "run_experiment",
    "running_average_beta", "skewed",
]
