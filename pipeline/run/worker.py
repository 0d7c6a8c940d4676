"""Worker side of the driver: one page through its text layer or load → preprocess → OCR → restore, or one
document's record with its signatures.

Tasks are plain picklable values, so that they run the same in a local process pool or on Dask workers."""

from __future__ import annotations

import resource
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pipeline.archive.files import owned_prefix
from pipeline.errors import CongvanError, TooLargeError
from pipeline.limits import format_size, is_out_of_memory
from pipeline.ocr import reading_confidence, words_to_text
from pipeline.run.options import PageSettings
from pipeline.run.stages import Stages
from pipeline.signatures import check_document_date, merge_signatures
from pipeline.textlayer import WEAK_OCR, LayerReading, read_layer
from pipeline.types import (
    Box,
    DocumentKind,
    PageImage,
    PageResult,
    PageSource,
    Record,
    RestoredToken,
    TextLayer,
)

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


@dataclass(frozen=True)
class PageOutput:
    result: PageResult


@dataclass(frozen=True)
class ExtractTask:
    source: str
    pages: tuple[PageResult, ...]
    stages: Stages
    kind: DocumentKind


@dataclass(frozen=True)
class ExtractedDocument:
    record: Record
    warnings: list[str]  # about the document as a whole (a date contradicted by its signatures)


def internal_error(error: BaseException, source: str, where: str) -> CongvanError:
    """A bug or resource failure in a stage, as the one-line error that fails its document (not the batch):
    an allocation beyond the worker's memory cap is E105, anything else E000."""
    if is_out_of_memory(error):
        soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
        cap = "" if soft == resource.RLIM_INFINITY else f" (a worker may use {format_size(soft)}: --worker-memory)"
        return TooLargeError(f"{where}: out of memory{cap}", source)
    return CongvanError(f"{where}: internal error: {type(error).__name__}: {error}", source)


def run_page(task: PageTask) -> PageOutput:
    """Worker entry point: one page through load → preprocess → OCR → restore."""
    try:
        if task.text is not None:
            return run_text_page(task)
        return _run_image_page(task)
    except CongvanError:
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


def _run_image_page(task: PageTask) -> PageOutput:
    """A page of a PDF or an image. A PDF page whose own text layer carries its visible text is read from
    that layer (no OCR, no restoration: the text is exact); any other page is OCR'd, an old invisible OCR
    layer is restored and kept instead only when it reads better than the fresh OCR."""
    started = time.perf_counter()
    stages, settings = task.stages, task.settings
    layer = stages.read_text_layer(Path(task.source), task.index) if task.kind is DocumentKind.PDF else None
    reading = read_layer(layer, prefer_layer=settings.text_layer) if layer is not None else None
    if layer is not None and reading is not None and (
            reading.source is PageSource.TEXT_LAYER
            or (reading.source is PageSource.LEGACY_RESTORED and settings.text_layer)):
        result = (_layer_result if reading.source is PageSource.TEXT_LAYER else _legacy_result)(task, layer, reading)
        return _finish(result, started)
    page = stages.load_page(Path(task.source), task.index)
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
    # the e-signature stamps' text comes from the layer (into signatures), not from OCR
    stamps = reading.stamp_boxes if reading is not None else ()
    words = [word for word in ocr.words if not _inside_any(word.box, stamps)]
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
                        tokens=tokens, warnings=warnings, stamps=list(reading.stamps) if reading else [],
                        source=PageSource.OCR, evidence=evidence)
    return result


def _inside_any(box: Box, areas: Sequence[Box]) -> bool:
    x, y = box[0] + box[2] / 2, box[1] + box[3] / 2
    return any(ax <= x <= ax + aw and ay <= y <= ay + ah for ax, ay, aw, ah in areas)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _finish(result: PageResult, started: float) -> PageOutput:
    result.seconds = time.perf_counter() - started
    return PageOutput(result)


def run_extract(task: ExtractTask) -> ExtractedDocument:
    """Worker entry point: the record of a whole document from its final text and pages, with its electronic
    signatures (the PDF's signature dictionaries joined with the stamps seen on its pages), and the date
    checked against them."""
    try:
        text = "\f".join(page.text for page in task.pages)
        record = task.stages.extract_record(text, list(task.pages))
        fields = task.stages.read_signatures(Path(task.source)) if task.kind is DocumentKind.PDF else []
        record.signatures = merge_signatures(fields, [stamp for page in task.pages for stamp in page.stamps])
        warning = check_document_date(record)
        return ExtractedDocument(record, [warning] if warning else [])
    except CongvanError:
        raise
    except Exception as error:
        raise internal_error(error, task.source, "extraction") from None
