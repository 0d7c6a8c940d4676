"""Opening input documents (PDF, TIFF, PNG, JPEG, text): page count, hashing, one page at a time at its real DPI."""

from __future__ import annotations

import codecs
import hashlib
import math
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.errors import (
    CongvanError,
    CorruptFileError,
    EmptyFileError,
    EncryptedError,
    InputError,
    TooLargeError,
    UnsupportedFormatError,
)
from pipeline.types import DocumentInfo, DocumentKind, PageImage

if TYPE_CHECKING:
    import pypdfium2 as pdfium

# Refuse pages above this many pixels (a decompression bomb, or a poster scanned at 1200 dpi): an A3 page
# at 600 dpi is 70 Mpx. PDF pages are rendered at a lower resolution instead when they would exceed it.
MAX_PAGE_PIXELS = 100_000_000
PDF_RENDER_DPI = 300.0
MIN_RENDER_DPI = 50.0  # below this a PDF page is too large to render usefully
# A scanned page stored as one image covering at least this share of the page is rendered at its own DPI.
SCAN_COVERAGE = 0.8
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
INPUT_SUFFIXES = PDF_SUFFIXES | IMAGE_SUFFIXES | TEXT_SUFFIXES
_TEXT_SNIFF_BYTES = 65536


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
    elif kind is DocumentKind.TEXT:
        read_text_file(path)  # reject undecodable or binary content now rather than mid-batch
        page_count = 1
    else:
        with _open_image(path) as image:
            page_count = getattr(image, "n_frames", 1) if kind is DocumentKind.TIFF else 1
            for frame in range(page_count) if kind is DocumentKind.TIFF else (0,):
                _seek_frame(image, frame, path)
                _check_pixels(image.size, path, frame)
    return DocumentInfo(path=str(path), kind=kind, page_count=page_count, sha256=_sha256(path))


def load_page(path: Path, index: int) -> PageImage:
    """Decode page `index` (0-based) of a PDF/TIFF/image at its real resolution: uint8 gray or BGR."""
    path = Path(path)
    kind = _sniff_kind(path, _read_head(path))
    if kind is DocumentKind.TEXT:
        raise UnsupportedFormatError("a text file has no page images", path)
    if kind is DocumentKind.PDF:
        return _load_pdf_page(path, index)
    return _load_image_page(path, index)


def read_text_file(path: Path) -> str:
    """Decode a text input (UTF-8 with or without BOM, UTF-16/32 with BOM, else cp1258 or latin-1): NFC,
    newlines normalised to \\n (form feeds kept as page breaks)."""
    path = Path(path)
    raw = _read_all(path)
    text = _decode_text(raw, path)
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
    """The kind of a file, decided by magic bytes; the file name only breaks ties for text."""
    if b"%PDF-" in head[:1024]:
        return DocumentKind.PDF
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return DocumentKind.TIFF
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return DocumentKind.IMAGE
    suffix = path.suffix.lower()
    if suffix not in PDF_SUFFIXES | IMAGE_SUFFIXES and _looks_like_text(head, suffix):
        return DocumentKind.TEXT
    if suffix not in PDF_SUFFIXES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    image_format = image.format
            return DocumentKind.TIFF if image_format == "TIFF" else DocumentKind.IMAGE
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            pass
    if suffix in PDF_SUFFIXES | IMAGE_SUFFIXES:
        raise UnsupportedFormatError(f"content is not a PDF or an image despite the {suffix} name", path)
    raise UnsupportedFormatError("not a PDF, image or text file", path)


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- raster images (PNG, JPEG, TIFF…)


@contextmanager
def _open_image(path: Path) -> Iterator[Image.Image]:
    """Pillow image with decompression bombs and undecodable headers turned into congvan errors."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 Mpx on; our own MAX_PAGE_PIXELS check decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError:
        raise TooLargeError("image pixel count is absurd (decompression bomb?)", path) from None
    except (UnidentifiedImageError, SyntaxError, ValueError, OSError) as error:
        raise CorruptFileError(f"unreadable image: {_reason(error)}", path) from None
    try:
        yield image
    finally:
        image.close()


def _seek_frame(image: Image.Image, frame: int, path: Path) -> None:
    try:
        image.seek(frame)
    except EOFError:
        raise InputError(f"page {frame + 1} does not exist", path) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise CorruptFileError(f"page {frame + 1} is unreadable: {_reason(error)}", path) from None


def _check_pixels(size: tuple[int, int], path: Path, index: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise CorruptFileError(f"page {index + 1} has no pixels", path)
    if width * height > MAX_PAGE_PIXELS:
        raise TooLargeError(
            f"page {index + 1} is {width}×{height} pixels, above the {MAX_PAGE_PIXELS // 1_000_000} Mpx "
            "limit (decompression bomb?)", path)


def _load_image_page(path: Path, index: int) -> PageImage:
    with _open_image(path) as image:
        frames = getattr(image, "n_frames", 1)
        if not 0 <= index < frames:
            raise InputError(f"page {index + 1} does not exist (the file has {frames})", path)
        _seek_frame(image, index, path)
        _check_pixels(image.size, path, index)
        declared = _declared_dpi(image)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image.load()
                upright = ImageOps.exif_transpose(image) if "exif" in image.info else image
                pixels = _to_array(upright)
        except (OSError, SyntaxError, ValueError) as error:
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
            dpi = max(x_dpi, y_dpi)
            size = (round(width * dpi / x_dpi), round(height * dpi / y_dpi))
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
        values = np.asarray(image, dtype=np.float64)
        peak = values.max(initial=0.0)
        scale = 255.0 / 65535.0 if peak > 255 else 1.0
        return np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    if "A" in mode or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if _is_gray(rgb):
        return rgb[:, :, 1].copy()
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _is_gray(rgb: np.ndarray) -> bool:
    """True when the colour channels agree everywhere (within JPEG rounding)."""
    red, green, blue = (rgb[:, :, channel].astype(np.int16) for channel in range(3))
    return bool(np.abs(red - green).max(initial=0) <= 3 and np.abs(blue - green).max(initial=0) <= 3)


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
        if not 0 <= index < len(pdf):
            raise InputError(f"page {index + 1} does not exist (the PDF has {len(pdf)})", path)
        try:
            page = pdf[index]
            width_pt, height_pt = page.get_size()
            if width_pt <= 0 or height_pt <= 0:
                raise CorruptFileError(f"page {index + 1} has no area", path)
            dpi = _pdf_render_dpi(page, width_pt, height_pt)
            pixels_per_point = dpi / 72.0
            if width_pt * height_pt * pixels_per_point**2 > MAX_PAGE_PIXELS:
                dpi = math.floor(72.0 * math.sqrt(MAX_PAGE_PIXELS / (width_pt * height_pt)))
                if dpi < MIN_RENDER_DPI:
                    raise TooLargeError(
                        f"page {index + 1} is {width_pt / 72:.0f}×{height_pt / 72:.0f} inches, too large "
                        "to render", path)
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


def _pdf_render_dpi(page: object, width_pt: float, height_pt: float) -> float:
    """300 dpi, or the scan's own DPI when the page is one image below 300 dpi (so that upscaling happens
    once, in preprocessing, and not first by the PDF renderer)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    assert isinstance(page, pdfium.PdfPage)
    images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))
    if len(images) != 1:
        return PDF_RENDER_DPI
    image = images[0]
    assert isinstance(image, pdfium.PdfImage)
    try:
        left, bottom, right, top = image.get_bounds()
        px_width, px_height = image.get_px_size()
        matrix = image.get_matrix()
    except pdfium.PdfiumError:
        return PDF_RENDER_DPI
    if (right - left) * (top - bottom) < SCAN_COVERAGE * width_pt * height_pt:
        return PDF_RENDER_DPI
    shown_width = math.hypot(matrix.a, matrix.b) / 72.0  # inches the image's width is drawn over
    shown_height = math.hypot(matrix.c, matrix.d) / 72.0
    if shown_width <= 0 or shown_height <= 0:
        return PDF_RENDER_DPI
    native = min(px_width / shown_width, px_height / shown_height)
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


def _reason(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
