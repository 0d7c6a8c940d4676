"""The archive stores (SQLite and PostgreSQL, the same tests on both): schema versions and migrations,
whole-document transactions, concurrent writers, lookups, row copies, bad files and locations."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from fakes_run import make_result, record_from_case

from pipeline.archive import open_archive
from pipeline.archive import postgres as postgres_module
from pipeline.archive import sqlite as store_module
from pipeline.archive.sqlite import DATABASE_SCHEMA_VERSION, SqliteArchive
from pipeline.archive.store import DOCUMENT_COLUMNS, PART_COLUMNS, TABLES, document_rows, task_uid
from pipeline.errors import ArchiveError, NotFoundError
from pipeline.types import DocumentKind

DOCUMENT = {
    "document": {"code": "18/KH-UBND", "type": "KH", "date": "2020-05-01", "issuer": "UBND HUYỆN HỮU LŨNG"},
    "references": [{"code": "539/QĐ-UBND", "mentions": 2}],
    "places": [{"level": "district", "name": "Hữu Lũng", "province": "Lạng Sơn"}],
    "tasks": [{"id": "1", "text": "Rà soát tiêu chí", "assignees": ["Phòng NN"], "deadline": "2020-06-30"},
              {"id": "2", "text": "Báo cáo kết quả"}],
}
ONE_DOCUMENT = {"documents": 1, "pages": 2, "references": 1, "places": 1, "tasks": 2, "dates": 0}


def _add(archive, sha="a" * 64, pages=("Số: 18/KH-UBND\nnông thôn mới", "trang hai")):
    result = make_result(sha, list(pages), record_from_case(DOCUMENT))
    return archive.add_document(result, name="kh18", kind=DocumentKind.PDF, result_json='{"source": "x"}')


def _fts_consistent(db_path) -> bool:
    with sqlite3.connect(db_path) as db:
        db.execute("INSERT INTO \"page_fts\" (\"page_fts\", \"rank\") VALUES ('integrity-check', 1)")
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _execute(location, statement):
    """Run SQL on an archive behind the store's back (to age or damage it)."""
    if location.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            return db.execute(statement).fetchall() if statement.lstrip().upper().startswith("SELECT") \
                else db.execute(statement)
    with sqlite3.connect(location) as db:
        return db.execute(statement).fetchall()


def _schema_version(location):
    if location.startswith("postgresql://"):
        return _execute(location, 'SELECT "version" FROM "congvan_schema"')[0][0]
    return _execute(location, "PRAGMA user_version")[0][0]


# --------------------------------------------------------------------------- both backends


def test_archive_store_new_archive_has_current_schema(archive_location):
    open_archive(archive_location).close()
    latest = postgres_module.DATABASE_SCHEMA_VERSION if archive_location.startswith("postgresql") \
        else DATABASE_SCHEMA_VERSION
    assert _schema_version(archive_location) == latest
    with open_archive(archive_location) as archive:
        assert archive.table_counts() == dict.fromkeys(TABLES, 0)


def test_archive_store_document_stored_whole(archive_location):
    with open_archive(archive_location) as archive:
        document_id = _add(archive)
        assert archive.page_texts(document_id) == ["Số: 18/KH-UBND\nnông thôn mới", "trang hai"]
        assert archive.load_record(document_id).references[0].code == "539/QĐ-UBND"
        assert archive.load_result(document_id) == ('{"source": "x"}', "Số: 18/KH-UBND\nnông thôn mới\ftrang hai")
        uids = [task["uid"] for task in archive.read_rows(document_id).tasks]
        assert uids == [task_uid("a" * 64, "1"), task_uid("a" * 64, "2")]
        assert archive.table_counts() == ONE_DOCUMENT


def test_archive_store_readding_replaces_without_duplicates(archive_location):
    with open_archive(archive_location) as archive:
        _add(archive)
        _add(archive, pages=("Số: 18/KH-UBND redone",))
        assert archive.count_documents() == 1
        assert archive.table_counts()["pages"] == 1
        assert archive.page_texts(archive.stored_documents().__next__().id) == ["Số: 18/KH-UBND redone"]
    if archive_location.endswith(".db"):
        assert _fts_consistent(archive_location)


def _break_part_inserts(backend, monkeypatch):
    """Make the second table of every document fail to insert, as a full disk would."""
    if backend == "sqlite":
        def broken(*args, **kwargs):
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store_module, "_insert_parts", broken)
    else:
        import psycopg

        real = postgres_module._part_values

        def broken(table, document_id, row):
            if table == "references":
                raise psycopg.errors.DiskFull("could not extend file: disk I/O error")
            return real(table, document_id, row)

        monkeypatch.setattr(postgres_module, "_part_values", broken)


def test_archive_store_failure_mid_document_leaves_nothing(archive_location, backend, monkeypatch):
    with open_archive(archive_location) as archive:
        _add(archive, sha="b" * 64)
        _break_part_inserts(backend, monkeypatch)
        with pytest.raises(ArchiveError, match="disk I/O error"):
            _add(archive, sha="c" * 64)
        with pytest.raises(ArchiveError, match="disk I/O error"):
            _add(archive, sha="b" * 64)  # a failed replacement keeps the stored version
        monkeypatch.undo()
        assert archive.table_counts() == ONE_DOCUMENT
        assert archive.find_document("c" * 64) is None and archive.find_document("b" * 64) is not None
    if backend == "sqlite":
        assert _fts_consistent(archive_location)


def test_archive_store_lookup_by_id_code_and_hash(archive_location):
    with open_archive(archive_location) as archive:
        document_id = _add(archive)
        assert [d.id for d in archive.lookup(str(document_id))] == [document_id]
        assert [d.id for d in archive.lookup("18/kh-ubnd")] == [document_id]
        assert [d.id for d in archive.lookup("18 KH UBND")] == [document_id]
        assert [d.id for d in archive.lookup("aaaaaaaa")] == [document_id]
        assert archive.lookup("19/KH-UBND") == [] and archive.lookup("99999999999999999999999") == []
        assert archive.find_document("a" * 64).name == "kh18"
        with pytest.raises(NotFoundError):
            archive.load_record(999)
        with pytest.raises(NotFoundError):
            archive.read_rows(999)


def test_archive_store_same_number_latest_first_undated_last(archive_location):
    with open_archive(archive_location) as archive:
        for sha, date in (("1" * 64, None), ("2" * 64, "2019-01-01"), ("3" * 64, "2021-01-01")):
            record = record_from_case({"document": {"code": "5/KH-UBND", "date": date}})
            archive.add_document(make_result(sha, ["x"], record), name=sha[:1], kind=DocumentKind.TEXT, result_json="{}")
        assert [d.name for d in archive.lookup("5/KH-UBND")] == ["3", "2", "1"]


def test_archive_store_rows_round_trip_between_backends(archive_location, new_archive):
    """read_rows gives exactly what write_rows stored, on either backend, and the copy has the same digest."""
    result = make_result("e" * 64, ["Số: 18/KH-UBND\nnông thôn mới", "hai"], record_from_case(DOCUMENT))
    rows = document_rows(result, name="kh18", kind=DocumentKind.PDF, result_json='{"a": "ă"}')
    assert set(rows.document) == set(DOCUMENT_COLUMNS)
    assert all(set(row) == set(PART_COLUMNS[table]) for table, table_rows in rows.parts() for row in table_rows)
    with open_archive(archive_location) as archive:
        stored = archive.read_rows(archive.write_rows(rows))
    assert stored == rows and stored.digest() == rows.digest()
    other = "postgres" if archive_location.endswith(".db") else "sqlite"
    with open_archive(new_archive(other)) as copy:
        assert copy.read_rows(copy.write_rows(stored)).digest() == rows.digest()


def test_archive_store_concurrent_writers_leave_each_document_once(archive_location):
    """Four writers, each with its own store, add the same 12 documents in different orders at once."""
    errors = []

    def writer(number):
        try:
            with open_archive(archive_location) as archive:
                for index in sorted(range(12), key=lambda i: (i * (number + 1)) % 12):
                    _add(archive, sha=f"{index:064x}", pages=(f"Số: {index}/KH-UBND", f"trang {number}"))
        except Exception as error:  # reported below: an assertion in a thread would be lost
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_archive(archive_location) as archive:
        counts = archive.table_counts()
        assert counts == {"documents": 12, "pages": 24, "references": 12, "places": 12, "tasks": 24, "dates": 0}
        assert sorted(d.sha256 for d in archive.stored_documents()) == [f"{i:064x}" for i in range(12)]


def test_archive_store_migrations_upgrade_an_existing_archive(archive_location, backend, monkeypatch):
    module = store_module if backend == "sqlite" else postgres_module
    with open_archive(archive_location) as archive:
        _add(archive)
    latest = module.DATABASE_SCHEMA_VERSION
    upgraded = [*module.MIGRATIONS, (latest + 1, ('ALTER TABLE "documents" ADD COLUMN "note" TEXT',
                                                  'UPDATE "documents" SET "note" = \'migrated\''))]
    monkeypatch.setattr(module, "MIGRATIONS", upgraded)
    if backend == "sqlite":
        with sqlite3.connect(archive_location) as db:
            assert module.migrate(db, archive_location, upgraded) == latest + 1
            assert module.migrate(db, archive_location, upgraded) == latest + 1  # applied once
    else:
        import psycopg

        with psycopg.connect(archive_location, autocommit=True) as db:
            assert module.migrate(db, archive_location, upgraded) == latest + 1
            assert module.migrate(db, archive_location, upgraded) == latest + 1
    assert _execute(archive_location, 'SELECT "note", "code" FROM "documents"') == [("migrated", "18/KH-UBND")]


def test_archive_store_refuses_newer_schema(archive_location):
    open_archive(archive_location).close()
    if archive_location.startswith("postgresql://"):
        _execute(archive_location, f'UPDATE "congvan_schema" SET "version" = {postgres_module.DATABASE_SCHEMA_VERSION + 5}')
    else:
        _execute(archive_location, f"PRAGMA user_version = {DATABASE_SCHEMA_VERSION + 5}")
    with pytest.raises(ArchiveError, match="newer than this congvan"):
        open_archive(archive_location)


def test_archive_store_failed_migration_rolls_back(backend, new_archive):
    location = new_archive(backend, schema=False)
    broken = [(1, ('CREATE TABLE "x" ("a" TEXT)', "THIS IS NOT SQL"))]
    if backend == "sqlite":
        db = sqlite3.connect(location, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError):
            store_module.migrate(db, location, broken)
        db.close()
        assert _execute(location, "SELECT count(*) FROM sqlite_master WHERE name = 'x'") == [(0,)]
        assert _schema_version(location) == 0
    else:
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            with pytest.raises(psycopg.errors.SyntaxError):
                postgres_module.migrate(db, location, broken)
            assert postgres_module.schema_version(db) == 0
        assert _execute(location, "SELECT to_regclass('x')::text, to_regclass('congvan_schema')::text") == [(None, None)]


def test_archive_store_missing_archive_for_reading(backend, new_archive, tmp_path):
    if backend == "sqlite":
        location = str(tmp_path / "none.db")
    else:
        empty = new_archive(backend, schema=False)
        with pytest.raises(NotFoundError, match="no congvan archive"):
            open_archive(empty, create=False)
        location = empty.replace("/test_", "/absent_")
    with pytest.raises(NotFoundError):
        open_archive(location, create=False)
    assert not (tmp_path / "none.db").exists()


def test_archive_store_record_round_trip_keeps_task_strings(archive_location):
    with open_archive(archive_location) as archive:
        record = record_from_case({**DOCUMENT, "tasks": [{"id": "1", "text": "x", "places": ["Hòa Lạc"],
                                                          "references": ["539/QĐ-UBND"]}]})
        result = make_result("d" * 64, ["x"], record)
        document_id = archive.add_document(result, name="t", kind=DocumentKind.TEXT, result_json="{}")
        loaded = archive.load_record(document_id)
    assert loaded.tasks[0].places == ["Hòa Lạc"] and loaded.tasks[0].references == ["539/QĐ-UBND"]
    assert loaded.places[0].name == "Hữu Lũng" and loaded.to_dict() == record.to_dict()


# --------------------------------------------------------------------------- SQLite only


def test_archive_store_sqlite_uses_wal(tmp_path):
    with open_archive(tmp_path / "a.db") as archive:
        assert archive.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in archive.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"documents", "pages", "page_fts", "references", "dates", "places", "tasks"} <= tables


def test_archive_store_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ArchiveError) as error:
        open_archive(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("spelling", ["{path}", "sqlite:///{path}"])
def test_archive_store_opens_a_path_or_an_sqlite_url(tmp_path, spelling):
    path = tmp_path / "a.db"
    with open_archive(spelling.format(path=path)) as archive:
        assert isinstance(archive, SqliteArchive) and archive.location == str(path)
    assert path.exists()


@pytest.mark.parametrize("url", ["mysql://x/y", "sqlite://", "mongodb://clerk:secret@localhost/congvan"])
def test_archive_store_unknown_location_is_one_clear_error(tmp_path, url, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchiveError, match="no archive backend") as error:
        open_archive(url)
    assert "secret" not in str(error.value) and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- PostgreSQL only


def test_archive_store_postgres_creates_a_missing_database(postgres_server):
    url = postgres_server.url("made_by_congvan")
    with open_archive(url) as archive:
        assert archive.count_documents() == 0 and archive.location == url
    postgres_server.drop_database(url)


def test_archive_store_postgres_unreachable_server_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(postgres_module, "CONNECT_SECONDS", 2)
    with pytest.raises(ArchiveError, match="cannot connect") as error:
        open_archive("postgresql://clerk:secret@127.0.0.1:9/congvan")
    assert "secret" not in str(error.value) and "***" in str(error.value)
    assert str(error.value).count("\n") == 0


def test_archive_store_postgres_wrong_role_is_one_clear_error(postgres_server):
    with pytest.raises(ArchiveError, match="cannot connect") as error:
        open_archive(postgres_server.url("postgres").replace("postgres@", "nobody_here@"))
    assert "nobody_here" in str(error.value)


def test_archive_store_postgres_does_not_depend_on_server_text_search(new_archive):
    """Indexing and queries use stored tokens only: no text-search configuration or dictionary is consulted,
    so that a server with another default configuration or locale finds the same pages."""
    archive_location = new_archive("postgres")
    database = archive_location.split("?")[0].rsplit("/", 1)[-1]
    _execute(archive_location, f"ALTER DATABASE \"{database}\" SET default_text_search_config = 'pg_catalog.english'")
    with open_archive(archive_location) as archive:
        _add(archive, pages=("The running of the Ủy ban",))
        assert postgres_module.tsvector(["the", "running"]) == "'the':1 'running':2"
        from pipeline.archive.search import search

        assert [hit.id for hit in search(archive, "the running")] != []
        assert [hit.id for hit in search(archive, "uy ban")] != []
