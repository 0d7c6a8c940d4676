"""The SQLite archive store: versioned schema and migrations, one transaction per document, FTS5 page index,
and every query of the archive (the only module of congvan that holds SQL)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.archive import store
from pipeline.archive.normalize import code_key
from pipeline.archive.store import (
    DOCUMENT_COLUMNS,
    PART_COLUMNS,
    TABLES,
    Citation,
    DocumentRows,
    DocumentSummary,
    IssuedDocument,
    PageMatch,
    SearchFilters,
    StoredDocument,
    TaskRow,
    document_rows,
    filter_keys,
    unpack_result,
)
from pipeline.errors import ArchiveError, NotFoundError
from pipeline.types import DocumentKind, DocumentResult, Record

# Each migration brings the schema from the previous version to its own; `PRAGMA user_version` holds the
# version of an archive. Never edit a released migration: append a new one.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (1, (
        """CREATE TABLE "documents" (
            "id" INTEGER PRIMARY KEY,
            "sha256" TEXT NOT NULL UNIQUE,
            "source" TEXT NOT NULL,
            "name" TEXT NOT NULL,
            "kind" TEXT NOT NULL,
            "page_count" INTEGER NOT NULL,
            "code" TEXT,
            "code_key" TEXT,
            "number" TEXT,
            "type" TEXT,
            "type_key" TEXT,
            "type_name" TEXT,
            "type_name_key" TEXT,
            "issuer" TEXT,
            "parent_issuer" TEXT,
            "issuer_key" TEXT,
            "place" TEXT,
            "place_key" TEXT,
            "date" TEXT,
            "subject" TEXT,
            "record" TEXT NOT NULL,
            "result" BLOB NOT NULL,
            "added_at" TEXT NOT NULL
        )""",
        'CREATE INDEX "documents_number" ON "documents" ("number")',
        'CREATE INDEX "documents_code_key" ON "documents" ("code_key")',
        'CREATE INDEX "documents_date" ON "documents" ("date")',
        """CREATE TABLE "pages" (
            "id" INTEGER PRIMARY KEY,
            "document_id" INTEGER NOT NULL REFERENCES "documents" ("id") ON DELETE CASCADE,
            "page" INTEGER NOT NULL,
            "text" TEXT NOT NULL,
            "folded" TEXT NOT NULL,
            UNIQUE ("document_id", "page")
        )""",
        """CREATE VIRTUAL TABLE "page_fts" USING fts5 (
            "text", "folded", content = 'pages', content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 0'
        )""",
        """CREATE TRIGGER "pages_after_insert" AFTER INSERT ON "pages" BEGIN
            INSERT INTO "page_fts" ("rowid", "text", "folded") VALUES (new."id", new."text", new."folded");
        END""",
        """CREATE TRIGGER "pages_after_delete" AFTER DELETE ON "pages" BEGIN
            INSERT INTO "page_fts" ("page_fts", "rowid", "text", "folded")
            VALUES ('delete', old."id", old."text", old."folded");
        END""",
        """CREATE TABLE "references" (
            "id" INTEGER PRIMARY KEY,
            "document_id" INTEGER NOT NULL REFERENCES "documents" ("id") ON DELETE CASCADE,
            "code" TEXT NOT NULL,
            "code_key" TEXT NOT NULL,
            "number" TEXT,
            "year" INTEGER,
            "type" TEXT,
            "issuer_code" TEXT,
            "date" TEXT,
            "mentions" INTEGER NOT NULL,
            "page" INTEGER,
            "start" INTEGER
        )""",
        'CREATE INDEX "references_number" ON "references" ("number")',
        'CREATE INDEX "references_document" ON "references" ("document_id")',
        """CREATE TABLE "dates" (
            "id" INTEGER PRIMARY KEY,
            "document_id" INTEGER NOT NULL REFERENCES "documents" ("id") ON DELETE CASCADE,
            "text" TEXT NOT NULL,
            "kind" TEXT NOT NULL,
            "value" TEXT,
            "start" TEXT,
            "end" TEXT,
            "page" INTEGER
        )""",
        'CREATE INDEX "dates_document" ON "dates" ("document_id")',
        """CREATE TABLE "places" (
            "id" INTEGER PRIMARY KEY,
            "document_id" INTEGER NOT NULL REFERENCES "documents" ("id") ON DELETE CASCADE,
            "level" TEXT NOT NULL,
            "name" TEXT NOT NULL,
            "name_key" TEXT NOT NULL,
            "district" TEXT,
            "district_key" TEXT,
            "province" TEXT,
            "province_key" TEXT,
            "code" TEXT,
            "text" TEXT
        )""",
        'CREATE INDEX "places_document" ON "places" ("document_id")',
        'CREATE INDEX "places_name_key" ON "places" ("name_key")',
        """CREATE TABLE "tasks" (
            "id" INTEGER PRIMARY KEY,
            "document_id" INTEGER NOT NULL REFERENCES "documents" ("id") ON DELETE CASCADE,
            "task_id" TEXT NOT NULL,
            "uid" TEXT NOT NULL UNIQUE,
            "text" TEXT NOT NULL,
            "deadline" TEXT,
            "page" INTEGER,
            "record" TEXT NOT NULL
        )""",
        'CREATE INDEX "tasks_document" ON "tasks" ("document_id")',
    )),
]
DATABASE_SCHEMA_VERSION = MIGRATIONS[-1][0]  # of the tables; the record's JSON has types.RECORD_SCHEMA_VERSION

_STORED_COLUMNS = '"id", "sha256", "source", "name", "kind", "page_count", "code", "date"'
_SUMMARY_COLUMNS = 'd."id", d."source", d."name", d."code", d."type", d."issuer", d."date"'
_SUMMARY_WIDTH = 7


class SqliteArchive:
    """One archive file. Writers take the write lock per document; readers never block thanks to WAL."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.location = str(path)
        self.connection = connection

    # ----------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> SqliteArchive:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error: a document is stored whole or not at all."""
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot write: {error}", self.path) from None
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        try:
            self.connection.execute("COMMIT")
        except sqlite3.Error as error:
            self.connection.execute("ROLLBACK")
            raise ArchiveError(f"cannot commit: {error}", self.path) from None

    # ----------------------------------------------------------------------- writing

    def add_document(self, result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str) -> int:
        return self.write_rows(document_rows(result, name=name, kind=kind, result_json=result_json))

    def write_rows(self, rows: DocumentRows) -> int:
        try:
            with self._write_transaction() as db:
                db.execute('DELETE FROM "documents" WHERE "sha256" = ?', (rows.document["sha256"],))
                document_id = _insert_document(db, rows)
                for table, table_rows in rows.parts():
                    _insert_parts(db, table, document_id, table_rows)
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot store {rows.document['source']}: {error}", self.path) from None
        return document_id

    def read_rows(self, document_id: int) -> DocumentRows:
        db = self.connection
        db.execute("BEGIN")  # one snapshot: the document and its parts as one writer left them
        try:
            row = db.execute(f'SELECT {_quoted(list(DOCUMENT_COLUMNS))} FROM "documents" WHERE "id" = ?',
                             (document_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no document {document_id}", self.path)
            parts = {table: [dict(zip(columns, values, strict=True)) for values in db.execute(
                f'SELECT {_quoted(list(columns))} FROM "{table}" WHERE "document_id" = ? ORDER BY "id"',
                (document_id,))] for table, columns in PART_COLUMNS.items()}
        finally:
            db.execute("COMMIT")
        return DocumentRows(dict(zip(DOCUMENT_COLUMNS, row, strict=True)), **parts)

    # ----------------------------------------------------------------------- documents

    def find_document(self, sha256: str) -> StoredDocument | None:
        row = self.connection.execute(
            f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "sha256" = ?', (sha256,)
        ).fetchone()
        return _stored(row) if row else None

    def lookup(self, id_or_code: str) -> list[StoredDocument]:
        text = id_or_code.strip()
        if text.isdigit() and int(text) < 2**63:  # larger numbers are no id (and no SQLite integer)
            rows = self.connection.execute(
                f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "id" = ?', (int(text),)
            ).fetchall()
            if rows:
                return [_stored(row) for row in rows]
        key = code_key(text)
        rows = self.connection.execute(
            f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "code_key" = ? ORDER BY "date" DESC, "id"', (key,)
        ).fetchall()
        if not rows and len(text) >= 8 and all(c in "0123456789abcdef" for c in text.lower()):
            rows = self.connection.execute(
                f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "sha256" LIKE ? || \'%\'', (text.lower(),)
            ).fetchall()
        return [_stored(row) for row in rows]

    def count_documents(self) -> int:
        return int(self.connection.execute('SELECT count(*) FROM "documents"').fetchone()[0])

    def stored_documents(self) -> Iterator[StoredDocument]:
        for row in self.connection.execute(f'SELECT {_STORED_COLUMNS} FROM "documents" ORDER BY "id"'):
            yield StoredDocument(*row)

    def table_counts(self) -> dict[str, int]:
        return {table: int(self.connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for table in TABLES}

    def load_record(self, document_id: int) -> Record:
        row = self.connection.execute('SELECT "record" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {document_id}", self.path)
        return Record.from_dict(json.loads(row[0]))

    def load_result(self, document_id: int) -> tuple[str, str]:
        row = self.connection.execute('SELECT "result" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {document_id}", self.path)
        return unpack_result(row[0]), "\f".join(self.page_texts(document_id))

    def page_texts(self, document_id: int) -> list[str]:
        rows = self.connection.execute(
            'SELECT "text" FROM "pages" WHERE "document_id" = ? ORDER BY "page"', (document_id,)
        ).fetchall()
        return [text for (text,) in rows]

    # ----------------------------------------------------------------------- search

    def issued_documents(self, number: str, filters: SearchFilters) -> list[IssuedDocument]:
        where, params = _filter_sql(filters)
        rows = self.connection.execute(
            f'SELECT {_SUMMARY_COLUMNS}, d."code_key" FROM "documents" d WHERE d."number" = ?{where}',
            [number, *params],
        ).fetchall()
        return [IssuedDocument(_summary(row), row[_SUMMARY_WIDTH]) for row in rows]

    def citations(self, number: str, filters: SearchFilters) -> list[Citation]:
        where, params = _filter_sql(filters)
        rows = self.connection.execute(
            f'SELECT {_SUMMARY_COLUMNS}, r."code", r."code_key", r."mentions", r."page" FROM "references" r '
            f'JOIN "documents" d ON d."id" = r."document_id" WHERE r."number" = ?{where}',
            [number, *params],
        ).fetchall()
        return [Citation(_summary(row), *row[_SUMMARY_WIDTH:]) for row in rows]

    def matching_pages(self, terms: Sequence[str], *, accented: bool, phrase: bool, filters: SearchFilters,
                       wanted: int, exclude: Collection[int]) -> list[PageMatch]:
        """BM25 ranks selective queries; a query found on more than store.RANKED_MATCHES pages lists the newest
        pages first. Only the top pages are joined with their documents, growing the window while filters or
        repeats thin it out."""
        db = self.connection
        match = _fts_query(terms, "text" if accented else "folded", phrase)
        # Counting stops past the threshold: all that matters is whether the query is selective.
        limit = store.RANKED_MATCHES
        capped = db.execute('SELECT count(*) FROM (SELECT 1 FROM "page_fts" WHERE "page_fts" MATCH ? LIMIT ?)',
                            (match, limit + 1)).fetchone()[0]
        if capped == 0 or wanted <= 0:
            return []
        ranked = capped <= limit
        total: int | None = capped if ranked else None  # counted in full only if a common phrase needs it
        score, order = ('bm25("page_fts")', '"score"') if ranked else ("0.0", '"rowid" DESC')
        where, params = _filter_sql(filters)
        window = capped if ranked and where else min(capped, max(wanted, 1) * 4 + len(exclude))
        while True:
            rows = db.execute(
                f"""WITH m AS MATERIALIZED (
                        SELECT "rowid" AS "page_id", {score} AS "score" FROM "page_fts"
                        WHERE "page_fts" MATCH ? ORDER BY {order} LIMIT ?)
                    SELECT {_SUMMARY_COLUMNS}, p."page", p."text", m."score"
                    FROM m JOIN "pages" p ON p."id" = m."page_id" JOIN "documents" d ON d."id" = p."document_id"
                    WHERE 1 = 1{where} ORDER BY m."score", p."id" DESC""",
                [match, window, *params],
            ).fetchall()
            best: dict[int, PageMatch] = {}
            for row in rows:
                document = _summary(row)
                if document.id not in exclude and document.id not in best:
                    page, text, value = row[_SUMMARY_WIDTH:]
                    best[document.id] = PageMatch(document, page, text, float(value))
            if len(best) >= wanted:
                return list(best.values())[:wanted]
            if total is None:
                total = db.execute('SELECT count(*) FROM "page_fts" WHERE "page_fts" MATCH ?',
                                   (match,)).fetchone()[0]
            if window >= total:
                return list(best.values())
            window = min(total, window * 4)

    # ----------------------------------------------------------------------- tasks

    def tasks(self, since: str | None = None) -> Iterator[TaskRow]:
        rows = self.connection.execute(
            """SELECT t."uid", t."record", d."id", d."code", d."date", d."type", d."issuer", d."source"
               FROM "tasks" t JOIN "documents" d ON d."id" = t."document_id"
               WHERE ? IS NULL OR coalesce(d."date", substr(d."added_at", 1, 10)) >= ?
               ORDER BY d."date", d."id", t."id"
            """,
            (since, since),
        )
        for uid, record, doc_id, code, doc_date, doc_type, issuer, source in rows:
            yield TaskRow(uid, json.loads(record), doc_id, code, doc_date, doc_type, issuer, source)


# --------------------------------------------------------------------------- rows and conditions


def _insert_document(db: sqlite3.Connection, rows: DocumentRows) -> int:
    columns = list(rows.document)
    cursor = db.execute(
        f'INSERT INTO "documents" ({_quoted(columns)}) VALUES ({", ".join("?" * len(columns))})',
        [rows.document[column] for column in columns],
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _insert_parts(db: sqlite3.Connection, table: str, document_id: int, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    db.executemany(
        f'INSERT INTO "{table}" ("document_id", {_quoted(columns)}) VALUES (?, {", ".join("?" * len(columns))})',
        [(document_id, *(row[column] for column in columns)) for row in rows],
    )


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _stored(row: Sequence[Any]) -> StoredDocument:
    id_, sha256, source, name, kind, page_count, code, date = row
    return StoredDocument(id_, sha256, source, name, DocumentKind(kind), page_count, code, date)


def _summary(row: Sequence[Any]) -> DocumentSummary:
    return DocumentSummary(*row[:_SUMMARY_WIDTH])


def _filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL conditions on documents `d`; user values are bound parameters, never spliced into SQL."""
    keys = filter_keys(filters)
    conditions: list[str] = []
    params: list[Any] = []
    if keys.type_key is not None:
        conditions.append('(d."type_key" = ? OR d."type_name_key" = ?)')
        params += [keys.type_key, keys.type_name_key]
    if keys.issuer_key is not None:
        conditions.append("""d."issuer_key" LIKE '%' || ? || '%' ESCAPE '\\'""")
        params.append(_like_escape(keys.issuer_key))
    if keys.date_from is not None:
        conditions.append('d."date" >= ?')
        params.append(keys.date_from)
    if keys.date_to is not None:
        conditions.append('d."date" <= ?')
        params.append(keys.date_to)
    if keys.place_key is not None:
        conditions.append(
            '(d."place_key" = ? OR EXISTS (SELECT 1 FROM "places" pl WHERE pl."document_id" = d."id" AND '
            '(pl."name_key" = ? OR pl."district_key" = ? OR pl."province_key" = ?)))'
        )
        params += [keys.place_key] * 4
    return "".join(f" AND {condition}" for condition in conditions), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_query(terms: Sequence[str], column: str, phrase: bool) -> str:
    """An FTS5 query on one column: every term quoted (FTS5 syntax in user text is only text)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    body = '"' + " ".join(term.replace('"', '""') for term in terms) + '"' if phrase else "(" + " ".join(quoted) + ")"
    return f"{column} : {body}"


# --------------------------------------------------------------------------- opening and migrating


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.exists():
        raise NotFoundError("no archive here (create one with congvan process … --db FILE)", path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(str(path), timeout=60.0, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as error:
        raise ArchiveError(f"not a usable SQLite archive: {error}", path) from None
    return connection


def migrate(connection: sqlite3.Connection, path: Path, migrations: Sequence[tuple[int, Sequence[str]]] = MIGRATIONS) -> int:
    """Apply the migrations an archive lacks, each in its own transaction; return the schema version."""
    latest = migrations[-1][0]
    for target, statements in migrations:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > latest:
            raise ArchiveError(f"archive schema {version} is newer than this congvan (≤ {latest}): upgrade congvan", path)
        if target <= version:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if connection.execute("PRAGMA user_version").fetchone()[0] < target:
                for statement in statements:
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {int(target)}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def open_sqlite(path: Path, *, create: bool = True) -> SqliteArchive:
    """Open (or create) an SQLite archive and bring its schema up to date."""
    connection = _connect(path, create=create)
    try:
        migrate(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise ArchiveError(f"not a usable congvan archive: {error}", path) from None
    except BaseException:
        connection.close()
        raise
    return SqliteArchive(path, connection)
