"""Digits drawn with OpenCV strokes for the topology tests: a looped "2", an "8" (open or blotted), a "9", a "6"; and
the digit classifier tilted towards "8" until it reads that "2" as an "8"."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from pipeline import handwriting
from pipeline.resources import current_resources

# A "2" as a hurried hand writes it: a hook at the upper left, the top arc, the diagonal down to the foot (x, y in a
# 60 × 90 box), a loop there and the base stroke.
LOOPED_TWO = [(6, 34), (4, 18), (16, 6), (34, 2), (48, 10), (50, 26), (42, 44), (28, 60), (12, 78), (8, 86)]
FOOT_LOOP = ((18, 80), (12, 9))
BASE = [(18, 89), (36, 90), (56, 86)]


def _canvas() -> np.ndarray:
    return np.zeros((110, 90), np.uint8)


def looped_two(thickness: int = 5) -> np.ndarray:
    ink = _canvas()
    for stroke in (LOOPED_TWO, BASE):
        cv2.polylines(ink, [np.array([(x + 15, y + 10) for x, y in stroke], np.int32)], False, 255, thickness)
    (x, y), axes = FOOT_LOOP
    cv2.ellipse(ink, (x + 15, y + 10), axes, 0, 0, 360, 255, thickness)
    return ink


def eight(thickness: int = 5, filled: bool = False, top_filled_right: int = 0) -> np.ndarray:
    """An "8": two loops, both filled where `filled`; where `top_filled_right`, its top loop blotted and that many
    pixels right of the bottom one (a hand leaning right, its waist a few rows)."""
    ink = _canvas()
    cv2.ellipse(ink, (45 + top_filled_right, 32), (17, 21), 0, 0, 360, 255,
                -1 if filled or top_filled_right else thickness)
    cv2.ellipse(ink, (45, 77), (21, 23), 0, 0, 360, 255, -1 if filled else thickness)
    return ink


def nine(thickness: int = 5) -> np.ndarray:
    ink = _canvas()
    cv2.ellipse(ink, (42, 32), (20, 22), 0, 0, 360, 255, thickness)
    cv2.line(ink, (62, 32), (52, 100), 255, thickness)
    return ink


def six(thickness: int = 5) -> np.ndarray:
    ink = _canvas()
    cv2.polylines(ink, [np.array([(60, 10), (36, 30), (24, 60), (26, 80)], np.int32)], False, 255, thickness)
    cv2.ellipse(ink, (45, 78), (20, 20), 0, 0, 360, 255, thickness)
    return ink


def tilted_model() -> handwriting.DigitModel:
    """The digit classifier tilted towards "8" (its output bias raised) until it reads the looped "2" as an "8", as
    it reads a real clerk's looped 2 upright; its second choice is still the "2"."""
    model = current_resources().digit_model
    biases = [bias.copy() for bias in model.biases]
    crop = 255 - looped_two()
    for raise_by in np.arange(0.5, 30.0, 0.5):
        biases[-1][8] = model.biases[-1][8] + raise_by
        candidate = dataclasses.replace(model, biases=tuple(biases))
        pieces = handwriting.characters(handwriting.field_ink(crop), candidate)
        row = candidate.probabilities(np.stack([handwriting.features(handwriting.glyph(pieces[0]))]))[0]
        if row.argmax() == 8:
            assert row[2] >= handwriting.RERANK_FLOOR
            return candidate
    raise AssertionError("no tilt reads the looped 2 as an 8")
