"""Export the archive: tasks as CSV (Excel-safe), JSON lines and iCalendar VTODO; the Decree 30/2020 document
registers (sổ đăng ký văn bản đến / đi) as CSV and XLSX. The webhook is in webhook.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TextIO

from pipeline import __version__
from pipeline.archive.store import ArchivedDocument, ArchiveStore, TaskRow

CSV_COLUMNS = ("task_id", "document_code", "date", "assignees", "text", "places", "references", "deadline", "source",
               "status")
ICS_LINE_OCTETS = 75  # RFC 5545 §3.1: lines longer than this are folded
SUMMARY_CHARS = 160
CSV_BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with the byte-order mark
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP "CSV
# Injection"; the full-width forms are converted by some of them): such cells get a leading apostrophe.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def iter_tasks(archive: ArchiveStore, since: str | None = None) -> Iterator[TaskRow]:
    """Tasks in document order; `since` (ISO date) keeps documents dated on or after it, or, when a
    document has no date, added to the archive on or after it."""
    return archive.tasks(since)


# --------------------------------------------------------------------------- files


def _joined(values: Iterable[Any] | None) -> str:
    return "; ".join(str(value) for value in values or [])


def csv_cell(value: Any) -> str:
    """A value as a spreadsheet cell that is never taken for a formula (OWASP: prefix an apostrophe).

    >>> csv_cell("=HYPERLINK(\"http://x\")"), csv_cell("- Chủ trì"), csv_cell("18/KH-UBND"), csv_cell(None)
    ('\'=HYPERLINK("http://x")', "'- Chủ trì", '18/KH-UBND', '')
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def write_csv_rows(header: Sequence[str], rows: Iterable[Sequence[Any]], out: TextIO) -> int:
    """CSV for Excel: UTF-8 byte-order mark, CRLF line ends, every cell neutralised (csv_cell)."""
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        count += 1
    return count


def write_csv(rows: Iterable[TaskRow], out: TextIO) -> int:
    return write_csv_rows(CSV_COLUMNS, ([row.task.get("id"), row.document_code, row.document_date,
                                         _joined(row.task.get("assignees")), row.task.get("text", ""),
                                         _joined(row.task.get("places")), _joined(row.task.get("references")),
                                         row.task.get("deadline"), row.source, row.status] for row in rows), out)


def write_jsonl(rows: Iterable[TaskRow], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row.to_dict(), ensure_ascii=False) + "\n")
        count += 1
    return count


def ics_escape(text: str) -> str:
    """RFC 5545 TEXT escaping."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character; continuation lines start
    with one space."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, ICS_LINE_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, ICS_LINE_OCTETS - 1
        current.append(char)
        size += octets
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def _ics_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).strftime("%Y%m%d")
    except ValueError:
        return None


def _summary(row: TaskRow) -> str:
    text = " ".join(str(row.task.get("text", "")).split())
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1].rstrip() + "…"
    return f"{row.document_code}: {text}" if row.document_code else text


def write_ics(rows: Iterable[TaskRow], out: TextIO, now: datetime | None = None) -> int:
    """An iCalendar object with one VTODO per task (DUE when a deadline is known), CRLF line ends."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:-//congvan//congvan {__version__}//VI", "CALSCALE:GREGORIAN"]
    count = 0
    for row in rows:
        task = row.task
        description = [str(task.get("text", ""))]
        for label, key in (("Chủ trì", "assignees"), ("Phối hợp", "coordinators"), ("Địa bàn", "places"),
                           ("Căn cứ", "references")):
            if task.get(key):
                description.append(f"{label}: {_joined(task[key])}")
        description.append(f"Văn bản: {row.document_code or '?'} ({row.source})")
        lines += ["BEGIN:VTODO", f"UID:{row.uid}@congvan", f"DTSTAMP:{stamp}",
                  f"SUMMARY:{ics_escape(_summary(row))}", f"DESCRIPTION:{ics_escape(chr(10).join(description))}"]
        due = _ics_date(task.get("deadline"))
        if due:
            lines.append(f"DUE;VALUE=DATE:{due}")
        start = _ics_date(row.document_date)
        if start and (not due or start <= due):
            lines.append(f"DTSTART;VALUE=DATE:{start}")
        if task.get("assignees"):
            lines.append(f"CATEGORIES:{','.join(ics_escape(a) for a in task['assignees'])}")
        lines += ["STATUS:COMPLETED" if row.status == "done" else "STATUS:NEEDS-ACTION", "END:VTODO"]
        count += 1
    lines.append("END:VCALENDAR")
    out.write("".join(ics_fold(line) + "\r\n" for line in lines))
    return count


# --------------------------------------------------------------------------- Decree 30/2020 registers

# Columns of the registers of Decree 30/2020/NĐ-CP, Phụ lục IV (mẫu sổ đăng ký văn bản đến / văn bản đi).
# Columns the archive cannot know (who signed for receipt, copies, transfer date) stay empty for the clerk.
INCOMING_COLUMNS = ("Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu", "Ngày tháng", "Tên loại và trích yếu nội dung",
                    "Đơn vị hoặc người nhận", "Ký nhận", "Ghi chú")
OUTGOING_COLUMNS = ("Số, ký hiệu văn bản", "Ngày tháng văn bản", "Tên loại và trích yếu nội dung văn bản", "Người ký",
                    "Nơi nhận văn bản", "Đơn vị, người nhận bản lưu", "Số lượng bản", "Ngày chuyển", "Ký nhận",
                    "Ghi chú")
REGISTERS = {"incoming": ("Sổ đăng ký văn bản đến", INCOMING_COLUMNS),
             "outgoing": ("Sổ đăng ký văn bản đi", OUTGOING_COLUMNS)}


@dataclass(frozen=True)
class Register:
    title: str
    columns: tuple[str, ...]
    rows: list[list[str]]


def vietnamese_date(value: str | None) -> str:
    """ISO date → dd/mm/yyyy as registers write it ('' when unknown)."""
    try:
        return date.fromisoformat(value[:10]).strftime("%d/%m/%Y") if value else ""
    except ValueError:
        return ""


def _type_and_subject(document: ArchivedDocument) -> str:
    header = document.record.document
    return " ".join(part for part in (header.type_name, header.subject) if part)


def _issuer(document: ArchivedDocument) -> str:
    header = document.record.document
    return " - ".join(part for part in (header.parent_issuer, header.issuer) if part)


def _file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def build_register(kind: str, documents: Iterable[ArchivedDocument]) -> Register:
    """The register `kind` ("incoming": in the order documents reached the archive, numbered from 1 each
    year of arrival; "outgoing": by document date and number) of the given documents."""
    title, columns = REGISTERS[kind]
    rows: list[list[str]] = []
    if kind == "incoming":
        numbers: dict[str, int] = {}
        for document in sorted(documents, key=lambda d: (d.added_at, d.summary.id)):
            year = document.added_at[:4]
            numbers[year] = numbers.get(year, 0) + 1
            header = document.record.document
            rows.append([vietnamese_date(document.added_at), str(numbers[year]), _issuer(document), header.code or "",
                         vietnamese_date(header.date), _type_and_subject(document), "", "",
                         _file_name(document.summary.source)])
    else:
        def order(document: ArchivedDocument) -> tuple[str, int, int]:
            number = document.record.document.number or ""
            return (document.record.document.date or "9999", int(number) if number.isdigit() else 0,
                    document.summary.id)

        for document in sorted(documents, key=order):
            header = document.record.document
            signer = header.signer
            signed = " ".join(part for part in ((signer.authority, signer.title, signer.name) if signer else ())
                              if part)
            rows.append([header.code or "", vietnamese_date(header.date), _type_and_subject(document), signed,
                         "; ".join([*header.recipients, *header.distribution]), "", "", "", "",
                         _file_name(document.summary.source)])
    return Register(title, columns, rows)


def register_csv(register: Register) -> bytes:
    out = io.StringIO(newline="")
    write_csv_rows(register.columns, register.rows, out)
    return out.getvalue().encode("utf-8")


def register_xlsx(register: Register) -> bytes:
    """An Excel workbook: the register's title, its header row (bold, frozen), one row per document; every
    cell is stored as text, so that no value is ever evaluated as a formula."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = register.title[:31]
    sheet.append([register.title.upper()])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(list(register.columns))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for values in register.rows:
        sheet.append([None] * len(values))
        for cell, value in zip(sheet[sheet.max_row], values, strict=True):
            cell.value = value
            cell.data_type = "s"  # openpyxl would take "=…" for a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for index, column in enumerate(register.columns, start=1):
        longest = max([len(column), *(len(row[index - 1]) for row in register.rows)])
        sheet.column_dimensions[get_column_letter(index)].width = min(60, max(10, longest + 2))
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
