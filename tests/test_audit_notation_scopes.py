"""Scopes and systems that the notation round reads (own wording; no corpus text)."""
from __future__ import annotations

from emastats.audit.document import audit_text
from emastats.audit.model import find_scopes
from emastats.audit.worker import Worker

_TEX = r"""\section{Methods}
\subsection{Plain steps}
The rule is
\[ u_{k+1} = u_k - \gamma \nabla h(u_k)\,, \qquad k = 0, 1, \dots \]
\subsection{Looking ahead}
Recall the heavy rule
\[ u_{k+1} = u_k - \gamma \nabla h(u_k) + \rho (u_k - u_{k-1})\,, \]
and now a second rule, with two helper sequences:
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
Some words about it.
\begin{align*}
u_{k+1} &= \rho c_k + (1 - \rho) d_k \\
c_k &= u_k + \rho (u_k - u_{k-1}) \\
d_k &= u_k - \gamma \nabla h(u_k)
\end{align*}
"""


def test_latex_subsections_are_scopes_like_markdown_subheadings():
    titles = [s.title for s in find_scopes(_TEX, "tex")]
    assert titles[-2:] == ["Plain steps", "Looking ahead"]


def test_a_new_system_of_rules_is_not_a_wrong_closed_form():
    with Worker() as worker:
        audit = audit_text(_TEX, "tex", "rules.tex", worker)
    assert not [f for f in audit.findings if f.severity == "error"]


def test_a_restatement_in_the_recurrences_own_quantities_is_still_checked():
    """The rule for a new system (rows defined below in the same block) leaves restatements alone: an index
    shifted closed form is found; one in an input the recurrence never reads (v) is not judged (no counterexample
    exists without knowing v)."""
    head = "# S\n\n$$q_{k+1} = q_k + r_k^2$$\n\nso that\n\n"
    with Worker() as worker:
        shifted = audit_text(head + "$$q_k = q_0 + \\sum_{i=1}^{k} r_i^2$$\n", "md", "q.md", worker)
        right = audit_text(head + "$$q_k = q_0 + \\sum_{i=0}^{k-1} r_i^2$$\n", "md", "q.md", worker)
        other = audit_text(head + "$$q_k = \\frac{1}{k} \\sum_{i=1}^{k} v_i$$\n", "md", "q.md", worker)
    assert [f.code for f in shifted.findings if f.severity == "error"] == ["AUD001"]
    assert not [f for f in right.findings if f.severity == "error"]
    assert not [f for f in other.findings if f.severity == "error"]


def test_numbered_sibling_sections_are_separate_scopes_and_a_child_continues_its_parent():
    text = "## 4 Schedules\n\nintro\n\n## 4.1 Detail\n\n### 4.2.1 Step\n\n### 4.2.2 Smooth\n"
    titles = [s.title for s in find_scopes(text, "md")]
    assert "4.1 Detail" not in titles  # a child of 4 continues it
    assert "4.2.1 Step" in titles and "4.2.2 Smooth" in titles  # siblings are two scopes


def test_a_schedule_redefined_in_a_sibling_section_is_a_new_definition():
    text = ("## 5.3.1 Steps\n\n$$r_{new} = r_{0} \\cdot q^{s / S}$$\n\n"
            "## 5.3.2 Natural\n\n$$r_{new} = r_{0} \\cdot e^{-q s / S}$$\n")
    with Worker() as worker:
        audit = audit_text(text, "md", "sched.md", worker)
    assert not [f for f in audit.findings if f.severity == "error"]
