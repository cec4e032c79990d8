"""The document model (scopes, superscript indices, roles), the notation it feeds the parser, and the checks
that rely on it: assignments as recurrences, gradient operators, expectation algebra, scope-local restatements."""
from __future__ import annotations

import json
from dataclasses import dataclass

import sympy

from emastats.audit.analyse import FormulaInfo, RunState, analyse_formula
from emastats.audit.context import Context
from emastats.audit.model import build_model, find_scopes, infer_notation
from emastats.audit.normalise import Notation
from emastats.audit.parse import parse_formula


@dataclass
class _F:
    latex: str
    line: int


def _sides(latex: str, notation: Notation | None = None):
    parsed = parse_formula(latex, notation)
    return [[s.expr for s in st.sides] + [st.relations] for st in parsed.statements]


def test_superscripts_are_indices_only_with_evidence():
    notation = infer_notation([(r"w^{t+1} = w^{t} - \eta g^{t}", 1), (r"\sum_{k=0}^{n} r^{k} = \frac{1 - r^{n+1}}{1 - r}", 2),
                               (r"v^{(k)} + 1", 3), (r"\beta^{t} + \beta^{t+1}", 4), (r"y^{t}", 5)])
    assert {"w", "v", "g"} <= notation.superscript_index
    assert "r" not in notation.superscript_index  # r^k beside a bare r is a power
    assert "beta" not in notation.superscript_index  # a decay's powers
    assert "y" in notation.ambiguous_superscript  # one y^t, no evidence either way
    w = sympy.Function("w")
    t = sympy.Symbol("t")
    (lhs, rhs, rel), = _sides(r"w^{t+1} = w^{t} - \eta g^{t}", notation)
    assert lhs == w(t + 1) and rel == ("=",) and w(t) in rhs.atoms(sympy.core.function.AppliedUndef)
    assert _sides(r"x^2 = y", notation)[0][0] == sympy.Symbol("x") ** 2
    assert parse_formula(r"y^{t} = 1", notation).statements[0].sides[0].expr is None  # ambiguous: unchecked


def test_assignments_operators_and_named_functions_are_read():
    assert _sides(r"w \leftarrow w - \eta g")[0][-1] == ("<-",)
    assert _sides(r"w := w - \eta g")[0][-1] == ("<-",)
    assert _sides(r"w \mathrel{+}= 1")[0][-1] == ("+=",)
    assert _sides("w ← w - η g")[0][-1] == ("<-",)
    (lhs, rhs, _), = _sides(r"w_{t+1} = w_t - \eta \nabla_\theta L(w_t)")
    assert "nabla_L" in {type(f).__name__ for f in rhs.atoms(sympy.core.function.AppliedUndef)}
    assert _sides(r"\partial_w L")[0][0] == sympy.Symbol("dL/dw")
    assert type(_sides(r"\text{Loss}(w, X, y)")[0][0]).__name__ == "Loss"
    assert type(_sides(r"\mathrm{BatchNorm}(x)")[0][0]).__name__ == "BatchNorm"
    assert _sides(r"x^\top y")[0][0] == sympy.Symbol("x") * sympy.Symbol("y")
    assert _sides(r"w^\star")[0][0] == sympy.Symbol("w_star")
    assert _sides(r"\delta m_{t-1}")[0][0] == sympy.Symbol("delta") * sympy.Function("m")(sympy.Symbol("t") - 1)
    assert _sides(r"g\_t + 1")[0][0] == sympy.Function("g")(sympy.Symbol("t")) + 1
    assert _sides(r"\underbrace{a + b}_{\text{sum}} + c")[0][0] == sum(sympy.symbols("a b c"))


def test_scopes_follow_headings_numbers_and_algorithm_blocks():
    text = "# A\n\n## 1 Intro\n\n## 1.1 More\n\n## Solution\n\n## 2 Next\n\n**Algorithm 1** loop\n\n## 3 Last\n"
    scopes = find_scopes(text, "md")
    kinds = [(s.kind, s.title) for s in scopes]
    assert ("section", "1 Intro") in kinds and ("section", "2 Next") in kinds
    assert not any(t in ("1.1 More", "Solution") for _, t in kinds)  # continuations share the scope
    assert any(k == "algorithm" for k, _ in kinds)
    model = build_model(text, "md", [_F("x = 1", 3), _F("x = 2", 5), _F("x = 3", 9)])
    assert model.scope_of(3) == model.scope_of(5) != model.scope_of(9)
    assert json.loads(json.dumps(model.to_dict()))["scopes"]


def _run(formulas: list[tuple[str, int, int, bool, str]]):
    """Analyse formulas (latex, line, scope, display, prose) in order; all findings."""
    context, run, findings = Context(), RunState(), []
    notation = infer_notation([(f[0], f[1]) for f in formulas])
    for latex, line, scope, display, prose in formulas:
        outcome = analyse_formula(parse_formula(latex, notation), FormulaInfo(line, line, display, prose, scope),
                                  context, run)
        context, run = outcome.context, outcome.run
        findings += outcome.findings
    return findings


def test_pseudo_code_assignments_are_run_as_recurrences():
    loop = [(r"g \gets \nabla_\theta L(\theta)", 1, 1, False, ""), (r"m \leftarrow \beta m + g", 2, 1, False, "")]
    wrong = _run(loop + [(r"\theta \leftarrow \theta + \eta m", 3, 1, False, "")])
    right = _run(loop + [(r"\theta \leftarrow \theta - \eta m", 3, 1, False, "")])
    assert [f.code for f in wrong if f.severity == "error"] == ["AUD002"] and wrong[0].line == 3
    assert not [f for f in right if f.severity == "error"]


def test_momentum_with_nabla_sign_error_is_found():
    found = _run([(r"m_{t+1} = \beta m_t + \nabla L(w_t)", 1, 1, True, ""),
                  (r"w_{t+1} = w_t + \eta m_{t+1}", 3, 1, True, "")])
    assert any(f.code == "AUD002" and f.line == 3 for f in found)


def test_accumulator_of_squares_is_not_a_descent_step():
    assert not _run([(r"s_{t+1} = s_t + g_t^2", 1, 1, True, "")])


def test_expectation_algebra_finds_a_missing_square_and_accepts_the_right_one():
    setup = [(r"\mathrm{Var}[g_b] = \sigma^2", 1, 1, False, "Let the g_b be independent, with"),
             (r"\bar{g} = \frac{1}{B} \sum_{b=1}^{B} g_b", 2, 1, True, "")]
    assert not _run(setup + [(r"\mathrm{Var}[\eta \bar{g}] = \frac{\eta^2 \sigma^2}{B}", 3, 1, True, "")])
    found = _run(setup + [(r"\mathrm{Var}[\eta \bar{g}] = \frac{\eta \sigma^2}{B}", 3, 1, True, "")])
    assert [f.code for f in found] == ["AUD012"] and "eta" in found[0].message
    # without independence stated, the variance of a sum is not derived (abstain)
    setup[0] = (r"\mathrm{Var}[g_b] = \sigma^2", 1, 1, False, "Let")
    assert not _run(setup + [(r"\mathrm{Var}[\bar{g}] = \sigma^2", 3, 1, True, "")])


def test_a_name_from_another_section_is_not_a_restatement():
    recurrence = (r"s_{t+1} = s_t + g_t^2", 1, 1, True, "")
    average = r"s_t = \frac{1}{t} \sum_{i=1}^{t} g_i^2"  # in the recurrence's own quantities: comparable
    assert any(f.code == "AUD001" for f in _run([recurrence, (average, 30, 1, True, "")]))
    assert not _run([recurrence, (average, 30, 2, True, "")])


def test_show_model_prints_text_and_json(tmp_path, capsys):
    from emastats.cli import main

    note = tmp_path / "n.md"
    note.write_text("# 1 Loop\n\n$$x^{k+1} = x^{k} - \\eta \\nabla f(x^{k})$$\n")
    assert main(["audit", "--show-model", str(note)]) == 0
    out = capsys.readouterr().out
    assert "superscripts read as indices: x" in out and "sequence: x [superscript]" in out
    assert main(["audit", "--show-model", "--format", "json", str(note)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["documents"][0]["notation"]["superscript_index"] == ["x"]


def test_variance_of_a_recurrence_is_run_and_named_moments_stand_for_themselves():
    setup = [(r"m^{t+1} = \beta m^{t} + (1-\beta) g^{t}", 1, 1, True, ""), (r"m^{0} = 0", 2, 1, False, "Start from"),
             (r"g^{k}", 3, 1, False, "Suppose the"), (r"\mu", 3, 1, False, "are independent with mean"),
             (r"\sigma^2", 3, 1, False, "and variance")]
    right = r"\operatorname{Var}(m^{t}) = (1-\beta)^2 \sum_{k=0}^{t-1} \beta^{2(t-1-k)} \sigma^2"
    wrong = r"\operatorname{Var}(m^{t}) = (1-\beta)^2 \sum_{k=0}^{t-1} \beta^{t-1-k} \sigma^2"
    assert not _run(setup + [(right, 9, 1, True, "")])
    assert [f.code for f in _run(setup + [(wrong, 9, 1, True, "")])] == ["AUD012"]
    assert not _run(setup + [(r"E[m^{t}] = (1 - \beta^{t}) \mu", 9, 1, False, "The mean is")])
    assert [f.code for f in _run([(r"\operatorname{Var}(aX) = a \operatorname{Var}(X)", 1, 1, True, "")])] == ["AUD012"]
    assert not _run([(r"\operatorname{Var}(aX) = a^2 \operatorname{Var}(X)", 1, 1, True, "")])


def test_derivatives_of_defined_functions_are_checked_by_sympy():
    loss = (r"L(w) = \frac{1}{2} (w - c)^2 + \lambda w^2", 1, 1, True, "")
    assert not _run([loss, (r"\nabla L(w) = w - c + 2 \lambda w", 2, 1, True, "")])
    found = _run([loss, (r"\nabla L(w) = w - c + \lambda w", 2, 1, True, "")])
    assert [f.code for f in found] == ["AUD013"] and "line 1" in found[0].message
    cubic = (r"f(x) = x^3 + 2x", 1, 1, True, "")
    assert not _run([cubic, (r"f'(x) = 3x^2 + 2", 2, 1, True, "")])
    assert [f.code for f in _run([cubic, (r"\frac{df}{dx} = 3 x^2 + 2 x", 2, 1, True, "")])] == ["AUD013"]


def test_abstentions_instantiation_and_index_convention():
    # 1 - beta^t = 1 - 0.98^2: values substituted that no formula stated
    assert not _run([(r"1 - \beta^{t} = 1 - 0.98^{2} = 0.0396", 1, 1, False, "when")])
    # theta_{t+1} reads \hat m_t: a zero at t = 0 only if t starts at 0, which the notes do not say
    adam = [(r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t", 1, 1, True, ""),
            (r"v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2", 2, 1, True, ""),
            (r"\hat{m}_t = \frac{m_t}{1-\beta_1^t}", 3, 1, True, ""), (r"\hat{v}_t = \frac{v_t}{1-\beta_2^t}", 4, 1, True, "")]
    right = _run(adam + [(r"\theta_{t+1} = \theta_t - \eta \frac{\hat{m}_t}{\sqrt{\hat{v}_t} + \epsilon}", 5, 1, True, "")])
    assert not [f for f in right if f.severity == "error"]
    wrong = _run(adam + [(r"\theta_{t+1} = \theta_t - \eta \frac{\hat{m}_t}{\hat{v}_t + \epsilon}", 5, 1, True, "")])
    assert [f.code for f in wrong if f.severity == "error"] == ["AUD006"]


def test_equivalent_equation_rows_must_differ_by_a_constant_factor():
    definition = (r"{\bf r}^{k} = {\bf b} - A{\bf p}^{k}", 1, 1, True, "")
    step = (r"{\bf p}^{k+1} = {\bf p}^{k} + \alpha {\bf r}^{k}", 2, 1, True, "")
    rows = [r"{\bf r}^{k+1} \cdot {\bf r}^{k} = 0", r"\Leftrightarrow ({\bf b} - A({\bf p}^{k} + \alpha {\bf r}^{k})) \cdot {\bf r}^{k} = 0"]
    right = rows + [r"\Leftrightarrow ({\bf r}^{k} - \alpha A {\bf r}^{k}) \cdot {\bf r}^{k} = 0"]
    wrong = rows + [r"\Leftrightarrow ({\bf r}^{k} + \alpha A {\bf r}^{k}) \cdot {\bf r}^{k} = 0"]
    assert not _run([definition, step, (" \\\\\n".join(right), 3, 1, True, "requires that")])
    found = _run([definition, step, (" \\\\\n".join(wrong), 3, 1, True, "requires that")])
    assert [(f.code, f.line) for f in found if f.severity == "error"] == [("AUD001", 5)]


def test_gradient_descent_with_nabla_of_the_iterate_and_updates_written_with_equals():
    assert [f.code for f in _run([(r"w_{t+1} = w_t + \eta \nabla L(w_t)", 1, 1, True, "")])] == ["AUD002"]
    assert [f.code for f in _run([(r"\theta = \theta + \alpha \nabla_\theta J(\theta)", 1, 1, True, "")])] == ["AUD002"]
    assert not [f for f in _run([(r"\theta = \theta - \alpha \nabla_\theta J(\theta)", 1, 1, True, "")])
                if f.severity == "error"]
    assert not _run([(r"x = a x + b", 1, 1, True, "")])  # a fixed-point equation stays an equation


def test_limits_are_checked_against_the_stationary_value_of_the_recurrence():
    velocity = (r"v_{t+1} = \mu v_t + g_t", 1, 1, True, "")
    assert not _run([velocity, (r"\lim_{t \to \infty} v_t = \frac{g}{1 - \mu}", 2, 1, True, "")])
    assert [f.code for f in _run([velocity, (r"\lim_{t \to \infty} v_t = \frac{g}{1 + \mu}", 2, 1, True, "")])] \
        == ["AUD014"]
    ema = [(r"g^{k}", 1, 1, False, "Suppose the "), (r"\nu", 1, 1, False, " are independent with mean "),
           (r"\sigma^2", 1, 1, False, " and variance "), (r"m^{t+1} = \beta m^{t} + (1-\beta) g^{t+1}", 2, 1, True, ".")]
    assert not _run(ema + [(r"\lim_{t\to\infty} \operatorname{Var}(m^{t}) = \frac{1-\beta}{1+\beta}\sigma^2", 3, 1, True, "")])
    assert not _run(ema + [(r"\lim_{t\to\infty} E[m^{t}] = \nu", 3, 1, True, "")])
    assert [f.code for f in _run(ema + [(r"\lim_{t\to\infty} \operatorname{Var}(m^{t}) = (1-\beta)\sigma^2", 3, 1,
                                         True, "")])] == ["AUD014"]


def test_linearity_of_expectation_and_additivity_of_variance_for_independent_terms():
    prose = "Let X and Y be independent random variables."
    assert [f.code for f in _run([(r"E[aX + b] = a E[X]", 1, 1, True, prose)])] == ["AUD012"]
    assert not _run([(r"E[aX + b] = a E[X] + b", 1, 1, True, prose)])
    wrong = r"\operatorname{Var}(X - Y) = \operatorname{Var}(X) - \operatorname{Var}(Y)"
    assert [f.code for f in _run([(wrong, 1, 1, True, prose)])] == ["AUD012"]
    assert not _run([(r"\operatorname{Var}(X - Y) = \operatorname{Var}(X) + \operatorname{Var}(Y)", 1, 1, True, prose)])
    assert not _run([(wrong, 1, 1, True, "Let X and Y be random variables.")])  # no independence stated: abstain


def test_a_value_at_infinity_is_the_limit_of_the_sequence():
    velocity = (r"v_{t+1} = \mu v_t + g_t", 1, 1, True, "")
    assert not _run([velocity, (r"v_{\infty} = \frac{g}{1 - \mu}", 2, 1, True, "")])
    assert [f.code for f in _run([velocity, (r"v_{\infty} = \frac{g}{1 + \mu}", 2, 1, True, "")])] == ["AUD014"]
    assert not _run([velocity, (r"v_{\infty} = \frac{g}{1 + \mu}", 9, 2, True, "")])  # another section


def test_a_limit_in_terms_of_an_input_value_stated_in_prose_or_an_equation_for_it_is_not_judged():
    average = (r"y_t = \left(1 - \frac{1}{N}\right) y_{t-1} + x_t", 1, 1, True, "")
    assert not _run([average, (r"y_{\infty} = \left(1 - \frac{1}{N}\right) y_{\infty} + c", 3, 1, True, "")])
    assert not _run([average, (r"y_{\infty} = N c", 5, 1, False, "giving")])


def _tallies(formulas):
    """Decided statements of each formula (latex, line, scope, display, prose), analysed in order."""
    context, run, decided = Context(), RunState(), []
    notation = infer_notation([(f[0], f[1]) for f in formulas])
    for latex, line, scope, display, prose in formulas:
        outcome = analyse_formula(parse_formula(latex, notation), FormulaInfo(line, line, display, prose, scope),
                                  context, run)
        context, run = outcome.context, outcome.run
        decided.append((outcome.tally.decided, [f.code for f in outcome.findings if f.severity == "error"]))
    return decided


def test_an_inline_recurrence_decides_its_instances_and_abstains_on_the_rest():
    rule = (r"v_t = 0.9 v_{t-1} + 0.1 \theta_t", 1, 1, False, "")
    out = _tallies([rule, (r"v_{50} = 0.1\theta_{50} + 0.9 v_{49}", 2, 1, False, ""),
                    (r"v_{50} = 0.1\theta_{50} + 0.9(0.1\theta_{49} + 0.9 v_{48})", 3, 1, False, ""),
                    (r"v_{50} = 0.2\theta_{50} + 0.8 v_{49}", 4, 1, False, "")])
    assert out == [(0, []), (1, []), (1, []), (0, [])]  # an instance that differs is not an error (inline)
    # in another section the name's recurrence is unknown
    assert _tallies([rule, (r"v_{50} = 0.1\theta_{50} + 0.9 v_{49}", 9, 2, False, "")])[1] == (0, [])


def test_a_family_of_functions_is_not_a_recurrence():
    found = _run([(r"f(x) = \frac{1}{n}\sum_{i=1}^n f_i(x)", 1, 1, True, ""),
                  (r"\forall x,\ f(x) = \frac{1}{2m}\sum_{i=1}^m (x-p_i)^2", 5, 1, True, "define"),
                  (r"\forall x,\ f_i(x) = \frac{1}{2}(x-p_i)^2", 7, 1, True, "")])
    assert not [f for f in found if f.severity == "error"]


def test_a_bias_correction_of_any_name_is_checked_and_decided():
    average = (r"q_t = \rho q_{t-1} + (1 - \rho) g_t", 1, 1, True, "")
    right = _tallies([average, (r"\hat{q}_t = \frac{q_t}{1 - \rho^t}", 3, 1, True, "")])
    wrong = _tallies([average, (r"\hat{q}_t = \frac{q_t}{1 - \rho^{t+1}}", 3, 1, True, "")])
    assert right[1] == (1, [])
    assert wrong[1][1] == ["AUD004"]


def test_a_without_replacement_variance_must_vanish_for_the_whole_set():
    prose = "The batch of $B$ indices is drawn without replacement from the $N$ examples, so"
    wrong = _run([(r"\mathrm{Var}(\bar g_B) = \frac{\sigma^2}{B}", 5, 1, True, prose)])
    right = _run([(r"\mathrm{Var}(\bar g_B) = \frac{\sigma^2}{B}\frac{N - B}{N - 1}", 5, 1, True, prose)])
    with_replacement = _run([(r"\mathrm{Var}(\bar g_B) = \frac{\sigma^2}{B}", 5, 1, True,
                              prose.replace("without", "with"))])
    assert [f.code for f in wrong] == ["AUD012"] and "B = N" in wrong[0].evidence
    assert not right and not with_replacement
