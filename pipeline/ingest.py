"""Opening input documents (PDF, TIFF, PNG, JPEG, text): page count, hashing, one page at a time at its real DPI
as a viewer shows it (PDF form widgets and annotations drawn), a PDF page's own text layer with word boxes, and
a PDF's signature dictionaries."""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import os
import re
import sys
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.etree import ElementTree

import cv2
import numpy as np
from PIL import Image, ImageOps

from pipeline.errors import (
    CongvanError,
    CorruptFileError,
    EmptyFileError,
    EncryptedError,
    InputError,
    TooLargeError,
    UnsupportedFormatError,
)
from pipeline.limits import MAX_PAGE_PIXELS, check_pixels, fits_budget, scale_within_budget
from pipeline.types import (
    Box,
    DocumentInfo,
    DocumentKind,
    LayerWord,
    PageImage,
    SignatureField,
    TextLayer,
    centre_inside,
)

if TYPE_CHECKING:
    import pypdfium2 as pdfium

# Image pages above the pixel budget (pipeline.limits: a decompression bomb, or a poster scanned at 1200 dpi)
# are refused; PDF pages are rendered at a lower resolution instead when they would exceed it.
PDF_RENDER_DPI = 300.0
MIN_RENDER_DPI = 50.0  # below this a PDF page is too large to render usefully
# A scanned page stored as one image covering at least this share of the page is rendered at its own DPI.
SCAN_COVERAGE = 0.8
# A text layer's ink is measured on a rendering this fine: a 10-point glyph is 7 pixels tall.
INK_DPI = 50.0
IMAGE_COVER_DPI = 10.0  # raster images' union is measured on a grid this coarse
A4_INCHES = (8.27, 11.69)
# A declared DPI is believed only when it makes the page's long side this many inches long; phone photos
# commonly declare 72 dpi for a 4000-pixel frame (55 inches), which would wrongly skip upscaling.
PLAUSIBLE_LONG_SIDE_INCHES = (3.0, 24.0)
ESTIMATED_DPI_RANGE = (50.0, 1200.0)

# File names of the documents congvan reads. A file named on the command line is identified by its content
# whatever its name; a folder is walked for these names only (a README.md beside the scans is no document).
PDF_SUFFIXES = frozenset({".pdf"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2",
                            ".pbm", ".pgm", ".ppm", ".pnm"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
WORD_SUFFIXES = frozenset({".docx", ".odt"})
INPUT_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES | TEXT_SUFFIXES | WORD_SUFFIXES
_TEXT_SNIFF_BYTES = 65536
_GRAY_CHECK_ROWS = 256
# A Word or OpenDocument file's text part above this many bytes (uncompressed) is refused: a zip bomb.
MAX_DOCUMENT_XML_BYTES = 64 * 1024 * 1024
_WORD_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"


# --------------------------------------------------------------------------- public API


def open_document(path: Path) -> DocumentInfo:
    """Identify `path` by its content (not its name), count its pages and hash it; raise an InputError
    subclass naming the file when it cannot be processed."""
    path = Path(path)
    head = _read_head(path)
    kind = _sniff_kind(path, head)
    if kind is DocumentKind.PDF:
        with _open_pdf(path) as pdf:
            page_count = len(pdf)
        if page_count == 0:
            raise CorruptFileError("PDF has no pages", path)
    elif kind.is_text:
        read_text_file(path)  # reject undecodable or binary content now rather than mid-batch
        page_count = 1
    else:
        with _open_image(path) as image:
            page_count = _frame_count(image, path) if kind is DocumentKind.TIFF else 1
            for frame in range(page_count) if kind is DocumentKind.TIFF else (0,):
                _seek_frame(image, frame, path)
                _check_pixels(image.size, path, frame)
    return DocumentInfo(path=str(path), kind=kind, page_count=page_count, sha256=file_sha256(path))


def load_page(path: Path, index: int) -> PageImage:
    """Decode page `index` (0-based) of a PDF/TIFF/image at its real resolution: uint8 gray or BGR."""
    path = Path(path)
    kind = _sniff_kind(path, _read_head(path))
    if kind.is_text:
        raise UnsupportedFormatError(f"a {kind} file has no page images", path)
    if kind is DocumentKind.PDF:
        return _load_pdf_page(path, index)
    return _load_image_page(path, index)


def read_text_file(path: Path) -> str:
    """The text of a text input (UTF-8 with or without BOM, UTF-16/32 with BOM, else cp1258 or latin-1), or of
    a Word (.docx) or OpenDocument (.odt) file (paragraphs and tables in document order, a table row per line,
    its cells separated by tabs; page breaks become form feeds): NFC, newlines normalised to \\n."""
    path = Path(path)
    raw = _read_all(path)
    kind = _sniff_kind(path, raw[:_TEXT_SNIFF_BYTES])
    if kind in (DocumentKind.DOCX, DocumentKind.ODT):
        text = _word_text(raw, kind, path)
    elif kind is DocumentKind.TEXT:
        text = _decode_text(raw, path)
    else:
        raise UnsupportedFormatError(f"not a text document ({kind})", path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


# --------------------------------------------------------------------------- identification


def _read_head(path: Path) -> bytes:
    try:
        if path.is_dir():
            raise UnsupportedFormatError("is a folder, not a document", path)
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(_TEXT_SNIFF_BYTES)
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except PermissionError:
        raise InputError("permission denied", path) from None
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None
    if size == 0:
        raise EmptyFileError("file is empty (0 bytes)", path)
    return head


def _read_all(path: Path) -> bytes:
    _read_head(path)
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read: {error.strerror or error}", path) from None


def _sniff_kind(path: Path, head: bytes) -> DocumentKind:
    """The kind of a file, decided by its content; the file name only breaks ties for text."""
    if b"%PDF-" in head[:1024]:
        return DocumentKind.PDF
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return DocumentKind.TIFF
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return DocumentKind.IMAGE
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    suffix = path.suffix.lower()
    if suffix not in PDF_SUFFIXES | IMAGE_SUFFIXES and _looks_like_text(head, suffix):
        return DocumentKind.TEXT
    if suffix not in PDF_SUFFIXES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                warnings.simplefilter("ignore", UserWarning)
                with Image.open(path) as image:
                    image_format = image.format
            return DocumentKind.TIFF if image_format == "TIFF" else DocumentKind.IMAGE
        except MemoryError:
            raise
        except Exception:  # not an image Pillow can identify (its parsers raise many kinds)
            pass
    if suffix in PDF_SUFFIXES | IMAGE_SUFFIXES:
        raise UnsupportedFormatError(f"content is not a PDF or an image despite the {suffix} name", path)
    raise UnsupportedFormatError("not a PDF, image or text file", path)


def _zip_kind(path: Path) -> DocumentKind:
    """docx or odt, by the parts the ZIP holds (a .zip, .xlsx or .pptx is none of ours)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return DocumentKind.DOCX
            if "content.xml" in names and "mimetype" in names \
                    and archive.read("mimetype").strip() == b"application/vnd.oasis.opendocument.text":
                return DocumentKind.ODT
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as error:
        if path.suffix.lower() in WORD_SUFFIXES:
            raise CorruptFileError(f"unreadable {path.suffix.lower()[1:]} file: {_reason(error)}", path) from None
        raise UnsupportedFormatError("a ZIP archive, not a document", path) from None
    raise UnsupportedFormatError("a ZIP archive that is not a Word (.docx) or OpenDocument text (.odt) file", path)


def _word_text(raw: bytes, kind: DocumentKind, path: Path) -> str:
    part = "word/document.xml" if kind is DocumentKind.DOCX else "content.xml"
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            info = archive.getinfo(part)
            if info.file_size > MAX_DOCUMENT_XML_BYTES:
                raise TooLargeError(f"{part} unpacks to {info.file_size // 1_000_000} MB (zip bomb?)", path)
            xml = archive.read(part)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, RuntimeError) as error:
        raise CorruptFileError(f"unreadable {kind} file: {_reason(error)}", path) from None
    if b"<!DOCTYPE" in xml[:4096] or b"<!ENTITY" in xml:
        raise CorruptFileError(f"{part} declares a DOCTYPE or entities (refused: entity expansion)", path)
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as error:
        raise CorruptFileError(f"{part} is not well-formed XML: {_reason(error)}", path) from None
    if kind is DocumentKind.DOCX:
        body = root.find(f"{_WORD_NS}body")
        blocks = _docx_blocks(body) if body is not None else []
    else:
        text_body = root.find(f"{_ODF_OFFICE}body/{_ODF_OFFICE}text")
        blocks = _odt_blocks(text_body) if text_body is not None else []
    return re.sub(r"\n*\f\n*", "\f", "\n".join(blocks)).strip("\n")


def _docx_blocks(body: ElementTree.Element) -> list[str]:
    """Paragraphs and tables of a Word body (or table cell), in document order."""
    blocks: list[str] = []
    for element in body:
        if element.tag == f"{_WORD_NS}p":
            blocks.append(_docx_paragraph(element))
        elif element.tag == f"{_WORD_NS}tbl":
            for row in element.iter(f"{_WORD_NS}tr"):
                blocks += _table_row(["\n".join(_docx_blocks(cell)) for cell in row.findall(f"{_WORD_NS}tc")])
        elif element.tag == f"{_WORD_NS}sdt":  # content controls wrap ordinary paragraphs and tables
            content = element.find(f"{_WORD_NS}sdtContent")
            if content is not None:
                blocks += _docx_blocks(content)
    return blocks


def _table_row(cells: list[str]) -> list[str]:
    """A table row as lines: the cells side by side, separated by tabs, line by line (a dispatch's header table
    holds the issuer and the national motto in two cells of several lines each)."""
    columns = [[line.strip() for line in cell.strip().split("\n")] for cell in cells]
    height = max((len(column) for column in columns), default=0)
    lines = ["\t".join(column[i] if i < len(column) else "" for column in columns).rstrip("\t") for i in range(height)]
    return [line for line in lines if line.strip()]


def _docx_paragraph(paragraph: ElementTree.Element) -> str:
    parts: list[str] = []
    for node in paragraph.iter():
        if node.tag == f"{_WORD_NS}t" and node.text:
            parts.append(node.text)
        elif node.tag == f"{_WORD_NS}tab":
            parts.append("\t")
        elif node.tag in (f"{_WORD_NS}br", f"{_WORD_NS}cr"):
            parts.append("\f" if node.get(f"{_WORD_NS}type") == "page" else "\n")
    text = "".join(parts)
    return text.replace("\f", "\n\f\n")


def _odt_blocks(body: ElementTree.Element) -> list[str]:
    blocks: list[str] = []
    for element in body:
        if element.tag in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h"):
            blocks.append(_odt_text(element))
        elif element.tag == f"{_ODF_TEXT}list":
            blocks += [_odt_text(p) for p in element.iter() if p.tag in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h")]
        elif element.tag == f"{_ODF_TABLE}table":
            for row in element.iter(f"{_ODF_TABLE}table-row"):
                blocks += _table_row(["\n".join(_odt_blocks(cell)) for cell in row.findall(f"{_ODF_TABLE}table-cell")])
        elif element.tag == f"{_ODF_TEXT}section":
            blocks += _odt_blocks(element)
    return blocks


def _odt_text(element: ElementTree.Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == f"{_ODF_TEXT}s":
            parts.append(" " * int(child.get(f"{_ODF_TEXT}c", "1")))
        elif child.tag == f"{_ODF_TEXT}tab":
            parts.append("\t")
        elif child.tag == f"{_ODF_TEXT}line-break":
            parts.append("\n")
        else:
            parts.append(_odt_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _looks_like_text(head: bytes, suffix: str) -> bool:
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:  # a multi-byte character cut by the sniffing window
            return True
    # Legacy 8-bit Vietnamese text (cp1258) only when the name says it is text: binary files rarely
    # lack NUL bytes, but "rarely" is not a reason to turn a stray file into a document.
    return suffix in TEXT_SUFFIXES


def _decode_text(raw: bytes, path: Path) -> str:
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise CorruptFileError(f"invalid {codec.upper()} text", path) from None
    if b"\x00" in raw:
        raise UnsupportedFormatError("binary content, not a text file", path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1258")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- raster images (PNG, JPEG, TIFF…)


@contextmanager
def _open_image(path: Path) -> Iterator[Image.Image]:
    """Pillow image with decompression bombs and undecodable headers turned into congvan errors. Pillow's
    warnings about damaged metadata ("Corrupt EXIF data") are not for the user: the page is read anyway, or
    fails with its own error."""
    with warnings.catch_warnings(), _native_stderr_captured():
        # Pillow warns from 89 Mpx on; the pixel budget (pipeline.limits) decides.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:
            raise TooLargeError("image pixel count is absurd (decompression bomb?)", path) from None
        except MemoryError:
            raise
        except Exception as error:  # Pillow's parsers raise many kinds on hostile headers
            raise CorruptFileError(f"unreadable image: {_reason(error)}", path) from None
        try:
            yield image
        finally:
            image.close()


def _frame_count(image: Image.Image, path: Path) -> int:
    """Pages of a multi-page image (TIFF, GIF…); counting walks every frame's header."""
    try:
        return int(getattr(image, "n_frames", 1))
    except MemoryError:
        raise
    except Exception as error:
        raise CorruptFileError(f"a page header is unreadable (truncated file?): {_reason(error)}", path) from None


def _seek_frame(image: Image.Image, frame: int, path: Path) -> None:
    try:
        image.seek(frame)
    except EOFError:
        raise InputError(f"page {frame + 1} does not exist", path) from None
    except MemoryError:
        raise
    except Exception as error:
        raise CorruptFileError(f"page {frame + 1} is unreadable: {_reason(error)}", path) from None


def _check_pixels(size: tuple[int, int], path: Path, index: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptFileError(f"page {index + 1} has no pixels", path)
    check_pixels(width, height, f"page {index + 1}", path)


def _load_image_page(path: Path, index: int) -> PageImage:
    with _open_image(path) as image:
        frames = _frame_count(image, path)
        if not 0 <= index < frames:
            raise InputError(f"page {index + 1} does not exist (the file has {frames})", path)
        _seek_frame(image, index, path)
        _check_pixels(image.size, path, index)
        declared = _declared_dpi(image)
        try:
            image.load()
            upright = ImageOps.exif_transpose(image) if "exif" in image.info else image
            pixels = _to_array(upright)
        except MemoryError:
            raise
        except Exception as error:
            raise CorruptFileError(f"page {index + 1} cannot be decoded: {_reason(error)}", path) from None
    pixels, dpi, estimated = _resolve_dpi(pixels, declared)
    return PageImage(source=str(path), index=index, image=pixels, dpi=dpi, dpi_estimated=estimated)


def _declared_dpi(image: Image.Image) -> tuple[float, float] | None:
    """(x, y) DPI from PNG pHYs, JFIF, EXIF or TIFF tags as Pillow exposes them; None when absent."""
    dpi = image.info.get("dpi")
    if not dpi:
        return None
    try:
        x_dpi, y_dpi = (float(value) for value in dpi)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(x_dpi) and math.isfinite(y_dpi)) or x_dpi <= 1 or y_dpi <= 1:
        return None
    return x_dpi, y_dpi


def _resolve_dpi(pixels: np.ndarray, declared: tuple[float, float] | None) -> tuple[np.ndarray, float, bool]:
    """Square the pixels when x/y DPI differ (fax TIFFs: 204×98), then return (pixels, dpi, estimated)."""
    height, width = pixels.shape[:2]
    if declared is not None:
        x_dpi, y_dpi = declared
        if abs(x_dpi - y_dpi) > 0.05 * max(x_dpi, y_dpi):
            # Square pixels at the finer resolution, or at the finest one the pixel budget allows.
            dpi = max(x_dpi, y_dpi)
            dpi *= scale_within_budget(width * dpi / x_dpi, height * dpi / y_dpi, 1.0)
            size = (round(width * dpi / x_dpi), round(height * dpi / y_dpi))
            if not fits_budget(*size):
                size = (math.floor(width * dpi / x_dpi), math.floor(height * dpi / y_dpi))
            size = (max(1, size[0]), max(1, size[1]))
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC)
            height, width = pixels.shape[:2]
        else:
            dpi = (x_dpi + y_dpi) / 2
        if abs(dpi - round(dpi)) < 0.05:  # PNG stores pixels per metre: 75 dpi comes back as 75.006
            dpi = float(round(dpi))
        low, high = PLAUSIBLE_LONG_SIDE_INCHES
        if low <= max(width, height) / dpi <= high:
            return pixels, dpi, False
    return pixels, estimate_dpi(width, height), True


def estimate_dpi(width: int, height: int) -> float:
    """DPI the image would have if it showed a whole A4 page (the common case for undeclared scans/photos)."""
    dpi = math.sqrt(width * height / (A4_INCHES[0] * A4_INCHES[1]))
    return float(min(max(dpi, ESTIMATED_DPI_RANGE[0]), ESTIMATED_DPI_RANGE[1]))


def _to_array(image: Image.Image) -> np.ndarray:
    """Pillow image of any mode → uint8 gray (H×W) or BGR (H×W×3); transparency composited on white."""
    mode = image.mode
    if mode in ("1", "L"):
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.array(image, dtype=np.float32)  # in place from here: one page-sized temporary
        if values.max(initial=0.0) > 255:
            values *= 255.0 / 65535.0
        values += 0.5
        np.clip(values, 0, 255, out=values)
        return values.astype(np.uint8)
    if "A" in mode or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if _is_gray(rgb):
        return rgb[:, :, 1].copy()
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _is_gray(rgb: np.ndarray) -> bool:
    """True when the colour channels agree everywhere (within JPEG rounding); compared a band of rows at a
    time, so that a page at the pixel budget needs no page-sized temporary arrays."""
    for top in range(0, rgb.shape[0], _GRAY_CHECK_ROWS):
        band = rgb[top:top + _GRAY_CHECK_ROWS]
        green = band[:, :, 1]
        if cv2.absdiff(band[:, :, 2], green).max(initial=0) > 3 or cv2.absdiff(band[:, :, 0], green).max(initial=0) > 3:
            return False
    return True


# --------------------------------------------------------------------------- PDF


@contextmanager
def _open_pdf(path: Path) -> Iterator[pdfium.PdfDocument]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if error.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise EncryptedError("PDF needs a password to open", path) from None
        if error.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise EncryptedError("PDF uses an unsupported encryption scheme", path) from None
        raise CorruptFileError(f"unreadable PDF: {_reason(error)}", path) from None
    try:
        _check_pdf_permissions(pdf, path)
        if pdfium_c.FPDF_GetFormType(pdf) != pdfium_c.FORMTYPE_NONE:
            # A form environment makes pdfium build the appearance of a filled field that has none (as viewers
            # do), so that flattening draws its value; without it such a field is read but never rendered.
            pdf.init_forms()
        yield pdf
    finally:
        pdf.close()


def _check_pdf_permissions(pdf: pdfium.PdfDocument, path: Path) -> None:
    """An owner password is accepted when it lets the document be printed (what OCR amounts to)."""
    import pypdfium2.raw as pdfium_c

    if pdfium_c.FPDF_GetSecurityHandlerRevision(pdf) == -1:
        return
    print_allowed = 1 << 2
    if not pdfium_c.FPDF_GetDocPermissions(pdf) & print_allowed:
        raise EncryptedError("PDF owner password forbids printing", path)


def _load_pdf_page(path: Path, index: int) -> PageImage:
    import pypdfium2 as pdfium

    with _open_pdf(path) as pdf:
        _check_page_index(pdf, index, path)
        try:
            page, _, _ = _flattened_page(pdf, index)
            dpi = _checked_render_dpi(page, index, path)
            bitmap = page.render(scale=dpi / 72.0, fill_color=(255, 255, 255, 255))
            rendered = bitmap.to_numpy()
            pixels = np.ascontiguousarray(rendered[:, :, :3]) if rendered.ndim == 3 else rendered.copy()
            legacy_text = _pdf_text_layer(page)
        except CongvanError:
            raise
        except pdfium.PdfiumError as error:
            raise CorruptFileError(f"page {index + 1} cannot be rendered: {_reason(error)}", path) from None
    if pixels.ndim == 3 and _is_gray(pixels):
        pixels = pixels[:, :, 1].copy()
    return PageImage(source=str(path), index=index, image=pixels, dpi=float(dpi), legacy_text=legacy_text)


def _check_page_index(pdf: pdfium.PdfDocument, index: int, path: Path) -> None:
    if not 0 <= index < len(pdf):
        raise InputError(f"page {index + 1} does not exist (the PDF has {len(pdf)})", path)


def _checked_render_dpi(page: pdfium.PdfPage, index: int, path: Path,
                        images: list[_PlacedImage] | None = None) -> float:
    """The resolution page `index` is rendered at: 300 dpi or a scan's own, lowered to fit the pixel budget."""
    width_pt, height_pt = page.get_size()
    if not (0 < width_pt < math.inf and 0 < height_pt < math.inf):
        raise CorruptFileError(f"page {index + 1} has no area", path)
    dpi = _fit_render_dpi(width_pt, height_pt, _pdf_render_dpi(page, width_pt, height_pt, images))
    if dpi < MIN_RENDER_DPI:
        raise TooLargeError(
            f"page {index + 1} is {width_pt / 72:.0f}×{height_pt / 72:.0f} inches, too large to render within the "
            f"{MAX_PAGE_PIXELS // 1_000_000} Mpx page budget", path)
    return dpi


def _fit_render_dpi(width_pt: float, height_pt: float, dpi: float) -> float:
    """`dpi`, or the highest whole DPI at which the rendered bitmap (sides rounded up) fits the pixel budget."""
    if _render_fits(width_pt, height_pt, dpi):
        return dpi
    fitted = math.floor(72.0 * scale_within_budget(width_pt, height_pt, dpi / 72.0))
    while fitted >= MIN_RENDER_DPI and not _render_fits(width_pt, height_pt, fitted):
        fitted -= 1
    return float(fitted)


def _render_fits(width_pt: float, height_pt: float, dpi: float) -> bool:
    return fits_budget(math.ceil(width_pt * dpi / 72.0), math.ceil(height_pt * dpi / 72.0))


def _flattened_page(pdf: pdfium.PdfDocument, index: int) -> tuple[pdfium.PdfPage, list[_Rect], int | None]:
    """Page `index` with its annotations (form widgets: a number or day filled in at signing, signature
    stamps) flattened into its content as a viewer displays them, so that rendering and text extraction
    both see them. Returns the page, the rectangles (PDF points) of the annotations drawn in, and how many
    text characters the page had before (its own content's); None when nothing was flattened."""
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    rects = _shown_annotation_rects(page)
    if not rects:
        return page, [], None
    textpage = page.get_textpage()
    try:
        content_chars = textpage.count_chars()
    finally:
        textpage.close()
    if pdfium_c.FPDFPage_Flatten(page, pdfium_c.FLAT_NORMALDISPLAY) != pdfium_c.FLATTEN_SUCCESS:
        return page, [], None
    page.close()  # flattening rewrites the page dictionary: load it again to see the result
    return pdf[index], rects, content_chars


_Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points


def _shown_annotation_rects(page: pdfium.PdfPage) -> list[_Rect]:
    """Rectangles of the annotations a viewer shows (not hidden, no popups)."""
    import pypdfium2.raw as pdfium_c

    rects: list[_Rect] = []
    hidden = pdfium_c.FPDF_ANNOT_FLAG_HIDDEN | pdfium_c.FPDF_ANNOT_FLAG_NOVIEW
    for number in range(pdfium_c.FPDFPage_GetAnnotCount(page)):
        annotation = pdfium_c.FPDFPage_GetAnnot(page, number)
        if not annotation:
            continue
        try:
            if pdfium_c.FPDFAnnot_GetFlags(annotation) & hidden:
                continue
            if pdfium_c.FPDFAnnot_GetSubtype(annotation) == pdfium_c.FPDF_ANNOT_POPUP:
                continue
            rect = pdfium_c.FS_RECTF()
            if pdfium_c.FPDFAnnot_GetRect(annotation, rect):
                rects.append((min(rect.left, rect.right), min(rect.bottom, rect.top),
                              max(rect.left, rect.right), max(rect.bottom, rect.top)))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annotation)
    return rects


def read_text_layer(path: Path, index: int) -> TextLayer | None:
    """The own text of page `index` of a PDF as a viewer shows the page: the words of its content and of
    its widgets and annotations (flattened in), each with its box in the pixels of the page as `load_page`
    renders it, whether it is drawn visibly, and which annotation draws it; plus the annotations' boxes, the
    share of the page under raster images and a small rendering for measuring ink. None for a page of
    another kind of file (images and text files carry no text layer)."""
    import pypdfium2 as pdfium

    path = Path(path)
    if _sniff_kind(path, _read_head(path)) is not DocumentKind.PDF:
        return None
    with _open_pdf(path) as pdf:
        _check_page_index(pdf, index, path)
        try:
            page, rects, content_chars = _flattened_page(pdf, index)
            images = _page_images(page)
            dpi = _checked_render_dpi(page, index, path, images)
            width_pt, height_pt = page.get_size()
            width, height = math.ceil(width_pt * dpi / 72.0), math.ceil(height_pt * dpi / 72.0)
            to_pixels = _page_to_pixels(page, width, height)
            annotations = tuple(_rects_to_boxes(rects, to_pixels, width, height))
            words = _layer_words(page, to_pixels, width, height, annotations, content_chars)
            # the ink is measured only against a text layer: a page without one is OCR'd anyway
            ink = _render_gray(page, INK_DPI) if words else np.zeros((0, 0), dtype=np.uint8)
            image_cover = _image_cover(images, to_pixels, width, height)
        except CongvanError:
            raise
        except pdfium.PdfiumError as error:
            raise CorruptFileError(f"page {index + 1}: unreadable text layer: {_reason(error)}", path) from None
    return TextLayer(source=str(path), index=index, width=width, height=height, dpi=float(dpi), words=words,
                     annotations=annotations, image_cover=image_cover, ink=ink, ink_dpi=INK_DPI)


def _render_gray(page: pdfium.PdfPage, dpi: float) -> np.ndarray:
    rendered: np.ndarray = page.render(scale=dpi / 72.0, grayscale=True, fill_color=(255, 255, 255, 255)).to_numpy()
    return rendered[:, :, 0].copy() if rendered.ndim == 3 else rendered.copy()


def _page_to_pixels(page: pdfium.PdfPage, width: int, height: int) -> np.ndarray:
    """2×3 affine map from page space (PDF points, the page's /Rotate and crop box included) to the pixels
    of its rendering at width × height, as the renderer places them."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    span = 10_000.0  # far-apart points keep the renderer's integer rounding negligible
    points = ((0.0, 0.0), (span, 0.0), (0.0, span))
    mapped = []
    for x, y in points:
        device_x, device_y = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page, 0, 0, width * 100, height * 100, 0, x, y, device_x, device_y)
        mapped.append((device_x.value / 100.0, device_y.value / 100.0))
    (ox, oy), (ax, ay), (bx, by) = mapped
    return np.array([[(ax - ox) / span, (bx - ox) / span, ox], [(ay - oy) / span, (by - oy) / span, oy]])


def _rects_to_boxes(rects: list[_Rect], to_pixels: np.ndarray, width: int, height: int) -> list[Box]:
    """Page-space rectangles as pixel boxes (x, y, w, h) of the rendered page, clipped to it."""
    if not rects:
        return []
    array = np.asarray(rects, dtype=np.float64)
    xs = array[:, [0, 2, 0, 2]]
    ys = array[:, [1, 1, 3, 3]]
    (a, b, c), (d, e, f) = to_pixels
    px, py = a * xs + b * ys + c, d * xs + e * ys + f
    left = np.clip(np.floor(px.min(axis=1)), 0, width).astype(int)
    top = np.clip(np.floor(py.min(axis=1)), 0, height).astype(int)
    right = np.clip(np.ceil(px.max(axis=1)), 0, width).astype(int)
    bottom = np.clip(np.ceil(py.max(axis=1)), 0, height).astype(int)
    return [(int(x0), int(y0), int(x1 - x0), int(y1 - y0)) for x0, y0, x1, y1 in zip(left, top, right, bottom,
                                                                                      strict=True)]


# pdfium marks a hyphen that ends a line with U+FFFE and runs the next line's word on ("6138/UBND\ufffeKGVX"):
# the hyphen ends the word on its own line, as printed.
_LINE_END_HYPHEN = "\ufffe"
_WORD_RUN = re.compile(r"[^\s\ufffe]+\ufffe?|\ufffe")
_INVISIBLE_MODES = frozenset({3, 7})  # text render modes that paint nothing (7 only clips)


def _layer_words(page: pdfium.PdfPage, to_pixels: np.ndarray, width: int, height: int,
                 annotations: tuple[Box, ...], content_chars: int | None) -> tuple[LayerWord, ...]:
    import ctypes

    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count <= 0:
            return ()
        text = textpage.get_text_range(0, count)
        left, top, right, bottom = (ctypes.c_double() for _ in range(4))
        origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
        matrix = pdfium_c.FS_MATRIX()
        # per text object (many words share one): visible, font size, direction of its x axis (page space)
        objects: dict[int | None, tuple[bool, float, float, float]] = {}
        found: list[tuple[str, _Rect, bool, bool]] = []
        placement: list[tuple[float, float, float, float, float]] = []  # origin, x-axis direction, font size
        for run in _WORD_RUN.finditer(text):
            start, length = run.start(), run.end() - run.start()
            x0 = y0 = math.inf
            x1 = y1 = -math.inf
            for number in range(pdfium_c.FPDFText_CountRects(textpage, start, length)):
                if pdfium_c.FPDFText_GetRect(textpage, number, left, top, right, bottom):
                    x0, x1 = min(x0, left.value, right.value), max(x1, left.value, right.value)
                    y0, y1 = min(y0, top.value, bottom.value), max(y1, top.value, bottom.value)
            if x0 > x1:
                continue
            text_object = pdfium_c.FPDFText_GetTextObject(textpage, start)
            key = ctypes.cast(text_object, ctypes.c_void_p).value if text_object else None
            properties = objects.get(key)
            if properties is None:
                visible = not text_object or pdfium_c.FPDFTextObj_GetTextRenderMode(text_object) not in _INVISIBLE_MODES
                direction = (1.0, 0.0)
                if text_object and pdfium_c.FPDFPageObj_GetMatrix(text_object, matrix):
                    direction = (matrix.a, matrix.b)
                properties = (visible, pdfium_c.FPDFText_GetFontSize(textpage, start), *direction)
                objects[key] = properties
            visible, size, along_x, along_y = properties
            drawn_by_annotation = content_chars is not None and start >= content_chars
            found.append((run.group().replace(_LINE_END_HYPHEN, "-"), (x0, y0, x1, y1), visible, drawn_by_annotation))
            pdfium_c.FPDFText_GetCharOrigin(textpage, start, origin_x, origin_y)
            placement.append((origin_x.value, origin_y.value, along_x, along_y, size))
    finally:
        textpage.close()
    boxes = _rects_to_boxes([rect for _, rect, _, _ in found], to_pixels, width, height)
    points = np.asarray(placement, dtype=np.float64).reshape(-1, 5)
    (a, b, _), (d, e, f) = to_pixels
    baselines = d * points[:, 0] + e * points[:, 1] + f
    along_x, along_y = a * points[:, 2] + b * points[:, 3], d * points[:, 2] + e * points[:, 3]
    sizes = points[:, 4] * math.hypot(a, d)
    upright = (along_x > 0) & (np.abs(along_y) <= 0.5 * along_x)  # text running left to right on the page
    return tuple(
        LayerWord(text=unicodedata.normalize("NFC", word), box=box, visible=visible,
                  annotation=_containing_box(box, annotations) if by_annotation else None,
                  baseline=round(float(baselines[number]), 1), size=round(float(sizes[number]), 1),
                  upright=bool(upright[number]))
        for number, ((word, _, visible, by_annotation), box) in enumerate(zip(found, boxes, strict=True)))


def _containing_box(box: Box, boxes: tuple[Box, ...]) -> int | None:
    """Index of the box holding `box`'s centre (the smallest, when they nest), or None."""
    holding = [(other[2] * other[3], number) for number, other in enumerate(boxes) if centre_inside(box, other)]
    return min(holding)[1] if holding else None


@dataclass(frozen=True)
class _PlacedImage:
    handle: Any  # FPDF_PAGEOBJECT
    rect: _Rect  # bounds in page space


def _page_images(page: pdfium.PdfPage) -> list[_PlacedImage]:
    """The page's raster images, those inside form XObjects included (a flattened stamp's logo)."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    images: list[_PlacedImage] = []
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))

    def visit(count: int, get: Any, depth: int) -> None:
        for number in range(count):
            handle = get(number)
            kind = pdfium_c.FPDFPageObj_GetType(handle)
            if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                if pdfium_c.FPDFPageObj_GetBounds(handle, left, bottom, right, top):
                    images.append(_PlacedImage(handle, (left.value, bottom.value, right.value, top.value)))
            elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < 3:
                visit(pdfium_c.FPDFFormObj_CountObjects(handle),
                      lambda n, form=handle: pdfium_c.FPDFFormObj_GetObject(form, n), depth + 1)

    visit(pdfium_c.FPDFPage_CountObjects(page), lambda n: pdfium_c.FPDFPage_GetObject(page, n), 1)
    return images


def _image_cover(images: list[_PlacedImage], to_pixels: np.ndarray, width: int, height: int) -> float:
    """Share of the page under raster images (their union, on a coarse grid)."""
    scale = IMAGE_COVER_DPI / 72.0 / max(1e-9, math.hypot(to_pixels[0, 0], to_pixels[1, 0]))
    grid = np.zeros((max(1, math.ceil(height * scale)), max(1, math.ceil(width * scale))), dtype=bool)
    for left, top, box_width, box_height in _rects_to_boxes([image.rect for image in images], to_pixels, width,
                                                            height):
        grid[math.floor(top * scale): math.ceil((top + box_height) * scale),
             math.floor(left * scale): math.ceil((left + box_width) * scale)] = True
    return round(float(grid.mean()), 4)


def _pdf_render_dpi(page: pdfium.PdfPage, width_pt: float, height_pt: float,
                    images: list[_PlacedImage] | None = None) -> float:
    """300 dpi, or the scan's own DPI when one image covering the page is below 300 dpi (so that upscaling
    happens once, in preprocessing, and not first by the PDF renderer). Small images beside it (a signature
    stamp's logo) do not count."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    scans = [image for image in (_page_images(page) if images is None else images)
             if (image.rect[2] - image.rect[0]) * (image.rect[3] - image.rect[1]) >= SCAN_COVERAGE * width_pt * height_pt]
    if len(scans) != 1:
        return PDF_RENDER_DPI
    handle = scans[0].handle
    px_width, px_height = ctypes.c_uint(), ctypes.c_uint()
    matrix = pdfium_c.FS_MATRIX()
    if not (pdfium_c.FPDFImageObj_GetImagePixelSize(handle, px_width, px_height)
            and pdfium_c.FPDFPageObj_GetMatrix(handle, matrix)):
        return PDF_RENDER_DPI
    shown_width = math.hypot(matrix.a, matrix.b) / 72.0  # inches the image's width is drawn over
    shown_height = math.hypot(matrix.c, matrix.d) / 72.0
    if shown_width <= 0 or shown_height <= 0:
        return PDF_RENDER_DPI
    native = min(px_width.value / shown_width, px_height.value / shown_height)
    if native >= PDF_RENDER_DPI:
        return PDF_RENDER_DPI
    return float(max(round(native), MIN_RENDER_DPI))


def _pdf_text_layer(page: object) -> str | None:
    import pypdfium2 as pdfium

    assert isinstance(page, pdfium.PdfPage)
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_bounded()
    finally:
        textpage.close()
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return text or None


def read_signatures(path: Path) -> list[SignatureField]:
    """The signature dictionaries of a PDF's /Sig form fields, in the form's field order (the order they
    were signed in), with the page and rectangle of each one's widget; [] for other files, for a PDF
    without signatures, and for one whose form cannot be read (signatures never fail a document)."""
    import pikepdf

    path = Path(path)
    if _sniff_kind(path, _read_head(path)) is not DocumentKind.PDF:
        return []
    try:
        with pikepdf.open(path) as pdf:
            form = pdf.Root.get("/AcroForm")
            if not isinstance(form, pikepdf.Dictionary):
                return []
            pages = {}
            for number, page in enumerate(pdf.pages):
                for annotation in page.obj.get("/Annots", []) or []:
                    if isinstance(annotation, pikepdf.Dictionary) and annotation.is_indirect:
                        pages[annotation.objgen] = number
            found: list[SignatureField] = []
            for field in form.get("/Fields", []) or []:
                _collect_signatures(field, None, pages, found, depth=0)
            return found
    except (pikepdf.PdfError, pikepdf.PasswordError, OSError, ValueError, TypeError, AttributeError):
        return []


_MAX_FIELD_DEPTH = 16  # form field trees are shallow; a deeper one is a loop or hostile


def _collect_signatures(field: object, inherited_type: object, pages: dict[tuple[int, int], int],
                        found: list[SignatureField], depth: int) -> None:
    import pikepdf

    if not isinstance(field, pikepdf.Dictionary) or depth > _MAX_FIELD_DEPTH:
        return
    field_type = field.get("/FT", inherited_type)
    kids = field.get("/Kids")
    if isinstance(kids, pikepdf.Array):
        for kid in kids:
            _collect_signatures(kid, field_type, pages, found, depth + 1)
    value = field.get("/V")
    if field_type != pikepdf.Name.Sig or not isinstance(value, pikepdf.Dictionary):
        return
    widget = field if "/Rect" in field else next(
        (kid for kid in (kids or []) if isinstance(kid, pikepdf.Dictionary) and "/Rect" in kid), None)
    page = pages.get(widget.objgen) if widget is not None and widget.is_indirect else None
    rect = None
    if widget is not None:
        try:
            x0, y0, x1, y1 = (float(number) for number in widget["/Rect"])
            rect = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        except (TypeError, ValueError):
            rect = None

    def text(key: str, owner: pikepdf.Dictionary = value) -> str | None:
        item = owner.get(key)
        if isinstance(item, pikepdf.String | pikepdf.Name):
            return unicodedata.normalize("NFC", str(item))
        return None

    contents = value.get("/Contents")
    found.append(SignatureField(
        field_name=text("/T", field), page=page, rect=rect, name=text("/Name"), time=text("/M"), reason=text("/Reason"),
        location=text("/Location"), contact=text("/ContactInfo"), sub_filter=text("/SubFilter"),
        contents=bytes(contents) if isinstance(contents, pikepdf.String) else b""))


def _reason(error: BaseException) -> str:
    """The one-line reason of a decoding failure, with what the native decoder printed about it."""
    reason = " ".join(str(error).split()) or type(error).__name__
    native = _native_messages()
    return f"{reason} ({native})" if native and native not in reason else reason


# --------------------------------------------------------------------------- native decoders' own messages

_native_capture: IO[bytes] | None = None


@contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Capture what native decoders (libtiff: "ZIPDecode: Decoding error at scanline 0 …") print straight to the
    process's stderr while a file is read: such lines are not congvan's one-line messages; a failure's reason
    includes them (_reason). The capture is of the process's file descriptor 2, so it is process-wide: with
    Dask's threaded workers a line can land in another page's capture, never on the user's terminal."""
    global _native_capture
    if _native_capture is not None:
        yield  # nested: the outer capture holds
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        os.dup2(capture.fileno(), 2)
        _native_capture = capture
        try:
            yield
        finally:
            _native_capture = None
            os.dup2(saved, 2)
            os.close(saved)


def _native_messages() -> str:
    if _native_capture is None:
        return ""
    text = os.pread(_native_capture.fileno(), 2000, 0).decode("utf-8", "replace")
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())
