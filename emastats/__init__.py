"""emastats: prove and simulate the mathematics of deep-learning optimisation.

The public surface is small: the claim catalogue, the verdict vocabulary, the
result objects, and ``prove``. Everything else is reached through the
``emastats`` command line.
"""
from __future__ import annotations

from .catalogue import CLAIMS
from .claim import Claim, Source
from .results import Check, EmpiricalResult, ProofResult, Series
from .verdict import Verdict

__all__ = ["CLAIMS", "Claim", "Source", "Verdict", "ProofResult", "EmpiricalResult", "Check", "Series", "prove"]
__version__ = "0.1.0"


def prove(claim_ids: list[str] | None = None, jobs: int = 1) -> list[ProofResult]:
    """Prove or refute the named claims (all when None) and return their results.

    ``jobs > 1`` proves in that many worker processes; a script that asks for
    that needs an ``if __name__ == "__main__":`` guard (processes are spawned).
    """
    from . import catalogue
    from .proving import prove as _prove

    return _prove(catalogue.select(claim_ids), jobs=jobs)
