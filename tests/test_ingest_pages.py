"""Pages come out of PDFs, TIFFs, PNGs and JPEGs at their real resolution, one at a time."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from scan_images import save_png, text_page

from pipeline.ingest import IMAGE_SUFFIXES, estimate_dpi, load_page, open_document
from pipeline.run import collect_inputs


def _scan_pdf(path: Path, image: np.ndarray, *, dpi: float, text_layer: str | None = None,
              owner_password: str | None = None) -> Path:
    """An image-only PDF page sized so that `image` shows at `dpi`, with an optional invisible text layer."""
    height, width = image.shape[:2]
    size = (width * 72 / dpi, height * 72 / dpi)
    plain = path.with_suffix(".plain.pdf")
    pdf = canvas.Canvas(str(plain), pagesize=size)
    pdf.drawImage(ImageReader(Image.fromarray(image)), 0, 0, *size)
    if text_layer is not None:
        text = pdf.beginText()
        text.setTextRenderMode(3)  # invisible, as OCR layers are
        text.setTextOrigin(20, size[1] - 40)
        text.textLine(text_layer)
        pdf.drawText(text)
    pdf.showPage()
    pdf.save()
    if owner_password is None:
        plain.rename(path)
        return path
    with pikepdf.open(plain) as document:
        document.save(path, encryption=pikepdf.Encryption(user="", owner=owner_password,
                                                          allow=pikepdf.Permissions()))
    return path


@pytest.mark.parametrize("dpi", [75, 150, 300])
def test_ingest_png_dpi_is_read(tmp_path: Path, dpi: int) -> None:
    path = save_png(text_page(dpi=dpi), tmp_path / "page.png", dpi)
    page = load_page(path, 0)
    assert page.dpi == dpi
    assert not page.dpi_estimated
    assert page.image.dtype == np.uint8 and page.image.ndim == 2


def test_ingest_jpeg_jfif_and_exif_dpi_are_read(tmp_path: Path) -> None:
    image = Image.fromarray(text_page(dpi=200))
    jfif = tmp_path / "jfif.jpg"
    image.save(jfif, "JPEG", dpi=(200, 200))
    assert load_page(jfif, 0).dpi == 200
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128] = 200.0, 200.0, 2  # XResolution, YResolution, inches
    exif_only = tmp_path / "exif.jpg"
    image.save(exif_only, "JPEG", exif=exif.tobytes())  # JFIF density then says "aspect ratio only"
    assert "dpi" not in Image.open(exif_only).info or Image.open(exif_only).info.get("jfif_unit") == 0
    page = load_page(exif_only, 0)
    assert page.dpi == pytest.approx(200, abs=0.5)


def test_ingest_missing_dpi_is_estimated_from_a4(tmp_path: Path) -> None:
    a4_at_100 = np.full((1169, 827), 255, np.uint8)
    a4_at_100[500:520, 100:700] = 0
    path = save_png(a4_at_100, tmp_path / "nodpi.png", None)
    page = load_page(path, 0)
    assert page.dpi_estimated
    assert page.dpi == pytest.approx(100, abs=1)
    assert estimate_dpi(2480, 3508) == pytest.approx(300, abs=1)


def test_ingest_implausible_declared_dpi_is_replaced(tmp_path: Path) -> None:
    """Phone photos declare 72 dpi for a 3000×4000 frame: a 55-inch page. Believe the page, not the tag."""
    photo = np.full((4000, 3000), 250, np.uint8)
    path = save_png(photo, tmp_path / "photo.png", 72)
    page = load_page(path, 0)
    assert page.dpi_estimated
    assert 300 < page.dpi < 420


def test_ingest_multipage_tiff_pages_and_dpi(tmp_path: Path) -> None:
    coloured = text_page(dpi=100, color=True)[:, :, ::-1].copy()
    coloured[10:20, 10:200] = (220, 30, 40)  # a red mark: the page must stay colour for ink suppression
    frames = [Image.fromarray(text_page(dpi=100)), Image.fromarray(coloured),
              Image.fromarray(text_page(dpi=100)).convert("1")]
    path = tmp_path / "fax.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(100, 100), compression="tiff_lzw")
    info = open_document(path)
    assert (info.kind, info.page_count) == ("tiff", 3)
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    pages = [load_page(path, index) for index in range(3)]
    assert [page.index for page in pages] == [0, 1, 2]
    assert all(page.dpi == 100 for page in pages)
    assert pages[0].image.ndim == 2  # black on white: gray, whatever the stored mode
    assert pages[1].image.ndim == 3 and tuple(pages[1].image[15, 100]) == (40, 30, 220)  # BGR
    assert pages[2].image.ndim == 2 and set(np.unique(pages[2].image)) <= {0, 255}


def test_ingest_anisotropic_fax_dpi_is_squared(tmp_path: Path) -> None:
    image = Image.fromarray(np.full((500, 1000), 255, np.uint8))
    path = tmp_path / "fax.tif"
    image.save(path, dpi=(200, 100))
    page = load_page(path, 0)
    assert page.dpi == 200
    assert page.image.shape == (1000, 1000)


def test_ingest_transparent_png_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((300, 300, 4), np.uint8)
    rgba[100:120, 50:250] = (0, 0, 0, 255)
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path, dpi=(100, 100))
    page = load_page(path, 0)
    assert page.image[10, 10] == 255 and page.image[110, 100] == 0


def test_ingest_owner_password_pdf_opens_and_keeps_text_layer(tmp_path: Path) -> None:
    scan = text_page(dpi=150)
    path = _scan_pdf(tmp_path / "owner.pdf", scan, dpi=150, text_layer="Cong van so 12 garbled layer",
                     owner_password="owner-secret")
    info = open_document(path)
    assert (info.kind, info.page_count) == ("pdf", 1)
    page = load_page(path, 0)
    assert page.legacy_text == "Cong van so 12 garbled layer"


def test_ingest_scanned_pdf_page_renders_at_its_own_dpi(tmp_path: Path) -> None:
    """A 100-dpi scan in a PDF comes out at 100 dpi (upscaled once, later), not resampled to 300."""
    scan = text_page(dpi=100)
    page = load_page(_scan_pdf(tmp_path / "low.pdf", scan, dpi=100), 0)
    assert page.dpi == 100
    assert abs(page.image.shape[1] - scan.shape[1]) <= 1
    assert page.legacy_text is None
    high = load_page(_scan_pdf(tmp_path / "high.pdf", text_page(dpi=400), dpi=400), 0)
    assert high.dpi == 300  # never rendered above 300 dpi


def test_ingest_vector_pdf_renders_at_300_dpi_with_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "vector.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pdf.drawString(72, 700, "Ke hoach so 18/KH-UBND")
    pdf.showPage()
    pdf.drawString(72, 700, "Trang hai")
    pdf.showPage()
    pdf.save()
    assert open_document(path).page_count == 2
    second = load_page(path, 1)
    assert second.dpi == 300
    height, width = second.image.shape[:2]
    assert abs(height - 842 / 72 * 300) <= 1 and abs(width - 595 / 72 * 300) <= 1
    assert second.legacy_text == "Trang hai"
    assert second.index == 1


def test_ingest_huge_page_count_loads_one_page_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "register.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(200, 100))
    for number in range(1500):
        pdf.drawString(20, 50, f"Trang {number + 1}")
        pdf.showPage()
    pdf.save()
    assert open_document(path).page_count == 1500
    last = load_page(path, 1499)
    assert last.index == 1499 and last.legacy_text == "Trang 1500"


_PILLOW_MODES = {".pbm": "1", ".pgm": "L"}  # the other formats take RGB
_NO_DPI = {".pbm", ".pgm", ".ppm", ".pnm"}  # Netpbm files carry no resolution


@pytest.mark.parametrize("suffix", sorted(IMAGE_SUFFIXES))
def test_ingest_reads_every_image_suffix_and_the_folder_walk_finds_it(tmp_path, suffix):
    mode = _PILLOW_MODES.get(suffix, "RGB")
    image = Image.new(mode, (120, 90), 1 if mode == "1" else "white")
    path = tmp_path / "scans" / f"page{suffix}"
    path.parent.mkdir()
    image.save(path, **({} if suffix in _NO_DPI else {"dpi": (150, 150)}))
    (tmp_path / "scans" / "README.md").write_text("# scans of 2020\n")
    files, errors, _ = collect_inputs([tmp_path / "scans"])
    assert files == [path] and errors == []
    info = open_document(path)
    assert info.kind in {"image", "tiff"} and info.page_count == 1
    assert load_page(path, 0).image.shape[:2] == (90, 120)

