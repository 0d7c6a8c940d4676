"""Tests of the handwritten-digit reader: ink, characters, the classifier of models/digits.npz."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from registered_pages import handwritten, leaning, scribble, side_by_side, slashed_zero

from build_tools.restore.render import FONT_DIR
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


def _framed(ink: np.ndarray) -> np.ndarray:
    return cv2.copyMakeBorder(ink, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


@pytest.mark.parametrize(("slant", "width_share", "thickness"), [(0.6, 0.4, 3), (0.7, 0.5, 3), (0.7, 0.5, 5)])
def test_handwriting_steeply_leaning_slashed_zero_is_read_upright(model: handwriting.DigitModel, slant: float,
                                                                  width_share: float, thickness: int) -> None:
    """A hurried "07": its zero a thin slanted oval crossed by a slash, read as "7", "87" or "27" as written;
    stood upright (handwriting.SHEARS), most readings are "07"."""
    seven = handwritten("7", 50, seed=1, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.0)
    zero = slashed_zero(50, width_share=width_share, thickness=thickness)
    crop = _framed(leaning(side_by_side([zero, seven]), slant))
    texts = [reading.text for reading in handwriting.read_leaning(crop, model)]
    assert 2 * texts.count("07") > len(handwriting.SHEARS)


@pytest.mark.parametrize(("digits", "slant", "overlap"), [("20", 0.5, 5), ("20", 0.5, 9), ("30", 0.3, 9), ("25", 0.3, 9),
                                                          ("24", 0.3, 5)])
def test_handwriting_digits_written_touching_are_cut_where_both_read(model: handwriting.DigitModel, digits: str,
                                                                    slant: float, overlap: int) -> None:
    """Two digits in one stroke (the foot of a "2" running into the next digit): one connected character, cut at
    the column where both halves read as digits, not where the ink is thinnest."""
    ink = leaning(side_by_side([handwritten(digit, 50, seed=2, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.0)
                                for digit in digits], overlap=overlap), slant)
    assert cv2.connectedComponents((ink < 128).astype(np.uint8))[0] == 2  # paper and one stroke
    reading = handwriting.read_digits(_framed(ink), model)
    assert reading is not None and reading.text == digits


ITALIC = str(FONT_DIR / "croscore" / "Tinos-Italic.ttf")  # fonts-croscore (make setup); a face the classifier never saw


@pytest.mark.parametrize("digits", ["28", "24", "30", "19", "12", "06"])
@pytest.mark.parametrize("size", [11, 13])
def test_handwriting_small_italic_digits_of_a_web_image(model: handwriting.DigitModel, digits: str, size: int) -> None:
    """A printed italic day in a small web image, its digits 8 to 10 pixels high: enlarged before its ink is
    taken, not binarized at that size (which fills the loops of a "2" or an "8")."""
    image = Image.new("L", (3 * size, 2 * size), 255)
    ImageDraw.Draw(image).text((size // 2, size // 3), digits, font=ImageFont.truetype(ITALIC, size), fill=0)
    reading = handwriting.read_digits(np.asarray(image).copy(), model)
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


def test_handwriting_leader_dots_and_frame_side_are_cleared_digit_strokes_kept() -> None:
    """A value written on a dotted leader that touches it, the frame's side just after it: the dots and the side
    are gone, the digits' strokes that cross the leader are not."""
    digits = 255 - handwritten("2770", 30, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.1)
    ink = np.zeros((60, digits.shape[1] + 80), np.uint8)
    ink[10 : 10 + digits.shape[0], 20 : 20 + digits.shape[1]] = digits
    base = 10 + digits.shape[0] - 4  # through the digits' feet
    for x in range(2, ink.shape[1] - 12, 6):
        ink[base : base + 2, x : x + 2] = 255
    ink[:, -6:-3] = 255  # the frame's right side, as high as the box
    cleared = handwriting.clear_guides(ink, 30)
    assert not cleared[:, -8:].any()  # the side
    assert not cleared[base : base + 2, :16].any() and not cleared[base : base + 2, 24 + digits.shape[1] :].any()
    strokes = digits > 0
    kept = cleared[10 : 10 + digits.shape[0], 20 : 20 + digits.shape[1]] > 0
    assert (kept & strokes).sum() >= 0.97 * strokes.sum()
    span = handwriting.value_span(cleared, 30)
    assert span is not None and abs(span[0] - 20) <= 3 and abs(span[1] - 20 - digits.shape[1]) <= 3
    assert len(handwriting.characters(cleared)) == 4
