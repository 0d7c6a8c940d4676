"""Tests of the signer's name taken from its place (the last line) when the signature block is unreadable."""

from __future__ import annotations

import pytest

from pipeline.extract import extract_record

_HEAD = ("ỦY BAN NHÂN DÂN\nHUYỆN TĨNH GIA\nSố: 1113/UBND-LĐTBXH\nV/v tổng hợp danh sách đối tượng\n"
         "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\nTĩnh Gia, ngày 16 tháng 4 năm 2020\n"
         "Kính gửi: Chủ tịch UBND các xã, thị trấn.\n"
         "Yêu cầu Ủy ban nhân dân các xã nghiêm túc thực hiện./.\n")
# a seal over the titles and "Nơi nhận" misread: the block's lines are specks, the name under them is legible
_DAMAGED = "Nơi Tỵ\n- Như trên;\n- Lưu: VT.\n\nNN, J1U tịch\nc3 MNL tịch\nlộ\nót +\n"


def test_extract_header_signer_by_position_under_a_damaged_block() -> None:
    record = extract_record(_HEAD + _DAMAGED + "Hỗ Đình Tùng")
    assert record.document.signer is not None
    assert record.document.signer.name == "Hồ Đình Tùng"  # the family name read through the name model
    assert "document.signer" in record.needs_review
    assert record.fields_confidence["document.signer"] < 1


def test_extract_header_signer_by_position_not_when_the_block_is_read() -> None:
    record = extract_record(_HEAD + "Nơi nhận:\n- Như trên;\n- Lưu: VT.\nKT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\nHồ Đình Tùng")
    assert record.document.signer is not None
    assert (record.document.signer.title, record.document.signer.name) == ("PHÓ CHỦ TỊCH", "Hồ Đình Tùng")
    assert "document.signer" not in record.needs_review
    assert "document.signer" not in record.fields_confidence


@pytest.mark.parametrize("last", [
    "ót +",  # no name line at all
    "Lưu: VT.",
    "Thanh Hóa Quảng Ngãi",  # capitalised words, but no family name first
    "Sở Tài Chính",
])
def test_extract_header_signer_by_position_needs_a_name_with_a_family_name(last: str) -> None:
    record = extract_record(_HEAD + _DAMAGED + last)
    assert record.document.signer is None
    assert "document.signer" not in record.needs_review
