"""Tests of date, period and deadline recognition: JSON cases and Hypothesis over real calendar dates."""

from __future__ import annotations

import datetime as dt

import pytest
from extract_helpers import load_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract.dates import iter_dates, parse_date, read_digits
from pipeline.extract.text import DocumentText


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_dates"))
def test_extract_dates_cases(text: str, expected: list[list[str]]) -> None:
    found = iter_dates(DocumentText.from_text(text), default_year=2020)
    assert [[d.kind, d.value, d.text] for d in found] == expected


def test_extract_dates_bounds_of_periods() -> None:
    (quarter,) = iter_dates(DocumentText.from_text("quý IV/2020"))
    assert (quarter.start, quarter.end) == ("2020-10-01", "2020-12-31")
    (month,) = iter_dates(DocumentText.from_text("tháng 2/2024"))
    assert (month.start, month.end) == ("2024-02-01", "2024-02-29")


def test_extract_dates_day_month_without_any_year_has_no_value() -> None:
    (date,) = iter_dates(DocumentText.from_text("trước ngày 25/8"))
    assert date.kind == "deadline" and date.value is None


def test_extract_dates_skip_excluded_ranges() -> None:
    text = "ngày 02/4/2020 và 15/4/2020"
    found = iter_dates(DocumentText.from_text(text), exclude=[(0, 14)])
    assert [d.text for d in found] == ["15/4/2020"]


_DATES = st.dates(min_value=dt.date(1945, 1, 1), max_value=dt.date(2099, 12, 31))


@settings(max_examples=300, deadline=None)
@given(date=_DATES, style=st.integers(min_value=0, max_value=3), pad=st.booleans())
def test_extract_dates_parse_every_real_date(date: dt.date, style: int, pad: bool) -> None:
    day = f"{date.day:02d}" if pad else str(date.day)
    month = f"{date.month:02d}" if pad else str(date.month)
    text = [f"ngày {day}/{month}/{date.year}", f"ngày {day} tháng {month} năm {date.year}",
            f"Lạng Sơn, ngày {day} tháng {month} năm {date.year}", f"trước ngày {day}-{month}-{date.year}"][style]
    assert parse_date(text) == date.isoformat()
    (mention,) = iter_dates(DocumentText.from_text(text))
    assert mention.value == date.isoformat()
    assert mention.kind == ("deadline" if style == 3 else "date")


@settings(max_examples=200, deadline=None)
@given(day=st.integers(min_value=0, max_value=99), month=st.integers(min_value=0, max_value=99),
       year=st.integers(min_value=1900, max_value=2099))
def test_extract_dates_reject_impossible_dates(day: int, month: int, year: int) -> None:
    try:
        expected = dt.date(year, month, day).isoformat()
    except ValueError:
        expected = None
    assert parse_date(f"ngày {day}/{month}/{year}") == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_extract_dates_never_crash(garbage: str) -> None:
    """Any text: every mention's span is its text; a date on a line of its own after the text is read whatever
    comes before it."""
    text = garbage + "\nngày 15/4/2020"
    doc = DocumentText.from_text(text)
    mentions = list(iter_dates(doc, default_year=2020))
    for mention in mentions:
        assert mention.span is not None
        assert mention.text == doc.text[mention.span.start : mention.span.end]
    assert mentions, "the date after the text was not found"
    last = mentions[-1]
    assert last.value == "2020-04-15" and last.span is not None and last.span.end == len(doc.text)


@pytest.mark.parametrize(("text", "expected"), [
    ("Quảng Ngãi, ngày 2O tháng O1 năm 2O18", "2018-01-20"),
    ("ngày I8/O2/2Ol9", "2019-02-18"),
    ("ngày !5 tháng 7 năm 2020", "2020-07-15"),
    ("ngày Ia tháng 9 năm 1986", None),  # "a" is no digit's look-alike: never guessed
    ("ngày lO tháng O năm 2020", None),  # "lO" and "O" frame as 10 and 0: no month 0
    ("ngày I§ tháng O1 năm 1999", "1999-01-18"),  # a day of look-alikes only, framed by ngày … tháng
    ("ngày 5 tháng I§ năm 1999", None),  # a month of 18
    ("số I§ năm 1999", None),  # no long date's words around it
])
def test_parse_date_reads_ocr_letters_for_digits(text: str, expected: str | None) -> None:
    assert parse_date(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="il|!o§0123456789 ngaythm/", max_size=40))
def test_read_digits_keeps_offsets(folded: str) -> None:
    read = read_digits(folded)
    assert len(read) == len(folded)
    assert all(a == b or (a in "il|!o§" and b in "018") for a, b in zip(folded, read, strict=True))
