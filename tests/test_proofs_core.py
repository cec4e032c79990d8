"""The proofs of the minibatch, EMA and momentum claims, and deliberately wrong variants of them."""
from __future__ import annotations

import importlib
import itertools
import os
import time
from fractions import Fraction

import pytest
import sympy as sp

from emastats import catalogue, proving
from emastats.claim import Claim
from emastats.layout import load_package
from emastats.verdict import Verdict

TOPICS = ("minibatch", "ema", "momentum")
load_package("proofs")
MODULES = {topic: importlib.import_module(f"emastats.proofs.{topic}") for topic in TOPICS}
minibatch, ema, momentum = (MODULES[t] for t in TOPICS)


def proofs_of(module) -> dict:
    return {fn.claim_id: fn for fn in vars(module).values() if callable(fn) and hasattr(fn, "claim_id")}


PROOFS = {cid: fn for module in MODULES.values() for cid, fn in proofs_of(module).items()}


@pytest.fixture(scope="module")
def results() -> dict:
    return {c.id: proving.run_proof(c, PROOFS.get(c.id)) for c in catalogue.select(list(TOPICS))}


def test_every_claim_of_the_three_topics_has_a_proof():
    claims = {c.id for c in catalogue.select(list(TOPICS))}
    assert claims == set(PROOFS)


def test_no_proof_errors_or_is_missing_and_each_shows_its_steps(results):
    for cid, r in results.items():
        assert r.verdict not in (Verdict.ERROR, Verdict.NOT_RUN), (cid, r.reason)
        assert r.verdict.decided, (cid, r.verdict, r.reason)
        assert r.steps and all(isinstance(s, str) and s for s in r.steps), cid


def test_refuted_claims_carry_a_counterexample_and_a_proved_correction(results):
    refuted = {cid: r for cid, r in results.items() if r.verdict is Verdict.REFUTED}
    assert "minibatch.covariance.without_replacement" in refuted
    for cid, r in refuted.items():
        assert r.counterexample, cid
        if catalogue.get(cid).corrected is not None:
            assert r.corrected_verdict is Verdict.PROVED, cid


def test_the_without_replacement_counterexample_checks_by_hand(results):
    ce = results["minibatch.covariance.without_replacement"].counterexample
    n, b = int(ce["N"]), int(ce["B"])
    values = [Fraction(v) for v in ce["g_i"].split(",")]
    assert len(values) == n
    means = [sum(batch, Fraction(0)) / b for batch in itertools.combinations(values, b)]
    grand = sum(means) / len(means)
    exact = sum((m - grand) ** 2 for m in means) / len(means)
    pop_mean = sum(values) / n
    sigma = sum((v - pop_mean) ** 2 for v in values) / n
    assert Fraction(ce["exact Var[g_mb] over all minibatches"]) == exact
    assert Fraction(ce["Sigma^1"]) == sigma
    assert Fraction(ce["claimed"]) == sigma / b != exact


def test_the_claims_that_hold_are_proved(results):
    # every other claim of these topics is true as the notes state it (with its assumptions)
    for cid, r in results.items():
        if cid != "minibatch.covariance.without_replacement":
            assert r.verdict is Verdict.PROVED, (cid, r.verdict, r.counterexample, r.reason)


def test_momentum_equivalence_shows_why_the_initial_match_is_needed(results):
    steps = " ".join(results["momentum.equivalence"].steps)
    assert "initial match is needed" in steps
    example = momentum.first_divergence(eta_trad_over_one_minus_beta(), v_start=0, m_start=1)
    assert example is not None and example["w_trad_t"] != example["w_avg_t"]
    assert momentum.first_divergence(eta_trad_over_one_minus_beta(), v_start=0, m_start=0) is None


def eta_trad_over_one_minus_beta() -> sp.Expr:
    return momentum.eta_trad / (1 - momentum.beta)


# --- deliberately wrong variants go through the same derivations -------------------------------


def assert_refuted_with(derivation, *keys: str) -> dict[str, str]:
    assert derivation.verdict is Verdict.REFUTED, (derivation.verdict, derivation.reason)
    assert derivation.counterexample
    for key in keys:
        assert key in derivation.counterexample, (key, derivation.counterexample)
    return dict(derivation.counterexample)


def test_ema_mean_with_exponent_t_plus_1_is_refuted_at_a_point_that_checks():
    ce = assert_refuted_with(ema.check_ema_mean(lambda t: (1 - ema.beta ** (t + 1)) * ema.mu),
                             "beta", "mu", "t", "derived", "claimed")
    b, m, t = sp.Rational(ce["beta"]), sp.Rational(ce["mu"]), int(ce["t"])
    assert sp.Rational(ce["derived"]) == (1 - b**t) * m  # the true mean, iterated by hand below
    mean = sp.Integer(0)
    for _ in range(t):
        mean = b * mean + (1 - b) * m
    assert mean == sp.Rational(ce["derived"]) != sp.Rational(ce["claimed"])


def test_stationary_variance_with_a_missing_square_is_refuted():
    N, s2 = ema.N, ema.sigma2
    wrong = (1 - 1 / N) * s2 / (N * (1 - (1 - 1 / N) ** 2)) * (1 / N)  # (1 - 1/N) in place of (1 - 1/N)^2
    ce = assert_refuted_with(ema.check_stationary_variance(wrong), "N", "derived", "claimed")
    n, sigma = sp.Integer(ce["N"]), sp.Rational(ce["sigma_x^2"])
    b = 1 - 1 / n
    assert sp.Rational(ce["derived"]) == (1 - b) ** 2 * sigma / (1 - b**2)
    assert sp.Rational(ce["claimed"]) == wrong.subs({N: n, s2: sigma})


def test_other_wrong_ema_variants_are_refuted():
    N, s2, t = ema.N, ema.sigma2, ema.t
    assert_refuted_with(ema.check_finite_t_variance((1 - ema.BETA_OF_N**t) / ((2 - 1 / N) * N) * s2), "t")
    assert_refuted_with(ema.check_versus_plain(1 / (2 - 1 / N), sp.Integer(1)), "limit")
    assert_refuted_with(ema.check_unnormalised_limit(ema.c), "N", "c")
    assert_refuted_with(ema.check_unnormalised_scaled(1 / N), "failed")
    assert_refuted_with(ema.check_debias(lambda t_: ema.mu * (1 - ema.beta)), "beta")


def test_covariance_over_b_squared_is_refuted_by_enumeration():
    ce = assert_refuted_with(minibatch.check_covariance(lambda s, n, b: s / b**2, replacement=True),
                             "N", "B", "claimed")
    assert sp.Rational(ce["exact Var[g_mb] over all minibatches"]) != sp.Rational(ce["claimed"])


def test_the_corrected_without_replacement_law_is_proved_and_sigma_over_b_is_not():
    law = "minibatch.covariance.without_replacement"
    corrected = minibatch.covariance_law(law, corrected=True)
    assert minibatch.check_covariance(corrected, replacement=False).verdict is Verdict.PROVED
    assert minibatch.check_covariance(minibatch.covariance_law(law), replacement=False).verdict is Verdict.REFUTED


def test_wrong_frozen_gradient_variants_are_refuted():
    assert_refuted_with(minibatch.check_frozen_mean(2 * minibatch.g_fb), "g_fb")
    assert_refuted_with(minibatch.check_frozen_variance(minibatch.var_mb / minibatch.T**2,
                                                        minibatch.eta**2 * minibatch.var_mb), "T")


def test_momentum_mapping_eta_times_one_minus_beta_is_refuted_by_a_trajectory():
    ce = assert_refuted_with(momentum.check_equivalence(lambda rate, b: rate * (1 - b)), "t", "w_trad_t", "w_avg_t")
    assert ce["w_trad_t"] != ce["w_avg_t"]


def test_wrong_momentum_variants_are_refuted():
    mu = momentum.mu
    assert_refuted_with(momentum.check_unrolled(lambda s: (1 - mu ** (s + 1)) / (1 - mu)), "failed")
    ce = assert_refuted_with(momentum.check_gd_stability(momentum.Region(sp.Integer(0), sp.Integer(1))), "eta*lambda")
    assert abs(1 - sp.Rational(ce["eta*lambda"])) < 1  # stable, yet outside the claimed region
    ce = assert_refuted_with(momentum.check_heavy_ball_stability(lambda m: 2 + m), "mu", "eta*lambda")
    point = {mu: sp.Rational(ce["mu"]), momentum.x: sp.Rational(ce["eta*lambda"])}
    eigenvalues = momentum.HEAVY_BALL_MATRIX.subs(point).eigenvals()
    assert all(sp.Abs(ev) < 1 for ev in eigenvalues) == (ce["rho < 1"] == "True")


def test_the_eigenvalue_spot_check_agrees_with_sympy_eigenvalues():
    mu, x = momentum.mu, momentum.x
    for m_, x_ in itertools.product([sp.Integer(0), sp.Rational(1, 3), sp.Rational(9, 10)],
                                    [sp.Rational(-1, 2), sp.Rational(1, 2), sp.Integer(2), sp.Rational(7, 2)]):
        matrix = momentum.HEAVY_BALL_MATRIX.subs({mu: m_, x: x_})
        inside = all(bool(sp.Abs(ev) < 1) for ev in matrix.eigenvals())
        assert momentum.spectral_radius_below_one(matrix) == inside, (m_, x_)


# --- limitations become INCONCLUSIVE, never PROVED ---------------------------------------------


def test_a_sympy_limitation_is_inconclusive(monkeypatch):
    monkeypatch.setattr(sp, "rsolve", lambda *args, **kwargs: None)
    claim = catalogue.get("ema.bias.mean")
    result = proving.run_proof(claim, PROOFS[claim.id])
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "rsolve" in result.reason


def test_a_proof_raising_not_implemented_is_inconclusive():
    def stuck():
        raise NotImplementedError("cannot sum this series")

    result = proving.run_proof(catalogue.get("ema.geometric_sum"), stuck)
    assert result.verdict is Verdict.INCONCLUSIVE and "cannot sum" in result.reason


def test_when_simplify_cannot_confirm_the_proof_is_inconclusive(monkeypatch):
    from emastats.symbolic import zero

    monkeypatch.setattr(zero, "_simplifies_to_zero", lambda expr: None)  # spot checks alone never prove
    result = proving.run_proof(catalogue.get("ema.geometric_sum"), PROOFS["ema.geometric_sum"])
    assert result.verdict is Verdict.INCONCLUSIVE


def test_a_proof_past_its_time_limit_is_inconclusive():
    claim = catalogue.get("minibatch.covariance.with_replacement")
    result = proving.run_proof(claim, PROOFS[claim.id], time_limit_s=0.001)
    assert result.verdict is Verdict.INCONCLUSIVE and result.method == "timeout"


# --- the worker pool of `emastats prove` -------------------------------------------------------


class _ExitsWhenUnpickled:
    """A claim title that ends the worker process receiving it: a stand-in for a proof that crashes Python."""

    def __reduce__(self):
        return (os._exit, (7,))


class _HangsWhenUnpickled:
    """A claim title that blocks the worker outside any proof, where its alarm is not set."""

    def __reduce__(self):
        return (time.sleep, (120,))


def _claim(cid: str, title: object) -> Claim:
    return Claim(cid, title, "x = x", general="a test claim")  # type: ignore[arg-type]


POOL_IDS = ("minibatch.frozen_gradient.mean", "minibatch.frozen_gradient.variance", "ema.unnormalised_sum.scaled")
POOL_TIME_LIMIT = 3.0  # 30 times what the slowest of these proofs takes on a busy machine


@pytest.fixture(scope="module")
def pool_run() -> tuple[list, list]:
    claims = [catalogue.get(POOL_IDS[0]), _claim("test.no_proof", "no proof is registered"),
              _claim("test.worker_dies", _ExitsWhenUnpickled()), catalogue.get(POOL_IDS[1]),
              _claim("test.worker_hangs", _HangsWhenUnpickled()), catalogue.get(POOL_IDS[2])]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(proving, "KILL_GRACE_S", 0.5)
        return claims, proving.prove(claims, time_limit_s=POOL_TIME_LIMIT, jobs=2)


def test_the_pool_returns_the_in_process_results_in_order(pool_run):
    claims, pooled = pool_run
    assert [r.claim_id for r in pooled] == [c.id for c in claims]
    for cid in POOL_IDS:
        alone = proving.run_proof(catalogue.get(cid), PROOFS[cid])
        in_pool = next(r for r in pooled if r.claim_id == cid)
        assert (in_pool.verdict, in_pool.method, in_pool.steps) == (alone.verdict, alone.method, alone.steps)
    assert pooled[1].verdict is Verdict.NOT_RUN


def test_a_worker_that_dies_costs_only_its_claim(pool_run):
    _, pooled = pool_run
    died = pooled[2]
    assert died.verdict is Verdict.ERROR and "died" in died.reason and "exit code 7" in died.reason
    assert pooled[3].verdict is Verdict.PROVED and pooled[5].verdict is Verdict.PROVED  # the run went on


def test_a_worker_that_stops_answering_is_stopped_as_a_timeout(pool_run):
    _, pooled = pool_run
    hung = pooled[4]
    assert hung.verdict is Verdict.INCONCLUSIVE and hung.method == "timeout"


def test_prove_rejects_a_pool_of_no_workers():
    with pytest.raises(ValueError, match="at least 1"):
        proving.prove([catalogue.get(POOL_IDS[0])], jobs=0)


def test_the_cli_rejects_jobs_below_one_in_one_line(capsys):
    from emastats import cli

    assert cli.main(["prove", "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--jobs" in err
