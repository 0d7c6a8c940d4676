"""Robustness of extraction: empty text, no header, garbage, huge text in linear time; schema and round trip."""

from __future__ import annotations

import json
import random
import time

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract import extract_record, record_schema
from pipeline.types import Record

_VALIDATOR = jsonschema.Draft202012Validator(record_schema())

_SAMPLE = (
    "UBND TỈNH LẠNG SƠN\nSố: 112/VPĐP-NTM\nV/v đẩy nhanh tiến độ\n\nLạng Sơn, ngày 15 tháng 4 năm 2020\n\n"
    "Kính gửi: UBND các huyện.\nCăn cứ Quyết định số 539/QĐ-UBND ngày 02/4/2020, đề nghị UBND các huyện:\n"
    "1. Rà soát tại xã Hòa Lạc, Nhật Tiến huyện Hữu Lũng; báo cáo trước ngày 30/4/2020.\n"
    "2. Sở Tài chính chủ trì bố trí kinh phí năm 2020.\n\nNơi nhận:\n- Như trên;\n- Lưu: VT.\n\nCHÁNH VĂN PHÒNG\nHoàng Văn Nam\n"
)


# What extraction must find in _SAMPLE, whatever debris surrounds it.
_HEADER = {"code": "112/VPĐP-NTM", "type": "CV", "issuer": "UBND TỈNH LẠNG SƠN", "place": "Lạng Sơn", "date": "2020-04-15",
           "subject": "đẩy nhanh tiến độ", "recipients": ["UBND các huyện"]}
_CLOSING = {"signer": ("CHÁNH VĂN PHÒNG", "Hoàng Văn Nam"), "distribution": ["Như trên", "Lưu: VT"]}
_BODY = {
    "references": [("539/QĐ-UBND", "2020-04-02")],
    "dates": [("date", "2020-04-15"), ("date", "2020-04-02"), ("deadline", "2020-04-30"), ("year", "2020")],
    "places": [("province", "Lạng Sơn", None), ("commune", "Hòa Lạc", "Hữu Lũng"), ("commune", "Nhật Tiến", "Hữu Lũng"),
               ("district", "Hữu Lũng", None)],
    "tasks": [("1", ["UBND các huyện"], "2020-04-30"), ("2", ["Sở Tài chính"], None)],
}
_DEGENERATE = ["", "   \n\n\f\f  ", "\x00\x01\x02", "Nội dung không có phần đầu.\nChỉ vài dòng.",
               "%%%% ### ///// ---- 12/ /- -/ số: ngày tháng năm quý", "1.\n2.\na)\n-\n+\nI.\nĐiều 1.",
               "Kính gửi:\nNơi nhận:\nTM.\nKT.\nPhụ lục"]


def _valid(record: Record) -> None:
    data = json.loads(json.dumps(record.to_dict(), ensure_ascii=False))
    _VALIDATOR.validate(data)


def _content(record: Record) -> dict:
    """The facts of a record, without text offsets (which move when text is added before)."""
    header = record.document
    return {
        **{name: getattr(header, name) for name in _HEADER},
        "signer": (header.signer.title, header.signer.name) if header.signer else None,
        "distribution": header.distribution,
        "references": [(r.code, r.date) for r in record.references],
        "dates": [(d.kind, d.value) for d in record.dates],
        "places": [(p.level, p.name, p.district) for p in record.places],
        "tasks": [(t.id, t.assignees, t.deadline) for t in record.tasks],
    }


@pytest.mark.parametrize("debris", _DEGENERATE)
def test_extract_robustness_degenerate_inputs(debris: str) -> None:
    """Debris alone gives a valid, empty record; before or after a dispatch it takes nothing away (after it,
    debris that opens a new closing block — "Nơi nhận:", "TM." — may replace the signer and distribution)."""
    alone = extract_record(debris)
    _valid(alone)
    assert alone.document.code is None and alone.document.signer is None
    assert alone.references == alone.dates == alone.places == alone.tasks == []
    before = extract_record(debris + "\n" + _SAMPLE)
    _valid(before)
    assert _content(before) == {**_HEADER, **_CLOSING, **_BODY}
    after = _content(extract_record(_SAMPLE + "\n" + debris))
    assert {k: v for k, v in after.items() if k not in _CLOSING} == {**_HEADER, **_BODY}


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_extract_robustness_garbage_gives_a_valid_record(text: str) -> None:
    """Any text gives a valid record; any text after a dispatch leaves its number, references and deadlines."""
    _valid(extract_record(text))
    record = extract_record(_SAMPLE + "\n" + text)
    _valid(record)
    assert record.document.code == _HEADER["code"]
    assert ("539/QĐ-UBND", "2020-04-02") in [(r.code, r.date) for r in record.references]
    assert ("deadline", "2020-04-30") in [(d.kind, d.value) for d in record.dates]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(_SAMPLE.splitlines(keepends=True)), max_size=40))
def test_extract_robustness_shuffled_lines(lines: list[str]) -> None:
    """Lines in any order give a valid record, and what a line says is still read from it."""
    record = extract_record("".join(lines))
    _valid(record)
    text = "".join(lines)
    assert ("539/QĐ-UBND" in [r.code for r in record.references]) == ("539/QĐ-UBND" in text)
    assert ("2020-04-30" in [d.value for d in record.dates]) == ("30/4/2020" in text)
    assert ("Nhật Tiến" in [p.name for p in record.places]) == ("Nhật Tiến" in text)


def test_extract_robustness_record_round_trip() -> None:
    record = extract_record(_SAMPLE)
    _valid(record)
    assert record.references[0].code == "539/QĐ-UBND"
    again = Record.from_dict(json.loads(json.dumps(record.to_dict(), ensure_ascii=False)))
    assert again.to_dict() == record.to_dict()


def test_extract_robustness_pages_used_when_text_is_empty() -> None:
    from pipeline.types import PageResult

    pages = [PageResult(0, 0, 0, 0.0, [], [], "", "Quyết định số 1/QĐ-UBND"),
             PageResult(1, 0, 0, 0.0, [], [], "", "ngày 02/4/2020")]
    record = extract_record("", pages)
    assert record.references[0].code == "1/QĐ-UBND"
    assert record.dates[0].span is not None and record.dates[0].span.page == 1


def _document_text(size: int) -> str:
    rng = random.Random(size)
    lines = _SAMPLE.splitlines()
    out: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(lines)
        out.append(line)
        total += len(line) + 1
    return "\n".join(out)[:size]


def test_extract_robustness_large_text_in_linear_time() -> None:
    # 4× the text may take at most ~6× the time (linear, with slack for noise), never quadratic (16×); the
    # 10 MB run itself is measured by `make bench-extract` (about 5× the larger size here)
    extract_record(_document_text(20_000))  # loads the tables once, outside the timings
    seconds = []
    for size in (500_000, 2_000_000):
        started = time.perf_counter()
        record = extract_record(_document_text(size))
        seconds.append(time.perf_counter() - started)
        assert record.references and record.tasks and record.places and record.dates
    small_seconds, large_seconds = seconds
    assert large_seconds < 6 * small_seconds + 2.0, (small_seconds, large_seconds)
