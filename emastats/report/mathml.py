"""LaTeX to MathML for the HTML report: typeset offline, no JavaScript, never a crash.

Chromium renders MathML Core natively, so the report needs no MathJax and no
network. ``latex2mathml`` covers the notation of the catalogue; what it lacks is
rewritten first (``normalise``), and what it still cannot convert is shown as
TeX in a ``<code>`` element with a note, so a reader sees every formula.

Claim assumptions mix prose and maths ("E[X_t] = \\mu for all t"); ``normalise``
wraps runs of English words in ``\\text{...}`` so that they keep their spaces
and upright letters instead of becoming a product of italic variables.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import latex2mathml.converter

# Commands latex2mathml does not know, rewritten to ones it does (or dropped when they only affect layout).
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\\(?:big|Big|bigg|Bigg)[lrm]?\s*\\\|"), r"\\|"),
    (re.compile(r"\\(?:big|Big|bigg|Bigg)[lrm]?\s*\\Vert"), r"\\Vert"),
    (re.compile(r"\\(?:label|tag)\{[^{}]*\}"), ""),
    (re.compile(r"\\(?:nolimits|hline|displaystyle|notag|nonumber)\b"), ""),
    (re.compile(r"\\(?:textrm|textit|textsf|texttt|mbox)\{"), r"\\text{"),
    (re.compile(r"\\Var\b"), r"\\mathrm{Var}"),
    (re.compile(r"\\Cov\b"), r"\\mathrm{Cov}"),
    # prose ranges: "{1..N}" is the set 1, ..., N (a bare brace group would show no braces)
    (re.compile(r"(?<![\\_^])\{\s*([^{}.]+?)\s*\.\.\.?\s*([^{}.]+?)\s*\}"), r"\\{\1,\\dots,\2\\}"),
    (re.compile(r"(?<![.\\])\.\.\.?(?!\.)"), r"\\dots "),
)
# Plain-text spellings in prose assumptions ("N >= 1", "g != 0") and their TeX.
_ASCII_RELATIONS = ((">=", r"\ge "), ("<=", r"\le "), ("!=", r"\ne "))
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau "
    "phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega"
).split()
# Commands whose brace argument is text or a name, never to be re-wrapped in \text.
_TEXT_ARGUMENT = re.compile(
    r"\\(?:text|mathrm|operatorname\*?|mathbf|mathit|mathsf|mathcal|mathbb|begin|end|boldsymbol|bm|emph|textbf)\s*\{[^{}]*\}"
)
# Short English words that a prose assumption uses; longer words (3+ letters) are caught by length.
_SHORT_WORDS = {"is", "an", "in", "on", "of", "to", "so", "at", "as", "or", "by", "be", "if", "it", "we", "no"}
# A word: "e.g.", a dotted name (torch.optim.SGD), a hyphenated word (per-example, B-subset, but not the
# difference c-m), a word of 3+ letters, or a short English word; "'s" and "(s)" stay with their word.
_WORD = (
    r"(?:e\.g\.|i\.e\.|[A-Za-z]{2,}(?:\.[A-Za-z]+)+|[A-Za-z]{2,}(?:-[A-Za-z]+)+|[A-Za-z]-[A-Za-z]{3,}"
    r"|[A-Za-z]{3,}|(?:%s))(?:'s|\(s\))?" % "|".join(sorted(_SHORT_WORDS))
)
_BETWEEN_WORDS = r"[ ,]+(?:\d+[ ,]+)*"  # numbers inside prose ("all 12 components") stay in the text run
# A run of words (the article "a" may sit inside or open one), not a command name, subscript or argument.
_WORD_RUN = re.compile(
    r"(?<![\\A-Za-z_^{])((?:a\s+(?=%s))?%s(?:%s(?:%s|a(?=\s+[A-Za-z])))*)(?![A-Za-z])"
    % (_WORD, _WORD, _BETWEEN_WORDS, _WORD)
)
_GREEK_WORD = re.compile(r"(?<![\\A-Za-z])(%s)(\d*)(?![A-Za-z])" % "|".join(_GREEK))
_PAREN_POWER = re.compile(r"\^\(([^()]*)\)")
_BARE_SUBSCRIPT = re.compile(r"_([A-Za-z]{2,})")
_LEFTOVER_COMMAND = re.compile(r">[^<]*\\[A-Za-z|]+[^<]*<")


def _protect(text: str, pattern: re.Pattern[str], store: list[str]) -> str:
    def hide(m: re.Match[str]) -> str:
        store.append(m.group(0))
        return f"\x00{len(store) - 1}\x00"

    return pattern.sub(hide, text)


def _restore(text: str, store: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: store[int(m.group(1))], text)


def normalise(tex: str) -> str:
    """Rewrite ``tex`` into the subset latex2mathml converts, and mark prose as ``\\text``.

    Steps: strip ``$``/``\\[ \\]`` delimiters; rewrite unsupported commands
    (``_REWRITES``); turn ASCII relations (``>=``) into TeX; brace multi-letter
    bare subscripts in ASCII prose (``g_mb`` -> ``g_{mb}``); outside command names and text
    arguments, spell bare Greek names as commands (``sigma`` -> ``\\sigma``) and
    wrap runs of English words in ``\\text{ ... }``.
    """
    s = tex.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("$", "$")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right) - 1:
            s = s[len(left):len(s) - len(right)].strip()
            break
    for pattern, replacement in _REWRITES:
        s = pattern.sub(replacement, s)
    for ascii_form, tex_form in _ASCII_RELATIONS:
        s = s.replace(ascii_form, tex_form)
    hidden: list[str] = []
    s = _protect(s, _TEXT_ARGUMENT, hidden)
    if "\\" not in tex:  # ASCII prose ("g_mb"); in real TeX, S_aS_b means S_a S_b and must stay as it is
        s = _BARE_SUBSCRIPT.sub(lambda m: "_{" + m.group(1) + "}", s)
    s = _GREEK_WORD.sub(lambda m: "\\" + m.group(1) + (f"_{{{m.group(2)}}}" if m.group(2) else " "), s)
    s = _PAREN_POWER.sub(lambda m: "^{" + m.group(1) + "}", s)
    s = _protect(s, re.compile(r"\\[A-Za-z]+"), hidden)  # command names are not words
    s = _WORD_RUN.sub(lambda m: r"\text{ " + m.group(1) + " }", s)
    return _restore(_restore(s, hidden), hidden).strip()


@dataclass(frozen=True)
class MathMarkup:
    """The HTML of one formula and whether it is typeset (False: TeX shown as code)."""

    html: str
    typeset: bool
    tex: str


# What may leave this module as markup. latex2mathml un-escapes its own output, so the contents of
# ``\text{...}`` would land in the page as live HTML (``<meta http-equiv=refresh>``, ``<base href>``);
# the tree it builds is therefore re-serialised here, element by element, with every text escaped.
# Elements: MathML Core plus the few presentation elements latex2mathml emits (menclose, mstyle).
MATHML_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mmultiscripts "
    "mprescripts none mfrac msqrt mroot mstyle mpadded mphantom menclose merror mtable mtr mtd".split()
)
# Presentation attributes only: no href, no style, no event handlers, no id/class.
MATHML_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator form lspace rspace largeop movablelimits accent accentunder "
    "linethickness columnalign columnlines columnspacing rowspacing rowlines rowalign frame framespacing "
    "width height depth voffset scriptlevel displaystyle minsize maxsize symmetric notation mathsize "
    "mathcolor mathbackground columnspan rowspan equalrows equalcolumns".split()
)
_MATHML_NS = "http://www.w3.org/1998/Math/MathML"
# Attribute values are keywords, lengths, numbers and colour names/hex: nothing that could hold CSS or a URL.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 #.%+-]{0,64}")


class UnsafeMathML(ValueError):
    """latex2mathml produced an element, attribute or value outside the allow-list."""


def _text(raw: str | None) -> str:
    """Escaped text of a MathML node: latex2mathml stores character references (``&#x0002B;``) as
    literal text, so they are resolved first, then everything is escaped (user text stays text)."""
    return html.escape(html.unescape(raw), quote=False) if raw else ""


def safe_mathml(root: Element) -> str:
    """Serialise a latex2mathml element tree, allowing only ``MATHML_ELEMENTS`` and ``MATHML_ATTRIBUTES``.

    Every text and tail is escaped; anything outside the allow-list raises ``UnsafeMathML``. Iterative,
    so a deeply nested formula cannot exhaust the stack.
    """
    out: list[str] = []
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            out.append(f"</{node.tag}>{_text(node.tail) if node is not root else ''}")
            continue
        if not isinstance(node.tag, str) or node.tag not in MATHML_ELEMENTS:
            raise UnsafeMathML(f"element {node.tag!r} is not allowed")
        attrs = []
        for name, value in node.attrib.items():
            if name == "xmlns" and node.tag == "math" and value == _MATHML_NS:
                pass
            elif name not in MATHML_ATTRIBUTES or not _SAFE_VALUE.fullmatch(str(value)):
                raise UnsafeMathML(f"attribute {name}={value!r} on <{node.tag}> is not allowed")
            attrs.append(f' {name}="{html.escape(str(value), quote=True)}"')
        out.append(f"<{node.tag}{''.join(attrs)}>{_text(node.text)}")
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node)))
    return "".join(out)


def to_mathml(tex: str, display: bool = False) -> MathMarkup:
    """MathML for ``tex``; on failure the TeX in a ``<code>`` block with a short note.

    A conversion that leaves a raw command name in the output (latex2mathml
    prints unknown commands verbatim) counts as a failure too, and so does one
    that would need an element or attribute outside the allow-list (``safe_mathml``):
    whatever ``tex`` holds, the result is allow-listed MathML with escaped text, or escaped TeX.
    """
    source = normalise(tex)
    try:
        tree = latex2mathml.converter.convert_to_element(source, display="block" if display else "inline")
        markup = safe_mathml(tree)
    except Exception:  # latex2mathml raises many exception types on malformed input; UnsafeMathML too
        markup = None
    if markup is not None and not _LEFTOVER_COMMAND.search(markup):
        return MathMarkup(markup, True, tex)
    escaped = html.escape(tex)
    note = '<span class="math-note">(formula shown as TeX: it could not be typeset)</span>'
    tag = "pre" if display else "code"
    return MathMarkup(f'<{tag} class="tex-fallback">{escaped}</{tag}> {note}', False, tex)


@dataclass(frozen=True)
class Segment:
    """A piece of a prose message: plain text, or a formula to typeset."""

    text: str
    is_math: bool


_MATH_MARK = re.compile(r"[\\^_{}]")
_DOTTED_ID = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")  # a claim id like rmsprop.constant_gradient: text
_OPERATOR = re.compile(r"^(?:[=<>+\-*/]|<=|>=|!=|\\(?:neq?|le|ge|leq|geq|approx|to|cdot|times))$")


def _tokens(text: str) -> list[str]:
    """Split at whitespace outside braces, keeping each token's trailing whitespace ("{t + 1}" stays whole)."""
    tokens, current, depth, after_space = [], "", 0, False
    for ch in text:
        if after_space and depth == 0 and not ch.isspace():
            tokens.append(current)
            current, after_space = "", False
        current += ch
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch.isspace() and depth == 0 and current.strip():
            after_space = True
    if current:
        tokens.append(current)
    return tokens


def _peel(token: str) -> tuple[str, str, str]:
    """(leading text, core, trailing text): punctuation around a formula that belongs to the sentence."""
    core = token.rstrip()
    space = token[len(core):]
    lead = ""
    while core[:1] == "(" and core.count("(") > core.count(")"):
        lead, core = lead + "(", core[1:]
    tail = ""
    while core and core[-1] in ",;:.)" and not (core[-1] == ")" and core.count(")") <= core.count("(")):
        tail, core = core[-1] + tail, core[:-1]
    return lead, core, tail + space


def split_prose(text: str) -> list[Segment]:
    """Cut a message that mixes prose and TeX without ``$`` delimiters into text and formula segments.

    A token (whitespace-separated outside braces) is maths when it holds a TeX
    mark (``\\ ^ _ { }``); an operator token (``=``, ``<``, ``+``, ``\\neq`` ...)
    is maths and pulls its two neighbours in, so ``g = 3/2 > 0`` is one formula;
    a single letter or digit right after a formula joins it. Sentence
    punctuation around a formula stays text.
    """
    pieces = [_peel(t) for t in _tokens(text)]
    math = [bool(core) and not _DOTTED_ID.match(core) and (bool(_MATH_MARK.search(core)) or bool(_OPERATOR.match(core)))
            for _, core, _ in pieces]
    for i, (_, core, _) in enumerate(pieces):
        if core and _OPERATOR.match(core):
            for j in (i - 1, i + 1):
                if 0 <= j < len(pieces) and pieces[j][1]:
                    math[j] = True
    for i in range(1, len(pieces)):  # a lone symbol right after a formula belongs to it: "eta g", "= 3 t"
        lead, core, _ = pieces[i]
        if math[i - 1] and not pieces[i - 1][2].strip() and not lead and re.fullmatch(r"[A-Za-z0-9]", core):
            math[i] = True
    segments: list[Segment] = []

    def add(chunk: str, is_math: bool) -> None:
        if not chunk:
            return
        if segments and segments[-1].is_math == is_math:
            segments[-1] = Segment(segments[-1].text + chunk, is_math)
        else:
            segments.append(Segment(chunk, is_math))

    for i, (lead, core, tail) in enumerate(pieces):
        add(lead, False)
        # a formula continues over the space to the next formula token; otherwise the space is text
        joined = math[i] and i + 1 < len(pieces) and math[i + 1] and not tail.strip() and not pieces[i + 1][0]
        add(core + (tail if joined else ""), math[i])
        if not joined:
            add(tail, False)
    return [Segment(s.text.strip(), True) if s.is_math else s for s in segments]


def inline_tex(text: str) -> str:
    """Prose with ``$...$`` spans as HTML: the spans typeset, the rest escaped."""
    parts = re.split(r"(\$[^$]+\$)", text)
    out = []
    for part in parts:
        if len(part) > 2 and part.startswith("$") and part.endswith("$"):
            out.append(to_mathml(part[1:-1]).html)
        else:
            out.append(html.escape(part))
    return "".join(out)
