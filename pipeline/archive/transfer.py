"""Copy an archive into another one (SQLite → PostgreSQL, or back), document by document, then what people did
to it (corrections, task status, users), verified by row counts and content digests; `congvan migrate` runs
it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.archive.store import TABLES, ArchiveStore, DocumentRows, relocated_rows


@dataclass
class CopyReport:
    copied: int = 0  # documents written to the target
    unchanged: int = 0  # already in the target with the same content (an earlier, interrupted run)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))  # rows of the copied documents
    human_work: dict[str, int] = field(default_factory=dict)  # rows of corrections, task status… (all of them)
    mismatches: list[str] = field(default_factory=list)  # what verification found different

    @property
    def verified(self) -> bool:
        return not self.mismatches

    def format(self) -> str:
        rows = ", ".join(f"{count} {table}" for table, count in {**self.counts, **self.human_work}.items())
        state = "verified: every document's rows have the same content digest in both archives" if self.verified \
            else f"NOT verified: {len(self.mismatches)} differences"
        return (f"congvan: {self.copied + self.unchanged} documents ({self.copied} copied, {self.unchanged} "
                f"already there; {rows}); {state}")


def _count(rows: DocumentRows, counts: dict[str, int]) -> None:
    counts["documents"] += 1
    for table, table_rows in rows.parts():
        counts[table] += len(table_rows)


def copy_archive(source: ArchiveStore, target: ArchiveStore, *,
                 progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy every document of `source` into `target` (one transaction each, the rows verbatim: content hash,
    record, result, dates added; a source path relative to the archive's folder made absolute, or relative to
    the target's: see relocated_rows) and read each one back to compare digests. Documents already in the target
    with the same content are left alone, so an interrupted copy resumes where it stopped; other documents
    of the target stay (several archives can be merged into one). When the target held nothing else, its
    row counts must equal the source's."""
    report = CopyReport()
    target_had, found_there = target.count_documents(), 0
    documents = list(source.stored_documents())
    for number, document in enumerate(documents, 1):
        rows = relocated_rows(source.read_rows(document.id), source.root, target.root)
        digest = rows.digest()
        existing = target.find_document(document.sha256)
        found_there += existing is not None
        if existing is not None and target.read_rows(existing.id).digest() == digest:
            report.unchanged += 1
        else:
            copied = target.read_rows(target.write_rows(rows))
            report.copied += 1
            if copied.digest() != digest:
                report.mismatches.append(f"document {document.sha256[:12]} ({document.source}) differs once copied")
        _count(rows, report.counts)
        if progress is not None:
            progress(number, len(documents))
    work = source.human_work()
    target.add_human_work(work.missing_from(target.human_work()))
    report.human_work = work.counts()
    if any(work.missing_from(target.human_work()).tables()):
        report.mismatches.append("corrections, task status or users are missing from the copy")
    source_counts, target_counts = source.table_counts(), target.table_counts()
    if source_counts != report.counts:
        report.mismatches.append(f"the source changed while it was copied: {source_counts} ≠ {report.counts}")
    if found_there == target_had and target_counts != source_counts:  # the target holds only these documents
        report.mismatches.append(f"row counts differ: source {source_counts}, target {target_counts}")
    return report
