"""Fields read apart from the page's text (a handwritten number, day or month, a receiving stamp's number and date):
their confidences, the fields a person must check, and the check of the document's date against the other dates its
copy bears."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.defaults import REVIEW_BELOW
from pipeline.extract.dates import valid_date
from pipeline.extract.stamps import first_readings
from pipeline.types import (
    RECEIVED_DATE,
    RECEIVED_NUMBER,
    DocumentHeader,
    FieldReading,
    PageResult,
    Received,
    Reference,
)

# A copy is stamped on arrival, days after it was signed (a dispatch is sent out the day it is signed or the next
# working day); a date of receipt more than this many days after the document's own is a misread of the stamp.
RECEIPT_WITHIN_DAYS = 183
NUMBER, DATE, SIGNER = "document.number", "document.date", "document.signer"
# The confidence of a signer's name taken from its place alone (the last line), its signature block unreadable.
SIGNER_BY_POSITION = 0.5


@dataclass
class Review:
    confidence: dict[str, float] = field(default_factory=dict)
    needs_review: list[str] = field(default_factory=list)

    def flag(self, path: str) -> None:
        if path not in self.needs_review:
            self.needs_review.append(path)


def _header_readings(pages: Sequence[PageResult]) -> dict[str, FieldReading]:
    """The number, day and month readings of the first page that has any (the header's page)."""
    for page in pages:
        readings = {r.name: r for r in page.field_readings if r.name in ("number", "day", "month")}
        if readings:
            return readings
    return {}


def _bounds(received: Received | None, references: Sequence[Reference]) -> tuple[str | None, str | None]:
    """(earliest, latest) the document's date can be: not before a document it cites (dated right after the
    citation), not after its copy was received."""
    cited = [reference.date for reference in references if reference.date]
    return (max(cited) if cited else None), (received.date if received else None)


def _within(date: str, bounds: tuple[str | None, str | None]) -> bool:
    earliest, latest = bounds
    return (earliest is None or date >= earliest) and (latest is None or date <= latest)


def _days_between(earlier: str, later: str) -> int:
    return (dt.date.fromisoformat(later) - dt.date.fromisoformat(earlier)).days


def _review_received(received: Received | None, pages: Sequence[PageResult], header: DocumentHeader,
                     review: Review) -> None:
    """The stamp's number and date read apart: their confidences, and for review one unreadable (left null), one
    read with few votes, or a date of receipt before the document's own printed date or long after its date printed
    whole (then the stamp's is the misread: it is set to null)."""
    if received is None:
        return
    readings = first_readings(pages[received.page]) if received.page is not None and received.page < len(pages) else {}
    for name, value in ((RECEIVED_NUMBER, received.number), (RECEIVED_DATE, received.date)):
        reading = readings.get(name)
        if reading is None:
            continue
        if value is None:
            review.flag(name)
        else:
            review.confidence[name] = reading.confidence
            if reading.confidence < REVIEW_BELOW:
                review.flag(name)
    if received.date is None or header.date is None:
        return
    apart = _header_readings(pages)
    printed = "day" not in apart  # a day read apart is checked against the stamp's date instead
    # long after the document's date, only where its day and month are printed: a month read apart may be the
    # misread one ("4" for 11), and the stamp's date the true measure
    long_after = not apart.keys() & {"day", "month"} and (
        _days_between(header.date, received.date) > RECEIPT_WITHIN_DAYS)
    if (printed and received.date < header.date) or long_after:
        received.date = None
        review.confidence.pop(RECEIVED_DATE, None)
        review.flag(RECEIVED_DATE)


def review_fields(header: DocumentHeader, pages: Sequence[PageResult], received: Received | None,
                  references: Sequence[Reference], *, signer_by_position: bool = False) -> Review:
    """Confidences of the header's and the receiving stamp's fields read apart, and the fields to review: a number
    or date part that was unreadable (left null, never guessed), one read with few votes, a date outside what
    the copy's other dates allow — then the best-voted reading of the day within those bounds is taken, or none —
    and a signer's name known by its place alone."""
    review = Review()
    if signer_by_position:
        review.confidence[SIGNER] = SIGNER_BY_POSITION
        review.flag(SIGNER)
    _review_received(received, pages, header, review)
    readings = _header_readings(pages)
    number = readings.get("number")
    if number is not None:
        if number.value is None and header.number is None:
            review.flag(NUMBER)
        elif number.value is not None and header.number == number.value:
            review.confidence[NUMBER] = number.confidence
            if number.confidence < REVIEW_BELOW:
                review.flag(NUMBER)
    parts = header.date_parts
    date_readings = [readings[name] for name in ("day", "month") if name in readings]
    if parts is None or not date_readings:
        return review
    if any(reading.value is None for reading in date_readings):
        review.flag(DATE)
    day = readings.get("day")
    bounds = _bounds(received, references)
    if header.date is not None and not _within(header.date, bounds) and day is not None and day.value is not None:
        header.date, parts.day = None, None
        for text, votes in day.candidates:
            date = valid_date(parts.year, parts.month, int(text)) if text.isdigit() else None
            iso = date.isoformat() if date else None
            if iso is not None and _within(iso, bounds):
                header.date, parts.day = iso, int(text)
                review.confidence[DATE] = round(votes / max(1e-9, sum(v for _, v in day.candidates)), 3)
                break
        review.flag(DATE)
        return review
    used = [r for r in date_readings if r.value is not None and header.date is not None]
    if used:
        review.confidence[DATE] = min(r.confidence for r in used)
        if review.confidence[DATE] < REVIEW_BELOW:
            review.flag(DATE)
    return review
