"""Receiving-office marks on a copy: the incoming-dispatch stamp ("CV ĐẾN" / "ĐẾN", Số, Ngày, Chuyển) and its
routing note, read into `record.received`. They are archival metadata of the copy, never its text."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.extract.text import DocumentText
from pipeline.handwriting import stamp_date
from pipeline.types import RECEIVED_DATE, RECEIVED_NUMBER, FieldReading, PageResult, Received
from pipeline.vietnamese import fold

STAMP_LINES = 6  # how many lines around "ĐẾN" the stamp's own lines may be spread over in plain text
STAMP_SEARCH_LINES = 80  # stamps are put on the first page

# On folded text: the stamp's title, its labelled lines, and a date as clerks write it ("04/4/18").
# A stamp's title line, alone on its line and in capitals: "ĐẾN", "CV ĐẾN", "CÔNG VĂN ĐẾN" (the word "đến" of running
# text is lower case).
_DEN = re.compile(r"^(?:cv\s*|cong van\s*)?den$|^cv$")
_NUMBER = re.compile(r"(?:^|\s)s[o0]\s*[:.]?\s*(?P<value>\d{1,6})(?![\d/])")
_DATE = re.compile(r"(?:^|\s)ngay\s*[:.]?\s*(?P<value>\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*(?:\d{4}|\d{2}))(?!\d)")
_ROUTING = re.compile(r"(?:^|\s)chuyen\s*[:.]\s*(?P<value>.*)$")


def _notes(text: str) -> list[str]:
    """What follows "Chuyển:" on a stamp's lines, when anything legible does."""
    notes = []
    for line in text.splitlines():
        match = _ROUTING.search(fold(line))
        if match and sum(ch.isalpha() for ch in match["value"]) >= 3:
            notes.append(line[match.start("value") :].strip())
    return notes


def first_readings(page: PageResult) -> dict[str, FieldReading]:
    """A page's field readings by name, the first of each (the first stamp's when a page holds two)."""
    readings: dict[str, FieldReading] = {}
    for reading in page.field_readings:
        readings.setdefault(reading.name, reading)
    return readings


def _from_marks(pages: Sequence[PageResult]) -> Received | None:
    """The stamp the OCR stage found on a page and read apart (pipeline.ocr.read_marks)."""
    for number, page in enumerate(pages):
        stamps = [mark for mark in page.marks if mark.kind == "received-stamp"]
        if not stamps:
            continue
        readings = first_readings(page)
        received = Received(page=number)
        number_reading, date_reading = readings.get(RECEIVED_NUMBER), readings.get(RECEIVED_DATE)
        if number_reading is not None and number_reading.value:
            received.number = number_reading.value
        if date_reading is not None and date_reading.value:
            received.date = stamp_date(date_reading.value)
        text = "\n".join(mark.text for mark in stamps)
        if number_reading is None:  # read with the stamp's words only; a reading that failed is not redone here
            found = _NUMBER.search(fold(text))
            received.number = found["value"] if found else None
        if date_reading is None:
            found = _DATE.search(fold(text))
            received.date = stamp_date(found["value"]) if found else None
        received.notes = _notes(text)
        return received
    return None


def _from_text(doc: DocumentText) -> Received | None:
    """A stamp read with the page's text by another OCR ("CV" / "ĐẾN" / "Số: 2770" / "Ngày: 04/4/18"): its number
    and date from the labelled lines near its title."""
    lines = doc.lines[:STAMP_SEARCH_LINES]
    for k, line in enumerate(lines):
        if not (line.text.isupper() and _DEN.search(doc.folded[line.start : line.end].strip(" .:"))):
            continue
        near = lines[max(0, k - STAMP_LINES) : k + STAMP_LINES + 1]
        number = date = None
        for other in near:
            folded = doc.folded[other.start : other.end]
            if number is None and (found := _NUMBER.search(folded)):
                number = found["value"]
            if date is None and (found := _DATE.search(folded)):
                date = stamp_date(found["value"])
        if number or date:
            return Received(number=number, date=date, notes=_notes("\n".join(o.text for o in near)), page=line.page)
    return None


def extract_received(doc: DocumentText, pages: Sequence[PageResult] | None = None) -> Received | None:
    """The receiving office's stamp and notes: as the OCR stage read them apart, else from the text."""
    return _from_marks(pages or []) or _from_text(doc)
