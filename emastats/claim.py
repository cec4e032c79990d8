"""The Claim model: one mathematical statement taken from course notes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")

Empirical = Literal["statistical", "deterministic", "none"]


@dataclass(frozen=True)
class Source:
    """Where a claim is made: the notes' file name and a human location in it."""

    document: str
    location: str

    def to_dict(self) -> dict[str, str]:
        return {"document": self.document, "location": self.location}


@dataclass(frozen=True)
class Claim:
    """A claim as the notes state it, with what it assumes and where it comes from.

    ``statement`` is the claim in LaTeX as the notes make it (in our words where
    the notes give prose). ``corrected`` is the statement that holds instead,
    when the stated version is believed wrong; whether it *is* wrong is decided
    by the proof, never by this field. ``empirical`` says what kind of Monte
    Carlo check the claim admits: ``statistical`` (moments of random
    quantities), ``deterministic`` (trajectories that must agree to rounding),
    or ``none`` (pure algebra).
    """

    id: str
    title: str
    statement: str
    assumptions: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    corrected: str | None = None
    empirical: Empirical = "none"
    general: str = field(default="")  # why the claim has no source, when it has none

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r} is not a dotted lower-case id like 'ema.bias.mean'")
        if not self.sources and not self.general:
            raise ValueError(f"claim {self.id} needs a source in the notes or a note that it is general")

    @property
    def topic(self) -> str:
        return self.id.split(".", 1)[0]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "assumptions": list(self.assumptions),
            "sources": [s.to_dict() for s in self.sources],
            "corrected": self.corrected,
            "empirical": self.empirical,
            "general": self.general,
        }
