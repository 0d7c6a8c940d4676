"""Colour ink, shadows, borders, signature marks, binarization and blank pages."""

from __future__ import annotations

import cv2
import numpy as np
from scan_images import BODY_LINES, subpixel_page, text_page

from pipeline.preprocess import (
    binarize,
    denoise,
    normalize_background,
    preprocess_page,
    remove_borders,
    remove_marks,
    remove_rules,
    remove_specks,
    suppress_color_ink,
)
from pipeline.types import PageImage

RED = np.array([40, 30, 215], np.float64)  # BGR of seal ink
BLUE = np.array([170, 60, 30], np.float64)  # BGR of ballpoint ink


def _stamp(page: np.ndarray, mask: np.ndarray, ink_bgr: np.ndarray) -> np.ndarray:
    """Ink over paper multiplies (what a seal does over printed toner): black stays black under it."""
    factor = np.where(mask[:, :, None] > 0, ink_bgr / 255.0, 1.0)
    return np.clip(page.astype(np.float64) * factor, 0, 255).astype(np.uint8)


def _seal_mask(shape: tuple[int, ...], centre: tuple[int, int], radius: int) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.circle(mask, centre, radius, 255, thickness=14)
    cv2.circle(mask, centre, radius - 40, 255, thickness=5)
    cv2.putText(mask, "UBND", (centre[0] - 70, centre[1] + 15), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 5)
    return mask


def test_preprocess_red_seal_removed_black_text_under_it_kept() -> None:
    page = text_page(BODY_LINES, dpi=300, color=True)
    height, width = page.shape[:2]
    centre, radius = (width // 3, height // 2), 170
    seal = _seal_mask(page.shape, centre, radius)
    stamped = _stamp(page, seal, RED)
    gray, params = suppress_color_ink(stamped)
    assert params["applied"] and params["coloured_fraction"] > 0.005
    text = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) < 100
    seal_only = (seal > 0) & ~cv2.dilate(text.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    text_under_seal = (seal > 0) & text
    assert text_under_seal.sum() > 200  # the seal really does cover text
    assert np.percentile(gray[seal_only], 5) > 225  # seal gone: at worst a faint tint
    assert np.median(gray[text_under_seal]) < 60  # text under it still black
    assert np.median(gray[text & (seal == 0)]) < 60


def test_preprocess_colour_ink_weighed_in_little_memory() -> None:
    """Only coloured pixels are weighed as ink or fringe, a chunk at a time: on a sealed colour page the step
    allocates about 13 bytes a pixel (6 for its 8-bit planes, 6 for the neighbourhood sums), not the 85 that
    full-page float arrays took (1.7 GB on a 20-Mpx photo)."""
    import tracemalloc

    page = cv2.resize(text_page(BODY_LINES, dpi=300, color=True), None, fx=1.0, fy=3.0)
    height, width = page.shape[:2]
    stamped = _stamp(page, _seal_mask(page.shape, (width // 3, height // 2), 170), RED)
    tracemalloc.start()
    try:
        gray, params = suppress_color_ink(stamped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert params["coloured_fraction"] > 0.001 and gray.shape == (height, width)
    assert peak < 20 * height * width


def test_preprocess_blue_signature_removed() -> None:
    page = text_page(BODY_LINES, dpi=300, color=True)
    scrawl = np.zeros(page.shape[:2], np.uint8)
    points = np.array([[300, 150], [500, 400], [700, 120], [900, 420], [1200, 200]], np.int32)
    cv2.polylines(scrawl, [points], False, 255, thickness=6)
    gray, _ = suppress_color_ink(_stamp(page, scrawl, BLUE))
    text = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) < 128
    assert np.percentile(gray[(scrawl > 0) & ~text], 5) > 220


def test_preprocess_gray_page_passes_ink_suppression_untouched() -> None:
    page = text_page(dpi=150)
    gray, params = suppress_color_ink(page)
    assert gray is page and params == {"applied": False}


def test_preprocess_background_shadow_and_fading_normalised() -> None:
    page = text_page(BODY_LINES, dpi=300).astype(np.float64)
    height, width = page.shape
    shadow = np.linspace(0.45, 1.0, width)[None, :] * np.linspace(0.7, 1.0, height)[:, None]
    faded = 255 - (255 - page) * 0.5  # photocopy: text only half as dark
    dim = (faded * shadow).astype(np.uint8)
    flat, params = normalize_background(dim, 300)
    text = page < 100
    paper = page > 250
    assert params["paper_min"] < 150
    assert np.percentile(flat[paper], 5) > 200  # the dark side of the page is paper-white again
    assert np.median(flat[text]) < 90  # and the faded text is dark again, on both sides
    left, right = text[:, : width // 3], text[:, 2 * width // 3:]
    assert abs(np.median(flat[:, : width // 3][left]) - np.median(flat[:, 2 * width // 3:][right])) < 40


def test_preprocess_dark_scanner_border_erased() -> None:
    page = text_page(BODY_LINES, dpi=300, width_in=9.0)  # wide enough that no line reaches the frame
    framed = page.copy()
    framed[:40, :] = 20
    framed[:, -60:] = 35
    cleaned, params = remove_borders(framed, 300)
    assert params["erased_components"] >= 1
    assert cleaned[:40, :].min() > 200 and cleaned[:, -60:].min() > 200
    text = page < 100
    assert np.array_equal(cleaned[text], framed[text])


def test_preprocess_signature_scrawl_erased_text_kept() -> None:
    lines = BODY_LINES[:3]
    page = text_page(lines, dpi=300)
    page = np.vstack([page, np.full((500, page.shape[1]), 255, np.uint8)])
    top = page.shape[0] - 450
    scrawl = np.array([[400, top + 300], [520, top], [640, top + 340], [800, top + 40], [950, top + 320],
                       [1100, top + 60]], np.int32)
    cv2.polylines(page, [scrawl], False, 60, thickness=4)
    cleaned, params = remove_marks(page, 300)
    assert params["erased_components"] == 1
    assert cleaned[top - 10:top + 350, 390:1110].min() > 200  # the scrawl is gone
    text_rows = slice(0, top - 20)
    assert np.array_equal(cleaned[text_rows], page[text_rows])  # the text is untouched


def test_preprocess_mark_through_a_text_line_keeps_the_line() -> None:
    page = text_page(BODY_LINES[:4], dpi=300)
    height = page.shape[0]
    # a tall gray bracket crossing all text lines (a photocopied seal ring does this)
    cv2.line(page, (900, 20), (900, height - 20), 90, thickness=5)
    cleaned, _ = remove_marks(page, 300)
    text = text_page(BODY_LINES[:4], dpi=300) < 100
    assert np.mean(cleaned[text] < 128) > 0.97


def test_preprocess_denoise_only_when_grainy() -> None:
    page = text_page(BODY_LINES, dpi=300)
    same, params = denoise(page)
    assert same is page and params["filter"] is None
    rng = np.random.default_rng(3)
    noisy = np.clip(page + rng.normal(0, 14, page.shape), 0, 255).astype(np.uint8)
    smoothed, params = denoise(noisy)
    assert params["filter"] == "median3" and params["noise_sigma"] > 6  # clipping at white hides part of it
    paper = page > 250
    assert smoothed[paper].std() < noisy[paper].std() * 0.7


def test_preprocess_binarize_sauvola_keeps_faint_text() -> None:
    page = text_page(BODY_LINES, dpi=300)
    faint = (255 - (255 - page.astype(np.float64)) * 0.3).astype(np.uint8)  # text at gray ~180
    binary, params = binarize(faint, 300)
    assert params["method"] == "sauvola"
    assert set(np.unique(binary)) <= {0, 255}
    text, paper = page < 60, page > 250
    assert np.mean(binary[text] == 0) > 0.9
    assert np.mean(binary[paper] == 255) > 0.99


def test_preprocess_blank_page_is_a_warning_not_an_error() -> None:
    rng = np.random.default_rng(5)
    blank = np.clip(rng.normal(238, 4, (3508, 2480)), 0, 255).astype(np.uint8)
    blank[rng.random(blank.shape) < 0.0002] = 30  # dust specks
    prepared = preprocess_page(PageImage(source="blank.png", index=2, image=blank, dpi=300))
    assert "blank page" in prepared.warnings
    written = preprocess_page(PageImage(source="text.png", index=0, image=text_page(dpi=300), dpi=300))
    assert "blank page" not in written.warnings


def test_preprocess_estimated_dpi_is_reported() -> None:
    page = PageImage(source="photo.jpg", index=0, image=text_page(dpi=150), dpi=150, dpi_estimated=True)
    prepared = preprocess_page(page)
    assert any("assumed an A4 page" in warning for warning in prepared.warnings)


def test_preprocess_rules_erased_text_kept() -> None:
    page = text_page(BODY_LINES[:3], dpi=300)
    ruled = page.copy()
    cv2.line(ruled, (600, 40), (900, 40), 0, thickness=3)  # a 1-inch rule under a header line
    cv2.line(ruled, (300, ruled.shape[0] - 30), (2000, ruled.shape[0] - 30), 40, thickness=2)
    cleaned, params = remove_rules(ruled, 300)
    assert params["erased_pixels"] > 0
    assert cleaned[36:45, 600:901].min() > 200
    assert cleaned[-34:-26, 300:2001].min() > 200
    text = page < 100
    assert np.mean(cleaned[text] < 128) > 0.99  # strokes of the letters stay


def test_preprocess_isolated_specks_erased_dots_of_letters_kept() -> None:
    page = text_page(BODY_LINES[:3], dpi=300)
    page = np.vstack([page, np.full((300, page.shape[1]), 255, np.uint8)])
    specks = [(150, page.shape[0] - 200), (1200, page.shape[0] - 120), (2500, page.shape[0] - 60)]
    dusty = page.copy()
    for x, y in specks:
        dusty[y:y + 3, x:x + 3] = 20  # toner dots far from any letter
    cleaned, params = remove_specks(dusty, 300)
    assert params["erased_specks"] == len(specks)
    for x, y in specks:
        assert cleaned[y - 1:y + 4, x - 1:x + 4].min() == 255
    text = page < 100  # the dots of i, full stops and tone marks sit next to their letters and stay
    assert np.array_equal(cleaned[text], dusty[text])


def test_preprocess_gray_seal_over_the_signer_title_lightened_title_kept() -> None:
    title = text_page(BODY_LINES[:2], dpi=300)
    height, width = title.shape
    page = np.vstack([np.full((400, width), 255, np.uint8), title, np.full((400, width), 255, np.uint8)])
    photocopied_seal = page.copy()
    ring = np.zeros_like(page)
    cv2.circle(ring, (700, 400 + height // 2), 330, 255, thickness=12)  # a seal ring through both lines
    photocopied_seal[(ring > 0) & (page > 128)] = 170  # turned gray by a photocopy, under the black text
    cleaned, params = remove_marks(photocopied_seal, 300)
    assert params["lightened"] == 1
    assert np.mean(cleaned[(ring > 0) & (page > 128)] > 200) > 0.95  # the ring is gone, inside the lines too
    text = page < 100
    assert np.mean(cleaned[text] < 128) > 0.99


def test_preprocess_subpixel_fringes_are_not_coloured_ink() -> None:
    """A web image's strokes carry orange and blue sub-pixel fringes; read per pixel as coloured ink they
    were whitened, and each stroke thinned to a broken hairline (the real web images lost half their ink)."""
    page = subpixel_page(dpi=72)
    gray, params = suppress_color_ink(page)
    luminance = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert np.count_nonzero(gray < 128) >= 0.95 * np.count_nonzero(luminance < 128)
    assert np.abs(gray.astype(int) - luminance)[luminance < 200].mean() < 8
    assert params["fringe_fraction"] > 0.02  # the fringes were there, and recognised as such


def test_preprocess_text_line_cut_by_the_frame_kept_border_erased() -> None:
    """A partial web image or a cropped photo ends inside a text line: its letters touch the frame but are
    text to read, while a dark band along another edge is still the scanner's frame."""
    page = text_page(BODY_LINES, dpi=300, width_in=9.0)
    pitch = round(13 * 1.6 * 300 / 72)
    last_top = round(0.5 * 300) + pitch * (len(BODY_LINES) - 1)
    cut = page[: last_top + 40].copy()  # through the middle of the last line's letters
    cut[:40, :] = 20
    cleaned, params = remove_borders(cut, 300)
    last_line = cut[last_top:] < 100
    assert last_line.sum() > 2000
    assert np.array_equal(cleaned[last_top:][last_line], cut[last_top:][last_line])
    assert params["kept_cut_letters"] >= 20
    assert cleaned[:40, :].min() > 200
