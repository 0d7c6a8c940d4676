"""Tests of a handwritten field's vote when a character's topology overrules the classifier: a looped "2" it reads
as an "8"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from digit_shapes import looped_two, tilted_model

from pipeline import handwriting, ocr
from pipeline.defaults import REVIEW_BELOW
from pipeline.resources import Resources, current_resources, use_resources


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


def test_ocr_fields_looped_two_the_classifier_alone_reads_is_unreadable(tilted_resources: None) -> None:
    """Neither OCR nor Tesseract reads the field; the classifier reads an "8" as written and a "2" stood upright.
    The "8" has no loop at its top and its upper left is open, so its second choice, the "2", is its reading at
    every shear; but the shape only chose among the classifier's own candidates, and the classifier was sure of
    the "2" at one shear only: one recogniser, not sure, so unreadable (never a guess)."""
    crop = 255 - looped_two()
    reading = ocr._read_field(_spot(crop), crop, [])
    assert reading.value is None
    assert "8" not in dict(reading.candidates)


def test_ocr_fields_reading_only_the_topology_made_win_is_kept_for_review(tilted_resources: None) -> None:
    """The looped "2" leaning left: the classifier reads an "8" at every shear and the topology makes each a "2";
    Tesseract reads "2" too. Two recognisers back it, but the classifier's only thanks to the shape: the "2" is
    kept with a confidence below REVIEW_BELOW, for review."""
    crop = 255 - handwriting.upright(looped_two(), 0.1)
    assert all(reading.reranked for reading in handwriting.read_leaning(crop, current_resources().digit_model))
    reading = ocr._read_field(_spot(crop), crop, [("2", 10.0)])
    assert reading.value == "2"
    assert ocr.MIN_FIELD_CONFIDENCE <= reading.confidence < REVIEW_BELOW  # a value kept passes the gate
