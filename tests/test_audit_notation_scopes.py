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


def test_a_restatement_with_an_unexplained_input_is_still_checked():
    text = "# S\n\n$$q_{k+1} = q_k + r_k^2$$\n\nso that\n\n$$q_k = \\frac{1}{k} \\sum_{i=1}^{k} v_i$$\n"
    with Worker() as worker:
        audit = audit_text(text, "md", "q.md", worker)
    assert [f.code for f in audit.findings if f.severity == "error"] == ["AUD001"]
