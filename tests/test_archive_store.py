"""The SQLite store: schema versions and migrations, whole-document transactions, lookups, bad files, locations."""

from __future__ import annotations

import sqlite3

import pytest
from fakes_run import make_result, record_from_case

from pipeline.archive import open_archive
from pipeline.archive import sqlite as store_module
from pipeline.archive.sqlite import DATABASE_SCHEMA_VERSION, SqliteArchive
from pipeline.archive.store import task_uid
from pipeline.errors import ArchiveError, NotFoundError
from pipeline.types import DocumentKind

DOCUMENT = {
    "document": {"code": "18/KH-UBND", "type": "KH", "date": "2020-05-01", "issuer": "UBND HUYỆN HỮU LŨNG"},
    "references": [{"code": "539/QĐ-UBND", "mentions": 2}],
    "places": [{"level": "district", "name": "Hữu Lũng", "province": "Lạng Sơn"}],
    "tasks": [{"id": "1", "text": "Rà soát tiêu chí", "assignees": ["Phòng NN"], "deadline": "2020-06-30"},
              {"id": "2", "text": "Báo cáo kết quả"}],
}


def _add(archive, sha="a" * 64, pages=("Số: 18/KH-UBND\nnông thôn mới", "trang hai")):
    result = make_result(sha, list(pages), record_from_case(DOCUMENT))
    return archive.add_document(result, name="kh18", kind=DocumentKind.PDF, result_json='{"source": "x"}')


def _counts(db_path):
    with sqlite3.connect(db_path) as db:
        return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in ("documents", "pages", "references", "places", "tasks", "dates")}


def _fts_consistent(db_path) -> bool:
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO \"page_fts\" (\"page_fts\", \"rank\") VALUES ('integrity-check', 1)")
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_archive_store_new_archive_has_current_schema_and_wal(fresh_archive):
    assert fresh_archive.connection.execute("PRAGMA user_version").fetchone()[0] == DATABASE_SCHEMA_VERSION
    assert fresh_archive.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {row[0] for row in fresh_archive.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"documents", "pages", "page_fts", "references", "dates", "places", "tasks"} <= tables


def test_archive_store_document_stored_whole(fresh_archive):
    document_id = _add(fresh_archive)
    assert fresh_archive.page_texts(document_id) == ["Số: 18/KH-UBND\nnông thôn mới", "trang hai"]
    assert fresh_archive.load_record(document_id).references[0].code == "539/QĐ-UBND"
    assert fresh_archive.load_result(document_id) == ('{"source": "x"}', "Số: 18/KH-UBND\nnông thôn mới\ftrang hai")
    uids = [row[0] for row in fresh_archive.connection.execute('SELECT "uid" FROM "tasks" ORDER BY "id"')]
    assert uids == [task_uid("a" * 64, "1"), task_uid("a" * 64, "2")]
    assert _counts(fresh_archive.location) == {"documents": 1, "pages": 2, "references": 1, "places": 1,
                                               "tasks": 2, "dates": 0}


def test_archive_store_readding_replaces_without_duplicates(fresh_archive):
    _add(fresh_archive)
    _add(fresh_archive, pages=("Số: 18/KH-UBND redone",))
    assert fresh_archive.count_documents() == 1
    assert _counts(fresh_archive.location)["pages"] == 1
    assert _fts_consistent(fresh_archive.location)


def test_archive_store_failure_mid_document_leaves_nothing(fresh_archive, monkeypatch):
    _add(fresh_archive, sha="b" * 64)

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_module, "_insert_parts", broken)
    with pytest.raises(ArchiveError, match="disk I/O error"):
        _add(fresh_archive, sha="c" * 64)
    assert _counts(fresh_archive.location) == {"documents": 1, "pages": 2, "references": 1, "places": 1,
                                               "tasks": 2, "dates": 0}
    assert _fts_consistent(fresh_archive.location)


def test_archive_store_lookup_by_id_code_and_hash(fresh_archive):
    document_id = _add(fresh_archive)
    assert [d.id for d in fresh_archive.lookup(str(document_id))] == [document_id]
    assert [d.id for d in fresh_archive.lookup("18/kh-ubnd")] == [document_id]
    assert [d.id for d in fresh_archive.lookup("18 KH UBND")] == [document_id]
    assert [d.id for d in fresh_archive.lookup("aaaaaaaa")] == [document_id]
    assert fresh_archive.lookup("19/KH-UBND") == []
    assert fresh_archive.find_document("a" * 64).name == "kh18"
    with pytest.raises(NotFoundError):
        fresh_archive.load_record(999)


def test_archive_store_migrations_upgrade_an_existing_archive(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    with open_archive(path) as archive:
        _add(archive)
    upgraded = [*store_module.MIGRATIONS, (DATABASE_SCHEMA_VERSION + 1, ('ALTER TABLE "documents" ADD COLUMN "note" TEXT',
                                                                'UPDATE "documents" SET "note" = \'migrated\''))]
    monkeypatch.setattr(store_module, "MIGRATIONS", upgraded)
    with sqlite3.connect(path) as db:
        assert store_module.migrate(db, path, upgraded) == DATABASE_SCHEMA_VERSION + 1
        assert db.execute('SELECT "note", "code" FROM "documents"').fetchall() == [("migrated", "18/KH-UBND")]
        # applied once: running again changes nothing
        assert store_module.migrate(db, path, upgraded) == DATABASE_SCHEMA_VERSION + 1


def test_archive_store_refuses_newer_schema(tmp_path):
    path = tmp_path / "a.db"
    open_archive(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {DATABASE_SCHEMA_VERSION + 5}")
    with pytest.raises(ArchiveError, match="newer than this congvan"):
        open_archive(path)


def test_archive_store_failed_migration_rolls_back(tmp_path):
    path = tmp_path / "a.db"
    broken = [(1, ('CREATE TABLE "x" ("a")', "THIS IS NOT SQL"))]
    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        store_module.migrate(db, path, broken)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'x'").fetchone()[0] == 0
    db.close()


def test_archive_store_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError) as error:
        open_archive(path)
    assert str(path) in str(error.value)


def test_archive_store_missing_archive_for_reading(tmp_path):
    with pytest.raises(NotFoundError):
        open_archive(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_archive_store_record_round_trip_keeps_task_strings(fresh_archive):
    record = record_from_case({**DOCUMENT, "tasks": [{"id": "1", "text": "x", "places": ["Hòa Lạc"],
                                                      "references": ["539/QĐ-UBND"]}]})
    result = make_result("d" * 64, ["x"], record)
    document_id = fresh_archive.add_document(result, name="t", kind=DocumentKind.TEXT, result_json="{}")
    loaded = fresh_archive.load_record(document_id)
    assert loaded.tasks[0].places == ["Hòa Lạc"] and loaded.tasks[0].references == ["539/QĐ-UBND"]
    assert loaded.places[0].name == "Hữu Lũng" and loaded.to_dict() == record.to_dict()


@pytest.mark.parametrize("spelling", ["{path}", "sqlite:///{path}"])
def test_archive_store_opens_a_path_or_an_sqlite_url(tmp_path, spelling):
    path = tmp_path / "a.db"
    with open_archive(spelling.format(path=path)) as archive:
        assert isinstance(archive, SqliteArchive) and archive.location == str(path)
    assert path.exists()


@pytest.mark.parametrize("url", ["postgresql://clerk@localhost/congvan", "mysql://x/y", "sqlite://"])
def test_archive_store_unknown_location_is_one_clear_error(tmp_path, url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchiveError, match="no archive backend") as error:
        open_archive(url)
    assert url in str(error.value) and list(tmp_path.iterdir()) == []
