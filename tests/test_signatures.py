"""Signatures: stamps (tests/cases/signatures_stamps.json), PDF dates, certificate subjects, merging dictionaries
with stamps, and the bound the signing time puts on the document date."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.signatures import (
    certificate_subject,
    check_document_date,
    cms_signing_time,
    is_person_name,
    local_date,
    merge_signatures,
    parse_stamp,
    pdf_date,
    signature_from_field,
)
from pipeline.types import DocumentHeader, Record, Signature, SignatureField

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import born_digital

CASES = json.loads((Path(__file__).parent / "cases" / "signatures_stamps.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["comment"][:40] for case in CASES])
def test_signatures_parse_stamp_cases(case: dict) -> None:
    stamp = parse_stamp(case["input"])
    expected = case["expected"]
    assert (None if stamp is None else stamp.__dict__) == expected, case["comment"]


@given(st.text())
def test_signatures_parse_stamp_never_raises(text: str) -> None:
    stamp = parse_stamp(text)
    assert stamp is None or stamp.time is not None


@pytest.mark.parametrize(("raw", "expected"), [
    ("D:20250108173049+07'00'", "2025-01-08T17:30:49+07:00"),
    ("D:20180321164100+07'00", "2018-03-21T16:41:00+07:00"),
    ("D:20241117160712Z", "2024-11-17T16:07:12+00:00"),
    ("D:20241117160712", "2024-11-17T16:07:12"),
    ("D:20241117160712-05'30'", "2024-11-17T16:07:12-05:30"),
    ("D:2024", None),
    ("D:20241399000000+07'00'", None),
    ("", None),
    ("yesterday", None),
])
def test_signatures_pdf_date(raw: str, expected: str | None) -> None:
    assert pdf_date(raw) == expected


@given(st.text())
def test_signatures_pdf_date_never_raises(text: str) -> None:
    value = pdf_date(text)
    assert value is None or dt.datetime.fromisoformat(value)


@pytest.mark.parametrize(("text", "person"), [
    ("Nguyễn Phước Bình", True), ("Phùng Tô Long", True), ("PHÙNG TÔ LONG", True), ("Ủy ban nhân dân tỉnh Quảng Ngãi", False),
    ("TRUNG TÂM CÔNG BÁO VÀ TIN HỌC", False), ("Trung tâm Công báo và Tin học", False), ("Sở Tư Pháp", False),
    ("UBND TỈNH QUẢNG NGÃI", False), ("An", False), (None, False),
])
def test_signatures_person_names(text: str | None, person: bool) -> None:
    assert is_person_name(text) is person


def _field(**values: object) -> SignatureField:
    base: dict[str, object] = {"field_name": "Signature1", "page": 0, "rect": None, "name": None, "time": None,
                               "reason": None, "location": None, "contact": None, "sub_filter": None, "contents": b""}
    return SignatureField(**{**base, **values})  # type: ignore[arg-type]


def test_signatures_certificate_gives_signer_organisation_email() -> None:
    when = dt.datetime(2025, 1, 8, 17, 30, 49, tzinfo=born_digital.LOCAL)
    blob = born_digital._cms_blob("Phùng Tô Long", "ỦY BAN NHÂN DÂN TỈNH QUẢNG NGÃI", "VĂN PHÒNG", "ptlong@quangngai.gov.vn",
                                  when).ljust(8192, b"\0")
    subject = certificate_subject(blob)
    assert subject is not None and subject.common_name == "Phùng Tô Long" and subject.unit == "VĂN PHÒNG"
    assert cms_signing_time(blob) is not None  # the builder stamps its own clock: not /M
    signature = signature_from_field(_field(contents=blob, time="D:20241115173007+07'00'"))
    assert (signature.signer, signature.organisation, signature.email) == (
        "Phùng Tô Long", "ỦY BAN NHÂN DÂN TỈNH QUẢNG NGÃI", "ptlong@quangngai.gov.vn")
    assert signature.time == "2024-11-15T17:30:07+07:00" and signature.verified is False  # /M wins over signingTime


def test_signatures_organisation_certificate_and_reason() -> None:
    when = dt.datetime(2025, 1, 9, 10, 9, 16, tzinfo=born_digital.LOCAL)
    blob = born_digital._cms_blob("Ủy ban nhân dân tỉnh Quảng Ngãi", "Tỉnh Quảng Ngãi", None, None, when)
    signature = signature_from_field(_field(contents=blob, time=None))
    assert signature.signer is None and signature.organisation == "Ủy ban nhân dân tỉnh Quảng Ngãi"
    assert signature.time == cms_signing_time(blob)  # without /M the CMS time is all there is
    reasoned = signature_from_field(_field(reason="TRUNG TÂM CÔNG BÁO VÀ TIN HỌC<ttcbth@quangngai.gov.vn> đã ký lên văn bản này!",
                                           time="D:20250109102111+07'00'"))
    assert (reasoned.organisation, reasoned.email) == ("TRUNG TÂM CÔNG BÁO VÀ TIN HỌC", "ttcbth@quangngai.gov.vn")


@pytest.mark.parametrize("contents", [b"", b"\0" * 64, b"\x30\x84\xff\xff\xff\xff", b"garbage" * 10])
def test_signatures_unreadable_contents_give_no_subject(contents: bytes) -> None:
    assert certificate_subject(contents) is None and cms_signing_time(contents) is None
    assert signature_from_field(_field(contents=contents, name="Nguyễn Văn An")).signer == "Nguyễn Văn An"


def test_signatures_merge_joins_a_stamp_to_its_dictionary_by_time_and_page() -> None:
    fields = [_field(name="Nguyễn Văn An", time="D:20250108173049+07'00'", page=1),
              _field(time="D:20250109102111+07'00'", page=0)]
    stamps = [Signature(organisation="TRUNG TÂM CÔNG BÁO VÀ TIN HỌC", email="ttcbth@quangngai.gov.vn",
                        time="2025-01-09T10:21:11+07:00", source="stamp", page=0),
              Signature(organisation="Sở Y tế", time="2025-01-10T08:00:00", source="stamp", page=0)]
    merged = merge_signatures(fields, stamps)
    assert [s.source for s in merged] == ["dictionary", "both", "stamp"]
    assert merged[1].organisation == "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC" and merged[1].email == "ttcbth@quangngai.gov.vn"
    assert merged[0].signer == "Nguyễn Văn An"


def _record(date: str | None, *times: str) -> Record:
    return Record(document=DocumentHeader(date=date), signatures=[Signature(time=t) for t in times])


def test_signatures_date_after_the_earliest_signing_day_is_rejected() -> None:
    record = _record("2025-01-18", "2025-01-09T10:21:11+07:00", "2025-01-08T17:30:49+07:00")
    warning = check_document_date(record)
    assert record.document.date is None and record.needs_review == ["document.date"]
    assert warning is not None and "2025-01-18" in warning and "2025-01-08" in warning


@pytest.mark.parametrize(("date", "times"), [
    ("2025-01-08", ("2025-01-08T17:30:49+07:00",)),  # signed the same day
    ("2025-01-06", ("2025-01-08T17:30:49+07:00",)),
    ("2025-01-08", ("2025-01-07T23:30:00+00:00",)),  # 06:30 on the 8th in Hà Nội
    ("2025-01-08", ()),  # nothing to compare with
    (None, ("2025-01-08T17:30:49+07:00",)),
])
def test_signatures_plausible_dates_are_kept(date: str | None, times: tuple[str, ...]) -> None:
    record = _record(date, *times)
    assert check_document_date(record) is None and record.document.date == date and record.needs_review == []


def test_signatures_local_date_of_a_time_without_offset() -> None:
    assert local_date("2025-01-26T11:12:09") == dt.date(2025, 1, 26)
    assert local_date("2025-01-25T20:00:00Z") == dt.date(2025, 1, 26)
    assert local_date("not a time") is None
