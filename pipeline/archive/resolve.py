"""Which archived document a reference names, and which archived documents cite a code: resolved by code, year
and place of issue, never by code alone (numbers restart every year, and a 01/CT-UBND exists in every
province)."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.archive.normalize import code_key, code_parts, fold_text, matches_code
from pipeline.archive.store import ArchiveStore, DocumentSummary, SearchFilters, StoredDocument
from pipeline.types import Reference


def year_of(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def same_place(one: str | None, other: str | None) -> bool:
    return bool(one) and bool(other) and fold_text(one or "") == fold_text(other or "")


@dataclass(frozen=True)
class ResolvedReference:
    reference: Reference
    year: int | None
    documents: list[StoredDocument]  # the archived document it names (several: ambiguous)
    others: list[StoredDocument]  # same code, another year or place: shown as candidates, never as the one


def resolve_reference(archive: ArchiveStore, reference: Reference, citing_place: str | None) -> ResolvedReference:
    """The archived documents a reference names: the same code key and the year the reference gives (when it
    gives one); when several remain (every province has its 01/CT-UBND each year), those issued at the citing
    document's place."""
    year = reference.year or year_of(reference.date)
    key = code_key(reference.code)
    candidates = [doc for doc in archive.lookup(reference.code) if code_key(doc.code or "") == key]
    matching = [doc for doc in candidates if year is None or year_of(doc.date) == year]
    if len(matching) > 1:
        local = [doc for doc in matching if same_place(doc.place, citing_place)]
        matching = local or matching
    return ResolvedReference(reference, year, matching, [doc for doc in candidates if doc not in matching])


@dataclass(frozen=True)
class CitedCode:
    """One document a code may name — the code as cited, the year and place of issue the citations point to —
    and the archived documents citing it."""

    code: str
    year: int | None
    place: str | None
    citing: list[DocumentSummary]


def citing_documents(archive: ArchiveStore, code: str, *, named: StoredDocument | None = None) -> list[CitedCode]:
    """Archived documents citing `code` (any spelling), grouped by the document they name: the code as cited,
    the year the reference gives and the citing document's place. With `named`, only the citations that
    resolve to that archived document (its "cited by")."""
    parts = code_parts(code)
    if len(parts) < 2 or not parts[0].isdigit():
        return []
    groups: dict[tuple[str, int | None, str], CitedCode] = {}
    for citation in archive.citations(parts[0], SearchFilters()):
        document = citation.document
        if not matches_code(parts, citation.code_key.split()):
            continue
        if named is not None:
            if document.id == named.id:
                continue
            resolved = resolve_reference(archive, Reference(code=citation.code, year=citation.year), document.place)
            if named.id not in {doc.id for doc in resolved.documents}:
                continue
        group_key = (citation.code_key, citation.year, fold_text(document.place or ""))
        group = groups.setdefault(group_key, CitedCode(citation.code, citation.year, document.place, []))
        if all(existing.id != document.id for existing in group.citing):
            group.citing.append(document)
    return sorted(groups.values(), key=lambda g: (-(g.year or 0), g.code, g.place or ""))
