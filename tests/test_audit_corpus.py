"""Recall on the planted errors of tests/corpus and false errors on its correct formulas.

Each corpus note has a sidecar ``*.expected.json`` mapping the line of every planted error to the codes that
name it. Recall = planted lines with an error finding of an expected code / planted lines (must be >= 0.8);
false errors = error findings on other lines, per 100 checked statements that are not planted (must be <= 1).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from emastats.audit.document import DocumentAudit, audit_path
from emastats.audit.worker import Worker

CORPUS = Path(__file__).parent / "corpus"
NOTES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".md", ".txt", ".tex"))


def _expected(note: Path) -> dict:
    return json.loads(note.with_suffix(".expected.json").read_text())


@pytest.fixture(scope="module")
def audits() -> dict[str, DocumentAudit]:
    with Worker() as worker:
        return {note.name: audit_path(str(note), worker) for note in NOTES}


def test_every_note_has_a_sidecar_with_planted_errors():
    assert len(NOTES) >= 4
    kinds = set()
    for note in NOTES:
        expected = _expected(note)
        kinds |= {code for codes in expected["errors"].values() for code in codes}
    # every kind of planted error: sign, missing root/square, bias correction, swapped averages,
    # first-step division by zero, wrong derivation step, wrong numeric example, wrong equation solving
    assert {"AUD001", "AUD002", "AUD003", "AUD004", "AUD005", "AUD006", "AUD007", "AUD008", "AUD009", "AUD010",
            "AUD011"} <= kinds


def _score(audits: dict[str, DocumentAudit]) -> tuple[int, int, int, int]:
    planted = found = false = checked = 0
    for note in NOTES:
        expected = _expected(note)["errors"]
        audit = audits[note.name]
        errors = [f for f in audit.findings if f.severity == "error"]
        for line, codes in expected.items():
            planted += 1
            found += any(f.line == int(line) and f.code in codes for f in errors)
        false += sum(str(f.line) not in expected for f in errors)
        checked += audit.stats["statements"]
    return planted, found, false, checked - planted


def test_recall_on_planted_errors_is_at_least_80_percent(audits):
    planted, found, _, _ = _score(audits)
    assert planted >= 15
    assert found / planted >= 0.8, f"recall {found}/{planted}"


def test_false_errors_per_100_correct_formulas_at_most_1(audits):
    _, _, false, correct = _score(audits)
    assert correct >= 100
    assert 100 * false / correct <= 1.0, f"{false} false errors on {correct} correct statements"


def test_planted_warnings_are_reported(audits):
    for note in NOTES:
        for line, codes in _expected(note).get("warnings", {}).items():
            assert any(f.line == int(line) and f.code in codes for f in audits[note.name].findings)


def test_every_error_carries_evidence(audits):
    for audit in audits.values():
        for f in audit.findings:
            if f.severity == "error":
                assert f.evidence, f
                assert f.message


def test_stats_count_parsed_and_decided_statements(audits):
    for audit in audits.values():
        s = audit.stats
        assert 0 < s["sides_parsed"] <= s["sides"]
        assert 0 <= s["decided"] <= s["statements"]
        assert s["errors"] == sum(f.severity == "error" for f in audit.findings)


def test_controls_have_no_findings_above_note(audits):
    assert [f for f in audits["controls.md"].findings if f.severity != "note"] == []


SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


@pytest.mark.skipif(not (SEEDS / "001_e701d70adf034ba3.txt").exists(), reason="seed notes not present")
def test_ttic_seed_weighted_sum_variance_is_found():
    """The TTIC problems state the covariance of a weighted sum with unsquared weights (Problem 6)."""
    with Worker() as worker:
        audit = audit_path(str(SEEDS / "001_e701d70adf034ba3.txt"), worker)
    assert any(f.code == "AUD010" for f in audit.findings)
    assert audit.stats["timeouts"] == 0


def test_same_rule_in_several_notations_is_not_an_error(audits):
    """minibatch.txt writes SGD with bold symbols, a \\text subscript, \\nabla and bracketed time: no error."""
    errors = {f.line for f in audits["minibatch.txt"].findings if f.severity == "error"}
    assert not errors & {5, 9, 11, 13}
