"""Dates, months, quarters, years, periods and deadlines in Vietnamese text, with ISO values."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence

from pipeline.extract.text import DocumentText
from pipeline.types import DateMention
from pipeline.vietnamese import digit_letters, fold

MIN_YEAR, MAX_YEAR = 1900, 2099

_B = r"(?<![\w])"  # start of a word
_Y = r"(?:19|20)\d\d(?!\d)"
_D = r"\d{1,2}(?!\d)"
_ROMAN_QUARTER = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_QUARTER_OCR = str.maketrans({"l": "i", "t": "i", "|": "i", "1": "i"})
_DASH = r"\s*[-–—]\s*"
# "tháng" between a day and a month, with a vowel OCR misread ("thúng", "thẳng"): the frame "ngày D … M năm Y"
# is specific enough
_THANG = r"th[a-z]ng"
# Words after which a date is a deadline (matched on folded text).
_DEADLINE_PREFIX = (
    r"truoc|cham nhat(?: la)?(?: vao)?|han chot(?: la)?|han cuoi(?: cung)?(?: la)?|khong qua|khong muon hon|"
    r"den het"
)
# A line label before the date that makes it a deadline ("Thời gian hoàn thành: 30/6/2020").
_DEADLINE_LABEL = re.compile(
    r"(?:thoi gian hoan thanh|thoi han(?: hoan thanh)?|han hoan thanh|thoi han nop|han nop(?: bao cao)?|"
    r"thoi gian nop(?: bao cao)?|han chot|(?:hoan thanh|xong)(?: trong)?)\s*[:\-]?\s*$"
)

_PATTERN = re.compile(
    # "trước 17 giờ ngày 06/9/2024": a time of day may sit between the deadline word and the date
    _B + rf"(?P<pre>(?:{_DEADLINE_PREFIX})\s*(?:\d{{1,2}}\s*(?:gio|h)(?:\s*\d{{1,2}}(?:\s*phut)?)?\s*,?\s*)?)?(?:"
    # ngày 15 tháng 4 năm 2020
    rf"(?P<long>ngay\s*(?P<d1>{_D})\s*,?\s*{_THANG}\s*(?P<m1>{_D})\s*,?\s*nam\s*(?P<y1>{_Y}))"
    # (ngày) 15/4/2020, 15-4-2020, 15.4.2020
    rf"|(?P<num>(?:ngay\s*)?(?P<d2>{_D})\s?[/.\-]\s?(?P<m2>{_D})\s?[/.\-]\s?(?P<y2>{_Y}))"
    # ngày 25/8 (year taken from the document)
    rf"|(?P<dm>ngay\s*(?P<d3>{_D})\s*(?:/|thang\s*)(?P<m3>{_D})(?![/.\-]?\s*\d)(?!\s*,?\s*nam\s*\d))"
    # 6 tháng đầu năm 2020
    rf"|(?P<half>(?:06|6)\s*thang\s*(?P<hw>dau|cuoi)\s*nam\s*(?P<y4>{_Y}))"
    # quý II/2020, quý 2 năm 2020
    # (with OCR's readings of the numeral: "Quý IH/2021", "Quý TV/2021")
    rf"|(?P<quarter>quy\s*(?P<q>[ivlth1|]{{1,3}}|[1-4])(?![\w])\s*(?:/|nam|-)\s*(?P<y5>{_Y}))"
    # tháng 4/2020, tháng 04 năm 2020
    rf"|(?P<month>thang\s*(?P<m6>{_D})\s*(?:/|nam|-)\s*(?P<y6>{_Y}))"
    # giai đoạn 2016-2020, năm học 2019 - 2020, từ năm 2016 đến năm 2020
    rf"|(?P<period>(?:giai doan|thoi ky|nhiem ky|nam hoc|nien khoa|nien do|cac nam|nam)\s*(?P<y7>{_Y})"
    rf"{_DASH}(?P<z7>{_Y})|tu nam\s*(?P<y8>{_Y})\s*den(?: het)?(?: nam)?\s*(?P<z8>{_Y}))"
    # năm 2020
    rf"|(?P<year>nam\s*(?P<y9>{_Y})(?!\s*[-–—/]\s*\d))"
    r")"
)


def valid_date(year: int | None, month: int | None, day: int | None) -> dt.date | None:
    """The date of these parts, or None where one is missing, the day is not in its month or the year is not a
    year of the archive's documents (MIN_YEAR to MAX_YEAR)."""
    if year is None or month is None or day is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_bounds(year: int, first: int, last: int) -> tuple[str, str]:
    return dt.date(year, first, 1).isoformat(), dt.date(year, last, calendar.monthrange(year, last)[1]).isoformat()


def _value(match: re.Match[str], default_year: int | None) -> tuple[str, str | None, str | None, str | None] | None:
    """(kind, value, start, end) of one match, or None when the numbers are not a real date."""
    g = match.group
    if g("long") or g("num"):
        day, month, year = (g("d1"), g("m1"), g("y1")) if g("long") else (g("d2"), g("m2"), g("y2"))
        date = valid_date(int(year), int(month), int(day))
        if date is None:
            return None
        return "date", date.isoformat(), date.isoformat(), date.isoformat()
    if g("dm"):
        if default_year is None:
            return ("date", None, None, None) if 1 <= int(g("m3")) <= 12 and 1 <= int(g("d3")) <= 31 else None
        date = valid_date(default_year, int(g("m3")), int(g("d3")))
        if date is None:
            return None
        return "date", date.isoformat(), date.isoformat(), date.isoformat()
    if g("half"):
        year = int(g("y4"))
        first, last = (1, 6) if g("hw") == "dau" else (7, 12)
        start, end = _month_bounds(year, first, last)
        return "period", f"{year}-H{1 if first == 1 else 2}", start, end
    if g("quarter"):
        numeral = g("q") if g("q").isdigit() else g("q").translate(_QUARTER_OCR).replace("h", "ii")
        if numeral not in _ROMAN_QUARTER:
            return None
        year, quarter = int(g("y5")), _ROMAN_QUARTER[numeral]
        start, end = _month_bounds(year, 3 * quarter - 2, 3 * quarter)
        return "quarter", f"{year}-Q{quarter}", start, end
    if g("month"):
        year, month = int(g("y6")), int(g("m6"))
        if not 1 <= month <= 12:
            return None
        start, end = _month_bounds(year, month, month)
        return "month", f"{year}-{month:02d}", start, end
    if g("period"):
        first, last = (int(g("y7")), int(g("z7"))) if g("y7") else (int(g("y8")), int(g("z8")))
        if not 0 < last - first <= 50:
            return None
        return "period", f"{first}/{last}", f"{first}-01-01", f"{last}-12-31"
    year = int(g("y9"))
    return "year", str(year), f"{year}-01-01", f"{year}-12-31"


def _is_deadline(folded: str, match: re.Match[str]) -> bool:
    if match.group("pre"):
        return True
    line_start = folded.rfind("\n", 0, match.start()) + 1
    return bool(_DEADLINE_LABEL.search(folded, max(line_start, match.start() - 60), match.start()))


def _looks_like_nam(text: str, match: re.Match[str]) -> bool:
    """'năm' folds to 'nam' like the capitalised 'Nam' of 'Việt Nam 2045': refuse the latter."""
    start = match.start("year")
    return text[start : start + 3] != "Nam"


def iter_dates(doc: DocumentText, *, default_year: int | None = None,
               exclude: Sequence[tuple[int, int]] = ()) -> list[DateMention]:
    """Every date-like expression of the document, leftmost-longest, outside the `exclude` ranges."""
    mentions: list[DateMention] = []
    excluded = sorted(exclude)
    k = 0
    for match in _PATTERN.finditer(doc.folded):
        start, end = match.span()
        while k < len(excluded) and excluded[k][1] <= start:
            k += 1
        if k < len(excluded) and excluded[k][0] < end:
            continue
        if match.group("year") and not _looks_like_nam(doc.text, match):
            continue
        parsed = _value(match, default_year)
        if parsed is None:
            continue
        kind, value, first, last = parsed
        if _is_deadline(doc.folded, match):
            kind = "deadline"
        span = doc.span(start, end)
        mentions.append(DateMention(span.text, kind, value, first, last, span))
    return mentions


_DATE_AT = re.compile(
    rf"(?:ngay\s*(?P<d1>{_D})\s*,?\s*{_THANG}\s*(?P<m1>{_D})\s*,?\s*nam\s*(?P<y1>{_Y}))"
    rf"|(?:(?:ngay\s*)?(?P<d2>{_D})\s?[/.\-]\s?(?P<m2>{_D})\s?[/.\-]\s?(?P<y2>{_Y}))"
)


def parse_date_at(folded: str, position: int) -> tuple[str, int] | None:
    """An explicit date starting exactly at `position` of folded text: (ISO date, end offset)."""
    match = _DATE_AT.match(folded, position)
    if match is None:
        return None
    day, month, year = ((match.group("d1"), match.group("m1"), match.group("y1")) if match.group("d1")
                        else (match.group("d2"), match.group("m2"), match.group("y2")))
    date = valid_date(int(year), int(month), int(day))
    return (date.isoformat(), match.end()) if date else None


# OCR's letters for digits (folded: vietnamese.OCR_DIGIT_LETTERS), read in a token of digits and such letters with
# at least one real digit ("ngày I8 tháng O1 năm 2Ol8"), or with none where a long date's words frame the token as
# its day or month ("ngày I§ tháng O1 năm 1999"); a date pattern must still match around them.
_LETTER_DIGITS = str.maketrans(digit_letters(folded=True))
_LETTERS = re.escape("".join(digit_letters(folded=True)))
_DIGITS_TOKEN = re.compile(rf"(?<![a-z])[0-9{_LETTERS}]*[0-9][0-9{_LETTERS}]*(?![a-z])")
_FRAMED_DIGITS = re.compile(rf"(?<=ngay )[{_LETTERS}]{{1,2}}(?= th[a-z]ng )|(?<=th[a-z]ng )[{_LETTERS}]{{1,2}}(?= nam )")


def read_digits(folded: str) -> str:
    """Folded text with OCR's letters for digits read as digits in tokens that hold a digit, or that stand as a
    long date's day or month; one character for one."""
    def digits(match: re.Match[str]) -> str:
        return match.group(0).translate(_LETTER_DIGITS)

    return _FRAMED_DIGITS.sub(digits, _DIGITS_TOKEN.sub(digits, folded))


def parse_date(text: str) -> str | None:
    """The first explicit date in `text` ("Lạng Sơn, ngày 15 tháng 4 năm 2020" → "2020-04-15"), also through
    OCR's letters for digits ("ngày 2O tháng O1 năm 2018") when the text as read holds none."""
    folded = fold(text)
    for candidate in (folded, read_digits(folded)):
        for match in _DATE_AT.finditer(candidate):
            parsed = parse_date_at(candidate, match.start())
            if parsed:
                return parsed[0]
    return None
