"""Tests of a handwritten digit's topology (its loops, its open upper left) overruling the classifier's "8"."""

from __future__ import annotations

import numpy as np
import pytest
from digit_shapes import eight, looped_two, nine, six, tilted_model

from pipeline import handwriting


def test_handwriting_topology_of_an_eight_two_stacked_loops() -> None:
    shape = handwriting.topology(eight())
    assert len(shape.loops) == 2 and shape.loops[0] < 0.5 < shape.loops[1]
    assert not shape.open_upper_left and not shape.rules_out(8)


def test_handwriting_topology_of_a_looped_two_one_low_loop_open_upper_left() -> None:
    shape = handwriting.topology(looped_two())
    assert len(shape.loops) == 1 and shape.loops[0] > 0.5
    assert shape.open_upper_left and shape.rules_out(8)


@pytest.mark.parametrize(("name", "ink"), [("eight", eight()), ("blotted eight", eight(filled=True)),
                                           ("thick eight", eight(thickness=11)), ("nine", nine()), ("six", six()),
                                           *((f"eight, its blotted top {dx} px right", eight(top_filled_right=dx))
                                             for dx in (6, 10, 14, 18)),
                                           ("eight blotted, leaning right", handwriting.upright(eight(filled=True),
                                                                                                 -0.4))])
def test_handwriting_topology_keeps_an_eight_with_a_top_loop_or_inked_upper_left(name: str, ink: np.ndarray) -> None:
    assert not handwriting.topology(ink).rules_out(8), name


def _probabilities(**classes: float) -> np.ndarray:
    row = np.full(handwriting.NOISE + 1, 0.01, np.float32)
    for digit, value in classes.items():
        row[int(digit.removeprefix("d"))] = value
    return row


def test_handwriting_rerank_an_eight_without_top_loop_to_the_classifiers_two() -> None:
    two, other = handwriting.topology(looped_two()), handwriting.topology(eight())
    assert handwriting.rerank(_probabilities(d8=0.47, d2=0.26), two) == 2
    assert handwriting.rerank(_probabilities(d8=0.47, d2=0.26), other) is None  # an 8's shape: the 8 stands
    assert handwriting.rerank(_probabilities(d8=0.47, d4=0.27), two) is None  # no 2 among the candidates
    assert handwriting.rerank(_probabilities(d2=0.6, d8=0.3), two) is None  # the classifier read it a 2 already


@pytest.fixture(scope="module")
def tilted() -> handwriting.DigitModel:
    return tilted_model()


def test_handwriting_looped_two_read_as_eight_is_reread_as_two(tilted: handwriting.DigitModel) -> None:
    reading = handwriting.read_digits(255 - looped_two(), tilted)
    assert reading is not None and reading.text == "2" and reading.reranked


def test_handwriting_eight_read_as_eight_stays(tilted: handwriting.DigitModel) -> None:
    reading = handwriting.read_digits(255 - eight(), tilted)
    assert reading is not None and reading.text == "8" and not reading.reranked
