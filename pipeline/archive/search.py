"""Search the archive: references in any spelling (issuing documents first), full text with or without
diacritics, filters by type, issuer, date and place; each hit with a snippet and its page."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.archive.normalize import (
    code_key,
    code_parts,
    fold_text,
    has_diacritics,
    looks_like_code,
    matches_code,
    words,
)
from pipeline.archive.store import Archive

SNIPPET_BEFORE = 60
SNIPPET_AFTER = 120
# Above this many matching pages a text query is ordered by recency instead of BM25 (see _ranked_pages).
RANKED_MATCHES = 1000
# Administrative prefixes users type before a place name ("huyện Hữu Lũng"); records hold bare names.
_PLACE_PREFIX = re.compile(r"^(?:tinh|thanh pho|tp\.?|huyen|quan|thi xa|thi tran|xa|phuong)\s+")


@dataclass(frozen=True)
class SearchFilters:
    type: str | None = None  # document type abbreviation (QĐ, KH…) or name (Quyết định)
    issuer: str | None = None  # part of the issuer or parent issuer
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None
    place: str | None = None  # province, district or commune name


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
    match: str  # "issued": the document is the one searched for; "cited": it cites it; "text": full text
    matched: str | None  # the reference code as written in the document, for "issued"/"cited"
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_DOCUMENT_COLUMNS = 'd."id", d."source", d."name", d."code", d."type", d."issuer", d."date"'


def _filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL conditions on documents `d`; user values are bound parameters, never spliced into SQL."""
    conditions: list[str] = []
    params: list[Any] = []
    if filters.type:
        conditions.append('(d."type_key" = ? OR d."type_name_key" = ?)')
        params += [code_key(filters.type), fold_text(filters.type).strip()]
    if filters.issuer:
        conditions.append("""d."issuer_key" LIKE '%' || ? || '%' ESCAPE '\\'""")
        params.append(_like_escape(fold_text(filters.issuer)))
    if filters.date_from:
        conditions.append('d."date" >= ?')
        params.append(filters.date_from)
    if filters.date_to:
        conditions.append('d."date" <= ?')
        params.append(filters.date_to)
    if filters.place:
        key = _PLACE_PREFIX.sub("", fold_text(filters.place).strip())
        conditions.append(
            '(d."place_key" = ? OR EXISTS (SELECT 1 FROM "places" pl WHERE pl."document_id" = d."id" AND '
            '(pl."name_key" = ? OR pl."district_key" = ? OR pl."province_key" = ?)))'
        )
        params += [key, key, key, key]
    return "".join(f" AND {condition}" for condition in conditions), params


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(archive: Archive, query: str, filters: SearchFilters | None = None, limit: int = 20) -> list[Hit]:
    """Hits for `query`: when it reads as a reference code, the documents with that code first, then the
    documents citing it, then other full-text matches; otherwise full-text matches ranked by BM25."""
    filters = filters or SearchFilters()
    hits: list[Hit] = []
    is_code = looks_like_code(query)
    if is_code:
        hits = _reference_hits(archive, query, filters)
    seen = {hit.id for hit in hits}
    if len(hits) < limit:
        # A code also matches as a phrase in text its extraction missed (damaged or unusual spelling);
        # its parts scattered over a page ("539" here, "KH" there) mean nothing.
        for hit in _text_hits(archive, query, filters, limit, phrase_only=is_code):
            if hit.id not in seen:
                seen.add(hit.id)
                hits.append(hit)
    return hits[:limit]


# --------------------------------------------------------------------------- references


def _reference_hits(archive: Archive, query: str, filters: SearchFilters) -> list[Hit]:
    parts = code_parts(query)
    where, params = _filter_sql(filters)
    db = archive.connection
    issued: list[Hit] = []
    rows = db.execute(
        f'SELECT {_DOCUMENT_COLUMNS}, d."code_key" FROM "documents" d WHERE d."number" = ?{where}',
        [parts[0], *params],
    ).fetchall()
    for *document, key in rows:
        if key and matches_code(parts, key.split()):
            page, snippet = _code_snippet(archive, document[0], key.split(), None)
            issued.append(_hit(document, page, snippet, "issued", document[3], 0.0))
    issued.sort(key=lambda hit: (hit.date or "", hit.id), reverse=True)

    cited: dict[int, tuple[int, Hit]] = {}
    issued_ids = {hit.id for hit in issued}
    rows = db.execute(
        f'SELECT {_DOCUMENT_COLUMNS}, r."code", r."code_key", r."mentions", r."page" FROM "references" r '
        f'JOIN "documents" d ON d."id" = r."document_id" WHERE r."number" = ?{where}',
        [parts[0], *params],
    ).fetchall()
    for *document, code, key, mentions, page_index in rows:
        if document[0] in issued_ids or not matches_code(parts, key.split()):
            continue
        previous = cited.get(document[0])
        total = mentions + (previous[0] if previous else 0)
        if previous is None:
            page, snippet = _code_snippet(archive, document[0], key.split(), page_index)
            cited[document[0]] = (total, _hit(document, page, snippet, "cited", code, float(-total)))
        else:
            cited[document[0]] = (total, previous[1])
    ranked = sorted(cited.values(), key=lambda item: (-item[0], _negated_date(item[1].date), item[1].id))
    return issued + [hit for _, hit in ranked]


def _negated_date(date: str | None) -> str:
    """Sort key putting later dates first in an ascending sort."""
    return "".join(chr(0x10FFFF - ord(c)) for c in date) if date else "\U0010ffff"


def _hit(document: list[Any], page: int, snippet: str, match: str, matched: str | None, score: float) -> Hit:
    doc_id, source, name, code, type_, issuer, date = document
    return Hit(id=doc_id, source=source, name=name, code=code, type=type_, issuer=issuer, date=date,
               page=page + 1, snippet=snippet, match=match, matched=matched, score=score)


def _code_snippet(archive: Archive, document_id: int, key_parts: list[str], page_hint: int | None) -> tuple[int, str]:
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


def _fts_query(terms: list[str], column: str, phrase: bool) -> str:
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    body = '"' + " ".join(term.replace('"', '""') for term in terms) + '"' if phrase else "(" + " ".join(quoted) + ")"
    return f"{column} : {body}"


def _text_hits(archive: Archive, query: str, filters: SearchFilters, limit: int, *,
               phrase_only: bool = False) -> list[Hit]:
    """Pages matching all query words, best page per document: the exact phrase first, then the words in
    any order. An accented query matches accented text first, then text that lacks diacritics."""
    tokens = words(query)
    if not tokens:
        return []
    searches = [("folded", [fold_text(token) for token in tokens])]
    if has_diacritics(query):
        searches.insert(0, ("text", [token.lower() for token in tokens]))
    hits: list[Hit] = []
    seen: set[int] = set()
    for column, terms in searches:
        for phrase in (True, False) if len(terms) > 1 and not phrase_only else (True,):
            for document, page, text, score in _ranked_pages(archive, _fts_query(terms, column, phrase), filters,
                                                             limit - len(hits), seen):
                seen.add(document[0])
                start, end = _locate_terms(text, terms, column == "text")
                hits.append(_hit(document, page, make_snippet(text, start, end), "text", None, score))
            if len(hits) >= limit:
                return hits
    return hits


def _ranked_pages(archive: Archive, match: str, filters: SearchFilters, wanted: int,
                  exclude: set[int]) -> list[tuple[list[Any], int, str, float]]:
    """The best page of up to `wanted` documents matching `match`, best first. BM25 ranks selective
    queries; a query found on more than RANKED_MATCHES pages (boilerplate such as "ủy ban nhân dân",
    where BM25 order is nearly arbitrary and costly to compute) lists the newest pages first. Only the
    top pages are joined with their documents, growing the window while filters or repeats thin it out."""
    db = archive.connection
    # Counting stops past the threshold: all that matters is whether the query is selective.
    capped = db.execute('SELECT count(*) FROM (SELECT 1 FROM "page_fts" WHERE "page_fts" MATCH ? LIMIT ?)',
                        (match, RANKED_MATCHES + 1)).fetchone()[0]
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
                    WHERE "page_fts" MATCH ? ORDER BY {order} LIMIT ?)
                SELECT {_DOCUMENT_COLUMNS}, p."page", p."text", m."score"
                FROM m JOIN "pages" p ON p."id" = m."page_id" JOIN "documents" d ON d."id" = p."document_id"
                WHERE 1 = 1{where} ORDER BY m."score", p."id" DESC""",
            [match, window, *params],
        ).fetchall()
        best: dict[int, tuple[list[Any], int, str, float]] = {}
        for *document, page, text, value in rows:
            if document[0] not in exclude and document[0] not in best:
                best[document[0]] = (document, page, text, float(value))
        if len(best) >= wanted:
            return list(best.values())[:wanted]
        if total is None:
            total = db.execute('SELECT count(*) FROM "page_fts" WHERE "page_fts" MATCH ?', (match,)).fetchone()[0]
        if window >= total:
            return list(best.values())
        window = min(total, window * 4)


def _locate_terms(text: str, terms: list[str], accented: bool) -> tuple[int, int]:
    """Where the query (as a phrase, else its first term) occurs in a page, as offsets into `text`."""
    haystack = text.lower() if accented and len(text.lower()) == len(text) else fold_text(text)
    needles = terms if accented and len(text.lower()) == len(text) else [fold_text(term) for term in terms]
    phrase = re.compile(r"(?<!\w)" + r"\W+".join(re.escape(term) for term in needles) + r"(?!\w)")
    match = phrase.search(haystack) or re.compile(rf"(?<!\w){re.escape(needles[0])}(?!\w)").search(haystack)
    return (match.start(), match.end()) if match else (0, 0)


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
