"""The command line as a user meets it: exit codes, one-line errors, the prove JSON schema."""
from __future__ import annotations

import json

from conftest import run_cli


def _one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_unknown_claim_id_is_one_line_exit_2():
    proc = run_cli("prove", "--claim", "ema.nonsense")
    assert proc.returncode == 2
    assert "unknown claim id 'ema.nonsense'" in _one_line_error(proc)


def test_bad_format_and_unknown_command_are_one_line_exit_2():
    for args in (("prove", "--format", "yaml"), ("frobnicate",), ("prove", "--time-limit", "-1")):
        proc = run_cli(*args)
        assert proc.returncode == 2, args
        _one_line_error(proc)


def test_prove_json_schema_for_a_refuted_and_a_proved_claim():
    proc = run_cli("prove", "--claim", "ema.geometric_sum", "--claim", "noise.weighted_sum.covariance",
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"claims", "meta"}
    assert doc["meta"]["sympy"] and doc["meta"]["python"]
    rows = {row["id"]: row for row in doc["claims"]}
    for row in rows.values():
        assert {"id", "verdict", "sources", "statement", "corrected", "method", "counterexample", "seconds"} <= set(row)
        assert all(set(s) == {"document", "location"} for s in row["sources"])
    assert rows["ema.geometric_sum"]["verdict"] == "PROVED"
    refuted = rows["noise.weighted_sum.covariance"]
    assert refuted["verdict"] == "REFUTED"
    assert refuted["counterexample"] and refuted["corrected_verdict"] == "PROVED"


def test_list_shows_every_claim():
    proc = run_cli("list", "--format", "json")
    assert proc.returncode == 0
    assert len(json.loads(proc.stdout)["claims"]) >= 25
