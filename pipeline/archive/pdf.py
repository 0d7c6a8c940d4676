"""Searchable PDF: each original page image with an invisible layer of the restored words at their boxes."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.archive.files import fit_name
from pipeline.errors import MissingDependencyError
from pipeline.types import Box, PageResult

FONT_NAME = "CongvanInvisible"
# A TrueType font with Vietnamese glyphs, so the invisible text keeps its diacritics (Debian fonts-dejavu-core).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
JPEG_QUALITY = 80
FALLBACK_FONT_SIZE = 8.0  # points, for pages whose text has no word boxes (restored legacy text layers)


@lru_cache(maxsize=1)
def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = next((p for p in FONT_CANDIDATES if Path(p).is_file()), None)
    if path is None and shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", "DejaVu Sans:lang=vi"], capture_output=True, text=True,
                               check=False).stdout.strip()
        path = found if found.lower().endswith(".ttf") and Path(found).is_file() else None
    if path is None:
        raise MissingDependencyError("no TrueType font with Vietnamese glyphs for searchable PDFs: "
                                     "install fonts-dejavu-core")
    pdfmetrics.registerFont(TTFont(FONT_NAME, path))
    return FONT_NAME


def _page_words(page: PageResult) -> list[tuple[str, Box, int]]:
    """(restored text, box, line) per visible word: a token merged into its predecessor widens that
    word's box; without aligned restoration the OCR words are used as they are."""
    tokens = page.tokens if page.tokens is not None and len(page.tokens) == len(page.words) else None
    placed: list[tuple[str, Box, int]] = []
    for position, word in enumerate(page.words):
        text = tokens[position].restored if tokens is not None else word.text
        if not text.strip():
            if placed and tokens is not None:
                previous_text, (x, y, w, h), line = placed[-1]
                bx, by, bw, bh = word.box
                left, top = min(x, bx), min(y, by)
                right, bottom = max(x + w, bx + bw), max(y + h, by + bh)
                placed[-1] = (previous_text, (left, top, right - left, bottom - top), line)
            continue
        placed.append((text, word.box, word.line))
    return placed


def _encode_image(image: np.ndarray) -> bytes:
    if image.ndim == 3:
        picture = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))  # BGR → RGB
    else:
        picture = Image.fromarray(image)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def quarter_turns(to_original: Sequence[float]) -> int:
    """Counter-clockwise quarter turns that make the original page upright, read from the affine map of
    preprocessed (upright) pixels to original pixels; small deskew angles round away."""
    a, _, _, d, _, _ = to_original
    return round(math.atan2(d, a) / (math.pi / 2)) % 4


def _turn_box(box: Box, turns: int, width: int, height: int) -> Box:
    """`box` on the original page → the same box on the page turned like np.rot90(image, turns)."""
    x, y, w, h = box
    corners = [(x, y), (x + w, y + h)]
    for _ in range(turns):
        corners = [(cy, width - cx) for cx, cy in corners]
        width, height = height, width
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def page_pdf(image: np.ndarray, dpi: float, page: PageResult, turns: int = 0) -> bytes:
    """A one-page PDF: `image` (the original page, gray or BGR) filling the page at `dpi`, turned upright by
    `turns` counter-clockwise quarter turns, and the page's final words as invisible text (render mode 3)
    over their boxes, one text line per OCR line."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font = _font()
    original_height, original_width = image.shape[:2]
    if turns % 4:
        image = np.rot90(image, turns % 4)
    height_px, width_px = image.shape[:2]
    scale = 72.0 / (dpi or 300.0)
    page_width, page_height = width_px * scale, height_px * scale
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(page_width, page_height), pageCompression=1)
    pdf.drawImage(ImageReader(io.BytesIO(_encode_image(image))), 0, 0, page_width, page_height)

    words = [(text, _turn_box(box, turns % 4, original_width, original_height), line)
             for text, box, line in _page_words(page)]
    if words:
        lines: dict[int, list[tuple[str, Box, int]]] = {}
        for entry in words:
            lines.setdefault(entry[2], []).append(entry)
        for line_words in lines.values():
            _draw_line(pdf, line_words, font, scale, page_height, stringWidth)
    elif page.text.strip():
        _draw_unplaced_text(pdf, page.text, font, page_height)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _draw_line(pdf: Any, line_words: Sequence[tuple[str, Box, int]], font: str, scale: float,
               page_height: float, string_width: Callable[[str, str, float], float]) -> None:
    """One invisible text object per line: each word stretched over its box, and a space stretched over
    the gap to the next word, so that extraction and viewer search see separated words on one line."""
    ordered = sorted(line_words, key=lambda entry: entry[1][0])
    bottom = max(y + h for _, (x, y, w, h), _ in ordered)
    height = max(h for _, (x, y, w, h), _ in ordered)
    size = max(1.0, height * scale * 0.9)
    baseline = page_height - bottom * scale + size * 0.15
    space_width = string_width(" ", font, size) or 1.0
    text = pdf.beginText()
    text.setTextRenderMode(3)
    text.setFont(font, size)
    for position, (word, (x, _y, w, _h), _) in enumerate(ordered):
        width = max(w * scale, 0.5)
        text.setTextOrigin(x * scale, baseline)
        text.setHorizScale(100.0 * width / (string_width(word, font, size) or 1.0))
        text.textOut(word)
        if position + 1 < len(ordered):
            gap = max(ordered[position + 1][1][0] * scale - (x * scale + width), 0.5)
            text.setHorizScale(100.0 * gap / space_width)
            text.textOut(" ")
    pdf.drawText(text)


def _draw_unplaced_text(pdf: Any, page_text: str, font: str, page_height: float) -> None:
    text = pdf.beginText()
    text.setTextRenderMode(3)
    text.setFont(font, FALLBACK_FONT_SIZE)
    text.setTextOrigin(36, page_height - 36)
    for line in page_text.splitlines():
        text.textLine(line)
    pdf.drawText(text)


def merge_pdfs(parts: Sequence[Path]) -> bytes:
    """Concatenate one-page PDFs into one document."""
    import pikepdf

    merged = pikepdf.Pdf.new()
    sources = [pikepdf.open(part) for part in parts]
    try:
        for source in sources:
            merged.pages.extend(source.pages)
        buffer = io.BytesIO()
        merged.save(buffer, compress_streams=True)
        return buffer.getvalue()
    finally:
        for source in sources:
            source.close()


def searchable_pdf_path(out_dir: Path, name: str, source: Path) -> Path:
    """DIR/<stem>.pdf, unless that is the input itself (output folder = input folder)."""
    target = out_dir / f"{name}.pdf"
    if target.resolve() == Path(source).resolve():
        target = out_dir / fit_name(name, ".searchable.pdf")
    return target
