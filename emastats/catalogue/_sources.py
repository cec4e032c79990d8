"""Names of the course notes the catalogue cites (files in ../shared/seeds)."""
from __future__ import annotations

from ..claim import Source

EMAT = "000_9dbffe2ee456a5f7.txt"  # EMAT31530 notes: minibatching, momentum, RMSProp, Adam, clipping
TTIC = "001_e701d70adf034ba3.txt"  # TTIC 31230 problem set: running averages, temperature


def emat(location: str) -> Source:
    return Source(EMAT, location)


def ttic(location: str) -> Source:
    return Source(TTIC, location)
