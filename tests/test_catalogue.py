"""The Claim model and the catalogue: ids, sources, and what the notes really say."""
from __future__ import annotations

import re

import pytest

from emastats import catalogue
from emastats.catalogue._sources import EMAT, TTIC
from emastats.claim import Claim, Source
from emastats.errors import UsageError


def test_catalogue_is_large_enough_and_ids_are_stable_dotted_names():
    assert len(catalogue.CLAIMS) >= 25
    for cid, claim in catalogue.CLAIMS.items():
        assert cid == claim.id
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", cid)


def test_every_claim_has_a_source_or_says_why_it_is_general():
    for claim in catalogue.CLAIMS.values():
        assert claim.sources or claim.general, claim.id
        for source in claim.sources:
            assert source.document in (EMAT, TTIC)
            assert source.location.strip()


def test_claim_model_rejects_bad_ids_and_missing_sources():
    with pytest.raises(ValueError, match="dotted"):
        Claim(id="NoDots", title="t", statement="x", general="g")
    with pytest.raises(ValueError, match="source"):
        Claim(id="a.b", title="t", statement="x")
    ok = Claim(id="a.b", title="t", statement="x", sources=(Source("f.txt", "§1"),))
    assert ok.topic == "a" and ok.to_dict()["sources"] == [{"document": "f.txt", "location": "§1"}]


def test_cited_sections_exist_in_the_notes(seeds_dir):
    """Each cited equation number appears in the cited file, so a reader can find it."""
    texts = {p.name: p.read_text(encoding="utf-8") for p in seeds_dir.glob("*.txt")}
    for claim in catalogue.CLAIMS.values():
        for source in claim.sources:
            text = texts[source.document]
            for number in re.findall(r"\((\d+[ab]?)\)", source.location):
                # the notes print numbers as (18), (18a) or \tag{18}
                assert re.search(rf"[({{]{number}[ab]?[)}}]", text), (claim.id, number)
            for problem in re.findall(r"Problem (\d+)", source.location):
                assert f"Problem {problem}" in text, (claim.id, problem)


def test_select_by_id_topic_and_errors():
    assert [c.id for c in catalogue.select(["ema.bias.mean"])] == ["ema.bias.mean"]
    assert all(c.id.startswith("ema.") for c in catalogue.select(["ema"]))
    with pytest.raises(UsageError, match="did you mean ema.bias.mean"):
        catalogue.select(["ema.bias.maen"])
