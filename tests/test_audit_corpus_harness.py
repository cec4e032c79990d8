"""The corpus harness's matching and scoring (benchmarks/audit_corpus.py), on a synthetic manifest.

Runs without the corpus: audit results are given as JSON dictionaries, and one end-to-end check runs the real
``emastats audit`` on two tiny files written to a temporary corpus root.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "audit_corpus.py"
_spec = importlib.util.spec_from_file_location("audit_corpus_harness", _PATH)
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness
_spec.loader.exec_module(harness)


def _doc(**kw):
    base = {"id": "d", "split": "dev", "formulas": 50, "errors": [], "controls": []}
    base.update(kw)
    return base


def _finding(line, severity="error", code="AUD001", end_line=None):
    return {"line": line, "end_line": end_line or line, "code": code, "severity": severity}


def _audit(findings, statements=10, decided=4, seconds=1.5, **stats):
    return {"findings": findings, "stats": {"statements": statements, "decided": decided, "seconds": seconds, **stats}}


def test_count_formulas_inline_display_rows_and_code():
    text = "\n".join([
        "Inline $a=b$ and $c$ but not \\$5 or an empty $ $.",
        "$$x = 1$$",
        "\\begin{align}",
        "a &= b \\\\",
        "  &= c \\\\[2mm]",
        "\\end{align}",
        "```python",
        "x = '$not math$'",
        "```",
        "```math",
        "y = 2",
        "```",
        "\\(z\\) and \\[w = 3\\]",
    ])
    # inline: a=b, c; display: x=1; align: 2 rows; math fence: 1; \( \): 1; \[ \]: 1
    assert harness.count_formulas(text) == 2 + 1 + 2 + 1 + 1 + 1


def test_label_found_within_window_and_false_errors_counted():
    doc = _doc(errors=[{"line": 10, "severity": "high"}, {"line": 40, "severity": "high"},
                       {"line": 70, "severity": "low"}],
               controls=[{"line": 90}])
    audit = _audit([_finding(12), _finding(71), _finding(91), _finding(200), _finding(30, severity="note")])
    r = harness.score_document(doc, audit, window=2)
    assert (r.high_labelled, r.high_found) == (2, 1)
    assert r.missed_high == [40]
    assert (r.low_labelled, r.low_found) == (1, 1)
    # 91 (near a control) and 200 are errors matching no label; the note at 30 is not an error finding
    assert r.false_errors == 2 and r.false_on_controls == 1 and r.false_lines == [91, 200]


def test_window_edges_and_multi_line_findings():
    doc = _doc(errors=[{"line": 10, "severity": "high"}])
    assert harness.score_document(doc, _audit([_finding(13)]), window=2).high_found == 0
    assert harness.score_document(doc, _audit([_finding(12)]), window=2).high_found == 1
    assert harness.score_document(doc, _audit([_finding(8)]), window=2).high_found == 1
    # a finding spanning lines 3..9 reaches line 10 only through the window
    assert harness.score_document(doc, _audit([_finding(3, end_line=9)]), window=1).high_found == 1
    assert harness.score_document(doc, _audit([_finding(3, end_line=7)]), window=1).high_found == 0


def test_two_findings_on_one_label_count_once_and_are_not_false():
    doc = _doc(errors=[{"line": 5, "severity": "high"}])
    r = harness.score_document(doc, _audit([_finding(5), _finding(6, code="AUD008")]))
    assert r.high_found == 1 and r.false_errors == 0


def test_unchecked_reasons_and_failed_documents():
    doc = _doc()
    audit = _audit([_finding(3, severity="warning", code="AUD201")], unchecked_reasons={"superscript index": 4})
    r = harness.score_document(doc, audit)
    assert r.unchecked_reasons == {"superscript index": 4, "AUD201": 1}
    gone = harness.score_document(_doc(errors=[{"line": 1, "severity": "high"}]), None, status="unreadable", seconds=0.2)
    assert gone.high_found == 0 and gone.statements == 0 and gone.unchecked_reasons == {"document unreadable": 1}


def test_summary_rates_and_300_formula_estimate():
    docs = [_doc(id="a", formulas=100, errors=[{"line": 1, "severity": "high"}]),
            _doc(id="b", formulas=200, errors=[{"line": 1, "severity": "high"}, {"line": 9, "severity": "high"}])]
    results = [harness.score_document(docs[0], _audit([_finding(1)], statements=20, decided=10, seconds=2.0)),
               harness.score_document(docs[1], _audit([_finding(50)], statements=30, decided=5, seconds=4.0))]
    s = harness.summarise(results)
    assert s["documents"] == 2 and s["formulas"] == 300
    assert (s["high_found"], s["high_labelled"]) == (1, 3) and s["high_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["false_errors"] == 1 and s["false_errors_per_100_formulas"] == pytest.approx(100 / 300, abs=1e-3)
    assert s["decided_fraction"] == pytest.approx(15 / 50)
    # seconds grow by 2 per 100 formulas through (100, 2) and (200, 4): 6 s at 300 formulas
    assert s["seconds_at_300_formulas"] == pytest.approx(6.0)
    assert harness.seconds_at(results[:1]) is None


def test_measure_end_to_end_on_a_tiny_corpus(tmp_path):
    """The real CLI on two files: a wrong numeric example is found; a missing file is reported, not fatal."""
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "one.md").write_text("# Numbers\n\nWe have $2 + 3 = 6$.\n", encoding="utf-8")
    manifest = {"documents": [
        _doc(id="one", file="dev/one.md", formulas=1, errors=[{"line": 3, "severity": "high"}]),
        _doc(id="gone", file="dev/gone.md", formulas=4),
        _doc(id="held", split="heldout", file="heldout/x.md", formulas=4),
    ]}
    results, summary = harness.measure(tmp_path, "dev", manifest, harness._audit_command(None), timeout=300)
    by_id = {r.id: r for r in results}
    assert set(by_id) == {"one", "gone"}
    assert by_id["one"].status == "ok" and by_id["one"].high_found == 1 and by_id["one"].false_errors == 0
    assert by_id["gone"].status == "missing"
    assert summary["not_audited"] == ["gone"]


def test_cli_rejects_missing_corpus_and_bad_manifest(tmp_path, capsys):
    assert harness.main(["--corpus", str(tmp_path / "nowhere")]) == 2
    bad = tmp_path / "m.json"
    bad.write_text("{not json", encoding="utf-8")
    assert harness.main(["--corpus", str(tmp_path), "--manifest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "corpus root" in err and "cannot read manifest" in err


def test_committed_manifest_is_consistent():
    """Every document has a split, a positive formula count and labels with line, severity and ground truth."""
    manifest = json.loads(harness.MANIFEST.read_text(encoding="utf-8"))
    docs = manifest["documents"]
    assert {d["split"] for d in docs} == set(harness.SPLITS)
    assert len({d["id"] for d in docs}) == len(docs)
    for d in docs:
        assert d["file"].startswith(d["split"] + "/") and d["formulas"] >= 0
        for e in d["errors"]:
            assert e["severity"] in {"high", "low"} and 1 <= e["line"] <= d["lines"] and e["ground_truth"]


_STUB = """import json
print(json.dumps({"documents": [{"findings": [], "stats": {"statements": 0, "decided": 0, "seconds": 0.0}}]}))
"""


def _three_split_corpus(tmp_path):
    """A corpus root with one empty document per split and a stub audit command that finds nothing."""
    docs = []
    for split in harness.SPLITS:
        (tmp_path / split).mkdir()
        (tmp_path / split / "a.md").write_text("$x = 1$\n", encoding="utf-8")
        docs.append(_doc(id=f"{split}-a", split=split, file=f"{split}/a.md", formulas=1,
                         errors=[{"line": 1, "severity": "high"}]))
    stub = tmp_path / "stub_emastats.py"
    stub.write_text(_STUB, encoding="utf-8")
    return {"documents": docs}, [sys.executable, str(stub)]


def test_split_groups_keep_all_as_dev_plus_heldout(tmp_path):
    """'all' keeps meaning dev + heldout; heldout2 is measured alone or through 'everything'."""
    manifest, stub = _three_split_corpus(tmp_path)
    ids = {name: [r.id for r in harness.measure(tmp_path, name, manifest, stub, timeout=60)[0]]
           for name in harness.SPLIT_GROUPS}
    assert ids["all"] == ["dev-a", "heldout-a"]
    assert ids["heldout2"] == ["heldout2-a"]
    assert ids["everything"] == ["dev-a", "heldout-a", "heldout2-a"]
    assert ids["dev"] == ["dev-a"] and ids["heldout"] == ["heldout-a"]
    # the stub finds nothing: the labelled error is missed, nothing is false
    results, summary = harness.measure(tmp_path, "heldout2", manifest, stub, timeout=60)
    assert results[0].status == "ok" and summary["high_found"] == 0 and summary["false_errors"] == 0


def test_cli_runs_heldout2_through_a_given_command(tmp_path, capsys):
    manifest, stub = _three_split_corpus(tmp_path)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    code = harness.main(["--corpus", str(tmp_path), "--manifest", str(path), "--split", "heldout2",
                         "--emastats", " ".join(stub), "--format", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out["splits"]) == ["heldout2"] and out["splits"]["heldout2"]["summary"]["documents"] == 1


_RESERVED = ("d2l-ai/", "Atcold/NYU-DLSP20", "google-research/tuning_playbook", "bighuang624/Andrew-Ng-Deep-Learning-notes",
             "MansMeg/IntroML", "distillpub/post--momentum", "spbu-math-cs/llm-overview-fall-2023",
             "cs231n/cs231n.github.io")


def test_heldout2_is_fresh_and_large_enough():
    """heldout2: >= 10 public documents from >= 6 repositories used by no other split (none reserved), >= 1,000
    formulas, own notes with planted high-severity errors, every label inside its file and backed by ground truth."""
    docs = json.loads(harness.MANIFEST.read_text(encoding="utf-8"))["documents"]
    new = [d for d in docs if d["split"] == "heldout2"]
    public = [d for d in new if d["source"] == "public"]
    own = [d for d in new if d["source"] == "own"]
    older_repos = {d["repo"] for d in docs if d["split"] != "heldout2" and d["repo"]}
    assert len(public) >= 10 and len({d["repo"] for d in public}) >= 6
    assert sum(d["formulas"] for d in new) >= 1000
    for d in public:
        assert d["repo"] not in older_repos and not d["repo"].startswith(_RESERVED)
        assert len(d["commit"]) == 40 and d["path"]
    assert len(own) >= 3 and all(d["repo"] is None for d in own)
    assert all(any(e["severity"] == "high" and e["ground_truth"].startswith("planted") for e in d["errors"]) for d in own)
    for d in new:
        assert d["file"].startswith("heldout2/")
        for item in d["errors"] + d["controls"]:
            assert 1 <= item["line"] <= d["lines"]
