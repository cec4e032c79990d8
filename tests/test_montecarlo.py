"""The Monte Carlo engine: accumulators, statistics, kernels, device choice, runner, experiment coverage."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from emastats import catalogue
from emastats.errors import UsageError
from emastats.montecarlo import (
    Moments,
    claim_seed,
    ema_final,
    ema_path,
    experiment,
    minibatch_indices,
    registered,
    resolve_device,
    run_experiment,
)
from emastats.montecarlo import stats
from emastats.montecarlo.context import Context
from emastats.montecarlo.runner import empirical_from_dict, finalise_results, make_generator
from emastats.results import Check
from emastats.verdict import Verdict

CPU = torch.device("cpu")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    resolve_device("cpu")  # also sets one intra-op thread


def _data(n: int = 3000, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=(n, d)) + np.array([5.0, -2.0, 100.0])[:d]
    x[:, 1] += 0.5 * x[:, 0]  # correlated components
    return x


# ----- accumulators ---------------------------------------------------------------------------------

def test_moments_match_numpy():
    x = _data()
    m = Moments.from_samples(torch.as_tensor(x))
    c = x - x.mean(axis=0)
    np.testing.assert_allclose(m.mean(), x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(m.covariance(), np.cov(x.T), rtol=1e-10)
    np.testing.assert_allclose(m.fourth_central(), (c[:, :, None] ** 2 * c[:, None, :] ** 2).mean(axis=0),
                               rtol=1e-9)


@pytest.mark.parametrize("cuts", [(1,), (500, 501), (17, 1000, 2999)])
def test_merge_is_exact_whatever_the_split(cuts):
    x = _data()
    whole = Moments.from_samples(torch.as_tensor(x))
    parts = [Moments.from_samples(torch.as_tensor(p)) for p in np.split(x, cuts)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    reversed_merge = parts[-1]
    for p in parts[-2::-1]:
        reversed_merge = reversed_merge.merge(p)
    for m in (merged, reversed_merge):
        assert m.n == whole.n
        np.testing.assert_allclose(m.covariance(), whole.covariance(), rtol=1e-9)
        np.testing.assert_allclose(m.fourth_central(), whole.fourth_central(), rtol=1e-8)
        np.testing.assert_allclose(m.mean(), whole.mean(), rtol=1e-12)


def test_stream_bounds_chunks_and_counts_every_sample():
    seen = []

    def sampler(n):
        seen.append(n)
        return torch.ones(n, 2) * torch.arange(n)[:, None]

    m = Moments.stream(sampler, replicas=1000, chunk=300)
    assert seen == [300, 300, 300, 100] and m.n == 1000
    with pytest.raises(UsageError, match="replicas"):
        Moments.stream(sampler, replicas=1, chunk=10)


def test_variance_stderr_uses_the_fourth_moment():
    # Exp(1): variance 1, mu4 = 9, so sd of the sample variance is sqrt(8/n) (a Gaussian formula would give sqrt(2/n))
    x = torch.as_tensor(np.random.default_rng(1).exponential(size=200_000))
    m = Moments.from_samples(x)
    assert m.stderr_variance()[0] == pytest.approx(math.sqrt(8 / x.numel()), rel=0.05)
    assert m.stderr_mean()[0] == pytest.approx(math.sqrt(1 / x.numel()), rel=0.02)


# ----- statistics -----------------------------------------------------------------------------------

def _check(estimate, stderr, theory=1.0, tolerance=0.05, control=False) -> Check:
    return Check(claim_id="x.y", name="c", kind="statistical", estimator="e", test="t", theory=theory,
                 estimate=estimate, ci_low=math.nan, ci_high=math.nan, confidence=math.nan, tolerance=tolerance,
                 replicas=1000, verdict=Verdict.NOT_RUN, pvalue=stats.pvalue(estimate, stderr, theory),
                 stderr=stderr, margin=tolerance * abs(theory), control=control)


def test_holm_matches_statsmodels_definition():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_decide_confirms_refutes_and_states_the_margin_it_resolves():
    confirmed, refuted, coarse = stats.finalise([_check(1.001, 0.005), _check(1.2, 0.01), _check(1.01, 0.02)])
    assert confirmed.verdict is Verdict.CONFIRMED and confirmed.ci_low < 1.001 < confirmed.ci_high
    assert confirmed.resolved and confirmed.tolerance == 0.05 and confirmed.min_detectable <= 0.025
    assert refuted.verdict is Verdict.REFUTED and refuted.pvalue_holm < 0.05
    # se 0.02 cannot resolve a 5% margin: it is decided at the margin it achieves, 2 min_detectable, and says so
    assert coarse.resolved is False and coarse.target_tolerance == 0.05
    assert coarse.tolerance == pytest.approx(2 * coarse.min_detectable) and coarse.tolerance > 0.05
    assert "resolves" in stats.claim_verdicts([coarse]).reason
    assert confirmed.confidence == pytest.approx(1 - 0.05 / 3)


def test_finalising_twice_changes_nothing():
    once = stats.finalise([_check(1.001, 0.005), _check(1.2, 0.01), _check(1.01, 0.02)])
    assert stats.finalise(once) == once


@pytest.mark.parametrize("estimate, expected", [(1.003, Verdict.CONFIRMED), (1.035, Verdict.REFUTED)])
def test_enough_replicas_resolve_the_margin(estimate, expected):
    """Se shrunk tenfold: near the theory it confirms at the 5% margin, 3.5% off is refuted."""
    family = [_check(1.001, 0.005), _check(1.2, 0.01)]
    coarse = stats.finalise([*family, _check(estimate, 0.02)])[2]
    assert not coarse.resolved
    more = stats.finalise([*family, _check(estimate, 0.002)])[2]
    assert more.resolved and more.tolerance == 0.05 and more.verdict is expected


def test_a_control_sized_from_the_margin_sits_one_and_a_half_margins_away():
    truth = _check(1.0, 0.002)
    control = dataclasses.replace(_check(1.0, 0.002, control=True), reference=1.0, shift=1.5, theory_of="control")
    decided = stats.finalise([truth, control])[1]
    assert decided.theory == pytest.approx(1.0 + 1.5 * decided.tolerance) and decided.verdict is Verdict.REFUTED
    wide = stats.finalise([truth, dataclasses.replace(control, stderr=0.05)])[1]  # coarser: the control moves out
    assert wide.theory == pytest.approx(1.0 + 1.5 * wide.tolerance) and wide.tolerance > 0.05


def test_failed_control_downgrades_a_confirmation():
    checks = stats.finalise([_check(1.0, 0.001), _check(1.0, 0.001, theory=1.0001, control=True)])
    v = stats.claim_verdicts(checks)
    assert checks[1].verdict is not Verdict.REFUTED
    assert v.stated is Verdict.INCONCLUSIVE and "control" in v.reason


# ----- kernels and devices --------------------------------------------------------------------------

@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5, float("nan")])
def test_bad_beta_is_a_usage_error(beta):
    with pytest.raises(UsageError, match="beta"):
        ema_path(torch.zeros(3, 4), beta)


def test_bad_batch_and_replicas_are_usage_errors():
    gen = make_generator(CPU, 0)
    with pytest.raises(UsageError, match="exceeds"):
        minibatch_indices(10, 11, 5, gen, replacement=False)
    with pytest.raises(UsageError, match="replicas"):
        minibatch_indices(10, 3, 1, gen, replacement=True)
    with pytest.raises(UsageError, match="replicas"):
        ema_final(torch.zeros(3, 1), 0.5)
    minibatch_indices(10, 11, 5, gen, replacement=True)  # fine with replacement


def test_without_replacement_indices_are_distinct_subsets():
    idx = minibatch_indices(12, 7, 500, make_generator(CPU, 3), replacement=False)
    assert idx.shape == (500, 7)
    assert all(len(set(row.tolist())) == 7 for row in idx)
    assert int(idx.min()) == 0 and int(idx.max()) == 11


def test_ema_kernel_matches_a_scalar_loop():
    x = torch.randn(6, 3, dtype=torch.float64, generator=make_generator(CPU, 1))
    path = ema_path(x, 0.7, init=2.0)
    for r in range(3):
        m = 2.0
        for t in range(6):
            m = 0.7 * m + 0.3 * float(x[t, r])
            assert float(path[t, r]) == pytest.approx(m, rel=1e-14)
    assert torch.equal(ema_final(x, 0.7, init=2.0), path[-1])


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", ""])
def test_unknown_device_is_a_usage_error(name):
    if name == "":
        assert resolve_device(name).type in ("cpu", "cuda")  # empty means auto
        return
    with pytest.raises(UsageError):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_cuda_is_a_usage_error():
    with pytest.raises(UsageError, match="not available"):
        resolve_device("cuda")


def test_cpu_defaults_to_one_thread(monkeypatch):
    monkeypatch.delenv("EMASTATS_CPU_THREADS", raising=False)
    resolve_device("cpu")
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("EMASTATS_CPU_THREADS", "zero")
    with pytest.raises(UsageError):
        resolve_device("cpu")
    # a library caller gets the command line's rule too: at most the machine's CPUs (issue 11 H)
    monkeypatch.delenv("EMASTATS_CPU_THREADS", raising=False)
    with pytest.raises(UsageError, match="CPUs of this machine"):
        resolve_device("cpu", threads=100000)


# ----- runner ---------------------------------------------------------------------------------------

def _toy(ctx: Context) -> None:
    acc = ctx.moments(lambda n: torch.randn(n, generator=ctx.generator, device=ctx.device) + 2.0)
    ctx.check_mean("mean 2", acc, 2.0, ctx.tolerance(0.02))
    ctx.check_variance("variance 1", acc, 1.0, ctx.tolerance(0.05))
    ctx.check_mean("control: mean 2.1", acc, 2.1, ctx.tolerance(0.02), control=True)


def test_runs_are_reproducible_and_seeded_per_claim():
    a = run_experiment("ema.bias.mean", _toy, seed=5, device=CPU, quick=True)
    b = run_experiment("ema.bias.mean", _toy, seed=5, device=CPU, quick=True)
    c = run_experiment("ema.bias.debias", _toy, seed=5, device=CPU, quick=True)
    assert [k.estimate for k in a.checks] == [k.estimate for k in b.checks]
    assert a.checks[0].estimate != c.checks[0].estimate
    assert claim_seed(5, "ema.bias.mean") == claim_seed(5, "ema.bias.mean") != claim_seed(6, "ema.bias.mean")
    assert a.verdict is Verdict.CONFIRMED and a.checks[2].verdict is Verdict.REFUTED


def test_an_exception_is_an_error_result_not_a_crash():
    def broken(ctx):
        raise RuntimeError("boom")

    r = run_experiment("ema.bias.mean", broken, seed=0, device=CPU, quick=True)
    assert r.verdict is Verdict.ERROR and "boom" in r.reason
    nothing = run_experiment("ema.bias.mean", lambda ctx: None, seed=0, device=CPU, quick=True)
    assert nothing.verdict is Verdict.ERROR


def test_finalisation_survives_a_round_trip_through_json_and_is_per_claim():
    results = [run_experiment(cid, _toy, seed=2, device=CPU, quick=True) for cid in ("a.b", "a.c")]
    final = finalise_results(results)
    again = finalise_results([empirical_from_dict(r.to_dict()) for r in final])
    assert [r.to_dict() for r in again] == [r.to_dict() for r in final]
    m = len(results[0].checks)  # the family is the claim's own checks, not the run's
    assert final[0].checks[0].confidence == pytest.approx(1 - stats.claim_alpha() / m)
    alone = finalise_results(results[:1])
    assert alone[0].to_dict() == final[0].to_dict()


def test_duplicate_registration_is_refused():
    from emastats.montecarlo.registry import EXPERIMENTS

    try:
        experiment("zz.test.dup")(_toy)
        with pytest.raises(RuntimeError, match="two experiments"):
            experiment("zz.test.dup")(test_duplicate_registration_is_refused)
    finally:
        EXPERIMENTS.discard("zz.test.dup")


# ----- coverage of the catalogue --------------------------------------------------------------------

MY_TOPICS = ("ema.", "minibatch.", "batchnorm.", "sigmoid.")


def test_every_simulable_claim_of_these_topics_has_an_experiment():
    experiments = registered()
    wanted = [c.id for c in catalogue.CLAIMS.values() if c.empirical != "none" and c.id.startswith(MY_TOPICS)]
    assert wanted and [cid for cid in wanted if cid not in experiments] == []
    assert all(cid in catalogue.CLAIMS for cid in experiments), "experiment for an unknown claim id"
