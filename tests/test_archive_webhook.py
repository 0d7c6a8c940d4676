"""The webhook against loopback servers the tests start: keep-alive, auth headers, the circuit breaker, redirects,
credential masking and the delivery record."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from fakes_run import make_result, record_from_case

from pipeline.archive import open_archive
from pipeline.archive.export import iter_tasks
from pipeline.archive.webhook import BREAKER_SECONDS, mask_url, parse_endpoint, parse_headers, post_tasks
from pipeline.cli import main
from pipeline.errors import EXIT_USAGE, ExportError, UsageError
from pipeline.types import DocumentKind

TASKS = [{"id": str(n), "text": f"Nhiệm vụ số {n}", "assignees": ["Phòng Nội vụ"]} for n in range(1, 5)]


def _store(path, tasks=TASKS, sha="a" * 64):
    with open_archive(path) as archive:
        record = record_from_case({"document": {"code": "18/KH-UBND", "date": "2020-05-01"}, "tasks": tasks})
        archive.add_document(make_result(sha, ["text"], record), name="kh18", kind=DocumentKind.PDF, result_json="{}")


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "archive.db"
    _store(path)
    return path


class _Recorder(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive) receiver: records each request's client port, path, headers and body; answers
    with `status` (and `location` for redirects) on the paths listed in `redirects`."""

    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[dict]] = []
    redirects: ClassVar[dict[str, tuple[int, str]]] = {}

    def _answer(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).requests.append({"method": method, "port": self.client_address[1], "path": self.path,
                                    "headers": dict(self.headers), "body": body})
        status, location = self.redirects.get(self.path, (201, ""))
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self._answer("POST")

    def do_GET(self):
        self._answer("GET")

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Recorder.requests, _Recorder.redirects = [], {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder
    httpd.shutdown()
    httpd.server_close()


def test_archive_webhook_one_connection_and_auth_header(db, server, capsys):
    base, handler = server
    assert main(["export", "tasks", "--db", str(db), "--webhook", f"{base}/hook",
                 "--header", "Authorization: Bearer s3cr3t-token", "--header", "X-Tenant: ubnd"]) == 0
    out, err = capsys.readouterr()
    assert "4 of 4 tasks sent" in out and err == ""
    assert len(handler.requests) == 4
    assert len({request["port"] for request in handler.requests}) == 1  # one keep-alive connection
    assert all(r["headers"]["Authorization"] == "Bearer s3cr3t-token" and r["headers"]["X-Tenant"] == "ubnd"
               for r in handler.requests)
    assert "s3cr3t" not in out


def test_archive_webhook_delivery_record_sends_only_new_or_changed(archive_location, server, capsys):
    base, handler = server
    path = archive_location
    _store(path)
    url = f"{base}/hook"
    assert main(["export", "tasks", "--db", str(path), "--webhook", url]) == 0
    assert len(handler.requests) == 4
    assert main(["export", "tasks", "--db", str(path), "--webhook", url]) == 0
    assert len(handler.requests) == 4 and "0 of 4 tasks sent" in capsys.readouterr().out.splitlines()[-1]
    changed = [dict(TASKS[0], text="Nhiệm vụ số 1, sửa lại"), *TASKS[1:], {"id": "5", "text": "Nhiệm vụ mới"}]
    _store(path, changed)  # the same document re-processed: one task changed, one new
    assert main(["export", "tasks", "--db", str(path), "--webhook", url]) == 0
    resent = [json.loads(r["body"])["id"] for r in handler.requests[4:]]
    assert sorted(resent) == ["1", "5"]
    assert "3 unchanged since the last delivery" in capsys.readouterr().out
    assert main(["export", "tasks", "--db", str(path), "--webhook", url, "--resend"]) == 0
    assert len(handler.requests) == 6 + 5
    # another endpoint has its own record
    assert main(["export", "tasks", "--db", str(path), "--webhook", f"{base}/other"]) == 0
    assert len(handler.requests) == 11 + 5


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_archive_webhook_circuit_breaker_gives_up_on_a_refusing_endpoint(db):
    rows = list(iter_tasks(open_archive(db, create=False))) * 30  # 120 tasks
    started = time.monotonic()
    report = post_tasks(rows, f"http://127.0.0.1:{_closed_port()}/hook")
    seconds = time.monotonic() - started
    assert report.circuit_open and report.sent == 0 and len(report.failed) == 120
    assert report.attempts == 5 and seconds < 30
    assert "connection refused" in report.failed[0][1] and "circuit breaker" in report.failed[-1][1]


def test_archive_webhook_circuit_breaker_bounds_a_silent_endpoint(db):
    """A server that accepts connections but never answers: requests time out, the breaker's time budget
    (not the number of tasks) bounds the whole export."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        rows = list(iter_tasks(open_archive(db, create=False)))
        started = time.monotonic()
        report = post_tasks(rows, f"http://127.0.0.1:{silent.getsockname()[1]}/hook", timeout=1.0,
                            breaker_seconds=2.5, backoff=0.05)
        seconds = time.monotonic() - started
    finally:
        silent.close()
    assert report.circuit_open and report.sent == 0 and len(report.failed) == 4
    assert "timed out" in report.failed[0][1]
    assert seconds < 2.5 + 1.5 and report.attempts <= 3
    assert BREAKER_SECONDS < 30  # requests never outlive the budget: with the defaults, under 30 s


def test_archive_webhook_redirect_to_another_host_is_a_failure(db, server):
    base, handler = server
    handler.redirects = {"/hook": (302, "http://elsewhere.invalid/steal")}
    report = post_tasks(list(iter_tasks(open_archive(db, create=False)))[:1], f"{base}/hook")
    assert report.sent == 0 and "HTTP 302 redirect" in report.failed[0][1] and "not followed" in report.failed[0][1]
    assert [r["method"] for r in handler.requests] == ["POST"]  # never re-sent as a GET


def test_archive_webhook_redirect_to_ftp_fails_at_once(db, server):
    base, handler = server
    handler.redirects = {"/hook": (307, "ftp://127.0.0.1/x")}
    started = time.monotonic()
    report = post_tasks(list(iter_tasks(open_archive(db, create=False)))[:1], f"{base}/hook")
    assert report.sent == 0 and "not followed" in report.failed[0][1] and time.monotonic() - started < 5


def test_archive_webhook_same_origin_307_is_followed_with_the_body(db, server):
    base, handler = server
    handler.redirects = {"/old": (307, "/new")}
    report = post_tasks(list(iter_tasks(open_archive(db, create=False)))[:1], f"{base}/old")
    assert report.sent == 1 and report.failed == []
    assert [(r["method"], r["path"]) for r in handler.requests] == [("POST", "/old"), ("POST", "/new")]
    assert handler.requests[0]["body"] == handler.requests[1]["body"] != b""


def test_archive_webhook_credentials_never_shown(db, server, capsys):
    base, handler = server
    handler.redirects = {"/hook?token=tok-9876": (500, "")}
    url = base.replace("http://", "http://robot:pa55word@") + "/hook?token=tok-9876"
    code = main(["export", "tasks", "--db", str(db), "--webhook", url])
    out, err = capsys.readouterr()
    assert code == ExportError.exit_code
    assert handler.requests[0]["headers"]["Authorization"].startswith("Basic ")
    for secret in ("pa55word", "tok-9876"):
        assert secret not in out and secret not in err
    assert "robot:***@" in out and "token=***" in err


@pytest.mark.parametrize("url", ["http://exa mple.org/x", "http://example.org/x\r\nX-Injected: 1", "http://[::1",
                                 "ftp://example.org/x", "http:///nohost", "http://example.org:99999/x"])
def test_archive_webhook_bad_url_is_a_one_line_usage_error(db, url, capsys):
    assert main(["export", "tasks", "--db", str(db), "--webhook", url]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("congvan: usage:")


@pytest.mark.parametrize("header", ["NoColon", "Bad Name: x", "X-A: line\r\nInjected: 1", "Content-Length: 5"])
def test_archive_webhook_bad_header_is_refused(header):
    with pytest.raises(UsageError):
        parse_headers([header])


def test_archive_webhook_mask_url_hides_password_and_query_values():
    assert mask_url("https://u:p@h.example:8443/a?k=v&t=") == "https://u:***@h.example:8443/a?k=***&t=***"
    assert mask_url("https://token@h.example/a") == "https://***@h.example/a"
    assert parse_endpoint("https://u:p@H.example/a?x=1").key == "https://h.example/a?x=1"


def test_archive_webhook_url_and_auth_from_the_configuration(db, server, capsys):
    base, handler = server
    (db.parent / "congvan.toml").write_text(
        f'[export]\nwebhook = "{base}/cfg"\nheaders = {{ Authorization = "Bearer from-config" }}\n', encoding="utf-8")
    assert main(["export", "tasks", "--db", str(db), "--webhook"]) == 0
    assert len(handler.requests) == 4 and {r["path"] for r in handler.requests} == {"/cfg"}
    assert all(r["headers"]["Authorization"] == "Bearer from-config" for r in handler.requests)
    assert "from-config" not in capsys.readouterr().out
