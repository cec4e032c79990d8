"""One formula per claim: the catalogue's sympy object is what the proof proves and the experiment evaluates.

Editing a catalogue formula (in memory, for this test only) must change both
verdicts; and a claim's verdict must not depend on which other claims ran.
"""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from emastats import catalogue
from emastats.catalogue._symbols import B, N, Sigma1, sigma_x2
from emastats.claim import Formula
from emastats.montecarlo import resolve_device
from emastats.verdict import Verdict
from emastats.verification import Settings, verify

CPU = resolve_device("cpu")
EDITS = [
    ("ema.running_average.variance.stationary", sigma_x2 / (2 * N)),  # the notes' large-N shortcut
    ("minibatch.covariance.with_replacement", Sigma1 / (B - 1)),  # a Bessel-style denominator
]


def _verify(ids, tmp_path, name):
    settings = Settings(seed=11, device=CPU, quick=True, alpha=0.05)
    return {o.claim.id: o for o in verify([catalogue.get(i) for i in ids], settings, str(tmp_path / name))}


@pytest.mark.parametrize("claim_id, wrong", EDITS, ids=[e[0] for e in EDITS])
def test_editing_a_catalogue_formula_changes_both_verdicts(claim_id, wrong, tmp_path, monkeypatch):
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert before.symbolic.verdict is Verdict.PROVED and before.empirical.verdict is Verdict.CONFIRMED
    claim = catalogue.get(claim_id)
    monkeypatch.setitem(catalogue.CLAIMS, claim_id, dataclasses.replace(claim, formula=claim.formula.with_expr(wrong)))
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert after.symbolic.verdict is Verdict.REFUTED and after.empirical.verdict is Verdict.REFUTED
    assert after.claim.to_dict()["formula_latex"].endswith(sp.latex(wrong))
    # the experiment tested the edited law at every grid point it simulated
    stated = [c for c in after.empirical.checks if c.theory_of == "stated" and c.kind == "statistical"]
    assert {c.verdict for c in stated} == {Verdict.REFUTED} and all(c.parameters for c in stated)


def test_editing_the_weighted_sum_laws_changes_both_verdicts(tmp_path, monkeypatch):
    """noise.weighted_sum.covariance: the notes' (sum alpha) Sigma_g is refuted and (sum alpha^2) Sigma_g holds.

    Swapping the two catalogue objects swaps every verdict, on both sides, at every weight vector simulated."""
    claim_id = "noise.weighted_sum.covariance"
    claim = catalogue.get(claim_id)
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert (before.symbolic.verdict, before.symbolic.corrected_verdict) == (Verdict.REFUTED, Verdict.PROVED)
    assert (before.empirical.verdict, before.empirical.corrected_verdict) == (Verdict.REFUTED, Verdict.CONFIRMED)
    swapped = dataclasses.replace(claim, formula=claim.corrected_formula, corrected_formula=claim.formula)
    monkeypatch.setitem(catalogue.CLAIMS, claim_id, swapped)
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert (after.symbolic.verdict, after.symbolic.corrected_verdict) == (Verdict.PROVED, Verdict.REFUTED)
    assert (after.empirical.verdict, after.empirical.corrected_verdict) == (Verdict.CONFIRMED, Verdict.REFUTED)
    wrong = [c for c in after.empirical.checks if c.theory_of == "corrected" and c.kind == "statistical"]
    assert {c.verdict for c in wrong} == {Verdict.REFUTED}
    assert {c.parameters["n"] for c in wrong} == {2, 4, 10}


def test_editing_adams_corrected_estimates_changes_both_corrected_verdicts(tmp_path, monkeypatch):
    """adam.bias_correction: the corrected pair (mhat, vhat) with exponent t instead of t + 1 (the notes' exponent,
    without their swap) is refuted by the proof and by the Monte Carlo run, at every grid point."""
    from emastats.catalogue._symbols import avg_g, avg_g2, beta1, beta2, t

    claim_id = "adam.bias_correction"
    claim = catalogue.get(claim_id)
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert (before.symbolic.corrected_verdict, before.empirical.corrected_verdict) == (Verdict.PROVED,
                                                                                        Verdict.CONFIRMED)
    wrong = sp.Tuple(avg_g / (1 - beta1**t), avg_g2 / (1 - beta2**t))
    edited = dataclasses.replace(claim, corrected_formula=claim.corrected_formula.with_expr(wrong))
    monkeypatch.setitem(catalogue.CLAIMS, claim_id, edited)
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert (after.symbolic.corrected_verdict, after.empirical.corrected_verdict) == (Verdict.REFUTED, Verdict.REFUTED)
    assert after.claim.to_dict()["corrected_latex"].endswith(sp.latex(wrong))
    checks = [c for c in after.empirical.checks if c.theory_of == "corrected" and c.kind == "statistical"]
    assert {(c.parameters["beta1"], c.parameters["t"]) for c in checks if c.verdict is Verdict.REFUTED} == {
        (b, h - 1) for b in (0.9, 0.7, 0.3) for h in (2, 4, 10)}


def test_a_claims_verdict_does_not_depend_on_what_else_ran(tmp_path):
    ids = ["batchnorm.variance.unbiased", "ema.bias.debias"]
    together = _verify(ids, tmp_path, "together")
    alone = _verify(ids[:1], tmp_path, "alone")
    a, b = alone[ids[0]].empirical, together[ids[0]].empirical
    assert a.to_dict()["checks"] == b.to_dict()["checks"] and a.verdict is b.verdict


def test_the_record_carries_the_formula_the_correction_and_the_margin():
    record = catalogue.get("minibatch.covariance.without_replacement").to_dict()
    assert record["formula_latex"] == r"\Sigma^B = " + sp.latex(Sigma1 / B)
    assert record["corrected_latex"] == r"\Sigma^B = " + sp.latex(Sigma1 / B * (N - B) / (N - 1))
    assert record["margin"] == 0.01 and record["parameters"] == ["B", "Sigma^1"]
    assert record["statement"].startswith(r"\Sigma^{B}")  # the notes' printed form is kept as it was
    plain = catalogue.get("ema.geometric_sum").to_dict()
    assert plain["formula_latex"] is None and plain["corrected_latex"] is None


def test_a_formula_evaluates_binds_and_refuses_missing_parameters():
    f = Formula("V", sigma_x2 / ((2 - 1 / N) * N))
    assert f(**{"N": 5, "sigma_x^2": 2.25}) == pytest.approx(0.25)
    n = sp.Symbol("n", positive=True)
    assert sp.simplify(f.bind({"N": n, "sigma_x^2": 1}) - 1 / (2 * n - 1)) == 0
    with pytest.raises(ValueError, match="sigma_x"):
        f(N=5)


def test_a_formula_over_an_indexed_family_takes_a_sequence():
    law = catalogue.get("noise.weighted_sum.covariance").corrected_formula
    assert law.parameters == ("Sigma_g", "alpha", "n")
    assert law(alpha=(0.6, 0.3), n=2, Sigma_g=2.0) == pytest.approx(0.9)
    assert law(alpha=[1, -1, 2], n=3, Sigma_g=1) == pytest.approx(6.0)


def _edit(monkeypatch, claim_id, **fields):
    claim = catalogue.get(claim_id)
    monkeypatch.setitem(catalogue.CLAIMS, claim_id, dataclasses.replace(claim, **fields))


def test_a_finite_population_factor_on_the_mean_changes_both_verdicts(tmp_path, monkeypatch):
    """minibatch.unbiased.without_replacement: E[g_mb] = g_fb (N - B)/(N - 1), the variance's factor misapplied to
    the mean, is refuted by the proof (exact enumeration) and by the Monte Carlo run at every (N, B) simulated."""
    from emastats.catalogue._symbols import g_fb

    claim_id = "minibatch.unbiased.without_replacement"
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert before.symbolic.verdict is Verdict.PROVED and before.empirical.verdict is Verdict.CONFIRMED
    claim = catalogue.get(claim_id)
    _edit(monkeypatch, claim_id, formula=claim.formula.with_expr(g_fb * (N - B) / (N - 1)))
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert after.symbolic.verdict is Verdict.REFUTED and after.empirical.verdict is Verdict.REFUTED
    assert after.symbolic.counterexample["claimed"] != after.symbolic.counterexample["exact E[g_mb] over all minibatches"]
    refuted_at = {(c.parameters["N"], c.parameters["B"]) for c in after.empirical.checks
                  if c.verdict is Verdict.REFUTED and not c.control}
    assert refuted_at == {(12, 4), (24, 8), (48, 20)}


def test_the_temperature_claims_stated_law_is_the_catalogue_formula(tmp_path, monkeypatch):
    """noise.temperature.sgd_discrete: the stated law is the B-free Langevin value eta0 sigma^2 / (2 lambda), refuted
    by the Lyapunov solution and by simulation; replacing it in the catalogue by the exact law flips both verdicts."""
    claim_id = "noise.temperature.sgd_discrete"
    claim = catalogue.get(claim_id)
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert (before.symbolic.verdict, before.empirical.verdict) == (Verdict.REFUTED, Verdict.REFUTED)
    assert before.claim.to_dict()["formula_latex"].endswith(sp.latex(claim.formula.expr))
    _edit(monkeypatch, claim_id, formula=claim.corrected_formula)
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert (after.symbolic.verdict, after.empirical.verdict) == (Verdict.PROVED, Verdict.CONFIRMED)
    stated = [c for c in after.empirical.checks if c.theory_of == "stated" and c.kind == "statistical"]
    assert {c.parameters["B"] for c in stated} == {1, 4, 16}


def test_a_batch_size_dependent_law_for_per_example_clipping_is_refuted_on_both_sides(tmp_path, monkeypatch):
    """clipping.per_example.bias_independent_of_b: kappa B/4 agrees with the truth only at B = 4, so the proof's
    enumeration and the Monte Carlo run refute it at every other B of the grid (1, 16, 64)."""
    from emastats.catalogue._symbols import kappa

    claim_id = "clipping.per_example.bias_independent_of_b"
    claim = catalogue.get(claim_id)
    _edit(monkeypatch, claim_id, formula=claim.formula.with_expr(kappa * B / 4))
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert after.symbolic.verdict is Verdict.REFUTED and after.empirical.verdict is Verdict.REFUTED
    verdicts = {c.parameters["B"]: c.verdict for c in after.empirical.checks if not c.control}
    assert verdicts == {1: Verdict.REFUTED, 4: Verdict.CONFIRMED, 16: Verdict.REFUTED, 64: Verdict.REFUTED}


@pytest.mark.parametrize("claim_id, wrong", [
    ("momentum.equivalence", "eta_trad / beta1"),  # beta1 for 1 - beta1 in the mapping
    ("momentum.heavy_ball.unrolled", "(1 - mu**(s + 1)) / (1 - mu)"),  # the weight one step late
    ("momentum.stability.heavy_ball", "2 + mu"),  # a bound right at mu = 0 only
    ("rmsprop.constant_gradient", "step exponent t + 1"),  # the step's bias correction one step late
    ("ema.unrolled_weights", "total 1 - beta**(t + 1)"),  # the weights' total one step late
    ("adam.second_moment.first_step", "beta2 g**2"),  # beta2 for 1 - beta2
], ids=["equivalence", "unrolled", "stability", "rmsprop", "ema-weights", "adam-first-step"])
def test_editing_a_deterministic_claims_formula_changes_both_verdicts(claim_id, wrong, tmp_path, monkeypatch):
    """The deterministic claims' laws live in the catalogue too: the proof and the trajectory comparison both
    evaluate the edited object, so both refute it."""
    from emastats.catalogue._symbols import beta, beta1, beta2, eta, eta_trad, g, k, mu, s, t

    expr = {"eta_trad / beta1": eta_trad / beta1, "(1 - mu**(s + 1)) / (1 - mu)": (1 - mu ** (s + 1)) / (1 - mu),
            "2 + mu": 2 + mu,
            "step exponent t + 1": sp.Tuple((1 - beta2**t) * g**2, eta * sp.sign(g) / sp.sqrt(1 - beta2 ** (t + 1))),
            "total 1 - beta**(t + 1)": sp.Tuple((1 - beta) * beta ** (t - k), 1 - beta ** (t + 1)),
            "beta2 g**2": beta2 * g**2}[wrong]
    before = _verify([claim_id], tmp_path, "before")[claim_id]
    assert before.symbolic.verdict is Verdict.PROVED and before.empirical.verdict is Verdict.CONFIRMED
    claim = catalogue.get(claim_id)
    _edit(monkeypatch, claim_id, formula=claim.formula.with_expr(expr))
    after = _verify([claim_id], tmp_path, "after")[claim_id]
    assert after.symbolic.verdict is Verdict.REFUTED and after.empirical.verdict is Verdict.REFUTED
    assert after.claim.to_dict()["formula_latex"].endswith(sp.latex(expr))
