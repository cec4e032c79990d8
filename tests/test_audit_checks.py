"""The checking machinery on its own: evaluation with recurrences, comparison, update-rule dry runs."""
from __future__ import annotations

import sympy

from emastats.audit.analyse import FormulaInfo, RunState, analyse_formula
from emastats.audit.check_update import Where, check_definition
from emastats.audit.compare import apply_assumptions, compare
from emastats.audit.context import Context, Definition
from emastats.audit.parse import parse_formula

t = sympy.Symbol("t")


def _expr(latex: str) -> sympy.Basic:
    return parse_formula(latex).statements[0].sides[0].expr


def _define(context: Context, latex: str, line: int = 1) -> Definition:
    st = parse_formula(latex).statements[0]
    lhs, rhs = st.sides[0].expr, st.sides[1].expr
    name = type(lhs).__name__
    definition = Definition(name, lhs, rhs, line, name in {type(f).__name__ for f in rhs.atoms(sympy.Function)})
    context.definitions[name] = definition
    return definition


def test_compare_gives_a_counterexample_and_confirms_identities():
    wrong = compare(_expr(r"\sqrt{x^2 + e}"), _expr(r"x + e"), Context())
    assert wrong.verdict == "fails" and set(wrong.counterexample) >= {"x"}
    assert wrong.lhs_value != wrong.rhs_value and wrong.simplify == "nonzero"
    right = compare(_expr(r"(1 - b) \sum_{k=0}^{n} b^{k}"), _expr(r"1 - b^{n+1}"), Context())
    assert right.verdict == "holds"


def test_recurrences_are_unrolled_to_their_stated_initial_value():
    context = Context()
    _define(context, r"p_{t+1} = \lambda p_t + (1 - \lambda) c")
    context.values[("p", (0,))] = sympy.Integer(0)
    closed = compare(_expr(r"p_{t+1}"), _expr(r"(1 - \lambda^{t+1}) c"), context)
    assert closed.verdict == "holds"
    off_by_one = compare(_expr(r"p_{t+1}"), _expr(r"(1 - \lambda^{t}) c"), context)
    assert off_by_one.verdict == "fails"


def test_assumptions_substitute_for_every_index_but_not_into_bound_variables():
    expr = _expr(r"\sum_{\tau=0}^{t} g_{\tau} + \epsilon")
    out = apply_assumptions(expr, ((_expr(r"g_{t}"), _expr("c")), (_expr(r"\tau"), sympy.Integer(0)),
                                   (_expr(r"\epsilon"), sympy.Integer(0))))
    assert out == sympy.Sum(sympy.Symbol("c"), (sympy.Symbol("tau"), 0, t))


def test_dry_run_finds_sign_and_scaling_errors_and_names_the_form():
    context = Context()
    _define(context, r"\langle g^2 \rangle_{t+1} = \beta \langle g^2 \rangle_t + (1 - \beta) g_t^2")
    good = _define(context, r"w_{t+1} = w_t - \frac{\eta}{\sqrt{\langle g^2 \rangle_{t+1}} + \epsilon} g_t")
    assert [f.code for f in check_definition(good, context, Where(1, 1))] == ["AUD103"]
    ascent = _define(context, r"w_{t+1} = w_t + \frac{\eta}{\sqrt{\langle g^2 \rangle_{t+1}} + \epsilon} g_t")
    assert "AUD002" in [f.code for f in check_definition(ascent, context, Where(2, 2))]
    no_root = _define(context, r"w_{t+1} = w_t - \frac{\eta}{\langle g^2 \rangle_{t+1} + \epsilon} g_t")
    assert "AUD006" in [f.code for f in check_definition(no_root, context, Where(3, 3))]


def test_velocity_is_not_checked_as_a_parameter_update():
    context = Context()
    velocity = _define(context, r"v_{t+1} = \mu v_t - \eta g_t")
    assert check_definition(velocity, context, Where(1, 1)) == []


def test_condition_words_keep_a_failing_equation_unchecked():
    parsed = parse_formula(r"-\mu a \langle g \rangle_t = -a \beta \langle g \rangle_t")
    need = analyse_formula(parsed, FormulaInfo(5, 5, True, "For these terms to be equal, we need,\n"), Context(),
                           RunState())
    assert need.findings == [] and need.tally.unchecked == 1
    claim = analyse_formula(parse_formula(r"(x + y)^2 = x^2 + y^2"), FormulaInfo(5, 5, True, "Expanding,\n"),
                            Context(), RunState())
    assert [f.code for f in claim.findings] == ["AUD001"]
