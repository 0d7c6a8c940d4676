"""Task export: CSV, JSON lines, iCalendar (parsed back with icalendar) and the webhook (loopback server)."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import icalendar
import pytest
from fakes_run import make_result, record_from_case
from hypothesis import given
from hypothesis import strategies as st

from pipeline.archive import open_archive
from pipeline.archive.export import (
    INCOMING_COLUMNS,
    TaskRow,
    build_register,
    csv_cell,
    ics_fold,
    iter_tasks,
    register_csv,
    register_xlsx,
    write_csv,
    write_ics,
    write_jsonl,
)
from pipeline.archive.files import write_output
from pipeline.archive.store import SearchFilters
from pipeline.archive.webhook import post_tasks
from pipeline.errors import UsageError
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


def _open_with(path, documents, folder):
    """An archive holding `documents` (compact case form), their sources in `folder`."""
    store = open_archive(path)
    for number, document in enumerate(documents):
        result = make_result(f"{number + 1:064d}", ["text"], record_from_case(document),
                             f"{folder}/{document['name']}.pdf")
        store.add_document(result, name=document["name"], kind=DocumentKind.PDF, result_json="{}")
    return store


@pytest.fixture()
def archive(archive_location):
    store = _open_with(archive_location, DOCUMENTS, "/archive")
    yield store
    store.close()


def test_archive_export_csv_has_header_and_one_row_per_task(archive):
    out = io.StringIO()
    assert write_csv(iter_tasks(archive), out) == 3
    assert out.getvalue().startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(out.getvalue().removeprefix("\ufeff"))))
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
    report = post_tasks(iter_tasks(archive), url, attempts=3, backoff=0.0, sleep=lambda s: None, breaker_failures=100)
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


# --------------------------------------------------------------------------- Excel-safe CSV and registers

CELL_CASES = json.loads((Path(__file__).parent / "cases" / "export_csv_cells.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CELL_CASES["cases"], ids=[c["comment"] for c in CELL_CASES["cases"]])
def test_archive_export_csv_neutralises_formula_cells(case):
    assert csv_cell(case["original"]) == case["expected"]
    row = TaskRow("u", {"id": "1", "text": case["original"], "assignees": [case["original"]]}, 1, None, None, None,
                  None, "/a.pdf")
    out = io.StringIO(newline="")
    write_csv([row], out)
    parsed = next(iter(csv.DictReader(io.StringIO(out.getvalue().removeprefix("\ufeff"), newline=""))))
    assert parsed["text"] == case["expected"] and parsed["assignees"] == case["expected"]


def test_archive_export_csv_is_excel_utf8(archive):
    out = io.StringIO(newline="")
    write_csv(iter_tasks(archive), out)
    raw = out.getvalue().encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert "Phòng Nông nghiệp" in raw.decode("utf-8-sig")


REGISTER_DOCUMENTS = [
    {"name": "kh18", "document": {"code": "18/KH-UBND", "number": "18", "date": "2020-05-01", "type_name": "Kế hoạch",
                                  "subject": "Thực hiện Chương trình nông thôn mới", "issuer": "ỦY BAN NHÂN DÂN",
                                  "parent_issuer": "UBND HUYỆN HỮU LŨNG", "recipients": ["UBND các xã"],
                                  "distribution": ["Lưu: VT"],
                                  "signer": {"authority": "TM.", "title": "CHỦ TỊCH", "name": "Nguyễn Văn A"}}},
    {"name": "qd5", "document": {"code": "5/QĐ-UBND", "number": "5", "date": "2019-01-02", "type": "QĐ",
                                 "subject": "=cmd|' /C calc'!A0"}},
    {"name": "cv", "document": {"code": None, "subject": "Không số"}},
]


@pytest.fixture()
def register_archive(archive_location):
    store = _open_with(archive_location, REGISTER_DOCUMENTS, "/in")
    yield store
    store.close()


def test_archive_export_incoming_register_numbers_documents_as_they_arrived(register_archive):
    register = build_register("incoming", register_archive.documents(SearchFilters(), order="added"))
    assert register.columns[:6] == ("Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu", "Ngày tháng",
                                    "Tên loại và trích yếu nội dung")
    assert [row[1] for row in register.rows] == ["1", "2", "3"]
    first = register.rows[0]
    assert first[2] == "UBND HUYỆN HỮU LŨNG - ỦY BAN NHÂN DÂN" and first[3] == "18/KH-UBND" and first[4] == "01/05/2020"
    assert first[5] == "Kế hoạch Thực hiện Chương trình nông thôn mới" and first[-1] == "kh18.pdf"
    assert first[0] == datetime.now(UTC).strftime("%d/%m/%Y")  # arrival: the day it entered the archive


def test_archive_export_outgoing_register_by_date_with_signer_and_recipients(register_archive):
    register = build_register("outgoing", register_archive.documents(SearchFilters(), order="added"))
    assert [row[0] for row in register.rows] == ["5/QĐ-UBND", "18/KH-UBND", ""]
    kh = register.rows[1]
    assert kh[1] == "01/05/2020" and kh[3] == "TM. CHỦ TỊCH Nguyễn Văn A" and kh[4] == "UBND các xã; Lưu: VT"


def test_archive_export_register_xlsx_holds_text_never_formulas(register_archive):
    import openpyxl

    register = build_register("outgoing", register_archive.documents(SearchFilters(type="QĐ"), order="added"))
    workbook = openpyxl.load_workbook(io.BytesIO(register_xlsx(register)))
    sheet = workbook.active
    assert sheet.title == "Sổ đăng ký văn bản đi" and sheet["A2"].value == "Số, ký hiệu văn bản"
    assert sheet["A3"].value == "5/QĐ-UBND" and sheet["C3"].value == "=cmd|' /C calc'!A0"
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value is not None)
    assert sheet.max_row == 3


def test_archive_export_register_csv_neutralises_cells(register_archive):
    register = build_register("incoming", register_archive.documents(SearchFilters(), order="added"))
    register.rows.append(["=1+1"] * len(register.columns))
    text = register_csv(register).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(INCOMING_COLUMNS) and rows[-1] == ["'=1+1"] * len(INCOMING_COLUMNS)


# --------------------------------------------------------------------------- export --out targets


def test_archive_export_out_follows_a_symlink(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    write_output(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_archive_export_out_writes_into_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, b"tasks")
    reader.join(10)
    assert received == [b"tasks"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_archive_export_out_refuses_a_folder(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        write_output(tmp_path, b"x")
