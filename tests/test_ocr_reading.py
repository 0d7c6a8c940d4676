"""Tesseract output: reading order of the two-column header, words, boxes on the original page, text."""

from __future__ import annotations

import itertools
import unicodedata

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scan_images import BODY_LINES, font, header_page, rotate, subpixel_page

from pipeline.eval.metrics import cer
from pipeline.ocr import find_regions, is_junk, ocr_page, words_to_text
from pipeline.preprocess import preprocess_page
from pipeline.types import OcrWord, PageImage

LEFT = ("ỦY BAN NHÂN DÂN", "TỈNH LẠNG SƠN", "Số: 112/UBND-NTM", "V/v đẩy nhanh tiến độ")
RIGHT = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "Lạng Sơn, ngày 15 tháng 4 năm 2020")
BODY = ("Kính gửi: Sở Nông nghiệp và Phát triển nông thôn tỉnh Lạng Sơn",
        "Ủy ban nhân dân tỉnh đề nghị các đơn vị khẩn trương thực hiện các nội dung sau.")


def _ocr(image: np.ndarray, dpi: float, **options: object) -> tuple:
    prepared = preprocess_page(PageImage(source="page.png", index=0, image=image, dpi=dpi))
    return prepared, ocr_page(prepared, **options)  # type: ignore[arg-type]


def _line_texts(result_words: tuple[OcrWord, ...]) -> list[str]:
    lines: dict[int, list[str]] = {}
    for word in result_words:
        lines.setdefault(word.line, []).append(word.text)
    return [" ".join(words) for _, words in sorted(lines.items())]


@pytest.fixture(scope="module")
def header_result() -> tuple:
    return _ocr(header_page(LEFT, RIGHT, BODY), 300)


def test_ocr_two_column_header_read_as_separate_blocks(header_result: tuple) -> None:
    prepared, result = header_result
    regions = find_regions(prepared.image, prepared.dpi)
    assert [region.column for region in regions[:2]] == ["left", "right"]
    lines = _line_texts(result.words)
    joined = "\n".join(lines)
    # every header line comes out whole (no left+right interleaving on one line) …
    for expected in (*LEFT, *RIGHT):
        assert expected in lines, joined
    # … all of the left column before any of the right column, then the body
    positions = [lines.index(line) for line in (*LEFT, *RIGHT)]
    assert positions == sorted(positions)
    assert lines.index(RIGHT[-1]) < min(i for i, line in enumerate(lines) if line.startswith("Kính gửi"))
    left_blocks = {w.block for w in result.words if w.text in {"ỦY", "TỈNH", "V/v"}}
    right_blocks = {w.block for w in result.words if w.text in {"CỘNG", "Độc", "ngày"}}
    assert len(left_blocks) == 1 and len(right_blocks) == 1 and left_blocks != right_blocks
    assert "\n\n" in result.text  # blocks are separated by a blank line


def test_ocr_text_matches_words_and_is_nfc(header_result: tuple) -> None:
    prepared, result = header_result
    assert result.text.split() == [word.text for word in result.words]
    assert result.text == unicodedata.normalize("NFC", result.text)
    assert all(0 <= word.confidence <= 100 for word in result.words)
    # the page's size is the original image's (A4 width at 300 dpi), not the preprocessed one's
    assert (result.height, result.width) == prepared.page.image.shape[:2] and result.width == round(8.27 * 300)


def test_ocr_word_boxes_land_on_the_original_page() -> None:
    """Words drawn at known places on a skewed 150-dpi page: their boxes, after upscaling and deskewing
    inside the pipeline, come back in the coordinates of the page as it was given."""
    dpi = 150
    image = Image.new("L", (1240, 900), "white")
    draw = ImageDraw.Draw(image)
    face = font(round(14 * dpi / 72))
    placed = {"QUYẾT": (150, 200), "ĐỊNH": (700, 200), "Thông": (150, 420), "báo": (700, 420), "Hà": (150, 640),
              "Giang": (700, 640)}
    expected_boxes = {}
    for word, (x, y) in placed.items():
        draw.text((x, y), word, font=face, fill="black")
        expected_boxes[word] = draw.textbbox((x, y), word, font=face)
    angle = 4.0
    page = rotate(np.asarray(image).copy(), angle)
    matrix = cv2.getRotationMatrix2D((page.shape[1] / 2, page.shape[0] / 2), angle, 1.0)
    _, result = _ocr(page, dpi)
    found = {word.text: word.box for word in result.words}
    assert set(placed) <= set(found), found
    for word, (x0, y0, x1, y1) in expected_boxes.items():
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
        ex0, ey0 = corners.min(axis=0)
        ex1, ey1 = corners.max(axis=0)
        bx, by, bw, bh = found[word]
        overlap_w = max(0.0, min(ex1, bx + bw) - max(ex0, bx))
        overlap_h = max(0.0, min(ey1, by + bh) - max(ey0, by))
        union = (ex1 - ex0) * (ey1 - ey0) + bw * bh - overlap_w * overlap_h
        assert overlap_w * overlap_h / union > 0.5, (word, found[word], (ex0, ey0, ex1, ey1))
    assert (result.width, result.height, result.dpi) == (1240, 900, 150)


def test_ocr_small_web_image_reads_like_its_text() -> None:
    """A page rendered small with sub-pixel anti-aliasing (a web image, 72 dpi, no DPI in the file) reads
    almost without error once upscaled; with its colour fringes taken for ink it read at 60 % CER."""
    _, result = _ocr(subpixel_page(BODY_LINES, dpi=72), 72)
    error = cer("\n".join(BODY_LINES), words_to_text(result.words))
    assert error.errors <= 0.03 * error.total, words_to_text(result.words)


def test_ocr_blank_page_gives_no_words() -> None:
    blank = np.full((1754, 1240), 250, np.uint8)
    _prepared, result = _ocr(blank, 150)
    assert result.words == () and result.text == ""
    assert "blank page" in result.warnings


@pytest.mark.parametrize(("text", "confidence", "junk"), [
    ("\\", 9.0, True),  # a pen stroke
    ("`.", 43.0, False),  # too sure of itself to be dropped
    ("—_", 22.0, True),
    ("K", 0.0, True),  # a lone letter read from a seal fragment
    ("tống", 11.0, False),  # a misread word still helps diacritic restoration
    ("-", 95.0, False),  # list bullet
    ("2020", 12.0, False),
])
def test_ocr_junk_tokens(text: str, confidence: float, junk: bool) -> None:
    assert is_junk(text, confidence) is junk


_WORD = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd", "Po")), min_size=1, max_size=8)


@given(st.lists(st.tuples(_WORD, st.integers(0, 3), st.integers(0, 2)), max_size=30))
def test_ocr_words_to_text_splits_back_into_the_words(items: list[tuple[str, int, int]]) -> None:
    words, block, line = [], 0, 0
    for text, block_step, line_step in items:
        block += block_step
        line += line_step + (1 if block_step else 0)
        words.append(OcrWord(text=text, confidence=90.0, box=(0, 0, 1, 1), block=block, line=line))
    text = words_to_text(words)
    assert text.split() == [word.text for word in words]
    assert text.count("\n\n") == sum(1 for a, b in itertools.pairwise(words) if a.block != b.block)


def _spaced_lines(gap_px: int, count: int = 4) -> np.ndarray:
    """Justified-looking body lines whose widest word gaps line up at the same x on every line."""
    image = Image.new("L", (2400, 150 + 75 * count), "white")
    draw = ImageDraw.Draw(image)
    face = font(50)
    for number in range(count):
        y = 80 + 75 * number
        left = "Ủy ban nhân dân tỉnh đề nghị các sở"
        draw.text((150, y), left, font=face, fill="black")
        start = 150 + draw.textlength(left, font=face) + gap_px
        draw.text((start, y), "khẩn trương thực hiện kế hoạch.", font=face, fill="black")
    return np.asarray(image).copy()


def test_ocr_layout_keeps_justified_lines_whole() -> None:
    """Word gaps of a loosely justified paragraph may line up; that is not a column gutter."""
    regions = find_regions(_spaced_lines(gap_px=60), 300)
    assert [region.column for region in regions] == ["full"]


def test_ocr_layout_ignores_dust_in_the_margin() -> None:
    image = header_page(LEFT, RIGHT, BODY)
    for y in range(700, 900, 40):
        cv2.circle(image, (60, y), 5, 0, -1)  # specks left of the body text
    regions = find_regions(image, 300)
    assert [region.column for region in regions] == ["left", "right", "full"]
