"""Turning a toolkit check into a proof's Derivation, one rule for every proof.

A check that says True proves, False refutes with its witness (the concrete
values, plus whatever ``context`` the proof adds, e.g. the two sides evaluated
there), and None is INCONCLUSIVE with the check's own account of why. So a
proof's verdict always comes from a computation, never from a constant.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from ..proving import Derivation, inconclusive, proved, refuted
from ..verdict import Verdict
from .zero import conjunction


class Decidable(Protocol):
    """ZeroTest, InductionResult and RecurrenceCheck all have these two."""

    @property
    def verdict(self) -> bool | None: ...

    @property
    def witness(self) -> Mapping[str, str] | None: ...


def decide(
    check: Decidable,
    method: str,
    steps: Sequence[str] = (),
    *,
    corrected: Verdict | None = None,
    context: Mapping[str, object] | None = None,
    undecided_reason: str = "",
) -> Derivation:
    """PROVED / REFUTED (with witness and ``context``) / INCONCLUSIVE from ``check.verdict``."""
    if check.verdict is True:
        return proved(method, list(steps), corrected=corrected)
    if check.verdict is False:
        counterexample: dict[str, object] = dict(check.witness or {})
        counterexample.update(context or {})
        return refuted(method, counterexample, list(steps), corrected=corrected)
    reason = undecided_reason or getattr(check, "method", "") or "the check could not decide"
    return inconclusive(method, f"undecided: {reason}", list(steps))


def verdict_of(check: Decidable) -> Verdict:
    """The Verdict a check supports on its own: PROVED (True), REFUTED (False) or INCONCLUSIVE (None)."""
    return {True: Verdict.PROVED, False: Verdict.REFUTED}.get(check.verdict, Verdict.INCONCLUSIVE)


@dataclass(frozen=True)
class AllOf:
    """Several checks that must all hold: False if any is False, True if all are True, else None."""

    checks: tuple[Decidable, ...]

    @property
    def verdict(self) -> bool | None:
        return conjunction(c.verdict for c in self.checks)

    @property
    def witness(self) -> Mapping[str, str] | None:
        return next((c.witness for c in self.checks if c.verdict is False), None)

    @property
    def method(self) -> str:
        return "; ".join(getattr(c, "method", "a check") for c in self.checks if c.verdict is None)


def all_of(*checks: Decidable) -> AllOf:
    """All of ``checks`` as one check (see :class:`AllOf`)."""
    return AllOf(tuple(checks))


@dataclass(frozen=True)
class DerivationCheck:
    """A finished Derivation seen as a check (PROVED -> True, REFUTED -> False, else None).

    Lets one proof reuse another's verdict inside ``all_of``.
    """

    derivation: Derivation

    @property
    def verdict(self) -> bool | None:
        return {Verdict.PROVED: True, Verdict.REFUTED: False}.get(self.derivation.verdict)

    @property
    def witness(self) -> Mapping[str, str] | None:
        return self.derivation.counterexample

    @property
    def method(self) -> str:
        return self.derivation.reason or self.derivation.method


def as_check(derivation: Derivation) -> DerivationCheck:
    """``derivation`` as a check (see :class:`DerivationCheck`)."""
    return DerivationCheck(derivation)
