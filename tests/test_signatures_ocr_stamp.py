"""Tests of the signing stamp recognised in a page's OCR'd words (a scanned or photocopied e-signed page):
its lines found by their marks, taken out of the text and recorded as a signature that bounds no date."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes_run import FAKE_STAGES, write_fake_scan

from pipeline.extract import extract_record
from pipeline.ocr import words_to_text
from pipeline.run.options import PageSettings
from pipeline.run.worker import PageTask, run_page
from pipeline.signatures import OCR_STAMP, check_document_date, find_ocr_stamps
from pipeline.types import DocumentKind, OcrWord, Record, Signature


def _page(*lines: tuple[int, int, int, str]) -> list[OcrWord]:
    """Words of lines (left x, top y, letter height, text) as OCR gives them, one line number each."""
    words = []
    for number, (left, top, height, text) in enumerate(lines):
        x = left
        for token in text.split():
            words.append(OcrWord(token, 80.0, (x, top, int(0.55 * height * len(token)), height), 0, number))
            x += int(0.55 * height * len(token)) + height // 2
    return words


HEADER = [(420, 200, 60, "ỦY BAN NHÂN DÂN"), (1060, 205, 50, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
          (420, 265, 50, "TỈNH QUẢNG NGÃI"), (1290, 265, 50, "Độc lập - Tự do - Hạnh phúc"),
          (460, 390, 50, "Số: 46/TB-UBND"), (1290, 395, 50, "Quảng Ngãi, ngày 24 tháng 01 năm 2025")]
# The Trung tâm Công báo stamp printed above the header's right column, its e-mail misread as OCR reads a
# photocopy, the time's offset wrapped onto a line of its own
STAMP = [(1650, 20, 34, "TRUNG TÂM CÔNG BÁO"), (1650, 58, 34, "VÀ TIN HỌC"),
         (1650, 96, 34, "ttcbth@)quangngai.gov.vn"), (1650, 134, 34, "27.01.2025 07:10:01"), (1650, 172, 28, "+07:00")]


def test_signatures_ocr_stamp_lines_are_found_with_the_organisation_above_them() -> None:
    words = _page(*STAMP, *HEADER)
    ((stamp, indices),) = find_ocr_stamps(words)
    assert stamp is not None and stamp.time == "2025-01-27T07:10:01+07:00"
    assert stamp.organisation == "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC"
    assert words_to_text([w for k, w in enumerate(words) if k in indices]).split("\n") == [text for *_, text in STAMP]


def test_signatures_ocr_stamp_by_its_labels() -> None:
    labelled = [(1450, 20, 30, "Ký bởi: Ủy ban Nhân dân tỉnh Quảng Ngãi"), (1450, 56, 30, "Email: ubnd@quangngai.gov.vn"),
                (1450, 92, 30, "Cơ quan: Tỉnh Quảng Ngãi"), (1450, 128, 30, "Thời gian ký: 26/01/2025 11:12:09 +07:00")]
    ((stamp, indices),) = find_ocr_stamps(_page(*labelled, *HEADER))
    assert stamp is not None and stamp.time == "2025-01-26T11:12:09+07:00" and stamp.email == "ubnd@quangngai.gov.vn"
    assert len(indices) == sum(len(text.split()) for *_, text in labelled)


def test_signatures_ocr_stamp_needs_a_clock_beside_a_label_or_e_mail() -> None:
    contact = [(420, 470, 30, "Điện thoại: 0255 3822 000 Email: vpubnd@quangngai.gov.vn")]
    meeting = [(390, 900, 50, "Cuộc họp bắt đầu lúc 14:30 ngày 12/11/2024 tại trụ sở UBND tỉnh,"),
               (390, 970, 50, "theo Giấy mời số 18/GM-UBND ngày 08/11/2024.")]
    assert find_ocr_stamps(_page(*HEADER, *contact, *meeting)) == []


def test_signatures_ocr_stamp_whose_time_is_misread_is_left_in_the_text_with_a_warning(tmp_path) -> None:
    """A stamp that cannot be read may be the page's own text: its words stay, and the page says so."""
    misread = [*STAMP[:3], (1650, 134, 34, "xu 18.11202407:2514 -"), STAMP[4]]
    ((stamp, _indices),) = find_ocr_stamps(_page(*misread, *HEADER))
    assert stamp is None
    text = "\n".join(text for *_, text in misread) + "\n" + "\n".join(text for *_, text in HEADER)
    result = run_page(PageTask(str(write_fake_scan(tmp_path / "p.fake", [text])), 0, DocumentKind.IMAGE,
                               PageSettings(), FAKE_STAGES)).result
    assert result.raw_text.split() == text.split() and result.stamps == []
    assert any("stamp" in warning for warning in result.warnings)


# Lines of an invitation's body, one under the other as a page prints them: a meeting time, everyday labels,
# a contact e-mail, a scale, a clause's "2(b).", a web address and office hours.
BODY_CASES = [
    ["ỦY BAN NHÂN DÂN", "Số: 12/GM-UBND", "Kính gửi: Các sở, ban, ngành", "1. Thời gian: 14:00 ngày 15/3/2025",
     "2. Đơn vị: Sở Tài chính chủ trì", "3. Địa điểm: Hội trường UBND tỉnh."],
    ["Cơ quan: Sở Xây dựng", "Bản đồ tỷ lệ 1:2000 kèm theo", "Email: sxd@quangngai.gov.vn"],
    ["theo điểm a khoản 2(b). của Quy chế", "gửi về trước 16:30 ngày 20/3/2025", "Tổ chức: Văn phòng"],
    ["Trang thông tin: www.quangngai.gov.vn", "Tiếp dân từ 7:30 đến 11:00", "Đơn vị: Ban Tiếp công dân"],
    ["Email: vp@quangngai.gov.vn", "Điện thoại: 0255 - 700 123", "Thời gian: 7:30"],
    ["Liên hệ: Email: vp@quangngai.gov.vn", "Hạn gửi: 15/3/2025 16:30", "Người ký văn bản chịu trách nhiệm"],
]


@pytest.mark.parametrize("body", BODY_CASES)
def test_signatures_ocr_stamp_is_not_body_text_close_together(body: list[str], tmp_path) -> None:
    lines = [(420, 400 + 60 * number, 40, text) for number, text in enumerate(body)]
    assert find_ocr_stamps(_page(*lines)) == []
    text = "\n".join(body)
    result = run_page(PageTask(str(write_fake_scan(tmp_path / "p.fake", [text])), 0, DocumentKind.IMAGE,
                               PageSettings(), FAKE_STAGES)).result
    assert result.raw_text.split() == text.split() and result.stamps == []


def test_signatures_ocr_stamp_sharing_ocr_lines_with_the_header_takes_only_its_own_words() -> None:
    """OCR puts a stamp printed beside the header's left column on the header's lines: only its words go."""
    rows = [[(420, "ỦY BAN NHÂN DÂN")], [(420, "TỈNH QUẢNG NGÃI"), (1320, "Ký bởi: Ủy ban Nhân dân tỉnh")],
            [(1320, "Email: ubnd@quangngai.gov.vn")],
            [(420, "Số: 46/TB-UBND"), (1320, "Thời gian ký: 26/01/2025 11:12:09 +07:00")]]
    words = []
    for number, row in enumerate(rows):
        for left, text in row:
            words += [replace(word, line=number) for word in _page((left, 200 + 50 * number, 40, text))]
    ((stamp, indices),) = find_ocr_stamps(words)
    assert stamp is not None and stamp.time == "2025-01-26T11:12:09+07:00"
    kept = " ".join(w.text for k, w in enumerate(words) if k not in indices)
    assert kept == "ỦY BAN NHÂN DÂN TỈNH QUẢNG NGÃI Số: 46/TB-UBND"


def test_signatures_ocr_stamp_is_out_of_the_header_and_recorded(tmp_path) -> None:
    """Through the page stages: the stamp's lines leave the text, so the header is read from its first line,
    and the stamp is a signature of its own source."""
    text = "\n".join(text for *_, text in STAMP) + "\n" + "\n".join(text for *_, text in HEADER)
    path = write_fake_scan(tmp_path / "photocopy.fake", [text])
    task = PageTask(str(path), 0, DocumentKind.IMAGE, PageSettings(), FAKE_STAGES)
    result = run_page(task).result
    assert result.raw_text.startswith("ỦY BAN NHÂN DÂN")
    assert [(s.source, s.time) for s in result.stamps] == [(OCR_STAMP, "2025-01-27T07:10:01+07:00")]
    record = extract_record(result.raw_text)
    assert record.document.code == "46/TB-UBND"


def test_signatures_ocr_stamp_time_bounds_no_date() -> None:
    record = Record()
    record.document.date = "2025-01-24"
    record.signatures = [Signature(time="2025-01-21T07:10:01+07:00", source=OCR_STAMP)]
    assert check_document_date(record) is None and record.document.date == "2025-01-24"
    record.signatures = [Signature(time="2025-01-21T07:10:01+07:00", source="stamp")]
    assert check_document_date(record) is not None and record.document.date is None
