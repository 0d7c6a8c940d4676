"""The SQLite archive store: versioned schema and migrations, one transaction per document, FTS5 page index,
and every query of the archive (the only module of congvan that holds SQL)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from pipeline.archive.normalize import code_key
from pipeline.archive.query import QueryTerm, TextQuery
from pipeline.archive.store import (
    ArchivedDocument,
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
    # 2 is the web branch's migration (corrections, users, task status…).
    (3, (
        """CREATE TABLE "deliveries" (
            "target" TEXT NOT NULL,
            "uid" TEXT NOT NULL,
            "digest" TEXT NOT NULL,
            "delivered_at" TEXT NOT NULL,
            PRIMARY KEY ("target", "uid")
        )""",
        'CREATE INDEX "documents_added_at" ON "documents" ("added_at")',
    )),
]
DATABASE_SCHEMA_VERSION = MIGRATIONS[-1][0]  # of the tables; the record's JSON has types.RECORD_SCHEMA_VERSION
# Above this many matching pages a text query is ordered by recency instead of BM25 (see SqliteArchive.matching_pages).
RANKED_MATCHES = 1000

_STORED_COLUMNS = '"id", "sha256", "source", "name", "kind", "page_count", "code", "date", "place"'
_SUMMARY_COLUMNS = 'd."id", d."source", d."name", d."code", d."type", d."issuer", d."date", d."place"'
_SUMMARY_WIDTH = 8


class SqliteArchive:
    """One archive file. Writers take the write lock per document; readers never block thanks to WAL."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.location = str(path)
        self.root: Path | None = path.parent
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
        rows = document_rows(result, name=name, kind=kind, result_json=result_json, root=self.root)
        try:
            with self._write_transaction() as db:
                db.execute('DELETE FROM "documents" WHERE "sha256" = ?', (result.sha256,))
                document_id = _insert_document(db, rows)
                for table, table_rows in _part_tables(rows):
                    _insert_parts(db, table, document_id, table_rows)
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot store {result.source}: {error}", self.path) from None
        return document_id

    # ----------------------------------------------------------------------- documents

    def find_document(self, sha256: str) -> StoredDocument | None:
        row = self.connection.execute(
            f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "sha256" = ?', (sha256,)
        ).fetchone()
        return _stored(row) if row else None

    def lookup(self, id_or_code: str) -> list[StoredDocument]:
        text = id_or_code.strip()
        if text.isdigit():
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
            f'SELECT {_SUMMARY_COLUMNS}, r."code", r."code_key", r."mentions", r."page", r."year" FROM "references" r '
            f'JOIN "documents" d ON d."id" = r."document_id" WHERE r."number" = ?{where}',
            [number, *params],
        ).fetchall()
        return [Citation(_summary(row), *row[_SUMMARY_WIDTH:]) for row in rows]

    def matching_pages(self, query: TextQuery, *, accented: bool, filters: SearchFilters, wanted: int,
                       exclude: Collection[int]) -> list[PageMatch]:
        """BM25 ranks selective queries; a query found on more than RANKED_MATCHES pages (boilerplate such as
        "ủy ban nhân dân", where BM25 order is nearly arbitrary and costly to compute) lists the newest pages
        first. Only the top pages are joined with their documents, growing the window while filters or
        repeats thin it out."""
        db = self.connection
        column = "text" if accented else "folded"
        match = _fts_query(query.groups, column)
        # A document with an excluded term on any of its pages is left out before pages are ranked, so that
        # excluding common words never makes the window below grow over the whole index.
        banned, banned_params = "", []
        if query.excluded:
            banned_ids = [doc_id for (doc_id,) in db.execute(
                'SELECT DISTINCT p."document_id" FROM "page_fts" JOIN "pages" p ON p."id" = "page_fts"."rowid" '
                'WHERE "page_fts" MATCH ?', (_fts_query([query.excluded], column),))]
            if banned_ids:
                banned = (' AND "rowid" NOT IN (SELECT "id" FROM "pages" WHERE "document_id" IN '
                          '(SELECT "value" FROM json_each(?)))')
                banned_params = [json.dumps(banned_ids)]
        # Counting stops past the threshold: all that matters is whether the query is selective.
        capped = db.execute(f'SELECT count(*) FROM (SELECT 1 FROM "page_fts" WHERE "page_fts" MATCH ?{banned} LIMIT ?)',
                            (match, *banned_params, RANKED_MATCHES + 1)).fetchone()[0]
        if capped == 0 or wanted <= 0:
            return []
        ranked = capped <= RANKED_MATCHES
        total: int | None = capped if ranked else None  # counted in full only if a common phrase needs it
        score, order = ('bm25("page_fts")', '"score"') if ranked else ("0.0", '"rowid" DESC')
        where, params = _filter_sql(filters)
        window = capped if ranked and where else min(capped, max(wanted, 1) * 4 + len(exclude))
        while True:
            rows = db.execute(
                f"""WITH m AS MATERIALIZED (
                        SELECT "rowid" AS "page_id", {score} AS "score" FROM "page_fts"
                        WHERE "page_fts" MATCH ?{banned} ORDER BY {order} LIMIT ?)
                    SELECT {_SUMMARY_COLUMNS}, p."page", p."text", m."score"
                    FROM m JOIN "pages" p ON p."id" = m."page_id" JOIN "documents" d ON d."id" = p."document_id"
                    WHERE 1 = 1{where} ORDER BY m."score", p."id" DESC""",
                [match, *banned_params, window, *params],
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
                total = db.execute(f'SELECT count(*) FROM "page_fts" WHERE "page_fts" MATCH ?{banned}',
                                   (match, *banned_params)).fetchone()[0]
            if window >= total:
                return list(best.values())
            window = min(total, window * 4)

    def documents(self, filters: SearchFilters, *, order: str = "date", limit: int | None = None) -> Iterator[ArchivedDocument]:
        where, params = _filter_sql(filters)
        orders = {"date": 'd."date" IS NULL, d."date" DESC, d."added_at" DESC, d."id" DESC',
                  "added": 'd."added_at", d."id"'}
        if order not in orders:
            raise ValueError(f"unknown order {order!r}")
        rows = self.connection.execute(
            f'SELECT {_SUMMARY_COLUMNS}, d."added_at", d."record" FROM "documents" d WHERE 1 = 1{where} '
            f'ORDER BY {orders[order]} LIMIT ?',
            [*params, -1 if limit is None else limit],
        )
        for row in rows:
            yield ArchivedDocument(_summary(row), row[_SUMMARY_WIDTH], Record.from_dict(json.loads(row[_SUMMARY_WIDTH + 1])))

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


    # ----------------------------------------------------------------------- webhook delivery record

    def deliveries(self, target: str) -> dict[str, str]:
        rows = self.connection.execute('SELECT "uid", "digest" FROM "deliveries" WHERE "target" = ?', (target,))
        return dict(rows.fetchall())

    def record_delivery(self, target: str, uid: str, digest: str) -> None:
        try:
            with self._write_transaction() as db:
                db.execute('INSERT OR REPLACE INTO "deliveries" ("target", "uid", "digest", "delivered_at") '
                           'VALUES (?, ?, ?, ?)', (target, uid, digest, _now()))
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot record a delivery: {error}", self.path) from None


# --------------------------------------------------------------------------- rows and conditions


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")



def _part_tables(rows: DocumentRows) -> tuple[tuple[str, list[dict[str, Any]]], ...]:
    return (("pages", rows.pages), ("references", rows.references), ("dates", rows.dates),
            ("places", rows.places), ("tasks", rows.tasks))


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
    id_, sha256, source, name, kind, page_count, code, date, place = row
    return StoredDocument(id_, sha256, source, name, DocumentKind(kind), page_count, code, date, place)


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


def _fts_query(groups: Sequence[Sequence[QueryTerm]], column: str) -> str:
    """An FTS5 query on one column: every word inside double quotes (FTS5 syntax in user text is only text),
    OR within a group, AND between groups."""
    def phrase(term: QueryTerm) -> str:
        quoted = '"' + " ".join(word.replace('"', '""') for word in term.words) + '"'
        return quoted + " *" if term.prefix else quoted

    body = " AND ".join("(" + " OR ".join(phrase(term) for term in group) + ")" for group in groups)
    return f"{column} : ({body})"


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
