"""The per-page engine: keeps a bounded number of pages in flight across documents, then each document's
extraction, and yields every document when it is finished or has failed."""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import CongvanError, InputError, TooLargeError, printable
from pipeline.run.executors import Executor
from pipeline.run.options import PageSettings
from pipeline.run.progress import Progress
from pipeline.run.stages import Stages
from pipeline.run.worker import (
    ExtractedDocument,
    ExtractTask,
    PageOutput,
    PageTask,
    SourceUnavailable,
    StoreRequest,
    internal_error,
    run_extract,
    run_page,
)
from pipeline.types import DocumentInfo, PageResult

# Pages in flight per worker: enough to keep workers busy, few enough to keep memory flat.
PAGES_IN_FLIGHT_PER_JOB = 2
# The largest input sent to a worker that cannot read it (the driver reads it whole into memory once).
MAX_SENT_BYTES = 512 * 2**20


@dataclass
class DocumentInFlight:
    path: Path
    info: DocumentInfo
    name: str
    texts: list[str] | None = None  # page texts of a text input, read when its turn comes
    page_count: int = 0
    opened: bool = False
    next_page: int = 0
    pages: dict[int, PageResult] = field(default_factory=dict)
    futures: set[Any] = field(default_factory=set)
    content: Any = None  # the file's bytes as shared with remote workers that cannot read it
    store: StoreRequest | None = None  # workers store the finished document in the archive server
    extracting: bool = False
    failed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def all_submitted(self) -> bool:
        return self.next_page >= self.page_count


class Engine:
    """Keeps a bounded number of pages in flight across documents and yields each finished document."""

    def __init__(self, executor: Executor, settings: PageSettings, stages: Stages, jobs: int,
                 progress: Progress) -> None:
        self._executor = executor
        self._settings = settings
        self._stages = stages
        self._limit = max(2, jobs * PAGES_IN_FLIGHT_PER_JOB)
        self._progress = progress
        self._pending: dict[Any, tuple[DocumentInFlight, str, int]] = {}

    def run(self, documents: Iterable[DocumentInFlight]) -> Iterator[tuple[DocumentInFlight, ExtractedDocument | CongvanError]]:
        queue = deque(documents)
        while queue or self._pending:
            while queue and len(self._pending) < self._limit:
                document = queue[0]
                error = self._submit_next_page(document)
                if error is not None:
                    queue.popleft()
                    yield document, error
                elif document.failed or document.all_submitted:
                    queue.popleft()
            if not self._pending:
                continue
            for future in self._executor.wait_any(self._pending):
                if future not in self._pending:
                    continue  # dropped by a restart while handling an earlier future of this round
                yield from self._collect(future)

    def _submit_next_page(self, document: DocumentInFlight) -> CongvanError | None:
        if not document.opened:
            document.opened = True
            try:
                self._start(document)
            except CongvanError as error:
                document.failed = True
                return error
            except Exception as error:
                document.failed = True
                return internal_error(error, document.source, "reading")
        if document.failed or document.all_submitted:
            return None
        index = document.next_page
        document.next_page += 1
        self._submit_page(document, index)
        return None

    def _submit_page(self, document: DocumentInFlight, index: int) -> None:
        text = document.texts[index] if document.texts is not None else None
        # remote workers check that their file at this path is the one the driver hashed
        sha256 = document.info.sha256 if self._executor.remote else None
        task = PageTask(document.source, index, document.info.kind, self._settings, self._stages, text, sha256)
        arguments = (task,) if document.content is None else (task, document.content)
        self._track(self._executor.submit(run_page, *arguments), document, "page", index)

    def _submit_extract(self, document: DocumentInFlight) -> None:
        pages = tuple(document.pages[i] for i in range(document.page_count))
        task = ExtractTask(document.source, pages, self._stages, document.info.kind,
                           document.info.sha256 if self._executor.remote else None, document.store,
                           document.info.sha256)
        arguments = (task,) if document.content is None else (task, document.content)
        self._track(self._executor.submit(run_extract, *arguments), document, "extract", -1)

    def _send_file(self, document: DocumentInFlight, index: int) -> Iterator[tuple[DocumentInFlight, CongvanError]]:
        """A remote worker cannot read the input: share its bytes with the workers (once per document) and
        give them the task again (a page, or the extraction: index -1)."""
        if document.content is None:
            try:
                document.content = self._executor.share(_read_to_send(document))
            except CongvanError as error:
                yield from self._fail(document, error)
                return
        if index < 0:
            self._submit_extract(document)
        else:
            self._submit_page(document, index)

    def _start(self, document: DocumentInFlight) -> None:
        if document.info.kind.is_text:
            text = self._stages.read_text_file(document.path)
            document.texts = text.split("\f")
            self._progress.adjust_total(len(document.texts) - document.info.page_count)
        document.page_count = len(document.texts) if document.texts is not None else document.info.page_count
        if document.page_count < 1:
            raise InputError("the document has no pages", document.path)
        document.started = time.monotonic()

    def _track(self, future: Any, document: DocumentInFlight, kind: str, index: int) -> None:
        self._pending[future] = (document, kind, index)
        document.futures.add(future)

    def _collect(self, future: Any) -> Iterator[tuple[DocumentInFlight, ExtractedDocument | CongvanError]]:
        document, kind, index = self._pending.pop(future)
        document.futures.discard(future)
        try:
            value = future.result()
        except SourceUnavailable:
            yield from self._send_file(document, index)
            return
        except CongvanError as error:
            yield from self._fail(document, error)
            return
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            if self._executor.is_broken(error):
                yield from self._restart_after_crash(document)
                return
            yield from self._fail(document, internal_error(error, document.source, kind))
            return
        if document.failed:
            return
        if kind == "extract":
            yield document, value
            return
        output: PageOutput = value
        document.pages[index] = output.result
        self._progress.pages_done(1)
        for warning in output.result.warnings:
            self._progress.message(f"congvan: warning: {printable(document.source)}: page {index + 1}: {printable(warning)}")
        if len(document.pages) == document.page_count:
            document.extracting = True
            self._submit_extract(document)

    def _fail(self, document: DocumentInFlight, error: CongvanError) -> Iterator[tuple[DocumentInFlight, CongvanError]]:
        if document.failed:
            return
        document.failed = True
        document.next_page = document.page_count  # submit nothing more for it
        self._progress.adjust_total(len(document.pages) - (document.page_count or document.info.page_count))
        for other in list(document.futures):
            other.cancel()
            self._pending.pop(other, None)
        document.futures.clear()
        yield document, error

    def _restart_after_crash(self, document: DocumentInFlight) -> Iterator[tuple[DocumentInFlight, CongvanError]]:
        """A worker process died (killed for memory, or a native crash): the documents in flight fail with
        a clear reason, the pool is rebuilt and the rest of the batch goes on."""
        victims = {id(document): document}
        victims.update((id(doc), doc) for doc, _, _ in self._pending.values())
        self._pending.clear()
        self._executor.restart()
        for document in victims.values():
            document.futures.clear()
            yield from self._fail(document, CongvanError("a worker process died (out of memory or crashed)",
                                                         document.source))

    def cancel_all(self) -> None:
        for future in self._pending:
            with suppress(Exception):
                future.cancel()
        self._pending.clear()


def _read_to_send(document: DocumentInFlight) -> bytes:
    """The input's bytes for workers that cannot read it, if it still holds the content that was hashed."""
    path = document.path
    try:
        size = path.stat().st_size
        if size > MAX_SENT_BYTES:
            raise TooLargeError(f"a Dask worker cannot read this file and it is too large to send "
                                f"({size / 2**20:.0f} MiB, limit {MAX_SENT_BYTES / 2**20:.0f} MiB): put the inputs "
                                "on a disk the workers share", path)
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the file to send it to a worker: {error.strerror or error}", path) from None
    if hashlib.sha256(data).hexdigest() != document.info.sha256:
        raise InputError("the file changed while it was processed", path)
    return data
