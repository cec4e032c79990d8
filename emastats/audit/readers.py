"""Read notes files safely and turn each input format into text the extractor scans, with a line mapping.

Formats (by suffix): Markdown (``.md``, ``.markdown``, ``.qmd``, ``.rmd``), LaTeX (``.tex``), plain text (``.txt``),
Jupyter notebooks (``.ipynb``: the Markdown cells, read with nbformat), PDF (``.pdf``: the text layer, read with
pypdf; approximate, since a PDF stores glyphs, not LaTeX) and HTML (``.html``, ``.htm``: tags stripped with the
standard library's parser, ``$…$``, ``\\[…\\]`` and MathJax ``<script type="math/tex">`` kept).

Reading is bounded: only regular files are opened (a FIFO or ``/dev/zero`` is refused after ``os.stat``, before
any read), the open is non-blocking, and at most the size limit plus one byte is read.

Line numbers: for text formats and HTML the audit's line is the file's line. For a notebook the finding's line is
the line of the ``.ipynb`` (JSON) file holding that source line (found by a forward search of the JSON-encoded
line; a cell stored as one string maps to that string's line), and the message names the cell and its line
("cell 3, line 2"). For a PDF the line is the line of the extracted text, and the message names the page and says
that PDF text is approximate.
"""
from __future__ import annotations

import json
import os
import re
import stat
from bisect import bisect_right
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..errors import InputFileError
from ..files import NotRegularFile, read_regular
from .extract import MAX_DOCUMENT_CHARS

FORMATS = {
    ".md": "md", ".markdown": "md", ".qmd": "qmd", ".rmd": "md", ".txt": "txt", ".tex": "tex",
    ".ipynb": "ipynb", ".pdf": "pdf", ".html": "html", ".htm": "html",
}
# The extractor's dialect for each format (see extract.extract).
DIALECT = {"md": "md", "qmd": "md", "txt": "txt", "tex": "tex", "ipynb": "md", "pdf": "plain", "html": "plain"}
# Containers carry more than their text (a notebook's images, a PDF's fonts): a larger byte limit, the same text one.
MAX_CONTAINER_BYTES = 64_000_000
PDF_NOTE = "PDF text is approximate"


@dataclass(frozen=True)
class Source:
    """A document as the extractor sees it: its text, and where each of its lines is in the file.

    ``file_lines[i]`` is the file line of text line ``i + 1`` and ``labels[i]`` a label such as "cell 3, line 2"
    (both None when the text is the file, line for line).
    """

    path: str
    fmt: str
    text: str
    file_lines: tuple[int, ...] | None = None
    labels: tuple[str, ...] | None = None

    @property
    def dialect(self) -> str:
        return DIALECT[self.fmt]

    @property
    def approximate(self) -> bool:
        return self.fmt == "pdf"


def format_of(path: str) -> str:
    """The input format named by the file's suffix; InputFileError for an unknown one."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise InputFileError(f"{path}: unknown notes format {Path(path).suffix or '(no suffix)'!r} (known: {known})")
    return fmt


def check_input(path: str) -> str:
    """The file's format, after checking (without reading it) that it is a regular file within the size limit."""
    fmt = format_of(path)
    _check_regular(path, MAX_CONTAINER_BYTES if fmt in ("pdf", "ipynb") else MAX_DOCUMENT_CHARS)
    return fmt


def _check_regular(path: str, limit: int) -> None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputFileError(f"{path}: is a directory; give the notes files inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(f"{path}: not a regular file (a pipe, device or socket); save the notes to a file first")
    if info.st_size > limit:
        raise InputFileError(f"{path}: {info.st_size} bytes is larger than the {limit}-byte limit for notes")


def read_bytes(path: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file; InputFileError for anything else (never blocks)."""
    _check_regular(path, limit)
    try:
        data = read_regular(path, limit)
    except NotRegularFile:  # replaced between stat and open
        raise InputFileError(f"{path}: not a regular file; save the notes to a file first") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputFileError(f"{path}: larger than the {limit}-byte limit for notes (the file grew while read)")
    return data


def read_input(path: str) -> tuple[str, bytes]:
    """The format and raw bytes of a notes file, checked for size and (for text formats) for binary content."""
    fmt = format_of(path)
    limit = MAX_CONTAINER_BYTES if fmt in ("pdf", "ipynb") else MAX_DOCUMENT_CHARS
    raw = read_bytes(path, limit)
    if not raw.strip():
        raise InputFileError(f"{path}: the file is empty; there is nothing to audit")
    if fmt == "pdf":
        if b"%PDF-" not in raw[:1024]:  # PDF readers accept the header anywhere in the first kilobyte
            raise InputFileError(f"{path}: not a PDF file (no %PDF- header)")
    elif raw.lstrip()[:5] == b"%PDF-":
        raise InputFileError(f"{path}: this is a PDF file; rename it to .pdf to audit its text")
    elif b"\x00" in raw:
        raise InputFileError(f"{path}: binary file (contains NUL bytes), not {fmt} text")
    return fmt, raw


def decode(raw: bytes, path: str) -> str:
    """UTF-8 (with or without BOM), else Latin-1 (OCR output in a legacy encoding: the maths is ASCII anyway)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    controls = sum(1 for ch in text[:100_000] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.02 * min(len(text), 100_000):
        raise InputFileError(f"{path}: binary file ({controls} control characters), not text")
    return text


def to_source(path: str, fmt: str, raw: bytes) -> Source:
    """The text of a notes file in the extractor's terms; InputFileError when it holds no text to audit.

    Runs in the audit's worker process (under the document's time and memory bounds): a hostile PDF or
    notebook costs that process, not the command.
    """
    if fmt == "pdf":
        source = _pdf_source(path, raw)
    elif fmt == "ipynb":
        source = _notebook_source(path, decode(raw, path))
    elif fmt == "html":
        source = Source(path, fmt, _html_text(decode(raw, path)))
    else:
        source = Source(path, fmt, decode(raw, path))
    if not source.text.strip():
        raise InputFileError(f"{path}: no text to audit ({_EMPTY_WHY.get(fmt, 'the file is blank')})")
    if len(source.text) > MAX_DOCUMENT_CHARS:
        raise InputFileError(f"{path}: {len(source.text)} characters of text is more than the "
                             f"{MAX_DOCUMENT_CHARS}-character limit for notes")
    return source


_EMPTY_WHY = {
    "pdf": "the PDF has no text layer; a scanned PDF needs OCR first",
    "ipynb": "the notebook has no Markdown cells",
    "html": "the page has no text outside scripts and styles",
}


def _notebook_source(path: str, text: str) -> Source:
    """The Markdown cells, one after another with a blank line between; lines mapped to cells and JSON lines."""
    import warnings

    import nbformat

    try:
        with warnings.catch_warnings():  # e.g. cells without ids: harmless for reading, noise for the user
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several types for damaged JSON or unknown versions
        raise InputFileError(f"{path}: not a readable Jupyter notebook ({type(exc).__name__})") from None
    lines: list[str] = []
    file_lines: list[int] = []
    labels: list[str] = []
    search_from = 0  # forward-only search of the JSON text, so the mapping is linear in the file
    lost = False  # a cell's first line not found: later lines keep the last line found (no repeated full scans)
    json_line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    current = 1
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        if not isinstance(source, str):
            source = "".join(source)
        cell_lines = source.split("\n")
        for k, line in enumerate(cell_lines, start=1):
            if not lost and line.strip():
                last = k == len(cell_lines)
                needle = json.dumps(line + ("" if last else "\n"), ensure_ascii=False)[:-1]
                window = None if k == 1 else search_from + 4 * len(needle) + 200
                at = text.find(needle, search_from, window)
                if at == -1 and k == 1:
                    at = text.find(_escaped_ascii(needle), search_from)
                if at != -1:
                    search_from = at + len(needle)
                    current = _line_at(json_line_starts, at)
                elif k == 1:
                    lost = True
            lines.append(line)
            file_lines.append(current)
            labels.append(f"cell {number}, line {k}")
        lines.append("")
        file_lines.append(current)
        labels.append(f"cell {number}, end")
    return Source(path, "ipynb", "\n".join(lines), tuple(file_lines), tuple(labels))


def _escaped_ascii(needle: str) -> str:
    """The same JSON string written with \\uXXXX escapes (Python's json module writes notebooks that way)."""
    return json.dumps(json.loads(needle + '"'))[:-1]


def _line_at(starts: list[int], offset: int) -> int:
    return max(1, bisect_right(starts, offset))


def _pdf_source(path: str, raw: bytes) -> Source:
    """The text layer of each page (pypdf), pages separated by a blank line; lines labelled with their page."""
    import io
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-but-readable files warn on every page
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise InputFileError(f"{path}: the PDF is encrypted; save an unencrypted copy to audit it")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputFileError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise InputFileError(f"{path}: not a readable PDF ({type(exc).__name__})") from None
    lines: list[str] = []
    labels: list[str] = []
    for number, page in enumerate(pages, start=1):
        for k, line in enumerate(page.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
            lines.append(line)
            labels.append(f"page {number}, line {k}")
        lines.append("")
        labels.append(f"page {number}, end")
    return Source(path, "pdf", "\n".join(lines), None, tuple(labels))


class _TextOfHtml(HTMLParser):
    """Text of an HTML page with its line structure: tags become spaces, scripts/styles/code vanish."""

    _SKIP = {"script", "style", "code", "pre", "title", "textarea", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[list[str]] = [[]]
        self.skipping: list[str] = []
        self.maths_script: str | None = None  # "$" or "$$" inside <script type="math/tex[; mode=display]">

    def _place(self, data: str) -> None:
        line = self.getpos()[0]
        while len(self.lines) < line:
            self.lines.append([])
        parts = data.split("\n")
        self.lines[-1].append(parts[0])
        for part in parts[1:]:
            self.lines.append([part])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = dict(attrs).get("type") or ""
        if tag == "script" and kind.startswith("math/tex"):
            self.maths_script = "$$" if "display" in kind else "$"
            self._place(" " + self.maths_script)
            return
        if tag in self._SKIP:
            self.skipping.append(tag)
        self._place(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._place(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self.maths_script:
            self._place(self.maths_script + " ")
            self.maths_script = None
            return
        if tag in self.skipping:
            while self.skipping and self.skipping.pop() != tag:
                pass
        self._place(" ")

    def handle_data(self, data: str) -> None:
        if self.skipping and not self.maths_script:
            self._place("\n" * data.count("\n"))  # keep the line count, drop the code
        else:
            self._place(data)


def _html_text(html: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # the stdlib parser is lenient; a failure still must not end the audit
        pass
    return "\n".join("".join(parts) for parts in parser.lines).replace("\xa0", " ")  # &nbsp; is a space in maths
