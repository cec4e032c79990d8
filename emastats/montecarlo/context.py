"""The ``Context`` an experiment receives: device, generator, budget, and the check recorders.

An experiment draws all its randomness from ``ctx.generator`` (seeded per claim
by the runner), evaluates the claim's law from the catalogue (``ctx.formula``),
sizes its runs with ``ctx.budget`` / ``ctx.sized_moments`` (the one place the
device's replica multiplier applies), and records what it tested with the
``check_*`` methods. Statistical checks are recorded with their estimate,
standard error, parameter point and raw p-value only; intervals, Holm's
correction, the resolved margin and verdicts are computed when the claim's
checks are decided together (``stats.finalise``), because the simultaneous
confidence level depends on how many checks the claim has.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import torch

from ..claim import DEFAULT_MARGIN, Claim, Formula
from ..results import Check, Series
from ..verdict import Verdict
from . import stats
from .accumulators import Moments
from .device import normalize_device

TheoryOf = Literal["stated", "corrected"]

DEFAULT_CHUNK = 1 << 14  # replicas per chunk when streaming: bounds memory whatever the budget
QUICK_DIVISOR = 8  # --quick runs 1/QUICK_DIVISOR of each budget
CUDA_BUDGET_MULTIPLIER = 100  # a CUDA device runs >= 100x the CPU replicas in about the CPU's wall time (issue 13)
POWER_Z = 0.8416212335729143  # z_0.8: min_detectable = (q + z_0.8) se
SIZING_FAMILY = 8  # checks per claim assumed when sizing a budget before the family is known (q ~ 2.73)


def budget_multiplier(device: torch.device | str | None) -> int:
    """How many times the CPU replica budget a run on ``device`` gets: 1 on the CPU, 100 on CUDA.

    Contract: a budget is always sized as ``cpu_budget * budget_multiplier(device)``
    (then divided by ``QUICK_DIVISOR`` for --quick), through one function, so
    that a verdict's sharper intervals on a GPU come only from more replicas,
    never from different code. Device types other than CUDA (e.g. ``mps``) get 1
    until they have been measured. Accepts a ``torch.device`` or a name
    (``cuda`` and ``cuda:1`` alike; see ``device.normalize_device``).
    """
    return CUDA_BUDGET_MULTIPLIER if normalize_device(device).type == "cuda" else 1


def replica_multiplier(device: torch.device | str | None) -> float:
    """The device's budget factor as :meth:`Context.budget` and the runner apply it (:func:`budget_multiplier`).

    Every replica count an experiment uses passes through :meth:`Context.budget`, which multiplies by
    this; the sized budgets' pilots and caps scale with it too.
    """
    return float(budget_multiplier(device))


class MomentSource(ABC):
    """A source of replicas that gives their float64 ``Moments`` directly (e.g. a fused kernel that streams them).

    ``Context.moments`` and ``Context.sized_moments`` accept one wherever they accept a sampler
    ``n -> samples``; ``moments(n)`` must return the moments of ``n`` fresh replicas, independent of those
    of earlier calls. ``kernels.py`` builds them.
    """

    @abstractmethod
    def moments(self, replicas: int) -> Moments:
        """The moments of ``replicas`` new replicas."""


def _plain(point: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-ready copy of a parameter point (tensors and numpy scalars become Python numbers)."""
    if point is None:
        return None
    return {str(k): (v.item() if hasattr(v, "item") else v) for k, v in point.items()}


def _moments(data: Any) -> Moments:
    return data if isinstance(data, Moments) else Moments.from_samples(data)


@dataclass
class Context:
    """What one claim's experiment runs with, and what it has recorded so far.

    ``seed`` is the run's seed; ``claim_seed`` the seed of ``generator``, derived
    from (run seed, claim id) so a claim's numbers do not depend on which other
    claims run. ``replicas`` is this claim's replica budget (already reduced
    when ``quick``).
    """

    claim_id: str
    seed: int
    claim_seed: int
    device: torch.device
    generator: torch.Generator
    quick: bool
    replicas: int
    chunk: int = DEFAULT_CHUNK
    checks: list[Check] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    claim: Claim | None = None  # the claim simulated (its formula and margin); None for ad-hoc experiments

    # ----- the claim's formula and margin ---------------------------------------------------
    @property
    def formula(self) -> Formula:
        """The law the claim asserts (``Claim.formula``): evaluate it at the simulated points, never retype it."""
        if self.claim is None or self.claim.formula is None:
            raise LookupError(f"{self.claim_id}: the catalogue gives this claim no formula")
        return self.claim.formula

    @property
    def corrected_formula(self) -> Formula:
        """The law that holds instead (``Claim.corrected_formula``)."""
        if self.claim is None or self.claim.corrected_formula is None:
            raise LookupError(f"{self.claim_id}: the catalogue gives this claim no corrected formula")
        return self.claim.corrected_formula

    @property
    def margin(self) -> float:
        """The claim's relative equivalence margin (``Claim.margin``, 1 % by default), whatever the budget.

        Whether the budget resolves it is decided with the checks (``stats.resolution``);
        a quick run is not given a wider margin in advance.
        """
        return self.claim.margin if self.claim is not None else DEFAULT_MARGIN

    # ----- budgets ------------------------------------------------------------------------
    def budget(self, full: int) -> int:
        """A replica count for this run: ``full`` times the device's :func:`replica_multiplier`,
        divided by QUICK_DIVISOR with --quick (>= 2)."""
        n = int(int(full) * replica_multiplier(self.device))
        return max(2, n // QUICK_DIVISOR) if self.quick else n

    def tolerance(self, full: float | None = None) -> float:
        """The claim's margin (:attr:`margin`); ``full`` is ignored (kept for old experiment code)."""
        return self.margin

    def target_stderr(self, family: int = SIZING_FAMILY) -> float:
        """The relative standard error at which min_detectable is half the margin, for a claim of ``family`` checks."""
        q = stats.quantile(1 - stats.claim_alpha() / (2 * family))
        return self.margin / 2 / (q + POWER_Z)

    def sized_moments(self, sampler: Callable[[int], torch.Tensor] | MomentSource,
                      relative_stderr: Callable[[Moments], float],
                      pilot: int, cap: int, family: int = SIZING_FAMILY) -> Moments:
        """Moments with enough replicas that ``relative_stderr(acc)`` reaches :meth:`target_stderr`, or the cap.

        Two stages: ``budget(pilot)`` replicas, then as many more as the pilot's
        standard error says are needed (se ~ 1/sqrt(n), 10 % spare), at most
        ``budget(cap)`` in all (``budget(cap / QUICK_DIVISOR)`` with --quick). The stopping rule uses the spread, not the estimate
        tested, so it does not bias the test. ``relative_stderr`` gives the largest
        relative standard error among the quantities the experiment will check;
        ``family`` the number of statistical checks the claim will have.
        """
        # --quick: the pilot at 1/8, the cap at 1/64 (a smoke run; its checks state the margin they resolve)
        first = self.budget(pilot)
        most = max(first, self.budget(cap // QUICK_DIVISOR if self.quick else cap))
        acc = self.moments(sampler, first)
        rel = float(relative_stderr(acc))
        if not math.isfinite(rel):
            return acc
        wanted = min(most, math.ceil(first * (rel / self.target_stderr(family)) ** 2 * 1.1))
        if wanted > first:
            acc = acc.merge(self.moments(sampler, wanted - first))
        return acc

    # ----- sampling helpers -----------------------------------------------------------------
    def moments(self, sampler: Callable[[int], torch.Tensor] | MomentSource, replicas: int | None = None) -> Moments:
        """Stream ``replicas`` (default: the budget) samples from ``sampler(n)`` into float64 moments
        (a ``MomentSource`` gives its moments itself, in as many pieces as it likes)."""
        if isinstance(sampler, MomentSource):
            return sampler.moments(replicas or self.replicas)
        return Moments.stream(sampler, replicas or self.replicas, self.chunk)

    def param(self, name: str, value: Any) -> Any:
        """Record a parameter of the experiment (shown in reports) and return it."""
        self.params[name] = value.item() if isinstance(value, torch.Tensor) else value
        return value

    def add_series(self, series: Series) -> None:
        """Record a figure line (estimates with intervals against theory)."""
        self.series.append(series)

    # ----- statistical checks ---------------------------------------------------------------
    def check_estimate(self, name: str, estimate: float, stderr: float, theory: float, tolerance: float, *,
                       replicas: int, estimator: str, test: str, df: float | None = None,
                       scale: float | None = None, control: bool = False, theory_of: TheoryOf = "stated",
                       note: str = "", point: Mapping[str, Any] | None = None,
                       shift: float | None = None) -> Check:
        """Record any estimate with its standard error against ``theory`` (the general form of a check).

        ``tolerance`` is the relative equivalence margin: CONFIRMED needs the
        simultaneous interval inside theory +- tolerance * scale, where ``scale``
        defaults to |theory| (give it when the theory is 0); a budget that cannot
        resolve it decides at the margin it achieves (``stats.resolution``).
        ``df`` selects a t reference instead of the normal one. ``point`` is the
        parameter point simulated. ``shift`` makes a negative control sized from
        the margin: ``theory`` is then the true value and the control tests
        theory + shift * tolerance * scale, with the tolerance the budget resolves.
        """
        if tolerance <= 0:
            raise ValueError(f"{self.claim_id}/{name}: tolerance must be positive")
        scale = abs(theory) if scale is None else abs(scale)
        if scale == 0 and theory == 0 and estimate != 0:
            scale = abs(float(estimate))  # a law that says 0 (e.g. a wrong formula): margins relative to what was seen
        if scale == 0:
            raise ValueError(f"{self.claim_id}/{name}: theory is 0, give a nonzero scale for the margin")
        estimate, stderr, theory = float(estimate), float(stderr), float(theory)
        reference = None
        if shift is not None:
            control, reference = True, theory
            theory = reference + shift * tolerance * scale
        check = Check(
            claim_id=self.claim_id, name=name, kind="statistical", estimator=estimator, test=test,
            theory=theory, estimate=estimate, ci_low=math.nan, ci_high=math.nan, confidence=math.nan,
            tolerance=float(tolerance), replicas=int(replicas), verdict=Verdict.NOT_RUN,
            pvalue=stats.pvalue(estimate, stderr, theory, df), control=control, note=note,
            stderr=stderr, df=df, margin=float(tolerance) * scale,
            theory_of="control" if control else theory_of,
            parameters=_plain(point), target_tolerance=float(tolerance), scale=scale, reference=reference,
            shift=None if shift is None else float(shift),
        )
        self.checks.append(check)
        return check

    def check_mean(self, name: str, data: Any, theory: float, tolerance: float, *, index: int = 0,
                   control: bool = False, theory_of: TheoryOf = "stated", scale: float | None = None,
                   estimator: str = "sample mean over replicas", note: str = "",
                   point: Mapping[str, Any] | None = None, shift: float | None = None) -> Check:
        """Mean of component ``index`` of samples (or a Moments) against ``theory``: z interval, s/sqrt(n)."""
        m = _moments(data)
        return self.check_estimate(
            name, m.mean()[index], m.stderr_mean()[index], theory, tolerance, replicas=m.n,
            estimator=estimator, test="z test / z interval, standard error s/sqrt(n)", scale=scale,
            control=control, theory_of=theory_of, note=note, point=point, shift=shift)

    def check_variance(self, name: str, data: Any, theory: float, tolerance: float, *, index: int = 0,
                       control: bool = False, theory_of: TheoryOf = "stated",
                       estimator: str = "unbiased sample variance over replicas", note: str = "",
                       point: Mapping[str, Any] | None = None, shift: float | None = None) -> Check:
        """Variance of component ``index`` against ``theory``; standard error from the fourth moment."""
        m = _moments(data)
        return self.check_estimate(
            name, m.variance()[index], m.stderr_variance()[index], theory, tolerance, replicas=m.n,
            estimator=estimator,
            test="z interval, fourth-moment standard error sqrt((mu4 - s^4 (n-3)/(n-1))/n), no Gaussian assumption",
            control=control, theory_of=theory_of, note=note, point=point, shift=shift)

    def check_covariance(self, name: str, data: Any, theory: float, tolerance: float, i: int, j: int, *,
                         control: bool = False, theory_of: TheoryOf = "stated", scale: float | None = None,
                         estimator: str = "unbiased sample covariance over replicas", note: str = "",
                         point: Mapping[str, Any] | None = None, shift: float | None = None) -> Check:
        """Covariance of components i, j against ``theory``; standard error sqrt((mu22 - sigma^2)/n)."""
        m = _moments(data)
        return self.check_estimate(
            name, m.covariance()[i, j], m.stderr_covariance()[i, j], theory, tolerance, replicas=m.n,
            estimator=estimator,
            test="z interval, fourth-moment standard error sqrt((mu22_ij - s_ij^2)/n), no Gaussian assumption",
            scale=scale, control=control, theory_of=theory_of, note=note, point=point, shift=shift)

    def check_slope(self, name: str, x: Sequence[float], y: Sequence[float], theory: float, tolerance: float, *,
                    y_stderr: Sequence[float] | None = None, replicas: int, control: bool = False,
                    theory_of: TheoryOf = "stated", scale: float | None = None,
                    estimator: str = "least-squares slope", note: str = "") -> Check:
        """Slope of y on x (e.g. log-covariance on log B) by statsmodels OLS, or WLS when ``y_stderr`` is known.

        OLS: t interval with n - 2 degrees of freedom from the residual scale.
        WLS: weights 1/y_stderr^2 with the scale fixed at 1 (the standard errors
        are known, e.g. fourth-moment standard errors of independent runs), so the
        slope's standard error is exact under the model and the interval is z.
        """
        from statsmodels.regression.linear_model import OLS, WLS  # not statsmodels.api: that imports everything

        xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if xs.shape != ys.shape or xs.size < 3:
            raise ValueError(f"{self.claim_id}/{name}: a slope needs >= 3 matching (x, y) points")
        design = np.column_stack([np.ones_like(xs), xs])
        if y_stderr is None:
            fit, df = OLS(ys, design).fit(), float(xs.size - 2)
            how, test = "OLS", "t test / t interval (n - 2 df) on the regression slope"
        else:
            # known standard errors: weights 1/se^2 with the scale fixed at 1, normal reference
            weights = 1.0 / np.asarray(y_stderr, dtype=np.float64) ** 2
            fit, df = WLS(ys, design, weights=weights).fit(cov_type="fixed scale"), None
            how, test = "WLS, weights 1/se^2, known scale", "z test / z interval on the regression slope"
        return self.check_estimate(
            name, fit.params[1], fit.bse[1], theory, tolerance, replicas=replicas, df=df,
            estimator=f"{estimator} ({how}, statsmodels)", test=test,
            scale=scale, control=control, theory_of=theory_of, note=note)

    # ----- deterministic checks -------------------------------------------------------------
    def check_close(self, name: str, actual: Any, expected: Any, atol: float, rtol: float = 0.0, *,
                    replicas: int | None = None, control: bool = False, theory_of: TheoryOf = "stated",
                    note: str = "") -> Check:
        """Trajectories that must agree to rounding: |actual - expected| <= atol + rtol |expected| everywhere.

        CONFIRMED when they agree, REFUTED otherwise (a control must disagree).
        ``estimate`` is the largest absolute difference, ``theory`` 0, ``tolerance`` atol;
        ``replicas`` defaults to the second dimension (trajectories are (T, replicas, ...)).
        """
        a = torch.as_tensor(actual).detach().to("cpu", torch.float64)
        e = torch.as_tensor(expected).detach().to("cpu", torch.float64)
        a, e = torch.broadcast_tensors(a, e)
        diff = (a - e).abs()
        ok = bool(torch.all(diff <= atol + rtol * e.abs())) and bool(torch.isfinite(a).all())
        worst = float(diff.max()) if diff.numel() else 0.0
        check = Check(
            claim_id=self.claim_id, name=name, kind="deterministic",
            estimator="largest absolute difference over all replicas and steps",
            test=f"|actual - expected| <= {atol:g} + {rtol:g} |expected| elementwise",
            theory=0.0, estimate=worst, ci_low=worst, ci_high=worst, confidence=1.0, tolerance=float(atol),
            replicas=int(replicas if replicas is not None else (a.shape[1] if a.ndim >= 2 else a.numel())),
            verdict=Verdict.CONFIRMED if ok else Verdict.REFUTED, control=control, note=note,
            theory_of="control" if control else theory_of,
        )
        self.checks.append(check)
        return check
