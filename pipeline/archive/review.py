"""Human review of records: the correctable fields, corrections applied over an extracted record, and the
reasons a document needs review (number, date or signer missing or read with low OCR confidence)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from datetime import date

from pipeline.archive.normalize import code_parts, fold_text
from pipeline.errors import InvalidCorrectionError
from pipeline.types import OcrWord, PageResult, Record, Signer

# The record fields a clerk may correct, in the order the editor shows them.
CORRECTABLE_FIELDS: tuple[str, ...] = (
    "code", "date", "type", "type_name", "issuer", "parent_issuer", "place", "subject", "signer.authority",
    "signer.title", "signer.name", "recipients",
)
LIST_FIELDS = frozenset({"recipients"})  # stored one item per line
MAX_VALUE_CHARS = 4000
# Tesseract word confidence (0–100) under which a field read from the page is worth a human look.
LOW_CONFIDENCE = 60.0
# Review reasons, in queue order; each names the field whose correction (or confirmation) settles it.
REVIEW_REASONS: tuple[tuple[str, str], ...] = (
    ("code_missing", "code"), ("code_low_confidence", "code"), ("date_missing", "date"),
    ("date_low_confidence", "date"), ("signer_missing", "signer.name"), ("signer_low_confidence", "signer.name"),
    ("flagged", ""),
)
TASK_STATUSES = ("open", "done")

_CODE_SHAPE = re.compile(r"^\s*\d+[^\s]*[/-]\s*\S")


def validate_correction(field: str, value: str | None) -> str | None:
    """The value to store for `field`, normalised (stripped; None when empty); InvalidCorrectionError when
    the field cannot be corrected or the value cannot be its value."""
    if field not in CORRECTABLE_FIELDS:
        raise InvalidCorrectionError(f"not a correctable field: {field!r}")
    if value is None:
        return None
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidCorrectionError(f"{field}: value longer than {MAX_VALUE_CHARS} characters")
    if "\x00" in value:
        raise InvalidCorrectionError(f"{field}: value holds a NUL character")
    if field in LIST_FIELDS:
        items = [" ".join(line.split()) for line in value.splitlines()]
        cleaned = "\n".join(item for item in items if item)
    else:
        cleaned = " ".join(value.split())
    if not cleaned:
        return None
    if field == "date":
        try:
            cleaned = date.fromisoformat(cleaned).isoformat()
        except ValueError:
            raise InvalidCorrectionError(f"date: not an ISO date (YYYY-MM-DD): {cleaned!r}") from None
    if field == "code" and not _CODE_SHAPE.match(cleaned):
        raise InvalidCorrectionError(f"code: expected a number and a symbol, e.g. 539/QĐ-UBND: {cleaned!r}")
    return cleaned


def field_value(record: Record, field: str) -> str | None:
    """The value of a correctable field in `record`, as text (list fields one item per line)."""
    header = record.document
    if field.startswith("signer."):
        return getattr(header.signer, field[7:]) if header.signer is not None else None
    if field in LIST_FIELDS:
        items: list[str] = getattr(header, field)
        return "\n".join(items) or None
    text: str | None = getattr(header, field)
    return text


def apply_corrections(record: Record, changes: Iterable[tuple[str, str | None]]) -> Record:
    """A copy of `record` with each (field, value) applied in order: a correction takes precedence over
    what extraction found. Correcting the code also sets its number and symbol."""
    corrected = copy.deepcopy(record)
    header = corrected.document
    for field, value in changes:
        if field.startswith("signer."):
            if header.signer is None:
                header.signer = Signer()
            setattr(header.signer, field[7:], value)
        elif field in LIST_FIELDS:
            setattr(header, field, value.split("\n") if value else [])
        else:
            setattr(header, field, value)
        if field == "code":
            header.number, header.symbol = _split_code(value)
    return corrected


def _split_code(code: str | None) -> tuple[str | None, str | None]:
    if not code:
        return None, None
    number, separator, symbol = code.partition("/")
    if not separator:
        number, separator, symbol = code.partition("-")
    number = number.strip()
    return (number if number.isdigit() else None), (symbol.strip() or None)


# --------------------------------------------------------------------------- review


def low_confidence_fields(record: Record, pages: Sequence[PageResult]) -> list[str]:
    """Fields of the header whose words on the page were read below LOW_CONFIDENCE: the code (the words
    holding its number), the date (the digits of the line holding its year) and the signer's name."""
    header = record.document
    words = [word for page in pages[:1] for word in page.words] + [w for page in pages[-1:] for w in page.words]
    if not words:
        return []
    low: list[str] = []
    if header.code and _min_confidence(_code_words(words, header.code)) < LOW_CONFIDENCE:
        low.append("code")
    if header.date and _min_confidence(_date_words(words, header.date)) < LOW_CONFIDENCE:
        low.append("date")
    name = header.signer.name if header.signer else None
    if name and _min_confidence(_phrase_words(words, name)) < LOW_CONFIDENCE:
        low.append("signer.name")
    return low


def _min_confidence(words: Sequence[OcrWord]) -> float:
    return min((word.confidence for word in words), default=100.0)


def _code_words(words: Sequence[OcrWord], code: str) -> list[OcrWord]:
    parts = code_parts(code)
    if not parts or not parts[0].isdigit():
        return []
    for word in words:
        word_parts = code_parts(word.text)
        if word_parts[:1] == parts[:1] and len(word_parts) > 1:
            return [word]
    return []


def _date_words(words: Sequence[OcrWord], iso: str) -> list[OcrWord]:
    year = iso[:4]
    for word in words:
        if fold_text(word.text).strip(".,;:") == year:
            return [w for w in words if w.line == word.line and any(c.isdigit() for c in w.text)]
    return []


def _phrase_words(words: Sequence[OcrWord], phrase: str) -> list[OcrWord]:
    wanted = fold_text(phrase).split()
    texts = [fold_text(word.text) for word in words]
    for start in range(len(words) - len(wanted) + 1):
        if texts[start:start + len(wanted)] == wanted:
            return list(words[start:start + len(wanted)])
    return []


def review_reasons(record: Record, low_confidence: Iterable[str], settled: Iterable[str]) -> list[str]:
    """Why a document needs review, in queue order; a field a person corrected or confirmed (`settled`) is
    never a reason. A code without its number ("/TB-UBND") is a missing number. A record may carry its own
    `needs_review` flag (born-digital and scan extraction)."""
    header = record.document
    low = set(low_confidence)
    done = set(settled)
    parts = code_parts(header.code) if header.code else []
    present = {"code": bool(parts) and parts[0].isdigit(), "date": bool(header.date),
               "signer.name": bool(header.signer and header.signer.name)}
    applies = {
        "missing": lambda field: not present[field],
        "low_confidence": lambda field: present[field] and field in low,
        # a record's own flag is settled by any correction or confirmation
        "flagged": lambda field: bool(getattr(record, "needs_review", False)) and not done,
    }
    return [reason for reason, field in REVIEW_REASONS
            if field not in done and applies[reason.split("_", 1)[-1] if "_" in reason else reason](field)]
