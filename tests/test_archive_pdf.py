"""Searchable PDF/A-2B through OCRmyPDF and congvan's plugin: PDF/A identification and XMP metadata, embedded fonts,
output intent, `qpdf --check`, restored words found by `pdftotext`, sizes against the input; and the plugin run
by `ocrmypdf --plugin` itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest
from PIL import Image, ImageDraw, ImageFont

from pipeline.archive.pdf import page_turns, page_words, pdf_metadata, text_layer_page, write_pdfa
from pipeline.types import (
    DocumentHeader,
    DocumentResult,
    OcrWord,
    PageResult,
    PageSource,
    PreprocessStep,
    Record,
    RestoredToken,
)

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
LINES = ["Số: 27/KH-UBND", "xay dung nong thon moi"]
RESTORED = {"xay": "xây", "dung": "dựng", "nong": "nông", "thon": "thôn", "moi": "mới"}

needs_tools = pytest.mark.skipif(not FONT.exists() or not shutil.which("qpdf") or not shutil.which("pdftotext"),
                                 reason="needs fonts-dejavu-core, qpdf and poppler-utils")


def _scan(path: Path, dpi: int = 200) -> tuple[Path, list[OcrWord]]:
    """A gray scan of two lines, and the words at their true boxes (what OCR would report)."""
    font = ImageFont.truetype(str(FONT), round(dpi / 300 * 42))
    image = Image.new("L", (round(8.27 * dpi), round(2 * dpi)), 255)
    draw = ImageDraw.Draw(image)
    words = []
    for number, line in enumerate(LINES):
        x, y = round(0.5 * dpi), round((0.3 + 0.5 * number) * dpi)
        for word in line.split():
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, font=font, fill=0)
            words.append(OcrWord(word, 93.0, (left, top, right - left, bottom - top), 0, number))
            x = right + round(0.1 * dpi)
    image.save(path, dpi=(dpi, dpi))
    return path, words


def _result(source: Path, words: list[OcrWord], dpi: float) -> DocumentResult:
    with Image.open(source) as image:
        width, height = image.size
    tokens = [RestoredToken(w.text, RESTORED.get(w.text, w.text), 0.9) for w in words]
    text = "\n".join(" ".join(RESTORED.get(w, w) for w in line.split()) for line in LINES)
    page = PageResult(index=0, width=width, height=height, dpi=dpi, preprocessing=[], words=words,
                      raw_text="\n".join(LINES), text=text, tokens=tokens)
    record = Record(document=DocumentHeader(code="27/KH-UBND", type_name="Kế hoạch", date="2020-05-14",
                                            subject="Xây dựng nông thôn mới năm 2020", issuer="ỦY BAN NHÂN DÂN",
                                            parent_issuer="UBND HUYỆN HỮU LŨNG"))
    return DocumentResult(source=str(source), sha256="0" * 64, pages=[page], record=record)


@pytest.fixture(scope="module")
def pdfa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdfa")
    scan, words = _scan(folder / "scan.png")
    target = folder / "out" / "scan.pdf"
    write_pdfa(scan, _result(scan, words, 200.0), target, image_dpi=200.0)
    return scan, target


@needs_tools
def test_archive_pdf_is_pdfa_2b_with_the_record_as_metadata(pdfa):
    _, target = pdfa
    with pikepdf.open(target) as pdf:
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == "Xây dựng nông thôn mới năm 2020"
        assert meta["dc:creator"] == ["UBND HUYỆN HỮU LŨNG - ỦY BAN NHÂN DÂN"]
        assert meta["xmp:CreateDate"].startswith("2020-05-14T00:00:00")
        assert str(pdf.docinfo["/Title"]) == "Xây dựng nông thôn mới năm 2020"
        assert str(pdf.docinfo["/CreationDate"]).startswith("D:20200514")
        assert str(pdf.docinfo["/Author"]) == "UBND HUYỆN HỮU LŨNG - ỦY BAN NHÂN DÂN"
        # PDF/A needs an output intent with an embedded ICC profile
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and len(intent.DestOutputProfile.read_bytes()) > 1000
        # every font of the file (the text layer's are in a form XObject) is embedded
        fonts = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font"
                 and obj.get("/Subtype") != "/CIDFontType2"]
        assert fonts
        for font in fonts:
            descendants = font.get("/DescendantFonts")
            descriptor = (descendants[0] if descendants else font).FontDescriptor
            assert any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    # pikepdf's PDF/A validator (veraPDF is not packaged here) approves the written bytes
    report = pikepdf.pdfa.validate_written(target, "2b")
    assert report.verdict == "pass", report.summary()


@needs_tools
def test_archive_pdf_passes_qpdf_check_and_pdftotext_finds_restored_words(pdfa):
    _, target = pdfa
    check = subprocess.run(["qpdf", "--check", str(target)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    text = subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True, check=True).stdout
    assert "xây dựng nông thôn mới" in text and "27/KH-UBND" in text and "xay dung" not in text


@needs_tools
def test_archive_pdf_keeps_the_page_image_lossless_and_small(pdfa):
    scan, target = pdfa
    with pikepdf.open(target) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        decoded = pikepdf.PdfImage(image).as_pil_image()
        assert image.Filter != "/DCTDecode"  # never re-encoded as JPEG
        with Image.open(scan) as original:
            assert decoded.size == original.size and decoded.convert("L").tobytes() == original.convert("L").tobytes()
        image_bytes = len(image.read_raw_bytes())
    assert image_bytes <= scan.stat().st_size
    # the text layer, font subset and colour profile add a few kilobytes, never a re-encoding's hundreds
    assert target.stat().st_size <= scan.stat().st_size + 64 * 1024


def test_archive_pdf_text_layer_page_lines_words_and_turns():
    words = [OcrWord("xay", 90.0, (10, 10, 30, 12), 0, 0), OcrWord("dung", 80.0, (45, 10, 40, 12), 0, 0),
             OcrWord("x", 20.0, (86, 10, 5, 12), 0, 0), OcrWord("Số", 95.0, (10, 40, 20, 12), 0, 1)]
    tokens = [RestoredToken("xay", "xây", 0.9), RestoredToken("dung", "dựng", 0.9), RestoredToken("x", "", 0.9),
              RestoredToken("Số", "Số", 1.0)]
    page = PageResult(index=0, width=200, height=100, dpi=100.0, words=words, tokens=tokens, raw_text="", text="",
                      preprocessing=[PreprocessStep("fix_orientation", {"quarters_ccw": 1}),
                                     PreprocessStep("check_orientation", {"turned": True})])
    assert [w[0] for w in page_words(page)] == ["xây", "dựng", "Số"]
    assert page_words(page)[1][1] == (45, 10, 46, 12)  # the dropped token widened its predecessor
    layer = text_layer_page(page)
    assert layer["turns"] == page_turns(page) == 3
    assert [[w[0] for w in line] for line in layer["lines"]] == [["xây", "dựng"], ["Số"]]


def test_archive_pdf_text_without_boxes_is_still_placed():
    page = PageResult(index=0, width=1000, height=1400, dpi=100.0, words=[], preprocessing=[], raw_text="",
                      text="dòng một\n\ndòng hai")
    layer = text_layer_page(page)
    assert [line[0][0] for line in layer["lines"]] == ["dòng một", "dòng hai"]
    assert all(0 <= line[0][2] < 1400 for line in layer["lines"])


def test_archive_pdf_metadata_from_the_record():
    record = Record(document=DocumentHeader(code="5/QĐ-UBND", type_name="Quyết định", issuer="UBND TỈNH\nLẠNG SƠN"))
    assert pdf_metadata(record) == {"title": "Quyết định 5/QĐ-UBND", "author": "UBND TỈNH LẠNG SƠN",
                                    "subject": "Quyết định 5/QĐ-UBND", "keywords": "5/QĐ-UBND"}
    assert pdf_metadata(None) == {}


@pytest.mark.skipif(shutil.which("tesseract") is None or not FONT.exists(), reason="needs tesseract")
def test_archive_pdf_ocrmypdf_runs_the_congvan_plugin(tmp_path):
    """`ocrmypdf --plugin pipeline.plugins.ocrmypdf_congvan`: congvan reads and restores the page by itself."""
    import img2pdf

    scan, _ = _scan(tmp_path / "scan.png", dpi=300)
    source = tmp_path / "in.pdf"
    source.write_bytes(img2pdf.convert(str(scan)))
    target = tmp_path / "out.pdf"
    ocrmypdf = Path(sys.executable).with_name("ocrmypdf")
    run = subprocess.run([str(ocrmypdf), "--plugin", "pipeline.plugins.ocrmypdf_congvan", "--output-type", "pdfa-2",
                          "--quiet", str(source), str(target)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    text = " ".join(subprocess.run(["pdftotext", str(target), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "xây dựng nông thôn mới" in text and "27/KH-UBND" in text
    with pikepdf.open(target) as pdf:
        assert pdf.open_metadata()["pdfaid:part"] == "2"
        assert "congvan" in str(pdf.docinfo.get("/Creator", "")) + str(pdf.open_metadata().get("xmp:CreatorTool"))


def test_archive_pdf_born_digital_pages_add_no_second_text_layer():
    words = [OcrWord("Số", 99.0, (10, 10, 20, 12), 0, 0)]
    page = PageResult(index=0, width=200, height=100, dpi=100.0, words=words, preprocessing=[], raw_text="Số",
                      text="Số", source=PageSource.TEXT_LAYER)
    assert text_layer_page(page)["lines"] == []  # the PDF carries this page's text already
