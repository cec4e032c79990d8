"""Find the formulas in course notes with their line numbers, in one linear pass.

A formula is the LaTeX between ``$$…$$``, ``\\[…\\]``, ``\\(…\\)`` (inline), ``\\begin{equation|align|split|gather|multline}…\\end{…}``
(starred or not), GitHub's ```` ```math ```` fences, or ``$…$`` (inline). Code blocks and code spans are skipped
(found with markdown-it-py's block parser, so a ``$`` inside code is never maths). The prose between two formulas
is kept as ``prose_before``: it carries the assumptions the next step relies on ("Setting $\\epsilon = 0$") and
words such as "Show" or "Thus".

OCR noise is tolerated: an unclosed ``$$`` or environment ends at the next blank line, an unmatched inline ``$``
is ignored, an escaped ``\\$`` is text, and ``\\\\`` (a LaTeX line break, as in ``\\\\[3mm]``) never opens maths.

Cost: every closing delimiter and blank line is indexed once (one regular-expression pass each) and looked up by
bisection, and the scan itself only moves forward, so extraction is O(n log n) in the document's length; the
quadratic re-scans of an unclosed ``\\[`` or of ``$$x$$`` repeated in one paragraph (issue 11) cannot recur.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace

from markdown_it import MarkdownIt

from .macros import collect as collect_macros, expand as expand_macros, without_definitions

# Beyond this a document is refused: notes are far smaller, and a huge file must not exhaust memory.
MAX_DOCUMENT_CHARS = 2_000_000

_ENVIRONMENTS = ("equation", "align", "split", "gather", "multline", "eqnarray", "aligned", "displaymath")
_ENV = "|".join(_ENVIRONMENTS)
_ENV_RE = re.compile(r"\\begin\{(" + _ENV + r")(\*?)\}")
# Everything the scan reacts to; ``\\\\`` comes first so that a backslash pair is consumed whole.
_TOKEN = re.compile(r"\\\\|\\\$|\\\[|\\\]|\\\(|\\\)|\\begin\{(?:" + _ENV + r")\*?\}|\\end\{(" + _ENV + r")(\*?)\}|\$\$|\$")
_BLANK = re.compile(r"(?=\n[ \t]*\n)")  # every start of a blank line, overlapping ones included
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_TEX_COMMENT = re.compile(r"(?<!\\)%[^\n]*")
MAX_UNCLOSED_LINES = 40  # a $$ whose partner is further than this past a blank line is unclosed (OCR)


@dataclass(frozen=True)
class Formula:
    """One formula: its LaTeX body, where it is (1-based lines) and the prose just before it."""

    latex: str
    line: int
    end_line: int
    display: bool
    environment: str  # "$$", "\\[", "$", "\\(", "math" (a ```math fence), or the environment name
    prose_before: str
    prose_after: str | None = None  # the text just after it (None where not known: a ```math fence)


_BLOCKS = MarkdownIt("commonmark").disable("inline")  # block structure only: linear, and all that is needed


_MAY_HOLD_CODE = re.compile(r"```|~~~|^(?: {4}|\t)", re.MULTILINE)  # a fence, or an indented line


def _code_blocks(text: str) -> tuple[set[int], list[tuple[int, int, str]]]:
    """0-based lines inside fenced or indented code blocks, and the ```math fences as (first, end, body)."""
    lines: set[int] = set()
    maths: list[tuple[int, int, str]] = []
    if not _MAY_HOLD_CODE.search(text):  # no code block possible: skip the (linear but slow) block parser
        return lines, maths
    try:
        tokens = _BLOCKS.parse(text)
    except Exception:  # markdown-it never should fail, but OCR text must not stop the audit
        return lines, maths
    for tok in tokens:
        if tok.type in ("fence", "code_block") and tok.map:
            # An indented "code block" of notes is usually indented maths: keep it unless it has no $ at all.
            if tok.type == "code_block" and ("$" in tok.content or "\\[" in tok.content):
                continue
            # a bare ~~~ is a slide deck's reveal marker (remark): between two of them is prose, maths included
            if tok.type == "fence" and tok.markup.startswith("~") and not tok.info.strip() and "$" in tok.content:
                continue
            if tok.type == "fence" and tok.info.strip().lower() in ("math", "{math}", "latex", "tex-math"):
                maths.append((tok.map[0], tok.map[1], tok.content))
            lines.update(range(tok.map[0], tok.map[1]))
    return lines, maths


def _blank_out_code(text: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Markdown with code blocks and `code spans` replaced by spaces (offsets and lines kept), and math fences."""
    code, maths = _code_blocks(text)
    out_lines = []
    for number, line in enumerate(text.split("\n")):
        if number in code:
            out_lines.append(" " * len(line))
        else:
            out_lines.append(_CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line))
    return "\n".join(out_lines), maths


def _strip_tex_comments(text: str) -> str:
    """``%`` comments removed (``\\%`` kept), offsets preserved."""
    return _TEX_COMMENT.sub(lambda m: " " * len(m.group(0)), text)


class _Index:
    """Sorted positions of every closing delimiter and blank line, so each look-up is a bisection."""

    def __init__(self, body: str) -> None:
        self.dollars: list[int] = []  # every unescaped $ character
        self.doubles: list[int] = []  # every $$ token
        self.brackets: list[int] = []  # every \]
        self.parens: list[int] = []  # every \)
        self.ends: dict[str, list[int]] = {}  # "\end{name*}" -> positions
        for m in _TOKEN.finditer(body):
            token = m.group(0)
            if token == "$":
                self.dollars.append(m.start())
            elif token == "$$":
                self.dollars += (m.start(), m.start() + 1)
                self.doubles.append(m.start())
            elif token == "\\]":
                self.brackets.append(m.start())
            elif token == "\\)":
                self.parens.append(m.start())
            elif m.group(1):
                self.ends.setdefault(token, []).append(m.start())
        self.blanks = [m.start() for m in _BLANK.finditer(body)]
        self.lines = [0] + [m.end() for m in re.finditer("\n", body)]
        self.size = len(body)

    @staticmethod
    def next_at(positions: list[int], start: int) -> int:
        """The first position >= start, or -1."""
        i = bisect_left(positions, start)
        return positions[i] if i < len(positions) else -1

    def paragraph_end(self, start: int) -> int:
        """Where an unclosed display ends: at the next blank line (OCR lost the closing delimiter)."""
        blank = self.next_at(self.blanks, start)
        return self.size if blank == -1 else blank

    def line_of(self, pos: int) -> int:
        """1-based line number of character offset ``pos``."""
        return bisect_right(self.lines, pos)


def _own_paragraph(body: str, start: int, end: int) -> bool:
    """Whether an inline formula is a paragraph of its own (blank line or start before, blank line or end after):
    notes written with ``$…$`` only set their displayed equations that way. ``body`` is the original text, so a
    formula right after a code fence is not alone."""
    before = body.rfind("\n", 0, start)
    after = body.find("\n", end)
    line_start, line_end = before + 1, len(body) if after == -1 else after
    if body[line_start:start].strip() or body[end:line_end].strip(" \t.,;:"):
        return False
    previous = body[:line_start].rstrip(" \t").split("\n")
    following = body[line_end:].split("\n")
    blank_before = len(previous) < 2 or not previous[-2].strip()
    blank_after = len(following) < 2 or not following[1].strip()
    return blank_before and blank_after


def _scan(body: str, text: str, index: _Index) -> list[Formula]:
    formulas: list[Formula] = []
    pos = prose_start = 0
    while True:
        m = _TOKEN.search(body, pos)
        if m is None:
            break
        pos, token = m.start(), m.group(0)
        found: tuple[int, int, int, str, bool] | None = None  # content start, content end, resume, env, display
        if token == "$$":
            close = index.next_at(index.doubles, pos + 2)
            limit = index.paragraph_end(pos + 2)
            if close == -1 or close > limit and index.line_of(close) - index.line_of(pos) > MAX_UNCLOSED_LINES:
                found = (pos + 2, limit, limit, "$$", True)
            else:
                found = (pos + 2, close, close + 2, "$$", True)
        elif token == "\\[":
            close = index.next_at(index.brackets, pos + 2)
            if close == -1:
                limit = index.paragraph_end(pos + 2)
                found = (pos + 2, limit, limit, "\\[", True)
            else:
                found = (pos + 2, close, close + 2, "\\[", True)
        elif token.startswith("\\begin{"):
            env = _ENV_RE.match(token)
            assert env is not None  # the token pattern only admits these environments
            end_tag = f"\\end{{{env.group(1)}{env.group(2)}}}"
            close = index.next_at(index.ends.get(end_tag, []), m.end())
            if close == -1:
                limit = index.paragraph_end(m.end())
                found = (m.end(), limit, limit, env.group(1), True)
            else:
                found = (m.end(), close, close + len(end_tag), env.group(1), True)
        elif token in ("$", "\\("):
            close = index.next_at(index.dollars if token == "$" else index.parens, m.end())
            blank = index.next_at(index.blanks, pos)
            # an inline formula stays in one paragraph: no blank line inside
            if close > m.end() and (blank == -1 or blank > close):
                found = (m.end(), close, close + len(token), token,
                         len(body) == len(text) and _own_paragraph(text, pos, close + len(token)))
        if found is None:  # \\, \$, a stray \] or \end, an unmatched $: text
            pos = m.end()
            continue
        start, end, resume, env_name, display = found
        latex = body[start:end]
        while start < end and body[start].isspace():  # the formula's line is where its text starts
            start += 1
        if latex.strip():
            formulas.append(Formula(
                latex=latex.strip(),
                line=index.line_of(start),
                end_line=index.line_of(max(start, end - 1)),
                display=display,
                environment=env_name,
                prose_before=text[max(prose_start, pos - 600):pos],
                prose_after=text[resume:resume + 300],
            ))
        prose_start = resume
        pos = max(resume, pos + 1)
    return formulas


def extract(text: str, kind: str = "md") -> list[Formula]:
    """All formulas of a document in reading order.

    ``kind`` is "md" or "txt" (Markdown code is skipped, ```math fences are display maths), "tex" (``%``
    comments are skipped) or "plain" (text already stripped of markup, e.g. from HTML or PDF).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    body, fences = text, []
    if kind in ("md", "txt"):
        body, fences = _blank_out_code(text)
    elif kind == "tex":
        body = _strip_tex_comments(body)
    macros, spans = collect_macros(body)
    body = without_definitions(body, spans)
    index = _Index(body)
    formulas = _scan(body, text, index)
    if fences:
        for first, _end, content in fences:  # the fence opens on line first + 1 (1-based), its maths follows
            if content.strip():
                skipped = len(content) - len(content.lstrip("\n"))
                formulas.append(Formula(
                    latex=content.strip(), line=first + 2 + skipped,
                    end_line=first + 1 + len(content.rstrip().split("\n")),
                    display=True, environment="math",
                    prose_before=text[max(0, index.lines[first] - 600):index.lines[first]],
                ))
        formulas.sort(key=lambda f: f.line)
    return [f if (expanded := expand_macros(f.latex, macros)) == f.latex else replace(f, latex=expanded)
            for f in formulas]
