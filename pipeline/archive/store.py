"""The archive store interface: `ArchiveStore`, the values it returns, and `open_archive()`, its factory.

Everything congvan keeps about processed documents goes through an `ArchiveStore`: the driver adds documents,
`search`, `show` and `export` read them. Only the store modules (`sqlite.py`, later a PostgreSQL one) hold
SQL; this module defines what they must do and the backend-independent part of it (the search keys of a
document, the identity of a task), so that a second backend is one module implementing the Protocol.

Adding to the store (corrections, users, task status…): add the method to `ArchiveStore`, a migration and
the method to every backend, and a test in tests/test_archive_store.py that runs against each backend.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import zlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from pipeline.archive.normalize import code_key, code_parts, fold_text
from pipeline.errors import ArchiveError
from pipeline.types import DocumentKind, DocumentResult, Record

# Above this many matching pages a text query lists the newest pages first instead of ranking them: for
# boilerplate such as "ủy ban nhân dân" relevance order is nearly arbitrary and costly to compute.
RANKED_MATCHES = 1000

# The logical schema every backend stores: the columns of each table, without the ids a backend assigns.
DOCUMENT_COLUMNS = (
    "sha256", "source", "name", "kind", "page_count", "code", "code_key", "number", "type", "type_key", "type_name",
    "type_name_key", "issuer", "parent_issuer", "issuer_key", "place", "place_key", "date", "subject", "record",
    "result", "added_at",
)
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "pages": ("page", "text", "folded"),
    "references": ("code", "code_key", "number", "year", "type", "issuer_code", "date", "mentions", "page", "start"),
    "dates": ("text", "kind", "value", "start", "end", "page"),
    "places": ("level", "name", "name_key", "district", "district_key", "province", "province_key", "code", "text"),
    "tasks": ("task_id", "uid", "text", "deadline", "page", "record"),
}
TABLES = ("documents", *PART_COLUMNS)

# Administrative prefixes users type before a place name ("huyện Hữu Lũng"); records hold bare names.
_PLACE_PREFIX = re.compile(r"^(?:tinh|thanh pho|tp\.?|huyen|quan|thi xa|thi tran|xa|phuong)\s+")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class StoredDocument:
    """A document of the archive, as `find_document` and `lookup` return it."""

    id: int
    sha256: str
    source: str
    name: str
    kind: DocumentKind
    page_count: int
    code: str | None
    date: str | None


@dataclass(frozen=True)
class DocumentSummary:
    """What a search hit shows of its document."""

    id: int
    source: str
    name: str
    code: str | None  # the document's own code
    type: str | None
    issuer: str | None
    date: str | None


@dataclass(frozen=True)
class SearchFilters:
    type: str | None = None  # document type abbreviation (QĐ, KH…) or name (Quyết định)
    issuer: str | None = None  # part of the issuer or parent issuer
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None
    place: str | None = None  # province, district or commune name


@dataclass(frozen=True)
class FilterKeys:
    """SearchFilters as the keys stored with each document (see `document_keys`); None = no condition."""

    type_key: str | None = None  # compared with the type's code key or its folded name
    type_name_key: str | None = None
    issuer_key: str | None = None  # contained in the folded issuers
    date_from: str | None = None
    date_to: str | None = None
    place_key: str | None = None  # the place of issue or any place named, at any level


def filter_keys(filters: SearchFilters) -> FilterKeys:
    return FilterKeys(
        type_key=code_key(filters.type) if filters.type else None,
        type_name_key=fold_text(filters.type).strip() if filters.type else None,
        issuer_key=fold_text(filters.issuer) if filters.issuer else None,
        date_from=filters.date_from or None,
        date_to=filters.date_to or None,
        place_key=_PLACE_PREFIX.sub("", fold_text(filters.place).strip()) if filters.place else None,
    )


@dataclass(frozen=True)
class IssuedDocument:
    """A document whose own code has the searched number; `code_key` is its code's key (normalize.code_key)."""

    document: DocumentSummary
    code_key: str | None


@dataclass(frozen=True)
class Citation:
    """A reference, in a document, to a code with the searched number."""

    document: DocumentSummary
    code: str  # as canonicalised by extraction
    code_key: str
    mentions: int
    page: int | None  # 0-based page of the first mention


@dataclass(frozen=True)
class PageMatch:
    """The best-matching page of a document for a full-text query."""

    document: DocumentSummary
    page: int  # 0-based
    text: str
    score: float  # lower is better


@dataclass(frozen=True)
class TaskRow:
    """A task with the document it comes from."""

    uid: str  # stable across runs: iCalendar UID and webhook idempotency key
    task: dict[str, Any]  # the full task record (types.Task as a dict)
    document_id: int
    document_code: str | None
    document_date: str | None
    document_type: str | None
    issuer: str | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            **self.task,
            "document": {"id": self.document_id, "code": self.document_code, "date": self.document_date,
                         "type": self.document_type, "issuer": self.issuer, "source": self.source},
        }


def task_uid(sha256: str, task_id: str) -> str:
    """Stable identity of a task across runs and exports (iCalendar UID, webhook idempotency key)."""
    return hashlib.sha256(f"{sha256}:{task_id}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- the interface


class ArchiveStore(Protocol):
    """An archive of processed documents. A backend keeps, per document, the columns of `document_keys`,
    its pages' text (and a folded copy for searches without diacritics), its references, dates, places and
    tasks, the record and the result JSON. Writers store a document whole or not at all; readers never see
    half a document and are never blocked by a writer."""

    location: str  # the file or URL, for messages

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None: ...

    # ----------------------------------------------------------------------- writing

    def add_document(self, result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str) -> int:
        """Store a processed document in one transaction, replacing an earlier version of the same content
        (same sha256); return its id. Raises ArchiveError when it cannot be stored. Writers racing on the
        same content leave one document, never two."""
        ...

    def write_rows(self, rows: DocumentRows) -> int:
        """Store a document given as its rows (`add_document` without deriving them; `congvan migrate`
        copies archives with it), in one transaction, replacing the same content; return its id."""
        ...

    def read_rows(self, document_id: int) -> DocumentRows:
        """A stored document as its rows, exactly as `write_rows` takes them; NotFoundError when missing."""
        ...

    # ----------------------------------------------------------------------- documents

    def find_document(self, sha256: str) -> StoredDocument | None:
        """The document with this content hash, if archived."""
        ...

    def lookup(self, id_or_code: str) -> list[StoredDocument]:
        """Documents by archive id, by content hash (prefix of ≥ 8 hex digits), or by their own code in any
        spelling (several when the same number was reused in different years: latest first)."""
        ...

    def count_documents(self) -> int: ...

    def stored_documents(self) -> Iterator[StoredDocument]:
        """Every document, in id order."""
        ...

    def table_counts(self) -> dict[str, int]:
        """Rows of each table of the logical schema (`TABLES`)."""
        ...

    def load_record(self, document_id: int) -> Record:
        """The record of a document; NotFoundError when there is none."""
        ...

    def load_result(self, document_id: int) -> tuple[str, str]:
        """The stored result JSON of a document and its final text (pages joined by form feeds)."""
        ...

    def page_texts(self, document_id: int) -> list[str]:
        """The final text of each page, in order."""
        ...

    # ----------------------------------------------------------------------- search (ranked by archive/search.py)

    def issued_documents(self, number: str, filters: SearchFilters) -> list[IssuedDocument]:
        """Documents whose own code's number is `number` (the first part of its code key)."""
        ...

    def citations(self, number: str, filters: SearchFilters) -> list[Citation]:
        """References to codes whose number is `number`, one per reference row."""
        ...

    def matching_pages(self, terms: Sequence[str], *, accented: bool, phrase: bool, filters: SearchFilters,
                       wanted: int, exclude: Collection[int]) -> list[PageMatch]:
        """The best page of up to `wanted` documents (none of `exclude`) whose pages hold every term (as a
        phrase when `phrase`), best first. `accented`: the terms are lower-cased words matched against the
        text as written; otherwise folded words (normalize.fold_text) matched against the folded text."""
        ...

    # ----------------------------------------------------------------------- tasks

    def tasks(self, since: str | None = None) -> Iterator[TaskRow]:
        """Tasks in document order (date, then id); `since` (ISO date) keeps documents dated on or after it,
        or, when a document has no date, added to the archive on or after it."""
        ...


# --------------------------------------------------------------------------- what a backend stores


@dataclass(frozen=True)
class DocumentRows:
    """A processed document as the rows of the archive's tables, without the ids a backend assigns: the
    logical schema every backend stores (column names as in sqlite.MIGRATIONS)."""

    document: dict[str, Any]
    pages: list[dict[str, Any]]
    references: list[dict[str, Any]]
    dates: list[dict[str, Any]]
    places: list[dict[str, Any]]
    tasks: list[dict[str, Any]]

    def parts(self) -> tuple[tuple[str, list[dict[str, Any]]], ...]:
        """(table, rows) of the tables that hold the document's parts, in PART_COLUMNS order."""
        return tuple((table, getattr(self, table)) for table in PART_COLUMNS)

    def digest(self) -> str:
        """A hash of everything stored of the document (ids aside): equal digests, equal documents."""
        hasher = hashlib.sha256()
        for table, rows in (("documents", [self.document]), *self.parts()):
            for row in rows:
                values = [row[column].hex() if isinstance(row[column], bytes) else row[column]
                          for column in (DOCUMENT_COLUMNS if table == "documents" else PART_COLUMNS[table])]
                hasher.update(json.dumps([table, values], ensure_ascii=False).encode("utf-8"))
        return hasher.hexdigest()


def document_rows(result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str) -> DocumentRows:
    """The rows of a processed document, with the search keys of its code, type, issuer and places."""
    record = result.record or Record()
    record_data = record.to_dict()  # converted once: dataclass conversion is the costly part
    header = record.document
    parts = code_parts(header.code) if header.code else []
    issuers = " | ".join(x for x in (header.issuer, header.parent_issuer) if x)
    document = {
        "sha256": result.sha256, "source": result.source, "name": name, "kind": str(kind),
        "page_count": len(result.pages), "code": header.code, "code_key": " ".join(parts) or None,
        "number": _number(parts), "type": header.type, "type_key": code_key(header.type) if header.type else None,
        "type_name": header.type_name, "type_name_key": _fold_or_none(header.type_name),
        "issuer": header.issuer, "parent_issuer": header.parent_issuer,
        "issuer_key": fold_text(issuers) if issuers else None,
        "place": header.place, "place_key": _fold_or_none(header.place), "date": header.date,
        "subject": header.subject, "record": json.dumps(record_data, ensure_ascii=False),
        "result": pack_result(result_json), "added_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    pages = [{"page": page.index, "text": page.text, "folded": fold_text(page.text)} for page in result.pages]
    page_starts = [0, *(index + 1 for index, char in enumerate(result.text) if char == "\f")]
    references = []
    for ref in record.references:
        ref_parts = code_parts(ref.code)
        first = ref.mentions[0] if ref.mentions else None
        page = first.page if first and first.page is not None else (
            _page_of(page_starts, first.start) if first else None)
        references.append({"code": ref.code, "code_key": " ".join(ref_parts), "number": _number(ref_parts),
                           "year": ref.year, "type": ref.type, "issuer_code": ref.issuer_code, "date": ref.date,
                           "mentions": max(1, ref.count), "page": page, "start": first.start if first else None})
    dates = [{"text": d.text, "kind": d.kind, "value": d.value, "start": d.start, "end": d.end,
              "page": d.span.page if d.span else None} for d in record.dates]
    places = [{"level": p.level, "name": p.name, "name_key": fold_text(p.name), "district": p.district,
               "district_key": _fold_or_none(p.district), "province": p.province,
               "province_key": _fold_or_none(p.province), "code": p.code, "text": p.text} for p in record.places]
    seen: set[str] = set()
    tasks = []
    for task, data in zip(record.tasks, record_data["tasks"], strict=True):
        uid = task_uid(result.sha256, task.id)
        if uid in seen:  # duplicate ids from the extractor: keep the first, the uid must stay unique
            continue
        seen.add(uid)
        tasks.append({"task_id": task.id, "uid": uid, "text": task.text, "deadline": task.deadline,
                      "page": task.page, "record": json.dumps(data, ensure_ascii=False)})
    return DocumentRows(document, pages, references, dates, places, tasks)


def pack_result(result_json: str) -> bytes:
    return zlib.compress(result_json.encode("utf-8"), 6)


def unpack_result(data: bytes) -> str:
    return zlib.decompress(data).decode("utf-8")


def _number(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0].isdigit() else None


def _fold_or_none(value: str | None) -> str | None:
    return fold_text(value) if value else None


def _page_of(page_starts: Sequence[int], offset: int) -> int:
    return max(0, bisect.bisect_right(page_starts, offset) - 1)


# --------------------------------------------------------------------------- the factory


def open_archive(location: str | Path, *, create: bool = True) -> ArchiveStore:
    """Open (or create) the archive at `location` and bring its schema up to date: a file path or a
    `sqlite:///PATH` URL (SQLAlchemy's spelling: `sqlite:////abs/path`) is an SQLite archive, a
    `postgresql://…` (or `postgres://…`) URL a PostgreSQL one (libpq's URL: user, password, host, port,
    database and parameters such as `sslmode`)."""
    from pipeline.archive.sqlite import open_sqlite

    if isinstance(location, Path):
        return open_sqlite(location, create=create)
    scheme, separator, rest = location.partition("://")
    if not separator:
        return open_sqlite(Path(location), create=create)
    if scheme.lower() == "sqlite" and rest.startswith("/") and len(rest) > 1:
        return open_sqlite(Path(rest[1:]), create=create)
    if scheme.lower() in POSTGRES_SCHEMES:
        from pipeline.archive.postgres import open_postgres

        return open_postgres(location, create=create)
    raise ArchiveError("no archive backend for this location (give a file path, sqlite:///PATH or "
                       "postgresql://…)", redact_url(location))


POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_server_location(location: str | Path) -> bool:
    """Whether `location` names an archive server that other machines (Dask workers) can reach too."""
    return isinstance(location, str) and location.partition("://")[0].lower() in POSTGRES_SCHEMES


def redact_url(location: str) -> str:
    """`location` with any password in it replaced by ***, for messages."""
    hidden = re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", location)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", hidden)
