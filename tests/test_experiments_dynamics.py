"""The momentum, adaptive, noise and clipping experiments, run at the --quick budget through the real runner."""
from __future__ import annotations

import pytest
import torch

from emastats import catalogue
from emastats.montecarlo import finalise_results, registered, resolve_device, run_experiment
from emastats.verdict import Verdict

TOPICS = ("momentum", "adaptive", "noise", "clipping")  # experiments/<topic>.py owned here
C, R = Verdict.CONFIRMED, Verdict.REFUTED

# (verdict on the statement, verdict on the corrected statement or None)
EXPECTED = {
    "momentum.equivalence": (C, None),
    "momentum.heavy_ball.unrolled": (C, None),
    "momentum.nesterov.lookahead": (C, None),
    "momentum.stability.gd": (C, None),
    "momentum.stability.heavy_ball": (C, None),
    "rmsprop.update.sign": (R, C),
    "rmsprop.constant_gradient": (C, None),
    "adam.second_moment.first_step": (C, None),
    "adam.bias_correction": (R, C),
    "adam.batch_size_coupling": (C, None),
    "noise.weighted_sum.covariance": (R, C),
    "noise.temperature.sgd_discrete": (R, C),
    "noise.temperature.momentum": (R, C),
    "clipping.biased": (C, None),
    "clipping.value.gaussian": (C, None),
    "clipping.norm.gaussian": (C, None),
    "clipping.per_example.bias_independent_of_b": (C, None),
}


def _mine() -> dict:
    return {cid: fn for cid, fn in registered().items() if fn.__module__.rsplit(".", 1)[-1] in TOPICS}


def test_every_simulable_claim_of_these_topics_has_an_experiment():
    modules = {"momentum": "momentum", "rmsprop": "adaptive", "adam": "adaptive", "noise": "noise",
               "clipping": "clipping"}
    wanted = {c.id for c in catalogue.CLAIMS.values() if c.empirical != "none" and c.topic in modules}
    assert wanted == set(_mine()) == set(EXPECTED)


@pytest.fixture(scope="module")
def quick_results():
    torch.set_num_threads(1)
    device = resolve_device("cpu")
    experiments = _mine()
    runs = [run_experiment(cid, experiments[cid], seed=20261122, device=device, quick=True) for cid in EXPECTED]
    return {r.claim_id: r for r in finalise_results(runs)}


def test_quick_run_reaches_the_expected_verdicts(quick_results):
    got = {cid: (r.verdict, r.corrected_verdict) for cid, r in quick_results.items()}
    assert got == EXPECTED, {cid: (r.verdict, r.corrected_verdict, r.reason) for cid, r in quick_results.items()
                             if got[cid] != EXPECTED[cid]}


def test_every_negative_control_is_refuted_and_statistical_claims_have_one(quick_results):
    for cid, result in quick_results.items():
        controls = [c for c in result.checks if c.control]
        assert all(c.verdict is Verdict.REFUTED for c in controls), cid
        claim = catalogue.get(cid)
        if claim.empirical == "statistical":
            assert controls, f"{cid} has no negative control"
        assert {c.kind for c in result.checks} == {claim.empirical}, cid


def test_claims_with_a_correction_check_both_versions(quick_results):
    for cid, result in quick_results.items():
        kinds = {c.theory_of for c in result.checks if not c.control}
        if catalogue.get(cid).corrected is not None and EXPECTED[cid][1] is not None:
            assert kinds == {"stated", "corrected"}, cid
        else:
            assert kinds == {"stated"}, cid


def test_statistical_checks_state_their_test_and_power(quick_results):
    for result in quick_results.values():
        for check in result.checks:
            if check.kind == "statistical":
                assert check.test and check.estimator and check.replicas > 1
                assert check.min_detectable is not None and check.min_detectable > 0
                assert check.ci_low <= check.estimate <= check.ci_high
