"""The driver: walks inputs, runs every page through the stages on local processes or Dask, writes results."""

from __future__ import annotations

import concurrent.futures
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from pipeline.errors import (
    CongvanError,
    InputError,
    MissingDependencyError,
    UnsupportedFormatError,
    exit_code_for,
)
from pipeline.types import DocumentInfo, DocumentResult, PageResult, Record

# Files picked up when walking a folder; a file named on the command line is identified by its content.
INPUT_SUFFIXES = frozenset({".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".txt"})
# Pages in flight per worker: enough to keep workers busy, few enough to keep memory flat.
PAGES_IN_FLIGHT_PER_JOB = 2
# Local workers are replaced after this many tasks so that leaks in native libraries cannot pile up.
TASKS_PER_WORKER = 200
DASK_CONNECT_SECONDS = 20.0
_STAGE_MODULES = ["pipeline.ingest", "pipeline.preprocess", "pipeline.ocr", "pipeline.restore", "pipeline.extract"]


# --------------------------------------------------------------------------- options and results


@dataclass
class ProcessOptions:
    out_dir: Path | None = None
    db_path: Path | None = None
    jobs: int = os.cpu_count() or 1
    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    page_timeout: float = 180.0
    force: bool = False
    pdf: bool = False
    executor: str = "local"  # "local" | "dask"
    scheduler: str | None = None  # Dask scheduler address for executor "dask"
    progress: bool | None = None  # progress bar: None = only when stderr is a terminal


@dataclass
class DocumentOutcome:
    source: str
    status: str  # "done" | "skipped" | "failed"
    name: str | None = None  # output stem in the --out folder
    pages: int = 0
    seconds: float = 0.0
    error: CongvanError | None = None
    reason: str | None = None  # why it was skipped


@dataclass
class BatchSummary:
    outcomes: list[DocumentOutcome] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole batch

    def _with(self, status: str) -> list[DocumentOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    @property
    def done(self) -> list[DocumentOutcome]:
        return self._with("done")

    @property
    def skipped(self) -> list[DocumentOutcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[DocumentOutcome]:
        return self._with("failed")

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
            f"congvan: {_plural(len(self.outcomes), 'document')}: {len(self.done)} done ({pages} pages in {self.seconds:.1f} s"
            f"{rate}), {len(self.skipped)} skipped, {len(self.failed)} failed"
        ]
        lines += [f"  skipped: {o.source}: {o.reason}" for o in self.skipped]
        lines += [f"  failed: {o.error.label}: {o.error}" for o in self.failed if o.error is not None]
        return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class Stages:
    """The stage functions the driver composes; tests pass small fakes with the same signatures."""

    open_document: Callable[[Path], DocumentInfo]
    load_page: Callable[[Path, int], Any]
    read_text_file: Callable[[Path], str]
    preprocess_page: Callable[[Any], Any]
    ocr_page: Callable[..., Any]
    check_tesseract: Callable[[str | None], Any]
    restore_text: Callable[..., Any]
    extract_record: Callable[..., Record]

    @classmethod
    def default(cls) -> Stages:
        from pipeline import ingest, ocr, preprocess
        from pipeline.extract import extract_record
        from pipeline.restore import restore_text

        return cls(
            open_document=ingest.open_document,
            load_page=ingest.load_page,
            read_text_file=ingest.read_text_file,
            preprocess_page=preprocess.preprocess_page,
            ocr_page=ocr.ocr_page,
            check_tesseract=ocr.check_tesseract,
            restore_text=restore_text,
            extract_record=extract_record,
        )


@dataclass(frozen=True)
class PageSettings:
    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    timeout: float = 180.0
    pdf: bool = False


@dataclass(frozen=True)
class PageTask:
    """One page to run through the stages in a worker; the worker loads the page itself."""

    source: str
    index: int
    kind: str
    settings: PageSettings
    stages: Stages
    text: str | None = None  # the page's text for text inputs (no image)


@dataclass(frozen=True)
class PageOutput:
    result: PageResult
    pdf: bytes | None = None  # one-page searchable PDF when asked for


@dataclass(frozen=True)
class ExtractTask:
    source: str
    pages: tuple[PageResult, ...]
    stages: Stages


# --------------------------------------------------------------------------- worker side


@contextmanager
def _page_tempdir() -> Iterator[None]:
    """Give a page its own temporary folder, removed when the page ends (even on failure), so temporary
    disk use is bounded by the pages in flight. Only in single-threaded workers: the setting is global."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_dir, previous_env = tempfile.tempdir, os.environ.get("TMPDIR")
    with tempfile.TemporaryDirectory(prefix="congvan-page-") as path:
        tempfile.tempdir = path
        os.environ["TMPDIR"] = path
        try:
            yield
        finally:
            tempfile.tempdir = previous_dir
            if previous_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = previous_env


def _internal_error(error: Exception, source: str, where: str) -> CongvanError:
    return CongvanError(f"{where}: internal error: {type(error).__name__}: {error}", source)


def run_page(task: PageTask) -> PageOutput:
    """Worker entry point: one page through load → preprocess → OCR → restore (→ one-page PDF)."""
    with _page_tempdir():
        try:
            return _run_text_page(task) if task.text is not None else _run_image_page(task)
        except CongvanError:
            raise
        except Exception as error:  # a bug or resource failure in a stage fails this document, not the batch
            raise _internal_error(error, task.source, f"page {task.index + 1}") from None


def _restore(task: PageTask, raw_text: str, confidences: Sequence[float | None] | None) -> tuple[str, list | None]:
    if not task.settings.restore:
        return raw_text, None
    restoration = task.stages.restore_text(raw_text, confidences)
    return restoration.text, list(restoration.tokens)


def _run_text_page(task: PageTask) -> PageOutput:
    started = time.perf_counter()
    raw_text = unicodedata.normalize("NFC", task.text or "")
    text, tokens = _restore(task, raw_text, None)
    result = PageResult(index=task.index, width=0, height=0, dpi=0.0, preprocessing=[], words=[],
                        raw_text=raw_text, text=text, tokens=tokens, seconds=time.perf_counter() - started)
    return PageOutput(result)


def _run_image_page(task: PageTask) -> PageOutput:
    started = time.perf_counter()
    stages, settings = task.stages, task.settings
    page = stages.load_page(Path(task.source), task.index)
    height, width = page.image.shape[:2]
    warnings: list[str] = []
    if getattr(page, "dpi_estimated", False):
        warnings.append(f"no usable resolution in the file: {page.dpi:.0f} dpi assumed")
    legacy = page.legacy_text
    if settings.text_layer and legacy and legacy.strip():
        raw_text, words, steps, confidences = unicodedata.normalize("NFC", legacy), [], [], None
        to_original: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    else:
        if settings.text_layer and task.kind == "pdf":
            warnings.append("no text layer on this page: OCR used")
        prepared = stages.preprocess_page(page)
        to_original = prepared.to_original
        ocr = stages.ocr_page(prepared, languages=settings.languages, timeout=settings.timeout)
        raw_text, words, steps = ocr.text, list(ocr.words), list(ocr.preprocessing or prepared.steps)
        warnings += [w for w in (*prepared.warnings, *ocr.warnings) if w not in warnings]
        confidences = [word.confidence for word in words]
        if len(confidences) != len(raw_text.split()):
            confidences = None  # misaligned stage output: restore without confidences rather than misuse them
    text, tokens = _restore(task, raw_text, confidences)
    result = PageResult(index=task.index, width=int(width), height=int(height), dpi=float(page.dpi),
                        preprocessing=steps, words=words, raw_text=raw_text, text=text, legacy_text=legacy,
                        tokens=tokens, warnings=warnings)
    pdf = None
    if settings.pdf:
        from pipeline.archive.pdf import page_pdf, quarter_turns

        pdf = page_pdf(page.image, page.dpi, result, quarter_turns(to_original))
    result.seconds = time.perf_counter() - started
    return PageOutput(result, pdf)


def run_extract(task: ExtractTask) -> Record:
    """Worker entry point: the record of a whole document from its final text and pages."""
    try:
        text = "\f".join(page.text for page in task.pages)
        return task.stages.extract_record(text, list(task.pages))
    except CongvanError:
        raise
    except Exception as error:
        raise _internal_error(error, task.source, "extraction") from None


# --------------------------------------------------------------------------- executors


class _Executor(Protocol):
    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any: ...

    def wait_any(self, futures: Iterable[Any]) -> set[Any]: ...

    def is_broken(self, error: BaseException) -> bool: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class LocalExecutor:
    """A pool of `jobs` worker processes, started from a fork server that has imported the stages."""

    def __init__(self, jobs: int) -> None:
        self._jobs = jobs
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["pipeline.run", *_STAGE_MODULES])
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._jobs, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER,
                initializer=_ignore_interrupts,
            )
        return self._pool

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        return self._ensure_pool().submit(fn, arg)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        done, _ = concurrent.futures.wait(list(futures), return_when=concurrent.futures.FIRST_COMPLETED)
        return set(done)

    def is_broken(self, error: BaseException) -> bool:
        return isinstance(error, concurrent.futures.process.BrokenProcessPool)

    def restart(self) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop now (Ctrl-C): pages in progress are dropped, their documents were never written."""
        if self._pool is not None:
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                with suppress(Exception):
                    process.terminate()
            self._pool = None


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the driver, which stops them; otherwise each would print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class DaskExecutor:
    """The same tasks on a Dask distributed cluster; input paths must be readable by the workers."""

    def __init__(self, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise MissingDependencyError(
                "the dask executor needs the 'distributed' package: pip install 'congvan[dask]'"
            ) from None
        from distributed import as_completed

        try:
            self._client = Client(scheduler, timeout=DASK_CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise CongvanError(f"cannot reach the Dask scheduler: {error}", scheduler) from None
        self._completed = as_completed(loop=self._client.loop)

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        future = self._client.submit(fn, arg, pure=False)
        self._completed.add(future)
        return future

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        wanted = set(futures)
        while True:
            future = next(self._completed)  # futures cancelled by the driver come out too: skip them
            if future in wanted:
                return {future}

    def is_broken(self, error: BaseException) -> bool:
        return False

    def restart(self) -> None:
        pass

    def close(self) -> None:
        self._client.close()

    def abort(self) -> None:
        self.close()


def make_executor(options: ProcessOptions) -> _Executor:
    if options.executor == "dask":
        if not options.scheduler:
            raise CongvanError("--executor dask needs --scheduler tcp://HOST:PORT")
        return DaskExecutor(options.scheduler)
    return LocalExecutor(max(1, options.jobs))


# --------------------------------------------------------------------------- inputs


def collect_inputs(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> tuple[list[Path], list[CongvanError]]:
    """Files to process, in a stable order: folders are walked recursively for document files (others
    are ignored); a missing path is an error; a file named explicitly is identified later by content."""
    excluded = {path.resolve() for path in exclude}
    files: list[Path] = []
    errors: list[CongvanError] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(path)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                root_path = Path(root)
                dirs[:] = sorted(d for d in dirs if (root_path / d).resolve() not in excluded and not d.startswith("."))
                for name in sorted(names):
                    candidate = root_path / name
                    if candidate.suffix.lower() in INPUT_SUFFIXES and not name.startswith(".") and candidate.is_file():
                        add(candidate)
        elif path.is_file():
            add(path)
        elif path.exists():
            errors.append(UnsupportedFormatError("not a regular file", path))
        else:
            errors.append(InputError("no such file or folder", path))
    return files, errors


class _Namer:
    """Output stems: the input's stem, or stem-2, stem-3… when another input of the batch (or an existing
    result from another source in the output folder) already has it."""

    def __init__(self, out_dir: Path | None) -> None:
        self._out_dir = out_dir
        self._taken: set[str] = set()

    def claim(self, path: Path) -> str:
        from pipeline.archive.files import read_json_source

        stem = path.stem or path.name
        number = 1
        while True:
            candidate = stem if number == 1 else f"{stem}-{number}"
            number += 1
            if candidate.casefold() in self._taken:
                continue
            if self._out_dir is not None:
                existing = read_json_source(self._out_dir / f"{candidate}.json")
                if existing is not None and Path(existing).resolve() != path.resolve():
                    continue
            self._taken.add(candidate.casefold())
            return candidate


# --------------------------------------------------------------------------- progress


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
        if self._bar is not None or outcome.status == "failed":
            return
        elapsed = time.monotonic() - self._started
        rate = self._finished_pages / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self._pages - self._finished_pages)
        eta = _format_duration(remaining / rate) if rate > 0 else "?"
        self.message(
            f"congvan: [{self._finished_documents}/{self._documents}] {outcome.status} {outcome.source} "
            f"({_plural(outcome.pages, 'page')}, {outcome.seconds:.1f} s) · {rate:.2f} pages/s · ETA {eta}"
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _format_duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _describe(error: CongvanError) -> str:
    return f"congvan: {error.label}: {error}"


# --------------------------------------------------------------------------- documents in flight


@dataclass
class _Document:
    path: Path
    info: DocumentInfo
    name: str
    texts: list[str] | None = None  # page texts of a text input, read when its turn comes
    page_count: int = 0
    opened: bool = False
    next_page: int = 0
    pages: dict[int, PageResult] = field(default_factory=dict)
    pdf_dir: Path | None = None
    futures: set[Any] = field(default_factory=set)
    extracting: bool = False
    failed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def source(self) -> str:
        return str(self.path)

    @property
    def all_submitted(self) -> bool:
        return self.next_page >= self.page_count


class _Engine:
    """Keeps a bounded number of pages in flight across documents and yields each finished document."""

    def __init__(self, executor: _Executor, settings: PageSettings, stages: Stages, jobs: int,
                 progress: Progress, pdf_root: Path | None) -> None:
        self._executor = executor
        self._settings = settings
        self._stages = stages
        self._limit = max(2, jobs * PAGES_IN_FLIGHT_PER_JOB)
        self._progress = progress
        self._pdf_root = pdf_root
        self._pending: dict[Any, tuple[_Document, str, int]] = {}

    def run(self, documents: Iterable[_Document]) -> Iterator[tuple[_Document, Record | CongvanError]]:
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

    def _submit_next_page(self, document: _Document) -> CongvanError | None:
        if not document.opened:
            document.opened = True
            try:
                self._start(document)
            except CongvanError as error:
                document.failed = True
                return error
            except Exception as error:
                document.failed = True
                return _internal_error(error, document.source, "reading")
        if document.failed or document.all_submitted:
            return None
        index = document.next_page
        document.next_page += 1
        text = document.texts[index] if document.texts is not None else None
        task = PageTask(document.source, index, document.info.kind, self._settings, self._stages, text)
        self._track(self._executor.submit(run_page, task), document, "page", index)
        return None

    def _start(self, document: _Document) -> None:
        if document.info.kind == "text":
            text = self._stages.read_text_file(document.path)
            document.texts = text.split("\f")
            self._progress.adjust_total(len(document.texts) - document.info.page_count)
        document.page_count = len(document.texts) if document.texts is not None else document.info.page_count
        if document.page_count < 1:
            raise InputError("the document has no pages", document.path)
        document.started = time.monotonic()
        if self._settings.pdf and self._pdf_root is not None and document.texts is None:
            document.pdf_dir = Path(tempfile.mkdtemp(prefix=".congvan-pdf-", dir=self._pdf_root))

    def _track(self, future: Any, document: _Document, kind: str, index: int) -> None:
        self._pending[future] = (document, kind, index)
        document.futures.add(future)

    def _collect(self, future: Any) -> Iterator[tuple[_Document, Record | CongvanError]]:
        document, kind, index = self._pending.pop(future)
        document.futures.discard(future)
        try:
            value = future.result()
        except CongvanError as error:
            yield from self._fail(document, error)
            return
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt | SystemExit):
                raise
            if self._executor.is_broken(error):
                yield from self._restart_after_crash(document)
                return
            yield from self._fail(document, _internal_error(error, document.source, kind))  # type: ignore[arg-type]
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
            self._progress.message(f"congvan: warning: {document.source}: page {index + 1}: {warning}")
        if output.pdf is not None and document.pdf_dir is not None:
            (document.pdf_dir / f"{index:06d}.pdf").write_bytes(output.pdf)
        if len(document.pages) == document.page_count:
            pages = tuple(document.pages[i] for i in range(document.page_count))
            task = ExtractTask(document.source, pages, self._stages)
            document.extracting = True
            self._track(self._executor.submit(run_extract, task), document, "extract", -1)

    def _fail(self, document: _Document, error: CongvanError) -> Iterator[tuple[_Document, CongvanError]]:
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

    def _restart_after_crash(self, document: _Document) -> Iterator[tuple[_Document, CongvanError]]:
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


# --------------------------------------------------------------------------- the batch


def process_inputs(paths: Iterable[Path], options: ProcessOptions, *, stages: Stages | None = None) -> BatchSummary:
    """Process files and folders: per document, its pages in parallel, then its record; write the results
    (--out), the searchable PDF (--pdf) and the archive entry (--db). One bad file never stops the batch."""
    stages = stages or Stages.default()
    started = time.monotonic()
    summary = BatchSummary()
    files, input_errors = collect_inputs(paths, exclude=[p for p in (options.out_dir,) if p is not None])
    for error in input_errors:
        summary.outcomes.append(DocumentOutcome(error.path or "", "failed", error=error))
        print(_describe(error), file=sys.stderr, flush=True)
    if options.out_dir is not None:
        options.out_dir.mkdir(parents=True, exist_ok=True)

    archive = None
    if options.db_path is not None:
        from pipeline.archive.store import open_archive

        archive = open_archive(options.db_path)
    try:
        documents = _open_documents(files, options, stages, archive, summary)
        if not documents:
            return summary
        if any(doc.info.kind != "text" for doc in documents):
            stages.check_tesseract(options.languages)
        _run_documents(documents, options, stages, archive, summary)
    finally:
        if archive is not None:
            archive.close()
        summary.seconds = time.monotonic() - started
    return summary


def _open_documents(files: list[Path], options: ProcessOptions, stages: Stages, archive: Any,
                    summary: BatchSummary) -> list[_Document]:
    """Identify and hash every input first: bad files fail early, finished ones are skipped, and the page
    total (for the ETA) is known."""
    namer = _Namer(options.out_dir)
    documents: list[_Document] = []
    for path in files:
        try:
            info = stages.open_document(path)
        except Exception as error:
            failure = error if isinstance(error, CongvanError) else _internal_error(error, str(path), "opening")
            summary.outcomes.append(DocumentOutcome(str(path), "failed", error=failure))
            print(_describe(failure), file=sys.stderr, flush=True)
            continue
        name = namer.claim(path)
        if archive is not None and not options.force:
            stored = archive.find_document(info.sha256)
            if stored is not None:
                _restore_outputs(archive, stored, name, options)
                summary.outcomes.append(
                    DocumentOutcome(str(path), "skipped", name=name, pages=stored.page_count,
                                    reason=f"already in the archive as document {stored.id} (use --force to redo)")
                )
                continue
        documents.append(_Document(path=path, info=info, name=name))
    return documents


def _restore_outputs(archive: Any, stored: Any, name: str, options: ProcessOptions) -> None:
    """A skipped document still gets its --out files, from the archive, when they are missing."""
    if options.out_dir is None:
        return
    from pipeline.archive.files import write_atomic

    json_path = options.out_dir / f"{name}.json"
    text_path = options.out_dir / f"{name}.txt"
    if json_path.exists() and text_path.exists():
        return
    result_json, text = archive.load_result(stored.id)
    write_atomic(text_path, text)
    write_atomic(json_path, result_json)


def _run_documents(documents: list[_Document], options: ProcessOptions, stages: Stages, archive: Any,
                   summary: BatchSummary) -> None:
    settings = PageSettings(restore=options.restore, text_layer=options.text_layer, languages=options.languages,
                            timeout=options.page_timeout, pdf=options.pdf and options.out_dir is not None)
    progress = Progress(len(documents), sum(doc.info.page_count for doc in documents), bar=options.progress)
    executor = make_executor(options)
    engine = _Engine(executor, settings, stages, options.jobs, progress, options.out_dir)
    finished = False
    try:
        for document, value in engine.run(documents):
            if isinstance(value, CongvanError):
                outcome = DocumentOutcome(document.source, "failed", name=document.name, error=value)
                progress.message(_describe(value))
            else:
                outcome = _finish_document(document, value, options, archive)
                if outcome.error is not None:
                    progress.message(_describe(outcome.error))
            _remove_pdf_dir(document)
            document.pages.clear()  # a finished document's pages are on disk now: keep memory flat
            document.texts = None
            summary.outcomes.append(outcome)
            progress.document_finished(outcome)
        finished = True
    finally:
        engine.cancel_all()
        if finished:
            executor.close()
        else:
            executor.abort()
        progress.close()
        for document in documents:
            _remove_pdf_dir(document)


def _remove_pdf_dir(document: _Document) -> None:
    if document.pdf_dir is not None:
        import shutil

        shutil.rmtree(document.pdf_dir, ignore_errors=True)
        document.pdf_dir = None


def _finish_document(document: _Document, record: Record, options: ProcessOptions, archive: Any) -> DocumentOutcome:
    """Write the outputs of a finished document: files first (atomically), the archive entry last (one
    transaction), so that an interruption at any point leaves either nothing or the whole document."""
    from pipeline.archive.files import document_to_dict, dumps_json, write_atomic

    pages = [document.pages[i] for i in range(document.page_count)]
    warnings = [f"page {page.index + 1}: {w}" for page in pages for w in page.warnings]
    result = DocumentResult(source=str(document.path.resolve()), sha256=document.info.sha256, pages=pages,
                            record=record, warnings=warnings)
    settings = {"restore": options.restore, "text_layer": options.text_layer, "languages": options.languages,
                "page_timeout": options.page_timeout}
    seconds = time.monotonic() - document.started
    try:
        result_json = dumps_json(document_to_dict(result, kind=document.info.kind, settings=settings))
        if options.out_dir is not None:
            write_atomic(options.out_dir / f"{document.name}.txt", result.text)
            write_atomic(options.out_dir / f"{document.name}.json", result_json)
            if document.pdf_dir is not None:
                from pipeline.archive.pdf import merge_pdfs, searchable_pdf_path

                parts = sorted(document.pdf_dir.glob("*.pdf"))
                write_atomic(searchable_pdf_path(options.out_dir, document.name, document.path), merge_pdfs(parts))
        if archive is not None:
            archive.add_document(result, name=document.name, kind=document.info.kind, result_json=result_json)
    except CongvanError as error:
        return DocumentOutcome(document.source, "failed", name=document.name, error=error)
    except OSError as error:
        failure = CongvanError(f"cannot write results: {error.strerror or error}", document.source)
        return DocumentOutcome(document.source, "failed", name=document.name, error=failure)
    return DocumentOutcome(document.source, "done", name=document.name, pages=len(pages), seconds=seconds)


# --------------------------------------------------------------------------- one document, for `congvan extract`


def extract_file(name: str, restore: bool = True, *, stages: Stages | None = None) -> Record:
    """The record of one text file, scan or PDF ('-' = text on stdin), without writing anything."""
    stages = stages or Stages.default()
    if name == "-":
        text = unicodedata.normalize("NFC", sys.stdin.buffer.read().decode("utf-8", errors="replace"))
        pages = [_run_text_page(PageTask("-", i, "text", PageSettings(restore=restore), stages, t)).result
                 for i, t in enumerate(text.split("\f"))]
        return stages.extract_record("\f".join(p.text for p in pages), pages)
    path = Path(name)
    if path.is_dir() or not path.exists():
        raise InputError("no such file" if not path.exists() else "is a folder, not a document", path)
    info = stages.open_document(path)
    if info.kind != "text":
        stages.check_tesseract(None)
    document = _Document(path=path, info=info, name=path.stem)
    options = ProcessOptions(restore=restore)
    progress = Progress(1, info.page_count, bar=False, stream=io.StringIO())
    executor = LocalExecutor(max(1, min(options.jobs, info.page_count)))
    engine = _Engine(executor, PageSettings(restore=restore), stages, options.jobs, progress, None)
    try:
        for _, value in engine.run([document]):
            if isinstance(value, CongvanError):
                raise value
            return value
    finally:
        engine.cancel_all()
        executor.close()
        progress.close()
    raise CongvanError("no result", path)  # pragma: no cover - the engine always yields the document


__all__ = [
    "BatchSummary",
    "DocumentOutcome",
    "ProcessOptions",
    "Stages",
    "collect_inputs",
    "extract_file",
    "process_inputs",
    "run_extract",
    "run_page",
]
