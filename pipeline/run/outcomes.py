"""What became of each input (`DocumentOutcome`) and of the whole batch (`BatchSummary`, its exit code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.errors import CongvanError, exit_code_for, printable


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
        lines += [f"  skipped: {printable(o.source)}: {o.reason}" for o in self.skipped]
        lines += [f"  failed: {o.error.label}: {o.error}" for o in self.failed if o.error is not None]
        return "\n".join(lines)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
