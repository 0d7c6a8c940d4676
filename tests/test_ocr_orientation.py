"""The OCR-stage orientation check: pages preprocessing was not sure about are read both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from scan_images import BODY_LINES, closing_page, text_page

from pipeline import ocr
from pipeline.preprocess import preprocess_page
from pipeline.types import Box, OcrPage, OcrWord, PageImage


def _check_step(result: OcrPage) -> dict[str, Any]:
    steps = {step.name: step.params for step in result.preprocessing}
    assert not steps["fix_orientation"]["sure"]  # the case under test: the image alone could not tell
    return steps["check_orientation"]


def test_ocr_orientation_upside_down_sparse_page_is_turned_back() -> None:
    page = cv2.rotate(closing_page(dpi=150), cv2.ROTATE_180)
    height, width = page.shape
    result = ocr.ocr_page(preprocess_page(PageImage(source="last.png", index=1, image=page, dpi=150)))
    check = _check_step(result)
    assert check["turned"] and check["turned_confidence"] >= check["confidence"] + ocr.TURN_MARGIN
    assert "Nơi nhận" in result.text and "Nguyễn Văn Hải" in result.text
    # boxes are on the page as scanned: the first word, top left when upright, lies bottom right
    first = next(word for word in result.words if word.text.startswith("Nơi"))
    x, y, _, _ = first.box
    assert x > width / 2 and y > height / 2


def test_ocr_orientation_upright_sparse_page_is_kept() -> None:
    result = ocr.ocr_page(preprocess_page(PageImage(source="last.png", index=1, image=closing_page(dpi=150), dpi=150)))
    check = _check_step(result)
    assert not check["turned"] and check["confidence"] >= ocr.CONFIDENT_READING
    assert "Nơi nhận" in result.text and "Nguyễn Văn Hải" in result.text


def test_ocr_orientation_page_preprocessing_was_sure_about_is_not_read_twice(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = preprocess_page(PageImage(source="p.png", index=0, image=text_page(BODY_LINES * 3, dpi=200), dpi=200))
    monkeypatch.setattr(ocr, "TESSERACT", str(tmp_path / "no-tesseract"))  # any Tesseract run would fail
    settled, words = ocr.settle_orientation(prepared)
    assert settled is prepared and words is None


def test_ocr_orientation_blank_page_is_not_read() -> None:
    blank = np.full((1754, 1240), 255, np.uint8)
    prepared = preprocess_page(PageImage(source="blank.png", index=0, image=blank, dpi=150))
    assert "blank page" in prepared.warnings
    assert ocr.settle_orientation(prepared) == (prepared, None)


def test_ocr_orientation_reading_confidence_weighs_words_by_length() -> None:
    box: Box = (0, 0, 1, 1)
    words = [OcrWord("Nguyễn", 90.0, box, 0, 0), OcrWord("~", 20.0, box, 0, 0)]
    assert ocr.reading_confidence(words) == pytest.approx((90 * 6 + 20) / 7)
    assert ocr.reading_confidence([]) == 0.0
