"""Notation the audit now reads (issue 9, notation round): each case written for this test, in our own words."""
from __future__ import annotations

import subprocess
import sys

import sympy

from emastats.audit.extract import extract
from emastats.audit.macros import collect, expand
from emastats.audit.parse import parse_formula


def _read(latex: str) -> list[tuple[list[str], tuple[str, ...]]]:
    """Each statement as (its sides printed, or the reason a side is unread; its relations)."""
    return [([str(s.expr) if s.expr is not None else "UNREAD: " + s.problem for s in st.sides], st.relations)
            for st in parse_formula(latex).statements]


def test_punctuation_and_spacing_after_a_side_are_not_part_of_it():
    # a thin space then a comma ends the sentence: the side must not keep a dangling backslash
    assert _read(r"u_{k+1} = u_k - \alpha \nabla h(u_k)\,,") == [
        (["u(k + 1)", "-alpha*nabla_h(u(k)) + u(k)"], ("=",))]
    assert _read(r"q = r + 1\;.") == [(["q", "r + 1"], ("=",))]


def test_index_range_after_a_statement_is_where_it_holds():
    assert _read(r"z_{n+1} = 2 z_n, \qquad n = 0, 1, 2, \ldots") == [(["z(n + 1)", "2*z(n)"], ("=",))]
    assert _read(r"a = b + c, \; k = 1, \dots, K") == [(["a", "b + c"], ("=",))]
    assert _read(r"k = 1, 2, \dots") == []


def test_comma_separated_assignments_are_separate_statements():
    assert _read(r"\gamma_1 = 0.5, \gamma_2 = 0.25") == [(["gamma(1)", "1/2"], ("=",)), (["gamma(2)", "1/4"], ("=",))]
    # a list of values is not a statement list: stays one (unread) statement
    (sides, _), = _read(r"r = 1, 2, 3")
    assert sides[1].startswith("UNREAD")


def test_empty_group_and_annotated_relations():
    assert _read(r"p &{}= q + 1") == [(["p", "q + 1"], ("=",))]
    assert _read(r"h \stackrel{\text{def}}{=} q^2") == [(["h", "q**2"], ("=",))]
    assert _read(r"s \stackrel{def} = 2q") == [(["s", "2*q"], ("=",))]
    assert _read(r"m \overset{(ii)}{=} n + 2") == [(["m", "n + 2"], ("=",))]
    assert _read(r"\begin{eqnarray} c = d + f \end{eqnarray}") == [(["c", "d + f"], ("=",))]


def test_text_command_as_a_bare_subscript():
    assert _read(r"\lambda_\textrm{start} = 2") == [(["lambda_start", "2"], ("=",))]


def test_letter_with_its_number_is_a_name_not_a_product():
    assert _read(r"v3 = 0.5") == [(["v(3)", "1/2"], ("=",))]
    assert _read(r"y = 3x1") == [(["y", "3*x"], ("=",))]  # a digit before the letter: a product, as before


def test_running_average_written_with_E_and_an_index():
    (sides, _), = _read(r"E[d^2]_k = \rho E[d^2]_{k-1} + (1-\rho) d_k^2")
    assert sides[0] == "<d^2>(k)" and "<d^2>(k - 1)" in sides[1]
    assert _read(r"E[d^2]_k = \langle d^2 \rangle_k")[0][0] == ["<d^2>(k)", "<d^2>(k)"]


def test_expectation_with_a_subscript_or_without_brackets():
    (sides, _), = _read(r"R(u) = \mathbb{E}_{z \sim \mathcal{Q}} \ell(u, z)")
    assert sides == ["R(u)", "E(ell(u, z))"]
    (sides, _), = _read(r"\E_{s} h(s, a) q + 1 = c")
    assert sides[0] == "E(q*h(s, a)) + 1"
    (sides, _), = _read(r"E_{s \sim \mu}[h(s, b)] = c")
    assert sides[0] == "E(h(s, b))"
    (sides, _), = _read("𝔼_{s} \\ell(s, b) = c")
    assert sides[0] == "E(ell(s, b))"


def test_expectations_over_different_distributions_stay_unread():
    (sides, _), = _read(r"\mathbb{E}_{s \sim \mu}[h(s)] = \mathbb{E}_{s \sim \nu}[h(s) w(s)]")
    assert all(s.startswith("UNREAD: expectations over different distributions") for s in sides)


def test_macros_defined_by_the_notes_are_expanded():
    notes = (r"\newcommand{\cost}[2]{\mathcal{C}(#1; #2)}" "\n" r"\def\rate{\gamma}" "\n"
             r"\DeclareMathOperator{\sg}{sign}" "\n" r"\newcommand\best[1][u]{#1^\star}" "\n"
             "Then $$\\cost{a}{b} = \\rate \\sg(a) + \\best + \\best[v]$$\n")
    (formula,) = extract(notes, "md")
    assert formula.latex == r"\mathcal{C}(a; b) = \gamma \operatorname{sign}(a) + u^\star + v^\star"
    assert formula.line == 5
    (sides, _), = _read(formula.latex)
    assert sides == ["calC(a, b)", "gamma*sign(a) + u_star + v_star"]


def test_macro_expansion_is_bounded():
    macros, _ = collect(r"\newcommand{\loop}{\loop\loop}\newcommand{\a}{\b}\newcommand{\b}{\a}")
    assert expand(r"x = \loop", macros) == r"x = \loop"  # would double forever: the text is kept as written
    left = expand(r"y = \a", macros)
    assert left in (r"y = \a", r"y = \b")  # a cycle stops after a bounded number of rounds
    (sides, _), = _read(left)
    assert sides[1].startswith("UNREAD")


def test_conventional_transpose_macro_without_a_definition():
    assert _read(r"u^\trans u = s")[0][0] == ["u**2", "s"]


def test_aud010_message_order_does_not_depend_on_the_hash_seed():
    script = ("import sympy\nfrom emastats.audit.findings import to_latex\n"
              "i = sympy.Symbol('i')\n"
              "print(to_latex(sympy.Function('zeta')(i) * sympy.Function('b^')(i) * sympy.Function('k')(i)))")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in (1, 2, 3)}
    assert len(outputs) == 1


def test_sympy_is_untouched_by_document_text():
    # a macro body is text: expanding a hostile one never evaluates anything
    macros, _ = collect(r"\newcommand{\evil}{__import__('os')}")
    (sides, _), = _read(expand(r"x = \evil", macros))
    assert isinstance(sympy.Symbol("x"), sympy.Symbol) and sides[0] == "x"


def test_emphasis_mangled_subscripts_are_read_only_with_evidence():
    # Markdown turned _…_ into *…*: a star before a brace can only be a subscript
    (sides, _), = _read(r"u*k = \sum*{j=1}^{M} a*{kj} c_{j}")
    assert sides == ["u(k)", "Sum(a(k, j)*c(j), (j, 1, M))"]
    (sides, _), = _read(r"\tau*q^2 = n*{o}\tau*{r}^{2}")
    assert sides == ["tau_q**2", "n_o*tau_r**2"]
    assert _read(r"p*q = r") == [(["p*q", "r"], ("=",))]  # no evidence: a product


def test_conditional_is_a_function_of_both_arguments():
    (sides, _), = _read(r"q(a \mid b) = q(a, b) / r")
    assert sides == ["q_given(a, b)", "q(a, b)/r"]
    (sides, _), = _read(r"q(a|\mathbf{b}) = s")
    assert sides == ["q_given(a, b)", "s"]
    assert _read(r"h(|a|) = 1")[0][0] == ["h*Abs(a)", "1"]  # bars of an absolute value are no condition


def test_two_index_letters_are_two_indices():
    assert _read(r"A_{ij} = B_{ji}") == [(["A(i, j)", "B(j, i)"], ("=",))]
    assert _read(r"m_{in} = 3") == [(["m_in", "3"], ("=",))]  # a label stays a label


def test_domain_and_range_declarations_are_no_statements():
    assert _read(r"g \colon \mathbb{R}^d \to \mathbb{R}") == []
    assert _read(r"\psi : u \mapsto u^2") == []
    assert _read(r"u \to 0") == [(["u", "0"], ("->",))]  # a limit, not a declaration


def test_a_letter_the_notes_shift_in_subscripts_is_an_index():
    from emastats.audit.model import infer_notation
    notation = infer_notation([(r"z_{r+1} = z_r - c", 1)])
    (sides, _), = [([str(s.expr) for s in st.sides], st.relations)
                   for st in parse_formula(r"z_{r+1} = z_r - c", notation).statements]
    assert sides == ["z(r + 1)", "-c + z(r)"]
    assert _read(r"z_r = 1") == [(["z_r", "1"], ("=",))]  # without that evidence r stays a label


def test_function_words_typed_without_a_backslash():
    (st,) = parse_formula(r"q = tanh(u) + exp(2)").statements
    u = sympy.Symbol("u")
    assert st.sides[1].expr == sympy.tanh(u) + sympy.exp(2)


def test_squared_two_norm_with_the_subscript_after_the_power():
    assert _read(r"\|u - v\|^2_2 = r") == [(["Abs(u - v)**2", "r"], ("=",))]


def test_derivative_operator_applied_to_a_name():
    assert _read(r"\frac{d}{du} h(u) = 2u") == [(["h'(u)", "2*u"], ("=",))]
    assert _read(r"\frac{d}{dz} \sigma(z) = q") == [(["sigmoid'(z)", "q"], ("=",))]
    assert _read(r"\frac{\partial}{\partial w} J = q") == [(["dJ/dw", "q"], ("=",))]
    (sides, _), = _read(r"\frac{d}{du} h(3) = 1")  # at another point than the variable: unread
    assert sides[0].startswith("UNREAD")
    (sides, _), = _read(r"\frac{d}{du}(u^2) = 2u")  # applied to an expression: unread
    assert sides[0].startswith("UNREAD")


def test_floor_ceiling_and_binomial():
    (st,) = parse_formula(r"\eta_k = \eta_0 \rho^{\lfloor k/S \rfloor}").statements
    k, big_s, rho = sympy.symbols("k S rho")
    assert st.sides[1].expr == sympy.Function("eta")(0) * rho ** sympy.floor(k / big_s)
    assert _read(r"c = \lceil u \rceil + {m \choose 2}") == [(["c", "binomial(m, 2) + ceiling(u)"], ("=",))]


def test_gamma_applied_is_the_gamma_function():
    (st,) = parse_formula(r"\Gamma(r + 1) = r!").statements
    r = sympy.Symbol("r")
    assert st.sides[0].expr == sympy.gamma(r + 1)
    assert _read(r"\Gamma u = 1") == [(["Gamma*u", "1"], ("=",))]  # without a bracket: a name


def test_a_function_definition_is_not_a_numeric_example():
    # x has a value in the prose of one row; the next row defines f again: no numeric finding
    text = ("# Table\n\n| row | formula |\n|---|---|\n| one | $g(u) = \\frac{1}{1+e^{-u}}$ when $u = 3$ |\n"
            "| two | $g(u) = tanh(u) = \\frac{e^u - e^{-u}}{e^u + e^{-u}}$ |\n")
    from emastats.audit.document import audit_text
    from emastats.audit.worker import Worker
    with Worker() as worker:
        audit = audit_text(text, "md", "table.md", worker)
    assert not [f for f in audit.findings if f.code == "AUD008"]


def test_equal_by_definition_is_an_equation():
    # a moment on the left of "def=" is a derivation step, not an assignment to something other than a name
    assert _read(r"\mathbb{E}[u] \stackrel{def}{=} \mathbb{E}[a v]") == [(["E(u)", "E(a*v)"], ("=",))]
    assert _read(r"r \triangleq s + 1") == [(["r", "s + 1"], ("=",))]


def test_bracketed_sample_index_is_an_index_and_a_layer_stays_a_label():
    (sides, _), = _read(r"Q = \sum_{i=1}^M (c u^{[i]} - v^{[i]})^2")
    assert sides[1] == "Sum((c*u(i) - v(i))**2, (i, 1, M))"
    assert _read(r"B^{[l]} = 1") == [(["B_layerl", "1"], ("=",))]


def test_argmin_and_argmax_name_an_opaque_point():
    forms = [r"u^\star = \argmin_{u} h(u, c)", r"u^\star = \arg\min_{u} h(u, c)",
             r"u^\star = \operatorname*{arg\,min}_{u} h(u, c)", r"u^\star = \text{arg}\min_{u} h(u, c)"]
    keys = {_read(f)[0][0][1] for f in forms}
    assert len(keys) == 1 and next(iter(keys)).startswith("argmin[u]")
    (sides, _), = _read(r"v = \underset{v}{\argmax} \log q(v, c)")
    assert sides[1].startswith("argmax[v]")
    (sides, _), = _read(r"v = \argmax_{v}")  # no objective: unread
    assert sides[1].startswith("UNREAD")


def test_angle_brackets_written_with_left_and_right_are_an_inner_product():
    (sides, _), = _read(r"s = \left< u, v \right> + 1")
    assert sides[1] == "<u,v> + 1"


def test_function_names_in_text_commands_and_lone_arrows():
    assert _read(r"q = \text{cos}(\phi)") == [(["q", "cos(phi)"], ("=",))]
    assert _read(r"\to") == []  # an arrow used as a word in a sentence
    assert _read(r"r = 2 \qedhere") == [(["r", "2"], ("=",))]


def test_operator_names_with_a_d_reach_the_parser():
    # the parser's lexer reads "d" before a letter as a differential: diag must still be read
    assert _read(r"B = \text{diag}(u) c") == [(["B", "c*diag(u)"], ("=",))]


def test_log_base_binomial_rms_and_a_parenthesised_condition():
    (st,) = parse_formula(r"q = \log_2 u").statements
    assert st.sides[1].expr == sympy.log(sympy.Symbol("u"), 2)
    (st,) = parse_formula(r"c = \binom{m}{2}").statements
    assert st.sides[1].expr == sympy.binomial(sympy.Symbol("m"), 2)
    (sides, _), = _read(r"\Delta u_k = -\frac{\text{RMS}[\Delta u]_{k-1}}{\text{RMS}[h]_k} h_k")
    assert "RMS[Deltau](k - 1)" in sides[1] and "RMS[h](k)" in sides[1]
    assert _read(r"u_{k+1} = u_k - c \quad (k \geq 1)") == [(["u(k + 1)", "-c + u(k)"], ("=",))]


def test_named_quantities_in_text_commands_with_scripts_and_blackboard_variance():
    assert _read(r"\mathrm{LN}_{p,q}(u) = 1")[0][0] == ["LN_p,q(u)", "1"]
    assert _read(r"\text{step}_k = 2") == [(["step(k)", "2"], ("=",))]
    assert _read(r"\mathbb{V}[U] = s") == [(["Var(U)", "s"], ("=",))]


def test_superscript_index_shifted_from_a_capital_on_an_indexed_base():
    from emastats.audit.normalise import Notation
    indexed = Notation(superscript_index=frozenset({"gamma"}))
    (st,) = parse_formula(r"\gamma^{K-1} = \gamma_{\max}", indexed).statements
    assert str(st.sides[0].expr) == "gamma(K - 1)"
    (st,) = parse_formula(r"\gamma^{K} = 1", indexed).statements  # K alone may be a transpose: unread
    assert st.sides[0].expr is None


def test_sum_without_limits_over_the_one_index_of_its_summand():
    (sides, _), = _read(r"s = \sum a_{k} c_{k} + d")
    assert sides[1] == "d + Sum(a(k)*c(k), (k, 1, |k|))"
    (sides, _), = _read(r"s = \sum a_k c_j")  # two indices: which one is summed is not said
    assert sides[1].startswith("UNREAD")


def test_capital_t_on_a_bold_name_is_a_transpose():
    assert _read(r"s = \mathbf{u}^T\mathbf{v} + c") == [(["s", "c + u*v"], ("=",))]
    assert _read(r"s = \textbf{u}^{T} \textbf{v}") == [(["s", "u*v"], ("=",))]
    assert _read(r"s = u^T v") == [(["s", "u_T*v"], ("=",))]  # not bold: a label, as before


def test_code_identifiers_and_a_starred_greek_product():
    assert _read(r"base{_}rate = top{_}rate*min(1, pace{_k})") == [
        (["baserate", "toprate*Min(1, pacek)"], ("=",))]
    (st,) = parse_formula(r"c = cos\left(\pi* u\right)").statements
    assert st.sides[1].expr == sympy.cos(sympy.Symbol("pi") * sympy.Symbol("u"))


def test_decimals_are_exact_fractions_before_any_arithmetic():
    (st,) = parse_formula(r"\frac{u}{0.0396} = w").statements
    assert st.sides[0].expr == sympy.Rational(2500, 99) * sympy.Function("u")(0) or \
        st.sides[0].expr == sympy.Symbol("u") * sympy.Rational(2500, 99)
    assert _read(r"q = 1.0 + 0.25") == [(["q", "5/4"], ("=",))]


def test_a_value_reached_by_substituting_an_unstated_number_is_not_the_definition():
    # "z_1 = 0.5 y_1 = 0.5 x 6 = 3" holds only for y_1 = 6, stated in prose: z_1 stays 0.5 y_1
    text = ("## 1.1 Avg\n\n$$z_t = 0.5 z_{t-1} + 0.5 y_t$$\n\n## 1.2 Check\n\n"
            "Start $z_0 = 0$, so $z_1 = 0.5 y_1 = 0.5 \\times 6 = 3$ and $z_2 = 0.5 z_1 + 0.5 y_2$, hence "
            "$\\frac{z_2}{0.75} = \\frac{0.25 y_1 + 0.5 y_2}{0.75}$.\n")
    from emastats.audit.document import audit_text
    from emastats.audit.worker import Worker
    with Worker() as worker:
        audit = audit_text(text, "md", "avg.md", worker)
    assert not [f for f in audit.findings if f.severity == "error"]


def test_floor_and_ceiling_brackets_close_for_the_depth_scanners():
    from emastats.audit.normalise import _split_top, tokenize

    assert len(_split_top(tokenize(r"\lfloor t/s \rfloor, x"), {","})) == 2
    assert len(_split_top(tokenize(r"\lceil t/s \rceil, x"), {","})) == 2
    assert len(_split_top(tokenize(r"(t/s), x"), {","})) == 2
