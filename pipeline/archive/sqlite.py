"""The SQLite archive store: versioned schema and migrations, one transaction per document, FTS5 page index,
and every query of the archive (the only module of congvan that holds SQL)."""

from __future__ import annotations

import functools
import inspect
import json
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pipeline.archive import store
from pipeline.archive.files import pages_from_result
from pipeline.archive.normalize import code_key, fold_text
from pipeline.archive.query import QueryTerm, TextQuery
from pipeline.archive.review import (
    TASK_STATUSES,
    apply_corrections,
    field_value,
    low_confidence_fields,
    validate_correction,
)
from pipeline.archive.store import (
    BROWSE_ORDERS,
    CARD_COLUMNS,
    CORRECTION_COLUMNS,
    CORRECTION_FROM,
    DOCUMENT_COLUMNS,
    HUMAN_WORK_COLUMNS,
    HUMAN_WORK_KEYS,
    INTAKE_COLUMNS,
    INTAKE_STATUSES,
    PART_COLUMNS,
    ROLES,
    STORED_COLUMNS,
    SUMMARY_COLUMNS,
    SUMMARY_WIDTH,
    TABLES,
    TASK_COLUMNS,
    TASK_FROM,
    ArchivedDocument,
    Citation,
    CitingReference,
    CodedDocument,
    Correction,
    DocumentCard,
    DocumentRows,
    Facets,
    HumanWork,
    IntakeJob,
    IssuedDocument,
    PageMatch,
    SearchFilters,
    Session,
    StoredDocument,
    TaskFilters,
    TaskRow,
    TaskStatusChange,
    User,
    best_pages,
    card_from_row,
    corrected_columns,
    document_rows,
    facets_of,
    filter_keys,
    fold_assignee,
    now_iso,
    record_columns,
    region_of,
    settled_fields,
    source_path,
    stored_document,
    summary_from_row,
    task_from_row,
    unpack_result,
)
from pipeline.errors import ArchiveError, InvalidCorrectionError, NotFoundError, os_error_reason
from pipeline.types import DocumentKind, DocumentResult, Record

Step = str | Callable[[sqlite3.Connection], None]

# Each migration brings the schema from the previous version to its own; `PRAGMA user_version` holds the
# version of an archive. Never edit a released migration: append a new one.
MIGRATIONS: list[tuple[int, tuple[Step, ...]]] = [
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
    (2, (
        # review and corrections: reasons per document, the audit trail keyed by content hash
        'ALTER TABLE "documents" ADD COLUMN "review" TEXT',
        'ALTER TABLE "documents" ADD COLUMN "low_confidence" TEXT',
        'ALTER TABLE "documents" ADD COLUMN "task_count" INTEGER NOT NULL DEFAULT 0',
        'UPDATE "documents" SET "task_count" = (SELECT count(*) FROM "tasks" t WHERE t."document_id" = "documents"."id")',
        # Browsing (newest first), filters and facets read only this index, never the wide rows (record and
        # result JSON): it replaces the date index of schema 1.
        'DROP INDEX "documents_date"',
        """CREATE INDEX "documents_date" ON "documents" ("date", "type_key", "type_name_key", "issuer_key",
            "place_key", "review", "task_count", "type", "issuer", "place")""",
        'CREATE INDEX "documents_review" ON "documents" ("date", "review") WHERE "review" IS NOT NULL',
        'CREATE INDEX "places_district_key" ON "places" ("district_key")',
        'CREATE INDEX "places_province_key" ON "places" ("province_key")',
        'CREATE INDEX "documents_added_at" ON "documents" ("added_at")',
        'CREATE INDEX "references_code_key" ON "references" ("code_key")',
        """CREATE TABLE "corrections" (
            "id" INTEGER PRIMARY KEY,
            "sha256" TEXT NOT NULL,
            "field" TEXT NOT NULL,
            "old" TEXT,
            "new" TEXT,
            "author" TEXT NOT NULL,
            "at" TEXT NOT NULL
        )""",
        'CREATE INDEX "corrections_sha256" ON "corrections" ("sha256")',
        # tasks: assignees as a search key; status and its audit trail keyed by the task uid
        'ALTER TABLE "tasks" ADD COLUMN "assignees_key" TEXT',
        """CREATE TABLE "task_status" (
            "uid" TEXT PRIMARY KEY,
            "status" TEXT NOT NULL,
            "author" TEXT NOT NULL,
            "at" TEXT NOT NULL
        )""",
        """CREATE TABLE "task_changes" (
            "id" INTEGER PRIMARY KEY,
            "uid" TEXT NOT NULL,
            "old" TEXT NOT NULL,
            "new" TEXT NOT NULL,
            "author" TEXT NOT NULL,
            "at" TEXT NOT NULL
        )""",
        'CREATE INDEX "task_changes_uid" ON "task_changes" ("uid")',
        # people and uploads
        """CREATE TABLE "users" (
            "name" TEXT PRIMARY KEY,
            "role" TEXT NOT NULL,
            "password_hash" TEXT NOT NULL,
            "created_at" TEXT NOT NULL
        )""",
        """CREATE TABLE "sessions" (
            "token_hash" TEXT PRIMARY KEY,
            "user_name" TEXT NOT NULL REFERENCES "users" ("name") ON DELETE CASCADE,
            "csrf" TEXT NOT NULL,
            "created_at" TEXT NOT NULL,
            "expires_at" TEXT NOT NULL
        )""",
        """CREATE TABLE "intake" (
            "id" INTEGER PRIMARY KEY,
            "name" TEXT NOT NULL,
            "path" TEXT NOT NULL,
            "size" INTEGER NOT NULL,
            "author" TEXT NOT NULL,
            "status" TEXT NOT NULL,
            "message" TEXT,
            "document_id" INTEGER,
            "created_at" TEXT NOT NULL,
            "finished_at" TEXT
        )""",
        'CREATE INDEX "intake_status" ON "intake" ("status")',
        lambda db: _backfill_review_columns(db),
    )),
    # webhook delivery record (office)
    (3, (
        """CREATE TABLE "deliveries" (
            "target" TEXT NOT NULL,
            "uid" TEXT NOT NULL,
            "digest" TEXT NOT NULL,
            "delivered_at" TEXT NOT NULL,
            PRIMARY KEY ("target", "uid")
        )""",
    )),
]
DATABASE_SCHEMA_VERSION = MIGRATIONS[-1][0]  # of the tables; the record's JSON has types.RECORD_SCHEMA_VERSION
_DAMAGE_ADVICE = "(restore a backup, or process the documents again into a new archive)"
_WRITE_ERRORS = frozenset({"SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE"})
_MAX_ID = (1 << 63) - 1  # SQLite's largest integer
LOCK_WAIT_SECONDS = 60.0  # how long a writer waits for another one's lock before "database is locked"
# Seconds the quick check of an archive may take when it is opened to be written (about 600 MB of archive
# on this project's machine) and when it is opened to be read (search, show, export: their queries still
# detect the damage they meet).
QUICK_CHECK_SECONDS = 2.0
READ_CHECK_SECONDS = 0.25
_Store = TypeVar("_Store")
# What a store method may meet in a damaged or unusable archive (see _one_line_errors).
_STORE_FAILURES = (sqlite3.Error, zlib.error, json.JSONDecodeError, UnicodeDecodeError)
_CREATED_TABLE = re.compile(r'\s*CREATE (?:VIRTUAL )?TABLE "(\w+)"')

FACET_MEMO = 64  # facet answers remembered per connection


def _one_line_errors(cls: type[_Store]) -> type[_Store]:
    """Every public method of the store (a new one included): SQLite errors (a damaged page met by a query, a
    locked file, a full disk) and stored values that cannot be decoded become one-line ArchiveErrors instead of
    tracebacks."""
    for name, method in list(vars(cls).items()):
        if callable(method) and not name.startswith("_") and name != "close":
            setattr(cls, name, _mapping_errors(method))
    return cls


def _mapping_errors(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generate(self: SqliteArchive, *args: Any, **kwargs: Any) -> Any:
            try:
                yield from method(self, *args, **kwargs)
            except _STORE_FAILURES as error:
                raise _store_error(error, self.path) from None

        return generate

    @functools.wraps(method)
    def call(self: SqliteArchive, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _STORE_FAILURES as error:
            raise _store_error(error, self.path) from None

    return call


def _store_error(error: Exception, path: Path) -> ArchiveError:
    if isinstance(error, sqlite3.Error):
        return _archive_error(error, path)
    return ArchiveError(f"damaged archive: a stored value cannot be decoded ({error}) {_DAMAGE_ADVICE}", path)


@_one_line_errors
class SqliteArchive:
    """One archive file. Writers take the write lock per document; readers never block thanks to WAL."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.location = str(path)
        self.root: Path | None = path.parent
        self.connection = connection
        self._facets: dict[tuple[Any, ...], Facets] = {}

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
        """BEGIN IMMEDIATE … COMMIT, rolled back on any error: a document is stored whole or not at all. (SQLite
        itself rolls back on some errors, disk full among them: there is then nothing left to roll back.)"""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
            self.connection.execute("COMMIT")
        except BaseException:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------------- writing

    def add_document(self, result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str) -> int:
        return self._store(document_rows(result, name=name, kind=kind, result_json=result_json, root=self.root),
                           result.record or Record())

    def write_rows(self, rows: DocumentRows) -> int:
        return self._store(rows, None)

    def _store(self, rows: DocumentRows, record: Record | None) -> int:
        """Store a document's rows under the id of the content's earlier version; `record`: the extracted
        record, over which the content's corrections are applied (rows copied by write_rows have them)."""
        sha256 = rows.document["sha256"]
        try:
            with self._write_transaction() as db:
                # Read inside the write lock: a correction committed a moment ago is applied, never lost.
                changes = _changes(db, sha256) if record is not None else []
                if record is not None and changes:
                    low = (rows.document["low_confidence"] or "").split()
                    rows.document.update(corrected_columns(record, changes, low))
                previous = db.execute('SELECT "id" FROM "documents" WHERE "sha256" = ?', (sha256,)).fetchone()
                db.execute('DELETE FROM "documents" WHERE "sha256" = ?', (sha256,))
                document_id = _insert_document(db, rows, previous[0] if previous else None)
                for table, table_rows in rows.parts():
                    _insert_parts(db, table, document_id, table_rows)
        except sqlite3.Error as error:
            # the file as the user named it, not as stored (relative to the archive's folder)
            source = source_path(rows.document["source"], self.root)
            raise _archive_error(error, self.path, f"cannot store {source}") from None
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
            f'SELECT {STORED_COLUMNS} FROM "documents" WHERE "sha256" = ?', (sha256,)
        ).fetchone()
        return stored_document(row) if row else None

    def lookup(self, id_or_code: str) -> list[StoredDocument]:
        text = id_or_code.strip()
        if text.isascii() and text.isdigit() and int(text) <= _MAX_ID:  # not "²", nor beyond SQLite's integers
            rows = self.connection.execute(
                f'SELECT {STORED_COLUMNS} FROM "documents" WHERE "id" = ?', (int(text),)
            ).fetchall()
            if rows:
                return [stored_document(row) for row in rows]
        key = code_key(text)
        rows = self.connection.execute(
            f'SELECT {STORED_COLUMNS} FROM "documents" WHERE "code_key" = ? ORDER BY "date" DESC, "id"', (key,)
        ).fetchall()
        if not rows and len(text) >= 8 and all(c in "0123456789abcdef" for c in text.lower()):
            rows = self.connection.execute(
                f'SELECT {STORED_COLUMNS} FROM "documents" WHERE "sha256" LIKE ? || \'%\'', (text.lower(),)
            ).fetchall()
        return [stored_document(row) for row in rows]

    def count_documents(self) -> int:
        return int(self.connection.execute('SELECT count(*) FROM "documents"').fetchone()[0])

    def stored_documents(self) -> Iterator[StoredDocument]:
        for row in self.connection.execute(f'SELECT {STORED_COLUMNS} FROM "documents" ORDER BY "id"').fetchall():
            yield stored_document(row)

    def table_counts(self) -> dict[str, int]:
        return {table: int(self.connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])
                for table in TABLES}

    def human_work(self) -> HumanWork:
        tables = [tuple(tuple(row) for row in self.connection.execute(
            f'SELECT {_quoted(list(columns))} FROM "{table}" '
            f'ORDER BY {_quoted(list(HUMAN_WORK_KEYS[table])) if table in HUMAN_WORK_KEYS else "rowid"}'))
            for table, columns in HUMAN_WORK_COLUMNS.items()]
        return HumanWork(*tables)

    def add_human_work(self, work: HumanWork) -> None:
        try:
            with self._write_transaction() as db:
                for (table, columns), rows in zip(HUMAN_WORK_COLUMNS.items(), work.tables(), strict=True):
                    replace = "OR REPLACE " if table in HUMAN_WORK_KEYS else ""
                    db.executemany(f'INSERT {replace}INTO "{table}" ({_quoted(list(columns))}) '
                                   f'VALUES ({", ".join("?" * len(columns))})', rows)
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot store corrections, task status or users: {error}", self.path) from None

    def cards(self, document_ids: Collection[int]) -> dict[int, DocumentCard]:
        if not document_ids:
            return {}
        rows = self.connection.execute(
            f'SELECT {CARD_COLUMNS} FROM "documents" d WHERE d."id" IN (SELECT "value" FROM json_each(?))',
            (json.dumps([int(i) for i in document_ids]),),
        ).fetchall()
        return {row[0]: card_from_row(row) for row in rows}

    def browse(self, filters: SearchFilters, *, order: str, limit: int, offset: int) -> tuple[int, list[DocumentCard]]:
        if order not in BROWSE_ORDERS:
            raise ValueError(f"unknown order {order!r}")
        where, params = _filter_sql(filters)
        total = self.connection.execute(f'SELECT count(*) FROM "documents" d WHERE 1 = 1{where}', params).fetchone()[0]
        key = 'd."date"' if order == "date" else 'd."added_at"'
        # The matching ids and sort keys come from the indexes alone; only one page of wide rows is read.
        rows = self.connection.execute(
            f'WITH m AS MATERIALIZED (SELECT d."id" AS "id", {key} AS "key" FROM "documents" d WHERE 1 = 1{where} '
            f'ORDER BY "key" DESC, "id" DESC LIMIT ? OFFSET ?) '
            f'SELECT {CARD_COLUMNS} FROM m JOIN "documents" d ON d."id" = m."id" ORDER BY m."key" DESC, m."id" DESC',
            [*params, limit, offset],
        ).fetchall()
        return int(total), [card_from_row(row) for row in rows]

    def facets(self, filters: SearchFilters, document_ids: Collection[int] | None = None) -> Facets:
        """Memoised per archive state: `PRAGMA data_version` moves when another connection commits and
        `total_changes` when this one writes, so a remembered answer is never stale."""
        ids = None if document_ids is None else tuple(sorted(int(i) for i in document_ids))
        state = (self.connection.execute("PRAGMA data_version").fetchone()[0], self.connection.total_changes)
        key = (filters, ids, state)
        found = self._facets.get(key)
        if found is None:
            found = self._count_facets(filters, ids)
            if len(self._facets) >= FACET_MEMO:
                self._facets.clear()
            self._facets[key] = found
        return found

    def _count_facets(self, filters: SearchFilters, document_ids: Collection[int] | None) -> Facets:
        where, params = _filter_sql(filters)
        if document_ids is not None:
            where += ' AND d."id" IN (SELECT "value" FROM json_each(?))'
            params = [*params, json.dumps([int(i) for i in document_ids])]
        # The filters are evaluated once (one pass over the covering date index); each facet groups that set.
        rows = self.connection.execute(
            f"""WITH f AS MATERIALIZED (
                    SELECT d."type" AS "type", d."issuer" AS "issuer", substr(d."date", 1, 4) AS "year",
                           d."place" AS "place", d."review" IS NOT NULL AS "review", d."task_count" > 0 AS "tasks"
                    FROM "documents" d WHERE 1 = 1{where})
                SELECT 'type', "type", count(*) FROM f WHERE "type" IS NOT NULL GROUP BY "type"
                UNION ALL SELECT 'issuer', "issuer", count(*) FROM f WHERE "issuer" IS NOT NULL GROUP BY "issuer"
                UNION ALL SELECT 'year', "year", count(*) FROM f WHERE "year" IS NOT NULL GROUP BY "year"
                UNION ALL SELECT 'place', "place", count(*) FROM f WHERE "place" IS NOT NULL GROUP BY "place"
                UNION ALL SELECT 'total', NULL, count(*) FROM f
                UNION ALL SELECT 'tasks', NULL, coalesce(sum("tasks"), 0) FROM f
                UNION ALL SELECT 'review', NULL, coalesce(sum("review"), 0) FROM f""", params).fetchall()
        return facets_of(rows)

    def load_record(self, document_id: int) -> Record:
        return Record.from_dict(self.record_data(document_id))

    def record_data(self, document_id: int) -> dict[str, Any]:
        row = self.connection.execute('SELECT "record" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {document_id}", self.path)
        data: dict[str, Any] = json.loads(row[0])
        return data

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
            f'SELECT {SUMMARY_COLUMNS}, d."code_key" FROM "documents" d WHERE d."number" = ?{where}',
            [number, *params],
        ).fetchall()
        return [IssuedDocument(summary_from_row(row), row[SUMMARY_WIDTH]) for row in rows]

    def citations(self, number: str, filters: SearchFilters) -> list[Citation]:
        where, params = _filter_sql(filters)
        rows = self.connection.execute(
            f'SELECT {SUMMARY_COLUMNS}, r."code", r."code_key", r."mentions", r."page", r."year" FROM "references" r '
            f'JOIN "documents" d ON d."id" = r."document_id" WHERE r."number" = ?{where}',
            [number, *params],
        ).fetchall()
        return [Citation(summary_from_row(row), *row[SUMMARY_WIDTH:]) for row in rows]

    def matching_pages(self, query: TextQuery, *, accented: bool, filters: SearchFilters, wanted: int,
                       exclude: Collection[int]) -> list[PageMatch]:
        """BM25 ranks selective queries; a query found on more than store.RANKED_MATCHES pages (boilerplate such as
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
                            (match, *banned_params, store.RANKED_MATCHES + 1)).fetchone()[0]
        if capped == 0 or wanted <= 0:
            return []
        ranked = capped <= store.RANKED_MATCHES
        total: int | None = capped if ranked else None  # counted in full only if a common phrase needs it
        score, order = ('bm25("page_fts")', '"score"') if ranked else ("0.0", '"rowid" DESC')
        where, params = _filter_sql(filters)
        window = capped if ranked and where else min(capped, max(wanted, 1) * 4 + len(exclude))
        while True:
            rows = db.execute(
                f"""WITH m AS MATERIALIZED (
                        SELECT "rowid" AS "page_id", {score} AS "score" FROM "page_fts"
                        WHERE "page_fts" MATCH ?{banned} ORDER BY {order} LIMIT ?)
                    SELECT {SUMMARY_COLUMNS}, p."page", p."text", m."score"
                    FROM m JOIN "pages" p ON p."id" = m."page_id" JOIN "documents" d ON d."id" = p."document_id"
                    WHERE 1 = 1{where} ORDER BY m."score", p."id" DESC""",
                [match, *banned_params, window, *params],
            ).fetchall()
            best = best_pages(rows, exclude)
            if len(best) >= wanted:
                return best[:wanted]
            if total is None:
                total = db.execute(f'SELECT count(*) FROM "page_fts" WHERE "page_fts" MATCH ?{banned}',
                                   (match, *banned_params)).fetchone()[0]
            if window >= total:
                return best
            window = min(total, window * 4)

    def documents(self, filters: SearchFilters, *, order: str = "date", limit: int | None = None) -> Iterator[ArchivedDocument]:
        where, params = _filter_sql(filters)
        orders = {"date": 'd."date" IS NULL, d."date" DESC, d."added_at" DESC, d."id" DESC',
                  "added": 'd."added_at", d."id"'}
        if order not in orders:
            raise ValueError(f"unknown order {order!r}")
        rows = self.connection.execute(
            f'SELECT {SUMMARY_COLUMNS}, d."added_at", d."record" FROM "documents" d WHERE 1 = 1{where} '
            f'ORDER BY {orders[order]} LIMIT ?',
            [*params, -1 if limit is None else limit],
        )
        for row in rows:
            yield ArchivedDocument(summary_from_row(row), row[SUMMARY_WIDTH], Record.from_dict(json.loads(row[SUMMARY_WIDTH + 1])))

    # ----------------------------------------------------------------------- references between documents

    def documents_with_codes(self, code_keys: Collection[str]) -> list[CodedDocument]:
        if not code_keys:
            return []
        rows = self.connection.execute(
            f'SELECT {SUMMARY_COLUMNS}, d."code_key", d."place_key" FROM "documents" d '
            'WHERE d."code_key" IN (SELECT "value" FROM json_each(?))', (json.dumps(sorted(code_keys)),)
        ).fetchall()
        regions = self._regions_of({row[0]: row[SUMMARY_WIDTH + 1] for row in rows})
        return [CodedDocument(summary_from_row(row), row[SUMMARY_WIDTH], regions[row[0]]) for row in rows]

    def citing(self, code_key: str) -> list[CitingReference]:
        rows = self.connection.execute(
            f'SELECT {SUMMARY_COLUMNS}, r."code", r."code_key", r."year", r."date", d."place_key" '
            'FROM "references" r JOIN "documents" d ON d."id" = r."document_id" WHERE r."code_key" = ? '
            'ORDER BY d."date" DESC, d."id" DESC', (code_key,)
        ).fetchall()
        regions = self._regions_of({row[0]: row[SUMMARY_WIDTH + 4] for row in rows})
        width = SUMMARY_WIDTH
        return [CitingReference(summary_from_row(row), row[width], row[width + 1], row[width + 2], row[width + 3],
                                regions[row[0]]) for row in rows]

    def regions(self, document_id: int) -> frozenset[str]:
        row = self.connection.execute('SELECT "place_key" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        return self._regions_of({document_id: row[0] if row else None})[document_id]

    def _regions_of(self, place_keys: dict[int, str | None]) -> dict[int, frozenset[str]]:
        places: dict[int, list[tuple[str | None, str | None, str | None]]] = {i: [] for i in place_keys}
        if place_keys:
            for document_id, *keys in self.connection.execute(
                'SELECT "document_id", "name_key", "district_key", "province_key" FROM "places" '
                'WHERE "document_id" IN (SELECT "value" FROM json_each(?))', (json.dumps(list(place_keys)),)
            ):
                places[document_id].append((keys[0], keys[1], keys[2]))
        return {i: region_of(place_keys[i], places[i]) for i in place_keys}

    # ----------------------------------------------------------------------- tasks

    def tasks(self, since: str | None = None) -> Iterator[TaskRow]:
        rows = self.connection.execute(
            f"""SELECT {TASK_COLUMNS} {TASK_FROM}
               WHERE ? IS NULL OR coalesce(d."date", substr(d."added_at", 1, 10)) >= ?
               ORDER BY d."date", d."id", t."id"
            """,
            (since, since),
        )
        for row in rows:
            yield task_from_row(row)

    def task_board(self, filters: TaskFilters, *, limit: int | None, offset: int = 0) -> tuple[int, list[TaskRow]]:
        conditions: list[str] = []
        params: list[Any] = []
        if filters.assignee:
            conditions.append("""t."assignees_key" LIKE '%' || ? || '%' ESCAPE '\\'""")
            params.append(_like_escape(fold_assignee(filters.assignee)))
        for column, operator, value in (("deadline", ">=", filters.deadline_from),
                                        ("deadline", "<=", filters.deadline_to)):
            if value:
                conditions.append(f't."{column}" {operator} ?')
                params.append(value)
        if filters.document_id is not None:
            conditions.append('d."id" = ?')
            params.append(filters.document_id)
        if filters.status:
            conditions.append("""coalesce(s."status", 'open') = ?""")
            params.append(filters.status)
        if filters.since:
            conditions.append('coalesce(d."date", substr(d."added_at", 1, 10)) >= ?')
            params.append(filters.since)
        where = "".join(f" AND {condition}" for condition in conditions)
        total = self.connection.execute(f"SELECT count(*) {TASK_FROM} WHERE 1 = 1{where}", params).fetchone()[0]
        rows = self.connection.execute(
            f'SELECT {TASK_COLUMNS} {TASK_FROM} WHERE 1 = 1{where} ORDER BY t."deadline" IS NULL, t."deadline", '
            'd."date" DESC, d."id", t."id" LIMIT ? OFFSET ?', [*params, -1 if limit is None else limit, offset]
        ).fetchall()
        return int(total), [task_from_row(row) for row in rows]

    def set_task_status(self, uid: str, status: str, *, user: str) -> TaskStatusChange:
        if status not in TASK_STATUSES:
            raise InvalidCorrectionError(f"not a task status: {status!r} (open or done)")
        at = now_iso()
        try:
            with self._write_transaction() as db:
                if db.execute('SELECT 1 FROM "tasks" WHERE "uid" = ?', (uid,)).fetchone() is None:
                    raise NotFoundError(f"no task {uid!r}", self.path)
                row = db.execute('SELECT "status" FROM "task_status" WHERE "uid" = ?', (uid,)).fetchone()
                old = row[0] if row else "open"
                db.execute('INSERT INTO "task_status" ("uid", "status", "author", "at") VALUES (?, ?, ?, ?) '
                           'ON CONFLICT ("uid") DO UPDATE SET "status" = excluded."status", '
                           '"author" = excluded."author", "at" = excluded."at"', (uid, status, user, at))
                cursor = db.execute('INSERT INTO "task_changes" ("uid", "old", "new", "author", "at") '
                                    "VALUES (?, ?, ?, ?, ?)", (uid, old, status, user, at))
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot change task {uid}: {error}", self.path) from None
        assert cursor.lastrowid is not None
        return TaskStatusChange(cursor.lastrowid, uid, old, status, user, at)

    def task_history(self, uid: str) -> list[TaskStatusChange]:
        rows = self.connection.execute(
            'SELECT "id", "uid", "old", "new", "author", "at" FROM "task_changes" WHERE "uid" = ? ORDER BY "id"',
            (uid,)).fetchall()
        return [TaskStatusChange(*row) for row in rows]

    # ----------------------------------------------------------------------- review and corrections

    def add_correction(self, document_id: int, field: str, value: str | None, *, user: str) -> Correction:
        value = validate_correction(field, value)
        at = now_iso()
        try:
            with self._write_transaction() as db:
                row = db.execute('SELECT "sha256", "record", "low_confidence" FROM "documents" WHERE "id" = ?',
                                 (document_id,)).fetchone()
                if row is None:
                    raise NotFoundError(f"no document {document_id}", self.path)
                sha256, record_json, low = row
                current = Record.from_dict(json.loads(record_json))
                old = field_value(current, field)
                logged = field if old != value else f"confirmed:{field}"
                cursor = db.execute('INSERT INTO "corrections" ("sha256", "field", "old", "new", "author", "at") '
                                    "VALUES (?, ?, ?, ?, ?, ?)", (sha256, logged, old, value, user, at))
                corrected = apply_corrections(current, [(field, value)]) if old != value else current
                columns = record_columns(corrected, low_confidence=(low or "").split(),
                                         settled=settled_fields(_changes(db, sha256)))
                db.execute(f'UPDATE "documents" SET {", ".join(f"{_q(c)} = ?" for c in columns)} WHERE "id" = ?',
                           [*columns.values(), document_id])
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot store the correction: {error}", self.path) from None
        assert cursor.lastrowid is not None
        return Correction(cursor.lastrowid, sha256, document_id, logged, old, value, user, at)

    def corrections(self, document_id: int) -> list[Correction]:
        rows = self.connection.execute(
            f"SELECT {CORRECTION_COLUMNS} {CORRECTION_FROM} WHERE c.\"sha256\" = "
            '(SELECT "sha256" FROM "documents" WHERE "id" = ?) ORDER BY c."id"', (document_id,)).fetchall()
        return [Correction(*row) for row in rows]

    def recent_corrections(self, limit: int) -> list[Correction]:
        rows = self.connection.execute(
            f'SELECT {CORRECTION_COLUMNS} {CORRECTION_FROM} ORDER BY c."id" DESC LIMIT ?', (limit,)).fetchall()
        return [Correction(*row) for row in rows]

    def review_queue(self, *, limit: int, offset: int) -> tuple[int, list[DocumentCard]]:
        return self.browse(SearchFilters(needs_review=True), order="date", limit=limit, offset=offset)

    # ----------------------------------------------------------------------- users and sessions

    def add_user(self, name: str, role: str, password_hash: str) -> User:
        if role not in ROLES:
            raise ArchiveError(f"unknown role {role!r} (viewer, editor or admin)", self.path)
        user = User(name, role, password_hash, now_iso())
        with self._write_transaction() as db:
            db.execute('INSERT INTO "users" ("name", "role", "password_hash", "created_at") VALUES (?, ?, ?, ?) '
                       'ON CONFLICT ("name") DO UPDATE SET "role" = excluded."role", '
                       '"password_hash" = excluded."password_hash"', (user.name, role, password_hash, user.created_at))
            db.execute('DELETE FROM "sessions" WHERE "user_name" = ?', (name,))  # a new password ends old sessions
        found = self.user(name)
        assert found is not None
        return found

    def user(self, name: str) -> User | None:
        row = self.connection.execute('SELECT "name", "role", "password_hash", "created_at" FROM "users" '
                                      'WHERE "name" = ?', (name,)).fetchone()
        return User(*row) if row else None

    def users(self) -> list[User]:
        rows = self.connection.execute('SELECT "name", "role", "password_hash", "created_at" FROM "users" '
                                       'ORDER BY "name"').fetchall()
        return [User(*row) for row in rows]

    def add_session(self, session: Session) -> None:
        with self._write_transaction() as db:
            db.execute('DELETE FROM "sessions" WHERE "expires_at" < ?', (session.created_at,))
            db.execute('INSERT INTO "sessions" ("token_hash", "user_name", "csrf", "created_at", "expires_at") '
                       "VALUES (?, ?, ?, ?, ?)", (session.token_hash, session.user, session.csrf,
                                                  session.created_at, session.expires_at))

    def session(self, token_hash: str, now: str) -> Session | None:
        row = self.connection.execute(
            'SELECT "token_hash", "user_name", "csrf", "created_at", "expires_at" FROM "sessions" '
            'WHERE "token_hash" = ? AND "expires_at" >= ?', (token_hash, now)).fetchone()
        return Session(*row) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self._write_transaction() as db:
            db.execute('DELETE FROM "sessions" WHERE "token_hash" = ?', (token_hash,))

    # ----------------------------------------------------------------------- intake

    def add_intake(self, name: str, path: str, size: int, *, user: str) -> IntakeJob:
        with self._write_transaction() as db:
            cursor = db.execute('INSERT INTO "intake" ("name", "path", "size", "author", "status", "created_at") '
                                "VALUES (?, ?, ?, ?, 'queued', ?)", (name, path, size, user, now_iso()))
        assert cursor.lastrowid is not None
        return self._intake(cursor.lastrowid)

    def _intake(self, job_id: int) -> IntakeJob:
        row = self.connection.execute(f'SELECT {INTAKE_COLUMNS} FROM "intake" WHERE "id" = ?', (job_id,)).fetchone()
        return IntakeJob(*row)

    def intake_jobs(self, limit: int) -> list[IntakeJob]:
        rows = self.connection.execute(f'SELECT {INTAKE_COLUMNS} FROM "intake" ORDER BY "id" DESC LIMIT ?',
                                       (limit,)).fetchall()
        return [IntakeJob(*row) for row in rows]

    def claim_intake(self) -> IntakeJob | None:
        with self._write_transaction() as db:
            row = db.execute('SELECT "id" FROM "intake" WHERE "status" = \'queued\' ORDER BY "id" LIMIT 1').fetchone()
            if row is None:
                return None
            db.execute('UPDATE "intake" SET "status" = \'running\' WHERE "id" = ?', (row[0],))
        return self._intake(row[0])

    def finish_intake(self, job_id: int, status: str, message: str | None, document_id: int | None) -> None:
        if status not in INTAKE_STATUSES:
            raise ValueError(f"unknown intake status {status!r}")
        with self._write_transaction() as db:
            db.execute('UPDATE "intake" SET "status" = ?, "message" = ?, "document_id" = ?, "finished_at" = ? '
                       'WHERE "id" = ?', (status, message, document_id, now_iso(), job_id))


    # ----------------------------------------------------------------------- webhook delivery record

    def deliveries(self, target: str) -> dict[str, str]:
        rows = self.connection.execute('SELECT "uid", "digest" FROM "deliveries" WHERE "target" = ?', (target,))
        return dict(rows.fetchall())

    def record_delivery(self, target: str, uid: str, digest: str) -> None:
        try:
            with self._write_transaction() as db:
                db.execute('INSERT OR REPLACE INTO "deliveries" ("target", "uid", "digest", "delivered_at") '
                           'VALUES (?, ?, ?, ?)', (target, uid, digest, now_iso()))
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot record a delivery: {error}", self.path) from None


# --------------------------------------------------------------------------- rows and conditions


def _insert_document(db: sqlite3.Connection, rows: DocumentRows, document_id: int | None) -> int:
    """Insert the document row, under `document_id` when it replaces an earlier version (ids stay stable)."""
    values = {"id": document_id, **rows.document} if document_id is not None else rows.document
    columns = list(values)
    cursor = db.execute(
        f'INSERT INTO "documents" ({_quoted(columns)}) VALUES ({", ".join("?" * len(columns))})',
        [values[column] for column in columns],
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
    return ", ".join(_q(column) for column in columns)


def _q(column: str) -> str:
    return f'"{column}"'


def _changes(db: sqlite3.Connection, sha256: str) -> list[tuple[str, str | None]]:
    """The corrections of a content, oldest first, as (field, value)."""
    return [(field, new) for field, new in db.execute(
        'SELECT "field", "new" FROM "corrections" WHERE "sha256" = ? ORDER BY "id"', (sha256,))]


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
        # One set of documents from the three indexed place keys, not a subquery per document.
        conditions.append(
            '(d."place_key" = ? OR d."id" IN (SELECT "document_id" FROM "places" WHERE "name_key" = ? '
            'UNION SELECT "document_id" FROM "places" WHERE "district_key" = ? '
            'UNION SELECT "document_id" FROM "places" WHERE "province_key" = ?))'
        )
        params += [keys.place_key] * 4
    if keys.has_tasks is not None:
        conditions.append('d."task_count" > 0' if keys.has_tasks else 'd."task_count" = 0')
    if keys.needs_review is not None:
        conditions.append('d."review" IS NOT NULL' if keys.needs_review else 'd."review" IS NULL')
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


def _backfill_review_columns(db: sqlite3.Connection) -> None:
    """Migration 2: review reasons and low-confidence fields of the documents already archived (from their
    stored result's words), and the assignee key of their tasks."""
    for document_id, record_json, packed in db.execute('SELECT "id", "record", "result" FROM "documents"').fetchall():
        record = Record.from_dict(json.loads(record_json))
        try:
            pages = pages_from_result(json.loads(unpack_result(packed)))
        except (ValueError, TypeError, KeyError):
            pages = []
        low = low_confidence_fields(record, pages)
        review = record_columns(record, low_confidence=low, settled=())["review"]
        db.execute('UPDATE "documents" SET "review" = ?, "low_confidence" = ? WHERE "id" = ?',
                   (review, " ".join(low) or None, document_id))
    for task_id, record_json in db.execute('SELECT "id", "record" FROM "tasks"').fetchall():
        assignees = json.loads(record_json).get("assignees") or []
        db.execute('UPDATE "tasks" SET "assignees_key" = ? WHERE "id" = ?',
                   (fold_text(" | ".join(assignees)) or None, task_id))


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """A connection to `path`, an existing regular file or none yet (its folder made); nothing written."""
    if path.is_dir():
        raise ArchiveError("is a folder, not an archive file", path)
    if path.exists() and not path.is_file():  # /dev/null, a FIFO: SQLite would "write" into it
        raise ArchiveError("not a regular file, cannot be an archive", path)
    if not path.exists():
        if not create:
            raise NotFoundError("no archive here (create one with congvan process … --db FILE)", path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ArchiveError(f"cannot create the archive's folder: {os_error_reason(error)}", path) from None
    # The file is never opened but by SQLite: closing another descriptor of it would drop the locks that this
    # process's other connections hold on it (POSIX), and a concurrent writer could then corrupt it. A file
    # that is not SQLite is refused by SQLite's first read (SQLITE_NOTADB), before anything is written.
    try:
        return sqlite3.connect(str(path), timeout=LOCK_WAIT_SECONDS, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise ArchiveError(f"cannot open the archive: {error}", path) from None


def check_archive(connection: sqlite3.Connection, path: Path, *, seconds: float = QUICK_CHECK_SECONDS) -> None:
    """Refuse (ArchiveError) a file that is not a congvan archive or is damaged, before anything is written to
    it: another program's SQLite database, a schema newer than this congvan or missing its tables, and pages
    that fail SQLite's quick check. The quick check reads the whole file; on a large archive it stops after
    `seconds` (what it could not reach is still checked by SQLite as queries read it: see `_one_line_errors`)."""
    objects = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and objects:
        shown = ", ".join(sorted(objects)[:5])
        raise ArchiveError(f"not a congvan archive: an SQLite database of another program (tables: {shown})", path)
    missing = sorted(set(_tables_of(version)) - objects) if version <= DATABASE_SCHEMA_VERSION else []
    if missing:  # (an archive newer than this congvan is refused by migrate)
        raise ArchiveError(f"damaged archive: table {missing[0]} is missing (schema {version})", path)
    deadline = time.monotonic() + seconds
    connection.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
    except sqlite3.OperationalError as error:
        if "interrupted" not in str(error):
            raise
        problems = ["ok"]  # checked as far as the time allowed
    finally:
        connection.set_progress_handler(None, 0)
    if problems != ["ok"]:
        raise ArchiveError(f"damaged archive: {'; '.join(problems)} {_DAMAGE_ADVICE}", path)


def _tables_of(version: int) -> list[str]:
    """The tables migrations up to `version` create."""
    statements = (step for target, group in MIGRATIONS if target <= version for step in group if isinstance(step, str))
    return [match.group(1) for statement in statements if (match := _CREATED_TABLE.match(statement))]


def migrate(connection: sqlite3.Connection, path: Path, migrations: Sequence[tuple[int, Sequence[Step]]] = MIGRATIONS) -> int:
    """Apply the migrations an archive lacks, each in its own transaction; return the schema version. A step
    is an SQL statement, or a function of the connection for data SQL alone cannot derive (backfills)."""
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
                    if callable(statement):
                        statement(connection)
                    else:
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {int(target)}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def open_sqlite(path: Path, *, create: bool = True) -> SqliteArchive:
    """Open (or create) an SQLite archive, check it (check_archive) and bring its schema up to date."""
    connection = _connect(path, create=create)
    try:
        check_archive(connection, path, seconds=QUICK_CHECK_SECONDS if create else READ_CHECK_SECONDS)
        _use_wal(connection)
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise _archive_error(error, path) from None
    except BaseException:
        connection.close()
        raise
    return SqliteArchive(path, connection)


def _use_wal(connection: sqlite3.Connection) -> None:
    """Switch to write-ahead logging. Two processes creating the same archive at once race for the switch, and
    SQLite answers the loser "database is locked" at once instead of waiting: it tries again, as long as a lock
    is waited for elsewhere."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _archive_error(error: sqlite3.Error, path: Path, doing: str | None = None) -> ArchiveError:
    """An SQLite failure as one line that says what the user can do about it."""
    name = getattr(error, "sqlite_errorname", "")
    if name == "SQLITE_FULL":
        reason = "disk full; the archive is unchanged"
    elif name in _WRITE_ERRORS:  # a write refused by the system: SQLite cannot tell a full disk from the rest
        reason = "cannot write to the disk (disk full, file-size limit or device error); the archive is unchanged"
    elif name == "SQLITE_NOTADB":
        reason = f"not an archive: not an SQLite database file (or one damaged at its start) {_DAMAGE_ADVICE}"
    elif name.startswith("SQLITE_CORRUPT") or "malformed" in str(error):
        reason = f"damaged archive: {error} {_DAMAGE_ADVICE}"
    else:
        reason = str(error)
    return ArchiveError(f"{doing}: {reason}" if doing else reason, path)

