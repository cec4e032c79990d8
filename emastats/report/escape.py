"""The one boundary where text from documents and store records becomes HTML or Markdown.

Every string a report shows that came from a course note, an audit finding or a
store record (names, messages, numbers, formulas) goes through one function of
this module, and nothing else in ``html.py`` / ``markdown.py`` escapes anything:

- HTML: ``text`` (entities), ``number`` (formatted, then escaped), ``math``
  (MathML from ``mathml.to_mathml``, which rebuilds it from an allow-list of MathML
  elements and attributes; a formula it cannot typeset that way, e.g. one with
  markup smuggled through ``\\text{...}`` in an attribute, falls back to the TeX
  shown as escaped code), ``rich`` (prose with formulas).
- Markdown: ``md_text`` (backslash escapes, so no emphasis, link, autolink or
  raw HTML can start), ``md_code`` (a code span whose fence is longer than any
  backtick run inside), ``md_number``, ``md_math`` (``$...$`` whose body cannot
  open an HTML tag or close the span), ``md_rich``.
"""
from __future__ import annotations

import contextlib
import html as _html
import re
from typing import Any, Iterator

from .formatting import fmt_number
from .mathml import normalise, split_prose, to_mathml

__all__ = ["text", "number", "math", "rich", "label", "md_text", "md_code", "md_number", "md_math", "md_rich",
           "md_label"]


# ----- HTML ------------------------------------------------------------------------------------------------

def text(value: Any) -> str:
    """Plain text as HTML (``&``, ``<``, ``>``, quotes escaped); None is the empty string."""
    return _html.escape("" if value is None else str(value), quote=True)


def number(value: Any, digits: int = 4) -> str:
    """A number from a record, formatted (``fmt_number``) and escaped: a tampered string field stays text."""
    return text(fmt_number(value, digits))


def _tex_fallback(tex: str, display: bool) -> str:
    tag = "pre" if display else "code"
    return (f'<{tag} class="tex-fallback">{text(tex)}</{tag}> '
            '<span class="math-note">(formula shown as TeX: it could not be typeset)</span>')


_MEMO: dict[str, str] | None = None  # formula -> checked markup, kept between renders (see ``memo``)


@contextlib.contextmanager
def memo(table: dict[str, str]) -> Iterator[None]:
    """Within the block, ``math`` and ``label`` reuse and fill ``table`` (persisted by the render cache).

    The table's name carries the version of this module, ``mathml`` and latex2mathml, so markup is
    reused only from the same conversion code.
    """
    global _MEMO
    previous, _MEMO = _MEMO, table
    try:
        yield
    finally:
        _MEMO = previous


def memo_version() -> str:
    """Version of the formula conversion: this module, ``mathml`` and latex2mathml."""
    import latex2mathml

    from . import mathml as _mathml
    from .cache import module_version

    return "-".join((module_version(__file__), module_version(_mathml.__file__),
                     str(getattr(latex2mathml, "__version__", "0"))))[:60]


def math(tex: Any, display: bool = False) -> str:
    """A formula from a record as MathML (allow-listed), or its TeX as escaped code; empty for none."""
    if tex is None or tex == "":
        return ""
    source = str(tex)
    key = f"{'D' if display else 'I'}:{source}"
    if _MEMO is not None and isinstance(_MEMO.get(key), str):
        return _MEMO[key]
    out = _math(source, display)
    if _MEMO is not None:
        _MEMO[key] = out
    return out


def _math(source: str, display: bool) -> str:
    markup = to_mathml(source, display=display)  # allow-listed MathML (mathml.safe_mathml) or not typeset
    return markup.html if markup.typeset else _tex_fallback(source, display)


# ASCII spellings proofs use in quantity names, and their TeX (labels only, never a statement).
_LABEL_REWRITES = (
    (re.compile(r"<\s*([^<>]{1,20}?)\s*>"), r"\\langle \1\\rangle "),  # <g^2>_2 -> \langle g^2\rangle_2
    (re.compile(r"(?<![A-Za-z\\])Var(?![A-Za-z])"), r"\\mathrm{Var}"),
    (re.compile(r"(?<![A-Za-z\\])Cov(?![A-Za-z])"), r"\\mathrm{Cov}"),
    (re.compile(r"_inf(?![A-Za-z])"), r"_\\infty "),
    (re.compile(r"(?<![A-Za-z\\])sqrt\(([^()]*)\)"), r"\\sqrt{\1}"),
    (re.compile(r"([A-Za-z])'"), r"\1^{\\prime}"),  # L'(w): a prime, not an acute accent
    (re.compile(r"(?<![A-Za-z])([A-Za-z])_hat(?![A-Za-z])"), r"\\hat{\1}"),  # m_hat_1 -> \hat{m}_1
)


_HAT = re.compile(r"(?<![A-Za-z\\])([A-Za-z])_(?:\{hat\}|hat)(?![A-Za-z])")
_SQRT = re.compile(r"(?<![A-Za-z\\])sqrt\(([^()]*)\)")


def prose_tex(text: str) -> str:
    """ASCII maths inside prose (assumptions): ``m_hat`` as a hat, ``sqrt(x)`` as a root; the rest unchanged."""
    if "\\" in text:
        return text
    return _SQRT.sub(r"\\sqrt{\1}", _HAT.sub(r"\\hat{\1}", text))


def label_tex(name: str) -> str:
    """A quantity's ASCII name as TeX: ``<g>_2``, ``Var_inf[w]``, ``L'(w)``, ``sqrt(x)`` made proper."""
    if "\\" in name:
        return name
    for pattern, replacement in _LABEL_REWRITES:
        name = pattern.sub(replacement, name)
    return name


def label(value: Any) -> str:
    """A quantity's name (counterexample rows, check names): typeset when it reads as maths, else plain text."""
    s = label_tex("" if value is None else str(value))
    key = f"L:{s}"
    if _MEMO is not None and isinstance(_MEMO.get(key), str):
        return _MEMO[key]
    markup = to_mathml(s)
    out = markup.html if markup.typeset else f"<code>{text(s)}</code>"
    if _MEMO is not None:
        _MEMO[key] = out
    return out


def rich(value: Any) -> str:
    """Prose that may hold maths: ``$...$`` spans typeset, else formulas found by ``split_prose`` typeset."""
    if value is None or value == "":
        return ""
    s = str(value)
    if "$" in s:
        parts = re.split(r"(\$[^$]+\$)", s)
        return "".join(math(p[1:-1]) if len(p) > 2 and p[0] == p[-1] == "$" else text(p) for p in parts)
    return "".join(math(seg.text) if seg.is_math else text(seg.text) for seg in split_prose(s))


# ----- Markdown --------------------------------------------------------------------------------------------

# Every ASCII punctuation character CommonMark lets a backslash escape and that can start markup here.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!$&~])")


def md_text(value: Any) -> str:
    """Plain text safe in Markdown: no emphasis, link, autolink, raw HTML, maths or table break can start."""
    s = "" if value is None else str(value)
    return _MD_SPECIAL.sub(r"\\\1", " ".join(s.split()) if "\n" in s else s)


def md_code(value: Any, in_table: bool = False) -> str:
    """A code span holding ``value`` literally (a fence longer than any backtick run inside it)."""
    s = " ".join(("" if value is None else str(value)).split())
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    if in_table:
        s = s.replace("|", "\\|")
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_number(value: Any, digits: int = 4) -> str:
    return md_text(fmt_number(value, digits))


def md_math(tex: Any, display: bool = False, in_table: bool = False) -> str:
    """``$...$`` (or a ``$$`` block) whose body cannot open HTML, end the span or split a table row."""
    s = normalise("" if tex is None else str(tex))
    s = " ".join(s.split())
    s = s.replace("<", r"\lt ").replace(">", r"\gt ").replace("$", r"\$").replace("`", r"\grave{}")
    if in_table:
        s = s.replace("|", r"\vert ")
    if not s:
        return ""
    return f"$$\n{s}\n$$" if display else f"${s}$"


def md_label(value: Any, in_table: bool = False) -> str:
    """A quantity's name: maths when it typesets, else a code span."""
    s = "" if value is None else str(value)
    return md_math(label_tex(s), in_table=in_table) if not label(s).startswith("<code>") else md_code(s, in_table)


def md_rich(value: Any, in_table: bool = False) -> str:
    """Prose that may hold maths, for Markdown: formulas as ``md_math``, the rest as ``md_text``."""
    if value is None or value == "":
        return ""
    s = str(value)
    if "$" in s:
        parts = re.split(r"(\$[^$]+\$)", s)
        return "".join(md_math(p[1:-1], in_table=in_table) if len(p) > 2 and p[0] == p[-1] == "$"
                       else md_text(p) for p in parts)
    return "".join(md_math(seg.text, in_table=in_table) if seg.is_math else md_text(seg.text)
                   for seg in split_prose(s))
