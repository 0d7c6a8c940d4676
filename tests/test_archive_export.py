"""Task export: CSV, JSON lines, iCalendar (parsed back with icalendar) and the webhook (loopback server)."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import icalendar
import pytest
from fakes_run import make_result, record_from_case
from hypothesis import given
from hypothesis import strategies as st

from pipeline.archive.export import (
    TaskRow,
    ics_fold,
    iter_tasks,
    post_tasks,
    write_csv,
    write_ics,
    write_jsonl,
)
from pipeline.types import DocumentKind

LONG_TEXT = ("Chủ trì, phối hợp với các xã Hòa Lạc, Nhật Tiến rà soát; đánh giá mức độ đạt chuẩn nông thôn mới "
             "theo Bộ tiêu chí; báo cáo\\kết quả về Văn phòng Điều phối trước ngày 30/6/2020.")
DOCUMENTS = [
    {"name": "kh18", "document": {"code": "18/KH-UBND", "date": "2020-05-01"},
     "tasks": [{"id": "1", "text": LONG_TEXT, "assignees": ["Phòng Nông nghiệp", "UBND các xã"],
                "places": ["Hòa Lạc", "Nhật Tiến"], "references": ["539/QĐ-UBND"], "deadline": "2020-06-30"},
               {"id": "2", "text": "Tổng hợp, báo cáo định kỳ", "assignees": ["Văn phòng"]}]},
    {"name": "cv3", "document": {"code": "3/UBND-NN", "date": "2019-01-02"},
     "tasks": [{"id": "PL.1", "text": "Kiểm tra hiện trường", "deadline": "2019-02-01"}]},
]


@pytest.fixture()
def archive(fresh_archive):
    for number, document in enumerate(DOCUMENTS):
        result = make_result(f"{number:064d}", ["text"], record_from_case(document), f"/archive/{document['name']}.pdf")
        fresh_archive.add_document(result, name=document["name"], kind=DocumentKind.PDF, result_json="{}")
    return fresh_archive


def test_archive_export_csv_has_header_and_one_row_per_task(archive):
    out = io.StringIO()
    assert write_csv(iter_tasks(archive), out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == ["task_id", "document_code", "date", "assignees", "text", "places", "references",
                             "deadline", "source", "status"]
    assert [(r["document_code"], r["task_id"]) for r in rows] == [("3/UBND-NN", "PL.1"), ("18/KH-UBND", "1"),
                                                                  ("18/KH-UBND", "2")]
    first = rows[1]
    assert first["assignees"] == "Phòng Nông nghiệp; UBND các xã" and first["text"] == LONG_TEXT
    assert first["deadline"] == "2020-06-30" and first["source"] == "/archive/kh18.pdf" and first["date"] == "2020-05-01"


def test_archive_export_since_filters_by_document_date(archive):
    assert [row.task["id"] for row in iter_tasks(archive, since="2020-01-01")] == ["1", "2"]


def test_archive_export_jsonl_carries_full_task(archive):
    out = io.StringIO()
    write_jsonl(iter_tasks(archive), out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    task = lines[1]
    assert task["id"] == "1" and task["places"] == ["Hòa Lạc", "Nhật Tiến"] and task["coordinators"] == []
    assert task["document"] == {"id": 1, "code": "18/KH-UBND", "date": "2020-05-01", "type": None, "issuer": None,
                                "source": "/archive/kh18.pdf"}
    assert len(task["uid"]) == 32


def test_archive_export_ics_parses_back(archive):
    out = io.StringIO(newline="")
    write_ics(iter_tasks(archive), out, now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    raw = out.getvalue()
    assert raw.startswith("BEGIN:VCALENDAR\r\n") and raw.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in raw.split("\r\n"))
    calendar = icalendar.Calendar.from_ical(raw)
    todos = list(calendar.walk("VTODO"))
    assert len(todos) == 3
    by_uid = {str(todo["UID"]): todo for todo in todos}
    assert len(by_uid) == 3 and all(uid.endswith("@congvan") for uid in by_uid)
    task = next(todo for todo in todos if str(todo["SUMMARY"]).startswith("18/KH-UBND: Chủ trì"))
    assert task["DUE"].dt == date(2020, 6, 30)
    assert LONG_TEXT in str(task["DESCRIPTION"])
    assert "Chủ trì: Phòng Nông nghiệp; UBND các xã" in str(task["DESCRIPTION"])
    no_deadline = next(todo for todo in todos if "định kỳ" in str(todo["SUMMARY"]))
    assert "DUE" not in no_deadline
    assert task["DTSTAMP"].dt == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_archive_export_ics_fold_round_trips(text):
    folded = ics_fold("DESCRIPTION:" + text.replace("\r", "").replace("\n", ""))
    assert all(len(line.encode("utf-8")) <= 75 for line in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + text.replace("\r", "").replace("\n", "")


class _Receiver(BaseHTTPRequestHandler):
    """Answers 503 to the first `failures` requests of each task, then 201; records every request."""

    failures = 0
    requests: ClassVar[list[tuple[str, dict]]] = []
    attempts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers["Idempotency-Key"]
        with self.lock:
            type(self).requests.append((key, body))
            count = self.attempts[key] = self.attempts.get(key, 0) + 1
        status = 503 if count <= self.failures else (400 if body["id"] == "reject" else 201)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def receiver():
    _Receiver.requests, _Receiver.attempts, _Receiver.failures = [], {}, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver
    server.shutdown()
    server.server_close()


def test_archive_export_webhook_retries_with_same_idempotency_key(archive, receiver):
    url, handler = receiver
    handler.failures = 2
    delays = []
    report = post_tasks(iter_tasks(archive), url, backoff=0.01, sleep=delays.append)
    assert report.sent == 3 and report.failed == [] and report.attempts == 9
    keys = [key for key, _ in handler.requests]
    assert len(set(keys)) == 3 and all(keys.count(key) == 3 for key in set(keys))
    assert all(body["uid"] == key for key, body in handler.requests)
    # exponential back-off: each task waits longer before its second retry than before its first
    assert all(delays[i + 1] > delays[i] for i in range(0, len(delays), 2))


def test_archive_export_webhook_reports_failures(archive, receiver):
    url, handler = receiver
    handler.failures = 10
    report = post_tasks(iter_tasks(archive), url, attempts=3, backoff=0.0, sleep=lambda s: None)
    assert report.sent == 0 and len(report.failed) == 3
    assert all("HTTP 503" in reason and "after 3 attempts" in reason for _, reason in report.failed)


def test_archive_export_webhook_does_not_retry_client_errors(receiver):
    url, _ = receiver

    row = TaskRow("u1", {"id": "reject", "text": "x"}, 1, None, None, None, None, "/x.pdf")
    report = post_tasks([row], url, backoff=0.0, sleep=lambda s: None)
    assert report.failed == [("u1", "HTTP 400 Bad Request")] and report.attempts == 1


def test_archive_export_webhook_unreachable_server(archive):
    report = post_tasks(list(iter_tasks(archive))[:1], "http://127.0.0.1:9/none", attempts=2, backoff=0.0,
                        sleep=lambda s: None, timeout=2.0)
    assert report.sent == 0 and len(report.failed) == 1 and "after 2 attempts" in report.failed[0][1]
