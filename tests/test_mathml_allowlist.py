"""MathML output is allow-listed: nothing a formula holds can become live HTML (issue 11, part A)."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings, strategies as st

from emastats.report.escape import rich as rich_text
from emastats.report.mathml import MATHML_ATTRIBUTES, MATHML_ELEMENTS, to_mathml

# The fallback wraps escaped TeX in these; nothing else may appear.
_FALLBACK_TAGS = {"code", "pre", "span"}
_FALLBACK_ATTRS = {"class"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags_of(markup: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(markup)
    parser.close()
    return parser.tags


def assert_allow_listed(markup: str) -> None:
    for tag, attrs in tags_of(markup):
        assert tag in MATHML_ELEMENTS | _FALLBACK_TAGS, (tag, markup)
        for name in attrs:
            assert name in MATHML_ATTRIBUTES | _FALLBACK_ATTRS | {"xmlns"}, (tag, name, markup)


PAYLOADS = [
    r"2+2 = 5\text{<meta/http-equiv='refresh'/content='1;url=https://example.invalid/'>}",
    r"x\text{<base/href=https://example.invalid/>}",
    r"\text{<div/style='position:fixed;top:0;left:0;width:100%;height:100%;background:#fff'>All claims verified: "
    r"no errors found</div>}",
    r"\textrm{<script>alert(1)</script>}",
    r"\mbox{<img src=x onerror=alert(9)>}",
    r"\text{&lt;meta http-equiv=refresh content=0&gt;}",
    r"\text{&#60;base href=x&#62;}",
    r"\href{https://example.invalid/}{click}",
    r"\style{position:fixed;top:0}{x}",
    r"\color{red;position:fixed}{x}",
    r"\fcolorbox{red}{blue}{x}",
    r"\operatorname{<form action=x>}",
]


@pytest.mark.parametrize("tex", PAYLOADS)
def test_payload_yields_only_allow_listed_mathml(tex):
    for display in (False, True):
        markup = to_mathml(tex, display=display).html
        assert_allow_listed(markup)
        lowered = markup.lower()
        for live in ("<meta", "<base", "<div", "<script", "<img", "<form"):
            assert live not in lowered, (live, markup)


def test_text_contents_are_kept_as_escaped_text():
    markup = to_mathml(r"2+2=5\text{<meta/http-equiv='refresh'>}")
    assert markup.typeset  # still typeset: the payload is shown as text, not dropped
    assert "&lt;meta/http-equiv=&#x27;refresh&#x27;&gt;" in markup.html or "&lt;meta/http-equiv='refresh'&gt;" in markup.html


def test_quoted_in_a_finding_the_payload_stays_text():
    """The audit quotes a document's formula in a finding; the report typesets it through rich_text."""
    page = rich_text(r"numeric example is wrong: $2+2 = 5\text{<meta/http-equiv='refresh'/content='1;url=x'>}$")
    assert_allow_listed(page)
    assert "<meta" not in page


def test_ordinary_formulas_still_typeset():
    for tex in (r"\frac{1}{1-\beta^t}", r"\hat{m}_t = m_t/(1-\beta_1^t)", r"\mathbb{E}[g] \le \sqrt{x}",
                r"\begin{array}{cl} a & b \end{array}", r"\not= 0"):
        markup = to_mathml(tex)
        assert markup.typeset, tex
        assert_allow_listed(markup.html)


def test_disallowed_attribute_falls_back_to_escaped_tex():
    markup = to_mathml(r"\href{https://example.invalid/}{x}")
    assert not markup.typeset
    assert "tex-fallback" in markup.html and "href=" not in markup.html


_PIECES = ["<", ">", "'", '"', "&", "&lt;", "&#60;", "/", "=", "meta", "base", "div", "script", "x", " ",
           r"\text{", r"\mathrm{", r"\operatorname{", r"\href{", r"\style{", r"\color{", "{", "}", "^", "_",
           r"\frac{", "$", "\\", "http-equiv", "onerror"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25), st.booleans())
def test_any_input_gives_allow_listed_markup(pieces, display):
    markup = to_mathml("".join(pieces), display=display).html
    assert_allow_listed(markup)
