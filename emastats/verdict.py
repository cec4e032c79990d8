"""The one verdict vocabulary of emastats, shared by proofs, experiments and audits."""
from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    """Outcome of checking a claim.

    Symbolic checks end in PROVED or REFUTED; Monte Carlo checks in CONFIRMED or
    REFUTED. INCONCLUSIVE means the check ran but could not decide (a sympy
    limitation, too few replicas); ERROR means the check itself broke; NOT_RUN
    means no check of that kind exists or it was not requested.
    """

    PROVED = "PROVED"
    CONFIRMED = "CONFIRMED"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"
    NOT_RUN = "NOT_RUN"

    def __str__(self) -> str:  # prints as PROVED, not Verdict.PROVED
        return self.value

    @property
    def decided(self) -> bool:
        return self in (Verdict.PROVED, Verdict.CONFIRMED, Verdict.REFUTED)


def combine(symbolic: Verdict, empirical: Verdict) -> Verdict:
    """Combined verdict of a claim from its symbolic and its empirical verdict.

    A refutation by either side refutes the claim: a proof cannot outweigh a
    simulation that excludes the theory, and vice versa, so when the two sides
    disagree (one PROVED/CONFIRMED, the other REFUTED) the result is ERROR,
    because one of the two checks must be wrong and a person has to look.
    """
    sides = {symbolic, empirical} - {Verdict.NOT_RUN}
    if not sides:
        return Verdict.NOT_RUN
    if Verdict.ERROR in sides:
        return Verdict.ERROR
    positive = sides & {Verdict.PROVED, Verdict.CONFIRMED}
    if Verdict.REFUTED in sides:
        return Verdict.ERROR if positive else Verdict.REFUTED
    if Verdict.PROVED in sides:
        return Verdict.PROVED
    if Verdict.CONFIRMED in sides:
        return Verdict.CONFIRMED
    return Verdict.INCONCLUSIVE
