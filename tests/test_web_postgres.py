"""The web interface and its accounts over a PostgreSQL archive: the web test archive migrated to the server,
then searched, read, corrected and re-processed through the interface and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import web_archive
from fakes_run import FAKE_STAGES, make_result, record_from_case
from fastapi.testclient import TestClient

from pipeline.archive import open_archive
from pipeline.archive.transfer import copy_archive
from pipeline.cli import main
from pipeline.errors import UsageError
from pipeline.types import DocumentKind
from pipeline.web import WebConfig, create_app
from pipeline.web.auth import hash_password


def _postgres_copy(tmp_path, new_archive) -> str:
    web_archive.build(tmp_path)
    url = new_archive("postgres")
    with open_archive(tmp_path / "archive.db") as source, open_archive(url) as target:
        assert copy_archive(source, target).verified
    return url


def test_web_postgres_search_document_and_correction(tmp_path, new_archive, capsys):
    url = _postgres_copy(tmp_path, new_archive)
    with open_archive(url) as store:
        store.add_user("lan", "editor", hash_password("long password 1"))
    config = WebConfig(db=url, uploads=tmp_path / "uploads", stages=FAKE_STAGES, intake_worker=False)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        found = client.get("/api/search", params={"q": "539 qd ubnd"}).json()["results"]
        assert found[0]["code"] == "539/QĐ-UBND"
        document_id = found[0]["id"]
        assert client.get(f"/documents/{document_id}").status_code == 200
        # the original, stored relative to the SQLite archive's folder, made absolute on the server
        original = client.get(f"/documents/{document_id}/original")
        assert found[0]["source"] == str(tmp_path / Path(found[0]["source"]).name)
        assert original.status_code == 200 and original.content == Path(found[0]["source"]).read_bytes()
        assert client.get("/api/search", params={"q": "nong thon moi"}).json()["results"]
        # the query syntax and browsing by filters alone, as on SQLite
        syntax = client.get("/api/search", params={"q": "thôn* -nông"}).json()  # "thông báo", not "nông thôn"
        assert [r["code"] for r in syntax["results"]] == ["17/TB-UBND"]
        either = client.get("/api/search", params={"q": '"xyzzy" OR "nông thôn"'}).json()
        assert sorted(r["code"] for r in either["results"]) == ["112/VPĐP-NTM", "539/QĐ-UBND"]
        browsed = client.get("/api/search", params={"from": "2000-01-01"}).json()
        dates = [r["date"] for r in browsed["results"]]
        assert dates and dates == sorted(dates, reverse=True)
    with open_archive(url) as store:
        store.add_correction(document_id, "date", "2020-04-03", user="lan")
        assert [c.field for c in store.corrections(document_id)] == ["date"]
        assert store.load_record(document_id).document.date == "2020-04-03"
    assert main(["user", "list", "--db", url]) == 0
    assert capsys.readouterr().out.startswith("lan\teditor\t")


def test_web_postgres_needs_an_uploads_folder(new_archive):
    with pytest.raises(UsageError, match="--uploads"):  # a server archive has no folder to put them beside
        _ = WebConfig(db=new_archive("postgres")).upload_dir


def test_web_postgres_migrate_carries_corrections_task_status_and_users(tmp_path, new_archive, capsys):
    """What people did goes along with the documents, both ways, and still wins over re-processing there."""
    web_archive.build(tmp_path)
    sqlite_path = str(tmp_path / "archive.db")
    with open_archive(sqlite_path) as store:
        decision = next(d for d in store.stored_documents() if d.code == "539/QĐ-UBND")
        store.add_correction(decision.id, "subject", "Giao chỉ tiêu nông thôn mới", user="lan")
        uid = next(store.tasks()).uid
        store.set_task_status(uid, "done", user="lan")
        store.add_user("lan", "editor", hash_password("long password 1"))
        store.record_delivery("https://tracker.example/hook", uid, "digest-1")
        expected = store.human_work()
        relative = decision.source
    assert not relative.startswith("/")  # the original lies in the archive's folder
    url = new_archive("postgres")
    back = str(tmp_path / "back.db")
    assert main(["migrate", "--from", sqlite_path, "--to", url]) == 0
    assert "1 corrections, 1 task status, 1 task changes, 1 users, 1 deliveries" in capsys.readouterr().out
    assert main(["migrate", "--from", url, "--to", back]) == 0
    for location, source in ((url, str(tmp_path / relative)), (back, relative)):
        with open_archive(location) as store:
            assert store.human_work() == expected
            assert store.deliveries("https://tracker.example/hook") == {uid: "digest-1"}
            assert [d.source for d in store.stored_documents() if d.sha256 == decision.sha256] == [source]
            copied = store.find_document(decision.sha256)
            assert copied is not None and store.load_record(copied.id).document.subject == "Giao chỉ tiêu nông thôn mới"
            rows = store.read_rows(copied.id)
            result = make_result(decision.sha256, [page["text"] for page in rows.pages], record_from_case(
                {"document": {"code": "539/QĐ-UBND", "subject": "re-extracted"}}), decision.source)
            assert store.add_document(result, name=decision.name, kind=DocumentKind.IMAGE, result_json="{}") == copied.id
            assert store.load_record(copied.id).document.subject == "Giao chỉ tiêu nông thôn mới"
            assert [row.status for row in store.tasks() if row.uid == uid] == ["done"]
