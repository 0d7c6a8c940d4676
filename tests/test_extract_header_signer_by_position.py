"""Tests of the signer's name taken from its place (the last line) when the signature block is unreadable."""

from __future__ import annotations

import pytest

from pipeline.extract import extract_record
from pipeline.types import OcrWord, PageResult, Record

_HEAD = ("ỦY BAN NHÂN DÂN\nHUYỆN TĨNH GIA\nSố: 1113/UBND-LĐTBXH\nV/v tổng hợp danh sách đối tượng\n"
         "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\nTĩnh Gia, ngày 16 tháng 4 năm 2020\n"
         "Kính gửi: Chủ tịch UBND các xã, thị trấn.\n"
         "Yêu cầu Ủy ban nhân dân các xã nghiêm túc thực hiện./.\n")
# a seal over the titles and "Nơi nhận" misread: the block's lines are specks, the name under them is legible
_DAMAGED = "Nơi Tỵ\n- Như trên;\n- Lưu: VT.\n\nNN, J1U tịch\nc3 MNL tịch\nlộ\nót +\n"
WIDTH, LEFT, SIGNATURE_LEFT, CHAR = 2480, 350, 1500, 22  # A4 at 300 dpi: the text column, the signature block


def _scanned(text: str) -> PageResult:
    """A scanned page of `text`: every line at the column's left but the last, in the signature block's column."""
    lines = text.split("\n")
    words: list[OcrWord] = []
    for k, line in enumerate(lines):
        x = SIGNATURE_LEFT if k == len(lines) - 1 else LEFT
        for token in line.split():
            words.append(OcrWord(token, 90.0, (x, 200 + 70 * k, CHAR * len(token), 40), 0, k))
            x += CHAR * (len(token) + 1)
    return PageResult(0, WIDTH, 3508, 300.0, [], words, text, text)


def _record_of_scan(text: str) -> Record:
    return extract_record(text, [_scanned(text)])


def test_extract_header_signer_by_position_under_a_damaged_block() -> None:
    record = _record_of_scan(_HEAD + _DAMAGED + "Hỗ Đình Tùng")
    assert record.document.signer is not None
    assert record.document.signer.name == "Hồ Đình Tùng"  # the family name read through the name model
    assert "document.signer" in record.needs_review
    assert record.fields_confidence["document.signer"] < 1


def test_extract_header_signer_by_position_not_when_the_block_is_read() -> None:
    record = _record_of_scan(_HEAD + "Nơi nhận:\n- Như trên;\n- Lưu: VT.\nKT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\nHồ Đình Tùng")
    assert record.document.signer is not None
    assert (record.document.signer.title, record.document.signer.name) == ("PHÓ CHỦ TỊCH", "Hồ Đình Tùng")
    assert "document.signer" not in record.needs_review
    assert "document.signer" not in record.fields_confidence


def test_extract_header_signer_by_position_a_name_an_area_shares() -> None:
    # a district of Cà Mau named after a person: the middle name Văn shapes it as a person's name only
    record = _record_of_scan(_HEAD + _DAMAGED + "Trần Văn Thời")
    assert record.document.signer is not None
    assert record.document.signer.name == "Trần Văn Thời"
    assert "document.signer" in record.needs_review


def test_extract_header_signer_under_the_title_whatever_the_gazetteer_holds() -> None:
    # the name's place after the block's title decides: "Hà Tĩnh" is a person's name there (Hà, a family name)
    record = _record_of_scan(_HEAD + "Nơi nhận:\n- Như trên;\n- Lưu: VT.\nKT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\nHà Tĩnh")
    assert record.document.signer is not None
    assert (record.document.signer.title, record.document.signer.name) == ("PHÓ CHỦ TỊCH", "Hà Tĩnh")


@pytest.mark.parametrize("last", [
    "ót +",  # no name line at all
    "Lưu: VT.",
    "Thanh Hóa Quảng Ngãi",  # capitalised words, but no family name first
    "Sở Tài Chính",
    "Hà Tĩnh",  # a province's name: its first word is a family name too
    "Hồ Chí Minh",
    "Lê Chân",  # a district's name, family name first, no middle name
    "- Trần Thị Bình",  # a list's last item, its bullet as typed
])
def test_extract_header_signer_by_position_needs_a_name_with_a_family_name(last: str) -> None:
    record = _record_of_scan(_HEAD + _DAMAGED + last)
    assert record.document.signer is None
    assert "document.signer" not in record.needs_review


@pytest.mark.parametrize("end", [
    _DAMAGED + "Hồ Đình Tùng",
    "Danh sách gồm các ông, bà có tên sau đây:\n- Nguyễn Văn An\n- Trần Thị Bình",
    "Đề nghị gửi về Sở Nội vụ tỉnh\nHà Tĩnh",
])
def test_extract_header_signer_by_position_never_from_text_alone(end: str) -> None:
    # without word boxes neither the column nor a list's item or a place's name is told from a signer's name
    assert extract_record(_HEAD + end).document.signer is None
