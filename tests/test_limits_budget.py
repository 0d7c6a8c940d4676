"""The pixel budget (pipeline.limits) holds at every stage that allocates pixels: PDF rendering (huge MediaBox,
huge UserUnit, many pages), image headers (TIFF, PNG), fax resolutions, upscaling, deskew, orientation and OCR."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from pipeline import limits
from pipeline.errors import TooLargeError
from pipeline.ingest import load_page, open_document
from pipeline.limits import MAX_PAGE_PIXELS, check_pixels, fits_budget, scale_within_budget
from pipeline.preprocess import DESKEW_RANGE_DEGREES, deskew_growth, preprocess_page, rescale, rotate_page
from pipeline.types import PageImage, PreparedPage


def _blank_pdf(path: Path, size_pt: tuple[float, float], *, pages: int = 1, user_unit: float | None = None) -> Path:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=size_pt)
        if user_unit is not None:
            pdf.pages[-1].obj.UserUnit = user_unit
    pdf.save(path)
    return path


def _pixels(image: np.ndarray) -> int:
    return int(image.shape[0] * image.shape[1])


def test_limits_budget_hugebox_pdf_renders_within_budget_and_is_not_upscaled(tmp_path):
    # The 541-byte PDF of issue 11: a 200×200-inch page, once rendered at 50 dpi and upscaled ×6 (3.6 Gpx).
    path = _blank_pdf(tmp_path / "hugebox.pdf", (14400, 14400))
    assert path.stat().st_size < 1000
    page = load_page(path, 0)
    assert fits_budget(page.image.shape[1], page.image.shape[0]) and page.dpi == 50.0
    scaled, params = rescale(page.image, page.dpi)
    assert params["pixel_budget"] is True and params["factor"] <= 1.0
    assert _pixels(scaled) * deskew_growth(scaled.shape[1], scaled.shape[0]) <= MAX_PAGE_PIXELS


def test_limits_budget_pdf_beyond_the_smallest_render_is_too_large(tmp_path):
    # PDF viewers cap boxes at 14,400 units, files do not: a MediaBox of 10^6 points is 13,889 inches.
    path = tmp_path / "vast.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(100, 100))
    pdf.pages[0].obj.MediaBox = pikepdf.Array([0, 0, 1_000_000, 1_000_000])
    pdf.save(path)
    with pytest.raises(TooLargeError, match="page budget"):
        load_page(path, 0)


def test_limits_budget_huge_user_unit_stays_within_budget(tmp_path):
    path = _blank_pdf(tmp_path / "userunit.pdf", (612, 792), user_unit=75000.0)
    assert fits_budget(*load_page(path, 0).image.shape[1::-1])


def test_limits_budget_many_huge_pages_each_within_budget(tmp_path):
    path = _blank_pdf(tmp_path / "many.pdf", (14400, 14400), pages=300)
    assert open_document(path).page_count == 300
    last = load_page(path, 299)
    assert fits_budget(last.image.shape[1], last.image.shape[0])


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _tiff_header(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *entry) for entry in entries) + b"\0" * 4
    return b"II*\x00" + struct.pack("<I", 24) + b"\0" * 16 + ifd


@pytest.mark.parametrize("make", [_png_header, _tiff_header], ids=["png", "tiff"])
@pytest.mark.parametrize("size", [(12_000, 9_000), (60_000, 60_000), (1, 200_000_000)], ids=["108Mpx", "3.6Gpx", "thin"])
def test_limits_budget_image_headers_declaring_huge_pages_are_refused_before_decoding(tmp_path, make, size):
    path = tmp_path / f"huge.{make.__name__[1:4]}"
    path.write_bytes(make(*size))
    with pytest.raises(TooLargeError) as caught:
        open_document(path)
    assert str(caught.value).startswith(f"{path}: ")
    with pytest.raises(TooLargeError):
        load_page(path, 0)


def test_limits_budget_fax_resolution_is_squared_within_budget(tmp_path):
    path = tmp_path / "fax.tif"
    Image.new("L", (4000, 3000), 255).save(path, dpi=(1200, 2))  # squaring at 1200 dpi: 4000 × 1.8 M pixels
    page = load_page(path, 0)
    assert fits_budget(page.image.shape[1], page.image.shape[0])
    assert page.image.shape[1] < 4000  # both axes brought to the finest resolution the budget allows


def test_limits_budget_upscaling_and_deskew_respect_a_smaller_budget(monkeypatch):
    monkeypatch.setattr(limits, "MAX_PAGE_PIXELS", 2_000_000)
    page = np.full((2000, 1500), 255, dtype=np.uint8)
    page[400:1600:40, 200:1300] = 0  # text-like lines
    scaled, params = rescale(page, 75.0)  # ×4 would be 48 Mpx
    assert params["pixel_budget"] is True
    assert _pixels(scaled) * deskew_growth(scaled.shape[1], scaled.shape[0]) <= 2_000_000
    rotated, _ = rotate_page(scaled, DESKEW_RANGE_DEGREES)
    assert _pixels(rotated) <= 2_000_000
    with pytest.raises(TooLargeError):
        rotate_page(np.full((1500, 1500), 255, dtype=np.uint8), 10.0)  # a canvas the budget cannot hold


def test_limits_budget_whole_preprocessing_of_a_low_dpi_page(monkeypatch):
    monkeypatch.setattr(limits, "MAX_PAGE_PIXELS", 3_000_000)
    image = np.full((1400, 1000), 255, dtype=np.uint8)
    image[200:1200:30, 100:900] = 0
    prepared = preprocess_page(PageImage(source="low.png", index=0, image=image, dpi=60.0))
    assert _pixels(prepared.image) <= 3_000_000  # ×5 upscaling would be 35 Mpx


def test_limits_budget_ocr_refuses_a_page_beyond_budget(monkeypatch):
    from pipeline import ocr

    monkeypatch.setattr(limits, "MAX_PAGE_PIXELS", 10_000)
    page = PageImage(source="big.png", index=0, image=np.full((200, 200), 255, np.uint8), dpi=300.0)
    prepared = PreparedPage(page=page, image=page.image, dpi=300.0, steps=())
    with pytest.raises(TooLargeError, match="the page to read is 200×200 pixels"):
        ocr.read_words(prepared, languages="vie", timeout=5.0)


def test_limits_budget_helpers():
    assert scale_within_budget(1000, 1000, 2.0) == 2.0
    assert scale_within_budget(20_000, 20_000, 1.0) == pytest.approx(0.5)
    assert scale_within_budget(10_000, 10_000, 1.0, growth=4.0) == pytest.approx(0.5)
    check_pixels(10_000, 10_000, "exactly the budget")
    with pytest.raises(TooLargeError, match="100 Mpx page budget"):
        check_pixels(10_001, 10_000, "one row more")
