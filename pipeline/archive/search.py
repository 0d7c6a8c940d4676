"""Search the archive: references in any spelling (issuing documents first), full text with or without
diacritics, filters by type, issuer, date and place; each hit with a snippet and its page. The store finds
the candidates (`ArchiveStore.issued_documents`, `citations`, `matching_pages`); this module ranks them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.archive.normalize import (
    code_parts,
    fold_text,
    has_diacritics,
    looks_like_code,
    matches_code,
)
from pipeline.archive.query import TextQuery, check_query, parse_query, term_pattern
from pipeline.archive.store import ArchiveStore, Citation, DocumentSummary, SearchFilters

SNIPPET_BEFORE = 60
SNIPPET_AFTER = 120


@dataclass(frozen=True)
class Hit:
    id: int
    source: str
    name: str
    code: str | None  # the hit document's own code
    type: str | None
    issuer: str | None
    date: str | None
    page: int  # 1-based page of the snippet
    snippet: str
    match: str  # "issued": the document searched for; "cited": it cites it; "text": full text; "browse": filters
    matched: str | None  # the reference code as written in the document, for "issued"/"cited"
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(archive: ArchiveStore, query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[Hit]:
    """Hits for `query` (archive/query.py: words, "phrases", prefix*, OR, NOT): when it reads as a reference
    code, the documents with that code first, then the documents citing it, then other full-text matches;
    otherwise full-text matches ranked by BM25. A query without words browses: the documents matching
    `filters`, newest first. UsageError when the query is too long."""
    filters = filters or SearchFilters()
    text = check_query(query)
    parsed = parse_query(text)
    if parsed is None:
        return _browse(archive, filters, limit)
    hits: list[Hit] = []
    is_code = parsed.plain and looks_like_code(text)
    if is_code:
        hits = _reference_hits(archive, text, filters, limit)
    seen = {hit.id for hit in hits}
    if len(hits) < limit:
        # A code also matches as a phrase in text its extraction missed (damaged or unusual spelling);
        # its parts scattered over a page ("539" here, "KH" there) mean nothing.
        for hit in _text_hits(archive, parsed, has_diacritics(text), filters, limit, phrase_only=is_code):
            if hit.id not in seen:
                seen.add(hit.id)
                hits.append(hit)
    return hits[:limit]


def _browse(archive: ArchiveStore, filters: SearchFilters, limit: int) -> list[Hit]:
    hits = []
    for document in archive.documents(filters, order="date", limit=limit):
        subject = " ".join((document.record.document.subject or "").split())
        hits.append(_hit(document.summary, 0, subject, "browse", None, 0.0))
    return hits


# --------------------------------------------------------------------------- references


def _reference_hits(archive: ArchiveStore, query: str, filters: SearchFilters, limit: int) -> list[Hit]:
    """Issuing documents (latest first), then citing ones (most mentions first); snippets are made for the
    `limit` hits shown only (a common number can be cited by hundreds of documents)."""
    parts = code_parts(query)
    issued = [(candidate.document, candidate.code_key) for candidate in archive.issued_documents(parts[0], filters)
              if candidate.code_key and matches_code(parts, candidate.code_key.split())]
    issued.sort(key=lambda item: (item[0].date or "", item[0].id), reverse=True)

    cited: dict[int, tuple[int, Citation]] = {}  # document id → (mentions in all, its first citation)
    issued_ids = {document.id for document, _ in issued}
    for citation in archive.citations(parts[0], filters):
        document = citation.document
        if document.id in issued_ids or not matches_code(parts, citation.code_key.split()):
            continue
        previous = cited.get(document.id)
        cited[document.id] = (citation.mentions + (previous[0] if previous else 0),
                              previous[1] if previous else citation)
    ranked = sorted(cited.values(), key=lambda item: (-item[0], _negated_date(item[1].document.date),
                                                      item[1].document.id))
    hits = []
    for document, key in issued[:limit]:
        page, snippet = _code_snippet(archive, document.id, key.split(), None)
        hits.append(_hit(document, page, snippet, "issued", document.code, 0.0))
    for _, first in ranked[:max(0, limit - len(hits))]:
        page, snippet = _code_snippet(archive, first.document.id, first.code_key.split(), first.page)
        hits.append(_hit(first.document, page, snippet, "cited", first.code, float(-first.mentions)))
    return hits


def _negated_date(date: str | None) -> str:
    """Sort key putting later dates first in an ascending sort."""
    return "".join(chr(0x10FFFF - ord(c)) for c in date) if date else "\U0010ffff"


def _hit(document: DocumentSummary, page: int, snippet: str, match: str, matched: str | None, score: float) -> Hit:
    return Hit(id=document.id, source=document.source, name=document.name, code=document.code, type=document.type,
               issuer=document.issuer, date=document.date, page=page + 1, snippet=snippet, match=match,
               matched=matched, score=score)


def _code_snippet(archive: ArchiveStore, document_id: int, key_parts: list[str],
                  page_hint: int | None) -> tuple[int, str]:
    """Page and snippet where the code appears: its number followed closely by its letters."""
    pages = archive.page_texts(document_id)
    if not pages:
        return 0, ""
    number, letters = key_parts[0], [part for part in key_parts[1:] if not part.isdigit()]
    pattern = re.compile(rf"(?<![0-9]){re.escape(number)}(?![0-9])[\W_0-9]{{0,12}}"
                         + (re.escape(letters[0]) if letters else ""))
    order = list(range(len(pages)))
    if page_hint is not None and 0 <= page_hint < len(pages):
        order.remove(page_hint)
        order.insert(0, page_hint)
    for index in order:
        match = pattern.search(fold_text(pages[index]))
        if match:
            return index, make_snippet(pages[index], match.start(), match.end())
    index = order[0]
    return index, make_snippet(pages[index], 0, 0)


# --------------------------------------------------------------------------- full text


def _text_hits(archive: ArchiveStore, query: TextQuery, accented_query: bool, filters: SearchFilters, limit: int,
               *, phrase_only: bool = False) -> list[Hit]:
    """Pages matching the query, best page per document: for plain words, the exact phrase first, then the
    words in any order. An accented query matches accented text first, then text that lacks diacritics."""
    searches = [(False, query.folded())]
    if accented_query:
        searches.insert(0, (True, query))
    hits: list[Hit] = []
    seen: set[int] = set()
    for accented, variant in searches:
        if phrase_only:
            forms = [variant.as_phrase()]
        elif variant.plain and len(variant.words()) > 1:
            forms = [variant.as_phrase(), variant]
        else:
            forms = [variant]
        for form in forms:
            for found in archive.matching_pages(form, accented=accented, filters=filters, wanted=limit - len(hits),
                                                exclude=seen):
                seen.add(found.document.id)
                start, end = _locate_terms(found.text, form, accented)
                hits.append(_hit(found.document, found.page, make_snippet(found.text, start, end), "text", None,
                                 found.score))
            if len(hits) >= limit:
                return hits
    return hits


def _locate_terms(text: str, query: TextQuery, accented: bool) -> tuple[int, int]:
    """Where the query's first term found on the page occurs, as offsets into `text`."""
    lowered = text.lower()
    if accented and len(lowered) == len(text):
        haystack, terms = lowered, query
    else:
        haystack, terms = fold_text(text), query.folded()
    for group in terms.groups:
        for term in group:
            match = re.search(term_pattern(term), haystack)
            if match:
                return match.start(), match.end()
    return 0, 0


def make_snippet(text: str, start: int, end: int) -> str:
    """The text around [start, end) on one line, cut at word boundaries, with … where it was cut."""
    left = max(0, start - SNIPPET_BEFORE)
    right = min(len(text), max(end, start) + SNIPPET_AFTER)
    if left > 0:
        space = text.find(" ", left, start) if start > left else -1
        left = space + 1 if space >= 0 else left
    if right < len(text):
        space = text.rfind(" ", max(end, start), right)
        right = space if space > 0 else right
    body = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")


__all__ = ["Hit", "SearchFilters", "make_snippet", "search"]
