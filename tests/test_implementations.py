"""The catalogue's update rules against the real torch.optim and pandas objects (impl.* claims)."""
from __future__ import annotations

import pytest
import torch

from emastats import catalogue
from emastats.montecarlo import finalise_results, registered, run_experiment
from emastats.proving import prove
from emastats.verdict import Verdict

# What each framework really computes, as the comparisons must find it (stated verdict, corrected verdict).
EXPECTED = {
    "impl.torch_sgd.traditional_form": (Verdict.CONFIRMED, None),
    "impl.torch_sgd.momentum_first_step": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.torch_sgd.average_form": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.torch_sgd.lr_schedule": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.torch_sgd.nesterov": (Verdict.CONFIRMED, None),
    "impl.torch_adam.bias_corrected_update": (Verdict.CONFIRMED, None),
    "impl.torch_adam.eps_placement": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.torch_rmsprop.square_avg": (Verdict.CONFIRMED, None),
    "impl.torch_rmsprop.eps_placement": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.torch_rmsprop.first_step": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.pandas_ewm.adjust_true_is_debiased": (Verdict.CONFIRMED, None),
    "impl.pandas_ewm.adjust_false_start": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.pandas_ewm.span_is_not_n": (Verdict.REFUTED, Verdict.CONFIRMED),
    "impl.pandas_ewm.var_bias_true": (Verdict.CONFIRMED, None),
    "impl.pandas_ewm.var_bias_false": (Verdict.CONFIRMED, None),
}

IMPL_IDS = [cid for cid in catalogue.CLAIMS if cid.startswith("impl.")]


@pytest.fixture(scope="module")
def empirical():
    torch.set_num_threads(1)
    experiments = registered()
    runs = [run_experiment(cid, experiments[cid], seed=7, device=torch.device("cpu"), quick=True)
            for cid in IMPL_IDS]
    return {r.claim_id: r for r in finalise_results(runs)}


def test_every_listed_optimizer_is_covered():
    topics = {cid.split(".")[1] for cid in IMPL_IDS}
    assert {"torch_sgd", "torch_adam", "torch_rmsprop", "pandas_ewm"} <= topics
    sgd = {cid for cid in IMPL_IDS if cid.startswith("impl.torch_sgd.")}
    # momentum, dampening and nesterov each have a claim of their own
    assert {"impl.torch_sgd.traditional_form", "impl.torch_sgd.momentum_first_step", "impl.torch_sgd.nesterov"} <= sgd
    assert set(IMPL_IDS) == set(EXPECTED)


def test_impl_claims_are_deterministic_with_an_explanation():
    for cid in IMPL_IDS:
        claim = catalogue.get(cid)
        assert claim.empirical == "deterministic"
        assert claim.general or claim.sources


@pytest.mark.parametrize("claim_id", sorted(EXPECTED))
def test_comparison_against_the_real_object(empirical, claim_id):
    result = empirical[claim_id]
    stated, corrected = EXPECTED[claim_id]
    assert result.verdict is stated, result.reason
    assert result.corrected_verdict is corrected
    for check in result.checks:
        if check.kind == "deterministic" and check.verdict is Verdict.CONFIRMED:
            assert check.estimate <= 1e-9  # agreement means agreement to rounding, not "close"
        if check.control:
            assert check.verdict is Verdict.REFUTED, f"{claim_id}: control {check.name} not refuted"


def test_every_impl_claim_has_a_decided_proof_agreeing_with_the_comparison(empirical):
    proofs = {r.claim_id: r for r in prove([catalogue.get(cid) for cid in IMPL_IDS])}
    for cid in IMPL_IDS:
        symbolic = proofs[cid].verdict
        assert symbolic in (Verdict.PROVED, Verdict.REFUTED), (cid, symbolic, proofs[cid].reason)
        # a proof and the real implementation must agree on whether the stated form holds
        assert (symbolic is Verdict.PROVED) == (empirical[cid].verdict is Verdict.CONFIRMED), cid
        if symbolic is Verdict.REFUTED:
            assert proofs[cid].counterexample


def test_a_wrong_reference_is_caught():
    """The comparison itself must fail when the reference is wrong: perturb torch's Adam eps."""
    from emastats.experiments import implementations as impl
    from emastats.montecarlo.runner import make_generator
    from emastats.montecarlo import Context

    ctx = Context(claim_id="impl.torch_adam.bias_corrected_update", seed=1, claim_seed=1,
                  device=torch.device("cpu"), generator=make_generator(torch.device("cpu"), 1), quick=True,
                  replicas=8)
    grads = impl.gradient_stream(ctx)
    w0 = torch.zeros_like(grads[0])
    run = impl.run_torch(lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-3), lambda t, _p: grads[t], len(grads), w0)
    right = impl.adam_steps(grads, 0.01, 0.9, 0.999, 1e-3, eps_inside=False)
    wrong = impl.adam_steps(grads, 0.01, 0.9, 0.999, 2e-3, eps_inside=False)
    ctx.check_close("right", run.params[1:] - run.params[:-1], right, impl.ATOL, impl.RTOL)
    ctx.check_close("wrong", run.params[1:] - run.params[:-1], wrong, impl.ATOL, impl.RTOL)
    assert [c.verdict for c in ctx.checks] == [Verdict.CONFIRMED, Verdict.REFUTED]


# --- a failed simplification never refutes ---------------------------------------------------------------------

def _no_simplify(monkeypatch):
    """proofs/implementations.py with a simplify that gives up (returns its input unchanged)."""
    import types

    import sympy

    from emastats.proofs import implementations as impl

    lazy = types.SimpleNamespace(**{k: getattr(sympy, k) for k in dir(sympy) if not k.startswith("_")})
    lazy.simplify = lambda expr, *a, **k: expr
    monkeypatch.setattr(impl, "sp", lazy)
    return impl


def test_an_unsimplified_identity_is_not_refuted(monkeypatch):
    impl = _no_simplify(monkeypatch)
    import sympy as sp

    x = sp.Symbol("x", real=True)
    d = impl._refute_or_prove("expansion", (x + 1) ** 2, x**2 + 2 * x + 1, {x: 1}, ("lhs", "rhs"), [])
    assert d.verdict is Verdict.PROVED
    # torch's Adam update: the ratio no longer simplifies to 1, yet nothing evaluated differs
    assert impl.torch_adam_bias_corrected_update().verdict is not Verdict.REFUTED


def test_a_refutation_shows_evaluated_values(monkeypatch):
    impl = _no_simplify(monkeypatch)
    import sympy as sp

    x = sp.Symbol("x", real=True)
    d = impl._refute_or_prove("shift", x, x + 1, {x: 2}, ("lhs", "rhs"), [])
    assert d.verdict is Verdict.REFUTED
    assert d.counterexample == {"x": "2", "lhs": "2", "rhs": "3"}
