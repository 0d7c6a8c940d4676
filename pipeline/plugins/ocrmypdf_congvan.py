"""The OCRmyPDF OCR-engine plugin: congvan's preprocessing, Tesseract reading and diacritic restoration supply the
text layer of OCRmyPDF's output (`ocrmypdf --plugin pipeline.plugins.ocrmypdf_congvan in.pdf out.pdf`).

`congvan process --pdf` passes the words it already read (`--congvan-words FILE`, written by
archive/pdf.py), so that each page is read once and the PDF's text is the archive's text."""

from __future__ import annotations

import json
import logging
from argparse import ArgumentParser
from collections.abc import Set
from pathlib import Path
from typing import Any

from ocrmypdf import hookimpl
from ocrmypdf.hocrtransform import BoundingBox, OcrClass, OcrElement
from ocrmypdf.pluginspec import OcrEngine, OrientationConfidence
from pydantic import BaseModel

from pipeline import __version__

log = logging.getLogger(__name__)


class CongvanOptions(BaseModel):
    """Options of the plugin (`options.congvan.…`, flat `congvan_…` on OCRmyPDF's command line and API)."""

    words: str | None = None  # JSON file of the pages' words, as archive.pdf.text_layer_pages writes it
    restore: bool = True  # restore diacritics (off: the raw Tesseract reading)


@hookimpl
def register_options() -> dict[str, type[BaseModel]]:
    return {"congvan": CongvanOptions}


@hookimpl
def add_options(parser: ArgumentParser) -> None:
    group = parser.add_argument_group("congvan", "congvan's OCR engine (preprocessing, Tesseract vie, restoration)")
    group.add_argument("--congvan-words", dest="congvan_words", metavar="FILE",
                       help="use these already-read words (JSON written by congvan) instead of reading the pages")
    group.add_argument("--congvan-no-restore", dest="congvan_restore", action="store_false", default=True,
                       help="keep Tesseract's reading without diacritic restoration")


@hookimpl
def check_options(options: Any) -> None:
    if not options.congvan.words:
        from pipeline.ocr import check_tesseract

        check_tesseract(_languages(options))


@hookimpl
def get_ocr_engine(options: Any) -> OcrEngine:
    return CongvanOcrEngine()


def _languages(options: Any) -> str | None:
    """OCRmyPDF's -l when given, else congvan's measured default (OCRmyPDF's own default is English)."""
    languages = list(getattr(options, "languages", None) or [])
    return "+".join(languages) if languages and languages != ["eng"] else None


class CongvanOcrEngine(OcrEngine):
    """congvan as an OCRmyPDF OCR engine (the generate_ocr API: an OcrElement tree per page)."""

    @staticmethod
    def version() -> str:
        return __version__

    @staticmethod
    def creator_tag(options: Any) -> str:
        return f"congvan {__version__} (Tesseract, Vietnamese diacritic restoration)"

    def __str__(self) -> str:
        return f"congvan {__version__}"

    @staticmethod
    def languages(options: Any) -> Set[str]:
        from pipeline.ocr import installed_languages

        return installed_languages()

    @staticmethod
    def get_orientation(input_file: Path, options: Any) -> OrientationConfidence:
        # congvan turns each page upright itself and maps its words back onto the page as it is.
        return OrientationConfidence(angle=0, confidence=0.0)

    @staticmethod
    def get_deskew(input_file: Path, options: Any) -> float:
        return 0.0

    @staticmethod
    def supports_generate_ocr() -> bool:
        return True

    @staticmethod
    def generate_ocr(input_file: Path, options: Any, page_number: int = 0) -> tuple[OcrElement, str]:
        from PIL import Image

        with Image.open(input_file) as image:
            width, height = image.size
            dpi = float((image.info.get("dpi") or (300, 300))[0])
        if options.congvan.words:
            page = _stored_page(Path(options.congvan.words), page_number)
        else:
            page = _read_page(Path(input_file), options)
        return page_element(page, width, height, dpi, page_number), page["text"]

    @staticmethod
    def generate_hocr(input_file: Path, output_hocr: Path, output_text: Path, options: Any) -> None:
        raise NotImplementedError("congvan's engine renders through OCRmyPDF's fpdf2 renderer (--pdf-renderer auto)")

    @staticmethod
    def generate_pdf(input_file: Path, output_pdf: Path, output_text: Path, options: Any) -> None:
        raise NotImplementedError("congvan's engine renders through OCRmyPDF's fpdf2 renderer (--pdf-renderer auto)")


def _stored_page(path: Path, page_number: int) -> dict[str, Any]:
    pages = json.loads(path.read_text(encoding="utf-8"))
    if not 0 <= page_number < len(pages):
        raise ValueError(f"{path} has no words for page {page_number + 1}")
    page: dict[str, Any] = pages[page_number]
    return page


def _read_page(image_file: Path, options: Any) -> dict[str, Any]:
    """Run one page image through congvan's stages (the driver's worker) and return its text layer."""
    from pipeline.archive.pdf import text_layer_page
    from pipeline.run.options import PageSettings
    from pipeline.run.stages import Stages
    from pipeline.run.worker import PageTask, run_page
    from pipeline.types import DocumentKind

    settings = PageSettings(restore=options.congvan.restore, languages=_languages(options))
    output = run_page(PageTask(str(image_file), 0, DocumentKind.IMAGE, settings, Stages.default()))
    return text_layer_page(output.result)


def page_element(page: dict[str, Any], width: int, height: int, dpi: float, page_number: int) -> OcrElement:
    """The OcrElement tree of a page (page → lines → words) with the words' boxes scaled from the pixels
    congvan read to the pixels of OCRmyPDF's image; lines of a page that had to be turned to be read carry
    the angle at which their text runs on the page."""
    sx, sy = width / max(1, page["width"]), height / max(1, page["height"])
    angle = float((-90 * page["turns"]) % 360)
    lines = []
    for line in page["lines"]:
        words = [OcrElement(ocr_class=OcrClass.WORD, text=text, confidence=confidence / 100.0,
                            bbox=BoundingBox(left=x * sx, top=y * sy, right=(x + w) * sx, bottom=(y + h) * sy))
                 for text, x, y, w, h, confidence in line]
        if not words:
            continue
        box = BoundingBox(left=min(w.bbox.left for w in words if w.bbox), top=min(w.bbox.top for w in words if w.bbox),
                          right=max(w.bbox.right for w in words if w.bbox),
                          bottom=max(w.bbox.bottom for w in words if w.bbox))
        lines.append(OcrElement(ocr_class=OcrClass.LINE, bbox=box, children=words, textangle=angle or None,
                                language="vie"))
    return OcrElement(ocr_class=OcrClass.PAGE, bbox=BoundingBox(left=0, top=0, right=width, bottom=height),
                      dpi=dpi, page_number=page_number, children=lines)
