"""congvan search / show / export / migrate on a small archive (SQLite and PostgreSQL), through the command
line entry point."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import icalendar
import pytest
from conftest import BACKENDS
from fakes_run import store_case_documents

from pipeline.archive import open_archive
from pipeline.cli import main
from pipeline.errors import EXIT_USAGE, ArchiveError, ExportError, NotFoundError

CASES = json.loads((Path(__file__).parent / "cases" / "archive_search.json").read_text(encoding="utf-8"))
TASKS = [{"id": "1", "text": "Rà soát các tiêu chí", "assignees": ["Phòng NN"], "deadline": "2020-06-30"},
         {"id": "2", "text": "Báo cáo kết quả"}]


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, new_archive):
    location = new_archive(request.param)
    documents = [dict(doc, tasks=TASKS) if doc["name"] == "kh18" else doc for doc in CASES["documents"]]
    with open_archive(location) as archive:
        store_case_documents(archive, documents)
    return location


def test_cli_search_json_lists_hits(db, capsys):
    assert main(["search", "539 qd ubnd", "--db", db, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["source"] for h in hits] == ["/archive/qd539.pdf", "/archive/qd539_2019.pdf", "/archive/kh18.pdf",
                                           "/archive/cv112.pdf"]
    assert {"source", "code", "page", "snippet"} <= set(hits[0])
    assert hits[3]["code"] == "112/VPĐP-NTM" and hits[3]["page"] == 2 and "539/QĐ-UBND" in hits[3]["snippet"]


def test_cli_search_text_output_and_filters(db, capsys):
    assert main(["search", "nong thon moi", "--db", db, "--from", "2020-04-01", "--place", "Lạng Sơn"]) == 0
    out = capsys.readouterr().out
    assert "112/VPĐP-NTM" in out and "page 2" in out and "nông thôn mới" in out and "539/QĐ-UBND ·" not in out


def test_cli_search_bad_date_is_a_usage_error(db, capsys):
    assert main(["search", "x", "--db", db, "--from", "15/4/2020"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ISO date" in err and err.endswith("[E001]\n")


def test_cli_search_missing_archive(tmp_path, capsys):
    assert main(["search", "x", "--db", str(tmp_path / "none.db")]) == NotFoundError.exit_code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.db" in err
    assert not (tmp_path / "none.db").exists()


def test_cli_show_by_code_and_ambiguous_code(db, capsys):
    assert main(["show", "18/kh-ubnd", "--db", db, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["source"] == "/archive/kh18.pdf" and shown["record"]["document"]["code"] == "18/KH-UBND"
    assert main(["show", "539/QĐ-UBND", "--db", db]) == EXIT_USAGE
    assert "several documents" in capsys.readouterr().err
    assert main(["show", "18/KH-UBND", "--db", db, "--text"]) == 0
    assert capsys.readouterr().out.startswith("UBND HUYỆN HỮU LŨNG\nSố: 18/KH-UBND")
    assert main(["show", "77/KH-UBND", "--db", db]) == NotFoundError.exit_code


def test_cli_export_formats(db, tmp_path, capsys):
    assert main(["export", "tasks", "--db", db, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.removeprefix("\ufeff"))))
    assert [(r["document_code"], r["task_id"], r["deadline"]) for r in rows] == [("18/KH-UBND", "1", "2020-06-30"),
                                                                                ("18/KH-UBND", "2", "")]
    assert main(["export", "tasks", "--db", db, "--format", "ics", "--out", str(tmp_path / "t.ics")]) == 0
    todos = list(icalendar.Calendar.from_ical((tmp_path / "t.ics").read_bytes()).walk("VTODO"))
    assert len(todos) == 2 and str(todos[0]["DUE"].to_ical().decode()) == "20200630"
    assert main(["export", "tasks", "--db", db, "--format", "jsonl", "--since", "2021-01-01"]) == 0
    assert capsys.readouterr().out == ""


class _FlakyThenDown(BaseHTTPRequestHandler):
    keys: list[str] = []  # noqa: RUF012 - shared by the handler instances of one server

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.keys.append(self.headers["Idempotency-Key"])
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_cli_export_webhook_failure_is_reported(db, capsys, monkeypatch):
    monkeypatch.setattr("pipeline.archive.webhook.time.sleep", lambda seconds: None)
    _FlakyThenDown.keys.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyThenDown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/tasks"
        assert main(["export", "tasks", "--db", db, "--webhook", url]) == ExportError.exit_code
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    # the first task's five failures open the circuit: the second task is not even tried
    assert captured.err.count("HTTP 500") == 1 and "circuit breaker" in captured.err and "0 of 2 tasks sent" in captured.out
    assert len(set(_FlakyThenDown.keys)) == 1 and len(_FlakyThenDown.keys) == 5


def test_cli_archive_from_the_environment(db, capsys, monkeypatch):
    monkeypatch.setenv("CONGVAN_DB", db)
    assert main(["show", "18/KH-UBND", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["record"]["document"]["code"] == "18/KH-UBND"
    monkeypatch.delenv("CONGVAN_DB")
    assert main(["search", "x"]) == EXIT_USAGE and "CONGVAN_DB" in capsys.readouterr().err


def test_cli_migrate_copies_and_verifies_both_ways(db, new_archive, capsys):
    """SQLite → PostgreSQL (or back), then back again into a third archive: same rows, same search hits."""
    other = new_archive("postgres" if db.endswith(".db") else "sqlite")
    assert main(["migrate", "--from", db, "--to", other]) == 0
    out = capsys.readouterr().out
    assert "6 documents (6 copied, 0 already there; 6 documents, 7 pages, 3 references" in out and "verified" in out
    assert main(["migrate", "--from", db, "--to", other]) == 0  # again: resumes, copies nothing
    assert "(0 copied, 6 already there" in capsys.readouterr().out
    back = new_archive("postgres" if other.endswith(".db") else "sqlite")
    assert main(["migrate", "--from", other, "--to", back]) == 0
    capsys.readouterr()
    outputs = []
    for location in (db, other, back):
        assert main(["search", "539 qd ubnd", "--db", location, "--json"]) == 0
        outputs.append([(h["source"], h["page"], h["snippet"], h["match"]) for h in json.loads(capsys.readouterr().out)])
        with open_archive(location) as archive:
            outputs.append(sorted(archive.read_rows(d.id).digest() for d in archive.stored_documents()))
            outputs.append(archive.table_counts())
    assert outputs[0:3] == outputs[3:6] == outputs[6:9]


def test_cli_migrate_reports_a_copy_that_differs(db, new_archive, capsys, monkeypatch):
    from pipeline.archive.store import DocumentRows

    target = new_archive("sqlite")
    real = DocumentRows.digest
    calls = []

    def unlucky(rows):  # the third digest (the first copied document read back) comes out different
        calls.append(1)
        return "0" * 64 if len(calls) == 2 else real(rows)

    monkeypatch.setattr(DocumentRows, "digest", unlucky)
    assert main(["migrate", "--from", db, "--to", target]) == ArchiveError.exit_code
    err = capsys.readouterr().err
    assert "differs once copied" in err and "1 differences after copying" in err


def test_cli_migrate_missing_source(tmp_path, capsys):
    assert main(["migrate", "--from", str(tmp_path / "none.db"), "--to", str(tmp_path / "b.db")]) \
        == NotFoundError.exit_code
    assert not (tmp_path / "b.db").exists() and "none.db" in capsys.readouterr().err


def test_cli_export_registers(db, tmp_path, capsys):
    import openpyxl

    assert main(["export", "incoming", "--db", db, "--format", "xlsx", "--out", str(tmp_path / "den.xlsx")]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "den.xlsx").active
    assert sheet["A1"].value == "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN" and sheet["B2"].value == "Số đến"
    codes = {row[3] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert "18/KH-UBND" in codes
    assert main(["export", "outgoing", "--db", db, "--type", "KH"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\ufeff\"Số, ký hiệu văn bản\",") and "18/KH-UBND" in out and "539/QĐ-UBND" not in out and "539/KH-UBND" in out


@pytest.mark.parametrize("argv", [["tasks", "--format", "xlsx"], ["incoming", "--format", "ics"],
                                  ["incoming", "--header", "A: b"]])
def test_cli_export_bad_combinations_are_usage_errors(db, argv, capsys):
    assert main(["export", *argv, "--db", db]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_export_out_folder_is_a_one_line_error(db, tmp_path, capsys):
    assert main(["export", "tasks", "--db", db, "--out", str(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err and list(tmp_path.iterdir()) == []


def test_cli_show_is_readable_by_default(db, capsys):
    assert main(["show", "18/KH-UBND", "--db", db]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "18/KH-UBND · Kế hoạch · 2020-05-01" and len(lines) < 25
    assert "Issuer:      UBND TỈNH LẠNG SƠN — UBND HUYỆN HỮU LŨNG" in out
    # its reference to 539/QĐ-UBND gives no year: the two archived 539/QĐ-UBND are candidates, neither is linked
    assert "539/QĐ-UBND — no year given; archived with this code: id 1, id 2" in out
    assert "Tasks (2):" in out and "1. Rà soát các tiêu chí [lead: Phòng NN; due 2020-06-30]" in out
    # 112/VPĐP-NTM cites 18/KH-UBND without a year: counted, not linked
    assert "Cited by (0):\n  (not linked: 1 more cite this code without a year" in out


def test_cli_show_links_references_by_code_year_and_issuer(tmp_path, capsys):
    path = tmp_path / "a.db"
    place = {"place": "Lạng Sơn", "issuer": "UBND TỈNH LẠNG SƠN"}
    with open_archive(path) as archive:
        store_case_documents(archive, [
            {"name": "qd7", "pages": ["Số: 7/QĐ-UBND"], "document": {"code": "7/QĐ-UBND", "date": "2021-01-05", **place}},
            {"name": "qd7old", "pages": ["Số: 7/QĐ-UBND"], "document": {"code": "7/QĐ-UBND", "date": "2019-02-01", **place}},
            {"name": "kh9", "pages": ["Căn cứ Quyết định số 7/QĐ-UBND ngày 05/01/2021"],
             "references": [{"code": "7/QĐ-UBND", "date": "2021-01-05"}],
             "document": {"code": "9/KH-UBND", "date": "2021-02-01", **place}}])
    assert main(["show", "9/KH-UBND", "--db", str(path)]) == 0
    assert "7/QĐ-UBND (2021) — in the archive: id 1\n" in capsys.readouterr().out
    assert main(["show", "1", "--db", str(path)]) == 0
    assert "Cited by (1):\n  9/KH-UBND · 2021-02-01 · UBND TỈNH LẠNG SƠN (id 3)" in capsys.readouterr().out
    assert main(["show", "2", "--db", str(path)]) == 0  # the 2019 decision: cited for another year only
    assert "Cited by (0):\n  (not linked: 1 more cite this code" in capsys.readouterr().out


def test_cli_show_escapes_control_characters(archive_location, capsys):
    path = archive_location
    with open_archive(path) as archive:
        store_case_documents(archive, [{"name": "x", "pages": ["t"], "document": {
            "code": "7/TB-UBND", "subject": "Về việc\x1b[2J\x1b[31mXÓA MÀN HÌNH\nhai dòng"}}])
    assert main(["show", "7/TB-UBND", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "Subject:     Về việc\\x1b[2J\\x1b[31mXÓA MÀN HÌNH hai dòng" in out


def test_cli_show_cited_but_not_archived_lists_who_cites_it(archive_location, capsys):
    path = archive_location
    documents = [
        {"name": "a", "pages": ["Căn cứ Chỉ thị số 01/CT-UBND"], "references": [{"code": "01/CT-UBND"}],
         "document": {"code": "5/KH-UBND", "date": "2021-02-01", "place": "Lạng Sơn", "issuer": "UBND TỈNH LẠNG SƠN"}},
        {"name": "b", "pages": ["Thực hiện Chỉ thị 01/CT-UBND"], "references": [{"code": "01/CT-UBND"}],
         "document": {"code": "9/CV-UBND", "date": "2021-03-01", "place": "Hà Giang", "issuer": "UBND TỈNH HÀ GIANG"}},
        {"name": "c", "pages": ["Quyết định 77/QĐ-UBND"], "document": {"code": "77/QĐ-UBND", "date": "2020-01-01"}},
    ]
    with open_archive(path) as archive:
        store_case_documents(archive, documents)
    assert main(["show", "01/CT-UBND", "--db", path]) == NotFoundError.exit_code
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "not in the archive; 2 archived documents cite it" in err
    # a 01/CT-UBND exists in every province: the citations are grouped by the place that cites them
    assert "01/CT-UBND (year not given, cited from Hà Giang) is cited by 1 archived document:" in out
    assert "01/CT-UBND (year not given, cited from Lạng Sơn) is cited by 1 archived document:" in out
    assert "5/KH-UBND · 2021-02-01 · UBND TỈNH LẠNG SƠN (id 1)" in out
    assert main(["show", "02/CT-UBND", "--db", path]) == NotFoundError.exit_code
    assert "no document '02/CT-UBND'" in capsys.readouterr().err


def test_cli_search_browses_with_filters_only(db, capsys):
    assert main(["search", "", "--type", "QĐ", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. 539/QĐ-UBND · 2020-03-10 · QĐ · UBND TỈNH LẠNG SƠN  [matches the filters]")
    assert "2. 539/QĐ-UBND · 2019-06-02" in out and "3." not in out


def test_cli_search_too_long_query_is_a_usage_error(db, capsys):
    assert main(["search", "x" * 100_000, "--db", db]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "100000 characters long" in err
