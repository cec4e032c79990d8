"""General checks that find errors on notes the audit was not tuned on: moments of defined families, standard
deviations against stated variances, and updates stated in paragraph-level inline maths. Passages are written
for these tests; each has a correct control."""
from __future__ import annotations

import pytest

from emastats.audit.document import audit_text
from emastats.audit.extract import extract
from emastats.audit.worker import Worker


@pytest.fixture(scope="module")
def worker():
    with Worker() as w:
        yield w


def _errors(worker, text: str) -> list[tuple[int, str]]:
    audit = audit_text(text, "md", "note.md", worker)
    return [(f.line, f.code) for f in audit.findings if f.severity == "error"]


AVERAGE = ("# Averaging noisy estimates\n\n"
           "Each estimate is $y_j = m + e_j$ with independent errors $e_j$ of variance $s^2$, and the mix\n"
           "$\\bar y = \\sum_{j=1}^{J} w_j y_j$ has\n\n"
           "$$\\operatorname{Var}(\\bar y) = s^2 \\sum_{j=1}^{J} w_j^2.$$\n")


def test_variance_of_a_weighted_family_expands_its_indexed_definition(worker):
    assert _errors(worker, AVERAGE) == []
    assert _errors(worker, AVERAGE.replace("w_j^2.$$", "w_j.$$")) == [(6, "AUD012")]


def test_a_standard_deviation_is_the_root_of_the_stated_variance(worker):
    text = ("# Batch noise\n\n"
            "$$\\operatorname{Var}(\\hat h) = \\frac{\\tau^2}{M}$$\n\n"
            "hence\n\n"
            "$$\\operatorname{sd}(\\hat h) = \\frac{\\tau}{\\sqrt{M}}$$\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("{\\sqrt{M}}", "{M}")) == [(7, "AUD012")]


def test_an_inline_formula_alone_in_its_paragraph_is_displayed():
    text = "Intro text.\n\n$ a_t = b a_{t-1} $\n\nSee $c$ here and\n$d = 1$\nend.\n"
    assert [(f.latex, f.display) for f in extract(text, "md")] == [
        ("a_t = b a_{t-1}", True), ("c", False), ("d = 1", False)]


def test_an_update_set_as_its_own_inline_paragraph_is_checked(worker):
    text = ("# Descent\n\nThe rule is\n\n"
            "$ x_{t} = x_{t-1} - \\gamma g_t $\n\n"
            "with rate $\\gamma$.\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("- \\gamma g_t", "+ \\gamma g_t")) == [(5, "AUD002")]


BATCH = ("# Normalising a batch\n\n"
         "$$\\nu = \\frac{1}{n}\\sum_{k=1}^{n} u_k$$\n\n"
         "$$\\rho^2 = \\frac{1}{n}\\sum_{k=1}^{n} (u_k - \\nu)^2$$\n\n"
         "$$z_k = \\frac{u_k - \\nu}{\\sqrt{\\rho^2 + \\delta}}$$\n")


def test_a_standardised_batch_must_have_mean_zero(worker):
    assert _errors(worker, BATCH) == []
    assert _errors(worker, BATCH.replace("u_k - \\nu}{", "u_k + \\nu}{")) == [(7, "AUD017")]
    # a mean of another family is no standardisation of u: not judged
    other = BATCH.replace("\\nu = \\frac{1}{n}\\sum_{k=1}^{n} u_k", "\\nu = \\frac{1}{n}\\sum_{k=1}^{n} q_k")
    assert _errors(worker, other.replace("u_k - \\nu}{", "u_k + \\nu}{")) == []


def test_a_constant_ten_times_the_stated_hyperparameter(worker):
    text = ("# Training recipe\n\n"
            "- plain SGD, momentum 0.8 and weight decay 0.0002\n"
            "  - $u \\gets 0.8 u - \\eta g - 0.002 \\eta w$\n"
            "  - $w \\gets w + u$\n")
    assert _errors(worker, text) == [(4, "AUD018")]
    assert _errors(worker, text.replace("0.002 \\eta", "0.0002 \\eta")) == []
    # with no other constant of the rule in the text, the text is not a list of this rule's constants
    assert _errors(worker, text.replace("momentum 0.8", "momentum as usual")) == []


def test_slide_reveal_markers_do_not_hide_maths():
    from emastats.audit.extract import extract
    text = "# Slide\n\n~~~\n- first point $a = 1$\n~~~\n- second point $b = 2$\n"
    assert [f.latex for f in extract(text, "md")] == ["a = 1", "b = 2"]


def test_a_correction_described_in_prose_must_unbias_the_average(worker):
    text = ("# Bias\n\n"
            "$$q_t = (1 - \\rho) \\sum_{i=1}^{t} \\rho^{t-i} g_i^2$$\n\n"
            "The weights sum to $1 - \\rho^t$, so to remove the bias we divide $q_t$ by\n"
            "$(1 - \\rho^t)$ before use.\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("$(1 - \\rho^t)$ before", "$(1 - \\rho^2)$ before")) == [(6, "AUD004")]


def test_a_defined_function_evaluated_at_a_point_in_the_prose(worker):
    text = ("# Quadratic\n\nFor $q(x) = \\frac{1}{2} a x^2 - b x$ the minimiser is $x^\\star = b/a$, where "
            "$q(x^\\star) = -\\frac{b^2}{2a}$.\n")
    assert _errors(worker, text) == []
    assert _errors(worker, text.replace("{b^2}{2a}", "{b^2}{a}")) == [(3, "AUD001")]
