"""Tests of the fields OCR reads apart on generated registered dispatches: a handwritten number and day, an
unreadable one, a receiving office's stamp over the body; and the double marks OCR writes on one vowel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from registered_pages import Stamp, registered_dispatch, scribble

from pipeline import ocr
from pipeline.extract import extract_record
from pipeline.preprocess import preprocess_page
from pipeline.types import OcrPage, PageResult

CASES = Path(__file__).parent / "cases"


def _read(page) -> tuple[OcrPage, PageResult]:
    result = ocr.ocr_page(preprocess_page(page))
    return result, PageResult(0, result.width, result.height, result.dpi, list(result.preprocessing),
                              list(result.words), result.text, result.text, field_readings=list(result.field_readings),
                              marks=list(result.marks))


@pytest.fixture(scope="module")
def handwritten_page() -> tuple[OcrPage, PageResult]:
    return _read(registered_dispatch("08", "03"))


def test_ocr_fields_handwritten_number_and_day(handwritten_page) -> None:
    result, page = handwritten_page
    readings = {reading.name: reading for reading in result.field_readings}
    assert readings["number"].value == "08"
    assert readings["day"].value == "03"
    assert "Số: 08 /CT" in result.text  # the reading stands where OCR had read the ink
    record = extract_record(page.text, [page])
    assert record.document.number == "08" and (record.document.code or "").startswith("08/CT")
    assert record.document.date == "2018-04-03"
    assert record.fields_confidence["document.number"] == readings["number"].confidence > 0
    assert "document.date" in record.fields_confidence


def test_ocr_fields_unreadable_number_is_left_null(handwritten_page) -> None:
    result, page = _read(registered_dispatch(scribble(40, seed=5), "03"))
    number = next(reading for reading in result.field_readings if reading.name == "number")
    assert number.value is None
    record = extract_record(page.text, [page])
    assert record.document.number is None
    assert record.document.code == "/CT-UBND" and record.document.symbol == "CT-UBND"
    assert "document.number" in record.needs_review


def test_ocr_fields_printed_values_are_not_read_again() -> None:
    from PIL import Image, ImageDraw
    from scan_images import font

    image = Image.new("L", (1400, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, 60), "Số: 112/KH-UBND       Lạng Sơn, ngày 15 tháng 4 năm 2020", font=font(36), fill="black")
    words = ocr.read_words(preprocess_page(_page(image)), languages="vie", timeout=60)
    assert ocr.find_header_fields(words, 2000) and all(ocr._printed(spot) for _, spot in
                                                       ocr.find_header_fields(words, 2000))


def _page(image):
    import numpy as np

    from pipeline.types import PageImage

    return PageImage("printed.png", 0, np.asarray(image).copy(), 200.0)


@pytest.fixture(scope="module")
def stamped_page() -> tuple[OcrPage, PageResult]:
    return _read(registered_dispatch("08", "03", stamp=Stamp()))


def test_ocr_fields_stamp_over_body_is_read_apart(stamped_page) -> None:
    result, page = stamped_page
    assert [mark.kind for mark in result.marks] == ["received-stamp"]
    assert "ĐẾN" not in result.text and "Chuyển" not in result.text
    record = extract_record(page.text, [page])
    assert record.received is not None
    assert (record.received.number, record.received.date, record.received.page) == ("2770", "2018-04-04", 0)
    assert record.document.type == "CT"  # the stamp's lines no longer stand between the header and the title
    assert not any("ĐẾN" in value or "Chuyển" in value for value in (record.document.subject or "",
                                                                     *(task.text for task in record.tasks)))
    assert record.document.number == "08"
    assert [task.assignees for task in record.tasks] == [["Sở Kế hoạch và Đầu tư"]]


def test_ocr_fields_rules_that_frame_no_stamp_stay_text() -> None:
    page = registered_dispatch("08", "03")
    prepared = preprocess_page(page)
    assert ocr.read_marks(prepared, languages="vie") == (prepared, [], [])


@pytest.mark.parametrize("case", json.loads((CASES / "ocr_double_marks.json").read_text(encoding="utf-8")),
                         ids=lambda case: case["comment"][:50])
def test_ocr_fields_double_marks(case: dict) -> None:
    assert ocr.fold_double_marks(case["input"]) == case["expected"]
