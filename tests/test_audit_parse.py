"""Extraction, notation normalising and parsing, including the parser traps named in issue 6 and a fuzz test."""
from __future__ import annotations

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emastats.audit.extract import extract
from emastats.audit.normalise import TooLarge, Unsupported, normalise_side
from emastats.audit.parse import Rejected, parse_formula, precheck, split_statements


def _sides(latex: str) -> list[list[str]]:
    return [[str(s.expr) for s in st.sides] for st in parse_formula(latex).statements]


def test_extract_finds_display_inline_and_environments_with_lines():
    text = "intro $a = 1$ text\n\n$$b = 2$$\n\n\\[ c = 3 \\]\n\\begin{align}\nd &= 4\n\\end{align}\n"
    found = extract(text, "md")
    assert [(f.latex, f.line, f.display) for f in found] == [
        ("a = 1", 1, False), ("b = 2", 3, True), ("c = 3", 5, True), ("d &= 4", 7, True)]
    assert "intro" in found[0].prose_before


def test_extract_skips_code_and_escaped_dollars():
    text = "price \\$5 and \\$6\n\n```\nx = $a$\n```\n\nand `$b$` but $c = 1$\n"
    assert [f.latex for f in extract(text, "md")] == ["c = 1"]


def test_extract_tolerates_an_unclosed_display():
    text = "$$ a = b\n\nnext paragraph $c = d$"
    assert [f.latex for f in extract(text, "txt")] == ["a = b", "c = d"]


def test_tex_comments_are_not_maths():
    assert [f.latex for f in extract("% $x = 1$\n$y = 2$", "tex")] == ["y = 2"]


def test_same_quantity_in_several_notations_gets_one_name():
    forms = [r"\mathbf{g}_{\text{mb};t}", r"g_{\mathrm{mb},t}", r"g_{mb,t}",
             r"\boldsymbol{g}_{\text{mb}:t}"]
    names = {str(parse_formula(f).statements[0].sides[0].expr) for f in forms}
    assert names == {"g_mb(t)"}


def test_notation_layer_handles_brackets_hats_expectations_and_sums():
    assert _sides(r"\langle g^2 \rangle_{t+1} = \hat{v}_{t}") == [["<g^2>(t + 1)", "v^(t)"]]
    assert _sides(r"\mathrm{E}\left[\mathbf{g}_{\mathrm{mb}}\right] = \mathbb{E}[g_{mb}]") == [
        ["E(g_mb)", "E(g_mb)"]]
    assert _sides(r"\operatorname{sign}(x) \tag{3}") == [["sign(x)"]]
    (expr,), = _sides(r"\frac{1}{M} \sum_{i \text{ in mb}} g_i")
    assert "Sum(g(i), (i, 1, |mb|))" in expr
    assert _sides(r"\beta(1-\beta)") == [["beta*(1 - beta)"]]


def test_E_of_x_is_an_expectation_not_a_product():
    (expr,), = [[s.expr for s in st.sides] for st in parse_formula("E[x]").statements]
    assert type(expr).__name__ == "E"


def test_chains_aligned_rows_and_quad_separated_statements():
    rows = split_statements(r"a &= b \\ &= c \qquad d = e")
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (False, ["a", "b"], ["="]), (True, ["c"], ["="]), (False, ["d", "e"], ["="])]


def test_unmatched_bracket_is_rejected_not_truncated():
    result = parse_formula("x+y)+z = w")
    assert result.rejected and "bracket" in result.rejected
    precheck(r"\left( a \right.")  # \right. is a valid invisible delimiter: no Rejected
    with pytest.raises(Rejected):
        precheck(r"\left( a \right] )")


def test_power_tower_is_refused_before_parsing():
    result = parse_formula(r"x = 10^{10^{10}}")
    assert "too large" in result.rejected
    try:
        normalise_side(r"2^{100000}")
    except TooLarge:
        pass
    else:
        raise AssertionError("a huge exponent must be refused")


def test_huge_formula_is_rejected():
    assert parse_formula("x + " * 3000 + "1").rejected


def test_unsupported_notation_is_recorded_per_side():
    st = parse_formula(r"\int_{0}^{1} y_t \, dt = c").statements[0]  # (\lim is read now: an operator)
    assert st.sides[0].expr is None and st.sides[0].problem
    assert isinstance(st.sides[1].expr, sympy.Symbol)


_LATEX_PIECES = st.sampled_from([
    "x", "y_t", "g_{t+1}", r"\frac{", "}{", "}", "{", "(", ")", "[", "]", r"\sqrt{", "^", "_", "=", "+", "-",
    r"\langle", r"\rangle", r"\hat{m}", r"\mathbf{w}", r"\text{mb}", r"\sum_{i=1}^{N}", "E[", "$", "$$", r"\\",
    "&", r"\left(", r"\right)", "10^{10^{", "0.5", r"\beta", " ", "\n", r"\begin{align}", r"\end{align}", "%",
    "`", r"\operatorname{sign}", "|", r"\tag{1}", "'", r"\cdot", "\x00", "é"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LATEX_PIECES, max_size=25))
def test_fuzz_extractor_and_parser_never_raise(pieces):
    text = "".join(pieces)
    for kind in ("md", "tex"):
        for formula in extract(text, kind):
            result = parse_formula(formula.latex)  # must not raise: problems are recorded
            for statement in result.statements:
                for side in statement.sides:
                    assert side.expr is not None or side.problem


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_normaliser_raises_only_documented_errors(text):
    try:
        normalise_side(text)
    except (Unsupported, TooLarge):
        pass
