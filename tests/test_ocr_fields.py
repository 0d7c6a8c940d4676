"""Tests of the fields OCR reads apart on generated registered dispatches: a handwritten number and day, an
unreadable one, a receiving office's stamp over the body; and the double marks OCR writes on one vowel."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
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
    page = _page(image)
    words = ocr.read_words(preprocess_page(page), languages="vie", timeout=60)
    spots = ocr.find_header_fields(words, 2000)
    assert spots and all(ocr._printed(spot, page.image) for _, spot in spots)


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


def test_ocr_fields_worn_stamp_is_found_whole_and_no_value_guessed() -> None:
    # its top side wavy and broken, its title struck through, its values written far past their labels
    result, page = _read(registered_dispatch("08", "03", stamp=Stamp(worn=True, offset=0.9)))
    assert [mark.kind for mark in result.marks] == ["received-stamp"]
    assert result.marks[0].box[2] >= 2.3 * page.dpi  # the frame's whole width, not the struck title's rule
    record = extract_record(page.text, [page])
    assert record.received is not None and record.received.number == "2770"
    assert record.received.date in (None, "2018-04-04")
    assert record.received.date is not None or "received.date" in record.needs_review


def test_ocr_fields_stamp_rows_ocr_did_not_read_are_placed_by_the_others() -> None:
    words = _words("CV", "|56:.......", "Ngày:", "Chuyển:")
    rows = ocr._stamp_rows(words)
    assert rows["so"][0].text == "|56:......."  # the frame's inner side and an S read as 5, an ô as 6
    rows = ocr._stamp_rows([word for word in words if word.text != "|56:......."])
    placed, _ = rows["so"]
    assert (placed.text, placed.box[0], placed.box[1]) == ("", 100, 160)  # one row above "Ngày:", at its pitch


def test_ocr_fields_stamp_value_running_past_the_frame_is_not_read() -> None:
    import cv2
    import numpy as np
    from registered_pages import handwritten

    from pipeline.types import OcrWord

    page = np.full((200, 500), 255, np.uint8)
    ink = handwritten("2770", 30, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.1)
    page[62 : 62 + ink.shape[0], 90 : 90 + ink.shape[1]] = ink
    words = [OcrWord("CV", 90.0, (5, 60, 30, 30), 0, 0), OcrWord("Số:", 90.0, (45, 68, 36, 24), 0, 0)]

    def number(right: int) -> str | None:
        return ocr._stamp_fields(page, (0, 0, right, 200), words, 60, None, None)[0].value

    assert number(500) == "2770"
    # a frame found too short ends between its digits: "277" and "27" are never read for it
    assert number(90 + 3 * ink.shape[1] // 4) is None and number(90 + ink.shape[1] // 2) is None
    # a stamp cut by the page's edge, its value's ink reaching that edge: unreadable, never a crash
    edge = page[:, : 90 + 3 * ink.shape[1] // 4].copy()
    assert ocr._stamp_fields(edge, (0, 0, edge.shape[1], 200), words, 60, None, None)[0].value is None


@pytest.mark.parametrize(("digits", "size", "face"), [("2770", 36, 0), ("1469", 36, 0), ("14693", 30, 0),
                                                      ("1823", 36, 6), ("9503", 39, 6)])
def test_ocr_fields_stamp_value_longer_than_its_room_is_read_whole(digits: str, size: int, face: int) -> None:
    """A value written larger or longer than the room a value surely has after its label (STAMP_VALUE_WIDTH) is
    read out to the frame's side, whole ("2770" cut there read as "2776"), the body line further right left out."""
    import cv2
    import numpy as np
    from registered_pages import handwritten

    from pipeline.types import OcrWord

    page = np.full((200, 600), 255, np.uint8)
    ink = handwritten(digits, size, font_face=face, slant=0.1)
    page[62 : 62 + ink.shape[0], 90 : 90 + ink.shape[1]] = ink
    assert 90 + ink.shape[1] > 45 + 36 + ocr.STAMP_VALUE_WIDTH * 24  # longer than that room
    cv2.putText(page, "ngay 15", (90 + ink.shape[1] + 40, 86), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 0, 2)  # body text
    words = [OcrWord("CV", 90.0, (5, 60, 30, 30), 0, 0), OcrWord("Số:", 90.0, (45, 68, 36, 24), 0, 0)]
    assert ocr._stamp_fields(page, (0, 0, 580, 200), words, 60, None, None)[0].value == digits


@pytest.mark.parametrize("digits", ["1469", "2710"])
def test_ocr_fields_stamp_value_as_high_as_its_box_keeps_its_upright_strokes(digits: str) -> None:
    """Digits written upright, about as high as the row's box: their strokes inside the box are no frame's side
    (only one at the box's left or right edge is), and are kept ("1469" read as "14169" without its 6's side)."""
    import cv2
    import numpy as np
    from registered_pages import handwritten

    from pipeline.types import OcrWord

    page = np.full((200, 600), 255, np.uint8)
    ink = handwritten(digits, 36, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.0)
    page[60 : 60 + ink.shape[0], 90 : 90 + ink.shape[1]] = ink
    words = [OcrWord("CV", 90.0, (5, 60, 30, 30), 0, 0), OcrWord("Số:", 90.0, (45, 68, 36, 24), 0, 0)]
    assert ocr._stamp_fields(page, (0, 0, 580, 200), words, 60, None, None)[0].value == digits


@pytest.mark.parametrize(("digits", "face"), [("2352", 0), ("2770", 0), ("1469", 0), ("2352", 6)])
def test_ocr_fields_stamp_value_on_a_dotted_leader_before_the_frame_side_is_read(digits: str, face: int) -> None:
    """A value written over the dots of its leader, OCR's word of it (digits and dots, unsure) reaching the frame's
    side: the dots and the side are no digits (a side read as "1" made "2352" into "23521")."""
    import numpy as np
    from registered_pages import handwritten

    from pipeline.types import OcrWord

    page = np.full((200, 600), 255, np.uint8)
    ink = handwritten(digits, 30, font_face=face, slant=0.1)
    top = 62
    page[top : top + ink.shape[0], 90 : 90 + ink.shape[1]] = ink
    side = 90 + ink.shape[1] + 12
    base = top + ink.shape[0] - 4  # through the digits' feet
    for x in range(84, side, 6):
        page[base : base + 2, x : x + 2] = 0
    page[20:180, side : side + 3] = 0
    words = [OcrWord("CV", 90.0, (5, 60, 30, 30), 0, 0), OcrWord("Số:", 90.0, (45, 68, 36, 24), 0, 0),
             OcrWord(digits + "......", 10.0, (88, 62, side - 86, 32), 0, 0)]
    assert ocr._stamp_fields(page, (0, 0, side + 3, 200), words, 60, None, None)[0].value == digits


def test_ocr_fields_stamp_rows_keep_their_vertical_order() -> None:
    # the leader of "Chuyển:" read as "Š0095004…", a "Số" under "Ngày": no label; Số is placed one row above Ngày
    words = _words("CV", "Ngày:", "Chuyển: Š00950046000999")
    words[-1] = replace(words[-1], confidence=7.0)
    rows = ocr._stamp_rows(words)
    placed, _ = rows["so"]
    assert (placed.text, placed.box[1]) == ("", 100)
    assert rows["ngay"][0].text == "Ngày:" and rows["chuyen"][0].text == "Chuyển:"
    # a surer "Số" below the rows (a fourth row "Số và ký hiệu HS:", a body line under an open frame) is none of them
    words = _words("Số:", "Ngày:", "Chuyển:", "Số và ký hiệu HS:")
    words[-5] = replace(words[-5], confidence=95.0)
    rows = ocr._stamp_rows(words)
    assert [rows[kind][0].box[1] for kind in ocr.STAMP_ROWS] == [100, 160, 220]


@pytest.mark.parametrize(("word", "kind"), [("|56:.......", "so"), ("5ố:", "so"), ("Số:2770", "so"), ("50", None),
                                            ("56", None), ("50.", None), ("5ố;", "so"), ("56...", "so"), ("Ngày:", "ngay")])
def test_ocr_fields_stamp_label_five_for_s_only_before_its_colon(word: str, kind: str | None) -> None:
    label = ocr._stamp_label(word)
    assert (label[0] if label else None) == kind


def test_ocr_fields_stamp_is_as_wide_as_the_rules_covering_it() -> None:
    """The rules of one stamp (its top, the rule under its title, a struck title shorter than the frame): the stamp
    is as wide as those covering most of the frame whose reading held its labels, whether or not their own reading
    did; a rule of the body below it or beside it does not widen it."""
    frame = ocr.StampFrame(0, 603, 347, 870, True)  # under the struck title
    others = [ocr.StampFrame(0, 557, 651, 870, True), ocr.StampFrame(0, 630, 650, 870, True),
              ocr.StampFrame(0, 810, 900, 1200, False), ocr.StampFrame(1053, 584, 1416, 974, False)]
    assert ocr._stamp_extent(frame, [frame, *others], ocr.STAMP_WIDTH_INCHES[1] * 300.0) == (0, 651)
    # never wider than a stamp
    assert ocr._stamp_extent(frame, [frame, ocr.StampFrame(0, 600, 1500, 870, True)], ocr.STAMP_WIDTH_INCHES[1] * 300.0) == (0, 347)


def test_ocr_fields_stamp_value_begun_before_its_placed_row_is_not_read() -> None:
    """Số's label not read, its row placed from Ngày and Chuyển, from past a label's width: a number written closer
    to its label begins before that place, and the part inside ("770" of "2770") is never read for it."""
    import numpy as np
    from registered_pages import handwritten

    from pipeline.types import OcrWord

    page = np.full((220, 500), 255, np.uint8)
    ink = handwritten("2770", 24, font_face=0, slant=0.1)
    page[72 : 72 + ink.shape[0], 78 : 78 + ink.shape[1]] = ink
    words = [OcrWord("CV", 90.0, (5, 100, 30, 30), 0, 0), OcrWord("Ngày:", 90.0, (45, 120, 60, 24), 0, 1),
             OcrWord("Chuyển:", 90.0, (45, 160, 80, 24), 0, 2)]
    reading = ocr._stamp_fields(page, (0, 0, 500, 220), words, 60, None, None)
    assert [(r.name, r.value) for r in reading if r.name == "received.number"] == [("received.number", None)]


@pytest.mark.parametrize(("digits", "gap", "expected"), [("2770", 10, "2770"), ("2352", 12, "2352"),
                                                          ("1469", 10, "1469"), ("2770", 1, None)])
def test_ocr_fields_stamp_value_close_after_an_unread_short_label_is_read(digits: str, gap: int,
                                                                          expected: str | None) -> None:
    """Số's label printed but not read by OCR, its row placed from Ngày and Chuyển: "Số:" is shorter than the
    label width a placed row assumed, and a number written a word's gap after it was cut there ("2770" begun
    before its row, null); its value begins past the printed label's own ink, and is read whole. A number
    touching the label cannot be told from it: unread, never its part past the assumed width."""
    import numpy as np
    from PIL import Image, ImageDraw
    from registered_pages import handwritten
    from scan_images import font

    from pipeline.types import OcrWord

    image = Image.new("L", (500, 220), "white")
    ImageDraw.Draw(image).text((45, 80), "Số:", font=font(22), fill="black")
    page = np.asarray(image).copy()
    label = np.flatnonzero((page[70:110] < 128).any(axis=0))
    start = int(label[-1]) + gap
    assert start < 45 + ocr.STAMP_LABEL_WIDTH * 24  # inside the label width a placed row assumed
    ink = handwritten(digits, 26, font_face=0, slant=0.1)
    page[74 : 74 + ink.shape[0], start : start + ink.shape[1]] = np.minimum(
        page[74 : 74 + ink.shape[0], start : start + ink.shape[1]], ink)
    words = [OcrWord("CV", 90.0, (5, 100, 30, 30), 0, 0), OcrWord("Ngày:", 90.0, (45, 120, 60, 24), 0, 1),
             OcrWord("Chuyển:", 90.0, (45, 160, 80, 24), 0, 2)]
    reading = ocr._stamp_fields(page, (0, 0, 500, 220), words, 60, None, None)
    assert [(r.name, r.value) for r in reading if r.name == "received.number"] == [("received.number", expected)]


@pytest.mark.parametrize(("height", "top"), [(22, 81), (24, 79), (24, 81)])
def test_ocr_fields_placed_value_begins_past_a_long_labels_colon(height: int, top: int) -> None:
    """A row whose label OCR did not read, placed `top` with a label's `height`: its label "Ngày:" (wider than a
    short one) printed and a date written a word's gap after it. The value begins past the label's colon, not
    inside the label. Clearing the guides breaks the label's letters and leaves the grave accent of "à" last
    before a gap: a dot, but no colon (two stacked dots)."""
    import numpy as np
    from PIL import Image, ImageDraw
    from registered_pages import handwritten
    from scan_images import font

    from pipeline import handwriting

    image = Image.new("L", (500, 220), "white")
    ImageDraw.Draw(image).text((45, 80), "Ngày:", font=font(22), fill="black")
    page = np.asarray(image).copy()
    label_end = int(np.flatnonzero((page < 128).any(axis=0))[-1]) + 1
    ink = handwritten("04/4/18", 26, font_face=0, slant=0.1)
    start = label_end + 10
    page[74 : 74 + ink.shape[0], start : start + ink.shape[1]] = np.minimum(
        page[74 : 74 + ink.shape[0], start : start + ink.shape[1]], ink)
    assert label_end <= ocr._placed_value_start(page, (45, top, 500, top + height), height) <= start
    cleared = handwriting.clear_guides(handwriting.ink_mask(page[top : top + height, 45:]), height)
    assert handwriting.label_end(cleared, height) in (None, label_end - 45)


def test_ocr_fields_rules_that_frame_no_stamp_stay_text() -> None:
    page = registered_dispatch("08", "03")
    prepared = preprocess_page(page)
    assert ocr.read_marks(prepared, languages="vie") == (prepared, [], [])


@pytest.mark.parametrize("case", json.loads((CASES / "ocr_double_marks.json").read_text(encoding="utf-8")),
                         ids=lambda case: case["comment"][:50])
def test_ocr_fields_double_marks(case: dict) -> None:
    assert ocr.fold_double_marks(case["input"]) == case["expected"]


def _words(*lines: str) -> list:
    from pipeline.types import OcrWord

    out, x = [], 0
    for number, line in enumerate(lines):
        x = 100
        for token in line.split():
            out.append(OcrWord(token, 80.0, (x, 100 + 60 * number, 20 * len(token), 40), 0, number))
            x += 20 * len(token) + 15
    return out


def _blank_prepared():
    import numpy as np

    from pipeline.types import PageImage, PreparedPage

    image = np.full((2000, 1600), 255, np.uint8)
    return PreparedPage(PageImage("blank.png", 0, image, 200.0), image, 200.0, ())


def test_ocr_fields_printed_number_with_lookalike_letters_is_written_as_digits() -> None:
    words, readings = ocr.read_header_fields(_blank_prepared(), _words("Số: II0/QĐ-STP", "Hà Nội, ngày 28 tháng 6 năm 2018"))
    assert ocr.words_to_text(words).splitlines()[0] == "Số: 110 /QĐ-STP"
    assert [(r.name, r.value) for r in readings] == [("number", "110")]


def test_ocr_fields_digits_read_over_part_of_the_ink_are_read_again() -> None:
    import cv2

    prepared = _blank_prepared()
    words = _words("Hà Nội, ngày 4 tháng 6 năm 2018")
    ((_, spot),) = [pair for pair in ocr.find_header_fields(words, 2000) if pair[1].name == "day"]
    x0, y0, x1, y1 = spot.box
    spot = replace(spot, box=(x0 - 40, y0, x1, y1), read_span=(x0 + 5, x1))  # OCR read the right half
    image = prepared.page.image
    cv2.putText(image, "4", (x0 + 5, y1 - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 3)
    assert ocr._printed(spot, image) == "4"
    cv2.putText(image, "2", (x0 - 38, y1 - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 3)  # "24" was written
    assert ocr._printed(spot, image) is None


def test_ocr_fields_fewer_digits_than_the_ink_holds_are_read_again() -> None:
    import cv2

    words = _words("Hà Nội, ngày 4 tháng 6 năm 2018")
    ((_, spot),) = [pair for pair in ocr.find_header_fields(words, 2000) if pair[1].name == "day"]
    x0, _, _, y1 = spot.box
    one, two = _blank_prepared().page.image, _blank_prepared().page.image
    cv2.putText(one, "4", (x0 + 2, y1 - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 3)
    cv2.putText(two, "24", (x0 + 2, y1 - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 3)
    doubted = replace(spot, ocr_confidence=33.0)
    assert ocr._printed(doubted, two) is None  # one digit read, unsure, over the two a hand wrote
    assert ocr._printed(spot, two) is None  # read surely, but the "2" before it is left unexplained
    assert ocr._printed(spot, one) == "4"
    assert ocr._printed(doubted, one) == "4"  # unsure but whole: a worn typewriter's digit
    assert ocr._printed(replace(doubted, ocr_text="I"), two) == "1"  # look-alike letters: small print
    # a number's crop can hold part of the symbol's slash ("635/QĐ-UBND" one word): its characters are not counted
    assert ocr._printed(replace(doubted, name="number"), two) == "4"


def test_ocr_fields_reading_of_part_of_a_day_is_not_taken_whole() -> None:
    """OCR and Tesseract agree on the "4" of a handwritten "24" (its looped "2" read as nothing): the day is a
    reading of all its ink, or unreadable, never the "4"."""
    import cv2
    from registered_pages import handwritten, side_by_side

    ink = side_by_side([handwritten(digit, 50, seed=3, font_face=cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, slant=0.0)
                        for digit in "24"])
    crop = cv2.copyMakeBorder(ink, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    day = ocr._FieldSpot("day", 0, 1, (0, 0, crop.shape[1], crop.shape[0]), "4", 90.0, month=1, year=2025)
    assert ocr._read_field(day, crop, [("4", 95.0)] * 16).value in (None, "24")
    four = cv2.copyMakeBorder(handwritten("4", 50, seed=3, font_face=cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, slant=0.0),
                              12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    assert ocr._read_field(replace(day, box=(0, 0, four.shape[1], four.shape[0])), four, [("4", 95.0)] * 16).value == "4"


@pytest.mark.parametrize("digit", ["2", "5"])
def test_ocr_fields_one_digit_day_beside_a_neighbouring_letters_stem_is_read_whole(digit: str) -> None:
    """A printed one-digit day whose crop the stem of the next word's "t" reaches into, cut by the crop's edge:
    OCR and Tesseract both read the digit surely, and it is the day (the stem is no digit left unread)."""
    import cv2

    crop = np.full((60, 60), 255, np.uint8)
    cv2.putText(crop, digit, (14, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)
    crop[8:50, 55:60] = 0  # the "t" of "tháng", past the crop's right edge
    day = ocr._FieldSpot("day", 0, 1, (0, 0, 60, 60), digit, 95.0, month=1, year=2025, read_span=(10.0, 45.0))
    assert ocr._printed(day, crop) == digit
    assert ocr._read_field(day, crop, [(digit, 95.0)] * 16).value == digit


def test_ocr_fields_blank_fields_are_not_read() -> None:
    words = _words("Số: /KH-UBND", "Hà Nội, ngày tháng 6 năm 2018")
    assert ocr.read_header_fields(_blank_prepared(), words) == (words, [])


def test_ocr_fields_a_reading_replaces_what_ran_into_it() -> None:
    from pipeline.types import FieldReading

    words = _words("Quảng Ngãi, ngày20tháng 3 năm 2018")
    ((line, spot),) = [pair for pair in ocr.find_header_fields(words, 2000) if pair[1].name == "day"]
    reading = FieldReading("day", "20", 0.8, (0, 0, 1, 1), spot.ocr_text)
    assert ocr.words_to_text(ocr._put_fields(words, [(line, spot, reading)])) == "Quảng Ngãi, ngày 20 tháng 3 năm 2018"
    unread = FieldReading("day", None, 0.0, (0, 0, 1, 1), spot.ocr_text)
    assert ocr.words_to_text(ocr._put_fields(words, [(line, spot, unread)])) == "Quảng Ngãi, ngày tháng 3 năm 2018"


def test_ocr_fields_a_reading_where_ocr_read_nothing_stands_in_its_gap() -> None:
    """OCR read no word between "ngày" and "tháng" (a faint or stamped-over day): the day read apart goes in that
    gap, and a reading of the month after it keeps its own place."""
    from pipeline.types import FieldReading

    words = _words("Quảng Ngãi, ngày tháng I] năm 2024")
    spots = {spot.name: (line, spot) for line, spot in ocr.find_header_fields(words, 2000)}
    day = (*spots["day"], FieldReading("day", "15", 0.9, (0, 0, 1, 1), ""))
    month = (*spots["month"], FieldReading("month", "11", 0.9, (0, 0, 1, 1), "I]"))
    assert ocr.words_to_text(ocr._put_fields(words, [day, month])) == "Quảng Ngãi, ngày 15 tháng 11 năm 2024"
    assert ocr.words_to_text(ocr._put_fields(words, [day])) == "Quảng Ngãi, ngày 15 tháng I] năm 2024"


def test_ocr_fields_a_field_where_ocr_read_nothing_is_empty_at_the_next_words_start() -> None:
    """An empty field's span is ordered: empty, at the start of the word after its gap ("tháng")."""
    line = "Quảng Ngãi, ngày tháng 11 năm 2024"
    spots = {spot.name: spot for _, spot in ocr.find_header_fields(_words(line), 2000)}
    assert spots["day"].start == spots["day"].end == line.index("tháng") and spots["day"].ocr_text == ""


@pytest.mark.parametrize(("line", "number"), [("Số: 45-KH/HU", "45"), ("Số: 496-TB/TU", "496"), ("Số: đê /CT-UBND", "đê"),
                                              ("Số:    /KH-UBND", ""), ("Số: 157/ QĐ-NĐ-UB", "157"),
                                              ("Số: 110 QĐ-STP", "110"), ("Số: II0QĐ-STP", "II0")])
def test_ocr_fields_number_between_label_and_symbol(line: str, number: str) -> None:
    ((_, spot),) = [pair for pair in ocr.find_header_fields(_words(line), 2000) if pair[1].name == "number"] or [
        (None, None)]
    assert spot is not None and spot.ocr_text == number


@pytest.mark.parametrize("line", ["- Sở Lao động - TB&XH tỉnh;", "Sở Tài chính phối hợp với Sở Y tế - KH/ĐT",
                                  "Số lượng cán bộ đã tham gia tập huấn - KH"])
def test_ocr_fields_lines_that_only_look_like_a_number_field(line: str) -> None:
    assert [spot.name for _, spot in ocr.find_header_fields(_words(line), 2000)] == []


def test_ocr_fields_number_the_classifier_reads_upright_at_most_shears() -> None:
    """A hurried "07" (a thin slanted slashed zero) that neither OCR nor Tesseract reads: the classifier alone
    decides it when most of its readings, stood upright, agree surely."""
    import cv2
    import numpy as np
    from registered_pages import handwritten, leaning, side_by_side, slashed_zero

    seven = handwritten("7", 50, seed=1, font_face=cv2.FONT_HERSHEY_SIMPLEX, slant=0.0)
    ink = leaning(side_by_side([slashed_zero(50, width_share=0.5), seven]), 0.7)
    crop = cv2.copyMakeBorder(ink, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    spot = ocr._FieldSpot("number", 0, 0, (0, 0, crop.shape[1], crop.shape[0]), "", 0.0)
    reading = ocr._read_field(spot, crop, [])
    assert reading.value == "07" and reading.confidence > 0.5
    blank = ocr._read_field(spot, np.full_like(crop, 255), [])
    assert blank.value is None


@pytest.mark.parametrize("written", ["21.3.18", "21-3-18", "21/3/18", "21.3.18đạo"])
def test_ocr_fields_stamp_date_as_clerks_separate_it_votes(written: str) -> None:
    import numpy as np

    from pipeline.types import RECEIVED_DATE

    spot = ocr._FieldSpot(RECEIVED_DATE, 0, 0, (0, 0, 120, 40), written, 80.0)
    votes = ocr._votes(spot, np.full((40, 120), 255, np.uint8), [])
    assert [(vote.text, vote.source) for vote in votes] == [("21/3/18", "ocr")]
