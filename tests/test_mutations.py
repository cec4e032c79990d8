"""A mutation suite: wrong variants generated from the catalogue's formulas must be refuted.

Like hypothesis checking that its search finds planted bugs: each variant
(``emastats.symbolic.mutations``: x(1 +- 2%), exponent shifts, beta <-> 1 - beta,
sign flips, dropped factors, forms agreeing with the truth at one parameter
point) replaces the claim's formula in memory and goes through the claim's own
proof, which must REFUTE it; equivalent rewrites must never be refuted.

Monte Carlo, at the full budget on a CPU, for a subset that fits the suite's
time: four variants of ``ema.bias.mean`` and one of ``batchnorm.running_var``
(the two cheapest statistical experiments), a window of T - 1 steps for
``minibatch.frozen_gradient.mean`` and a B-dependent law for per-example clipping,
each must be REFUTED; an expanded rewrite must be CONFIRMED. The kill rate over every variant of every formula is
measured by ``benchmarks/calibration.py --mutations`` and reported in the notes.
"""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

from emastats import catalogue
from emastats.montecarlo import registered as registered_experiments
from emastats.montecarlo import resolve_device, run_experiment
from emastats.proving import registered as registered_proofs
from emastats.proving import run_proof
from emastats.symbolic.mutations import mutants, rewrites
from emastats.verdict import Verdict

# claims whose proofs are quick, with one grid point of each experiment (for the 'agrees at one point' variants)
SYMBOLIC = {
    "ema.bias.mean": {"beta": 0.9, "t": 4, "mu": 0.5},
    "ema.running_average.variance.stationary": {"N": 5, "sigma_x^2": 2.25},
    "ema.running_average.versus_plain": {"N": 4},
    "minibatch.covariance.with_replacement": {"B": 4},
    "minibatch.frozen_gradient.variance": {"eta": 0.2},
    "adam.batch_size_coupling": {"B": 8},
    "batchnorm.variance.biased": {"B": 5, "sigma^2": 4},
    "batchnorm.running_var": {"p": 0.1, "t": 5, "sigma^2": 4},
    "clipping.value.gaussian": {"mu": 1.5, "sigma": 1.0, "c": 1.0},
    "clipping.norm.gaussian": {"d": 4, "c": 2.0},
    # deterministic claims: a trajectory mapping, an unrolled weight, two stability bounds
    "momentum.equivalence": {"eta_trad": 0.05, "beta1": 0.9},
    "momentum.heavy_ball.unrolled": {"mu": 0.8},
    "momentum.stability.gd": {},
    "momentum.stability.heavy_ball": {"mu": 0.6},
    "rmsprop.constant_gradient": {"beta2": 0.8, "t": 5},  # a pair (<g^2>_t, step_t): each entry is mutated
    "ema.unnormalised_sum.limit": {"N": 5},
    "ema.unnormalised_sum.scaled": {"N": 7},
    "ema.warmup.min_t_n": {"c_x": 0.5},
    "ema.warmup.plain_average": {"t": 4},
}

# laws that must not depend on the sizes N, B (or the window eta) that their experiments sweep: besides the variants
# above, the law times a factor in the sizes (``size_factors``), at one grid point of the experiment
SIZE_FREE = {
    "minibatch.unbiased.with_replacement": ({"g_fb": 0.5}, {"N": 24, "B": 16}),
    "minibatch.unbiased.without_replacement": ({"g_fb": 0.5}, {"N": 24, "B": 8}),
    "minibatch.frozen_gradient.mean": ({}, {"N": 24, "B": 4, "eta": 0.2}),
    "clipping.per_example.bias_independent_of_b": ({}, {"B": 4}),
}

# claims false as stated: the variants are of the corrected law, which the proof must then refute as the correction
CORRECTED = {
    "noise.weighted_sum.covariance": {"n": 4},
    "adam.bias_correction": {"t": 3, "beta1": 0.9},  # a pair of laws (mhat, vhat): each entry is mutated
    "noise.temperature.sgd_discrete": {"B": 4, "eta0": 0.05},
    "noise.temperature.momentum": {"mu": 0.5, "B": 64},
}


# rewrites whose proofs take seconds each (sympy simplifying erf over a common denominator): left to the benchmark
SLOW_REWRITES = {"clipping.value.gaussian": ("factor", "together")}


def _variants(kind, table=SYMBOLIC, field="formula"):
    out = []
    for claim_id, point in table.items():
        expr = getattr(catalogue.get(claim_id), field).expr
        point, sizes = point if isinstance(point, tuple) else (point, None)
        for name, variant in (mutants(expr, point, sizes) if kind == "wrong" else rewrites(expr)):
            if name not in SLOW_REWRITES.get(claim_id, ()):
                out.append((claim_id, name, variant))
    return out


WRONG, SAME = _variants("wrong") + _variants("wrong", SIZE_FREE), _variants("same")
WRONG_FIX, SAME_FIX = (_variants(kind, CORRECTED, "corrected_formula") for kind in ("wrong", "same"))


def _edited(claim_id, expr, field="formula"):
    claim = catalogue.get(claim_id)
    return dataclasses.replace(claim, **{field: getattr(claim, field).with_expr(expr)})


def test_every_wrong_variant_of_a_corrected_law_is_refuted_and_its_rewrites_proved():
    assert len(WRONG_FIX) >= 60 and SAME_FIX
    proofs = registered_proofs()
    survivors = [(cid, name) for cid, name, expr in WRONG_FIX
                 if run_proof(_edited(cid, expr, "corrected_formula"), proofs[cid]).corrected_verdict
                 is not Verdict.REFUTED]
    assert not survivors, f"symbolic kill rate {1 - len(survivors) / len(WRONG_FIX):.3f}; survived: {survivors}"
    for cid, name, expr in SAME_FIX:
        assert run_proof(_edited(cid, expr, "corrected_formula"), proofs[cid]).corrected_verdict is Verdict.PROVED, \
            (cid, name)


def test_the_suite_is_large_and_covers_every_kind_of_mutation():
    assert len(WRONG) >= 20
    names = " ".join(name for _, name, _ in WRONG)
    for kind in ("(1 + 1/50)", "(1 - 1/50)", "exponent", "-> 1 - ", "sign of", "dropped", "agrees where",
                 "finite-population factor", "T - 1 steps"):
        assert kind in names, kind


def test_every_wrong_variant_is_refuted_symbolically():
    proofs = registered_proofs()
    survivors = [(cid, name) for cid, name, expr in WRONG
                 if run_proof(_edited(cid, expr), proofs[cid]).verdict is not Verdict.REFUTED]
    assert not survivors, f"symbolic kill rate {1 - len(survivors) / len(WRONG):.3f}; survived: {survivors}"


def test_equivalent_rewrites_are_never_refuted_symbolically():
    assert SAME
    proofs = registered_proofs()
    for cid, name, expr in SAME:
        assert run_proof(_edited(cid, expr), proofs[cid]).verdict is Verdict.PROVED, (cid, name)


def _by_name(claim_id, name):
    expr = catalogue.get(claim_id).formula.expr
    point, sizes = SIZE_FREE.get(claim_id, (SYMBOLIC.get(claim_id), None))
    return dict(mutants(expr, point, sizes))[name]


MONTE_CARLO = [
    ("ema.bias.mean", "x (1 + 1/50)"),
    ("ema.bias.mean", "exponent of beta**t + 1"),
    ("ema.bias.mean", "beta -> 1 - beta"),
    ("ema.bias.mean", "x (mu / 0.5): agrees where mu = 0.5"),
    ("batchnorm.running_var", "x (1 - 1/50)"),
    ("minibatch.frozen_gradient.mean", "x (1 - eta): a window of T - 1 steps"),
    ("clipping.per_example.bias_independent_of_b", "x (B / 4): agrees where B = 4"),
]


@pytest.mark.parametrize("claim_id, name", MONTE_CARLO, ids=[f"{c}:{n}" for c, n in MONTE_CARLO])
def test_wrong_variants_are_refuted_by_monte_carlo_at_the_full_budget(claim_id, name):
    experiment = registered_experiments()[claim_id]
    result = run_experiment(claim_id, experiment, seed=3, device=resolve_device("cpu"), quick=False,
                            claim=_edited(claim_id, _by_name(claim_id, name)))
    assert result.verdict is Verdict.REFUTED, (name, result.reason)


def test_an_equivalent_rewrite_is_confirmed_by_monte_carlo():
    claim_id = "ema.bias.mean"
    expanded = sp.expand(catalogue.get(claim_id).formula.expr)
    result = run_experiment(claim_id, registered_experiments()[claim_id], seed=3, device=resolve_device("cpu"),
                            quick=False, claim=_edited(claim_id, expanded))
    assert result.verdict is Verdict.CONFIRMED, result.reason
