"""The result store: one versioned JSON record per claim, per audited document and per study.

Layout under the store root (``reports/results/`` by default)::

    claims/<claim id>.json      schema "emastats.claim/1"  (ClaimRecord)
    audit/<slug>.json           schema "emastats.audit/1"  (one audited document)
    study/<name>.json           schema "emastats.study/1"  (one empirical study)

Every write goes through ``emastats.files.write_atomic`` (exclusive temporary file
in the same directory, fsync, rename), so a run killed at any instant leaves
either the old record or the new one, never half a file. A record carries ``source_hash`` (sha256 of the claim's data and of the
source code of its proof and experiment); a record whose hash differs from the
current code is *stale* and must be re-run, never silently reused.

Reading is total: whatever a file holds, the loader returns the valid records
and a list of ``StoreProblem`` objects (``.path``, ``.message``: one line) for the
rest, and never raises. A record is valid when it is a regular file of at most
``MAX_RECORD_BYTES``, strict JSON (no NaN/Infinity), nested at most
``schema.MAX_DEPTH`` deep, passes its JSON Schema (``emastats.report.schema``,
checked with jsonschema), and sits under its own file name (``claims/<claim id>.json``;
a study or audit under the name ``save_document`` gives it). A copy under another
name, or a record holding another claim's id, is a problem: it is never counted
and never hides the record that belongs to that name. The report lists the
problems; ``verify --resume`` treats such a claim as missing and re-runs it.

Writes never replace silently: a record of a newer schema is moved aside to
``<name>.json.newer-schema`` before it is replaced, with a warning through the
store's ``warn`` callback.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

from ..claim import Claim
from ..errors import InputFileError
from ..files import NotRegularFile, read_regular, write_atomic
from .schema import record_problem

CLAIM_SCHEMA = "emastats.claim/1"
AUDIT_SCHEMA = "emastats.audit/1"
STUDY_SCHEMA = "emastats.study/1"

# Highest version of each record kind this code can read; older versions would be migrated here.
_SUPPORTED = {"emastats.claim": 1, "emastats.audit": 1, "emastats.study": 1}
_DOCUMENT_DIRS = {"emastats.audit": "audit", "emastats.study": "study"}
MAX_RECORD_BYTES = 64 * 2**20  # the largest real record is well under 1 MB

Status = Literal["missing", "stale", "partial", "current"]


def _check_schema(data: Any, expected_kind: str | None, origin: str) -> tuple[str, int]:
    """The (kind, version) of a record dict; InputFileError with a clear reason if unusable."""
    if not isinstance(data, Mapping):
        raise InputFileError(f"{origin}: a record must be a JSON object, got {type(data).__name__}")
    schema = data.get("schema")
    if not isinstance(schema, str) or "/" not in schema:
        raise InputFileError(f"{origin}: no 'schema' field of the form 'emastats.<kind>/<version>'")
    kind, _, version_text = schema.partition("/")
    if kind not in _SUPPORTED:
        raise InputFileError(f"{origin}: unknown record schema {schema!r}")
    if expected_kind is not None and kind != expected_kind:
        raise InputFileError(f"{origin}: expected a {expected_kind} record, got {schema!r}")
    if not version_text.isdigit():
        raise InputFileError(f"{origin}: schema version {version_text!r} is not an integer")
    version = int(version_text)
    if version > _SUPPORTED[kind]:
        raise InputFileError(
            f"{origin}: record schema {schema} is newer than this emastats reads "
            f"({kind}/{_SUPPORTED[kind]}); upgrade emastats or re-run"
        )
    return kind, version


@dataclass(frozen=True)
class ClaimRecord:
    """Everything known about one claim after a verify run.

    ``claim`` is ``Claim.to_dict()``, ``symbolic`` ``ProofResult.to_dict()`` and
    ``empirical`` ``EmpiricalResult.to_dict()`` (None when that side was not run),
    ``combined`` the combined verdict (``verdict.combine``), ``source_hash`` the
    value of ``source_hash(claim)`` when the record was made, ``meta`` the run's
    provenance (``provenance.run_metadata()``: versions, git commit, seed, device).
    ``final`` is False for a record saved part-way (e.g. proof done, Monte Carlo
    not yet): ``--resume`` re-runs such claims.
    """

    claim: dict
    symbolic: dict | None
    empirical: dict | None
    combined: str
    source_hash: str
    meta: dict = field(default_factory=dict)
    final: bool = True
    schema: str = CLAIM_SCHEMA

    @property
    def claim_id(self) -> str:
        return str(self.claim["id"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "claim": self.claim,
            "symbolic": self.symbolic,
            "empirical": self.empirical,
            "combined": self.combined,
            "source_hash": self.source_hash,
            "meta": self.meta,
            "final": self.final,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "claim record") -> "ClaimRecord":
        """Parse a stored record; InputFileError naming the problem if it is not a valid claim/1 record."""
        _check_schema(data, "emastats.claim", origin)
        problem = record_problem(data, "emastats.claim")
        if problem is not None:
            raise InputFileError(f"{origin}: {problem}")
        claim = data["claim"]
        for side in ("symbolic", "empirical"):
            if data[side] is not None and data[side]["claim_id"] != claim["id"]:
                raise InputFileError(f"{origin}: {side}.claim_id {data[side]['claim_id']!r} is not the record's "
                                     f"claim {claim['id']!r}")
        return cls(
            claim=dict(claim),
            symbolic=dict(data["symbolic"]) if data["symbolic"] is not None else None,
            empirical=dict(data["empirical"]) if data["empirical"] is not None else None,
            combined=data["combined"],
            source_hash=data["source_hash"],
            meta=dict(data["meta"]),
            final=data["final"],
            schema=CLAIM_SCHEMA,
        )


def validate_document(data: Mapping[str, Any], origin: str = "document record") -> str:
    """Check an audit or study record; return its kind ("emastats.audit" / "emastats.study").

    The record must pass its JSON Schema (``schema.AUDIT_RECORD`` / ``schema.STUDY_RECORD``):
    audit records have ``path``, ``findings`` (each with line, end_line, code,
    severity, message, evidence, suggestion), ``stats`` and ``meta``; study
    records ``name`` and ``meta``, and typed ``values``, ``exact`` and ``series``.
    """
    kind, _ = _check_schema(data, None, origin)
    if kind not in _DOCUMENT_DIRS:
        raise InputFileError(f"{origin}: {data.get('schema')!r} is not a document schema")
    problem = record_problem(data, kind)
    if problem is not None:
        raise InputFileError(f"{origin}: {problem}")
    return kind


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _slug(text: str) -> str:
    """A file-name-safe, still readable form of ``text`` (a path or a study name)."""
    return _UNSAFE.sub("_", text).strip("._") or "unnamed"


def _document_key(data: Mapping[str, Any], kind: str) -> str:
    """File stem of a document: the study name, or the audited path's name plus a short hash of the full path
    (two notes called ``notes.md`` in different folders must not overwrite each other)."""
    if kind == "emastats.study":
        return _slug(str(data["name"]))
    path = str(data["path"])
    digest = hashlib.sha256(path.encode()).hexdigest()[:8]
    return f"{_slug(Path(path).name)}-{digest}"


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (``emastats.files.write_atomic``: exclusive temp file, fsync, rename)."""
    return write_atomic(path, text)


@dataclass(frozen=True)
class StoreProblem:
    """A stored file that could not be used: its ``path`` and a one-line ``message`` saying why."""

    path: str
    message: str

    @property
    def reason(self) -> str:  # the earlier name of ``message``
        return self.message


class ResultStore:
    """Claim, audit and study records under one directory (see the module docstring for the layout)."""

    def __init__(self, root: str | Path, warn: Callable[[str], None] | None = None) -> None:
        """``warn`` receives a one-line message before a write replaces something it should not
        replace silently (default: the messages are kept in ``warnings``)."""
        self.root = Path(root)
        self.problems: list[StoreProblem] = []
        self.warnings: list[str] = []
        self._warn = warn

    # -- claims ---------------------------------------------------------------------------------
    @property
    def claims_dir(self) -> Path:
        return self.root / "claims"

    def claim_path(self, claim_id: str) -> Path:
        if _slug(claim_id) != claim_id:
            raise ValueError(f"claim id {claim_id!r} is not safe as a file name")
        return self.claims_dir / f"{claim_id}.json"

    def save(self, record: ClaimRecord) -> Path:
        """Write one claim's record atomically; returns its path."""
        data = json.loads(_dumps(record.to_dict()))  # JSON round trip: what a reader will see
        ClaimRecord.from_dict(data, origin=record.claim_id)  # never store what we could not read back
        path = self.claim_path(record.claim_id)
        self._keep_newer(path)
        return write_atomic(path, _dumps(data))

    def load(self, claim_id: str) -> ClaimRecord | None:
        """The stored record of ``claim_id``; None when there is none or it is unreadable (see ``problems``)."""
        path = self.claim_path(claim_id)
        if not os.path.lexists(path):
            return None
        return self._read_claim(path)

    def status(self, claim_id: str, current_hash: str) -> Status:
        """Whether ``claim_id`` must be (re-)run.

        ``missing``: no record, or an invalid one (see ``problems``): run it;
        ``stale``: a record made from different claim data or proof/experiment source: run it;
        ``partial``: a record of the current source saved before its run was finalised (``final`` False):
        its proof and experiment are finished and can be reused, only the run-wide decision is redone;
        ``current``: a complete record of the current source, safe to reuse.
        """
        record = self.load(claim_id)
        if record is None:
            return "missing"
        if record.source_hash != current_hash:
            return "stale"
        return "current" if record.final else "partial"

    def records(self) -> list[ClaimRecord]:
        """Every valid claim record, one per claim id, sorted by id; every other file goes to ``problems``."""
        if not self.claims_dir.is_dir():
            return []
        found = (self._read_claim(p) for p in sorted(self.claims_dir.glob("*.json")))
        return sorted((r for r in found if r is not None), key=lambda r: r.claim_id)

    # -- audit and study documents --------------------------------------------------------------
    def save_document(self, record: Mapping[str, Any]) -> Path:
        """Write an audit ("emastats.audit/1") or study ("emastats.study/1") record atomically.

        The file name comes from the study's ``name`` or the audited ``path``, so
        re-auditing a document or re-running a study replaces its record.
        """
        data = json.loads(_dumps(record))  # JSON round trip: fails here, not at read time, on odd values
        kind = validate_document(data, origin=str(record.get("path") or record.get("name") or "document"))
        path = self.root / _DOCUMENT_DIRS[kind] / f"{_document_key(data, kind)}.json"
        self._keep_newer(path)
        return write_atomic(path, _dumps(data))

    def documents(self, kind: Literal["audit", "study"] | None = None) -> list[dict[str, Any]]:
        """Every readable audit and/or study record (audit first, each sorted by file name)."""
        kinds = [kind] if kind else ["audit", "study"]
        out: list[dict[str, Any]] = []
        for sub in kinds:
            folder = self.root / sub
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                data = self._read_json(path)
                if data is _UNREADABLE:
                    continue
                try:
                    found = validate_document(data, origin=str(path))
                except InputFileError as exc:
                    self._problem(path, str(exc).removeprefix(f"{path}: "))
                    continue
                if _DOCUMENT_DIRS[found] != sub:
                    self._problem(path, f"a {found} record in the {sub}/ folder")
                    continue
                if _document_key(data, found) != path.stem:
                    self._problem(path, f"a copy of {_document_key(data, found)}.json under another file name; "
                                        "not counted")
                    continue
                out.append(data)
        return out

    def is_empty(self) -> bool:
        """True when the store holds no claim, audit or study record at all."""
        return not any(
            (self.root / sub).is_dir() and any((self.root / sub).glob("*.json"))
            for sub in ("claims", *_DOCUMENT_DIRS.values())
        )

    # -- internals ------------------------------------------------------------------------------
    def _problem(self, path: Path, message: str) -> None:
        problem = StoreProblem(str(path), message)
        if problem not in self.problems:
            self.problems.append(problem)

    def _keep_newer(self, path: Path) -> None:
        """Before ``path`` is replaced: a record of a newer schema is moved aside, with a warning."""
        try:
            schema = json.loads(_read_bounded(path)).get("schema")
        except (OSError, ValueError, RecursionError, AttributeError, InputFileError):
            return  # missing or unreadable: nothing a newer emastats could still use
        kind, _, version = str(schema).partition("/")
        if kind in _SUPPORTED and version.isdigit() and int(version) > _SUPPORTED[kind]:
            aside = path.with_name(path.name + ".newer-schema")
            os.replace(path, aside)
            message = (f"{path} held a {schema} record, newer than this emastats writes; "
                       f"kept it as {aside} before replacing it")
            self.warnings.append(message)
            if self._warn is not None:
                self._warn(message)

    def _read_json(self, path: Path) -> Any:
        """The parsed JSON (which may be ``null``), or ``_UNREADABLE`` after recording the problem."""
        try:
            return _parse(_read_bounded(path))
        except InputFileError as exc:
            self._problem(path, str(exc))
        except OSError as exc:
            self._problem(path, f"cannot be read: {exc.strerror or exc}")
        except UnicodeDecodeError as exc:
            self._problem(path, f"cannot be read: not UTF-8 text ({exc.reason})")
        except json.JSONDecodeError as exc:
            self._problem(path, f"is not valid JSON (corrupt or truncated): {exc.msg} at line {exc.lineno}")
        except RecursionError:
            self._problem(path, "is not valid JSON for emastats: nested too deeply")
        except ValueError as exc:
            self._problem(path, f"is not valid JSON for emastats: {exc}")
        return _UNREADABLE

    def _read_claim(self, path: Path) -> ClaimRecord | None:
        data = self._read_json(path)
        if data is _UNREADABLE:
            return None
        try:
            record = ClaimRecord.from_dict(data, origin=str(path))
        except InputFileError as exc:
            self._problem(path, str(exc).removeprefix(f"{path}: "))
            return None
        if record.claim_id != path.stem:
            self._problem(path, f"holds claim {record.claim_id!r}, not {path.stem!r} as its file name says; "
                                "not counted (a copy, or a renamed record)")
            return None
        return record


_UNREADABLE = object()  # what _read_json returns for a file it could not parse (JSON null is a value)


def _read_bounded(path: Path) -> str:
    """The text of a regular file of at most ``MAX_RECORD_BYTES``; never blocks on a FIFO or device."""
    try:
        data = read_regular(path, MAX_RECORD_BYTES)
    except NotRegularFile:
        raise InputFileError("is not a regular file") from None
    if len(data) > MAX_RECORD_BYTES:
        raise InputFileError(f"is larger than the {MAX_RECORD_BYTES // 2**20} MiB limit for a record")
    return data.decode("utf-8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (non-finite values are stored as null)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:24]} is out of range")
    return value


def _parse(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers that overflow to infinity are refused."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def _dumps(data: Any) -> str:
    # allow_nan=False: NaN/inf are not JSON; results' to_dict already maps them to null
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False, allow_nan=False) + "\n"


# -- source hashes ------------------------------------------------------------------------------

def _is_own_code(obj: Any) -> bool:
    """Functions and classes of emastats itself, whose source can change a result."""
    module = getattr(obj, "__module__", None) or ""
    return module.split(".", 1)[0] == "emastats" or module == "__main__" or module.startswith(("proofs", "experiments"))


def _code_names(code: types.CodeType) -> Iterable[str]:
    """Global names a code object (and the functions and lambdas nested in it) refers to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _source_closure(fn: Any, seen: set[int]) -> list[str]:
    """Source of ``fn`` and of the module-level functions/classes of our own code it calls, transitively.

    A proof that delegates to a helper in the same module must go stale when the
    helper changes, not only when its own body does. Library code (sympy, torch)
    is covered by the package versions in the record's ``meta`` instead.
    """
    target = inspect.unwrap(fn) if callable(fn) else fn
    if id(target) in seen:
        return []
    seen.add(id(target))
    try:
        parts = [inspect.getsource(target)]
    except (OSError, TypeError):
        parts = [repr(target)]
    code = getattr(target, "__code__", None)
    if code is None:
        return parts
    namespace = getattr(target, "__globals__", {})
    names = sorted(set(_code_names(code)))
    # helpers reached as ``module.helper`` (e.g. ``stats.mean_interval``): the attribute name is in co_names too
    own_modules = [v for v in (namespace.get(n) for n in names)
                   if inspect.ismodule(v) and v.__name__.split(".", 1)[0] == "emastats"]
    for name in names:
        candidates = [namespace.get(name)] + [getattr(m, name, None) for m in own_modules]
        for value in candidates:
            if (inspect.isfunction(value) or inspect.isclass(value)) and _is_own_code(value):
                parts += _source_closure(value, seen)
    return parts


def _object_source(obj: Any) -> list[str]:
    """Source text identifying a registered proof or experiment: a function, or an object holding functions."""
    if obj is None:
        return ["<none>"]
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return _source_closure(obj, set())
    # An experiment registered as an object (dataclass with parameters and a function): its fields and functions.
    parts: list[str] = []
    fields = getattr(obj, "__dict__", None)
    if isinstance(fields, Mapping):
        for name in sorted(fields):
            value = fields[name]
            if inspect.isfunction(value):
                parts += _source_closure(value, set())
            else:
                parts.append(f"{name}={value!r}")
    else:
        parts.append(repr(obj))
    return parts


def experiment_registry() -> Mapping[str, Any]:
    """The Monte Carlo experiments by claim id; empty when the engine is not installed yet."""
    try:
        from ..montecarlo import registry
    except ImportError:
        return {}
    try:
        return registry.registered()
    except ImportError:
        return {}


def source_hash(
    claim: Claim,
    proofs: Mapping[str, Any] | None = None,
    experiments: Mapping[str, Any] | None = None,
) -> str:
    """sha256 over the claim's data, its proof's source and its experiment's source.

    ``proofs`` / ``experiments`` default to the installed registries
    (``proving.registered()``, ``montecarlo.registry.registered()``); pass
    mappings to hash against other code (tests, or a caller that already loaded
    them). A missing proof or experiment hashes as ``<none>``, so adding one
    later makes existing records stale.
    """
    if proofs is None:
        from ..proving import registered

        proofs = registered()
    if experiments is None:
        experiments = experiment_registry()
    h = hashlib.sha256()
    h.update(CLAIM_SCHEMA.encode())
    h.update(json.dumps(claim.to_dict(), sort_keys=True, ensure_ascii=True).encode())
    for label, obj in (("proof", proofs.get(claim.id)), ("experiment", experiments.get(claim.id))):
        h.update(f"\0{label}\0".encode())
        for part in _object_source(obj):
            h.update(part.encode())
            h.update(b"\0")
    return h.hexdigest()
