"""Tests of document-code parsing and references: JSON cases (OCR damage included) and Hypothesis."""

from __future__ import annotations

import time

import pytest
from extract_helpers import load_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract.references import extract_references, iter_codes, parse_code, read_number_digits
from pipeline.extract.text import DocumentText, normalize_text


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_references"))
def test_extract_references_cases(text: str, expected: list[dict]) -> None:
    found = extract_references(DocumentText.from_text(normalize_text(text)))
    assert [r.code for r in found] == [e["code"] for e in expected]
    for reference, wanted in zip(found, expected, strict=True):
        data = {**reference.__dict__, "count": reference.count}
        for key, value in wanted.items():
            assert data[key] == value, key


def test_extract_references_excludes_own_code() -> None:
    doc = DocumentText.from_text("Số: 45/KH-UBND\n(Kèm theo Kế hoạch số 45/KH-UBND) và Quyết định số 1/QĐ-UBND")
    assert [r.code for r in extract_references(doc, own_code="45/KH-UBND")] == ["1/QĐ-UBND"]


def test_extract_references_mentions_point_at_text() -> None:
    text = "Theo Quyết định số 539/QĐ-UBND, Quyết định số 539/QD-UBND."
    doc = DocumentText.from_text(text)
    (reference,) = extract_references(doc)
    assert [text[m.start : m.end] for m in reference.mentions] == ["539/QĐ-UBND", "539/QD-UBND"]


_STATE_TYPES = ["QĐ", "KH", "TB", "CT", "BC", "HD", "TTr", "NQ"]
_ISSUERS = ["UBND", "BTC", "SGDĐT", "VPĐP", "TTg", "BNV", "CP"]


@settings(max_examples=150, deadline=None)
@given(
    number=st.integers(min_value=1, max_value=99999),
    year=st.one_of(st.none(), st.integers(min_value=1990, max_value=2099)),
    doc_type=st.sampled_from(_STATE_TYPES),
    issuer=st.sampled_from(_ISSUERS),
    left=st.sampled_from(["", " ", "  "]),
    right=st.sampled_from(["", " ", "-\n", "\n"]),
    prefix=st.sampled_from(["số ", "Quyết định số ", "(", ""]),
    suffix=st.sampled_from(["", ";", ".", " ngày 02/4/2020", ", của UBND tỉnh"]),
)
def test_extract_references_state_codes_survive_spacing(number: int, year: int | None, doc_type: str, issuer: str,
                                                        left: str, right: str, prefix: str, suffix: str) -> None:
    dated = f"{year}/" if year else ""
    canonical = f"{number:02d}/{dated}{doc_type}-{issuer}"
    # spaces around the slash, a line break after the dash ("QĐ-⏎UBND") or after the slash
    separator = "-\n" if right == "-\n" else "-"
    slash = "/\n" if right == "\n" else f"{left}/{left}"
    written = f"{number:02d}{slash}{dated}{doc_type}{separator}{issuer}"
    found = parse_code(f"{prefix}{written}{suffix}")
    assert found is not None
    assert found.code == canonical


@settings(max_examples=100, deadline=None)
@given(number=st.integers(min_value=1, max_value=9999), doc_type=st.sampled_from(["NQ", "TB", "KL", "CT", "HD", "QĐi"]),
       issuer=st.sampled_from(["TW", "TU", "HU", "ĐU", "BTGTW"]))
def test_extract_references_party_codes(number: int, doc_type: str, issuer: str) -> None:
    found = parse_code(f"Nghị quyết số {number}-{doc_type}/{issuer} ngày 1/1/2020")
    assert found is not None and found.party
    assert found.code == f"{number}-{doc_type}/{issuer}"
    assert found.doc_type is not None and found.doc_type.abbr == doc_type


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_extract_references_never_crash_and_stay_in_bounds(garbage: str) -> None:
    """Any text: codes lie within it and look like codes; a code on a line of its own after the text is read
    whatever comes before it."""
    text = garbage + "\nQuyết định số 539/QĐ-UBND"
    codes = list(iter_codes(text))
    for code in codes:
        assert 0 <= code.start < code.end <= len(text)
        assert "/" in code.code or "-" in code.code
    assert codes, "the code after the text was not found"
    assert (codes[-1].code, codes[-1].end) == ("539/QĐ-UBND", len(text))


def test_extract_references_date_not_after_citing_year() -> None:
    doc = DocumentText.from_text("Nghị quyết số 50/NQ-CP ngày 17/4/2025 và Quyết định số 749/QĐ-TTg ngày 03/6/2020")
    assert [r.date for r in extract_references(doc, own_year=2022)] == [None, "2020-06-03"]
    assert [r.date for r in extract_references(doc)] == ["2025-04-17", "2020-06-03"]


def test_extract_references_code_year_confirms_a_later_date() -> None:
    # the citing document's year may be the misread one ("2016" for 2018): the code's year agrees with the date
    doc = DocumentText.from_text("Nghị định số 13/2018/NĐ-CP ngày 23/01/2018")
    assert [r.date for r in extract_references(doc, own_year=2016)] == ["2018-01-23"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="Sốsô :.\n/Il|!O0123456789QĐ-UBND ", max_size=40))
def test_read_number_digits_keeps_offsets(text: str) -> None:
    repaired = read_number_digits(text)
    assert len(repaired) == len(text)
    assert all(a == b or (a in "IlO|!" and b in "01") for a, b in zip(text, repaired, strict=True))


def test_read_number_digits_only_after_so_and_before_slash() -> None:
    assert read_number_digits("số I3/UB-TP") == "số 13/UB-TP"
    assert read_number_digits("số II/KH") == "số II/KH"  # no digit: a Roman numeral
    assert read_number_digits("Điều I3/UB") == "Điều I3/UB"  # no "số"
    assert read_number_digits("số I3 UB") == "số I3 UB"  # no slash: no code


def test_extract_record_passes_its_year_to_the_references() -> None:
    from pipeline.extract import extract_record

    text = ("ỦY BAN NHÂN DÂN\nTỈNH ĐẮK LẮK\nSố: 243/KH-UBND\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            "Độc lập - Tự do - Hạnh phúc\nĐắk Lắk, ngày 26 tháng 12 năm 2022\nKẾ HOẠCH\nChuyển đổi số năm 2023\n"
            "Căn cứ Nghị quyết số 50/NQ-CP ngày 17/4/2025 của Chính phủ;\n")
    record = extract_record(text)
    assert record.document.date == "2022-12-26"
    assert [(r.code, r.date) for r in record.references] == [("50/NQ-CP", None)]


def test_extract_references_damaged_date_read_within_the_citing_date() -> None:
    # a digit added to the year: of 2027, 2020 and 2070 only 2020 is not after the citing document
    doc = DocumentText.from_text("Thực hiện Nghị quyết số 42/NQ-CP ngày 09 tháng 4 năm 20270 của Chính phủ")
    assert [r.date for r in extract_references(doc, latest="2020-04-16")] == ["2020-04-09"]
    assert [r.date for r in extract_references(doc, latest="2075-01-01")] == [None]  # 2020, 2027, 2070
    assert [r.date for r in extract_references(doc)] == [None]  # no bound: never guessed
    # a day February does not have: 02, 12 and 22 are one digit away, only 02 before the citing date
    doc = DocumentText.from_text("Chỉ thị số 04/CT-UBND ngày 42/02/2018 của UBND tỉnh")
    assert [r.date for r in extract_references(doc, latest="2018-02-10")] == ["2018-02-02"]
    assert [r.date for r in extract_references(doc, latest="2018-04-03")] == [None]


def test_extract_references_date_as_read_is_not_repaired() -> None:
    # a real date after the bound is kept as read (or dropped in a later year), never moved a character to the one
    # reading within it (19 → 09)
    doc = DocumentText.from_text("Nghị quyết số 50/NQ-CP ngày 19/4/2022 của Chính phủ")
    assert [r.date for r in extract_references(doc, own_year=2022, latest="2022-04-09")] == ["2022-04-19"]
    doc = DocumentText.from_text("Nghị quyết số 50/NQ-CP ngày 19/4/2023 của Chính phủ")
    assert [r.date for r in extract_references(doc, own_year=2022, latest="2023-04-09")] == [None]


def test_extract_record_bounds_a_damaged_cited_date_by_its_own() -> None:
    from pipeline.extract import extract_record

    # of 2019 and 2021 (20219 less a digit) only 2019 is not after the citing document (today's date allows both)
    text = ("ỦY BAN NHÂN DÂN\nHUYỆN TĨNH GIA\nSố: 1113/UBND-LĐTBXH\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            "Độc lập - Tự do - Hạnh phúc\nTĩnh Gia, ngày 16 tháng 4 năm 2019\n"
            "Thực hiện Nghị quyết số 42/NQ-CP ngày 09 tháng 4 năm 20219 của Chính phủ;\n")
    assert [(r.code, r.date) for r in extract_record(text).references] == [("42/NQ-CP", "2019-04-09")]


def test_extract_record_without_its_date_repairs_no_cited_date() -> None:
    from pipeline.extract import extract_record

    # its own date unread, a damaged cited date has no bound: not read as the one reading before today (2000 of
    # 20800), which would make the record depend on the day it is made
    text = ("ỦY BAN NHÂN DÂN\nHUYỆN TĨNH GIA\nSố: 1113/UBND-LĐTBXH\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
            "Độc lập - Tự do - Hạnh phúc\n"
            "Thực hiện Nghị quyết số 42/NQ-CP ngày 09 tháng 4 năm 20800 của Chính phủ;\n")
    assert [(r.code, r.date) for r in extract_record(text).references] == [("42/NQ-CP", None)]


def test_extract_references_many_codes_in_linear_time() -> None:
    # a misread type is looked for only among the codes of its number: thousands of distinct codes (a register,
    # a long annex) take well under a second, where comparing every pair took half a minute
    doc = DocumentText.from_text("\n".join(f"Căn cứ Quyết định số {i}/QĐ-UBND ngày 1/2/2020;" for i in range(1, 3001)))
    start = time.perf_counter()
    assert len(extract_references(doc)) == 3000
    assert time.perf_counter() - start < 5
