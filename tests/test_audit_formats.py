"""``audit --format sarif|github`` and the pre-commit hook: the shapes that code scanning and Actions expect."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from emastats.audit.codes import CODES
from emastats.audit.document import DocumentAudit
from emastats.audit.findings import Finding
from emastats.audit.formats import escape_data, escape_property, format_github, sarif
from emastats.cli import main

ROOT = Path(__file__).resolve().parents[1]
WRONG = "# notes\n\nThe step is\n\n$$w_{t+1} = w_t + \\eta g_t$$\n\nand $2 + 2 = 5$.\n"

# The parts of the SARIF 2.1.0 schema (OASIS) that code scanning relies on, restated: required properties,
# the level enumeration, 1-based lines and string URIs. The full schema is not shipped.
SARIF_CORE = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string"},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"},
                                       "shortDescription": {"type": "object", "required": ["text"]},
                                       "defaultConfiguration": {"type": "object", "properties": {
                                           "level": {"enum": ["none", "note", "warning", "error"]}}}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"],
                                    "properties": {"text": {"type": "string"}}},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {
                                "type": "object", "required": ["artifactLocation", "region"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"],
                                                         "properties": {"uri": {"type": "string"}}},
                                    "region": {"type": "object", "required": ["startLine"], "properties": {
                                        "startLine": {"type": "integer", "minimum": 1},
                                        "endLine": {"type": "integer", "minimum": 1}}}}}}}},
                    }}},
            }}},
    },
}


def test_sarif_output_has_the_structure_code_scanning_needs(tmp_path, capsys, monkeypatch):
    jsonschema = pytest.importorskip("jsonschema")
    monkeypatch.chdir(tmp_path)
    Path("notes dir").mkdir()
    Path("notes dir/wrong.md").write_text(WRONG)
    code = main(["audit", "notes dir/wrong.md", "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    jsonschema.validate(log, SARIF_CORE)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    found = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]}
    assert {("AUD002", 5), ("AUD008", 7)} <= found
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == CODES[result["ruleId"]].severity
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "notes%20dir/wrong.md"


def test_sarif_levels_cover_errors_warnings_and_notes():
    audit = DocumentAudit("a.md", [Finding(3, 4, "AUD001", "x"), Finding(5, 5, "AUD202", "y"),
                                   Finding(6, 6, "AUD101", "z")], {})
    results = sarif([audit])["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {"startLine": 3, "endLine": 4}


def test_github_commands_escape_messages_and_properties():
    assert escape_data("50% of a\r\nb") == "50%25 of a%0D%0Ab"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    audit = DocumentAudit("dir,x/n:1.md", [Finding(7, 7, "AUD008", "2+2 = 4, not 5\n100% sure", "4 vs 5")],
                          {"errors": 1, "warnings": 0, "notes": 0, "formulas": 1, "sides_parsed": 2, "sides": 2,
                           "decided": 1, "statements": 1, "unchecked": 0, "seconds": 0.1})
    first, summary = format_github([audit]).split("\n")
    assert first == ("::error file=dir%2Cx/n%3A1.md,line=7,endLine=7,title=AUD008 numeric example is wrong::"
                     "2+2 = 4, not 5%0A100%25 sure%0AEvidence: 4 vs 5")
    assert summary.startswith("dir,x/n:1.md: 1 error(s)")


def test_github_format_from_the_command_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("wrong.md").write_text(WRONG)
    code = main(["audit", "wrong.md", "--format", "github"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    commands = [line for line in lines if line.startswith("::")]
    assert all(re.fullmatch(r"::(error|warning|notice) file=wrong\.md,line=\d+,endLine=\d+,title=AUD\d{3}[^:]*::.*",
                            line) for line in commands)
    assert any(line.startswith("::error file=wrong.md,line=5,") for line in commands)


def test_pre_commit_hook_runs_the_audit_on_notes_files():
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "emastats-audit" and hook["entry"] == "emastats audit" and hook["language"] == "python"
    files = re.compile(hook["files"])
    for name in ("notes.md", "a/b.qmd", "nb.ipynb", "paper.tex", "notes.txt"):
        assert files.search(name), name
    for name in ("setup.py", "notes.md.bak", "figure.png"):
        assert not files.search(name), name
