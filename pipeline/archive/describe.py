"""Archived documents as text for a terminal: a record's header, references (resolved), tasks and "cited by", and
the citations of a code that is not archived. Untrusted text is shown on one line, control characters escaped."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.archive.citations import AMBIGUOUS, FOUND, YEAR_UNKNOWN, CitedBy, CitedCode, ResolvedReference
from pipeline.archive.store import DocumentSummary, StoredDocument, source_path
from pipeline.types import Record


def one_line(value: object) -> str:
    """Text from a document as one terminal line: whitespace runs become one space, other control characters
    (an ANSI escape in a hostile file) are shown escaped instead of reaching the terminal.

    >>> one_line("UBND\\n huyện\\x1b[31m")
    'UBND huyện\\\\x1b[31m'
    """
    text = " ".join(str(value).split())
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" if ord(char) < 0x100
                   else f"\\u{ord(char):04x}" for char in text)


def summary_line(document: DocumentSummary | StoredDocument) -> str:
    parts = [document.code or "(no number)", document.date or "no date"]
    issuer = getattr(document, "issuer", None)
    if issuer:
        parts.append(issuer)
    elif document.place:
        parts.append(document.place)
    return f"{one_line(' · '.join(parts))} (id {document.id})"


def describe_document(stored: StoredDocument, record: Record, references: Iterable[ResolvedReference],
                      cited_by: CitedBy, root: Path | None = None) -> str:
    """The document as a clerk reads it; its file where it is now (a source stored relative to the archive's
    folder is shown inside `root`)."""
    header = record.document
    lines = [one_line(" · ".join(x for x in (header.code or "(no number)", header.type_name or header.type,
                                             header.date) if x))]

    def field(label: str, value: object) -> None:
        if value:
            lines.append(f"{label + ':':<12} {one_line(value)}")

    field("Issuer", " — ".join(x for x in (header.parent_issuer, header.issuer) if x))
    field("Place", header.place)
    field("Subject", header.subject)
    if header.signer is not None:
        field("Signed", " ".join(x for x in (header.signer.authority, header.signer.title, header.signer.name) if x))
    field("To", "; ".join(header.recipients))
    field("Copies", "; ".join(header.distribution))
    resolved = list(references)
    if resolved:
        lines.append(f"References ({len(resolved)}):")
        for item in resolved:
            year = f" ({item.year})" if item.year else ""
            lines.append(f"  {one_line(item.reference.code)}{year} — {where_archived(item)}")
    if record.tasks:
        lines.append(f"Tasks ({len(record.tasks)}):")
        for task in record.tasks:
            extra = "; ".join(x for x in (
                f"lead: {', '.join(task.assignees)}" if task.assignees else "",
                f"due {task.deadline}" if task.deadline else "") if x)
            lines.append(f"  {one_line(task.id)}. {one_line(task.text)}" + (f" [{one_line(extra)}]" if extra else ""))
    if cited_by.citing or cited_by.others:
        lines.append(f"Cited by ({len(cited_by.citing)}):")
        lines += [f"  {summary_line(doc)}" for doc, _ in cited_by.citing]
        if cited_by.others:
            lines.append(f"  (not linked: {cited_by.others} more cite this code without a year, or for another "
                         "year or issuer)")
    lines.append(f"{'File:':<12} {one_line(source_path(stored.source, root))} · {stored.page_count} page"
                 f"{'' if stored.page_count == 1 else 's'} · id {stored.id} · sha256 {stored.sha256[:12]}")
    return "\n".join(lines)


def where_archived(item: ResolvedReference) -> str:
    """Where the document a reference names is: one archived document, several, or none."""
    ids = ", ".join(f"id {doc.id}" for doc in item.targets)
    if item.status == FOUND:
        return f"in the archive: {ids}"
    if item.status == AMBIGUOUS:
        return f"in the archive: {ids} (same code, year and issuer: ambiguous)"
    if item.status == YEAR_UNKNOWN:
        return f"no year given; archived with this code: {ids}"
    others = f"; {item.others} archived with the same code from another year or issuer" if item.others else ""
    return f"not in the archive{others}"


def describe_citations(code: str, groups: Iterable[CitedCode]) -> str:
    """The archived documents citing a code that is not archived itself, one block per document it may be."""
    lines = []
    for group in groups:
        year = str(group.year) if group.year else "year not given"
        place = f", cited from {group.place}" if group.place else ""
        lines.append(f"{one_line(group.code)} ({year}{one_line(place)}) is cited by {len(group.citing)} archived "
                     f"document{'' if len(group.citing) == 1 else 's'}:")
        lines += [f"  {summary_line(doc)}" for doc in group.citing]
    return "\n".join(lines) if lines else f"no archived document cites {one_line(code)}"
