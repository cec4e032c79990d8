"""Proofs of the adaptive-method, noise, clipping and normalisation claims.

Every claim of these topics must be decided; every refutation must carry a
counterexample that is re-checked here with plain numbers (Fractions, floats,
numpy), independently of sympy; and deliberately wrong variants of several
claims must be refuted by the same deciding functions the proofs use.
"""
from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from emastats import catalogue
from emastats.layout import load_package
from emastats.proving import run_proof
from emastats.verdict import Verdict

EXPECTED = {
    "rmsprop.update.sign": Verdict.REFUTED,
    "rmsprop.sqrt_epsilon": Verdict.REFUTED,
    "rmsprop.constant_gradient": Verdict.PROVED,
    "adam.second_moment.first_step": Verdict.PROVED,
    "adam.bias_correction": Verdict.REFUTED,
    "adam.batch_size_coupling": Verdict.PROVED,
    "noise.weighted_sum.covariance": Verdict.REFUTED,
    "noise.temperature.langevin": Verdict.PROVED,
    "noise.temperature.sgd_discrete": Verdict.REFUTED,
    "noise.temperature.momentum": Verdict.REFUTED,
    "clipping.biased": Verdict.PROVED,
    "clipping.value.gaussian": Verdict.PROVED,
    "clipping.norm.gaussian": Verdict.PROVED,
    "clipping.per_example.bias_independent_of_b": Verdict.PROVED,
    "batchnorm.variance.biased": Verdict.PROVED,
    "batchnorm.variance.unbiased": Verdict.PROVED,
    "batchnorm.running_var": Verdict.PROVED,
    "sigmoid.derivative_bound": Verdict.PROVED,
}


def _proofs_module(name: str):
    load_package("proofs")
    import importlib

    return importlib.import_module(f"emastats.proofs.{name}")


PROOF_SCRIPTS = {"adaptive": catalogue.adaptive, "noise": catalogue.noise,
                 "clipping": catalogue.clipping, "normalisation": catalogue.normalisation}


@pytest.fixture(scope="module")
def results():
    """Run the proofs of the four scripts (imported alone, so another topic's script cannot break these)."""
    proofs = {}
    for script in PROOF_SCRIPTS:
        module = _proofs_module(script)
        proofs.update({fn.claim_id: fn for fn in vars(module).values() if callable(fn) and hasattr(fn, "claim_id")})
    claims = [c for module in PROOF_SCRIPTS.values() for c in module.CLAIMS]
    return {c.id: run_proof(c, proofs.get(c.id)) for c in claims}


def F(value: str) -> Fraction:
    return Fraction(value)


# ---------------------------------------------------------------- every claim decided


def test_every_claim_of_these_topics_has_a_decided_proof(results):
    assert set(results) == set(EXPECTED), "the catalogue's claims in these topics changed; update EXPECTED"
    for cid, result in results.items():
        assert result.verdict not in (Verdict.ERROR, Verdict.NOT_RUN), (cid, result.reason)
        assert result.verdict is EXPECTED[cid], (cid, result.verdict, result.reason, result.counterexample)
        assert result.method and result.steps, cid


def test_refuted_claims_have_a_counterexample_and_a_proved_correction(results):
    for cid, result in results.items():
        if result.verdict is Verdict.REFUTED:
            assert result.counterexample, cid
            if catalogue.get(cid).corrected is not None:
                assert result.corrected_verdict is Verdict.PROVED, (cid, result.corrected_verdict)
        else:
            assert result.counterexample is None, cid


# ---------------------------------------------------------------- counterexamples re-checked by hand


def test_rmsprop_sign_counterexample_raises_the_loss(results):
    cx = results["rmsprop.update.sign"].counterexample
    w, eta, avg, eps = F(cx["w"]), F(cx["eta"]), F(cx["<g^2>"]), F(cx["epsilon"])
    g = w  # L = w^2/2, so g = L'(w) = w
    w_next = float(w) + float(eta) * float(g) / math.sqrt(avg + eps)  # the notes' plus sign
    assert w_next**2 / 2 > float(w) ** 2 / 2
    assert math.isclose(w_next, float(F(cx["w_next"])))
    w_fixed = float(w) - float(eta) * float(g) / math.sqrt(avg + eps)
    assert w_fixed**2 / 2 < float(w) ** 2 / 2


def test_sqrt_epsilon_counterexample_sides_differ(results):
    cx = results["rmsprop.sqrt_epsilon"].counterexample
    g, eps = F(cx["g"]), F(cx["epsilon"])
    lhs, rhs = math.sqrt(g * g + eps), abs(g) + eps
    assert not math.isclose(lhs, rhs)
    assert math.isclose(lhs, float(F(cx["sqrt(g^2+epsilon)"]))) and math.isclose(rhs, float(F(cx["|g|+epsilon"])))
    assert abs(g) <= lhs <= abs(g) + math.sqrt(eps)  # the corrected bounds hold there


def test_adam_counterexample_reproduces_the_printed_estimates(results):
    cx = results["adam.bias_correction"].counterexample
    g, b1, b2, t = F(cx["g_t (constant)"]), F(cx["beta1"]), F(cx["beta2"]), int(cx["t"])
    m1 = m2 = Fraction(0)
    for _ in range(t + 1):  # t counts updates from 0: after update t the averages carry index t + 1
        m1, m2 = b1 * m1 + (1 - b1) * g, b2 * m2 + (1 - b2) * g * g
    printed_m, printed_v = m2 / (1 - b1**t), m1 / (1 - b2**t)
    assert (printed_m, printed_v) == (F(cx[f"m_hat_{t + 1}"]), F(cx[f"v_hat_{t + 1}"]))
    assert printed_m != g or printed_v != g * g
    assert m1 / (1 - b1 ** (t + 1)) == g and m2 / (1 - b2 ** (t + 1)) == g * g  # the corrected estimates
    assert 1 - b1**0 == 0 and cx["m_hat_1 (t = 0)"] == "division by zero"


def test_weighted_sum_counterexample_by_enumeration(results):
    cx = results["noise.weighted_sum.covariance"].counterexample
    outcomes = [(a + b) / 2 for a in (-1, 1) for b in (-1, 1)]
    variance = float(np.var(outcomes))
    assert variance == float(F(cx["Var(DeltaPhi) (enumerated)"])) == 0.5
    assert float(F(cx["claimed"])) == 1.0 != variance


def _iterate_covariance(A: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Stationary covariance in floating point, by scipy (independent of the sympy solver)."""
    from scipy.linalg import solve_discrete_lyapunov

    assert max(abs(np.linalg.eigvals(A))) < 1  # the point is in the stable region
    return solve_discrete_lyapunov(A, Q)


def test_sgd_temperature_counterexample_by_iterating_the_variance(results):
    cx = results["noise.temperature.sgd_discrete"].counterexample
    lam, sig, eta0 = float(F(cx["lambda"])), float(F(cx["sigma"])), float(F(cx["eta0"]))
    values = []
    for label in "ab":
        B = int(cx[f"B ({label})"])
        eta = B * eta0
        P = _iterate_covariance(np.array([[1 - eta * lam]]), np.array([[eta**2 * sig**2 / B]]))[0, 0]
        assert math.isclose(P, float(F(cx[f"Var_inf[w] ({label})"])), rel_tol=1e-9)
        values.append(P)
    assert not math.isclose(values[0], values[1], rel_tol=1e-6)


def test_momentum_temperature_counterexample_by_iterating_the_covariance(results):
    cx = results["noise.temperature.momentum"].counterexample
    lam, sig, eta0 = float(F(cx["lambda"])), float(F(cx["sigma"])), float(F(cx["eta0"]))
    values = []
    for label in "abc":
        if f"Var_inf[w] ({label})" not in cx:
            continue
        B = int(cx.get(f"B ({label})", cx.get("B", 0)))
        mu = float(F(cx.get(f"mu ({label})", cx.get("mu", "0"))))
        eta = (1 - mu) * B * eta0
        A = np.array([[1 - eta * lam, mu], [-eta * lam, mu]])
        Q = eta**2 * sig**2 / B * np.ones((2, 2))
        P = _iterate_covariance(A, Q)[0, 0]
        assert math.isclose(P, float(F(cx[f"Var_inf[w] ({label})"])), rel_tol=1e-9)
        values.append(P)
    assert len(values) >= 2 and max(values) - min(values) > 1e-3


# ---------------------------------------------------------------- wrong variants must be refuted


def test_adam_with_exponent_t_is_refuted_and_the_correct_exponent_proved():
    adaptive = _proofs_module("adaptive")
    b1, b2 = adaptive.beta1, adaptive.beta2
    update = adaptive.adam_corrected_update
    wrong = adaptive.adam_verdict(lambda m, v, t: m / (1 - b1**t), lambda m, v, t: v / (1 - b2**t), update)
    assert wrong.verdict is Verdict.REFUTED
    assert wrong.counterexample["t"] == "1" and wrong.counterexample["m_hat_2"] == "3"
    right = adaptive.adam_verdict(*adaptive.estimators(catalogue.get("adam.bias_correction").corrected_formula), update)
    assert right.verdict is Verdict.PROVED
    ascent = adaptive.adam_verdict(*adaptive.estimators(catalogue.get("adam.bias_correction").corrected_formula),
                                   lambda m, v, e: m / (sp.sqrt(v) + e))
    assert ascent.verdict is Verdict.REFUTED


def test_rmsprop_wrong_directions_and_bounds_are_refuted():
    adaptive = _proofs_module("adaptive")
    assert adaptive.descent_verdict(lambda g, v, e: g).verdict is Verdict.REFUTED
    assert adaptive.descent_verdict(lambda g, v, e: -g * sp.sqrt(v + e)).verdict is Verdict.PROVED
    assert adaptive.descent_verdict(lambda g, v, e: -1 / sp.sqrt(v + e)).verdict is Verdict.REFUTED  # sign-blind
    wrong_bound = adaptive.sqrt_epsilon_bound_verdict(lambda a, e: a + e)
    assert wrong_bound.verdict is Verdict.REFUTED
    cx = wrong_bound.counterexample
    assert math.sqrt(F(cx["|g|"]) ** 2 + F(cx["epsilon"])) > float(F(cx["upper bound"]))


def test_batch_second_moment_without_the_one_over_b_is_refuted():
    adaptive = _proofs_module("adaptive")
    wrong = adaptive.batch_second_moment_verdict(lambda g, s, B: g**2 + s**2)
    assert wrong.verdict is Verdict.REFUTED and wrong.counterexample["B"] != "1"
    assert adaptive.batch_second_moment_verdict(lambda g, s, B: g**2 + s**2 / B).verdict is Verdict.PROVED


def test_weighted_sum_with_sum_alpha_or_its_square_is_refuted():
    from emastats.catalogue._symbols import Sigma_g, alpha, i, n
    from emastats.claim import Formula

    noise = _proofs_module("noise")
    for factor in (sp.Sum(alpha[i], (i, 1, n)), sp.Sum(alpha[i], (i, 1, n)) ** 2):
        result = noise.weighted_sum_covariance_verdict(Formula("C", factor * Sigma_g))
        assert result.verdict is Verdict.REFUTED
        cx = result.counterexample
        assert float(F(cx["claimed"])) != float(F(cx["Var(DeltaPhi) (enumerated)"]))
    right = Formula("C", sp.Sum(alpha[i] ** 2, (i, 1, n)) * Sigma_g)
    assert noise.weighted_sum_covariance_verdict(right).verdict is Verdict.PROVED


def test_stationary_sgd_variance_without_the_two_minus_eta_lambda_factor_is_refuted():
    noise = _proofs_module("noise")
    eta, lam, sigma, B = noise.eta, noise.lam, noise.sigma, noise.B
    nice = {lam: 1, sigma: 1, B: 1, eta: sp.Rational(1, 4)}
    for wrong in (eta * sigma**2 / (2 * B * lam), eta * sigma**2 / (B * lam)):
        result = noise.stationary_variance_verdict(noise.sgd_stationary(), wrong, nice)
        assert result.verdict is Verdict.REFUTED
        cx = result.counterexample
        e, l_, s2 = 0.25, 1.0, 1.0
        assert math.isclose(float(F(cx["Var_inf[w] (Lyapunov)"])), e * s2 / (l_ * (2 - e * l_)))
        assert cx["Var_inf[w] (Lyapunov)"] != cx["claimed"]
    right = eta * sigma**2 / (B * lam * (2 - eta * lam))
    assert noise.stationary_variance_verdict(noise.sgd_stationary(), right, nice).verdict is Verdict.PROVED


def test_momentum_variance_without_the_one_plus_mu_factor_is_refuted():
    noise = _proofs_module("noise")
    eta, lam, sigma, B, mu = noise.eta, noise.lam, noise.sigma, noise.B, noise.mu
    wrong = eta * sigma**2 / (B * lam * (1 - mu) * (2 - eta * lam))
    nice = {lam: 1, sigma: 1, B: 1, mu: sp.Rational(1, 2), eta: sp.Rational(1, 8)}
    assert noise.stationary_variance_verdict(noise.heavy_ball_stationary(), wrong, nice).verdict is Verdict.REFUTED


def test_batch_variance_with_factor_b_over_b_minus_one_is_refuted():
    norm = _proofs_module("normalisation")
    wrong = norm.batch_variance_verdict(lambda B: B, lambda var, B: B * var / (B - 1), smallest_batch=2)
    assert wrong.verdict is Verdict.REFUTED
    cx = wrong.counterexample
    B = int(cx["B"])
    batches = np.array(np.meshgrid(*[[-1, 1]] * B)).reshape(B, -1).T
    enumerated = float(np.mean(np.var(batches, axis=1)))  # numpy's var divides by B: the biased variance
    assert math.isclose(enumerated, float(F(cx["E[batch variance] (enumerated)"])))
    assert not math.isclose(enumerated, float(F(cx["claimed"])))
    assert norm.batch_variance_verdict(lambda B: B - 1, lambda var, B: var * B / (B - 1)).verdict is Verdict.REFUTED


def test_wrong_running_variance_and_sigmoid_bound_are_refuted():
    norm = _proofs_module("normalisation")
    p, s2 = norm.p, norm.sigma2
    swapped = norm.running_var_verdict(lambda n: (1 - p) ** n * s2 + (1 - (1 - p) ** n))
    assert swapped.verdict is Verdict.REFUTED
    cx = swapped.counterexample
    assert cx["E[sigma_hat^2_t] (recursion)"] != cx["claimed"]
    assert norm.sigmoid_bound_verdict(sp.Rational(1, 5)).verdict is Verdict.REFUTED
    assert norm.sigmoid_bound_verdict(sp.Rational(1, 3)).verdict is Verdict.PROVED


def test_wrong_gaussian_clipping_formulas_are_refuted():
    clipping = _proofs_module("clipping")
    from emastats.symbolic.gaussian import regularized_lower_gamma as P, std_normal_cdf as Phi

    def no_density_term(m, s, c):
        a, b = (-c - m) / s, (c - m) / s
        return m * (Phi(b) - Phi(a)) + c * (1 - Phi(b)) - c * Phi(a)

    def wrong_tail_order(d, s, c):
        U = c**2 / (2 * s**2)
        return (s * sp.sqrt(2) * sp.gamma((d + 1) / 2) / sp.gamma(d / 2) * P((d + 1) / 2, U)
                + c * (1 - P((d + 1) / 2, U)))

    value = clipping.value_clip_verdict(no_density_term)
    assert value.verdict is Verdict.REFUTED
    assert abs(float(value.counterexample["formula"]) - float(value.counterexample["quadrature"])) > 1e-6
    assert clipping.norm_clip_verdict(wrong_tail_order).verdict is Verdict.REFUTED


def test_average_then_clip_depends_on_batch_size():
    clipping = _proofs_module("clipping")
    result = clipping.batch_independence_verdict(clipping.average_then_clip)
    assert result.verdict is Verdict.REFUTED
    cx = result.counterexample
    B, c = int(cx["B"]), 1
    data = (0, 0, 6)
    import itertools

    batches = list(itertools.product(data, repeat=B))
    mean_clipped = sum(max(-c, min(c, Fraction(sum(b), B))) for b in batches) / len(batches)
    assert mean_clipped == F(cx["E[update] (enumerated)"]) != F(cx["E[clip(g_i)]"])


def test_clipping_bias_example_by_hand(results):
    steps = " ".join(results["clipping.biased"].steps)
    assert r"g\in\{0,4\}" in steps
    clipped = (max(-1, min(1, 0)) + max(-1, min(1, 4))) / 2
    assert clipped == 0.5 != (0 + 4) / 2


def test_a_proof_script_runs_on_its_own():
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "proofs" / "normalisation.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "batchnorm.variance.biased" in done.stdout and "PROVED" in done.stdout


def test_a_sympy_limitation_gives_inconclusive_never_proved(monkeypatch):
    """If sympy leaves the clipped-Gaussian integral unevaluated, the proof says INCONCLUSIVE with the reason."""
    clipping = _proofs_module("clipping")
    monkeypatch.setattr(sp, "integrate", lambda f, *limits, **kw: sp.Integral(f, *limits))
    result = run_proof(catalogue.get("clipping.value.gaussian"), clipping.value_clipped_gaussian)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "could not integrate" in result.reason
