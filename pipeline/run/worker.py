"""Worker side of the driver: one page through load → preprocess → OCR → restore, or one document's record
(stored straight into an archive server when the driver asks).

Tasks are plain picklable values, so that they run the same in a local process pool or on Dask workers. A
Dask worker that cannot read an input (no shared disk) says so (`SourceUnavailable`); the driver then sends
the file's bytes along with the page, which the worker keeps in a local copy for the document's other pages."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import CongvanError
from pipeline.run.options import PageSettings
from pipeline.run.stages import Stages
from pipeline.types import DocumentKind, DocumentResult, PageResult, Record, RestoredToken

if TYPE_CHECKING:
    from pipeline.archive.store import ArchiveStore

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # the 2×3 affine map of a page used as it came
SHIPPED_FILES_KEPT = 8  # local copies of sent inputs a worker keeps (its documents in flight)


@dataclass(frozen=True)
class PageTask:
    """One page to run through the stages in a worker; the worker loads the page itself."""

    source: str
    index: int
    kind: DocumentKind
    settings: PageSettings
    stages: Stages
    text: str | None = None  # the page's text for text inputs (no image)
    sha256: str | None = None  # given: the worker checks that its file at `source` has this content


class SourceUnavailable(Exception):  # a request to the driver, not a failure of the document
    """The worker cannot read the input at this path (or holds other content there): send its bytes."""


@dataclass(frozen=True)
class PageOutput:
    result: PageResult
    pdf: bytes | None = None  # one-page searchable PDF when asked for


@dataclass(frozen=True)
class StoreRequest:
    """What a worker needs to store a finished document in an archive server itself."""

    location: str  # the archive's URL
    name: str
    kind: DocumentKind
    sha256: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractTask:
    source: str
    pages: tuple[PageResult, ...]
    stages: Stages
    store: StoreRequest | None = None  # store the document from the worker (results straight to the server)


@dataclass(frozen=True)
class StoredRecord:
    """A document's record, already stored in the archive (as document `document_id`) by the worker."""

    record: Record
    document_id: int


def internal_error(error: BaseException, source: str, where: str) -> CongvanError:
    """A bug or resource failure in a stage, as the one-line error that fails its document (not the batch)."""
    return CongvanError(f"{where}: internal error: {type(error).__name__}: {error}", source)


def run_page(task: PageTask, content: bytes | None = None) -> PageOutput:
    """Worker entry point: one page through load → preprocess → OCR → restore (→ one-page PDF). `content`:
    the input file's bytes, sent by the driver when this worker cannot read `task.source`."""
    try:
        if task.text is not None:
            return run_text_page(task)
        source = local_source(task, content)
        # The page's own temporary folder, handed to the stages that need one and removed when the page
        # ends (even on failure), so that temporary disk use is bounded by the pages in flight.
        with tempfile.TemporaryDirectory(prefix="congvan-page-") as workdir:
            return _run_image_page(task, source, Path(workdir))
    except (CongvanError, SourceUnavailable):
        raise
    except Exception as error:  # a bug or resource failure in a stage fails this document, not the batch
        raise internal_error(error, task.source, f"page {task.index + 1}") from None


# --------------------------------------------------------------------------- inputs on the worker's side

_shipped: dict[str, Path] = {}  # sha256 → this process's copy of an input the driver sent
_hashed: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → sha256 of a local input
_shipped_folder: list[Path] = []


def local_source(task: PageTask, content: bytes | None) -> Path:
    """The file this worker reads the page from: its copy of sent bytes, or the input path once it is known
    to hold the content the driver hashed (a worker on another machine may have another file there)."""
    if content is not None:
        return _shipped_copy(task, content)
    path = Path(task.source)
    if task.sha256 is None:
        return path
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        digest = _hashed.get(key)
        if digest is None:
            with path.open("rb") as handle:
                digest = _hashed[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        raise SourceUnavailable(task.source) from None
    if digest != task.sha256:
        raise SourceUnavailable(task.source)
    return path


def _shipped_copy(task: PageTask, content: bytes) -> Path:
    key = task.sha256 or hashlib.sha256(content).hexdigest()
    path = _shipped.get(key)
    if path is not None and path.exists():
        return path
    if not _shipped_folder:
        _shipped_folder.append(Path(tempfile.mkdtemp(prefix="congvan-inputs-")))
        atexit.register(shutil.rmtree, _shipped_folder[0], True)
    path = _shipped_folder[0] / f"{key}{Path(task.source).suffix.lower()}"  # ingest reads the suffix too
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    temporary.replace(path)
    _shipped[key] = path
    while len(_shipped) > SHIPPED_FILES_KEPT:  # dicts keep insertion order: the oldest copy goes first
        _shipped.pop(next(iter(_shipped))).unlink(missing_ok=True)
    return path


def _restore(task: PageTask, raw_text: str,
             confidences: Sequence[float | None] | None) -> tuple[str, list[RestoredToken] | None]:
    if not task.settings.restore:
        return raw_text, None
    restoration = task.stages.restore_text(raw_text, confidences)
    return restoration.text, list(restoration.tokens)


def run_text_page(task: PageTask) -> PageOutput:
    """A page of a text input: its text restored, no image stages."""
    started = time.perf_counter()
    raw_text = unicodedata.normalize("NFC", task.text or "")
    text, tokens = _restore(task, raw_text, None)
    result = PageResult(index=task.index, width=0, height=0, dpi=0.0, preprocessing=[], words=[],
                        raw_text=raw_text, text=text, tokens=tokens, seconds=time.perf_counter() - started)
    return PageOutput(result)


def _run_image_page(task: PageTask, source: Path, workdir: Path) -> PageOutput:
    started = time.perf_counter()
    stages, settings = task.stages, task.settings
    page = stages.load_page(source, task.index)
    height, width = page.image.shape[:2]
    warnings: list[str] = []
    if page.dpi_estimated:
        warnings.append(f"no usable resolution in the file: {page.dpi:.0f} dpi assumed")
    legacy = page.legacy_text
    confidences: list[float | None] | None
    if settings.text_layer and legacy and legacy.strip():
        raw_text, words, steps, confidences = unicodedata.normalize("NFC", legacy), [], [], None
        to_original: Sequence[float] = IDENTITY
    else:
        if settings.text_layer and task.kind is DocumentKind.PDF:
            warnings.append("no text layer on this page: OCR used")
        prepared = stages.preprocess_page(page)
        to_original = prepared.to_original
        ocr = stages.ocr_page(prepared, languages=settings.languages, timeout=settings.timeout, workdir=workdir)
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


def run_extract(task: ExtractTask) -> Record | StoredRecord:
    """Worker entry point: the record of a whole document from its final text and pages; stored in the
    archive server from here when the task says so."""
    try:
        text = "\f".join(page.text for page in task.pages)
        record = task.stages.extract_record(text, list(task.pages))
    except CongvanError:
        raise
    except Exception as error:
        raise internal_error(error, task.source, "extraction") from None
    if task.store is None:
        return record
    request = task.store
    result = finished_document(task.source, request.sha256, task.pages, record)
    document_id = _archive(request.location).add_document(
        result, name=request.name, kind=request.kind, result_json=result_json(result, request.kind, request.settings))
    return StoredRecord(record, document_id)


def finished_document(source: str, sha256: str, pages: Sequence[PageResult], record: Record) -> DocumentResult:
    """A processed document as the outputs and the archive take it."""
    warnings = [f"page {page.index + 1}: {w}" for page in pages for w in page.warnings]
    return DocumentResult(source=source, sha256=sha256, pages=list(pages), record=record, warnings=warnings)


def result_json(result: DocumentResult, kind: DocumentKind, settings: dict[str, Any]) -> str:
    """The content of DIR/<stem>.json, also kept in the archive."""
    from pipeline.archive.files import document_to_dict, dumps_json

    return dumps_json(document_to_dict(result, kind=kind, settings=settings))


_archives: dict[str, ArchiveStore] = {}  # archive servers this worker process writes to, opened once


def _archive(location: str) -> ArchiveStore:
    archive = _archives.get(location)
    if archive is None:
        from pipeline.archive import open_archive

        archive = _archives[location] = open_archive(location)
        atexit.register(archive.close)
    return archive
