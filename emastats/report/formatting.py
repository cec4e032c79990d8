"""Formatting shared by the HTML and Markdown reports: numbers, intervals, generic value tables."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

DASH = "\u2014"


def fmt_number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (scientific when very large or small); a dash for none."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u2009") if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def fmt_interval(low: Any, high: Any) -> str:
    if low is None and high is None:
        return DASH
    return f"[{fmt_number(low)}, {fmt_number(high)}]"


def fmt_level(confidence: Any) -> str:
    """A confidence level as a percentage with the digits it needs (95%, 99.92%); a dash for none."""
    if confidence is None:
        return DASH
    return f"{float(confidence) * 100:.4g}%"


def fmt_pvalue(p: Any) -> str:
    if p is None:
        return DASH
    return "< 1e-12" if p < 1e-12 else fmt_number(float(p), 3)


@dataclass(frozen=True)
class ValueTable:
    """A generic table of named values: column names and rows of formatted cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


# Preferred column order for study values; other fields follow alphabetically.
_PREFERRED = ("estimate", "ci_low", "ci_high", "theory", "verdict", "unit", "confidence", "replicas")


def value_table(values: Any) -> ValueTable | None:
    """Study values as a table, whatever their shape.

    Accepted: ``{name: number}``, ``{name: {estimate, ci_low, ...}}`` or
    ``[{name, estimate, ...}, ...]``; each named value becomes a row and the union
    of its fields the columns (interval bounds merged into one "interval" column).
    """
    if isinstance(values, Mapping):
        items = [(str(k), v) for k, v in values.items()]
    elif isinstance(values, Sequence) and not isinstance(values, str):
        items = [(str(v.get("name", i)) if isinstance(v, Mapping) else str(i), v) for i, v in enumerate(values)]
    else:
        return None
    if not items:
        return None
    records = [
        {k: x for k, x in v.items() if k != "name"} if isinstance(v, Mapping) else {"value": v} for _, v in items
    ]
    fields = {k for r in records for k in r}
    has_interval = {"ci_low", "ci_high"} <= fields
    ordered = [k for k in ("value", *_PREFERRED) if k in fields]
    ordered += sorted(fields - set(ordered))
    if has_interval:
        at = ordered.index("ci_low")
        ordered = [k for k in ordered if k not in ("ci_low", "ci_high")]
        ordered.insert(at, "interval")
    rows = []
    for (name, _), r in zip(items, records):
        cells = [name]
        for k in ordered:
            cells.append(fmt_interval(r.get("ci_low"), r.get("ci_high")) if k == "interval" else _cell(r.get(k)))
        rows.append(tuple(cells))
    return ValueTable(("name", *ordered), tuple(rows))


def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_number(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={fmt_number(v)}" for k, v in value.items())
    return fmt_number(value)
