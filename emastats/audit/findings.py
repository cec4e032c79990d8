"""A finding (one linter message) and the LaTeX printing of expressions in the notes' own names."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import sympy
from sympy.core.function import AppliedUndef

from .codes import CODES


@dataclass(frozen=True)
class Finding:
    """One message: where, which code and severity, what is wrong, the evidence and the corrected formula."""

    line: int
    end_line: int
    code: str
    message: str
    evidence: str = ""
    suggestion: str = ""

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    def to_dict(self) -> dict:
        out = asdict(self)
        out["severity"] = self.severity
        return {k: out[k] for k in ("line", "end_line", "code", "severity", "message", "evidence", "suggestion")}


def _name_latex(name: str) -> str:
    if name.startswith("<") and name.endswith(">"):
        return r"\langle " + name[1:-1] + r" \rangle"
    base, _, label = name.partition("_")
    hat = base.endswith("^")
    base = base.rstrip("^")
    if len(base) > 1 and base.isalpha() and base not in ("calL",):
        base = "\\" + base
    if hat:
        base = r"\hat{" + base + "}"
    return base + (r"_{\text{" + label + "}}" if label else "")


def to_latex(expr: sympy.Basic) -> str:
    """LaTeX for an expression whose symbols and functions carry canonical keys (``<g^2>(t + 1)``)."""
    names: dict[sympy.Symbol, str] = {}
    replacements: dict[sympy.Basic, sympy.Symbol] = {}
    for f in sorted(expr.atoms(AppliedUndef), key=str):  # sorted: the placeholders' order is the printed order
        placeholder = sympy.Symbol(f"F{len(replacements)}")
        args = ", ".join(sympy.latex(a) for a in f.args)
        name = type(f).__name__
        if name in ("E", "Var", "Cov"):
            names[placeholder] = rf"\mathrm{{{name}}}[{args}]"
        else:
            names[placeholder] = "{" + _name_latex(name) + "}_{" + args + "}"
        replacements[f] = placeholder
    for s in expr.free_symbols:
        if isinstance(s, sympy.Symbol):
            names[s] = _name_latex(s.name)
    try:
        return sympy.latex(expr.xreplace(replacements), symbol_names=names)
    except Exception:  # printing must never hide a finding
        return str(expr)
