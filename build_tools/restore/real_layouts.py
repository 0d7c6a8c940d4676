"""Real page layouts for the restoration benchmark: born-digital PDFs (their exact text layer, line by
line with boxes) rendered, degraded and OCR'd like `render`'s pages. Held out: never used in training.

A born-digital, e-signed dispatch carries its number and day as form-field widgets; poppler's text
layer includes their values, so pages are rendered with their forms, and the image holds exactly the
text layer's text."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from build_tools.restore.render import (
    SOURCE_DPI,
    OcrLine,
    Page,
    assign_words,
    degrade,
    ocr_key,
    run_tesseract,
    traineddata_hash,
)
from pipeline.vietnamese import normalize_text

_XHTML = "{http://www.w3.org/1999/xhtml}"


@dataclass(frozen=True)
class LayoutRun:
    """One OCR of one real page: which document and page, how degraded, read how."""

    pdf: Path
    page: int  # 0-based
    degradation: str
    seed: int
    language: str
    psm: int


def text_lines(pdf: Path) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Per page, the text layer's lines (words joined by spaces, NFC) with their boxes in points
    (x0, y0, x1, y1 from the top left), as poppler's pdftotext reads them."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "layout.html"
        subprocess.run(["pdftotext", "-bbox-layout", str(pdf), str(out)], check=True, capture_output=True)
        root = ElementTree.parse(out).getroot()
    pages = []
    for page in root.iter(f"{_XHTML}page"):
        lines = []
        for line in page.iter(f"{_XHTML}line"):
            words = [normalize_text(w.text or "").strip() for w in line.iter(f"{_XHTML}word")]
            text = " ".join(w for w in words if w)
            if text:
                box = tuple(float(line.attrib[k]) for k in ("xMin", "yMin", "xMax", "yMax"))
                lines.append((text, box))
        pages.append(lines)
    return pages  # type: ignore[return-value]


def layout_page(pdf: Path, index: int) -> Page:
    """Page `index` of `pdf` at SOURCE_DPI, grayscale, form fields filled in, with its lines."""
    import pypdfium2 as pdfium

    lines = text_lines(pdf)[index]
    document = pdfium.PdfDocument(str(pdf))
    try:
        document.init_forms()
        bitmap = document[index].render(scale=SOURCE_DPI / 72, may_draw_forms=True)
        image = np.asarray(bitmap.to_pil().convert("L"), dtype=np.uint8).copy()
    finally:
        document.close()
    scale = SOURCE_DPI / 72
    quads = np.array(
        [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)] for _, (x0, y0, x1, y1) in lines], dtype=np.float32
    ).reshape(-1, 4, 2)
    return Page(image, SOURCE_DPI, [text for text, _ in lines], quads * scale)


@functools.lru_cache(maxsize=16)
def _file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def ocr_layout(run: LayoutRun, cache_dir: Path) -> tuple[list[OcrLine], bool]:
    """The lines of one real page, degraded and OCR'd (cached under `cache_dir` by the document's
    hash, the run, this module's and the renderer's source, the Tesseract version and traineddata);
    the flag says whether it came from the cache."""
    key = ocr_key(
        "real-layout",
        _file_hash(run.pdf),
        _file_hash(Path(__file__)),
        run.page,
        run.degradation,
        run.seed,
        run.language,
        run.psm,
        traineddata_hash(run.language),
    )
    path = cache_dir / key[:2] / f"{key}.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return [OcrLine(a, b, tuple(c)) for a, b, c in data], True
    page, _ = degrade(layout_page(run.pdf, run.page), run.degradation, run.seed)
    lines = assign_words(page, run_tesseract(page.image, page.dpi, run.language, run.psm))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([[line.intended, line.observed, list(line.confidences)] for line in lines], ensure_ascii=False),
        encoding="utf-8",
    )
    return lines, False


def page_count(pdf: Path) -> int:
    return len(text_lines(pdf))
