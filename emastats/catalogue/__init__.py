"""The claim catalogue: every claim emastats knows, by stable dotted id.

Claims are plain data. Proofs (``proofs/``) and experiments (``experiments/``)
refer to them by id; nothing here imports either, so data flows one way.
"""
from __future__ import annotations

from ..claim import Claim
from ..errors import UsageError
from . import adaptive, clipping, ema, implementations, minibatch, momentum, noise, normalisation

_MODULES = (minibatch, ema, momentum, adaptive, noise, clipping, normalisation, implementations)

CLAIMS: dict[str, Claim] = {}
for _module in _MODULES:
    for _claim in _module.CLAIMS:
        if _claim.id in CLAIMS:
            raise RuntimeError(f"duplicate claim id {_claim.id}")
        CLAIMS[_claim.id] = _claim


def get(claim_id: str) -> Claim:
    """The claim with this id; a UsageError naming the closest ids if there is none."""
    try:
        return CLAIMS[claim_id]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(claim_id, CLAIMS, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(near)}?" if near else "; run 'emastats list' to see them"
        raise UsageError(f"unknown claim id {claim_id!r}{hint}") from None


def select(claim_ids: list[str] | None) -> list[Claim]:
    """The claims named (all of them when none are named), in catalogue order.

    A name may also be a prefix ending in '.' or a topic ('ema' selects ema.*).
    """
    if not claim_ids:
        return list(CLAIMS.values())
    chosen: dict[str, Claim] = {}
    for name in claim_ids:
        prefix = name if name.endswith(".") else name + "."
        matches = [c for c in CLAIMS.values() if c.id.startswith(prefix)]
        if name in CLAIMS:
            matches = [CLAIMS[name]]
        if not matches:
            get(name)  # raises with a suggestion
        for c in matches:
            chosen[c.id] = c
    return [c for c in CLAIMS.values() if c.id in chosen]
