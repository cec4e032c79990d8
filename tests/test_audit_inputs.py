"""Issue 9's inputs (.qmd, .ipynb, .pdf, .html, ```math fences, \\\\[3mm]) and issue 12's empty results."""
from __future__ import annotations

import json

import pytest

from emastats.audit.extract import extract
from emastats.cli import main

WRONG_STEP = "w_{t+1} = w_t + \\eta g_t"  # AUD002: climbs the loss


def _audit_json(capsys, path):
    code = main(["audit", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert not err, err
    return code, json.loads(out)["documents"][0]


def _lines(doc, code):
    return [f["line"] for f in doc["findings"] if f["code"] == code]


def test_a_latex_row_break_with_a_gap_is_not_display_maths():
    text = "\\begin{tabular}{l}a \\\\[3mm] b \\\\[2pt]\\end{tabular}\nand $x = 1$ and \\\\$y = 2$"
    assert [f.latex for f in extract(text, "tex")] == ["x = 1", "y = 2"]


def test_github_math_fences_are_display_maths_with_their_lines():
    text = "intro\n\n```math\n(a+b)^2 = a^2 + b^2\n```\n\n```python\nx = '$a$'\n```\n$c = 1$\n"
    found = extract(text, "md")
    assert [(f.latex, f.line, f.display, f.environment) for f in found] == [
        ("(a+b)^2 = a^2 + b^2", 4, True, "math"), ("c = 1", 10, False, "$")]


def test_quarto_notes_are_markdown(tmp_path, capsys):
    path = tmp_path / "notes.qmd"
    path.write_text("---\ntitle: t\n---\n\n```{python}\nx = '$2+2=5$'\n```\n\n$$" + WRONG_STEP + "$$\n")
    code, doc = _audit_json(capsys, path)
    assert code == 1 and _lines(doc, "AUD002") == [9] and not _lines(doc, "AUD008")
    assert doc["stats"]["format"] == "qmd"


def test_notebook_markdown_cells_are_audited_with_cell_and_file_lines(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Notes\n\nThe step:"),
        nbformat.v4.new_code_cell("x = '$2 + 2 = 5$'  # code, not maths"),
        nbformat.v4.new_markdown_cell("Update:\n$$" + WRONG_STEP + "$$\nand $3 + 3 = 7$."),
    ]
    path = tmp_path / "notes.ipynb"
    nbformat.write(nb, str(path))
    code, doc = _audit_json(capsys, path)
    assert code == 1 and doc["stats"]["format"] == "ipynb"
    raw_lines = path.read_text().split("\n")
    (step,) = [f for f in doc["findings"] if f["code"] == "AUD002"]
    assert "[cell 3, line 2]" in step["message"]
    assert "w_{t+1}" in raw_lines[step["line"] - 1]  # the line of the .ipynb file that holds the formula
    (numeric,) = [f for f in doc["findings"] if f["code"] == "AUD008"]
    assert "[cell 3, line 3]" in numeric["message"] and "3 + 3 = 7" in raw_lines[numeric["line"] - 1]


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one text line each)."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = "BT /F1 11 Tf 72 760 Td 14 TL " + " ".join(f"({esc(s)}) Tj T*" for s in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
    ]
    out, offsets = "%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def test_pdf_text_is_audited_and_said_to_be_approximate(tmp_path, capsys):
    pytest.importorskip("pypdf")
    path = tmp_path / "slides.pdf"
    path.write_bytes(_pdf(["Lecture 3", "A check: $2 + 2 = 5$ here."]))
    code, doc = _audit_json(capsys, path)
    assert code == 1
    (numeric,) = [f for f in doc["findings"] if f["code"] == "AUD008"]
    assert numeric["line"] == 2 and "page 1, line 2" in numeric["message"]
    assert "approximate" in numeric["message"] and "approximate" in doc["stats"]["approximate"]
    main(["audit", str(path)])
    assert "PDF text is approximate" in capsys.readouterr().out.splitlines()[-1]


def test_a_pdf_without_text_or_a_broken_pdf_is_a_one_line_error(tmp_path, capsys):
    pytest.importorskip("pypdf")
    empty, broken = tmp_path / "scan.pdf", tmp_path / "broken.pdf"
    empty.write_bytes(_pdf([]))
    broken.write_bytes(b"%PDF-1.4\n" + bytes(range(1, 200)) * 5)
    for path, why in ((empty, "no text"), (broken, "")):
        code = main(["audit", str(path)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and why in err


def test_html_pages_keep_maths_and_line_numbers_and_drop_code(tmp_path, capsys):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>$1+1=3$</title><style>p{}</style></head>\n<body>\n"
        "<p>An example: $2 + 2 = 5$ and $a &lt; b$</p>\n"
        "<pre><code>x = '$4 + 4 = 9$'</code></pre>\n"
        "<script>var s = '$5+5=11$';</script>\n"
        "<p>\\[" + WRONG_STEP + "\\]</p>\n"
        "<script type=\"math/tex; mode=display\">6 + 6 = 13</script>\n"
        "<p>MathJax's inline form: \\(7 + 7 = 15\\), not a \\\\(row gap).</p>\n</body></html>\n")
    code, doc = _audit_json(capsys, path)
    assert code == 1
    assert _lines(doc, "AUD008") == [3, 7, 8] and _lines(doc, "AUD002") == [6]


@pytest.mark.parametrize("name, content, why", [
    ("empty.md", b"", "empty"),
    ("blank.md", b"  \n\n\t\n", "empty"),
    ("slides.txt", b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj", "rename it to .pdf"),
    ("noise.txt", bytes(range(1, 32)) * 40, "binary"),
    ("cells.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode(),
     "no Markdown cells"),
    ("bad.ipynb", b"{not json", "not a readable Jupyter notebook"),
])
def test_empty_or_binary_inputs_are_one_line_errors(tmp_path, capsys, name, content, why):
    path = tmp_path / name
    path.write_bytes(content)
    code = main(["audit", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and why in err and err.count("\n") == 1 and not out


def test_notes_without_formulas_say_so(tmp_path, capsys):
    path = tmp_path / "prose.md"
    path.write_text("# Notes\n\nOnly words here, no maths.\n")
    code, doc = _audit_json(capsys, path)
    assert code == 0 and _lines(doc, "AUD205") == [1] and doc["stats"]["formulas"] == 0


def test_text_that_mentions_pdf_or_uses_nbsp_is_still_text(tmp_path, capsys):
    notes, page = tmp_path / "formats.md", tmp_path / "page.htm"
    notes.write_text("A PDF starts with `%PDF-1.7`.\n\n$2 + 2 = 5$\n")
    page.write_text("<p>$2&nbsp;+&nbsp;2 = 5$</p>\n")
    for path in (notes, page):
        code, doc = _audit_json(capsys, path)
        assert code == 1 and _lines(doc, "AUD008") == [3 if path == notes else 1]
