"""The archive store interface: `ArchiveStore`, the values it returns, and `open_archive()`, its factory.

Everything congvan keeps about processed documents goes through an `ArchiveStore`: the driver adds documents,
`search`, `show` and `export` read them. Only the store modules (`sqlite.py`, later a PostgreSQL one) hold
SQL; this module defines what they must do and the backend-independent part of it (the search keys of a
document, the identity of a task), so that a second backend is one module implementing the Protocol.

Adding to the store: add the method to `ArchiveStore`, a migration and the method to every backend, and a
test in tests/test_archive_store.py (or tests/test_archive_review.py) that runs against each backend.

Human work on the archive (corrections, task status, users, sessions, uploads) is keyed by what survives
re-processing: corrections and task status by the document's content hash and the task uid, never by a row
id, so that `process --force` re-extracts a document without losing what people did to it.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from pipeline.archive.normalize import code_key, code_parts, fold_text
from pipeline.archive.query import TextQuery
from pipeline.archive.review import apply_corrections, low_confidence_fields, review_reasons
from pipeline.errors import ArchiveError
from pipeline.types import DocumentKind, DocumentResult, Record

# Above this many matching pages a text query lists the newest pages first instead of ranking them: for
# boilerplate such as "ủy ban nhân dân" relevance order is nearly arbitrary and costly to compute.
RANKED_MATCHES = 1000

# The logical schema every backend stores: the columns of each table, without the ids a backend assigns.
DOCUMENT_COLUMNS = (
    "sha256", "source", "name", "kind", "page_count", "code", "code_key", "number", "type", "type_key", "type_name",
    "type_name_key", "issuer", "parent_issuer", "issuer_key", "place", "place_key", "date", "subject", "review",
    "low_confidence", "task_count", "record", "result", "added_at",
)
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "pages": ("page", "text", "folded"),
    "references": ("code", "code_key", "number", "year", "type", "issuer_code", "date", "mentions", "page", "start"),
    "dates": ("text", "kind", "value", "start", "end", "page"),
    "places": ("level", "name", "name_key", "district", "district_key", "province", "province_key", "code", "text"),
    "tasks": ("task_id", "uid", "text", "deadline", "page", "record", "assignees_key"),
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
    place: str | None = None  # place of issue


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
    place: str | None = None  # place of issue ("Lạng Sơn")


@dataclass(frozen=True)
class SearchFilters:
    type: str | None = None  # document type abbreviation (QĐ, KH…) or name (Quyết định)
    issuer: str | None = None  # part of the issuer or parent issuer
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None
    place: str | None = None  # province, district or commune name
    has_tasks: bool | None = None  # True: only documents with tasks; False: only documents without
    needs_review: bool | None = None  # True: only documents in the review queue; False: only the others


@dataclass(frozen=True)
class FilterKeys:
    """SearchFilters as the keys stored with each document (see `document_keys`); None = no condition."""

    type_key: str | None = None  # compared with the type's code key or its folded name
    type_name_key: str | None = None
    issuer_key: str | None = None  # contained in the folded issuers
    date_from: str | None = None
    date_to: str | None = None
    place_key: str | None = None  # the place of issue or any place named, at any level
    has_tasks: bool | None = None
    needs_review: bool | None = None


def filter_keys(filters: SearchFilters) -> FilterKeys:
    # a NUL is no text (PostgreSQL cannot store one, SQLite cuts strings at it): a filter of NULs is no filter
    type_, issuer, place = (value.replace("\x00", "") if value else None
                            for value in (filters.type, filters.issuer, filters.place))
    return FilterKeys(
        type_key=code_key(type_) if type_ else None,
        type_name_key=fold_text(type_).strip() if type_ else None,
        issuer_key=fold_text(issuer) if issuer else None,
        date_from=filters.date_from or None,
        date_to=filters.date_to or None,
        place_key=_PLACE_PREFIX.sub("", fold_text(place).strip()) if place else None,
        has_tasks=filters.has_tasks,
        needs_review=filters.needs_review,
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
    year: int | None = None  # the year the reference gives (in its code or its date), when it gives one


@dataclass(frozen=True)
class ArchivedDocument:
    """A document with its record, as `documents` lists them (registers, browsing)."""

    summary: DocumentSummary
    added_at: str  # ISO date and time it entered the archive (UTC)
    record: Record


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
    status: str = "open"  # "open" | "done" (review.TASK_STATUSES), set by people

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            **self.task,
            "status": self.status,
            "document": {"id": self.document_id, "code": self.document_code, "date": self.document_date,
                         "type": self.document_type, "issuer": self.issuer, "source": self.source},
        }


@dataclass(frozen=True)
class TaskFilters:
    """Conditions of the tasks board; None = no condition."""

    assignee: str | None = None  # part of an assignee's name, with or without diacritics
    deadline_from: str | None = None  # ISO dates, inclusive; a task without a deadline matches neither
    deadline_to: str | None = None
    document_id: int | None = None
    status: str | None = None  # "open" | "done"
    since: str | None = None  # as ArchiveStore.tasks: documents dated (else added) on or after this day


@dataclass(frozen=True)
class DocumentCard:
    """What the web interface shows of a document in lists and above its page."""

    id: int
    sha256: str
    source: str
    name: str
    kind: str
    page_count: int
    code: str | None
    type: str | None
    type_name: str | None
    issuer: str | None
    parent_issuer: str | None
    place: str | None
    date: str | None
    subject: str | None
    review: tuple[str, ...]  # review.REVIEW_REASONS codes; empty when nothing needs review
    task_count: int
    added_at: str


@dataclass(frozen=True)
class Facets:
    """Counts of documents by value, for the documents a search or a browse covers (most frequent first)."""

    total: int
    types: list[tuple[str, int]]  # type abbreviation
    issuers: list[tuple[str, int]]
    years: list[tuple[str, int]]
    places: list[tuple[str, int]]  # place of issue
    with_tasks: int
    needs_review: int


@dataclass(frozen=True)
class Correction:
    """One change a person made to a record field (or, with field "confirmed:<field>", a confirmation that
    the extracted value is right): the audit trail. `old` and `new` are field values as text."""

    id: int
    sha256: str  # the document's content: corrections outlive re-processing and its row ids
    document_id: int | None  # the document now stored with that content, if any
    field: str
    old: str | None
    new: str | None
    user: str
    at: str  # ISO timestamp, UTC


@dataclass(frozen=True)
class TaskStatusChange:
    """One change of a task's status, by a person (the audit trail of the tasks board)."""

    id: int
    uid: str
    old: str
    new: str
    user: str
    at: str


@dataclass(frozen=True)
class CodedDocument:
    """An archived document as a candidate target of a reference: its code key, year and region."""

    document: DocumentSummary
    code_key: str
    regions: frozenset[str]  # folded place of issue and the provinces it lies in


@dataclass(frozen=True)
class CitingReference:
    """A reference row of a document citing a code key (for "cited by")."""

    document: DocumentSummary
    code: str
    code_key: str
    year: int | None
    date: str | None
    regions: frozenset[str]  # of the citing document


@dataclass(frozen=True)
class User:
    name: str
    role: str  # "viewer" | "editor" | "admin"
    password_hash: str
    created_at: str


@dataclass(frozen=True)
class Session:
    token_hash: str  # sha256 of the cookie value: a stolen archive holds no usable session
    user: str
    csrf: str
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class IntakeJob:
    """An uploaded file waiting for, going through or done with processing."""

    id: int
    name: str  # the file name as uploaded (untrusted text)
    path: str  # where the upload was saved
    size: int
    user: str
    status: str  # "queued" | "running" | "done" | "skipped" | "failed"
    message: str | None  # the one-line error or skip reason
    document_id: int | None
    created_at: str
    finished_at: str | None


@dataclass(frozen=True)
class HumanWork:
    """What people did to an archive, as rows without ids (`congvan migrate` copies it): corrections
    (sha256, field, old, new, author, at), task status (uid, status, author, at), task changes (uid, old,
    new, author, at), users (name, role, password_hash, created_at) and webhook deliveries (target, uid,
    digest, delivered_at: a re-run after the move sends only new or changed tasks). Sessions and uploads stay
    behind."""

    corrections: tuple[tuple[Any, ...], ...] = ()
    task_status: tuple[tuple[Any, ...], ...] = ()
    task_changes: tuple[tuple[Any, ...], ...] = ()
    users: tuple[tuple[Any, ...], ...] = ()
    deliveries: tuple[tuple[Any, ...], ...] = ()

    def missing_from(self, other: HumanWork) -> HumanWork:
        """The rows of this work that `other` lacks (order kept): what a copy still has to write."""
        return HumanWork(*(tuple(row for row in mine if row not in set(theirs))
                           for mine, theirs in zip(self.tables(), other.tables(), strict=True)))

    def tables(self) -> tuple[tuple[tuple[Any, ...], ...], ...]:
        return self.corrections, self.task_status, self.task_changes, self.users, self.deliveries

    def counts(self) -> dict[str, int]:
        return {"corrections": len(self.corrections), "task status": len(self.task_status),
                "task changes": len(self.task_changes), "users": len(self.users),
                "deliveries": len(self.deliveries)}


HUMAN_WORK_COLUMNS: dict[str, tuple[str, ...]] = {  # HumanWork's tables, in its field order
    "corrections": ("sha256", "field", "old", "new", "author", "at"),
    "task_status": ("uid", "status", "author", "at"),
    "task_changes": ("uid", "old", "new", "author", "at"),
    "users": ("name", "role", "password_hash", "created_at"),
    "deliveries": ("target", "uid", "digest", "delivered_at"),
}
# Tables whose rows are replaced by their key (the newest state wins), where the others only accumulate.
HUMAN_WORK_KEYS: dict[str, tuple[str, ...]] = {"task_status": ("uid",), "users": ("name",),
                                                "deliveries": ("target", "uid")}

ROLES = ("viewer", "editor", "admin")
INTAKE_STATUSES = ("queued", "running", "done", "skipped", "failed")
BROWSE_ORDERS = ("date", "added")


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
    # The folder stored paths are relative to (an SQLite archive's own folder; None for a database server):
    # a source inside it is stored relative (see stored_source), so that the whole folder can move.
    root: Path | None

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None: ...

    # ----------------------------------------------------------------------- writing

    def add_document(self, result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str) -> int:
        """Store a processed document in one transaction, replacing an earlier version of the same content
        (same sha256) under the same id; return its id. The corrections stored for that content are applied
        over the new record in the same transaction (they take precedence over extraction). Raises
        ArchiveError when it cannot be stored. Writers racing on the same content leave one document."""
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

    def human_work(self) -> HumanWork:
        """Corrections, task status and its history, users: all of them, oldest first."""
        ...

    def add_human_work(self, work: HumanWork) -> None:
        """Add these rows (from another archive's `human_work`) in one transaction; a task status replaces
        the one of the same task, a user the one of the same name."""
        ...

    def cards(self, document_ids: Collection[int]) -> dict[int, DocumentCard]:
        """The cards of these documents (ids not in the archive are left out)."""
        ...

    def browse(self, filters: SearchFilters, *, order: str, limit: int, offset: int) -> tuple[int, list[DocumentCard]]:
        """Documents matching `filters` without a query: the number of them, and one page of cards, newest
        first by document date (`order` "date", undated last) or by time added ("added")."""
        ...

    def facets(self, filters: SearchFilters, document_ids: Collection[int] | None = None) -> Facets:
        """Facet counts over the documents matching `filters` (and among `document_ids` when given)."""
        ...

    def load_record(self, document_id: int) -> Record:
        """The record of a document; NotFoundError when there is none."""
        ...

    def record_data(self, document_id: int) -> dict[str, Any]:
        """The stored (corrected) record as JSON data, keeping fields this version of congvan does not know
        (records written by a newer extractor); NotFoundError when there is none."""
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

    def matching_pages(self, query: TextQuery, *, accented: bool, filters: SearchFilters, wanted: int,
                       exclude: Collection[int]) -> list[PageMatch]:
        """The best page of up to `wanted` documents (none of `exclude`) with a page that matches `query`
        (archive/query.py: every group has one of its terms on the page; a term is a word or a phrase, its last
        word a prefix when `prefix`), best first; a document with an excluded term on any page is left out. `accented`: the query's words are
        lower-cased words matched against the text as written; otherwise folded words (normalize.fold_text)
        matched against the folded text. A backend compiles the terms into its own full-text syntax with every
        word quoted or bound: nothing of the user's text is ever query syntax."""
        ...

    def documents(self, filters: SearchFilters, *, order: str = "date", limit: int | None = None) -> Iterator[ArchivedDocument]:
        """Documents matching `filters` (no text query) with their records: `order` "date" lists the newest
        document date first (undated last, then newest added), "added" lists them in the order they entered
        the archive (oldest first, then by id); at most `limit` of them when given."""
        ...

    # ----------------------------------------------------------------------- references between documents

    def documents_with_codes(self, code_keys: Collection[str]) -> list[CodedDocument]:
        """Documents whose own code has one of these keys (normalize.code_key), any year."""
        ...

    def citing(self, code_key: str) -> list[CitingReference]:
        """Reference rows, in any document, to this code key."""
        ...

    def regions(self, document_id: int) -> frozenset[str]:
        """The folded place of issue of a document and the provinces its places of that name lie in."""
        ...

    # ----------------------------------------------------------------------- tasks

    def tasks(self, since: str | None = None) -> Iterator[TaskRow]:
        """Tasks in document order (date, then id); `since` (ISO date) keeps documents dated on or after it,
        or, when a document has no date, added to the archive on or after it."""
        ...

    # ----------------------------------------------------------------------- webhook delivery record

    def deliveries(self, target: str) -> dict[str, str]:
        """What was delivered to the endpoint `target` (a URL without credentials): task uid → digest of the
        body last delivered (webhook.body_digest), so that a re-run sends only new or changed tasks."""
        ...

    def record_delivery(self, target: str, uid: str, digest: str) -> None:
        """Remember that task `uid` was delivered to `target` with body digest `digest` (replacing an earlier
        record of the same task and target), committed at once."""
        ...

    def task_board(self, filters: TaskFilters, *, limit: int | None, offset: int = 0) -> tuple[int, list[TaskRow]]:
        """Tasks matching `filters`, soonest deadline first (tasks without a deadline last, newest document
        first): how many, and `limit` of them from `offset` (all when `limit` is None)."""
        ...

    def set_task_status(self, uid: str, status: str, *, user: str) -> TaskStatusChange:
        """Set a task's status ("open" | "done") and record the change; NotFoundError for an unknown uid,
        InvalidCorrectionError for an unknown status. Survives re-processing (keyed by the task uid)."""
        ...

    def task_history(self, uid: str) -> list[TaskStatusChange]:
        """The status changes of a task, oldest first."""
        ...

    # ----------------------------------------------------------------------- review and corrections

    def add_correction(self, document_id: int, field: str, value: str | None, *, user: str) -> Correction:
        """Correct one field of a document's record (review.CORRECTABLE_FIELDS; value validated by
        review.validate_correction; None clears it), in one transaction: record the change in the audit
        trail and update the stored record and its search keys, so that the document is found by the new
        value at once. A value equal to the current one confirms it (recorded as "confirmed:<field>").
        NotFoundError for an unknown document."""
        ...

    def corrections(self, document_id: int) -> list[Correction]:
        """The audit trail of a document's content, oldest first."""
        ...

    def recent_corrections(self, limit: int) -> list[Correction]:
        """The latest corrections in the whole archive, newest first."""
        ...

    def review_queue(self, *, limit: int, offset: int) -> tuple[int, list[DocumentCard]]:
        """Documents needing review (a review reason left), newest first: how many, and one page."""
        ...

    # ----------------------------------------------------------------------- users and sessions

    def add_user(self, name: str, role: str, password_hash: str) -> User:
        """Create a user, or replace the role and password of an existing one."""
        ...

    def user(self, name: str) -> User | None: ...

    def users(self) -> list[User]: ...

    def add_session(self, session: Session) -> None: ...

    def session(self, token_hash: str, now: str) -> Session | None:
        """The session with this token hash unless it expired before `now` (ISO timestamp)."""
        ...

    def delete_session(self, token_hash: str) -> None: ...

    # ----------------------------------------------------------------------- intake

    def add_intake(self, name: str, path: str, size: int, *, user: str) -> IntakeJob: ...

    def intake_jobs(self, limit: int) -> list[IntakeJob]:
        """The latest uploads, newest first."""
        ...

    def claim_intake(self) -> IntakeJob | None:
        """Mark the oldest queued upload "running" and return it (one worker gets each job)."""
        ...

    def finish_intake(self, job_id: int, status: str, message: str | None, document_id: int | None) -> None: ...


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


# The columns of "documents" a StoredDocument is read from, in its fields' order (both stores select them).
STORED_COLUMNS = '"id", "sha256", "source", "name", "kind", "page_count", "code", "date", "place"'


def stored_document(row: Sequence[Any]) -> StoredDocument:
    """A StoredDocument from its columns, in field order."""
    id_, sha256, source, name, kind, page_count, code, date, place = row
    return StoredDocument(id_, sha256, source, name, DocumentKind(kind), page_count, code, date, place)


def stored_source(source: str, root: Path | None) -> str:
    """How a source path is stored: relative to the archive's folder when it lies inside it (originals moved
    into the archive by `congvan watch`), as given otherwise."""
    if root is None:
        return source
    path = Path(source)
    try:
        return path.resolve().relative_to(root.resolve()).as_posix() if path.is_absolute() else source
    except ValueError:
        return source


def source_path(source: str, root: Path | None) -> Path:
    """A stored source as a path to open: a relative one is relative to the archive's folder, wherever that
    folder is now."""
    path = Path(source)
    return root / path if root is not None and not path.is_absolute() else path


def relocated_rows(rows: DocumentRows, from_root: Path | None, to_root: Path | None) -> DocumentRows:
    """A document's rows as an archive whose folder is `to_root` stores them (None: a database server, which
    keeps paths absolute): a source relative to `from_root` (the archive it comes from) made absolute, then
    relative to `to_root` when inside it; the result JSON's source alike."""
    stored = rows.document["source"]
    moved = stored_source(str(source_path(stored, from_root)), to_root)
    if moved == stored:
        return rows
    data = json.loads(unpack_result(rows.document["result"]))
    data["source"] = moved
    result = pack_result(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return replace(rows, document={**rows.document, "source": moved, "result": result})


def record_columns(record: Record, *, low_confidence: Sequence[str], settled: Collection[str],
                   record_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document columns that derive from its (corrected) record: header values, their search keys,
    the review reasons (space-separated, None when none) and the record JSON."""
    header = record.document
    parts = code_parts(header.code) if header.code else []
    issuers = " | ".join(x for x in (header.issuer, header.parent_issuer) if x)
    reasons = review_reasons(record, low_confidence, settled)
    return {
        "code": header.code, "code_key": " ".join(parts) or None,
        "number": _number(parts), "type": header.type, "type_key": code_key(header.type) if header.type else None,
        "type_name": header.type_name, "type_name_key": _fold_or_none(header.type_name),
        "issuer": header.issuer, "parent_issuer": header.parent_issuer,
        "issuer_key": fold_text(issuers) if issuers else None,
        "place": header.place, "place_key": _fold_or_none(header.place), "date": header.date,
        "subject": header.subject, "review": " ".join(reasons) or None,
        "record": json.dumps(record_data if record_data is not None else record.to_dict(), ensure_ascii=False),
    }


def settled_fields(changes: Iterable[tuple[str, str | None]]) -> set[str]:
    """The fields a person corrected or confirmed, from (field, value) audit rows."""
    return {field.removeprefix("confirmed:") for field, _ in changes}


def corrected_columns(record: Record, changes: Sequence[tuple[str, str | None]],
                      low_confidence: Sequence[str]) -> dict[str, Any]:
    """`record_columns` of a record with the corrections (field, value), oldest first, applied over it."""
    applied = [(field, value) for field, value in changes if not field.startswith("confirmed:")]
    corrected = apply_corrections(record, applied) if applied else record
    return record_columns(corrected, low_confidence=low_confidence, settled=settled_fields(changes))


def document_rows(result: DocumentResult, *, name: str, kind: DocumentKind, result_json: str,
                  root: Path | None = None) -> DocumentRows:
    """The rows of a processed document, with the search keys of its code, type, issuer and places; its source
    (also in the result JSON) relative to `root` when inside it."""
    source = stored_source(result.source, root)
    if source != result.source:
        data = json.loads(result_json)
        data["source"] = source
        result_json = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    record = result.record or Record()
    record_data = record.to_dict()  # converted once: dataclass conversion is the costly part
    low = low_confidence_fields(record, result.pages)
    document = {
        "sha256": result.sha256, "source": source, "name": name, "kind": str(kind),
        "page_count": len(result.pages),
        **record_columns(record, low_confidence=low, settled=(), record_data=record_data),
        "low_confidence": " ".join(low) or None, "task_count": 0,  # set below, once duplicates are dropped
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
                      "page": task.page, "record": json.dumps(data, ensure_ascii=False),
                      "assignees_key": fold_text(" | ".join(task.assignees)) or None})
    document["task_count"] = len(tasks)
    return DocumentRows(document, pages, references, dates, places, tasks)


def pack_result(result_json: str) -> bytes:
    return zlib.compress(result_json.encode("utf-8"), 6)


def unpack_result(data: bytes) -> str:
    return zlib.decompress(data).decode("utf-8")


def _number(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0].isdigit() else None


def _fold_or_none(value: str | None) -> str | None:
    return fold_text(value) if value else None


FACET_VALUES = 12  # values listed per facet


def facets_of(rows: Iterable[Sequence[Any]]) -> Facets:
    """Facets from (facet, value, count) rows: "type", "issuer", "year", "place" values, and the "total",
    "tasks" and "review" counts; most frequent values first (years newest first), FACET_VALUES of each."""
    groups: dict[str, list[tuple[str, int]]] = {"type": [], "issuer": [], "year": [], "place": []}
    totals: dict[str, int] = {}
    for facet, value, count in rows:
        if facet in groups:
            groups[facet].append((str(value), int(count)))
        else:
            totals[facet] = int(count)
    for facet, values in groups.items():
        values.sort(key=(lambda item: item[0]) if facet == "year" else (lambda item: (-item[1], item[0])),
                    reverse=facet == "year")
        del values[FACET_VALUES:]
    return Facets(total=totals["total"], types=groups["type"], issuers=groups["issuer"], years=groups["year"],
                  places=groups["place"], with_tasks=totals["tasks"], needs_review=totals["review"])


def fold_assignee(text: str) -> str:
    """The key an assignee filter is matched with (contained in the task's folded assignees)."""
    return fold_text(" ".join(text.split()))


def region_of(place_key: str | None, places: Iterable[tuple[str | None, str | None, str | None]]) -> frozenset[str]:
    """The folded place of issue and the provinces the document's places of that name lie in, from
    (name_key, district_key, province_key) rows of its places."""
    if not place_key:
        return frozenset()
    regions = {place_key}
    for name_key, district_key, province_key in places:
        if name_key == place_key:
            regions.update(key for key in (district_key, province_key) if key)
    return frozenset(regions)


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


# --------------------------------------------------------------------------- rows of the backends' listings

# What each listing selects, in the order its row reader below takes the row apart: the select lists (over
# "documents" d, "tasks" t, "task_status" s, "corrections" c) are the same SQL in both stores.
SUMMARY_COLUMNS = 'd."id", d."source", d."name", d."code", d."type", d."issuer", d."date", d."place"'
SUMMARY_WIDTH = 8  # the columns of a DocumentSummary at the start of every document listing's row
CARD_COLUMNS = ('d."id", d."sha256", d."source", d."name", d."kind", d."page_count", d."code", d."type", '
                'd."type_name", d."issuer", d."parent_issuer", d."place", d."date", d."subject", d."review", '
                'd."task_count", d."added_at"')
TASK_COLUMNS = ('t."uid", t."record", d."id", d."code", d."date", d."type", d."issuer", d."source", '
                'coalesce(s."status", \'open\')')
TASK_FROM = ('FROM "tasks" t JOIN "documents" d ON d."id" = t."document_id" '
             'LEFT JOIN "task_status" s ON s."uid" = t."uid"')
CORRECTION_COLUMNS = 'c."id", c."sha256", d."id", c."field", c."old", c."new", c."author", c."at"'  # Correction's
CORRECTION_FROM = 'FROM "corrections" c LEFT JOIN "documents" d ON d."sha256" = c."sha256"'
INTAKE_COLUMNS = ('"id", "name", "path", "size", "author", "status", "message", "document_id", "created_at", '
                  '"finished_at"')  # IntakeJob's fields


def summary_from_row(row: Sequence[Any]) -> DocumentSummary:
    return DocumentSummary(*row[:SUMMARY_WIDTH])


def best_pages(rows: Iterable[Sequence[Any]], exclude: Collection[int]) -> list[PageMatch]:
    """A page search's matches (a summary, then page, text, score; best first): each document's best page, in
    rank order, but for the `exclude`d documents."""
    best: dict[int, PageMatch] = {}
    for row in rows:
        document = summary_from_row(row)
        if document.id not in exclude and document.id not in best:
            page, text, value = row[SUMMARY_WIDTH:]
            best[document.id] = PageMatch(document, page, text, float(value))
    return list(best.values())


def card_from_row(row: Sequence[Any]) -> DocumentCard:
    values = list(row)
    values[14] = tuple((values[14] or "").split())  # the region keys, stored space-separated
    return DocumentCard(*values)


def task_from_row(row: Sequence[Any]) -> TaskRow:
    uid, record, doc_id, code, doc_date, doc_type, issuer, source, status = row
    return TaskRow(uid, json.loads(record), doc_id, code, doc_date, doc_type, issuer, source, status)


def now_iso() -> str:
    """The time stored with corrections, task changes and deliveries (UTC, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")
