"""``verify --resume``: partial records are reused, budgets and newer schemas are never replaced silently,
Ctrl-C says what was saved (issue 11 parts E and G, issue 12's "interrupting loses work")."""
from __future__ import annotations

import json

import pytest

from emastats import catalogue, proving
from emastats.cli import main
from emastats.montecarlo import resolve_device
from emastats.montecarlo.stats import DEFAULT_ALPHA
from emastats.report.store import ResultStore
from emastats.verification import Settings, verify

ALGEBRA = ["ema.geometric_sum", "sigmoid.derivative_bound", "minibatch.loss_derivative"]  # proofs only: fast


def _settings(quick: bool = True) -> Settings:
    return Settings(seed=20261122, device=resolve_device("cpu"), quick=quick, alpha=DEFAULT_ALPHA)


def _claims():
    return [catalogue.get(cid) for cid in ALGEBRA]


def _rewrite(store, claim_id: str, **changes) -> None:
    path = store / "claims" / f"{claim_id}.json"
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if key == "meta":
            data["meta"].update(value)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    """One finished run of the three algebra claims; tests copy its store."""
    store = tmp_path_factory.mktemp("verified") / "store"
    verify(_claims(), _settings(), str(store))
    return store


def _copy(verified, tmp_path):
    import shutil

    target = tmp_path / "store"
    shutil.copytree(verified, target)
    return target


def test_records_left_not_final_by_a_kill_are_reused(verified, tmp_path):
    store = _copy(verified, tmp_path)
    for cid in ALGEBRA[:2]:  # what a kill before finalisation leaves: finished results, final false
        _rewrite(store, cid, final=False)
    _rewrite(store, ALGEBRA[2], source_hash="0" * 64)  # a stale record is never reused
    before = {r.claim_id: r for r in ResultStore(store).records()}
    outcomes = verify(_claims(), _settings(), str(store), resume=True)
    assert [o.claim.id for o in outcomes if o.reused] == ALGEBRA[:2]
    after = {r.claim_id: r for r in ResultStore(store).records()}
    assert all(r.final for r in after.values())
    for cid in ALGEBRA[:2]:
        assert after[cid].symbolic == before[cid].symbolic and after[cid].combined == before[cid].combined


def test_quick_resume_keeps_full_budget_records(verified, tmp_path, capsys):
    store = _copy(verified, tmp_path)
    _rewrite(store, ALGEBRA[0], meta={"quick": False})  # as a full-budget run would have written it
    path = store / "claims" / f"{ALGEBRA[0]}.json"
    full = path.read_bytes()
    outcomes = verify(_claims(), _settings(quick=True), str(store), resume=True)
    assert path.read_bytes() == full, "a full-budget record was replaced by a quick one"
    assert ALGEBRA[0] not in [o.claim.id for o in outcomes]
    err = capsys.readouterr().err
    assert "keeps 1 full-budget record(s)" in err and ALGEBRA[0] in err
    # without --resume the user asked for a re-run: replaced, but not silently
    verify(_claims()[:1], _settings(quick=True), str(store))
    assert json.loads(path.read_text())["meta"]["quick"] is True
    assert "replaces 1 full-budget record(s)" in capsys.readouterr().err


def test_invalid_record_is_re_run_with_a_warning(verified, tmp_path, capsys):
    store = _copy(verified, tmp_path)
    _rewrite(store, ALGEBRA[0], combined="BOGUS")
    _rewrite(store, ALGEBRA[1], claim={"id": ALGEBRA[1], "assumptions": 5})
    outcomes = verify(_claims(), _settings(), str(store), resume=True)
    assert [o.claim.id for o in outcomes if not o.reused] == ALGEBRA[:2]
    err = capsys.readouterr().err
    assert "combined: 'BOGUS' is not one of" in err and "claim.assumptions: 5 is not of type 'array'" in err
    assert "re-running that claim" in err
    fresh = ResultStore(store)
    assert [r.claim_id for r in fresh.records()] == sorted(ALGEBRA) and fresh.problems == []


def test_newer_schema_record_is_kept_aside_with_a_warning(verified, tmp_path, capsys):
    store = _copy(verified, tmp_path)
    path = store / "claims" / f"{ALGEBRA[0]}.json"
    newer = {**json.loads(path.read_text()), "schema": "emastats.claim/2", "added_later": [1, 2]}
    path.write_text(json.dumps(newer))
    verify(_claims()[:1], _settings(), str(store), resume=True)
    aside = path.with_name(path.name + ".newer-schema")
    assert json.loads(aside.read_text()) == newer
    assert json.loads(path.read_text())["schema"] == "emastats.claim/1"
    err = capsys.readouterr().err
    assert "newer than this emastats" in err and str(aside) in err


def test_ctrl_c_says_what_was_saved_and_mentions_resume(tmp_path, capsys, monkeypatch):
    real = proving.run_proof
    calls = []

    def interrupted_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(proving, "run_proof", interrupted_on_second)
    store = tmp_path / "store"
    argv = ["verify", "--quick", "--no-report", "--device", "cpu", "--store", str(store)]
    assert main([*argv, *sum((["--claim", c] for c in ALGEBRA), [])]) == 130
    err = capsys.readouterr().err
    assert "1 claim record(s) of this run are saved" in err and "--resume" in err
    saved = ResultStore(store).records()
    assert len(saved) == 1 and not saved[0].final  # the finished claim is on disk, to be reused by --resume


def test_a_record_of_another_engine_is_not_reused(monkeypatch):
    """The fused and torch engines draw different numbers: --resume must not mix their records."""
    settings = _settings()
    meta = settings.meta()
    assert meta["engine"] == "torch"  # CPU, no EMASTATS_ENGINE: the torch engine
    assert settings.matches(meta)
    assert settings.matches({k: v for k, v in meta.items() if k != "engine"})  # older records: torch
    assert not settings.matches({**meta, "engine": "fused"})
    monkeypatch.setenv("EMASTATS_ENGINE", "fused")
    assert settings.meta()["engine"] == "fused" and not settings.matches(meta)
