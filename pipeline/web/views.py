"""What the pages and the API show, built from the store and the library: search results with facets,
a document with its pages, words to box, resolved references and history; input parsing shared by both."""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from pipeline.archive.citations import CitedBy, ResolvedReference, cited_by, resolve_references
from pipeline.archive.normalize import code_parts, fold_text, looks_like_code, words
from pipeline.archive.query import MAX_QUERY_CHARS, QueryError, check_query, parse_query
from pipeline.archive.search import Hit, search
from pipeline.archive.store import ArchiveStore, DocumentCard, Facets, SearchFilters, TaskFilters
from pipeline.types import Record

PAGE_SIZE = 20
# Hits fetched for one search: pages of results, date order and facet counts come from this window, which
# grows as the clerk pages on (one hit past the page shown says whether there is a next one), up to a bound.
SEARCH_WINDOW = 60
MAX_SEARCH_WINDOW = 1_000
FIELD_CHARS = 300  # filter values and other short user text
ZOOMS = (100, 150, 200, 300)


class InputProblem(ValueError):
    """A request parameter that cannot be used; `key` is its catalogue message."""

    def __init__(self, key: str, value: str = "") -> None:
        super().__init__(key)
        self.key = key
        self.value = value


# --------------------------------------------------------------------------- parameters


def clean_text(value: str | None, limit: int = FIELD_CHARS, too_long: str = "error.too_long") -> str:
    """User text as the archive compares it: NFC, control characters out, spaces collapsed, bounded."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value)
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    text = " ".join(text.split())
    if len(text) > limit:
        raise InputProblem(too_long, text[:40])
    return text


def clean_query(value: str | None) -> str:
    """A query the archive can search (archive/query.py's bounds and syntax), else InputProblem saying why."""
    query = clean_text(value, MAX_QUERY_CHARS, "error.query_too_long")
    try:
        parse_query(check_query(query))
    except QueryError as error:
        raise InputProblem(f"error.query_{error.reason}", query[:40]) from None
    return query


def iso_date(value: str | None) -> str | None:
    text = clean_text(value, 40)
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InputProblem("error.bad_date", text) from None


def tri_state(value: str | None) -> bool | None:
    """"yes"/"no"/"" → True/False/None."""
    return {"yes": True, "no": False}.get(value or "")


def positive_int(value: str | None, default: int, maximum: int) -> int:
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        raise InputProblem("error.bad_number", str(value)[:20]) from None
    if number < 1 or number > maximum:
        raise InputProblem("error.bad_number", str(number))
    return number


def search_filters(params: dict[str, str]) -> SearchFilters:
    return SearchFilters(
        type=clean_text(params.get("type"), 80) or None,
        issuer=clean_text(params.get("issuer"), 200) or None,
        place=clean_text(params.get("place"), 120) or None,
        date_from=iso_date(params.get("from")),
        date_to=iso_date(params.get("to")),
        has_tasks=tri_state(params.get("tasks")),
        needs_review=tri_state(params.get("review")),
    )


def task_filters(params: dict[str, str]) -> TaskFilters:
    status = params.get("status") or None
    if status not in (None, "open", "done"):
        raise InputProblem("error.bad_status", str(status)[:20])
    document = params.get("document") or None
    return TaskFilters(
        assignee=clean_text(params.get("assignee"), 200) or None,
        deadline_from=iso_date(params.get("deadline_from")),
        deadline_to=iso_date(params.get("deadline_to")),
        document_id=positive_int(document, 1, 2**62) if document else None,
        status=status,
    )


# --------------------------------------------------------------------------- search


@dataclass
class SearchResult:
    hit: Hit | None  # None when browsing by filters alone
    card: DocumentCard


@dataclass
class SearchPage:
    query: str
    results: list[SearchResult]
    total: int  # hits in the window (search) or documents matching (browse)
    more: bool  # the search window was full: there may be more hits than `total`
    page: int
    pages: int
    facets: Facets
    sort: str


def run_search(store: ArchiveStore, query: str, filters: SearchFilters, *, sort: str, page: int) -> SearchPage:
    """One page of results: hits for a query (references first, then text, or by date), or the documents
    the filters select when there is no query; facet counts over the same set."""
    offset = (page - 1) * PAGE_SIZE
    if not query:
        order = "added" if sort == "added" else "date"
        total, cards = store.browse(filters, order=order, limit=PAGE_SIZE, offset=offset)
        return SearchPage(query, [SearchResult(None, card) for card in cards], total, False, page,
                          max(1, -(-total // PAGE_SIZE)), store.facets(filters), order)
    window = min(MAX_SEARCH_WINDOW, max(SEARCH_WINDOW, page * PAGE_SIZE + 1))
    hits = search(store, query, filters, limit=window)
    if sort == "date":
        hits.sort(key=lambda hit: (hit.date or "", hit.id), reverse=True)
    shown = hits[offset:offset + PAGE_SIZE]
    by_id = store.cards([hit.id for hit in shown])
    results = [SearchResult(hit, by_id[hit.id]) for hit in shown if hit.id in by_id]
    facets = store.facets(filters, [hit.id for hit in hits])
    return SearchPage(query, results, len(hits), len(hits) >= window, page,
                      max(1, -(-len(hits) // PAGE_SIZE)), facets, "date" if sort == "date" else "relevance")


# --------------------------------------------------------------------------- highlighting


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Where the query's words (or its code) occur in `text`, compared without case or diacritics."""
    if not query or not text:
        return []
    folded = fold_text(text)
    if len(folded) != len(text):
        return []
    if looks_like_code(query):
        parts = code_parts(query)
        pattern = re.compile(rf"(?<![0-9]){re.escape(parts[0])}[\W_]{{0,3}}"
                             + r"[\W_]{0,3}".join(re.escape(p) for p in parts[1:]))
        return [m.span() for m in pattern.finditer(folded)]
    terms = sorted({fold_text(term) for term in words(query)}, key=len, reverse=True)
    if not terms:
        return []
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(term) for term in terms) + r")(?!\w)")
    return [m.span() for m in pattern.finditer(folded)]


def highlight(text: str, query: str) -> Markup:
    """`text` escaped, with the query's occurrences in <mark>."""
    out: list[str] = []
    position = 0
    for start, end in match_spans(text, query):
        out.append(str(escape(text[position:start])))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


# --------------------------------------------------------------------------- documents


@dataclass
class PageWords:
    width: int
    height: int
    words: list[tuple[str, tuple[int, int, int, int]]]  # display text (restored when aligned), box


class ResultCache:
    """Parsed result JSON of recently viewed documents (the page words), keyed by content hash."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[str, list[PageWords]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def pages(self, store: ArchiveStore, document_id: int, sha256: str) -> list[PageWords]:
        with self._lock:
            if sha256 in self._items:
                self._items.move_to_end(sha256)
                return self._items[sha256]
        result_json, _ = store.load_result(document_id)
        pages = page_words(json.loads(result_json))
        with self._lock:
            self._items[sha256] = pages
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return pages


def page_words(result: dict[str, Any]) -> list[PageWords]:
    pages = []
    for page in result.get("pages") or []:
        words_ = page.get("words") or []
        tokens = page.get("tokens")
        aligned = isinstance(tokens, list) and len(tokens) == len(words_)
        placed = []
        for position, word in enumerate(words_):
            text = tokens[position]["restored"] if aligned else word["text"]
            box = word["box"]
            placed.append((f"{word['text']} {text}", (int(box[0]), int(box[1]), int(box[2]), int(box[3]))))
        pages.append(PageWords(int(page.get("width") or 0), int(page.get("height") or 0), placed))
    return pages


def hit_boxes(page: PageWords, query: str) -> list[tuple[int, int, int, int]]:
    """Boxes of the words the query names on a page (OCR or restored spelling, without diacritics)."""
    if not query:
        return []
    if looks_like_code(query):
        wanted = code_parts(query)
        return [box for text, box in page.words
                if any(code_parts(part)[:1] == wanted[:1] and len(code_parts(part)) > 1 for part in text.split(" "))]
    terms = {fold_text(term) for term in words(query)}
    return [box for text, box in page.words
            if any(fold_text(part).strip(".,;:()\"'“”") in terms for part in text.split(" "))]


@dataclass
class DocumentView:
    card: DocumentCard
    record: Record
    record_data: dict[str, Any]
    references: list[ResolvedReference]
    cited: CitedBy
    page_texts: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def document_view(store: ArchiveStore, card: DocumentCard) -> DocumentView:
    data = store.record_data(card.id)
    record = Record.from_dict(data)
    return DocumentView(
        card=card, record=record, record_data=data,
        references=resolve_references(store, card.id, record.references),
        cited=cited_by(store, card.id, card.code, card.date),
        page_texts=store.page_texts(card.id),
    )


# Header fields shown in this order; any other field a record holds is shown after them.
HEADER_FIELDS = ("code", "type_name", "date", "issuer", "parent_issuer", "place", "subject", "recipients", "signer",
                 "distribution")
SKIPPED_HEADER_FIELDS = frozenset({"number", "symbol", "type"})
RECORD_LISTS = ("references", "dates", "places", "tasks", "document", "schema_version")


def record_rows(record_data: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field name, value) of the record as a readable form: the header's fields, then any other top-level
    field of the record (signatures, receiving stamp…) that extraction adds."""
    header = record_data.get("document") or {}
    names = [name for name in HEADER_FIELDS if name in header]
    names += [name for name in header if name not in HEADER_FIELDS and name not in SKIPPED_HEADER_FIELDS]
    rows = [(name, header[name]) for name in names]
    rows += [(name, value) for name, value in record_data.items() if name not in RECORD_LISTS]
    return rows
