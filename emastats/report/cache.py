"""A render cache in the output folder: results of pure, slow steps keyed by a hash of their inputs.

Re-rendering after ``verify`` of one claim must not redraw the other claims'
figures nor re-parse their formulas. Each cached value is one JSON file
``<out>/.cache/<kind>-<sha256>.json`` whose name hashes the step's inputs and a
version (the source of the module that computes it), so a changed record or
changed drawing code misses the cache and is recomputed; nothing is ever reused
across different inputs. Entries not used by a render are removed at its end. A
cache file that cannot be read is recomputed, never trusted.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from .store import atomic_write_text


def _key(kind: str, version: str, payload: Any) -> str:
    text = json.dumps([kind, version, payload], sort_keys=True, ensure_ascii=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def module_version(path: str) -> str:
    """A version string that changes whenever the file at ``path`` (a module's source) changes."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


class RenderCache:
    """Memoise ``compute()`` (returning a JSON value) on disk under ``folder``; None: no cache, always compute."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.used: set[Path] = set()
        self.hits = 0
        self.misses = 0
        self._tables: dict[Path, dict[str, Any]] = {}
        self._sizes: dict[Path, int] = {}

    def get(self, kind: str, version: str, payload: Any, compute: Callable[[], Any]) -> Any:
        if self.folder is None:
            return compute()
        path = self.folder / f"{kind}-{_key(kind, version, payload)}.json"
        self.used.add(path)
        if path.is_file():
            try:
                value = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(value, dict) and "value" in value:
                    self.hits += 1
                    return value["value"]
            except (OSError, ValueError):
                pass  # unreadable: recompute and overwrite
        self.misses += 1
        value = compute()
        try:
            atomic_write_text(path, json.dumps({"value": value}, allow_nan=False))
        except (OSError, ValueError):
            pass  # a read-only output folder only costs speed
        return value

    def table(self, kind: str, version: str) -> dict[str, Any]:
        """A persistent memo dict (one file per kind and version), saved by ``save_tables``."""
        if self.folder is None:
            return {}
        path = self.folder / f"{kind}-{version}.json"
        self.used.add(path)
        found = self._tables.get(path)
        if found is None:
            found = {}
            if path.is_file():
                try:
                    loaded = json.loads(path.read_text(encoding="utf-8"))
                    found = loaded if isinstance(loaded, dict) else {}
                except (OSError, ValueError):
                    found = {}
            self._tables[path] = found
            self._sizes[path] = len(found)
        return found

    def save_tables(self) -> None:
        """Write the memo tables that grew during this render."""
        for path, table in self._tables.items():
            if len(table) != self._sizes.get(path):
                try:
                    atomic_write_text(path, json.dumps(table, allow_nan=False))
                    self._sizes[path] = len(table)
                except (OSError, ValueError):
                    pass

    def prune(self) -> None:
        """Remove cache entries this render did not use (old records, old drawing code)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for old in self.folder.glob("*.json"):
            if old not in self.used:
                try:
                    old.unlink()
                except OSError:
                    pass
