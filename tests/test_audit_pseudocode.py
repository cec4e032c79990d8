"""Pseudo-code in code fences and code spans: read without evaluating text, executed exactly, two checks."""
from __future__ import annotations

import pytest

from emastats.audit.document import audit_text
from emastats.audit.pseudocode import (_Unreadable, audit_pseudocode, ema_arms, find_blocks, parse_assignments,
                                       parse_expression)
from emastats.audit.worker import Worker


def _codes(text: str) -> list[tuple[int, str]]:
    result = audit_pseudocode(text, "md", lambda line: 0)
    return [(f.line, f.code) for f in result.findings]


def test_ascii_arithmetic_is_read_and_anything_else_is_not():
    assert parse_expression("beta * v + (1 - beta) * g(t)")[0] == "+"
    assert parse_expression("x / np.sqrt(s) ** 2")[0] == "/"
    for text in ("__import__('os')", "os.system(1)", "[1, 2]", "a if b else c", "lambda: 1", "x.y"):
        with pytest.raises(_Unreadable):
            parse_expression(text)
    assert parse_assignments("print(x)", 1) == []
    assert parse_assignments("if a == b:", 1) == []
    assert parse_assignments("name = 'text'", 1) == []
    two = parse_assignments("m = 0, s = 0  # start", 4)
    assert [(a.target, a.line) for a in two] == [("m", 4), ("s", 4)]
    plus = parse_assignments("total += step", 2)[0]
    assert plus.expr == ("+", ("name", "total"), ("name", "step"))


def test_average_shape_is_recognised_in_either_order():
    assert ema_arms(parse_expression("rho * acc + (1 - rho) * grad^2"))[0] == "rho"
    assert ema_arms(parse_expression("(1 - rho) * grad + rho * acc"))[0] == "rho"
    assert ema_arms(parse_expression("rho * acc + grad")) is None


def test_python_fences_are_code_not_notes():
    text = "```python\nm = 0\nm = b * g + (1 - b) * g\n```\n"
    assert find_blocks(text) == []
    assert _codes(text) == []


GOOD = """# Adam, as a loop

```
m = 0, r = 0
for each step k:
    m = b1 * m + (1 - b1) * g
    r = b2 * r + (1 - b2) * g^2
    mc = m / (1 - b1^k)
    rc = r / (1 - b2^k)
    x = x - lr * mc / (sqrt(rc) + eps)
```
"""


def test_a_correct_loop_has_no_finding_and_its_checks_are_decided():
    result = audit_pseudocode(GOOD, "md", lambda line: 0)
    assert result.findings == []
    # two averages read their state, two corrections hold, x descends
    assert result.decided == 5 and result.holds == 5


def test_an_average_that_forgets_its_state():
    dropped = GOOD.replace("m = b1 * m + (1 - b1) * g", "m = b1 * g + (1 - b1) * g") \
                  .replace("r = b2 * r + (1 - b2) * g^2", "r = b2 * g + (1 - b2) * g^2")
    assert (6, "AUD015") in _codes(dropped) and (7, "AUD015") in _codes(dropped)


@pytest.mark.parametrize("line", ["m = m / (1 - b1^k)", "mc = m / (1 - b1^(k+2))", "mc = m / (1 - b1^(2*k))"])
def test_a_correction_written_back_or_off_by_one(line):
    text = GOOD.replace("mc = m / (1 - b1^k)", line).replace("lr * mc", "lr * m" if line.startswith("m =") else
                                                              "lr * mc")
    assert (8, "AUD004") in _codes(text)


def test_correction_inside_the_recursion_with_the_start_in_a_code_span():
    text = ("## Bias\n\nThe average starts at `a(0) = 0`.\n\n```\n"
            "a(t) = (c * a(t-1) + (1 - c) * y(t)) / (1 - c^t)\n```\n")
    assert _codes(text) == [(6, "AUD004")]
    # without a stated start the correction's value is unknown: abstain
    assert _codes(text.replace("The average starts at `a(0) = 0`.", "No start is given.")) == []


def test_pseudocode_findings_reach_the_document_audit():
    text = GOOD.replace("mc = m / (1 - b1^k)", "m = m / (1 - b1^k)").replace("lr * mc", "lr * m")
    with Worker() as worker:
        audit = audit_text(text, "md", "loop.md", worker)
    assert [(f.line, f.code) for f in audit.findings if f.severity == "error"] == [(8, "AUD004")]
    assert audit.stats["statements"] >= 7 and audit.stats["decided"] >= 4


def test_a_parameter_update_that_climbs_and_an_accumulator_that_is_not_judged():
    climbing = GOOD.replace("x = x - lr * mc", "x = x + lr * mc")
    assert _codes(climbing) == [(10, "AUD002")]
    adagrad = "```\nh = 0\nrepeat:\n    h = h + dw^2\n    w = w - lr * dw / sqrt(h + eps)\n```\n"
    result = audit_pseudocode(adagrad, "md", lambda line: 0)
    assert result.findings == [] and result.decided == 1  # w descends; h accumulates (not judged)
    assert _codes("Then `w = w + lr * dw` moves the weights.\n") == [(1, "AUD002")]


def test_a_conditional_claim_in_code_spans_is_computed_from_the_stated_definitions():
    text = ("## Rescaling\n\n- Scale with `u = (x - c) / sqrt(s + eps)`.\n- Shift with `y = a * u + d`.\n"
            "- If `a = sqrt(s + eps)` and `d = c` then `y = {claim}`.\n")
    assert _codes(text.format(claim="u")) == [(5, "AUD001")]
    right = audit_pseudocode(text.format(claim="x"), "md", lambda line: 0)
    assert right.findings == [] and right.holds >= 1
    assert parse_assignments("m = sum(x(i)) / n", 1) == []  # a reduction is not a sequence read at an index


def test_hostile_pseudocode_is_bounded():
    # exact powers that would grow without end are unknown; thousands of spans are one pass
    blow_up = "```\nx = 3\nrepeat:\n    x = x^64 / (1 - b^t)\n    y = b * y + (1 - b) * x\n```\n"
    audit_pseudocode(blow_up, "md", lambda line: 0)
    many = "".join(f"- `a{i} = b * a{i} + (1 - b) * g` and `c = {i}`\n" for i in range(3000))
    result = audit_pseudocode(many, "md", lambda line: 0)
    assert result.statements == 6000 and result.findings == []


def test_an_exponent_that_is_right_when_the_loop_counts_from_zero_is_not_judged():
    text = GOOD.replace("mc = m / (1 - b1^k)", "mc = m / (1 - b1^(k+1))")
    result = audit_pseudocode(text, "md", lambda line: 0)
    assert all(f.line != 8 for f in result.findings)  # t + 1 from 0 equals t from 1: abstain
    assert (8, "AUD004") in _codes(GOOD.replace("mc = m / (1 - b1^k)", "mc = m / (1 - b1^(k+2))"))
