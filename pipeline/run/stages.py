"""The seams between the driver and the stages: one Protocol per stage function, and `Stages`, the set the
driver composes. mypy checks every implementation against them, the test fakes included."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.defaults import PAGE_TIMEOUT_SECONDS
from pipeline.types import (
    DocumentInfo,
    DocumentResult,
    OcrPage,
    PageImage,
    PageResult,
    PreparedPage,
    Record,
    Restoration,
    SignatureField,
    TextLayer,
)


class OpenDocument(Protocol):
    """Identify a file by its content, count its pages and hash it (ingest.open_document)."""

    def __call__(self, path: Path, /) -> DocumentInfo: ...


class LoadPage(Protocol):
    """Decode one page (0-based) at its real resolution (ingest.load_page)."""

    def __call__(self, path: Path, index: int, /) -> PageImage: ...


class ReadTextLayer(Protocol):
    """A PDF page's own text layer with word boxes, as a viewer shows the page; None for other inputs
    (ingest.read_text_layer)."""

    def __call__(self, path: Path, index: int, /) -> TextLayer | None: ...


class ReadSignatures(Protocol):
    """The signature dictionaries of a PDF, in signing order; [] for other inputs (ingest.read_signatures)."""

    def __call__(self, path: Path, /) -> list[SignatureField]: ...


class ReadTextFile(Protocol):
    """The text of a text input, NFC, pages separated by form feeds (ingest.read_text_file)."""

    def __call__(self, path: Path, /) -> str: ...


class PreprocessPage(Protocol):
    """A page cleaned and turned upright for OCR, with the steps it took (preprocess.preprocess_page)."""

    def __call__(self, page: PageImage, /) -> PreparedPage: ...


class OcrPageFunction(Protocol):
    """A prepared page's words with boxes on the original page (ocr.ocr_page); temporary files go to
    `workdir`, a Tesseract run longer than `timeout` seconds raises OcrTimeoutError."""

    def __call__(self, prepared: PreparedPage, /, *, languages: str | None = None,
                 timeout: float = PAGE_TIMEOUT_SECONDS, workdir: Path | None = None) -> OcrPage: ...


class CheckTesseract(Protocol):
    """Raise MissingDependencyError when Tesseract or one of `languages` is not installed (ocr.check_tesseract)."""

    def __call__(self, languages: str | None, /) -> None: ...


class RestoreText(Protocol):
    """Repaired text with one token per `text.split()` word; `confidences` aligned with those words
    (restore.restore_text)."""

    def __call__(self, text: str, confidences: Sequence[float | None] | None = None, /) -> Restoration: ...


class ExtractRecord(Protocol):
    """The record of a document from its final text (pages joined by form feeds) and, when known, its pages
    with their OCR words (extract.extract_record)."""

    def __call__(self, text: str, pages: Sequence[PageResult] | None = None, /) -> Record: ...


class WritePdf(Protocol):
    """Write `target`: the searchable PDF/A of `source` with the document's final words as its text layer
    (archive.pdf.write_pdfa); `image_dpi` for image inputs, `jobs` pages at a time; returns warnings."""

    def __call__(self, source: Path, result: DocumentResult, target: Path, /, *, image_dpi: float | None = None,
                 jobs: int = 1) -> list[str]: ...


@dataclass(frozen=True)
class Stages:
    """The stage functions the driver composes; tests pass small fakes with the same signatures."""

    open_document: OpenDocument
    load_page: LoadPage
    read_text_file: ReadTextFile
    preprocess_page: PreprocessPage
    ocr_page: OcrPageFunction
    check_tesseract: CheckTesseract
    restore_text: RestoreText
    extract_record: ExtractRecord
    write_pdf: WritePdf
    read_text_layer: ReadTextLayer
    read_signatures: ReadSignatures

    @classmethod
    def default(cls) -> Stages:
        from pipeline import ingest, ocr, preprocess
        from pipeline.archive.pdf import write_pdfa
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
            write_pdf=write_pdfa,
            read_text_layer=ingest.read_text_layer,
            read_signatures=ingest.read_signatures,
        )
