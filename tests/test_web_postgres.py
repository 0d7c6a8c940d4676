"""The web interface and its accounts over a PostgreSQL archive: the web test archive migrated to the server,
then searched, read, corrected and re-processed through the interface and the command line."""

from __future__ import annotations

import pytest
import web_archive
from fakes_run import FAKE_STAGES
from fastapi.testclient import TestClient

from pipeline.archive import open_archive
from pipeline.archive.transfer import copy_archive
from pipeline.cli import main
from pipeline.errors import UsageError
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
        assert client.get("/api/search", params={"q": "nong thon moi"}).json()["results"]
    with open_archive(url) as store:
        store.add_correction(document_id, "date", "2020-04-03", user="lan")
        assert [c.field for c in store.corrections(document_id)] == ["date"]
        assert store.load_record(document_id).document.date == "2020-04-03"
    assert main(["user", "list", "--db", url]) == 0
    assert capsys.readouterr().out.startswith("lan\teditor\t")


def test_web_postgres_needs_an_uploads_folder(new_archive):
    with pytest.raises(UsageError, match="--uploads"):  # a server archive has no folder to put them beside
        _ = WebConfig(db=new_archive("postgres")).upload_dir
