"""Tests of place recognition and gazetteer resolution: lists, qualifiers, homonyms, OCR damage, 2025 units."""

from __future__ import annotations

import pytest
from extract_helpers import load_cases

from pipeline.extract import extract_record
from pipeline.extract.places import gazetteer


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_places"))
def test_extract_places_cases(text: str, expected: list[list[str | None]]) -> None:
    places = extract_record(text).places
    assert [[p.level, p.name, p.district, p.province] for p in places] == expected


def test_extract_places_codes_and_2025_successor() -> None:
    (commune, district) = extract_record("xã Hòa Lạc, huyện Hữu Lũng").places
    assert commune.code == "06430" and district.code == "186"
    assert commune.new is not None and commune.new["level"] == "commune" and commune.new["province"] == "Lạng Sơn"


def test_extract_places_mentions_are_spans_of_the_text() -> None:
    text = "huyện Văn Quan và huyện Văn Quan"
    (place,) = extract_record(text).places
    assert [text[m.start : m.end] for m in place.mentions] == ["Văn Quan", "Văn Quan"]


def test_extract_places_gazetteer_covers_both_eras() -> None:
    g = gazetteer()
    legacy = [u for u in g.units.values() if u.era == "legacy"]
    reform = [u for u in g.units.values() if u.era == "2025"]
    assert sum(u.level == "province" for u in legacy) == 63
    assert sum(u.level == "province" for u in reform) == 34
    assert sum(u.level == "commune" for u in legacy) > 10000
