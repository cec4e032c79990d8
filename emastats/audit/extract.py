"""Find the formulas in course notes (.md, .txt, .tex) with their line numbers.

A formula is the LaTeX between ``$$…$$``, ``\\[…\\]``, ``\\begin{equation|align|split|gather|multline}…\\end{…}``
(starred or not) or ``$…$`` (inline). Code blocks and code spans are skipped (found with markdown-it-py, so a
``$`` inside code is never maths). The prose between two formulas is kept as ``prose_before``: it carries the
assumptions the next step relies on ("Setting $\\epsilon = 0$") and words such as "Show" or "Thus".

OCR noise is tolerated: an unclosed ``$$`` or environment ends at the next blank line, an unmatched inline ``$``
is ignored, and an escaped ``\\$`` is text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

# Beyond this a document is refused: notes are far smaller, and a huge file must not exhaust memory.
MAX_DOCUMENT_CHARS = 2_000_000

_ENVIRONMENTS = ("equation", "align", "split", "gather", "multline", "eqnarray", "aligned", "displaymath")
_ENV_RE = re.compile(r"\\begin\{(" + "|".join(_ENVIRONMENTS) + r")(\*?)\}")


@dataclass(frozen=True)
class Formula:
    """One formula: its LaTeX body, where it is (1-based lines) and the prose just before it."""

    latex: str
    line: int
    end_line: int
    display: bool
    environment: str  # "$$", "\\[", "$", or the environment name
    prose_before: str


def _code_lines(text: str) -> set[int]:
    """0-based line numbers inside fenced or indented code blocks (Markdown); none for LaTeX sources."""
    lines: set[int] = set()
    try:
        tokens = MarkdownIt("commonmark").parse(text)
    except Exception:  # markdown-it never should fail, but OCR text must not stop the audit
        return lines
    for tok in tokens:
        if tok.type in ("fence", "code_block") and tok.map:
            # An indented "code block" of notes is usually indented maths: keep it unless it has no $ at all.
            if tok.type == "code_block" and ("$" in tok.content or "\\[" in tok.content):
                continue
            lines.update(range(tok.map[0], tok.map[1]))
    return lines


def _blank_out_code(text: str, is_markdown: bool) -> str:
    """The text with code blocks and `code spans` replaced by spaces (offsets and line numbers preserved)."""
    if not is_markdown:
        return text
    code = _code_lines(text)
    out_lines = []
    for number, line in enumerate(text.split("\n")):
        if number in code:
            out_lines.append(" " * len(line))
        else:
            out_lines.append(re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), line))
    return "\n".join(out_lines)


def _strip_tex_comments(text: str) -> str:
    """``%`` comments removed (``\\%`` kept), offsets preserved."""
    return re.sub(r"(?<!\\)%[^\n]*", lambda m: " " * len(m.group(0)), text)


def _end_of_unclosed(text: str, start: int) -> int:
    """Where an unclosed display ends: at the next blank line (OCR lost the closing delimiter)."""
    blank = re.compile(r"\n[ \t]*\n").search(text, start)
    return blank.start() if blank else len(text)


def _line_of(offsets: list[int], pos: int) -> int:
    """1-based line number of character offset ``pos``."""
    lo, hi = 0, len(offsets)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if offsets[mid] <= pos:
            lo = mid
        else:
            hi = mid
    return lo + 1


def extract(text: str, kind: str = "md") -> list[Formula]:
    """All formulas of a document in reading order; ``kind`` is "md", "txt" or "tex"."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = _blank_out_code(text, kind in ("md", "txt"))
    if kind == "tex":
        body = _strip_tex_comments(body)
    offsets = [0] + [m.end() for m in re.finditer("\n", body)]
    formulas: list[Formula] = []
    pos = 0
    prose_start = 0
    n = len(body)
    while pos < n:
        ch = body[pos]
        found: tuple[int, int, int, str, bool] | None = None  # content start, content end, resume, env, display
        if ch == "\\" and body.startswith("\\$", pos):
            pos += 2
            continue
        if body.startswith("$$", pos):
            close = body.find("$$", pos + 2)
            limit = _end_of_unclosed(body, pos + 2)
            if close == -1 or close > limit and body.count("\n", pos, close) > 40:
                found = (pos + 2, limit, limit, "$$", True)
            else:
                found = (pos + 2, close, close + 2, "$$", True)
        elif body.startswith("\\[", pos):
            close = body.find("\\]", pos + 2)
            if close == -1:
                limit = _end_of_unclosed(body, pos + 2)
                found = (pos + 2, limit, limit, "\\[", True)
            else:
                found = (pos + 2, close, close + 2, "\\[", True)
        elif ch == "\\" and body.startswith("\\begin{", pos):
            m = _ENV_RE.match(body, pos)
            if m:
                end_tag = f"\\end{{{m.group(1)}{m.group(2)}}}"
                close = body.find(end_tag, m.end())
                if close == -1:
                    limit = _end_of_unclosed(body, m.end())
                    found = (m.end(), limit, limit, m.group(1), True)
                else:
                    found = (m.end(), close, close + len(end_tag), m.group(1), True)
        elif ch == "$":
            close = pos + 1
            while True:
                close = body.find("$", close)
                if close == -1 or body[close - 1] != "\\":
                    break
                close += 1
            # an inline formula stays on one paragraph: no blank line inside
            if close != -1 and close > pos + 1 and "\n\n" not in body[pos:close]:
                found = (pos + 1, close, close + 1, "$", False)
            else:
                pos += 1
                continue
        if found is None:
            pos += 1
            continue
        start, end, resume, env, display = found
        latex = body[start:end]
        while start < end and body[start].isspace():  # the formula's line is where its text starts
            start += 1
        if latex.strip():
            formulas.append(
                Formula(
                    latex=latex.strip(),
                    line=_line_of(offsets, start),
                    end_line=_line_of(offsets, max(start, end - 1)),
                    display=display,
                    environment=env,
                    prose_before=text[prose_start:pos][-600:],
                )
            )
        prose_start = resume
        pos = max(resume, pos + 1)
    return formulas
