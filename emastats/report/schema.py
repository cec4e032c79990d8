"""JSON Schemas of the store's records, checked with ``jsonschema`` before anything reads a field.

A record that passes ``record_problem`` has the types every reader relies on
(the report's renderers, ``verify --resume``), so a tampered or damaged record
becomes one listed problem instead of a TypeError deep inside the report.
The schemas describe exactly what ``ClaimRecord.to_dict``, ``StudyResult.to_dict``
and ``DocumentAudit.to_dict`` write; non-finite numbers are stored as null.
Unknown extra keys are allowed (a later minor addition must not break an older reader);
known keys must have their types.
"""
from __future__ import annotations

from typing import Any, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..verdict import Verdict

VERDICTS = [v.value for v in Verdict]
MAX_DEPTH = 32  # records are at most ~6 levels deep; anything deeper is damage, refused before it can recurse

_STR = {"type": "string"}
_NUM = {"type": ["number", "null"]}  # null: a non-finite float when it was stored
_INT = {"type": ["integer", "null"]}
_OPT_STR = {"type": ["string", "null"]}
_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_VERDICT = {"enum": VERDICTS}
_OPT_VERDICT = {"enum": [*VERDICTS, None]}
_NUMBERS = {"type": "array", "items": _NUM}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


SERIES = _object(
    ["name", "x", "estimate", "ci_low", "ci_high"],
    name=_STR, x_label=_STR, y_label=_STR, x=_NUMBERS, estimate=_NUMBERS, ci_low=_NUMBERS, ci_high=_NUMBERS,
    theory={"type": ["array", "null"], "items": _NUM}, theory_label=_STR,
    log_x={"type": "boolean"}, log_y={"type": "boolean"},
)

CHECK = _object(
    ["name", "kind", "theory", "estimate", "ci_low", "ci_high", "confidence", "tolerance", "replicas", "verdict"],
    claim_id=_STR, name=_STR, kind={"enum": ["statistical", "deterministic"]}, estimator=_STR, test=_STR,
    theory=_NUM, estimate=_NUM, ci_low=_NUM, ci_high=_NUM, confidence=_NUM, tolerance=_NUM, replicas=_INT,
    verdict=_VERDICT, pvalue={**_NUM, "minimum": 0, "maximum": 1}, pvalue_holm={**_NUM, "minimum": 0, "maximum": 1},
    min_detectable=_NUM, replicas_needed=_INT, control={"type": "boolean"}, note=_STR, stderr=_NUM, df=_NUM,
    margin=_NUM, theory_of={"enum": ["stated", "corrected", "control"]},
)

PROOF = _object(
    ["claim_id", "verdict"],
    claim_id=_STR, verdict=_VERDICT, method=_STR, steps={"type": "array", "items": _STR},
    counterexample={"type": ["object", "null"], "additionalProperties": _SCALAR},
    corrected_verdict=_OPT_VERDICT, reason=_STR, seconds=_NUM,
)

EMPIRICAL = _object(
    ["claim_id", "verdict", "checks", "seed", "device", "replicas", "seconds"],
    claim_id=_STR, verdict=_VERDICT, checks={"type": "array", "items": CHECK}, seed={"type": "integer"},
    device=_STR, replicas=_INT, seconds=_NUM, params={"type": "object"},
    series={"type": "array", "items": SERIES}, reason=_STR, corrected_verdict=_OPT_VERDICT,
)

CLAIM = _object(
    ["id"],
    id={"type": "string", "pattern": r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"}, title=_STR, statement=_STR,
    assumptions={"type": "array", "items": _STR},
    sources={"type": "array", "items": _object(["document", "location"], document=_STR, location=_STR)},
    corrected=_OPT_STR, empirical={"enum": ["statistical", "deterministic", "none"]}, general=_STR,
)

META = _object(
    [],
    seed=_INT, quick={"type": ["boolean", "null"]}, device=_OPT_STR, device_type=_OPT_STR, alpha=_NUM,
    engine={"enum": ["fused", "torch", None]},
    git_commit=_OPT_STR, timestamp=_OPT_STR, emastats=_OPT_STR, torch=_OPT_STR, sympy=_OPT_STR,
    command=_OPT_STR, seconds=_NUM, replicas=_INT,
)

CLAIM_RECORD = _object(
    ["schema", "claim", "symbolic", "empirical", "combined", "source_hash", "meta", "final"],
    schema={"const": "emastats.claim/1"}, claim=CLAIM,
    # "required" and "properties" only constrain objects, so adding null to the type keeps the messages precise
    symbolic={**PROOF, "type": ["object", "null"]}, empirical={**EMPIRICAL, "type": ["object", "null"]},
    combined=_VERDICT, source_hash=_STR, meta=META, final={"type": "boolean"},
)

# A study's values in any shape the report's generic value table reads: rows, or {name: number | row}.
_CELL = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}, {"type": "object", "additionalProperties": _SCALAR}]}
_VALUE_ROW = {**_object(
    [], name=_STR, estimate=_NUM, ci_low=_NUM, ci_high=_NUM, theory=_NUM, verdict=_STR, unit=_STR, confidence=_NUM,
    tolerance=_NUM, replicas=_INT, pvalue_holm=_NUM, min_detectable=_NUM), "additionalProperties": _CELL}
_VALUES = {"anyOf": [{"type": "array", "items": _VALUE_ROW},
                     {"type": "object", "additionalProperties": {"anyOf": [_SCALAR, _VALUE_ROW]}}]}

STUDY_RECORD = _object(
    ["schema", "name", "meta"],
    schema={"const": "emastats.study/1"}, name={"type": "string", "minLength": 1}, title=_OPT_STR,
    question=_OPT_STR, description=_OPT_STR, conclusion=_OPT_STR,
    values=_VALUES,
    tests={"type": "array", "items": _object(["name"], name=_STR, test=_STR, note=_STR,
                                             control={"type": "boolean"})},
    exact={"type": "array", "items": _object(["name"], name=_STR, value=_NUM, note=_STR)},
    series={"type": "array", "items": SERIES}, params={"type": "object"}, meta=META,
)

FINDING = _object(
    ["line", "end_line", "code", "severity", "message", "evidence", "suggestion"],
    line={"type": "integer"}, end_line=_INT, code=_STR, severity=_STR, message=_STR, evidence=_OPT_STR,
    suggestion=_OPT_STR,
)

AUDIT_RECORD = _object(
    ["schema", "path", "findings", "stats", "meta"],
    schema={"const": "emastats.audit/1"}, path=_STR, findings={"type": "array", "items": FINDING},
    # stats are scalars, except the count of unchecked statements per reason ({reason: count})
    stats={"type": "object", "additionalProperties": _SCALAR,
           "properties": {"unchecked_reasons": {"type": "object", "additionalProperties": {"type": "integer"}}}},
    meta=META,
)

_VALIDATORS = {
    "emastats.claim": Draft202012Validator(CLAIM_RECORD),
    "emastats.study": Draft202012Validator(STUDY_RECORD),
    "emastats.audit": Draft202012Validator(AUDIT_RECORD),
}
for _validator in _VALIDATORS.values():
    Draft202012Validator.check_schema(_validator.schema)


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, counted without recursion and stopping just past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def record_problem(data: Mapping[str, Any], kind: str) -> str | None:
    """None when ``data`` is a valid record of ``kind`` ("emastats.claim" ...); else one line: where and why.

    The line names the field by its path (``claim.assumptions``) and says what is wrong with it,
    e.g. ``claim.assumptions: 5 is not of type 'array'``.
    """
    if depth(data) > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep (damaged or not an emastats record)"
    error = best_match(_VALIDATORS[kind].iter_errors(data))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "record"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{where}: {message}"
