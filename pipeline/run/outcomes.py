"""What became of each input (`DocumentOutcome`) and of the whole batch (`BatchSummary`, its exit code)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath

from pipeline.errors import CongvanError, exit_code_for, printable

NOT_A_DOCUMENT = "not a document congvan reads"  # the reason a folder's other files are skipped
NAMED_PER_KIND = 3  # skipped files of one kind named in the summary; the rest counted


class DocumentStatus(StrEnum):
    DONE = "done"  # processed and written
    SKIPPED = "skipped"  # already in the archive
    FAILED = "failed"  # see the outcome's error


@dataclass
class DocumentOutcome:
    source: str
    status: DocumentStatus
    name: str | None = None  # output stem in the --out folder
    pages: int = 0
    seconds: float = 0.0
    error: CongvanError | None = None
    reason: str | None = None  # why it was skipped


@dataclass
class BatchSummary:
    outcomes: list[DocumentOutcome] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole batch

    def _with(self, status: DocumentStatus) -> list[DocumentOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status is status]

    @property
    def done(self) -> list[DocumentOutcome]:
        return self._with(DocumentStatus.DONE)

    @property
    def skipped(self) -> list[DocumentOutcome]:
        return self._with(DocumentStatus.SKIPPED)

    @property
    def failed(self) -> list[DocumentOutcome]:
        return self._with(DocumentStatus.FAILED)

    @property
    def errors(self) -> list[CongvanError]:
        return [outcome.error for outcome in self.failed if outcome.error is not None]

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.errors)

    def format(self) -> str:
        pages = sum(outcome.pages for outcome in self.done)
        rate = f", {60 * pages / self.seconds:.1f} pages/min" if self.seconds > 0 and pages else ""
        lines = [
            f"congvan: {plural(len(self.outcomes), 'document')}: {len(self.done)} done ({pages} pages in {self.seconds:.1f} s"
            f"{rate}), {len(self.skipped)} skipped, {len(self.failed)} failed"
        ]
        others: dict[str, list[str]] = defaultdict(list)
        for outcome in self.skipped:
            if outcome.reason == NOT_A_DOCUMENT:
                others[PurePath(outcome.source).suffix.lower() or "(no extension)"].append(outcome.source)
            else:
                lines.append(f"  skipped: {printable(outcome.source)}: {outcome.reason}")
        for suffix, sources in sorted(others.items()):
            named = ", ".join(printable(source) for source in sources[:NAMED_PER_KIND]) + (f" and {len(sources) - NAMED_PER_KIND} more"
                                                           if len(sources) > NAMED_PER_KIND else "")
            lines.append(f"  skipped: {plural(len(sources), suffix + ' file')}, {NOT_A_DOCUMENT} "
                         f"(PDF, images, .docx, .odt, .txt): {named}")
        lines += [f"  failed: {o.error.label}: {o.error}" for o in self.failed if o.error is not None]
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
