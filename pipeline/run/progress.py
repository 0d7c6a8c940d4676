"""Progress of a batch on stderr: a tqdm bar (pages/s, ETA) on a terminal, one log line per document otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pipeline.errors import CongvanError, printable
from pipeline.run.outcomes import DocumentOutcome, DocumentStatus, plural


class Progress:
    """A tqdm bar (pages/s, ETA) on a terminal; plain log lines otherwise. Messages go to stderr."""

    def __init__(self, documents: int, pages: int, *, bar: bool | None = None, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._documents = documents
        self._pages = pages
        self._finished_documents = 0
        self._finished_pages = 0
        self._started = time.monotonic()
        use_bar = self._stream.isatty() if bar is None else bar
        self._bar = None
        if use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=pages, unit="page", file=self._stream, dynamic_ncols=True, smoothing=0.1)

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=self._stream)
        else:
            print(text, file=self._stream, flush=True)

    def pages_done(self, count: int) -> None:
        self._finished_pages += count
        if self._bar is not None:
            self._bar.update(count)

    def adjust_total(self, delta: int) -> None:
        self._pages += delta
        if self._bar is not None:
            self._bar.total = self._pages
            self._bar.refresh()

    def document_finished(self, outcome: DocumentOutcome) -> None:
        self._finished_documents += 1
        if self._bar is not None or outcome.status is DocumentStatus.FAILED:
            return
        elapsed = time.monotonic() - self._started
        rate = self._finished_pages / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self._pages - self._finished_pages)
        eta = format_duration(remaining / rate) if rate > 0 else "?"
        self.message(
            f"congvan: [{self._finished_documents}/{self._documents}] {outcome.status} {printable(outcome.source)} "
            f"({plural(outcome.pages, 'page')}, {outcome.seconds:.1f} s) · {rate:.2f} pages/s · ETA {eta}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def describe(error: CongvanError) -> str:
    """The one line a failure is reported with."""
    return f"congvan: {error.label}: {error}"
