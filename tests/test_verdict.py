"""Combining a symbolic and an empirical verdict."""
from __future__ import annotations

import pytest

from emastats.verdict import Verdict, combine

V = Verdict


@pytest.mark.parametrize("symbolic, empirical, expected", [
    (V.PROVED, V.CONFIRMED, V.PROVED),
    (V.PROVED, V.NOT_RUN, V.PROVED),
    (V.NOT_RUN, V.CONFIRMED, V.CONFIRMED),
    (V.REFUTED, V.REFUTED, V.REFUTED),
    (V.REFUTED, V.INCONCLUSIVE, V.REFUTED),
    (V.PROVED, V.REFUTED, V.ERROR),  # the two checks disagree: one of them is wrong
    (V.INCONCLUSIVE, V.INCONCLUSIVE, V.INCONCLUSIVE),
    (V.ERROR, V.CONFIRMED, V.ERROR),
    (V.NOT_RUN, V.NOT_RUN, V.NOT_RUN),
])
def test_combine(symbolic, empirical, expected):
    assert combine(symbolic, empirical) is expected


def test_verdict_prints_as_its_name():
    assert str(V.PROVED) == "PROVED" and V.REFUTED.decided and not V.INCONCLUSIVE.decided
