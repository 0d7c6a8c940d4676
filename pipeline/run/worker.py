"""Worker side of the driver: one page through its text layer or load → preprocess → OCR → restore, or one
document's record with its signatures (stored straight into an archive server when the driver asks).

Tasks are plain picklable values, so that they run the same in a local process pool or on Dask workers. A
Dask worker that cannot read an input (no shared disk) says so (`SourceUnavailable`); the driver then sends
the file's bytes along with the task, which the worker keeps in a local copy for the document's other tasks."""

from __future__ import annotations

import atexit
import hashlib
import os
import resource
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.archive.files import owned_prefix
from pipeline.errors import CongvanError, TooLargeError
from pipeline.limits import format_size, is_out_of_memory
from pipeline.ocr import reading_confidence, words_to_text
from pipeline.run.options import PageSettings
from pipeline.run.stages import Stages
from pipeline.signatures import (
    OCR_STAMP,
    check_document_date,
    find_ocr_stamps,
    merge_signatures,
    same_moment,
    stamp_signature,
)
from pipeline.textlayer import WEAK_OCR, LayerReading, read_layer
from pipeline.types import (
    DocumentKind,
    DocumentResult,
    PageImage,
    PageResult,
    PageSource,
    Record,
    RestoredToken,
    TextLayer,
    centre_inside,
)

if TYPE_CHECKING:
    from pipeline.archive.store import ArchiveStore

SHIPPED_FILES_KEPT = 8  # local copies of sent inputs a worker keeps (its documents in flight)
# Each page's temporary folder in the system's temporary folder: congvan-page-<worker pid>-…
PAGE_TEMP_PREFIX = "congvan-page-"


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


@dataclass(frozen=True)
class StoreRequest:
    """What a worker needs to store a finished document in an archive server itself."""

    location: str  # the archive's URL
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractTask:
    source: str
    pages: tuple[PageResult, ...]
    stages: Stages
    kind: DocumentKind
    sha256: str | None = None  # as PageTask.sha256 (a PDF's signatures are read from its file)
    store: StoreRequest | None = None  # store the document from the worker (results straight to the server)
    document_sha256: str = ""  # the document's content hash, for the archive


@dataclass(frozen=True)
class ExtractedDocument:
    record: Record
    warnings: list[str]  # about the document as a whole (a date contradicted by its signatures)
    document_id: int | None = None  # set when the worker stored the document in the archive itself


def internal_error(error: BaseException, source: str, where: str) -> CongvanError:
    """A bug or resource failure in a stage, as the one-line error that fails its document (not the batch):
    an allocation beyond the worker's memory cap is E105, anything else E000."""
    if is_out_of_memory(error):
        soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
        cap = "" if soft == resource.RLIM_INFINITY else f" (a worker may use {format_size(soft)}: --worker-memory)"
        return TooLargeError(f"{where}: out of memory{cap}", source)
    return CongvanError(f"{where}: internal error: {type(error).__name__}: {error}", source)


def run_page(task: PageTask, content: bytes | None = None) -> PageOutput:
    """Worker entry point: one page through load → preprocess → OCR → restore. `content`: the input file's
    bytes, sent by the driver when this worker cannot read `task.source`."""
    try:
        if task.text is not None:
            return run_text_page(task)
        return _run_image_page(task, local_source(task.source, task.sha256, content))
    except (CongvanError, SourceUnavailable):
        raise
    except Exception as error:  # a bug or resource failure in a stage fails this document, not the batch
        raise internal_error(error, task.source, f"page {task.index + 1}") from None


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


def _run_image_page(task: PageTask, source: Path) -> PageOutput:
    """A page of a PDF or an image. A PDF page whose own text layer carries its visible text is read from
    that layer (no OCR, no restoration: the text is exact); any other page is OCR'd, an old invisible OCR
    layer is restored and kept instead only when it reads better than the fresh OCR."""
    started = time.perf_counter()
    stages, settings = task.stages, task.settings
    layer = stages.read_text_layer(source, task.index) if task.kind is DocumentKind.PDF else None
    reading = read_layer(layer, prefer_layer=settings.text_layer) if layer is not None else None
    if layer is not None and reading is not None and (
            reading.source is PageSource.TEXT_LAYER
            or (reading.source is PageSource.LEGACY_RESTORED and settings.text_layer)):
        result = (_layer_result if reading.source is PageSource.TEXT_LAYER else _legacy_result)(task, layer, reading)
        return _finish(result, started)
    page = stages.load_page(source, task.index)
    # The page's own temporary folder, handed to the stages that need one and removed when the page ends
    # (even on failure), so that temporary disk use is bounded by the pages in flight.
    with tempfile.TemporaryDirectory(prefix=owned_prefix(PAGE_TEMP_PREFIX)) as workdir:
        result = _ocr_result(task, page, reading, Path(workdir))
    if reading is not None and reading.source is PageSource.LEGACY_RESTORED:
        assert layer is not None
        result = _better_reading(result, _legacy_result(task, layer, reading))
    return _finish(result, started)


def _layer_result(task: PageTask, layer: TextLayer, reading: LayerReading) -> PageResult:
    """A born-digital page: the layer's words as they are (restoration never touches exact text)."""
    raw_text = reading.text
    return PageResult(index=task.index, width=layer.width, height=layer.height, dpi=layer.dpi, preprocessing=[],
                      words=list(reading.words), raw_text=raw_text, text=raw_text, stamps=list(reading.stamps),
                      source=PageSource.TEXT_LAYER, evidence=reading.evidence)


def _legacy_result(task: PageTask, layer: TextLayer, reading: LayerReading) -> PageResult:
    """An old OCR layer, restored; its words carry the restoration's confidence (the old engine gave none)."""
    raw_text = reading.text
    text, tokens = _restore(task, raw_text, None)
    words = list(reading.words)
    if tokens is not None and len(tokens) == len(words):
        words = [replace(word, confidence=round(100.0 * token.confidence, 2)) for word, token in zip(words, tokens,
                                                                                                    strict=True)]
    score = _mean([token.confidence for token in tokens]) if tokens else None
    evidence = replace(reading.evidence, legacy_score=None if score is None else round(score, 4))
    return PageResult(index=task.index, width=layer.width, height=layer.height, dpi=layer.dpi, preprocessing=[],
                      words=words, raw_text=raw_text, text=text, tokens=tokens, legacy_text=raw_text,
                      stamps=list(reading.stamps), source=PageSource.LEGACY_RESTORED, evidence=evidence)


def _better_reading(ocr: PageResult, legacy: PageResult) -> PageResult:
    """Fresh OCR, unless its reading is weak and the restored old layer is surer of itself; the scores of
    both are recorded either way."""
    assert ocr.evidence is not None and legacy.evidence is not None
    ocr_score = ocr.evidence.ocr_score
    legacy_score = legacy.evidence.legacy_score
    keep_legacy = (ocr_score is not None and legacy_score is not None and ocr_score < WEAK_OCR
                   and legacy_score > ocr_score)
    reason = ("the restored old layer reads better than a weak fresh OCR" if keep_legacy
              else "fresh OCR reads better than the restored old layer")
    evidence = replace(legacy.evidence, ocr_score=ocr_score, legacy_score=legacy_score, reason=reason)
    if keep_legacy:
        return replace(legacy, evidence=evidence, preprocessing=ocr.preprocessing,
                       warnings=[*ocr.warnings, *legacy.warnings])
    return replace(ocr, evidence=evidence, legacy_text=legacy.raw_text)


def _ocr_result(task: PageTask, page: PageImage, reading: LayerReading | None, workdir: Path) -> PageResult:
    stages, settings = task.stages, task.settings
    height, width = page.image.shape[:2]
    warnings: list[str] = []
    if page.dpi_estimated:
        warnings.append(f"no usable resolution in the file: {page.dpi:.0f} dpi assumed")
    if settings.text_layer and task.kind is DocumentKind.PDF:
        warnings.append("no text layer on this page: OCR used")
    prepared = stages.preprocess_page(page)
    ocr = stages.ocr_page(prepared, languages=settings.languages, timeout=settings.timeout, workdir=workdir)
    # the e-signature stamps' text comes from the layer (into signatures), not from OCR; a stamp printed on a
    # scanned or photocopied page is recognised in the OCR'd words, taken out of them and recorded where read
    stamp_boxes = reading.stamp_boxes if reading is not None else ()
    words = [word for word in ocr.words if not any(centre_inside(word.box, stamp) for stamp in stamp_boxes)]
    signatures = list(reading.stamps) if reading else []
    in_stamps: set[int] = set()
    for stamp, indices in find_ocr_stamps(words):
        if stamp is None:  # unread: its words stay, as they may be the page's own text
            warnings.append("a signing stamp's time could not be read: its words are left in the text")
            continue
        in_stamps |= indices
        if not any(same_moment(stamp.time, known.time) for known in signatures):
            signatures.append(stamp_signature(stamp, task.index, OCR_STAMP))
    words = [word for index, word in enumerate(words) if index not in in_stamps]
    raw_text = ocr.text if len(words) == len(ocr.words) else words_to_text(words)
    steps = list(ocr.preprocessing or prepared.steps)
    warnings += [w for w in dict.fromkeys((*prepared.warnings, *ocr.warnings)) if w not in warnings]
    confidences: list[float | None] | None = [word.confidence for word in words]
    if len(words) != len(raw_text.split()):
        confidences = None  # misaligned stage output: restore without confidences rather than misuse them
    text, tokens = _restore(task, raw_text, confidences)
    evidence = reading.evidence if reading is not None else None
    if evidence is not None and words:
        evidence = replace(evidence, ocr_score=round(reading_confidence(words) / 100.0, 4))
    legacy_text = (reading.text or None) if reading is not None else page.legacy_text
    result = PageResult(index=task.index, width=int(width), height=int(height), dpi=float(page.dpi),
                        preprocessing=steps, words=words, raw_text=raw_text, text=text, legacy_text=legacy_text,
                        tokens=tokens, warnings=warnings, stamps=signatures,
                        source=PageSource.OCR, evidence=evidence, field_readings=list(ocr.field_readings),
                        marks=list(ocr.marks))
    return result


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _finish(result: PageResult, started: float) -> PageOutput:
    result.seconds = time.perf_counter() - started
    return PageOutput(result)


def run_extract(task: ExtractTask, content: bytes | None = None) -> ExtractedDocument:
    """Worker entry point: the record of a whole document from its final text and pages, with its electronic
    signatures (the PDF's signature dictionaries joined with the stamps seen on its pages), and the date
    checked against them; stored in the archive server from here when the task says so."""
    try:
        text = "\f".join(page.text for page in task.pages)
        record = task.stages.extract_record(text, list(task.pages))
        fields = (task.stages.read_signatures(local_source(task.source, task.sha256, content))
                  if task.kind is DocumentKind.PDF else [])
        record.signatures = merge_signatures(fields, [stamp for page in task.pages for stamp in page.stamps])
        warning = check_document_date(record)
        extracted = ExtractedDocument(record, [warning] if warning else [])
    except (CongvanError, SourceUnavailable):
        raise
    except Exception as error:
        raise internal_error(error, task.source, "extraction") from None
    if task.store is None:
        return extracted
    result = finished_document(task.source, task.document_sha256, task.pages, extracted)
    document_id = _archive(task.store.location).add_document(
        result, name=task.store.name, kind=task.kind, result_json=result_json(result, task.kind, task.store.settings))
    return replace(extracted, document_id=document_id)


def finished_document(source: str, sha256: str, pages: Sequence[PageResult],
                      extracted: ExtractedDocument) -> DocumentResult:
    """A processed document as the outputs and the archive take it."""
    warnings = [f"page {page.index + 1}: {w}" for page in pages for w in page.warnings] + extracted.warnings
    return DocumentResult(source=source, sha256=sha256, pages=list(pages), record=extracted.record,
                          warnings=warnings)


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


# --------------------------------------------------------------------------- inputs on the worker's side

_shipped: dict[str, Path] = {}  # sha256 → this process's copy of an input the driver sent
_hashed: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) → sha256 of a local input
_shipped_folder: list[Path] = []
_shipping = threading.Lock()  # a Dask worker runs pages in threads: one copy written at a time


def local_source(source: str, sha256: str | None, content: bytes | None) -> Path:
    """The file this worker reads a document from: its copy of sent bytes, or the input path once it is
    known to hold the content the driver hashed (a worker on another machine may have another file there)."""
    if content is not None:
        return _shipped_copy(source, sha256, content)
    path = Path(source)
    if sha256 is None:
        return path
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        digest = _hashed.get(key)
        if digest is None:
            with path.open("rb") as handle:
                digest = _hashed[key] = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        raise SourceUnavailable(source) from None
    if digest != sha256:
        raise SourceUnavailable(source)
    return path


def _shipped_copy(source: str, sha256: str | None, content: bytes) -> Path:
    key = sha256 or hashlib.sha256(content).hexdigest()
    with _shipping:
        return _write_shipped(key, source, content)


def _write_shipped(key: str, source: str, content: bytes) -> Path:
    path = _shipped.get(key)
    if path is not None and path.exists():
        return path
    if not _shipped_folder:
        _shipped_folder.append(Path(tempfile.mkdtemp(prefix="congvan-inputs-")))
        atexit.register(shutil.rmtree, _shipped_folder[0], True)
    path = _shipped_folder[0] / f"{key}{Path(source).suffix.lower()}"  # ingest reads the suffix too
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    temporary.replace(path)
    _shipped[key] = path
    while len(_shipped) > SHIPPED_FILES_KEPT:  # dicts keep insertion order: the oldest copy goes first
        _shipped.pop(next(iter(_shipped))).unlink(missing_ok=True)
    return path
