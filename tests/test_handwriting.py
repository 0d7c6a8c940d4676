"""Tests of the handwritten-digit reader: ink, characters, the classifier of models/digits.npz."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from registered_pages import handwritten, scribble

from pipeline import handwriting
from pipeline.resources import current_resources


@pytest.fixture(scope="module")
def model() -> handwriting.DigitModel:
    return current_resources().digit_model


def test_handwriting_ink_of_blue_pen_on_yellowed_paper() -> None:
    crop = np.full((40, 60, 3), (170, 215, 230), np.uint8)  # yellowed paper (BGR)
    cv2.line(crop, (20, 5), (20, 35), (160, 60, 20), 3)  # blue ink
    ink = handwriting.ink_mask(crop)
    assert ink[20, 20] == 255 and ink[20, 45] == 0


def test_handwriting_characters_left_to_right_without_dots() -> None:
    ink = 255 - handwritten("46", 60, seed=3)
    ink = cv2.copyMakeBorder(ink, 10, 10, 10, 30, cv2.BORDER_CONSTANT, value=0)
    cv2.circle(ink, (ink.shape[1] - 12, ink.shape[0] - 14), 3, 255, -1)  # a dot of a dotted line
    pieces = handwriting.characters(ink)
    assert len(pieces) == 2


def test_handwriting_touching_digits_are_cut_apart() -> None:
    ink = np.zeros((50, 80), np.uint8)
    cv2.ellipse(ink, (22, 25), (14, 22), 0, 0, 360, 255, 3)
    cv2.ellipse(ink, (52, 25), (14, 22), 0, 0, 360, 255, 3)  # two zeros touching
    assert len(handwriting.characters(ink)) == 2


@pytest.mark.parametrize("digits", ["08", "03", "46", "24", "1113", "2770", "17", "59"])
def test_handwriting_reads_script_digits(model: handwriting.DigitModel, digits: str) -> None:
    crop = cv2.copyMakeBorder(handwritten(digits, 56, seed=len(digits)), 12, 12, 12, 12, cv2.BORDER_CONSTANT,
                              value=255)
    reading = handwriting.read_digits(crop, model)
    assert reading is not None and reading.text == digits


def test_handwriting_blank_and_blot(model: handwriting.DigitModel) -> None:
    assert handwriting.read_digits(np.full((40, 80), 255, np.uint8), model) is None
    blot = handwriting.read_digits(scribble(50, seed=2), model)
    assert blot is None or blot.confidence < 0.9


def test_handwriting_model_round_trip(tmp_path, model: handwriting.DigitModel) -> None:
    model.save(tmp_path / handwriting.DIGITS_FILE)
    again = handwriting.load_digit_model(tmp_path)
    rows = np.random.default_rng(0).random((3, model.mean.shape[0]), dtype=np.float32)
    assert np.allclose(again.probabilities(rows), model.probabilities(rows))


def test_handwriting_missing_model_names_the_fix(tmp_path) -> None:
    from pipeline.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="make models"):
        handwriting.load_digit_model(tmp_path)
