"""The SQLite archive: versioned schema and migrations, one transaction per document, FTS5 page index."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.archive.normalize import code_key, code_parts, fold_text
from pipeline.errors import ArchiveError, NotFoundError
from pipeline.types import DocumentResult, Record

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
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class StoredDocument:
    id: int
    sha256: str
    source: str
    name: str
    kind: str
    page_count: int
    code: str | None
    date: str | None


_STORED_COLUMNS = '"id", "sha256", "source", "name", "kind", "page_count", "code", "date"'


def task_uid(sha256: str, task_id: str) -> str:
    """Stable identity of a task across runs and exports (iCalendar UID, webhook idempotency key)."""
    return hashlib.sha256(f"{sha256}:{task_id}".encode()).hexdigest()[:32]


class Archive:
    """One archive file. Writers take the write lock per document; readers never block thanks to WAL."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.connection = connection

    # ----------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write_transaction(self) -> Iterator[sqlite3.Connection]:
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

    # ----------------------------------------------------------------------- documents

    def find_document(self, sha256: str) -> StoredDocument | None:
        row = self.connection.execute(
            f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "sha256" = ?', (sha256,)
        ).fetchone()
        return StoredDocument(*row) if row else None

    def lookup(self, id_or_code: str) -> list[StoredDocument]:
        """Documents by archive id, by content hash (prefix of ≥ 8 hex digits), or by their own code in any
        spelling (several when the same number was reused in different years)."""
        text = id_or_code.strip()
        if text.isdigit():
            rows = self.connection.execute(
                f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "id" = ?', (int(text),)
            ).fetchall()
            if rows:
                return [StoredDocument(*row) for row in rows]
        key = code_key(text)
        rows = self.connection.execute(
            f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "code_key" = ? ORDER BY "date" DESC, "id"', (key,)
        ).fetchall()
        if not rows and len(text) >= 8 and all(c in "0123456789abcdef" for c in text.lower()):
            rows = self.connection.execute(
                f'SELECT {_STORED_COLUMNS} FROM "documents" WHERE "sha256" LIKE ? || \'%\'', (text.lower(),)
            ).fetchall()
        return [StoredDocument(*row) for row in rows]

    def load_record(self, document_id: int) -> Record:
        row = self.connection.execute('SELECT "record" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {document_id}", self.path)
        return Record.from_dict(json.loads(row[0]))

    def load_result(self, document_id: int) -> tuple[str, str]:
        """The stored result JSON of a document and its final text (pages joined by form feeds)."""
        row = self.connection.execute('SELECT "result" FROM "documents" WHERE "id" = ?', (document_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no document {document_id}", self.path)
        pages = self.connection.execute(
            'SELECT "text" FROM "pages" WHERE "document_id" = ? ORDER BY "page"', (document_id,)
        ).fetchall()
        return zlib.decompress(row[0]).decode("utf-8"), "\f".join(text for (text,) in pages)

    def page_texts(self, document_id: int) -> list[str]:
        rows = self.connection.execute(
            'SELECT "text" FROM "pages" WHERE "document_id" = ? ORDER BY "page"', (document_id,)
        ).fetchall()
        return [text for (text,) in rows]

    def count_documents(self) -> int:
        return int(self.connection.execute('SELECT count(*) FROM "documents"').fetchone()[0])

    def add_document(self, result: DocumentResult, *, name: str, kind: str, result_json: str) -> int:
        """Store a processed document in one transaction, replacing an earlier version of the same content."""
        record = result.record or Record()
        try:
            with self.write_transaction() as db:
                db.execute('DELETE FROM "documents" WHERE "sha256" = ?', (result.sha256,))
                record_data = record.to_dict()  # converted once: dataclass conversion is the costly part
                document_id = self._insert_document(db, result, record, record_data, name, kind, result_json)
                db.executemany(
                    'INSERT INTO "pages" ("document_id", "page", "text", "folded") VALUES (?, ?, ?, ?)',
                    [(document_id, page.index, page.text, fold_text(page.text)) for page in result.pages],
                )
                self._insert_parts(db, document_id, result.sha256, record, record_data["tasks"], result.text)
        except sqlite3.Error as error:
            raise ArchiveError(f"cannot store {result.source}: {error}", self.path) from None
        return document_id

    def _insert_document(self, db: sqlite3.Connection, result: DocumentResult, record: Record,
                         record_data: dict[str, Any], name: str, kind: str, result_json: str) -> int:
        header = record.document
        parts = code_parts(header.code) if header.code else []
        issuers = " | ".join(x for x in (header.issuer, header.parent_issuer) if x)
        cursor = db.execute(
            """INSERT INTO "documents" ("sha256", "source", "name", "kind", "page_count", "code", "code_key",
                   "number", "type", "type_key", "type_name", "type_name_key", "issuer", "parent_issuer", "issuer_key", "place", "place_key",
                   "date", "subject", "record", "result", "added_at")
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                result.sha256, result.source, name, kind, len(result.pages), header.code,
                " ".join(parts) or None, parts[0] if parts and parts[0].isdigit() else None,
                header.type, code_key(header.type) if header.type else None, header.type_name,
                _fold_or_none(header.type_name),
                header.issuer, header.parent_issuer, fold_text(issuers) if issuers else None,
                header.place, fold_text(header.place) if header.place else None,
                header.date, header.subject, json.dumps(record_data, ensure_ascii=False),
                zlib.compress(result_json.encode("utf-8"), 6), datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _insert_parts(self, db: sqlite3.Connection, document_id: int, sha256: str, record: Record,
                      task_data: list[dict[str, Any]], text: str) -> None:
        page_starts = _page_starts(text)
        references = []
        for ref in record.references:
            parts = code_parts(ref.code)
            first = ref.mentions[0] if ref.mentions else None
            page = first.page if first and first.page is not None else (
                _page_of(page_starts, first.start) if first else None)
            references.append((document_id, ref.code, " ".join(parts), parts[0] if parts and parts[0].isdigit()
                               else None, ref.year, ref.type, ref.issuer_code, ref.date, max(1, ref.count), page,
                               first.start if first else None))
        db.executemany(
            """INSERT INTO "references" ("document_id", "code", "code_key", "number", "year", "type",
                   "issuer_code", "date", "mentions", "page", "start") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            references,
        )
        db.executemany(
            'INSERT INTO "dates" ("document_id", "text", "kind", "value", "start", "end", "page") '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(document_id, d.text, d.kind, d.value, d.start, d.end, d.span.page if d.span else None)
             for d in record.dates],
        )
        db.executemany(
            """INSERT INTO "places" ("document_id", "level", "name", "name_key", "district", "district_key",
                   "province", "province_key", "code", "text") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(document_id, p.level, p.name, fold_text(p.name), p.district, _fold_or_none(p.district), p.province,
              _fold_or_none(p.province), p.code, p.text) for p in record.places],
        )
        seen: set[str] = set()
        tasks = []
        for task, data in zip(record.tasks, task_data, strict=True):
            uid = task_uid(sha256, task.id)
            if uid in seen:  # duplicate ids from the extractor: keep the first, the uid must stay unique
                continue
            seen.add(uid)
            tasks.append((document_id, task.id, uid, task.text, task.deadline, task.page,
                          json.dumps(data, ensure_ascii=False)))
        db.executemany(
            'INSERT INTO "tasks" ("document_id", "task_id", "uid", "text", "deadline", "page", "record") '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            tasks,
        )


def _fold_or_none(value: str | None) -> str | None:
    return fold_text(value) if value else None


def _page_starts(text: str) -> list[int]:
    starts = [0]
    for index, char in enumerate(text):
        if char == "\f":
            starts.append(index + 1)
    return starts


def _page_of(page_starts: Sequence[int], offset: int) -> int:
    import bisect

    return max(0, bisect.bisect_right(page_starts, offset) - 1)


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


def open_archive(path: Path, *, create: bool = True) -> Archive:
    """Open (or create) an archive and bring its schema up to date."""
    path = Path(path)
    connection = _connect(path, create=create)
    try:
        migrate(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise ArchiveError(f"not a usable congvan archive: {error}", path) from None
    except BaseException:
        connection.close()
        raise
    return Archive(path, connection)
