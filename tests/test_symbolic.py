"""The symbolic toolkit: zero tests, recurrences, induction, moments, sums, enumeration."""
from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import sympy as sp

from emastats.proving import Derivation
from emastats.symbolic import (
    ExchangeableFamily,
    IidSequence,
    IndependentFamily,
    Recurrence,
    RecurrenceError,
    all_of,
    all_zero,
    by_induction,
    check_solution,
    closed_sum,
    conjunction,
    decide,
    equal,
    invariant_by_induction,
    is_zero,
    iterate,
    limit_at_infinity,
    minibatch_moments,
    population_moments,
    solve_linear,
    verdict_of,
)
from emastats.verdict import Verdict

beta = sp.Symbol("beta", positive=True)
mu = sp.Symbol("mu", real=True)
x, y = sp.symbols("x y", real=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
k = sp.Symbol("k", integer=True, positive=True)
UNIT = {beta: (0, 1)}


def value_at_witness(expr: sp.Expr, witness: dict[str, str]) -> sp.Expr:
    """Substitute a witness (names -> exact values) back into expr, independently of is_zero."""
    by_name = {str(s): s for s in expr.free_symbols}
    values = {by_name[name]: sp.Rational(v) for name, v in witness.items() if name in by_name}
    return sp.simplify(expr.xreplace(values).doit())


# --- is_zero / equal ---------------------------------------------------------------------------


@pytest.mark.parametrize("expr", [
    (x + 1) ** 2 - (x**2 + 2 * x + 1),
    sp.exp(x) * sp.exp(-x) - 1,
    (x**3 - 1) / (x - 1) - (x**2 + x + 1),
    (1 - beta) * (1 + beta + beta**2) - (1 - beta**3),
    (x**2 - y**2) / (x - y) - (x + y),
])
def test_true_identities_are_decided_true(expr):
    result = is_zero(expr, domains=UNIT)
    assert result.verdict is True, result
    assert result.witness is None
    assert result.points > 0


@pytest.mark.parametrize("expr", [
    (x + 1) ** 2 - (x**2 + 1),  # a missing cross term
    (1 - beta) * (1 + beta) - (1 - beta**3),  # a wrong exponent
    sp.binomial(n + 2, 2) - (n + 1) ** 2 / 2,
])
def test_wrong_identities_are_false_with_a_witness_that_really_is_nonzero(expr):
    result = is_zero(expr, domains=UNIT)
    assert result.verdict is False
    assert result.witness is not None
    recomputed = value_at_witness(expr, result.witness)
    assert recomputed != 0
    assert recomputed == sp.Rational(result.witness["value"])


def test_witness_values_respect_assumptions_and_domains():
    t = sp.Symbol("t", integer=True, positive=True)
    p = sp.Symbol("p", positive=True)
    for seed in range(20):
        result = is_zero(beta + t + p + 1000, domains=UNIT, seed=seed)
        assert result.verdict is False
        w = result.witness
        assert 0 < sp.Rational(w["beta"]) < 1
        assert sp.Rational(w["t"]).is_integer and sp.Rational(w["t"]) >= 1
        assert sp.Rational(w["p"]) > 0


def test_undecidable_identity_is_none_not_true():
    # |x| = x on the declared domain (0, 1), but x itself carries no sign assumption: spot checks
    # are all zero and simplify cannot reach 0, so the honest answer is "undecided"
    result = is_zero(sp.Abs(x) - x, domains={x: (0, 1)})
    assert result.verdict is None
    assert result.points > 0
    # outside that domain it is refuted
    assert is_zero(sp.Abs(x) - x, domains={x: (-2, -1)}).verdict is False


def test_points_where_the_expression_is_undefined_are_skipped():
    result = is_zero((x**2 - 1) / (x - 1) - (x + 1), domains={x: (0, 2)})
    assert result.verdict is True


def test_equal_reports_both_sides_and_is_seeded():
    first = equal(beta**2, beta, domains=UNIT, sides=("derived", "claimed"), seed=3)
    again = equal(beta**2, beta, domains=UNIT, sides=("derived", "claimed"), seed=3)
    assert first.verdict is False and first.witness == again.witness
    b = sp.Rational(first.witness["beta"])
    assert sp.Rational(first.witness["derived"]) == b**2
    assert sp.Rational(first.witness["claimed"]) == b


def test_arbitrary_functions_and_indexed_inputs_get_values_at_the_point():
    f = sp.Function("f")
    X = sp.IndexedBase("X")
    assert is_zero(f(x) - f(y)).verdict is False
    t = sp.Symbol("t", integer=True, positive=True)
    total = sp.Sum(X[k], (k, 1, t + 1)) - sp.Sum(X[k], (k, 1, t)) - X[t + 1]
    assert is_zero(total).verdict in (True, None)
    wrong = is_zero(sp.Sum(X[k], (k, 1, t + 1)) - sp.Sum(X[k], (k, 1, t)))
    assert wrong.verdict is False and any(name.startswith("X[") for name in wrong.witness)


def test_all_zero_names_the_failing_component():
    result = all_zero([x - x, x**2 - x])
    assert result.verdict is False and result.witness["component"] == "1"


# --- recurrences -------------------------------------------------------------------------------

m = sp.Function("m")
EMA_MEAN = Recurrence(m, n, beta * m(n) + (1 - beta) * mu, {0: 0})


def test_solve_linear_finds_and_checks_the_ema_mean():
    solved = solve_linear(EMA_MEAN, domains=UNIT)
    assert solved.verdict is True
    assert equal(solved.closed_form, (1 - beta**n) * mu, domains=UNIT).verdict is True


def test_check_solution_rejects_a_bad_closed_form():
    wrong_exponent = check_solution(EMA_MEAN, (1 - beta ** (n + 1)) * mu, domains=UNIT)
    assert wrong_exponent.verdict is False and wrong_exponent.witness
    wrong_step = check_solution(EMA_MEAN, n * mu * (1 - beta), domains=UNIT)  # right start, wrong step
    assert wrong_step.initial.verdict is True and wrong_step.step.verdict is False


def test_solve_linear_refuses_an_rsolve_answer_that_fails_its_check(monkeypatch):
    monkeypatch.setattr(sp, "rsolve", lambda *args, **kwargs: (1 - beta ** (n + 1)) * mu)
    with pytest.raises(RecurrenceError):
        solve_linear(EMA_MEAN, domains=UNIT)


def test_solve_linear_reports_a_sympy_limitation(monkeypatch):
    monkeypatch.setattr(sp, "rsolve", lambda *args, **kwargs: None)
    with pytest.raises(NotImplementedError):
        solve_linear(EMA_MEAN, domains=UNIT)


def test_limit_at_infinity_of_geometric_terms():
    N = sp.Symbol("N", integer=True, positive=True)
    assert limit_at_infinity(mu * (1 - beta**n), n, (beta,)) == mu
    assert limit_at_infinity(3 + (1 - 1 / N) ** (2 * n), n, (1 - 1 / N,)) == 3
    with pytest.raises(NotImplementedError):
        limit_at_infinity(n * beta**n, n, (beta,))


# --- induction ---------------------------------------------------------------------------------


def test_induction_proves_a_closed_form_and_lists_residuals():
    result = by_induction(lambda i: 1 - beta ** (i + 1), lambda s, i: s + (1 - beta) * beta ** (i + 1),
                          1 - beta, n, domains=UNIT)
    assert result.verdict is True
    assert len(result.base_residuals) == 1 and len(result.step_residuals) == 1
    assert len(result.latex_steps()) == 2


def test_induction_finds_a_wrong_base_and_a_wrong_step():
    wrong_base = by_induction(lambda i: 1 - beta ** (i + 1), lambda s, i: s + (1 - beta) * beta ** (i + 1),
                              1, n, domains=UNIT)
    assert wrong_base.verdict is False and wrong_base.witness["failed"] == "base case"
    wrong_step = by_induction(lambda i: 1 - beta ** (i + 1), lambda s, i: s + beta ** (i + 1),
                              1 - beta, n, domains=UNIT)
    assert wrong_step.verdict is False and wrong_step.witness["failed"] == "induction step"


def test_induction_over_sums_with_arbitrary_inputs():
    X = sp.IndexedBase("X")
    unrolled = lambda i: (1 - beta) * sp.Sum(beta ** (i - k) * X[k], (k, 1, i))  # noqa: E731
    result = by_induction(unrolled, lambda s, i: beta * s + (1 - beta) * X[i + 1], 0, n, domains=UNIT)
    assert result.verdict is True


def test_invariant_induction_and_iterate():
    g = sp.Symbol("g", real=True)
    # two running sums fed the same input stay equal
    result = invariant_by_induction(lambda st, i: (st[0] - st[1],), lambda st, i: (st[0] + g, st[1] + g),
                                    (0, 0), (x, x), n)
    assert result.verdict is True
    states = iterate(lambda st, i: (st[0] + i,), (sp.Integer(0),), 0, 4)
    assert [s[0] for s in states] == [0, 0, 1, 3, 6]


# --- moments -----------------------------------------------------------------------------------


def test_independent_family_moments_of_linear_forms():
    xs = sp.symbols("x1:4", real=True)
    s2 = sp.Symbol("s2", positive=True)
    family = IndependentFamily.iid(xs, mu, s2, assumption="x1, x2, x3 independent")
    assert sp.simplify(family.expectation(2 + xs[0] - xs[1]) - 2) == 0
    assert sp.simplify(family.variance_of(sum(xs) / 3) - s2 / 3) == 0
    assert sp.simplify(family.covariance(xs[0] + xs[1], xs[1] + xs[2]) - s2) == 0
    assert sp.simplify(family.expectation_of_product(xs[0], xs[1]) - mu**2) == 0  # independence used
    assert sp.simplify(family.expectation_of_product(xs[0], xs[0]) - (s2 + mu**2)) == 0
    with pytest.raises(ValueError):
        family.variance_of(xs[0] * xs[1])  # not a linear form


def test_exchangeable_family_matches_its_symbolic_size_formula():
    xs = sp.symbols("x1:5", real=True)
    s2, c = sp.symbols("s2 c", real=True)
    family = ExchangeableFamily.of(xs, mu, s2, c, assumption="equal pairwise covariance c")
    direct = family.variance_of(sum(xs) / 4)
    assert sp.simplify(direct - ExchangeableFamily.mean_variance(4, s2, c)) == 0


def test_iid_sequence_with_a_symbolic_number_of_terms():
    X = sp.IndexedBase("X")
    s2 = sp.Symbol("s2", positive=True)
    seq = IidSequence(X, mu, s2, assumption="iid")
    form = (1 - beta) * sp.Sum(beta ** (n - k) * X[k], (k, 1, n))
    assert equal(seq.expectation(form), (1 - beta**n) * mu, domains=UNIT).verdict is True
    assert equal(seq.variance_of(form), s2 * (1 - beta) ** 2 * (1 - beta ** (2 * n)) / (1 - beta**2),
                 domains=UNIT).verdict is True
    with pytest.raises(ValueError):
        seq.expectation(X[1] * X[2])


def test_the_mean_of_b_iid_draws_has_variance_over_b_and_second_moment():
    X, B = sp.IndexedBase("X"), sp.Symbol("B", integer=True, positive=True)
    s2 = sp.Symbol("s2", positive=True)
    seq = IidSequence(X, mu, s2, assumption="iid")
    xbar = seq.sample_mean(B)
    assert equal(seq.variance_of(xbar), s2 / B).verdict is True
    assert equal(seq.second_moment(xbar), s2 / B + mu**2).verdict is True
    assert equal(seq.second_moment(xbar), s2 + mu**2).verdict is False  # the 1/B matters


def test_closed_sum_agrees_with_sympy_on_concrete_ranges():
    summands = [beta ** (n - k), (1 - beta) ** 2 * beta ** (2 * n - 2 * k), 3 * beta**k + 2, sp.Integer(5)]
    for summand, top in itertools.product(summands, (0, 1, 4)):
        closed = closed_sum(summand, (k, 1, n)).subs(n, top)
        explicit = sum((summand.subs({n: top, k: j}) for j in range(1, top + 1)), sp.Integer(0))
        assert sp.cancel(closed - explicit) == 0, (summand, top)


# --- enumeration -------------------------------------------------------------------------------


def _brute_variance(values, b, replacement):
    batches = list(itertools.product(values, repeat=b) if replacement else itertools.combinations(values, b))
    means = [Fraction(sum(batch), b) for batch in batches]
    mean = sum(means) / len(means)
    return sum((mm - mean) ** 2 for mm in means) / len(means)


@pytest.mark.parametrize("replacement", [True, False])
def test_enumeration_matches_the_closed_forms(replacement):
    values = [Fraction(0), Fraction(1), Fraction(3), Fraction(7, 2)]
    mean, cov = population_moments(values)
    sigma = cov[0, 0]
    n_ = len(values)
    for b in range(1, 4):
        result = minibatch_moments(values, b, replacement=replacement)
        assert result.mean[0] == mean[0]
        expected = sigma / b if replacement else sigma / b * sp.Rational(n_ - b, n_ - 1)
        assert result.variance == expected
        assert result.variance == sp.Rational(str(_brute_variance(values, b, replacement)))
        assert result.count == (n_**b if replacement else sp.binomial(n_, b))


def test_enumeration_of_vectors_gives_a_covariance_matrix():
    values = [(0, 1), (1, 0), (2, 2)]
    result = minibatch_moments(values, 2, replacement=True)
    _, population = population_moments(values)
    assert result.covariance == population / 2


def test_enumeration_rejects_bad_input():
    with pytest.raises(ValueError):
        minibatch_moments([1, 2], 3, replacement=False)
    with pytest.raises(ValueError):
        minibatch_moments([0.5, 1.0], 1, replacement=True)  # floats are never exact
    with pytest.raises(ValueError):
        minibatch_moments(list(range(30)), 5, replacement=True)  # too many to enumerate


# --- decide ------------------------------------------------------------------------------------


def test_decide_maps_true_false_none_to_verdicts():
    assert decide(is_zero(x - x + 0 * y), "m").verdict is Verdict.PROVED
    refuted = decide(equal(x, 2 * x), "m", context={"note": 1})
    assert isinstance(refuted, Derivation) and refuted.verdict is Verdict.REFUTED
    assert refuted.counterexample["note"] == "1"
    undecided = decide(is_zero(sp.Abs(x) - x, domains={x: (0, 1)}), "m")
    assert undecided.verdict is Verdict.INCONCLUSIVE and undecided.reason
    assert all_of(is_zero(x - x), equal(x, 2 * x)).verdict is False


def test_conjunction_and_verdict_of_are_three_valued():
    assert conjunction([True, True]) is True and conjunction([]) is True
    assert conjunction([True, None]) is None
    assert conjunction([None, False, True]) is False
    assert verdict_of(is_zero(x - x)) is Verdict.PROVED
    assert verdict_of(equal(x, 2 * x)) is Verdict.REFUTED
    assert verdict_of(is_zero(sp.Abs(x) - x, domains={x: (0, 1)})) is Verdict.INCONCLUSIVE
