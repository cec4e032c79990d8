"""Plain-text tables of results for the terminal (no colour codes, fixed width)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

from .results import ProofResult


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def verdict_table(results: Sequence[ProofResult], verbose: bool = False) -> str:
    """One row per claim: id, verdict, verdict on the corrected statement, method, seconds.

    With ``verbose`` the counterexample and the reason follow each row that has one.
    """
    rows = []
    for r in results:
        corrected = str(r.corrected_verdict) if r.corrected_verdict else ""
        rows.append([r.claim_id, str(r.verdict), corrected, r.method, f"{r.seconds:.2f}"])
    text = _table(["claim", "verdict", "corrected", "method", "s"], rows)
    if verbose:
        extra = []
        for r in results:
            if r.counterexample:
                values = ", ".join(f"{k} = {v}" for k, v in r.counterexample.items())
                extra.append(f"{r.claim_id}: counterexample {values}")
            if r.reason:
                extra.append(f"{r.claim_id}: {r.reason}")
        if extra:
            text += "\n\n" + "\n".join(extra)
    counts = Counter(str(r.verdict) for r in results)
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    return f"{text}\n\n{len(results)} claims: {summary}"
