"""References between archived documents: the document a reference names, resolved by code, year and issuer
(never by code alone: numbers restart every year and symbols repeat across provinces), "cited by", and who cites
a code that is not archived."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from pipeline.archive.normalize import code_key, code_parts, fold_text, matches_code
from pipeline.archive.store import ArchiveStore, CodedDocument, DocumentSummary, SearchFilters
from pipeline.types import Reference

# How a reference was resolved.
FOUND = "found"  # one archived document has its code, year and issuer
NOT_IN_ARCHIVE = "not_in_archive"  # no archived document has them
AMBIGUOUS = "ambiguous"  # several archived documents have them (shown, not linked)
YEAR_UNKNOWN = "year_unknown"  # the reference gives no year: the code alone names no document


@dataclass(frozen=True)
class ResolvedReference:
    reference: Reference
    year: int | None
    status: str
    targets: list[DocumentSummary]  # the document (FOUND) or the candidates (AMBIGUOUS, YEAR_UNKNOWN)
    others: int  # archived documents with the same code but another year or issuer


@dataclass(frozen=True)
class CitedBy:
    citing: list[tuple[DocumentSummary, str]]  # documents citing this one, with the code as they wrote it
    others: int  # documents citing the same code for another year or issuer, or without a year


def year_of(date: str | None) -> int | None:
    return int(date[:4]) if date and date[:4].isdigit() else None


def same_issuer(target: Collection[str], citing: Collection[str]) -> bool:
    """The code's symbol already names the kind of issuer (UBND, SGDĐT…); which one is told by where the
    documents come from: a target from another province is another issuer. Unknown places do not rule out."""
    return not target or not citing or bool(set(target) & set(citing))


def resolve_references(archive: ArchiveStore, document_id: int, references: list[Reference]) -> list[ResolvedReference]:
    """Each reference of a document with the archived document it names, if any."""
    keys = {code_key(ref.code) for ref in references}
    by_key: dict[str, list[CodedDocument]] = {}
    for candidate in archive.documents_with_codes(keys):
        if candidate.document.id != document_id:
            by_key.setdefault(candidate.code_key, []).append(candidate)
    regions = archive.regions(document_id)
    resolved = []
    for ref in references:
        candidates = by_key.get(code_key(ref.code), [])
        year = ref.year or year_of(ref.date)
        if year is None:
            targets = [c.document for c in candidates]
            resolved.append(ResolvedReference(ref, None, YEAR_UNKNOWN if targets else NOT_IN_ARCHIVE, targets, 0))
            continue
        matching = [c.document for c in candidates
                    if year_of(c.document.date) == year and same_issuer(c.regions, regions)]
        status = FOUND if len(matching) == 1 else AMBIGUOUS if matching else NOT_IN_ARCHIVE
        resolved.append(ResolvedReference(ref, year, status, matching, len(candidates) - len(matching)))
    return resolved


def cited_by(archive: ArchiveStore, document_id: int, code: str | None, date: str | None) -> CitedBy:
    """The documents whose references name this one: same code key, the year of its date, same issuer."""
    if not code:
        return CitedBy([], 0)
    year = year_of(date)
    regions = archive.regions(document_id)
    citing: dict[int, tuple[DocumentSummary, str]] = {}
    others: set[int] = set()
    for row in archive.citing(code_key(code)):
        if row.document.id == document_id:
            continue
        row_year = row.year or year_of(row.date)
        if year is not None and row_year == year and same_issuer(regions, row.regions):
            citing.setdefault(row.document.id, (row.document, row.code))
        else:
            others.add(row.document.id)
    return CitedBy(list(citing.values()), len(others - set(citing)))


@dataclass(frozen=True)
class CitedCode:
    """One document a code that is not archived may name — the code as cited, the year and place of issue the
    citations point to — and the archived documents citing it."""

    code: str
    year: int | None
    place: str | None
    citing: list[DocumentSummary]


def citing_documents(archive: ArchiveStore, code: str) -> list[CitedCode]:
    """Archived documents citing `code` (any spelling), grouped by the document they may name: the code as
    cited, the year the reference gives and the citing document's place (a 01/CT-UBND exists in every
    province, every year)."""
    parts = code_parts(code)
    if len(parts) < 2 or not parts[0].isdigit():
        return []
    groups: dict[tuple[str, int | None, str], CitedCode] = {}
    for citation in archive.citations(parts[0], SearchFilters()):
        if not matches_code(parts, citation.code_key.split()):
            continue
        document = citation.document
        group_key = (citation.code_key, citation.year, fold_text(document.place or ""))
        group = groups.setdefault(group_key, CitedCode(citation.code, citation.year, document.place, []))
        if all(existing.id != document.id for existing in group.citing):
            group.citing.append(document)
    return sorted(groups.values(), key=lambda g: (-(g.year or 0), g.code, g.place or ""))
