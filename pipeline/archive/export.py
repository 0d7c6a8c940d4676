"""Export the archive's tasks to trackers: CSV, JSON lines, iCalendar VTODO, and a JSON webhook."""

from __future__ import annotations

import csv
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TextIO

from pipeline import __version__
from pipeline.archive.store import ArchiveStore, TaskRow

CSV_COLUMNS = ("task_id", "document_code", "date", "assignees", "text", "places", "references", "deadline", "source",
               "status")
ICS_LINE_OCTETS = 75  # RFC 5545 §3.1: lines longer than this are folded
SUMMARY_CHARS = 160
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


def iter_tasks(archive: ArchiveStore, since: str | None = None) -> Iterator[TaskRow]:
    """Tasks in document order; `since` (ISO date) keeps documents dated on or after it, or, when a
    document has no date, added to the archive on or after it."""
    return archive.tasks(since)


# --------------------------------------------------------------------------- files


def _joined(values: Iterable[Any] | None) -> str:
    return "; ".join(str(value) for value in values or [])


def write_csv(rows: Iterable[TaskRow], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        task = row.task
        writer.writerow([task.get("id"), row.document_code or "", row.document_date or "",
                         _joined(task.get("assignees")), task.get("text", ""), _joined(task.get("places")),
                         _joined(task.get("references")), task.get("deadline") or "", row.source, row.status])
        count += 1
    return count


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


# --------------------------------------------------------------------------- webhook


@dataclass
class WebhookReport:
    sent: int = 0
    attempts: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (task uid, last reason)


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def post_tasks(rows: Iterable[TaskRow], url: str, *, attempts: int = 5, backoff: float = 0.5,
               timeout: float = 15.0, sleep: Callable[[float], None] | None = None) -> WebhookReport:
    """POST each task as JSON with an `Idempotency-Key` header (the task uid, the same on every retry and
    every run), retrying timeouts, connection errors, 408/429/5xx with exponential back-off and jitter."""
    sleep = sleep or time.sleep
    report = WebhookReport()
    for row in rows:
        body = json.dumps(row.to_dict(), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": row.uid,
                   "User-Agent": f"congvan/{__version__}"}
        reason = ""
        for attempt in range(attempts):
            report.attempts += 1
            delay = backoff * (2 ** attempt) * (1.0 + random.random() * 0.25)
            try:
                request = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    response.read()
                report.sent += 1
                break
            except urllib.error.HTTPError as error:
                reason = f"HTTP {error.code} {error.reason}"
                if error.code not in RETRYABLE_STATUS:
                    report.failed.append((row.uid, reason))
                    break
                delay = _retry_after(error) or delay
            except (urllib.error.URLError, OSError, TimeoutError) as error:
                reason = str(getattr(error, "reason", None) or error)
            if attempt + 1 < attempts:
                sleep(delay)
        else:
            report.failed.append((row.uid, f"{reason} (after {attempts} attempts)"))
    return report
