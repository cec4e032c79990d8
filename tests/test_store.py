"""The result store: atomic writes, stale detection, unreadable files, document records."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emastats import catalogue
from emastats.errors import InputFileError, OutputFileError
from emastats.report import store as store_module
from emastats.report.store import ClaimRecord, ResultStore, source_hash

CLAIM = catalogue.get("ema.geometric_sum")


def _record(verdict: str = "PROVED", source: str = "hash-1", final: bool = True) -> ClaimRecord:
    return ClaimRecord(
        claim=CLAIM.to_dict(),
        symbolic={"claim_id": CLAIM.id, "verdict": verdict, "method": "induction on t", "steps": []},
        empirical=None,
        combined=verdict,
        source_hash=source,
        meta={"seed": 7, "device": "cpu"},
        final=final,
    )


def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_save_load_round_trip_and_status(tmp_path):
    store = ResultStore(tmp_path)
    assert store.load(CLAIM.id) is None and store.status(CLAIM.id, "hash-1") == "missing"
    path = store.save(_record())
    assert path == tmp_path / "claims" / f"{CLAIM.id}.json"
    assert json.loads(path.read_text())["schema"] == "emastats.claim/1"
    assert store.load(CLAIM.id) == _record()
    assert store.status(CLAIM.id, "hash-1") == "current"
    assert store.status(CLAIM.id, "hash-2") == "stale"
    store.save(_record(final=False))
    assert store.status(CLAIM.id, "hash-1") == "partial", "a record saved before finalisation is partial"
    assert [r.claim_id for r in store.records()] == [CLAIM.id]
    assert store.problems == []


def test_crash_before_rename_keeps_the_old_record_and_leaves_no_partial_file(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.save(_record("PROVED"))
    before = (tmp_path / "claims" / f"{CLAIM.id}.json").read_bytes()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # what an interrupt between the write and the rename looks like

    monkeypatch.setattr(store_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.save(_record("REFUTED"))
    monkeypatch.undo()
    assert (tmp_path / "claims" / f"{CLAIM.id}.json").read_bytes() == before
    assert _no_temporaries(tmp_path / "claims")
    assert store.load(CLAIM.id).combined == "PROVED"


def test_crash_during_write_keeps_the_old_record(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    store.save(_record("PROVED"))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.os, "fsync", disk_full)
    with pytest.raises(OutputFileError, match="No space left"):
        store.save(_record("REFUTED"))
    monkeypatch.undo()
    assert store.load(CLAIM.id).combined == "PROVED"
    assert _no_temporaries(tmp_path / "claims")


_WRITER = textwrap.dedent("""
    import sys
    from emastats import catalogue
    from emastats.report.store import ClaimRecord, ResultStore
    claim = catalogue.get("ema.geometric_sum")
    store = ResultStore(sys.argv[1])
    i = 0
    print("ready", flush=True)
    while True:  # big records, rewritten as fast as possible, until killed
        i += 1
        store.save(ClaimRecord(claim.to_dict(), None, None, "PROVED", "h", {"i": i, "pad": "x" * 200_000}, True))
""")


def test_sigkill_mid_write_never_leaves_a_corrupt_record(tmp_path):
    """Kill -9 a process that rewrites a 200 kB record in a loop: the record always parses afterwards."""
    store = ResultStore(tmp_path)
    store.save(_record())
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        # let it write for a moment, then kill it wherever it is
        try:
            proc.wait(timeout=0.4)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        record = ResultStore(tmp_path).load(CLAIM.id)
        assert record is not None, ResultStore(tmp_path).problems
    # a killed writer may leave its hidden temporary file, never a *.json that does not parse
    assert all(json.loads(p.read_text()) for p in (tmp_path / "claims").glob("*.json"))
    assert [r.claim_id for r in ResultStore(tmp_path).records()] == [CLAIM.id]


def test_corrupt_and_foreign_files_are_reported_not_fatal(tmp_path):
    store = ResultStore(tmp_path)
    store.save(_record())
    claims = tmp_path / "claims"
    (claims / "ema.bias.mean.json").write_text('{"schema": "emastats.claim/1", "claim": {"id"')  # truncated
    (claims / "ema.bias.debias.json").write_text(json.dumps({"schema": "something.else/1"}))
    (claims / "ema.warmup.min_t_n.json").write_bytes(b"\xff\xfe\x00garbage")
    assert store.load("ema.bias.mean") is None
    assert store.status("ema.bias.mean", "anything") == "missing"
    assert [r.claim_id for r in store.records()] == [CLAIM.id]
    reasons = {Path(p.path).name: p.reason for p in store.problems}
    assert "not valid JSON" in reasons["ema.bias.mean.json"]
    assert "unknown record schema 'something.else/1'" in reasons["ema.bias.debias.json"]
    assert "cannot be read" in reasons["ema.warmup.min_t_n.json"]


def test_record_holding_another_claim_is_refused(tmp_path):
    store = ResultStore(tmp_path)
    path = store.save(_record())
    path.rename(tmp_path / "claims" / "ema.bias.mean.json")
    assert store.load("ema.bias.mean") is None
    assert "holds claim 'ema.geometric_sum'" in store.problems[0].reason


@pytest.mark.parametrize("change, message", [
    ({"schema": "emastats.claim/9"}, "newer than this emastats reads"),
    ({"schema": "emastats.audit/1"}, "expected a emastats.claim record"),
    ({"schema": None}, "no 'schema' field"),
    ({"final": "yes"}, "final: 'yes' is not of type 'boolean'"),
    ({"symbolic": {"method": "x"}}, "symbolic: 'claim_id' is a required property"),
])
def test_from_dict_validates_with_a_clear_message(change, message):
    data = {**_record().to_dict(), **change}
    with pytest.raises(InputFileError, match=message):
        ClaimRecord.from_dict(data)


def test_unsafe_claim_id_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not safe as a file name"):
        ResultStore(tmp_path).load("../../etc/passwd")


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_source_hash_changes_with_claim_data_proof_helpers_and_experiment(tmp_path):
    """A record must go stale when the claim, its proof, a helper the proof calls, or its experiment changes."""
    body = ("import emastats.report.formatting as fmt\n\ndef helper():\n    return {value}\n\n"
            "def the_proof():\n    return helper(), fmt.fmt_number(1.0)\n\ndef unrelated():\n    return {other}\n")
    versions = {}
    for tag, value, other in (("a", 1, 0), ("b", 2, 0), ("c", 1, 5)):
        path = tmp_path / f"experiments_hashcheck_{tag}.py"
        path.write_text(body.format(value=value, other=other))
        versions[tag] = _load_module(path, path.stem)
    base = source_hash(CLAIM, {CLAIM.id: versions["a"].the_proof}, {})
    assert base == source_hash(CLAIM, {CLAIM.id: versions["a"].the_proof}, {}), "deterministic"
    assert source_hash(CLAIM, {CLAIM.id: versions["b"].the_proof}, {}) != base, "helper changed"
    assert source_hash(CLAIM, {CLAIM.id: versions["c"].the_proof}, {}) == base, "an uncalled function is irrelevant"
    assert source_hash(CLAIM, {CLAIM.id: versions["a"].the_proof}, {CLAIM.id: versions["a"].helper}) != base
    assert source_hash(CLAIM, {}, {}) != base, "removing the proof changes the hash"
    hashed = store_module._source_closure(versions["a"].the_proof, set())
    assert any("def fmt_number" in part for part in hashed), "a helper reached as module.attribute is hashed"
    edited = catalogue.get("ema.bias.mean")
    assert source_hash(edited, {}, {}) != source_hash(CLAIM, {}, {}), "claim data is hashed"


def test_source_hash_of_the_installed_proofs_is_stable():
    # experiments={} keeps torch out of this test; the CLI report test hashes against the real experiment registry
    first = source_hash(CLAIM, experiments={})
    assert first == source_hash(CLAIM, experiments={}) and len(first) == 64


def test_documents_round_trip_validate_and_do_not_collide(tmp_path):
    store = ResultStore(tmp_path)
    audit = {"schema": "emastats.audit/1", "path": "a/notes.md", "stats": {}, "meta": {},
             "findings": [{"line": 3, "end_line": 3, "code": "X1", "severity": "error", "message": "m",
                           "evidence": "e", "suggestion": "s"}]}
    p1 = store.save_document(audit)
    p2 = store.save_document({**audit, "path": "b/notes.md"})
    assert p1 != p2 and p1.parent.name == "audit"
    study = {"schema": "emastats.study/1", "name": "sgd-noise", "values": {"slope": -1.0}, "meta": {}}
    assert store.save_document(study) == tmp_path / "study" / "sgd-noise.json"
    assert [d["path"] for d in store.documents("audit")] == ["a/notes.md", "b/notes.md"]
    assert store.documents("study") == [study]
    with pytest.raises(InputFileError, match="findings.0: .severity. is a required property"):
        bad = dict(audit["findings"][0])
        del bad["severity"]
        store.save_document({**audit, "findings": [bad]})
    with pytest.raises(InputFileError, match="'name' is a required property"):
        store.save_document({"schema": "emastats.study/1", "meta": {}})
    with pytest.raises(InputFileError, match="is not a document schema"):
        store.save_document(_record().to_dict())
    (tmp_path / "study" / "broken.json").write_text("{")
    assert len(store.documents()) == 3 and "broken.json" in store.problems[0].path
    assert not store.is_empty()
    assert ResultStore(tmp_path / "nowhere").is_empty()
