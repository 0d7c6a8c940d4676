"""Tests of a handwritten field's vote when a character's topology overrules the classifier: a looped "2" it reads
as an "8"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from digit_shapes import looped_two, tilted_model

from pipeline import ocr
from pipeline.resources import Resources, use_resources


@pytest.fixture(scope="module")
def tilted_resources() -> Iterator[None]:
    with use_resources(Resources(digit_model=tilted_model())):
        yield


def _spot(crop) -> ocr._FieldSpot:
    return ocr._FieldSpot("day", 0, 0, (0, 0, crop.shape[1], crop.shape[0]), "", 0.0)


def test_ocr_fields_reading_the_topology_chose_votes_as_the_topologys(tilted_resources: None) -> None:
    crop = 255 - looped_two()
    votes = ocr._votes(_spot(crop), crop, [])
    assert {vote.text for vote in votes} == {"2"} and "topology" in {vote.source for vote in votes}


def test_ocr_fields_looped_two_the_classifier_reads_as_eight_is_read_two(tilted_resources: None) -> None:
    """Neither OCR nor Tesseract reads the field; the classifier reads an "8" as written and a "2" stood upright.
    The "8" has no loop at its top and its upper left is open: its second choice, the "2", stands, backed by the
    classifier and the topology."""
    crop = 255 - looped_two()
    reading = ocr._read_field(_spot(crop), crop, [])
    assert reading.value == "2"
    assert "8" not in dict(reading.candidates)
