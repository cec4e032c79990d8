"""Order relations: conditions, claims that hold, claims that fail at a point of the stated domain, abstentions.

All notes below are written for these tests.
"""
from __future__ import annotations

import pytest

from emastats.audit.check_inequality import (REASON_APPROX, REASON_LIMIT, REASON_PROSE, REASON_UNDECIDED,
                                             as_condition, check, relation_reason)
from emastats.audit.context import Context
from emastats.audit.document import audit_text
from emastats.audit.parse import parse_formula
from emastats.audit.worker import Worker


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def _audit(worker, text: str):
    audit = audit_text(text, "md", "ineq.md", worker)
    return audit, [f for f in audit.findings if f.code == "AUD019"]


def _chain(latex: str):
    st = parse_formula(latex).statements[0]
    return [s.expr for s in st.sides], st.relations


def test_relations_are_split_by_kind():
    assert relation_reason(("~",)) == REASON_APPROX
    assert relation_reason(("->",)) == REASON_LIMIT
    assert relation_reason(("<=",)) is None and relation_reason(("<", "=", "<=")) is None
    assert relation_reason(("<", ">")) not in (None, REASON_APPROX, REASON_LIMIT)  # a mixed chain says nothing


def test_a_bound_on_one_name_is_a_condition_not_a_claim():
    c = as_condition(*_chain(r"0 \le \gamma_2 < 1"))
    assert c is not None and c.lo == 0 and not c.lo_strict and c.hi == 1 and c.hi_strict
    assert as_condition(*_chain(r"0 < \eta\lambda < 2")) is not None  # a product of names is bounded too
    assert as_condition(*_chain(r"\eta^2 \le \eta")) is None  # both sides have names: a claim


def test_a_claim_that_holds_on_the_decay_domain_is_decided(worker):
    text = ("# Smoothing\n\nThe factor obeys $0 < \\beta < 1$.\n\nSquaring shrinks it:\n\n"
            "$$\\beta^{3} \\le \\beta^{2} \\le \\beta$$\n\nand after $t$ steps the weight is at most one:\n\n"
            "$$0 < 1 - \\beta^{t} < 1$$\n")
    audit, found = _audit(worker, text)
    assert found == []
    assert audit.stats["holds"] >= 2 and audit.stats["decided"] >= 2


def test_a_claim_that_fails_at_a_stated_domain_point_is_reported_with_the_point(worker):
    text = ("# Steps\n\nTake $0 < \\beta < 1$.\n\nThen we get the (wrong) bound\n\n"
            "$$\\frac{1}{1 - \\beta} \\le 1 + \\beta$$\n\nwhich ends the section.\n")
    _, found = _audit(worker, text)
    assert len(found) == 1
    evidence = found[0].evidence
    assert "beta = " in evidence and "left side is" in evidence and "right side is" in evidence
    assert "1 + \\beta" in found[0].message or "\\beta + 1" in found[0].message


def test_a_condition_in_prose_that_is_not_read_makes_it_abstain(worker):
    text = ("# Rates\n\nThe step size obeys this when the loss is smooth enough,\n\n"
            "$$\\eta^{2} \\le \\eta$$\n\nwhich we use below.\n")
    audit, found = _audit(worker, text)
    assert found == []
    assert audit.stats["unchecked_reasons"].get(REASON_PROSE) == 1
    after = ("# Rates\n\nWe bound the square:\n\n$$\\eta^{2} \\le \\eta$$\n\n"
             "provided the rate is below one.\n")
    audit, found = _audit(worker, after)
    assert found == [] and audit.stats["unchecked_reasons"].get(REASON_PROSE) == 1


def test_a_condition_in_prose_that_is_read_bounds_the_points(worker):
    text = "# Rates\n\nFor a rate $0 < \\eta \\le 1$ we have\n\n$$\\eta^{2} \\le \\eta$$\n\nand so on.\n"
    audit, found = _audit(worker, text)
    assert found == [] and audit.stats["holds"] == 1


def test_names_without_a_domain_make_it_abstain(worker):
    text = "# Misc\n\nA bound on a plain letter:\n\n$$q^{2} \\ge q$$\n\nand on a function $h(z) \\le z$ too.\n"
    audit, found = _audit(worker, text)
    assert found == []
    assert audit.stats["unchecked_reasons"].get(REASON_UNDECIDED) == 2


def test_check_works_on_parsed_expressions_only():
    sides, relations = _chain(r"\frac{\eta}{1 + \eta} < \eta")
    assert check(sides, relations, Context(), seed=0, conditions=[], prose_after="").verdict == "holds"
    sides, relations = _chain(r"\eta < \frac{\eta}{1 + \eta}")
    out = check(sides, relations, Context(), seed=0, conditions=[], prose_after="")
    assert out.verdict == "fails" and "eta = " in out.evidence
    # the text after the formula is unknown: a failure is not evidence enough
    assert check(sides, relations, Context(), seed=0, conditions=[], prose_after=None).verdict == "unchecked"


def test_an_assumption_does_not_give_an_unknown_function_a_domain(worker):
    text = ("# Smooth\n\nWe use that $\\nabla h(u^*) = 0$ to show\n\n"
            "$$\\eta \\|\\nabla h(u_s)\\|^2 \\le \\eta$$\n\nand so on.\n")
    audit, found = _audit(worker, text)
    assert found == [] and audit.stats["holds"] == 0


def test_an_index_at_one_is_no_counterexample_unless_a_condition_allows_it():
    sides, relations = _chain(r"t^{2} \ge 2 t")  # false only at t = 1 among positive integers
    assert check(sides, relations, Context(), seed=0, conditions=[], prose_after="").verdict == "unchecked"
    allowed = as_condition(*_chain(r"t \ge 1"))
    out = check(sides, relations, Context(), seed=0, conditions=[allowed], prose_after="")
    assert out.verdict == "fails" and "t = 1" in out.evidence
