"""The web interface over HTTP (FastAPI TestClient): every page and API route, search and documents, review
and corrections, tasks, intake, accounts and CSRF, escaping of untrusted text, and path traversal."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import web_archive
from conftest import BACKENDS, TEMPLATE
from fakes_run import FAKE_STAGES, write_fake_scan
from fastapi.testclient import TestClient

from pipeline.archive import open_archive
from pipeline.archive.transfer import copy_archive
from pipeline.cli import main
from pipeline.web import WebConfig, create_app
from pipeline.web.auth import hash_password

PASSWORD = "correct horse 1"
USERS = {"ana": "admin", "ed": "editor", "vy": "viewer"}


@pytest.fixture(scope="module")
def archive_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    ids = web_archive.build(folder)
    with open_archive(folder / "archive.db") as store:
        password_hash = hash_password(PASSWORD)
        for name, role in USERS.items():
            store.add_user(name, role, password_hash)
    return folder, ids


@pytest.fixture(scope="module")
def postgres_template(archive_folder, postgres_server):
    """The module's archive migrated once to PostgreSQL (its originals, absolute there, in the module's
    folder), for each PostgreSQL test to copy."""
    folder, _ = archive_folder
    url = postgres_server.create_database("web_http_template", template=TEMPLATE)
    with open_archive(folder / "archive.db") as source, open_archive(url) as target:
        assert copy_archive(source, target).verified
    yield "web_http_template"
    postgres_server.drop_database(url)


@pytest.fixture
def site(archive_folder, tmp_path, request):
    """A fresh copy of the archive's folder per test (the archive keeps the originals inside it relative to
    itself, so the folder moves whole), so that writes do not leak between tests; with `site` parametrized
    "postgres", a fresh copy of the archive in a PostgreSQL database instead."""
    folder, ids = archive_folder
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    db: Path | str = tmp_path / "archive.db"
    server = request.getfixturevalue("postgres_server") if getattr(request, "param", "sqlite") == "postgres" else None
    if server is not None:
        db = server.create_database(f"web_http_{next(_DATABASES)}", template=request.getfixturevalue("postgres_template"))
    config = WebConfig(db=db, uploads=tmp_path / "uploads", max_upload_bytes=200_000, stages=FAKE_STAGES, jobs=1)
    app = create_app(config)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.ids = ids
        client.db = db
        client.config = config
        yield client
    if server is not None:
        server.drop_database(str(db))


_DATABASES = itertools.count(1)
# the tests whose pages and API read or write what the store keeps, on both backends
both_backends = pytest.mark.parametrize("site", BACKENDS, indirect=True)


def login(client: TestClient, name: str) -> str:
    """Log in through the form; return the session's CSRF token."""
    token = login_token(client)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303
    return csrf_of(client)


def login_token(client: TestClient) -> str:
    """The login form's own CSRF token (the page may also hold a logout form with the session's)."""
    form = client.get("/login").text.split('action="/login"')[1]
    return re.search(r'name="csrf" value="([^"]+)"', form).group(1)


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/tasks").text).group(1)


# --------------------------------------------------------------------------- every route answers


READ_ROUTES = [
    "/", "/?q=539%2FQD-UBND", "/?q=nong+thon+moi&sort=date", "/?type=BC&page=2", "/review", "/tasks",
    "/tasks?status=open&assignee=huyen", "/intake", "/history", "/login", "/lang/en?next=/tasks",
    "/api/search?q=539", "/api/search?type=QĐ", "/api/review", "/api/tasks", "/api/openapi.json",
]
DOCUMENT_ROUTES = [
    "/documents/{decision}", "/documents/{decision}?q=n%C3%B4ng+th%C3%B4n&zoom=200", "/documents/{decision}/edit",
    "/documents/{decision}/pages/1.png", "/documents/{decision}/original", "/documents/{decision}/searchable.pdf",
    "/documents/{decision}/record.json", "/documents/{decision}/text.txt", "/api/documents/{decision}",
    "/api/documents/{decision}/record", "/api/documents/{decision}/result", "/api/documents/{decision}/references",
    "/api/documents/{decision}/pages/1?q=539/QĐ-UBND", "/api/documents/{decision}/pages/1.png",
    "/api/documents/{decision}/corrections", "/documents/{other_province}",
]


@pytest.mark.parametrize("route", READ_ROUTES + DOCUMENT_ROUTES)
def test_web_http_every_route_answers(site, route):
    if "/edit" in route:
        login(site, "ed")
    response = site.get(route.format(**site.ids), follow_redirects=False)
    assert response.status_code in (200, 303), response.text[:500]
    assert "server-timing" in response.headers
    assert "default-src 'self'" in response.headers["content-security-policy"]


@both_backends
def test_web_http_downloads_are_what_they_say(site, archive_folder):
    folder, _ = archive_folder
    decision = site.ids["decision"]
    png = site.get(f"/documents/{decision}/pages/1.png")
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    pdf = site.get(f"/documents/{decision}/searchable.pdf")
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["content-disposition"]
    assert site.get(f"/documents/{decision}/original").content == (folder / "qd539_langson.png").read_bytes()
    record = site.get(f"/documents/{decision}/record.json").json()
    assert record["record"]["document"]["code"] == "539/QĐ-UBND"
    assert "nông thôn mới" in site.get(f"/documents/{decision}/text.txt").text


def test_web_http_unknown_things_are_404(site):
    for route in ("/documents/999999", "/documents/999999/pages/1.png", "/api/documents/999999",
                  f"/documents/{site.ids['decision']}/pages/9.png", "/nope", "/tasks/export.exe",
                  f"/documents/{site.ids['other_province']}/searchable.pdf", "/lang/fr"):
        assert site.get(route).status_code == 404, route
    assert site.get("/api/documents/999999").json()["error"] == "error.not_found"


# --------------------------------------------------------------------------- search


def test_web_http_search_by_reference_in_any_spelling(site):
    for query in ("539/QĐ-UBND", "539/QD-UBND", "539 qd ubnd"):
        results = site.get("/api/search", params={"q": query}).json()["results"]
        assert [r["id"] for r in results[:2]] == [site.ids["other_province"], site.ids["decision"]]
        assert results[2]["id"] == site.ids["letter"] and results[2]["hit"]["match"] == "cited"
    page = site.get("/", params={"q": "539/QD-UBND"}).text
    # year and issuer in every hit
    assert "02/04/2020" in page and "ỦY BAN NHÂN DÂN TỈNH LẠNG SƠN" in page and "UBND TỈNH NGHỆ AN" in page
    assert "<mark>539/QĐ-UBND</mark>" in page


def test_web_http_search_text_without_diacritics_highlights(site):
    page = site.get("/", params={"q": "nong thon moi"}).text
    assert page.count('class="hit"') >= 2 and "<mark>nông</mark> <mark>thôn</mark> <mark>mới</mark>" in page


@both_backends
def test_web_http_search_filters_facets_sort_and_pages(site):
    data = site.get("/api/search", params={"type": "BC"}).json()
    assert data["total"] == web_archive.FILLER_COUNT and data["pages"] == 2 and len(data["results"]) == 20
    assert data["results"][0]["date"] == "2019-01-24"  # browsing: newest first
    second = site.get("/api/search", params={"type": "BC", "page": 2}).json()
    assert len(second["results"]) == web_archive.FILLER_COUNT - 20
    facets = site.get("/api/search").json()["facets"]
    assert ["BC", web_archive.FILLER_COUNT] in facets["types"] and facets["with_tasks"] == 2
    assert facets["needs_review"] == 1
    by_date = site.get("/api/search", params={"q": "báo cáo tuần", "sort": "date"}).json()["results"]
    dates = [r["date"] for r in by_date]
    assert dates == sorted(dates, reverse=True) and len(by_date) == 20
    assert site.get("/api/search", params={"q": "539", "from": "2020-05-01"}).json()["results"][0]["id"] == \
        site.ids["other_province"]
    assert site.get("/api/search", params={"review": "yes"}).json()["results"][0]["id"] == site.ids["review"]
    assert {r["id"] for r in site.get("/api/search", params={"tasks": "yes"}).json()["results"]} == \
        {site.ids["letter"], site.ids["hostile"]}
    html = site.get("/", params={"type": "BC", "page": 2}).text
    assert 'rel="prev"' in html and html.count('class="hit"') == web_archive.FILLER_COUNT - 20


def test_web_http_search_pages_on_past_the_first_window(site, monkeypatch):
    monkeypatch.setattr("pipeline.web.views.SEARCH_WINDOW", 10)  # fewer than the filler documents
    first = site.get("/", params={"q": "báo cáo tuần"}).text
    assert first.count('class="hit"') == 20 and 'rel="next"' in first
    second = site.get("/", params={"q": "báo cáo tuần", "page": 2}).text
    assert second.count('class="hit"') == web_archive.FILLER_COUNT - 20 and 'rel="next"' not in second


@pytest.mark.parametrize(("params", "says"), [
    ({"q": "x" * 257}, "Câu tìm quá dài"), ({"q": " ".join(["w"] * 17)}, "Quá nhiều từ trong câu tìm"),
    ({"q": "-tỉnh NOT huyện"}, "ít nhất một từ không bị loại trừ"), ({"q": "n*"}, "tiền tố"),
    ({"from": "15/4/2020"}, "Ngày không hợp lệ"), ({"page": "0"}, "Số không hợp lệ"), ({"page": "abc"}, "Số không hợp lệ"),
])
def test_web_http_bad_search_input_is_a_clear_400(site, params, says):
    """The archive's own query bounds and syntax (archive/query.py), said in the interface's words, the form kept."""
    page = site.get("/", params=params)
    assert page.status_code == 400 and says in page.text and 'name="q"' in page.text
    response = site.get("/api/search", params=params)
    assert response.status_code in (400, 422) and "message" in response.json()


@both_backends
def test_web_http_query_in_decomposed_unicode_finds_the_same(site):
    import unicodedata

    nfd = unicodedata.normalize("NFD", "nông thôn mới")
    assert [r["id"] for r in site.get("/api/search", params={"q": nfd}).json()["results"]] == \
        [r["id"] for r in site.get("/api/search", params={"q": "nông thôn mới"}).json()["results"]]


# --------------------------------------------------------------------------- documents


def test_web_http_document_boxes_the_hit(site):
    decision = site.ids["decision"]
    page = site.get(f"/documents/{decision}", params={"q": "539/QD-UBND"}).text
    assert len(re.findall(r'<rect class="hit-box"', page)) == 1
    page = site.get(f"/documents/{decision}", params={"q": "nong thon moi"}).text
    assert len(re.findall(r'<rect class="hit-box"', page)) == 9  # three words on three lines
    api = site.get(f"/api/documents/{decision}/pages/1", params={"q": "539/QĐ-UBND"}).json()
    assert len(api["boxes"]) == 1 and api["width"] == 1240


@both_backends
def test_web_http_references_resolved_by_code_year_and_issuer(site):
    letter = site.ids["letter"]
    page = site.get(f"/documents/{letter}").text
    refs = page.split('class="grid refs"')[1].split("</table>")[0]
    assert f'href="/documents/{site.ids["decision"]}"' in refs
    assert f'href="/documents/{site.ids["other_province"]}"' not in refs
    assert "Không có trong kho" in refs  # 01/BCĐTW-VPĐP
    cited = site.get(f"/documents/{site.ids['decision']}").text.split("Được dẫn chiếu bởi")[1]
    assert f"/documents/{letter}" in cited.split("</ul>")[0]
    assert "Chưa văn bản nào" in site.get(f"/documents/{site.ids['other_province']}").text
    data = site.get(f"/api/documents/{letter}/references").json()
    assert [(r["code"], r["status"]) for r in data["references"]] == [("539/QĐ-UBND", "found"),
                                                                      ("01/BCĐTW-VPĐP", "not_in_archive")]


def test_web_http_api_record_is_the_cli_record(site, capsys):
    decision = site.ids["decision"]
    assert main(["show", str(decision), "--db", str(site.db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    api = site.get(f"/api/documents/{decision}").json()
    assert {k: api[k] for k in shown} == shown


def test_web_http_new_record_fields_are_shown(site):
    with sqlite3.connect(site.db) as db:
        db.execute("""UPDATE "documents" SET "record" = json_set("record",
                      '$.document.received', json('{"number": "88", "date": "2020-04-20"}'),
                      '$.signatures', json('[{"signer": "Sở Nội vụ", "valid": true}]')) WHERE "id" = ?""",
                   (site.ids["decision"],))
    page = site.get(f"/documents/{site.ids['decision']}").text
    assert "Dấu đến" in page and "88" in page and "Chữ ký số" in page and "Sở Nội vụ" in page


# --------------------------------------------------------------------------- escaping


def test_web_http_untrusted_text_is_escaped_everywhere(site):
    hostile = site.ids["hostile"]
    pages = [site.get("/", params={"q": "alert"}).text, site.get("/", params={"q": "7/TB-UBND"}).text,
             site.get(f"/documents/{hostile}", params={"q": "script"}).text, site.get("/tasks").text,
             site.get("/", params={"q": "<script>alert(1)</script>"}).text, site.get("/api/search?q=alert").text]
    login(site, "ed")
    pages.append(site.get(f"/documents/{hostile}/edit").text)
    for page in pages[:5] + pages[6:]:
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &#34;quoted&#34;" in pages[2]
    assert "hop&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[2]
    assert site.get("/api/search?q=alert").headers["content-type"].startswith("application/json")
    disposition = site.get(f"/documents/{hostile}/original").headers["content-disposition"]
    assert "<" not in disposition and '"><' not in disposition and "\n" not in disposition


def test_web_http_uploaded_file_name_is_escaped(site):
    csrf = login(site, "ed")
    name = '<script>alert(1)</script>".txt'
    response = site.post("/intake", data={"csrf": csrf}, files={"files": (name, b"", "text/plain")},
                         follow_redirects=False)
    assert response.status_code == 303
    page = site.get("/intake").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --------------------------------------------------------------------------- traversal


@pytest.mark.parametrize("route", [
    "/documents/1/pages/..%2f..%2f..%2fetc%2fpasswd", "/documents/..%2f..%2fetc%2fpasswd/original",
    "/static/..%2f..%2f..%2fpyproject.toml", "/static/../../pyproject.toml", "/documents/1/pages/%2e%2e.png",
    "/documents/1/original/../../../../etc/passwd", "/api/documents/1%2f..%2f..%2fetc/record",
    "/tasks/export.csv%2f..%2f..%2fetc%2fpasswd", "/static/%2e%2e/%2e%2e/app.py",
])
def test_web_http_routes_serve_nothing_outside_the_archive(site, route):
    response = site.get(route)
    assert response.status_code in (400, 404, 405, 422)
    assert "root:" not in response.text and "[project]" not in response.text and "create_app" not in response.text


def test_web_http_swapped_original_is_not_served(site, archive_folder):
    _, ids = archive_folder
    source = site.db.parent / "thongbao_mo.png"  # the site's copy of the archive folder
    backup = source.read_bytes()
    try:
        source.unlink()
        source.symlink_to("/etc/passwd")
        for route in (f"/documents/{ids['review']}/original", f"/documents/{ids['review']}/pages/1.png"):
            response = site.get(route)
            assert response.status_code == 404 and "root:" not in response.text
    finally:
        source.unlink()
        source.write_bytes(backup)


# --------------------------------------------------------------------------- accounts and CSRF


def test_web_http_nothing_is_writable_anonymously(site):
    decision = site.ids["decision"]
    uid = site.get("/api/tasks").json()["tasks"][0]["uid"]
    attempts = [(f"/documents/{decision}/edit", {"code": "1/X-Y"}), (f"/documents/{decision}/confirm", {"field": "code"}),
                (f"/tasks/{uid}/status", {"status": "done"}), ("/intake", {}), ("/users", {"name": "x"}),
                ("/logout", {})]
    for route, data in attempts:
        response = site.post(route, data=data, follow_redirects=False)
        assert response.status_code in (401, 403), route
    assert site.post(f"/api/documents/{decision}/corrections",
                     json={"field": "code", "value": "1/X-Y"}).status_code == 401
    assert site.post(f"/api/tasks/{uid}/status", json={"status": "done"}).status_code == 401
    with open_archive(site.db) as store:
        assert store.recent_corrections(5) == [] and {row.status for row in store.tasks()} == {"open"}


def test_web_http_roles_and_csrf(site):
    decision = site.ids["decision"]
    csrf = login(site, "vy")
    assert site.post(f"/documents/{decision}/edit", data={"csrf": csrf, "subject": "x"}).status_code == 403
    assert site.get("/users").status_code == 403
    csrf = login(site, "ed")
    assert site.post(f"/documents/{decision}/edit", data={"subject": "x"}).status_code == 403  # no token
    assert site.post(f"/documents/{decision}/edit", data={"csrf": "forged", "subject": "x"}).status_code == 403
    assert site.post(f"/documents/{decision}/edit", data={"csrf": csrf, "subject": "x"},
                     headers={"Origin": "http://evil.example"}).status_code == 403
    response = site.post(f"/documents/{decision}/edit", data={"csrf": csrf, "subject": "Giao chỉ tiêu"},
                         follow_redirects=False)
    assert response.status_code == 303
    with open_archive(site.db) as store:
        [change] = store.corrections(decision)
    assert (change.field, change.new, change.user) == ("subject", "Giao chỉ tiêu", "ed")


def test_web_http_login_failures_logout_and_redirects(site):
    token = login_token(site)
    bad = {"name": "ed", "password": "wrong password", "csrf": token, "next": "/"}
    assert site.post("/login", data=bad).status_code == 401
    assert site.post("/login", data={**bad, "csrf": "other"}).status_code == 403  # login CSRF
    response = site.post("/login", data={**bad, "password": PASSWORD, "next": "//evil.example/x"},
                         follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie_header = response.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "samesite=lax" in cookie_header.lower()
    cookie = site.cookies.get("congvan_session")
    csrf = csrf_of(site)
    assert site.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    site.cookies.set("congvan_session", cookie)  # a logged-out session cookie is worthless
    assert site.post(f"/documents/{site.ids['decision']}/edit", data={"csrf": csrf}).status_code == 401
    assert site.get("/lang/en", params={"next": "https://evil.example"},
                    follow_redirects=False).headers["location"] == "/"


def test_web_http_password_guessing_is_braked(site):
    token = login_token(site)
    statuses = [site.post("/login", data={"name": "ana", "password": f"guess{n}", "csrf": token}).status_code
                for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    good = site.post("/login", data={"name": "ana", "password": PASSWORD, "csrf": token}, follow_redirects=False)
    assert good.status_code == 429


def test_web_http_login_required_mode(archive_folder, tmp_path):
    folder, _ = archive_folder
    db = tmp_path / "archive.db"
    shutil.copy(folder / "archive.db", db)
    with TestClient(create_app(WebConfig(db=db, login_required=True, intake_worker=False))) as client:
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
        assert client.get("/api/search").status_code == 401
        assert client.get("/static/app.css").status_code == 200
        login(client, "vy")
        assert client.get("/").status_code == 200


@both_backends
def test_web_http_admin_adds_users(site):
    csrf = login(site, "ana")
    assert site.post("/users", data={"csrf": csrf, "name": "mai", "role": "editor",
                                     "password": "short"}).status_code == 400
    response = site.post("/users", data={"csrf": csrf, "name": "mai", "role": "editor", "password": "long enough 1"},
                         follow_redirects=False)
    assert response.status_code == 303
    with open_archive(site.db) as store:
        user = store.user("mai")
    assert user.role == "editor" and user.password_hash.startswith("$argon2")


# --------------------------------------------------------------------------- review and corrections


@both_backends
def test_web_http_review_queue_confirm_and_correct(site):
    review = site.ids["review"]
    queue = site.get("/review").text
    assert f"/documents/{review}" in queue and "Số đọc chưa chắc" in queue and "Thiếu ngày" in queue
    csrf = login(site, "ed")
    assert site.post(f"/documents/{review}/confirm", data={"csrf": csrf, "field": "code", "next": "/review"},
                     follow_redirects=False).status_code == 303
    assert "Số đọc chưa chắc" not in site.get("/review").text
    site.post(f"/documents/{review}/edit", data={"csrf": csrf, "code": "18/TB-UBND", "date": "2021-03-04",
                                                 "signer.name": "Vi Văn Tư"})
    assert site.get("/api/review").json()["total"] == 0
    hits = site.get("/api/search", params={"q": "18 tb ubnd"}).json()["results"]
    assert hits[0]["id"] == review and hits[0]["hit"]["match"] == "issued"
    history = site.get(f"/api/documents/{review}/corrections").json()
    assert [(c["field"], c["old"], c["new"]) for c in history] == [
        ("confirmed:code", "17/TB-UBND", "17/TB-UBND"), ("code", "17/TB-UBND", "18/TB-UBND"),
        ("date", None, "2021-03-04"), ("signer.name", None, "Vi Văn Tư")]
    assert "18/TB-UBND" in site.get("/history").text


def test_web_http_invalid_correction_is_shown_not_stored(site):
    csrf = login(site, "ed")
    decision = site.ids["decision"]
    response = site.post(f"/documents/{decision}/edit", data={"csrf": csrf, "date": "2 tháng 4"})
    assert response.status_code == 400 and "ISO date" in response.text
    response = site.post(f"/api/documents/{decision}/corrections", json={"field": "sha256", "value": "x"},
                         headers={"X-CSRF-Token": csrf})
    assert response.status_code == 400 and "not a correctable field" in response.json()["detail"]
    assert site.get(f"/api/documents/{decision}/corrections").json() == []


@both_backends
def test_web_http_api_session_corrections_and_tasks(site):
    session = site.post("/api/session", json={"name": "ed", "password": PASSWORD}).json()
    decision = site.ids["decision"]
    body = {"field": "code", "value": "540/QĐ-UBND"}
    assert site.post(f"/api/documents/{decision}/corrections", json=body).status_code == 403
    response = site.post(f"/api/documents/{decision}/corrections", json=body, headers={"X-CSRF-Token": session["csrf"]})
    assert response.status_code == 201 and response.json()["old"] == "539/QĐ-UBND"
    assert site.get(f"/api/documents/{decision}/record").json()["document"]["number"] == "540"
    uid = site.get("/api/tasks", params={"document": site.ids["letter"]}).json()["tasks"][0]["uid"]
    response = site.post(f"/api/tasks/{uid}/status", json={"status": "done"}, headers={"X-CSRF-Token": session["csrf"]})
    assert response.json()["new"] == "done"
    assert site.get("/api/tasks", params={"status": "done"}).json()["tasks"][0]["uid"] == uid
    assert site.get(f"/api/tasks/{uid}/history").json()[0]["user"] == "ed"
    assert site.post("/api/session", json={"name": "ed", "password": "nope"}).status_code == 401


# --------------------------------------------------------------------------- tasks


@both_backends
def test_web_http_tasks_board_filters_status_and_exports(site):
    letter = site.ids["letter"]
    board = site.get("/tasks", params={"assignee": "huyen"}).text
    assert "Rà soát các tiêu chí" in board and "Báo cáo kết quả" not in board
    assert "Quá hạn" in site.get("/tasks").text  # 2020 deadlines, still open
    csrf = login(site, "ed")
    uid = site.get("/api/tasks", params={"document": letter}).json()["tasks"][0]["uid"]
    response = site.post(f"/tasks/{uid}/status", data={"csrf": csrf, "status": "done", "next": "/tasks?status=done"},
                         follow_redirects=False)
    assert response.headers["location"] == "/tasks?status=done"
    assert "Rà soát các tiêu chí" in site.get("/tasks", params={"status": "done"}).text
    exported = site.get("/tasks/export.csv", params={"document": letter})
    assert exported.text.startswith("\ufeff")  # Excel's UTF-8 CSV
    rows = list(csv.DictReader(io.StringIO(exported.text.removeprefix("\ufeff"))))
    assert [(r["task_id"], r["status"]) for r in rows] == [("1", "done"), ("2", "open")]
    ics = site.get("/tasks/export.ics", params={"status": "done"}).text
    assert ics.count("BEGIN:VTODO") == 1 and "STATUS:COMPLETED" in ics
    assert site.get("/tasks", params={"status": "closed"}).status_code == 400


# --------------------------------------------------------------------------- intake


def _wait_for_jobs(client: TestClient, count: int, seconds: float = 90.0) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open_archive(client.db) as store:
            jobs = store.intake_jobs(10)
        if len(jobs) >= count and all(job.status not in ("queued", "running") for job in jobs):
            return [vars(job) for job in jobs]
        time.sleep(0.2)
    raise AssertionError("the intake worker did not finish")


@both_backends
def test_web_http_intake_processes_uploads_and_lists_failures(site, tmp_path):
    csrf = login(site, "ed")
    good = write_fake_scan(tmp_path / "scan.pdf", ["Số: 31/KH-UBND\nKế hoạch nông thôn mới"])
    files = [("files", ("scan.pdf", good.read_bytes(), "application/pdf")),
             ("files", ("broken.pdf", b"FAKESCAN{not json", "application/pdf")),
             ("files", ("../../etc/evil.pdf", b"", "application/pdf"))]
    assert site.post("/intake", data={"csrf": csrf}, files=files, follow_redirects=False).status_code == 303
    jobs = {job["name"]: job for job in _wait_for_jobs(site, 3)}
    assert jobs["scan.pdf"]["status"] == "done" and jobs["scan.pdf"]["document_id"]
    assert jobs["broken.pdf"]["status"] == "failed" and "[E102]" in jobs["broken.pdf"]["message"]
    assert "\n" not in jobs["broken.pdf"]["message"] and "broken.pdf" in jobs["broken.pdf"]["message"]
    assert jobs["../../etc/evil.pdf"]["status"] == "failed" and "[E101]" in jobs["../../etc/evil.pdf"]["message"]
    saved = Path(jobs["../../etc/evil.pdf"]["path"])
    assert saved.parent.parent == site.config.upload_dir and saved.name == "evil.pdf"
    page = site.get("/intake").text
    assert "[E102]" in page and f'/documents/{jobs["scan.pdf"]["document_id"]}' in page
    hits = site.get("/api/search", params={"q": "31/KH-UBND"}).json()["results"]
    assert hits[0]["id"] == jobs["scan.pdf"]["document_id"]


def test_web_http_upload_size_is_limited(site):
    csrf = login(site, "ed")
    big = b"x" * (site.config.max_upload_bytes + 10)
    response = site.post("/intake", data={"csrf": csrf}, files={"files": ("big.txt", big, "text/plain")})
    assert response.status_code == 413
    with open_archive(site.db) as store:
        assert store.intake_jobs(5) == []
    assert not any(site.config.upload_dir.rglob("big.txt"))


# --------------------------------------------------------------------------- language


def test_web_http_english_switch(site):
    assert "Tìm kiếm" in site.get("/").text
    response = site.get("/lang/en", params={"next": "/tasks"}, follow_redirects=False)
    assert response.headers["location"] == "/tasks"
    page = site.get("/tasks").text
    assert 'lang="en"' in page and "Tasks" in page and "Nhiệm vụ" not in page
    assert "Not found." in site.get("/documents/999999").text
