"""Reading the store is total: a damaged or tampered record is one listed problem, the rest still renders
(issue 11, part E). Each case is a reproducer from the issue or a field the renderers read."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from emastats import catalogue
from emastats.cli import main
from emastats.report.store import ClaimRecord, ResultStore

GOOD = catalogue.get("ema.geometric_sum")
VICTIM = catalogue.get("ema.bias.debias")


def _record(claim) -> dict:
    check = {"claim_id": claim.id, "name": "mean at t=1", "kind": "statistical", "estimator": "sample mean",
             "test": "z-test", "theory": 1.0, "estimate": 1.01, "ci_low": 0.99, "ci_high": 1.03,
             "confidence": 0.95, "tolerance": 0.1, "replicas": 1000, "verdict": "CONFIRMED", "pvalue": 0.4,
             "pvalue_holm": 0.8}
    series = {"name": "s", "x_label": "t", "y_label": "y", "x": [1.0, 2.0], "estimate": [1.0, 1.1],
              "ci_low": [0.9, 1.0], "ci_high": [1.1, 1.2], "theory": [1.0, 1.1]}
    return ClaimRecord(
        claim=claim.to_dict(),
        symbolic={"claim_id": claim.id, "verdict": "PROVED", "method": "induction", "steps": [r"a_t = 1"],
                  "counterexample": None, "reason": "", "seconds": 0.1},
        empirical={"claim_id": claim.id, "verdict": "CONFIRMED", "checks": [check], "seed": 7, "device": "cpu",
                   "replicas": 1000, "seconds": 0.5, "series": [series]},
        combined="PROVED", source_hash="h", meta={"seed": 7, "quick": True}).to_dict()


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    target = data
    for k in keys[:-1]:
        target = target[k]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


_DELETE = object()

# (field path, tampered value, what the one-line message must say)
TAMPERED = [
    ("claim.assumptions", 5, "claim.assumptions: 5 is not of type 'array'"),
    ("claim.assumptions", [5], "claim.assumptions.0"),
    ("claim.sources", "notes.md", "claim.sources"),
    ("claim.sources", [{"document": ["x"], "location": "l"}], "claim.sources.0.document"),
    ("claim.title", {"<b>": 1}, "claim.title"),
    ("claim.statement", 3.5, "claim.statement"),
    ("claim", None, "claim: None is not of type 'object'"),
    ("claim.id", _DELETE, "'id' is a required property"),
    ("symbolic.steps", "x", "symbolic.steps"),
    ("symbolic.steps", [None], "symbolic.steps.0"),
    ("symbolic.seconds", "<img src=x>", "symbolic.seconds"),
    ("symbolic.verdict", "BOGUS", "symbolic.verdict: 'BOGUS' is not one of"),
    ("symbolic.claim_id", _DELETE, "'claim_id' is a required property"),
    ("symbolic.counterexample", {"t": [1, 2]}, "symbolic.counterexample.t"),
    ("empirical.checks", {"a": 1}, "empirical.checks"),
    ("empirical.checks.0", None, "empirical.checks.0"),
    ("empirical.checks.0.pvalue_holm", "0.5", "empirical.checks.0.pvalue_holm"),
    ("empirical.checks.0.pvalue_holm", 7.0, "empirical.checks.0.pvalue_holm"),
    ("empirical.checks.0.theory", "1e3", "empirical.checks.0.theory"),
    ("empirical.checks.0.confidence", "95%", "empirical.checks.0.confidence"),
    ("empirical.checks.0.replicas", 1.5, "empirical.checks.0.replicas"),
    ("empirical.checks.0.verdict", "BOGUS", "empirical.checks.0.verdict"),
    ("empirical.seconds", "<script>", "empirical.seconds"),
    ("empirical.seed", "7", "empirical.seed"),
    ("empirical.series", [{"name": "s"}], "empirical.series.0"),
    ("empirical.series.0.x", ["a", "b"], "empirical.series.0.x."),
    ("combined", "BOGUS", "combined: 'BOGUS' is not one of"),
    ("combined", None, "combined"),
    ("final", "yes", "final: 'yes' is not of type 'boolean'"),
    ("meta", [], "meta: [] is not of type 'object'"),
    ("meta.seed", "7", "meta.seed"),
    ("source_hash", 12, "source_hash"),
    ("empirical.claim_id", "ema.other", "empirical.claim_id 'ema.other' is not the record's claim"),
]


def _store_with(tmp_path: Path, bad_text: str) -> Path:
    store = ResultStore(tmp_path / "store")
    store.save(ClaimRecord.from_dict(_record(GOOD)))
    (tmp_path / "store" / "claims" / f"{VICTIM.id}.json").write_text(bad_text)
    return tmp_path / "store"


def _loads_as_one_problem(store_dir: Path, expected: str) -> None:
    store = ResultStore(store_dir)
    assert [r.claim_id for r in store.records()] == [GOOD.id]
    assert store.load(VICTIM.id) is None and store.status(VICTIM.id, "h") == "missing"
    assert len(store.problems) == 1, store.problems
    problem = store.problems[0]
    assert problem.path.endswith(f"{VICTIM.id}.json")
    assert expected in problem.message, problem.message
    assert "\n" not in problem.message and len(problem.message) < 400


@pytest.mark.parametrize("path, value, expected", TAMPERED, ids=[f"{p}={v!r}" for p, v, _ in TAMPERED])
def test_tampered_field_is_a_listed_problem(tmp_path, path, value, expected):
    _loads_as_one_problem(_store_with(tmp_path, json.dumps(_set(_record(VICTIM), path, value))), expected)


@pytest.mark.parametrize("text, expected", [
    ('{"schema": "emastats.claim/1", "x": NaN}', "NaN is not a JSON number"),
    ('{"schema": "emastats.claim/1", "x": -Infinity}', "-Infinity is not a JSON number"),
    ('{"schema": "emastats.claim/1", "x": 1e999}', "out of range"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"schema": "emastats.claim/1", "meta": ' + "[" * 200 + "]" * 200 + "}", "nested more than 32 levels"),
    ("null", "must be a JSON object"),
    ("5", "must be a JSON object"),
    ('{"schema": "emastats.claim/1", "claim": null}', "is a required property"),
], ids=["nan", "infinity", "overflow", "deep-parse", "deep-valid-json", "null", "number", "null-claim"])
def test_unusable_json_is_a_listed_problem(tmp_path, text, expected):
    _loads_as_one_problem(_store_with(tmp_path, text), expected)


def test_nan_estimate_in_a_record_is_a_problem(tmp_path):
    text = json.dumps(_record(VICTIM)).replace('"estimate": 1.01', '"estimate": NaN')
    _loads_as_one_problem(_store_with(tmp_path, text), "NaN is not a JSON number")


def test_fifo_and_folder_in_claims_do_not_block(tmp_path):
    store_dir = tmp_path / "store"
    ResultStore(store_dir).save(ClaimRecord.from_dict(_record(GOOD)))
    os.mkfifo(store_dir / "claims" / f"{VICTIM.id}.json")  # reading a FIFO would block forever
    (store_dir / "claims" / "ema.warmup.min_t_n.json").mkdir()
    store = ResultStore(store_dir)
    assert [r.claim_id for r in store.records()] == [GOOD.id]
    assert sorted(p.message for p in store.problems) == ["is not a regular file", "is not a regular file"]


def test_copy_under_another_name_is_not_counted_twice(tmp_path):
    store_dir = _store_with(tmp_path, json.dumps(_record(VICTIM)))
    claims = store_dir / "claims"
    (claims / "copy of it.json").write_text((claims / f"{GOOD.id}.json").read_text())
    store = ResultStore(store_dir)
    assert [r.claim_id for r in store.records()] == sorted([GOOD.id, VICTIM.id])
    assert len(store.problems) == 1 and "holds claim 'ema.geometric_sum'" in store.problems[0].message


def test_record_with_another_id_does_not_hide_the_real_claim(tmp_path):
    """A file named after claim B that holds claim A: A is still read from its own file, B's file is a problem."""
    store_dir = _store_with(tmp_path, json.dumps(_record(GOOD)))  # VICTIM's file now holds GOOD's record
    store = ResultStore(store_dir)
    assert [r.claim_id for r in store.records()] == [GOOD.id]
    assert store.load(GOOD.id).claim_id == GOOD.id and store.load(VICTIM.id) is None
    assert len(store.problems) == 1 and store.problems[0].path.endswith(f"{VICTIM.id}.json")
    assert f"not {VICTIM.id!r} as its file name says" in store.problems[0].message


def test_study_copy_and_wrong_types_are_problems(tmp_path):
    store = ResultStore(tmp_path)
    study = {"schema": "emastats.study/1", "name": "sgd-noise", "meta": {"seed": 1},
             "values": [{"name": "slope", "estimate": -1.0, "ci_low": -1.1, "ci_high": -0.9, "confidence": 0.95}]}
    path = store.save_document(study)
    (path.parent / "other.json").write_text(path.read_text())
    for name, change in [("bad-values", {"values": [{"name": "x", "confidence": "95%"}]}),
                         ("bad-series", {"series": [{"name": "s", "x": "abc"}]}),
                         ("bad-title", {"title": ["<b>"]}), ("bad-values-type", {"values": 5})]:
        (path.parent / f"{name}.json").write_text(json.dumps({**study, "name": name, **change}))
    assert [d["name"] for d in store.documents("study")] == ["sgd-noise"]
    messages = {Path(p.path).stem: p.message for p in store.problems}
    assert "a copy of sgd-noise.json under another file name" in messages["other"]
    assert messages["bad-values"].startswith("values") and messages["bad-series"].startswith("series")
    assert messages["bad-title"].startswith("title") and messages["bad-values-type"].startswith("values")


def test_report_renders_the_rest_and_lists_every_problem(tmp_path, capsys):
    """All tampered records at once: report exits 0, the good claim is rendered, each bad file is listed."""
    store_dir = tmp_path / "store"
    ResultStore(store_dir).save(ClaimRecord.from_dict(_record(GOOD)))
    claims = store_dir / "claims"
    for i, (path, value, _) in enumerate(TAMPERED):
        (claims / f"ema.tampered.case{i}.json").write_text(json.dumps(_set(_record(VICTIM), path, value)))
    (claims / "ema.tampered.nan.json").write_text('{"x": NaN}')
    (claims / "ema.tampered.deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (store_dir / "study").mkdir()
    (store_dir / "study" / "s.json").write_text(json.dumps(
        {"schema": "emastats.study/1", "name": "s", "meta": {}, "values": [{"name": "x", "confidence": "95%"}]}))
    assert main(["report", "--store", str(store_dir), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert f"{len(TAMPERED) + 3} unreadable record(s)" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [c["id"] for c in summary["claims"]] == [GOOD.id]
    assert len(summary["problems"]) == len(TAMPERED) + 3
    page = (tmp_path / "out" / "index.html").read_text()
    assert "ema.tampered.case0.json" in page and "&lt;img src=x&gt;" not in page.split("<main>")[0]
