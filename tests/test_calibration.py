"""A small calibration of the statistical verdicts: ~30 seeds of a few cheap experiments.

Bounds account for the test's own sampling error: each is a binomial bound that
a correctly calibrated engine exceeds with probability below 0.1%.
"""
from __future__ import annotations

import pytest
from scipy.stats import binom

from emastats.montecarlo import resolve_device
from emastats.montecarlo.calibration import CalibrationReport, calibrate, clopper_pearson

SEEDS = list(range(30))
CLAIMS = ["batchnorm.variance.biased", "batchnorm.variance.unbiased", "ema.bias.debias",
          "ema.running_average.variance.finite_t"]


@pytest.fixture(scope="module")
def report() -> CalibrationReport:
    return calibrate(CLAIMS, SEEDS, quick=True, device=resolve_device("cpu"))


def test_false_refutations_stay_near_alpha_per_claim_and_catalogue_wide(report):
    # each claim is its own Holm family at its level: P(Binomial(30, level) > k) < 0.001 for this k
    k = int(binom.ppf(0.999, report.seeds, report.claim_alpha))
    assert report.per_claim_false_refutations and set(report.per_claim_false_refutations) == set(CLAIMS)
    assert all(bad <= k for bad in report.per_claim_false_refutations.values())
    # catalogue-wide: at most 1 - (1 - alpha)^k claims' worth, within the same binomial slack
    assert report.catalogue_wide_bound == pytest.approx(1 - (1 - report.claim_alpha) ** len(CLAIMS), abs=1e-4)
    assert report.catalogue_wide_bound <= report.alpha
    assert report.runs_with_false_refutation <= binom.ppf(0.999, report.seeds, report.catalogue_wide_bound)


def test_intervals_cover_the_true_theories(report):
    n = report.seeds * report.true_checks_per_run
    # pointwise 95% intervals: coverage below the 0.1% binomial quantile would mean the standard errors are too small
    # (e.g. a Gaussian variance formula applied to the skewed inputs gives about 70% here)
    floor = binom.ppf(0.001, n, 0.95) / n
    assert report.pointwise_coverage_95 >= floor - 0.02  # 0.02: checks within a run share samples
    assert report.simultaneous_coverage >= report.pointwise_coverage_95


def test_true_claims_confirm_and_controls_refute(report):
    assert report.true_checks_per_run >= 8 and report.controls_per_run >= 4
    assert report.confirmed_rate >= 0.9
    assert report.control_refuted_rate >= 0.95


def test_clopper_pearson_brackets_the_rate():
    lo, hi = clopper_pearson(3, 100)
    assert 0 < lo < 0.03 < hi < 0.1
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
