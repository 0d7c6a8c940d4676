"""Phone photos told from scans by the image itself: the sheet's outline straightened, bent lines straightened,
camera luminance kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scan_images import BODY_LINES, bend, phone_photo, text_page

from pipeline.preprocess import (
    PHONE_FOCAL_SHARE,
    detect_photo,
    measure_line_angles,
    measure_skew,
    preprocess_page,
    sheet_aspect,
    suppress_color_ink,
    warp_quad,
)
from pipeline.types import PageImage

PAGE_LINES = BODY_LINES * 6
FRAME = (1500, 1900)
# a sheet photographed from below its middle and a little to the left: its top edge is shorter and tilted
CORNERS = ((330.0, 260.0), (1250.0, 210.0), (1400.0, 1750.0), (120.0, 1700.0))


@pytest.fixture(scope="module")
def sheet() -> np.ndarray:
    """An A4 sheet at 150 dpi, full of text."""
    text = text_page(PAGE_LINES, dpi=150, width_in=8.27, color=True)
    return cv2.copyMakeBorder(text, 0, round(11.69 * 150) - text.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))


@pytest.fixture(scope="module")
def photo(sheet: np.ndarray) -> np.ndarray:
    return phone_photo(sheet, CORNERS, frame=FRAME)


def _band_angle(image: np.ndarray, dpi: float, top: float, bottom: float) -> float:
    height = image.shape[0]
    angle, _ = measure_skew(image[round(top * height):round(bottom * height)], dpi)
    return angle


def _diagonals_cross(corners: np.ndarray) -> np.ndarray:
    """Where the diagonals of a quadrilateral (TL, TR, BR, BL) cross: the image of the sheet's centre."""
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = corners
    t = ((x1 - x2) * (y2 - y4) - (y1 - y2) * (x2 - x4)) / ((x1 - x3) * (y2 - y4) - (y1 - y3) * (x2 - x4))
    return corners[0] + t * (corners[2] - corners[0])


def test_preprocess_photo_outline_found_and_straightened(photo: np.ndarray, sheet: np.ndarray) -> None:
    straightened, params = detect_photo(photo, 72.0)
    assert params["photo"] is True
    found = np.array(params["page_quad"])
    assert np.abs(found - np.array(CORNERS)).max() < 8  # pixels of the 1500×1900 frame
    height, width = straightened.shape[:2]
    assert width / height == pytest.approx(sheet.shape[1] / sheet.shape[0], rel=0.02)
    assert params["dpi"] == pytest.approx(width / 8.27, rel=0.01)  # an A4 sheet's resolution, not the file's 72
    # the recorded homography maps the straightened sheet's centre onto the photographed one
    mapped = np.array(params["homography"]) @ np.array([(width - 1) / 2, (height - 1) / 2, 1.0])
    assert np.linalg.norm(mapped[:2] / mapped[2] - _diagonals_cross(np.array(CORNERS))) < 10


def test_preprocess_photo_lines_level_from_top_to_bottom(photo: np.ndarray) -> None:
    """Perspective tilts the top and bottom lines differently (here by 3.1° and -2.2°): after preprocessing
    both run level, and the page's own pixels still map back onto the photographed sheet."""
    prepared = preprocess_page(PageImage(source="photo.jpg", index=0, image=photo, dpi=72.0))
    assert [step.name for step in prepared.steps][:2] == ["detect_photo", "suppress_color_ink"]
    for top, bottom in ((0.1, 0.35), (0.6, 0.85)):
        assert abs(_band_angle(prepared.image, prepared.dpi, top, bottom)) < 0.3
    # the sheet's centre: roughly where the page's affine pixel mapping (to_original, for word boxes) puts it
    centre = _diagonals_cross(np.array(CORNERS))
    affine = np.array(prepared.to_original).reshape(2, 3)
    page_centre = affine @ np.array([prepared.image.shape[1] / 2, prepared.image.shape[0] / 2, 1.0])
    assert np.linalg.norm(page_centre - centre) < 0.05 * FRAME[1]


def test_preprocess_photo_filling_the_frame_told_by_its_light(sheet: np.ndarray) -> None:
    """No outline to find (the sheet fills the picture), but its light falls off as no scanner's does."""
    filling = phone_photo(sheet, None, frame=(sheet.shape[1] // 2, sheet.shape[0] // 2))
    image, params = detect_photo(filling, 96.0)
    assert params["photo"] is True and params["page_quad"] is None and image is filling
    assert params["light_spread"] >= 28


@pytest.mark.parametrize("yellowed", [False, True])
def test_preprocess_scan_keeps_its_path(sheet: np.ndarray, yellowed: bool) -> None:
    """Scans (evenly lit, white or evenly yellowed paper) are no photos: nothing warped, brightest channel kept."""
    scan = sheet if not yellowed else np.clip(sheet.astype(np.float32) * np.array([0.78, 0.9, 0.95]), 0, 255).astype(np.uint8)
    image, params = detect_photo(scan, 150.0)
    assert params["photo"] is False and image is scan
    prepared = preprocess_page(PageImage(source="scan.png", index=0, image=scan, dpi=150.0))
    ink_step = next(step for step in prepared.steps if step.name == "suppress_color_ink")
    assert ink_step.params["neutral"] == "brightest"


def test_preprocess_scan_with_a_dark_picture_is_no_photo(sheet: np.ndarray) -> None:
    """A scan holding a large dark picture (a photograph printed in a report): the closing keeps the picture, but
    the light is measured on the paper, which the scanner lit evenly."""
    scan = sheet.copy()
    height, width = scan.shape[:2]
    rows = np.linspace(20, 100, height // 3, dtype=np.float32)[:, None, None]
    columns = np.linspace(0, 50, width // 2, dtype=np.float32)[None, :, None]
    scan[height // 3 : height // 3 + height // 3, width // 4 : width // 4 + width // 2] = (rows + columns).astype(np.uint8)
    _, params = detect_photo(scan, 150.0)
    assert params["photo"] is False and params["light_spread"] < 28, params


def test_preprocess_photo_ink_keeps_camera_luminance(sheet: np.ndarray) -> None:
    """A camera JPEG's colour noise lightens small text in the brightest channel; luminance keeps it dark."""
    filling = phone_photo(sheet, None, frame=(sheet.shape[1] // 2, sheet.shape[0] // 2), light_depth=0.0)
    text = cv2.cvtColor(filling, cv2.COLOR_BGR2GRAY) < 110
    brightest, _ = suppress_color_ink(filling)
    camera, params = suppress_color_ink(filling, camera=True)
    assert params["neutral"] == "luminance"
    assert float(np.median(camera[text])) < float(np.median(brightest[text])) - 4


def test_preprocess_photo_bent_lines_straightened(sheet: np.ndarray) -> None:
    """A sheet folded down the middle: its lines rise towards both edges (about ±6° at the sides); after
    preprocessing every cell's lines run level."""
    bent = phone_photo(bend(sheet, 40.0), None, frame=(sheet.shape[1] // 2, sheet.shape[0] // 2))
    assert np.abs(measure_line_angles(cv2.cvtColor(bent, cv2.COLOR_BGR2GRAY), 75)[:, 2]).max() > 3.0
    prepared = preprocess_page(PageImage(source="bent.jpg", index=0, image=bent, dpi=75.0))
    step = next(step for step in prepared.steps if step.name == "straighten_lines")
    assert step.params["applied"] is True
    angles = measure_line_angles(prepared.image, prepared.dpi)
    assert len(angles) >= 24 and np.abs(angles[:, 2]).max() < 1.0


def test_preprocess_photo_flat_lines_left_alone(photo: np.ndarray) -> None:
    prepared = preprocess_page(PageImage(source="photo.jpg", index=0, image=photo, dpi=72.0))
    step = next(step for step in prepared.steps if step.name == "straighten_lines")
    assert step.params["applied"] is False


def _camera_view(width: float, height: float, tilt: float, turn: float, focal_share: float,
                 frame: tuple[int, int] = (3000, 4000)) -> np.ndarray:
    """Corners (TL, TR, BR, BL) in a frame of a width × height rectangle 1.6 of its height from a camera whose focal
    length is `focal_share` of the frame's diagonal, the rectangle tilted about its horizontal axis and turned
    about its vertical one (degrees)."""
    a, b = np.radians(tilt), np.radians(turn)
    rotation = (np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
                @ np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]]))
    focal = focal_share * float(np.hypot(*frame))
    corners = []
    for x, y in ((0, 0), (width, 0), (width, height), (0, height)):
        point = rotation @ np.array([x - width / 2, y - height / 2, 0.0]) + np.array([0.02, 0.03, 1.6 * height])
        corners.append((focal * point[0] / point[2] + frame[0] / 2, focal * point[1] / point[2] + frame[1] / 2))
    return np.array(corners)


@pytest.mark.parametrize(("tilt", "turn", "focal_share"), [(35, 0, PHONE_FOCAL_SHARE), (0, 30, PHONE_FOCAL_SHARE),
                                                           (20, 10, 0.45), (40, 25, 0.9)])
def test_preprocess_photo_sheet_shape_from_the_camera_view(tilt: float, turn: float, focal_share: float) -> None:
    """Foreshortening makes an A4 sheet's sides 0.57 to 1.04 of each other (a sheet tilted 35° looks square): its
    shape comes from the camera's view; a square card is no A4 sheet."""
    corners = _camera_view(8.27, 11.69, tilt, turn, focal_share)
    assert sheet_aspect(corners, 3000, 4000) == pytest.approx(8.27 / 11.69, rel=0.02)
    image = np.full((4000, 3000), 200, np.uint8)
    warped, _ = warp_quad(image, corners)
    assert warped.shape[1] / warped.shape[0] == pytest.approx(8.27 / 11.69, rel=0.01)
    card = _camera_view(10.0, 10.0, tilt, turn, focal_share)
    warped, _ = warp_quad(image, card)
    assert warped.shape[1] / warped.shape[0] == pytest.approx(1.0, rel=0.03)
