"""Tests of the receiving-office marks (record.received) and of the review of fields read apart (confidences,
needs_review, the document's date against its copy's other dates)."""

from __future__ import annotations

import pytest

from pipeline.extract import extract_record
from pipeline.handwriting import stamp_date
from pipeline.types import FieldReading, PageMark, PageResult

HEADER = ("UBND TỈNH QUẢNG NGÃI\nSố: 08/CT-UBND\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
          "Quảng Ngãi, ngày 03 tháng 4 năm 2018\nCHỈ THỊ\nVề việc tăng cường công tác quản lý đầu tư\n")
BODY = "Thời gian qua, các cấp đã cố gắng.\nUBND tỉnh yêu cầu:\n1. Sở Xây dựng rà soát các dự án.\n"


def _page(text: str, readings: list[FieldReading] = (), marks: list[PageMark] = ()) -> PageResult:
    return PageResult(0, 1000, 1400, 200.0, [], [], text, text, field_readings=list(readings), marks=list(marks))


def test_extract_stamps_dates_as_clerks_write_them() -> None:
    assert stamp_date("04/4/18") == "2018-04-04"
    assert stamp_date("21/3/2018") == "2018-03-21"
    assert stamp_date("31/4/18") is None and stamp_date("4/18") is None


def test_extract_stamps_from_a_mark_read_apart() -> None:
    mark = PageMark("received-stamp", (10, 300, 400, 150), "TRUNG TÂM CÔNG BÁO\nCV Số: 277\nĐẾN Ngày:\nChuyển: P.KT")
    readings = [FieldReading("received.number", "2770", 0.8, (100, 320, 200, 40), "277"),
                FieldReading("received.date", "04/4/18", 0.7, (100, 360, 200, 40), "")]
    text = HEADER + BODY
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.received is not None
    assert (record.received.number, record.received.date, record.received.notes) == ("2770", "2018-04-04", ["P.KT"])
    assert [task.assignees for task in record.tasks] == [["Sở Xây dựng"]]


def test_extract_stamps_from_text_another_ocr_made() -> None:
    text = HEADER + "CV\nĐẾN\nSố: 2352\nNgày: 21/4/18\nChuyển:\n" + BODY  # received after its date
    record = extract_record(text)
    assert record.received is not None and (record.received.number, record.received.date) == ("2352", "2018-04-21")
    assert extract_record(HEADER + BODY).received is None


def test_extract_stamps_number_line_of_the_header_is_not_a_stamp() -> None:
    assert extract_record(HEADER.replace("CHỈ THỊ", "CÔNG VĂN ĐẾN HẠN") + BODY).received is None


def test_extract_review_confidence_of_a_handwritten_number() -> None:
    text = HEADER + BODY
    readings = [FieldReading("number", "08", 0.9, (100, 100, 80, 40), "đê"),
                FieldReading("day", "03", 0.45, (900, 100, 60, 40), "Ø3")]
    record = extract_record(text, [_page(text, readings)])
    assert record.fields_confidence == {"document.number": 0.9, "document.date": 0.45}
    assert record.needs_review == ["document.date"]  # the day won less than REVIEW_BELOW of the votes


def test_extract_review_day_after_receipt_takes_the_next_reading() -> None:
    text = HEADER.replace("ngày 03", "ngày 08") + BODY
    readings = [FieldReading("day", "08", 0.6, (900, 100, 60, 40), "Ø3", (("08", 1.2), ("03", 0.8)))]
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố: 2770\nNgày: 04/4/18")
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.document.date == "2018-04-03"  # received on the 4th: the 8th is a misread
    assert record.document.date_parts is not None and record.document.date_parts.day == 3
    assert "document.date" in record.needs_review


def test_extract_review_no_plausible_day_leaves_it_null() -> None:
    text = HEADER.replace("ngày 03", "ngày 28") + BODY
    readings = [FieldReading("day", "28", 0.9, (900, 100, 60, 40), "", (("28", 1.5),))]
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố: 2770\nNgày: 04/4/18")
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.document.date is None
    assert record.document.date_parts is not None
    assert (record.document.date_parts.day, record.document.date_parts.month) == (None, 4)
    assert "document.date" in record.needs_review


def test_extract_review_stamp_fields_read_apart() -> None:
    text = HEADER + BODY
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố:\nNgày:")
    readings = [FieldReading("received.number", None, 0.0, (100, 320, 200, 40), "", (("43", 0.4), ("47", 0.4))),
                FieldReading("received.date", "04/4/18", 0.5, (100, 360, 200, 40), "")]
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.received is not None and (record.received.number, record.received.date) == (None, "2018-04-04")
    assert record.fields_confidence == {"received.date": 0.5}
    assert record.needs_review == ["received.number", "received.date"]  # unreadable; read with few votes


def test_extract_review_receipt_before_the_printed_date_is_a_misread() -> None:
    text = HEADER + BODY
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố:\nNgày:")
    readings = [FieldReading("received.number", "2770", 0.9, (100, 320, 200, 40), ""),
                FieldReading("received.date", "01/4/18", 0.9, (100, 360, 200, 40), "")]
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.document.date == "2018-04-03"
    assert record.received is not None and (record.received.number, record.received.date) == ("2770", None)
    assert record.needs_review == ["received.date"] and "received.date" not in record.fields_confidence


@pytest.mark.parametrize(("stamped", "kept"), [("12/4/18", "2018-04-12"), ("03/4/19", None), ("03/11/18", None)])
def test_extract_review_receipt_long_after_the_document_is_a_misread(stamped: str, kept: str | None) -> None:
    text = HEADER + BODY
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố:\nNgày:")
    readings = [FieldReading("received.number", "2770", 0.9, (100, 320, 200, 40), ""),
                FieldReading("received.date", stamped, 0.9, (100, 360, 200, 40), "")]
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.document.date == "2018-04-03"
    assert record.received is not None and (record.received.number, record.received.date) == ("2770", kept)
    assert ("received.date" in record.needs_review) == (kept is None)


def test_extract_review_receipt_long_after_a_month_read_apart_is_kept() -> None:
    # the month written by hand, read apart with few votes ("4" or 11): the stamp's date long after it may be the
    # true measure, not erased
    text = HEADER + BODY
    mark = PageMark("received-stamp", (10, 300, 400, 150), "CV ĐẾN\nSố:\nNgày:")
    readings = [FieldReading("received.number", "2770", 0.9, (100, 320, 200, 40), ""),
                FieldReading("received.date", "12/11/18", 0.9, (100, 360, 200, 40), ""),
                FieldReading("month", "4", 0.5, (900, 100, 60, 40), "", (("4", 1.0), ("11", 0.9)))]
    record = extract_record(text, [_page(text, readings, [mark])])
    assert record.received is not None and record.received.date == "2018-11-12"
    assert "received.date" not in record.needs_review
