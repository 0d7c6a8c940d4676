"""Deskew, orientation, rescaling and the pixel mapping back to the original page."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from scan_images import BODY_LINES, closing_page, rotate, text_page

from pipeline.preprocess import (
    deskew,
    fix_orientation,
    measure_orientation,
    measure_skew,
    preprocess_page,
    rescale,
    turn_prepared,
)
from pipeline.types import PageImage

PAGE_LINES = BODY_LINES * 3


@pytest.fixture(scope="module")
def page_200dpi() -> np.ndarray:
    return text_page(PAGE_LINES, dpi=200)


@pytest.mark.parametrize("angle", [-9.6, -4.2, -0.35, 0.8, 3.7, 9.9])
def test_preprocess_deskew_recovers_known_angle(page_200dpi: np.ndarray, angle: float) -> None:
    skewed = rotate(page_200dpi, angle)
    measured, _ = measure_skew(skewed, 200)
    assert measured == pytest.approx(angle, abs=0.15)
    straightened, params = deskew(skewed, 200)
    assert params["rotated"] and params["angle"] == pytest.approx(angle, abs=0.15)
    residual, _ = measure_skew(straightened, 200)
    assert abs(residual) < 0.15


def test_preprocess_deskew_leaves_straight_and_empty_pages_alone(page_200dpi: np.ndarray) -> None:
    _, params = deskew(page_200dpi, 200)
    assert abs(params["angle"]) < 0.05
    blank = np.full((800, 600), 255, np.uint8)
    image, params = deskew(blank, 200)
    assert image is blank and params["rotated"] is False


@pytest.mark.parametrize(("turn", "quarters"), [
    (None, 0),
    (cv2.ROTATE_90_CLOCKWISE, 1),
    (cv2.ROTATE_180, 2),
    (cv2.ROTATE_90_COUNTERCLOCKWISE, 3),
])
def test_preprocess_orientation_fix(page_200dpi: np.ndarray, turn: int | None, quarters: int) -> None:
    page = rotate(page_200dpi, 2.0)  # a little skew on top, as real sideways scans have
    turned = page if turn is None else cv2.rotate(page, turn)
    upright, params = fix_orientation(turned, 200)
    assert params["quarters_ccw"] == quarters
    assert upright.shape == page.shape
    difference = np.abs(upright.astype(np.int16) - page.astype(np.int16))
    assert np.mean(difference) < 1.0  # exactly the unturned page


@pytest.mark.parametrize("dpi", [100, 150, 300])
def test_preprocess_orientation_sparse_closing_page_is_not_turned_over(dpi: int) -> None:
    """A last page holding only "Nơi nhận" and the signature block (two columns on different baselines)
    stays upright; upside down it is turned back or left to the OCR check, never called upright for sure."""
    page = closing_page(dpi=dpi)
    _, upright = fix_orientation(page, dpi)
    assert upright["quarters_ccw"] == 0
    _, upside_down = fix_orientation(cv2.rotate(page, cv2.ROTATE_180), dpi)
    assert (upside_down["quarters_ccw"], upside_down["sure"]) in {(0, False), (2, True)}
    _, sideways = fix_orientation(cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE), dpi)
    assert sideways["quarters_ccw"] == 1


def test_preprocess_orientation_of_a_short_text_on_a_tall_page_with_a_streak() -> None:
    """A portrait page holding a few lines (a closing page, a short notice) and a photocopier's toner streak
    down its whole height: its lines are horizontal, though its taller extent spreads their rows over more bins
    than its columns' (scored per bin of extent), and turned a quarter they are vertical."""
    dpi = 150
    lines = text_page(BODY_LINES[:4], dpi=dpi, width_in=6.5, margin_in=0.1)
    page = np.full((round(11.69 * dpi), round(8.27 * dpi)), 255, np.uint8)
    top, left = dpi, round(1.2 * dpi)
    page[top : top + lines.shape[0], left : left + lines.shape[1]] = lines
    page[:, 5 * dpi : 5 * dpi + 2] = 90
    assert measure_orientation(page, dpi).quarters == 0
    assert measure_orientation(cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE), dpi).quarters == 1


def test_preprocess_orientation_is_sure_on_a_text_page(page_200dpi: np.ndarray) -> None:
    _, params = fix_orientation(page_200dpi, 200)
    assert params["sure"] and params["evidence"] >= 4
    _, params = fix_orientation(cv2.rotate(page_200dpi, cv2.ROTATE_180), 200)
    assert params["sure"] and params["quarters_ccw"] == 2


def test_preprocess_turn_prepared_keeps_the_mapping_to_the_original(page_200dpi: np.ndarray) -> None:
    prepared = preprocess_page(PageImage(source="t.png", index=0, image=rotate(page_200dpi, 1.5), dpi=200))
    turned = turn_prepared(prepared, 2, "check_orientation", {"turned": True})
    assert np.array_equal(turned.image, cv2.rotate(prepared.image, cv2.ROTATE_180))
    assert turned.steps[:-1] == prepared.steps
    assert turned.steps[-1].name == "check_orientation"
    assert turned.steps[-1].params["turned"] and turned.steps[-1].params["quarters_ccw"] == 2
    height, width = prepared.image.shape
    before, after = np.array(prepared.to_original).reshape(2, 3), np.array(turned.to_original).reshape(2, 3)
    for x, y in [(0, 0), (37, 512), (width - 1, height - 1)]:
        assert after @ np.array([x, y, 1.0]) == pytest.approx(before @ np.array([width - 1 - x, height - 1 - y, 1.0]))


@pytest.mark.parametrize(("dpi", "factor"), [(75, 4.0), (150, 2.0), (300, 1.0), (600, 0.5)])
def test_preprocess_rescale_brings_pages_to_300_dpi(dpi: int, factor: float) -> None:
    image = np.full((400, 300), 255, np.uint8)
    scaled, params = rescale(image, dpi)
    assert params["dpi"] == pytest.approx(300, abs=1)
    assert scaled.shape == (round(400 * factor), round(300 * factor))
    assert params["factor"] == pytest.approx(factor, rel=1e-3)


def test_preprocess_to_original_maps_processed_pixels_back() -> None:
    """A marker square on a skewed 100-dpi page is found after upscaling and deskewing, and mapped back
    through `to_original` onto where it was drawn."""
    text = text_page(PAGE_LINES, dpi=100)
    page = np.vstack([text, np.full((150, text.shape[1]), 255, np.uint8)])
    marker = (page.shape[1] // 3, page.shape[0] - 100)  # below the text, well inside the page
    cv2.rectangle(page, (marker[0] - 4, marker[1] - 4), (marker[0] + 4, marker[1] + 4), 0, -1)
    skewed = rotate(page, 5.0)
    height, width = page.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 5.0, 1.0)
    expected = matrix @ np.array([marker[0], marker[1], 1.0])
    prepared = preprocess_page(PageImage(source="t.png", index=0, image=skewed, dpi=100))
    assert prepared.dpi == pytest.approx(300, abs=1)
    # the marker is the only solid square blob of its size in the processed image
    _, ink = cv2.threshold(prepared.image, 128, 255, cv2.THRESH_BINARY_INV)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(ink)
    squares = [i for i in range(1, count)
               if 20 <= stats[i, cv2.CC_STAT_WIDTH] <= 40 and 20 <= stats[i, cv2.CC_STAT_HEIGHT] <= 40
               and stats[i, cv2.CC_STAT_AREA] > 0.7 * stats[i, cv2.CC_STAT_WIDTH] * stats[i, cv2.CC_STAT_HEIGHT]]
    assert len(squares) == 1
    x, y = centroids[squares[0]]
    affine = np.array(prepared.to_original).reshape(2, 3)
    mapped = affine @ np.array([x, y, 1.0])
    assert np.hypot(*(mapped - expected)) < 2.0


def test_preprocess_steps_are_recorded_as_json(page_200dpi: np.ndarray) -> None:
    prepared = preprocess_page(PageImage(source="t.png", index=0, image=rotate(page_200dpi, 1.5), dpi=200))
    names = [step.name for step in prepared.steps]
    assert names == ["detect_photo", "suppress_color_ink", "rescale", "denoise", "normalize_background", "remove_borders",
                     "remove_specks", "fix_orientation", "remove_marks", "remove_rules", "deskew"]
    json.dumps([{"name": step.name, "params": step.params} for step in prepared.steps])  # plain types only
    deskew_params = prepared.steps[names.index("deskew")].params
    assert deskew_params["angle"] == pytest.approx(1.5, abs=0.15)
    assert prepared.image.dtype == np.uint8 and prepared.image.ndim == 2
    assert prepared.warnings == ()
