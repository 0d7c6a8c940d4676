"""Worker side of the driver: one page through load → preprocess → OCR → restore, or one document's record.

Tasks are plain picklable values, so that they run the same in a local process pool or on Dask workers."""

from __future__ import annotations

import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import CongvanError
from pipeline.run.options import PageSettings
from pipeline.run.stages import Stages
from pipeline.types import DocumentKind, PageResult, Record, RestoredToken


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


def internal_error(error: BaseException, source: str, where: str) -> CongvanError:
    """A bug or resource failure in a stage, as the one-line error that fails its document (not the batch)."""
    return CongvanError(f"{where}: internal error: {type(error).__name__}: {error}", source)


def run_page(task: PageTask) -> PageOutput:
    """Worker entry point: one page through load → preprocess → OCR → restore."""
    try:
        if task.text is not None:
            return run_text_page(task)
        # The page's own temporary folder, handed to the stages that need one and removed when the page
        # ends (even on failure), so that temporary disk use is bounded by the pages in flight.
        with tempfile.TemporaryDirectory(prefix="congvan-page-") as workdir:
            return _run_image_page(task, Path(workdir))
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


def _run_image_page(task: PageTask, workdir: Path) -> PageOutput:
    started = time.perf_counter()
    stages, settings = task.stages, task.settings
    page = stages.load_page(Path(task.source), task.index)
    height, width = page.image.shape[:2]
    warnings: list[str] = []
    if page.dpi_estimated:
        warnings.append(f"no usable resolution in the file: {page.dpi:.0f} dpi assumed")
    legacy = page.legacy_text
    confidences: list[float | None] | None
    if settings.text_layer and legacy and legacy.strip():
        raw_text, words, steps, confidences = unicodedata.normalize("NFC", legacy), [], [], None
    else:
        if settings.text_layer and task.kind is DocumentKind.PDF:
            warnings.append("no text layer on this page: OCR used")
        prepared = stages.preprocess_page(page)
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
    result.seconds = time.perf_counter() - started
    return PageOutput(result)


def run_extract(task: ExtractTask) -> Record:
    """Worker entry point: the record of a whole document from its final text and pages."""
    try:
        text = "\f".join(page.text for page in task.pages)
        return task.stages.extract_record(text, list(task.pages))
    except CongvanError:
        raise
    except Exception as error:
        raise internal_error(error, task.source, "extraction") from None
