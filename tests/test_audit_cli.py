"""``emastats audit``: exit codes, one-line errors, JSON shape, --explain, --report and hostile input."""
from __future__ import annotations

import json

import pytest

from emastats.audit.codes import CODES, explain
from emastats.cli import main
from emastats.errors import UsageError

WRONG = "# notes\n\nThe step is\n\n$$w_{t+1} = w_t + \\eta g_t$$\n\nand $2 + 2 = 5$.\n"
RIGHT = "# notes\n\n$$w_{t+1} = w_t - \\eta g_t$$\n\nand $2 + 2 = 4$, $(a+b)^2 = a^2 + 2ab + b^2$.\n"


def _run(capsys, *argv):
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_no_paths_is_a_one_line_usage_error(capsys):
    code, out, err = _run(capsys)
    assert code == 2 and err.count("\n") == 1 and "PATH" in err


@pytest.mark.parametrize("make", ["missing", "binary", "directory", "suffix", "huge"])
def test_unreadable_inputs_are_one_line_errors(tmp_path, capsys, make):
    path = tmp_path / "notes.md"
    if make == "binary":
        path.write_bytes(b"\x00\x01$$x=1$$")
    elif make == "directory":
        path.mkdir()
    elif make == "suffix":
        path = tmp_path / "notes.pdf"
        path.write_text("$x = 1$")
    elif make == "huge":
        path.write_text("$a = a$ " * 400_000)
    code, out, err = _run(capsys, str(path))
    assert code == 2, err
    assert err.startswith("emastats: error:") and err.count("\n") == 1


def test_error_findings_give_exit_1_and_linter_lines(tmp_path, capsys):
    path = tmp_path / "wrong.md"
    path.write_text(WRONG)
    code, out, _ = _run(capsys, str(path))
    assert code == 1
    assert f"{path}:5: AUD002 error:" in out
    assert f"{path}:7: AUD008 error:" in out


def test_clean_notes_give_exit_0_and_json_shape(tmp_path, capsys):
    path = tmp_path / "right.md"
    path.write_text(RIGHT)
    code, out, _ = _run(capsys, str(path), "--format", "json")
    assert code == 0
    data = json.loads(out)
    (doc,) = data["documents"]
    assert doc["path"] == str(path) and set(doc["stats"]) >= {"formulas", "decided", "unchecked", "seconds"}
    for finding in doc["findings"]:
        assert set(finding) == {"line", "end_line", "code", "severity", "message", "evidence", "suggestion"}
        assert finding["severity"] != "error"


def test_explain_documents_every_code(capsys):
    for code in CODES:
        assert code in explain(code)
    exit_code, out, _ = _run(capsys, "--explain", "AUD004")
    assert exit_code == 0 and "bias" in out
    exit_code, _, err = _run(capsys, "--explain", "NOPE")
    assert exit_code == 2 and "unknown finding code" in err
    with pytest.raises(UsageError):
        explain("AUD999")


def test_hostile_formulas_end_in_findings(tmp_path, capsys):
    path = tmp_path / "hostile.md"
    path.write_text("$$x = 10^{10^{10}}$$\n\n$$ x+y)+z = w $$\n\n$$\\sqrt{\\sqrt{\\sqrt{x^{2^{2^{2}}}}}} = 1$$\n"
                    + "$" * 501 + "\n")
    code, out, _ = _run(capsys, str(path), "--format", "json")
    findings = json.loads(out)["documents"][0]["findings"]
    assert {f["code"] for f in findings if f["line"] in (1, 3)} == {"AUD201"}
    assert code == 0


def test_too_many_formulas_end_in_a_warning(tmp_path, capsys, monkeypatch):
    import emastats.audit.document as document

    monkeypatch.setattr(document, "MAX_FORMULAS", 3)
    path = tmp_path / "many.md"
    path.write_text("".join(f"$x_{i} = {i}$\n" for i in range(10)))
    code, out, _ = _run(capsys, str(path))
    assert code == 0 and f"{path}:4: AUD203 warning: 7 formulas from here on not checked" in out


def test_deeply_nested_formula_is_a_finding_not_a_crash(tmp_path, capsys):
    path = tmp_path / "deep.md"
    path.write_text("$$" + "{" * 1500 + "x" + "}" * 1500 + " = x$$\n")
    code, out, _ = _run(capsys, str(path), "--format", "json")
    assert code == 0
    json.loads(out)


def test_report_writes_an_audit_record(tmp_path, capsys):
    path = tmp_path / "wrong.md"
    path.write_text(WRONG)
    store, out_dir = tmp_path / "store", tmp_path / "out"
    code, out, _ = _run(capsys, str(path), "--report", "--store", str(store), "--out", str(out_dir))
    assert code == 1
    records = list((store / "audit").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["schema"] == "emastats.audit/1" and record["findings"]
    assert any(out_dir.iterdir())
