"""Run a study's grid of cells (configurations x seeds) serially or on Dask, streaming results to disk.

A cell is a dict of parameters with a ``key`` (a short unique name); the
function that runs it must be importable by name in a worker (a module-level
function) and deterministic given the cell, so a sweep gives the same numbers
serially, on a LocalCluster or on a remote cluster.

Results stream into ``<store>/sweeps/<study>/<fingerprint>/<key>.json`` as they
finish (atomic writes); the fingerprint hashes the study, the function and
every cell, so a resumed run with the same grid skips the cells already on
disk and a run with any other parameter starts afresh.

Schedulers: ``serial`` (this process), ``local`` (a ``dask.distributed``
LocalCluster of worker processes on this machine, one thread each) or a
scheduler address such as ``tcp://10.0.0.5:8786`` (an existing cluster whose
workers have emastats installed).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import UsageError

CellFunction = Callable[[dict[str, Any]], dict[str, Any]]
SERIAL, LOCAL = "serial", "local"


@dataclass(frozen=True)
class SweepOptions:
    """Where and how a study runs its grid: scheduler, LocalCluster size, and the store to stream into."""

    scheduler: str = SERIAL
    workers: int = 2
    store: str | None = None  # result store directory; None keeps results in memory only
    resume: bool = True


@dataclass
class SweepReport:
    """What a sweep did: results by cell key, how many cells ran and how many were read back from disk."""

    results: dict[str, dict[str, Any]]
    ran: int = 0
    reused: int = 0
    scheduler: str = SERIAL
    folder: str | None = None
    failures: list[str] = field(default_factory=list)


def _name(function: CellFunction) -> str:
    return f"{function.__module__}:{function.__qualname__}"


def fingerprint(study: str, function: CellFunction, cells: Sequence[dict[str, Any]]) -> str:
    """A short hash of the study, the cell function and every cell's parameters."""
    text = json.dumps({"study": study, "function": _name(function), "cells": list(cells)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)


def _read(path: Path, cell: dict[str, Any]) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # missing or half-written: run the cell again
    return record.get("result") if record.get("cell") == cell else None


def _check(cells: Sequence[dict[str, Any]]) -> None:
    keys = [c.get("key") for c in cells]
    if any(not isinstance(k, str) or not k or "/" in k for k in keys):
        raise ValueError("every cell needs a non-empty string 'key' without '/'")
    if len(set(keys)) != len(keys):
        raise ValueError("cell keys must be unique")


def run_sweep(study: str, function: CellFunction, cells: Sequence[dict[str, Any]],
              options: SweepOptions = SweepOptions()) -> SweepReport:
    """Run ``function`` on every cell (skipping those already stored), return results keyed by cell key."""
    _check(cells)
    cells = [json.loads(json.dumps(c)) for c in cells]  # JSON-normalised, as they will be compared on resume
    folder: Path | None = None
    results: dict[str, dict[str, Any]] = {}
    if options.store is not None:
        folder = Path(options.store) / "sweeps" / study / fingerprint(study, function, cells)
        folder.mkdir(parents=True, exist_ok=True)
        if options.resume:
            for c in cells:
                got = _read(folder / f"{c['key']}.json", c)
                if got is not None:
                    results[c["key"]] = got
    todo = [c for c in cells if c["key"] not in results]
    report = SweepReport(results, reused=len(results), scheduler=options.scheduler,
                         folder=None if folder is None else str(folder))

    def finished(cell: dict[str, Any], result: dict[str, Any]) -> None:
        results[cell["key"]] = result
        report.ran += 1
        if folder is not None:
            _write_atomic(folder / f"{cell['key']}.json", {"cell": cell, "result": result})

    if not todo:
        return report
    if options.scheduler == SERIAL:
        for c in todo:
            finished(c, function(c))
        return report
    _run_dask(function, todo, options, finished)
    return report


def _run_dask(function: CellFunction, todo: list[dict[str, Any]], options: SweepOptions,
              finished: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask[distributed] is a declared dependency
        raise UsageError("sweeps on Dask need dask.distributed: pip install 'dask[distributed]'") from exc
    cluster = None
    if options.scheduler == LOCAL:
        if options.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {options.workers}")
        cluster = LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(options.scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(f"cannot reach the Dask scheduler at {options.scheduler!r}: {exc}") from exc
    try:
        futures = {client.submit(function, c, key=f"{c['key']}-{fingerprint('', function, [c])}", pure=True): c
                   for c in todo}
        for future in as_completed(futures):
            finished(futures[future], future.result())  # stream: each result is stored as it arrives
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
