"""False errors found on notes the audit was not tuned on, one regression test per general cause.

Each test states a correct passage (no error may be reported) and, where the check can decide, a wrong variant
of it (the error must still be found). The passages are written for these tests.
"""
from __future__ import annotations

import math

import pytest

from emastats.audit.document import audit_text
from emastats.audit.model import find_scopes
from emastats.audit.parse import parse_formula
from emastats.audit.worker import Worker


@pytest.fixture(scope="module")
def worker():
    with Worker() as w:
        yield w


def _errors(worker, text: str, kind: str = "md") -> list[tuple[int, str]]:
    kind = "tex" if text.startswith("\\section") else kind
    audit = audit_text(text, kind, "note.md", worker)
    return [(f.line, f.code) for f in audit.findings if f.severity == "error"]


def test_a_rounded_decimal_result_is_equal_up_to_its_last_place(worker):
    # worked example: each stated value is rounded to the places it shows, and fed rounded into the next step
    s = 1 / (1 + math.exp(-0.8))
    z = 0.25 * round(s, 9) + 0.125
    loss = 0.5 * (0.3 - z) ** 2  # from the unrounded z: the text's next step reads the rounded one
    text = ("# Forward pass\n\n"
            f"$$h = \\frac{{1}}{{1 + e^{{-0.8}}}} = {s:.9f}$$\n\n"
            f"$$z = 0.25 \\cdot {s:.9f} + 0.125 = {z:.9f}$$\n\n"
            f"$$E = \\frac{{1}}{{2}}(0.3 - {z:.9f})^2 = {loss:.9f}$$\n")
    assert _errors(worker, text) == []
    wrong = text.replace("e^{-0.8}", "e^{0.8}")  # the sign slip changes the value far beyond the rounding
    assert _errors(worker, wrong) == [(3, "AUD001")]


def test_a_value_given_as_a_formula_in_unvalued_symbols_is_not_known():
    import sympy

    from emastats.audit.analyse import _all_known
    from emastats.audit.context import Context

    context = Context()
    o1, o2 = sympy.Function("O")(1), sympy.Function("O")(2)
    k, s = sympy.symbols("K S")
    context.values[("O", (2,))] = (o1 - k) / s + 1  # O_2 stated as a formula, K and S without values
    context.values[("O", (1,))] = sympy.Integer(9)
    assert not _all_known(o2, context)
    context.values[("K", ())], context.values[("S", ())] = sympy.Integer(3), sympy.Integer(2)
    assert _all_known(o2, context)


def test_a_numeric_example_of_a_stated_formula_is_recomputed(worker):
    text = ("# Output size\n\n"
            "$$O_2 = (O_1 - K + 2Q)/S + 1$$\n\n"
            "For example with $O_1 = 9$, $K = 3$, $Q = 1$ and $S = 2$ we get\n\n"
            "$$O_2 = (O_1 - K + 2Q)/S + 1 = (9 - 3 + 2)/2 + 1 = 5$$\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("+ 1 = 5", "+ 1 = 6")) == [(7, "AUD001")]


def test_a_later_value_of_a_symbol_replaces_the_earlier_one(worker):
    text = ("# Logistic slope\n\n"
            "Let $f(x) = \\frac{1}{1 + e^{-x}}$. Far out, for $x = 8$ or $x = -8$, the slope is tiny; "
            "at the centre $x = 0$ it is $f'(x) = 0.25$.\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("f'(x) = 0.25", "f'(x) = 0.5")) == [(3, "AUD013")]


def test_a_derivative_of_a_function_redefined_in_the_prose_is_not_judged_against_the_old_one(worker):
    text = ("# Activations\n\n"
            "$$f(x) = \\frac{1}{1 + e^{-x}}$$\n\n"
            "The next one is $f(x) = \\frac{e^x - e^{-x}}{e^x + e^{-x}}$ with $f'(x) = 1 - f(x)^2$.\n")
    assert _errors(worker, text) == []


def test_a_named_function_written_in_another_variable_is_a_slip_not_a_value(worker):
    text = "# Sigmoid\n\nWe write $\\sigma(u) = \\frac{1}{1 + e^{-v}}$ for the gate.\n"
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("e^{-v}", "e^{v}").replace("\\sigma(u)", "\\sigma(v)")) == [(3, "AUD011")]


def test_another_form_presented_after_several_paragraphs_is_not_a_derivation_step(worker):
    text = ("# Scaling\n\n"
            "$$s = \\frac{x - a}{b - a}$$\n\n"
            "This maps the data into the unit interval.\n\n"
            "It is sensitive to outliers in the extremes.\n\n"
            "A second option centres the data:\n\n"
            "$$s = \\frac{x - c}{b}$$\n")
    assert _errors(worker, text) == []
    # straight after, with one sentence between, it is the next line of a derivation and must follow
    close_by = "# Scaling\n\n$$s = \\frac{x - a}{b - a}$$\n\nso that\n\n$$s = \\frac{x + a}{b - a}$$\n"
    assert _errors(worker, close_by) == [(7, "AUD001")]


def test_decay_with_the_wrong_sign_grows_the_parameters(worker):
    wrong = ("# Decay\n\n"
             "$$\\theta_{t+1} = \\theta_t - \\eta\\big(g_t - \\lambda \\theta_t\\big)$$\n\n"
             "The same rule as a shrink then a step is\n\n"
             "$$\\theta_{t+1} = (1 - \\eta\\lambda)\\theta_t - \\eta g_t$$\n")
    # one error, where the sign is wrong; the restatement of a faulty rule is not a second error
    assert _errors(worker, wrong) == [(3, "AUD016")]
    right = wrong.replace("- \\lambda \\theta_t", "+ \\lambda \\theta_t")
    assert _errors(worker, right) == []
    heavy_ball = "# Momentum\n\n$$w_{t+1} = w_t - \\eta g_t + \\mu (w_t - w_{t-1})$$\n"
    assert _errors(worker, heavy_ball) == []


def test_an_uphill_search_direction_is_reported_from_its_own_line(worker):
    text = ("# Quasi-Newton\n\n"
            "With $M_t$ approximating the inverse Hessian the direction is $d_t = M_t g_t$.\n"
            "A line search picks $\\alpha^*$ and\n\n"
            "$$x_{t+1} = x_t + \\alpha^* d_t$$\n")
    assert [code for _, code in _errors(worker, text)] == ["AUD002"]
    assert _errors(worker, text)[0][0] == 3  # the finding starts at the direction's line
    assert _errors(worker, text.replace("d_t = M_t g_t", "d_t = -M_t g_t")) == []


def test_decimals_folded_through_floats_compare_to_their_precision(worker):
    text = ("# Correction\n\n"
            "Here $u_2 = 0.0196 p + 0.02 q$, so $\\frac{u_2}{0.0396} = \\frac{0.0196 p + 0.02 q}{0.0396}$.\n")
    assert _errors(worker, text) == []


def test_a_capital_greek_letter_applied_to_an_argument_is_a_function_not_a_parameter(worker):
    text = "# Gamma\n\nRecall $\\Gamma(n) = (n-1)!$ for whole $n$.\n"
    assert _errors(worker, text) == []


def test_sections_of_a_single_chapter_are_separate_scopes():
    text = "# 4 Chapter\n\n## 4.1 First\n\ntext\n\n## 4.2 Second\n\n### 4.2.1 Part\n\n## 4.3 Third\n"
    titles = [s.title for s in find_scopes(text, "md")]
    # a child continues its parent (4.1 continues the chapter's opening, 4.2.1 continues 4.2); siblings do not
    assert titles == ["", "4 Chapter", "4.2 Second", "4.3 Third"]
    several = "# 1 One\n\n## 1.1 a\n\n# 2 Two\n\n## 2.1 b\n"
    assert [s.title for s in find_scopes(several, "md")] == ["", "1 One", "2 Two"]


def test_a_brace_group_after_a_name_multiplies_it():
    (st,) = parse_formula(r"{v}_{t} = \beta {v_{t-1}} + (1-\beta) {x_{t}}").statements
    assert str(st.sides[1].expr) == "beta*v(t - 1) + (1 - beta)*x(t)"


def test_a_correction_of_its_own_letter_is_not_called_swapped(worker):
    # some texts name Adam's first moment s and its second r: \hat s corrects s, whatever the letter suggests
    text = ("# Adam with s and r\n\n"
            "$$s_{t} = \\beta_1 s_{t-1} + (1-\\beta_1) g_t$$\n\n"
            "$$r_{t} = \\beta_2 r_{t-1} + (1-\\beta_2) g_t^2$$\n\n"
            "$$\\hat s_{t} = \\frac{s_t}{1 - \\beta_1^t}$$\n\n"
            "$$\\hat r_{t} = \\frac{r_t}{1 - \\beta_2^t}$$\n\n"
            "$$\\theta_{t} = \\theta_{t-1} - \\frac{\\alpha \\hat s_t}{\\sqrt{\\hat r_t} + \\epsilon}$$\n")
    assert _errors(worker, text) == []
    # a hat of one letter reading the other letter's average is still a swap
    swapped = text.replace("\\frac{s_t}{1 - \\beta_1^t}", "\\frac{r_t}{1 - \\beta_1^t}")
    assert (7, "AUD005") in _errors(worker, swapped) or (7, "AUD004") in _errors(worker, swapped)


def test_a_short_decimal_is_exact_and_a_wrong_value_is_reported_once(worker):
    # a one-place result allows half a unit, not a whole one: 1 - 0.4 is not 0.7
    assert _errors(worker, "# Factor\n\nThe factor is $1 - 0.4 = 0.7$ here.\n") == [(3, "AUD001")] or \
        _errors(worker, "# Factor\n\nThe factor is $1 - 0.4 = 0.7$ here.\n") == [(3, "AUD008")]
    assert _errors(worker, "# Factor\n\nThe factor is $1 - 0.4 = 0.6$ here.\n") == []
    # a wrong intermediate value is reported where it is stated, not again in every step that uses it
    text = ("# Forward\n\n"
            "$$h = \\frac{1}{1 + e^{-0.2}} = 0.5398$$\n\n"
            "$$E = \\frac{1}{2}(1 - h)^2 = \\frac{1}{2}(1 - 0.5498)^2 = 0.1013$$\n")
    assert _errors(worker, text) == [(3, "AUD001")]


def test_an_identity_between_two_steps_with_no_stated_recurrence_is_not_judged(worker):
    text = ("\\section{Contraction}\nFor $q(x) = \\frac{1}{2} a x^2 - b x$ the minimiser is $x^\\star = b/a$.\n"
            "Gradient descent gives $x_{t+1} - x^\\star = (1 - \\eta a)(x_t - x^\\star)$.\n")
    assert _errors(worker, text) == []


def test_pieces_of_a_definition_by_cases_are_not_restatements(worker):
    text = ("# Schedule\n\n"
            "$$\\eta_t = \\eta_{0} \\frac{t}{W}, \\quad t \\le W$$\n\n"
            "$$\\eta_t = \\eta_{0} \\frac{W}{t}, \\quad t > W$$\n")
    assert _errors(worker, text) == []
    # without the stated cases the second line is a restatement that does not follow
    plain = text.replace(", \\quad t \\le W", "").replace(", \\quad t > W", "")
    assert _errors(worker, plain) == [(5, "AUD001")]


def test_a_condition_on_a_parameter_does_not_make_a_case():
    from emastats.audit.analyse import _piecewise

    assert _piecewise(parse_formula(r"\eta_t = \eta_0 t / W, \quad t \le W"))
    assert not _piecewise(parse_formula(r"m_{t+1} = \beta m_t + (1-\beta) g_t, \qquad 0 \le \beta < 1"))


_SEEDS = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "seeds"
_SEED_ERRORS = {
    "000_9dbffe2ee456a5f7.txt": [(216, "AUD002"), (227, "AUD001"), (247, "AUD002"), (260, "AUD003"), (260, "AUD005"),
                                 (262, "AUD003"), (262, "AUD005"), (264, "AUD002")],
    "001_e701d70adf034ba3.txt": [(141, "AUD010")],
}


@pytest.mark.parametrize("name", sorted(_SEED_ERRORS))
def test_the_seed_notes_keep_exactly_their_errors(worker, name):
    from emastats.audit.document import audit_path

    path = _SEEDS / name
    if not path.exists():
        pytest.skip("seed notes not present")
    audit = audit_path(str(path), worker)
    assert sorted((f.line, f.code) for f in audit.findings if f.severity == "error") == _SEED_ERRORS[name]
