"""Ingest of PDF text layers: pages rendered with their form widgets, widget values read at their place, word
boxes in page pixels, invisible layers told apart, hyphen line ends, signature dictionaries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from born_digital_fixtures import CENTRE, CENTRE_EMAIL, SIGNER, dispatch, esigned_pdf, plain_pdf, scan_pdf
from reportlab.pdfgen import canvas

from pipeline.extract import extract_record
from pipeline.ingest import load_page, read_signatures, read_text_layer
from pipeline.signatures import signature_from_field
from pipeline.textlayer import read_layer

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def _line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def _widget_boxes(path: Path, page_height_px: int, dpi: float) -> list[tuple[int, int, int, int]]:
    """Pixel boxes of the page-1 signature widgets that hold digits (the number and day fields)."""
    boxes = []
    scale = dpi / 72
    with pikepdf.open(path) as pdf:
        for annotation in pdf.pages[0].obj.get("/Annots", []):
            stream = annotation.AP.N
            if b"/Helv" in stream.read_bytes():  # the digit fields (the stamp is drawn in a TrueType font)
                x0, y0, x1, y1 = (float(v) for v in annotation.Rect)
                boxes.append((round(x0 * scale), round(page_height_px - y1 * scale), round((x1 - x0) * scale),
                              round((y1 - y0) * scale)))
    return boxes


def test_ingest_textlayer_reads_form_field_values_on_their_printed_line(tmp_path: Path) -> None:
    path = esigned_pdf(tmp_path / "signed.pdf")
    fixture = dispatch()
    # the phenomenon: the page content alone lacks the number and the day
    with pdfium.PdfDocument(path) as raw:
        content_text = raw[0].get_textpage().get_text_range()
    assert f"Số: {fixture.number}" not in content_text and f"ngày {fixture.day} " not in content_text
    layer = read_text_layer(path, 0)
    assert layer is not None and layer.dpi == 300
    reading = read_layer(layer)
    symbol = next(line for line in fixture.spec.header_left if line.startswith("Số")).split("/", 1)[1]
    assert _line_with(reading.text, "Số:") == f"Số: {fixture.number} /{symbol}"
    assert f"ngày {fixture.day} tháng" in _line_with(reading.text, "tháng")
    number = next(word for word in reading.words if word.text == fixture.number)
    x, y, w, h = number.box
    assert any(bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh
               for bx, by, bw, bh in _widget_boxes(path, layer.height, layer.dpi))
    assert number.confidence == 100.0


def test_ingest_renders_form_widgets_as_a_viewer_shows_them(tmp_path: Path) -> None:
    path = esigned_pdf(tmp_path / "signed.pdf")
    page = load_page(path, 0)
    boxes = _widget_boxes(path, page.image.shape[0], page.dpi)
    assert len(boxes) == 2
    gray = page.image if page.image.ndim == 2 else page.image.min(axis=2)
    with pdfium.PdfDocument(path) as raw:  # what a renderer that skips widgets shows
        bare = raw[0].render(scale=page.dpi / 72, grayscale=True).to_numpy().reshape(gray.shape[0], gray.shape[1], -1)[:, :, 0]
    for x, y, w, h in boxes:
        inner = slice(y + h // 5, y + h - h // 5), slice(x + 2, x + w - w // 5)
        assert (gray[inner] < 128).sum() > 20
        assert (bare[inner] < 128).sum() == 0


def test_ingest_renders_a_filled_field_that_has_no_appearance(tmp_path: Path) -> None:
    # Form tools that set NeedAppearances leave a filled field without an appearance stream: a viewer draws its
    # value all the same, so the rendered page (what OCR and the reader see) must show it too.
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    helvetica = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                     BaseFont=pikepdf.Name.Helvetica))
    field = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx, T=pikepdf.String("so"),
        V=pikepdf.String("1234"), Rect=[100, 700, 300, 740], DA=pikepdf.String("/Helv 24 Tf 0 g"), F=4, P=page.obj))
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(
        Fields=[field], NeedAppearances=True, DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helvetica)),
        DA=pikepdf.String("/Helv 12 Tf 0 g")))
    path = tmp_path / "no-appearance.pdf"
    pdf.save(path)
    image = load_page(path, 0)
    scale = image.dpi / 72
    gray = image.image if image.image.ndim == 2 else image.image.min(axis=2)
    inside = gray[round((842 - 740) * scale):round((842 - 700) * scale), round(100 * scale):round(300 * scale)]
    assert (inside < 128).sum() > 500
    layer = read_text_layer(path, 0)
    assert layer is not None and "1234" in read_layer(layer).text


def test_ingest_textlayer_words_have_page_pixel_boxes_over_their_ink(tmp_path: Path) -> None:
    path = plain_pdf(tmp_path / "plain.pdf")
    layer = read_text_layer(path, 0)
    page = load_page(path, 0)
    assert layer is not None and (layer.height, layer.width) == page.image.shape[:2]
    gray = page.image if page.image.ndim == 2 else page.image.min(axis=2)
    inked = [bool((gray[y : y + h, x : x + w] < 128).any()) for x, y, w, h in (word.box for word in layer.words)]
    assert len(inked) > 100 and all(inked)
    assert all(word.visible and word.upright and word.annotation is None for word in layer.words)


def test_ingest_textlayer_marks_an_old_ocr_layer_invisible(tmp_path: Path) -> None:
    path = scan_pdf(tmp_path / "old.pdf", stamp=None, legacy="Chi thi ve viec tang cuong cong tac\nUy ban nhan dan tinh")
    layer = read_text_layer(path, 0)
    assert layer is not None and layer.image_cover == 1.0
    assert [word.text for word in layer.words][:3] == ["Chi", "thi", "ve"]
    assert not any(word.visible for word in layer.words)


def test_ingest_textlayer_of_an_image_or_an_empty_page(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    pdf = canvas.Canvas(str(empty), pagesize=(595, 842))
    pdf.showPage()
    pdf.save()
    layer = read_text_layer(empty, 0)
    assert layer is not None and layer.words == () and layer.ink.size == 0
    picture = tmp_path / "page.png"
    from PIL import Image

    Image.fromarray(np.full((50, 40), 255, dtype=np.uint8)).save(picture)
    assert read_text_layer(picture, 0) is None and read_signatures(picture) == []


def test_ingest_textlayer_a_hyphen_ending_a_line_ends_its_word(tmp_path: Path) -> None:
    """pdfium runs "6138/UBND-⏎KGVX" together as one word with a U+FFFE: the hyphen ends the word on its own
    line, so the extractor sees the code broken across lines as printed and joins it."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("TestSerif", FONT))
    path = tmp_path / "hyphen.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pdf.setFont("TestSerif", 13)
    lines = ("Thực hiện Công văn số 4643/UBND-KGVX ngày 28/8/2024 và số 6138/UBND-",
             "KGVX ngày 13/11/2024 của UBND tỉnh về việc triển khai các chương trình,",
             "Ủy ban nhân dân huyện yêu cầu các phòng, ban chuyên môn thực hiện.")
    for number, line in enumerate(lines):
        pdf.drawString(85, 700 - 18 * number, line)
    pdf.showPage()
    pdf.save()
    layer = read_text_layer(path, 0)
    assert layer is not None
    text = read_layer(layer).text
    assert text.splitlines()[:2] == list(lines[:2])
    references = {ref.code: ref.date for ref in extract_record(text).references}
    assert references.get("6138/UBND-KGVX") == "2024-11-13"


def test_ingest_read_signatures_gives_every_dictionary_in_signing_order(tmp_path: Path) -> None:
    path = esigned_pdf(tmp_path / "signed.pdf")
    fields = read_signatures(path)
    # the signer's fields (number, day, their own signature) first, then the publication centre's stamp
    assert [field.name for field in fields] == [SIGNER, SIGNER, SIGNER, None]
    assert fields[0].time == "D:20200416173049+07'00'" and fields[0].page == 0 and fields[0].rect is not None
    assert all(field.contents.startswith(b"\x30") for field in fields)
    centre = signature_from_field(fields[-1])
    assert (centre.signer, centre.organisation, centre.email) == (None, CENTRE, CENTRE_EMAIL)
    assert centre.time == "2020-04-17T10:20:49+07:00"


def test_ingest_read_signatures_survives_a_looping_field_tree(tmp_path: Path) -> None:
    path = plain_pdf(tmp_path / "plain.pdf")
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        field = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("loop")))
        field.Kids = pikepdf.Array([field])
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))
        pdf.save(path)
    assert read_signatures(path) == []


@pytest.mark.parametrize("stamp", ["plain", "labelled"])
def test_ingest_textlayer_stamp_text_belongs_to_its_widget(tmp_path: Path, stamp: str) -> None:
    path = scan_pdf(tmp_path / "scan.pdf", stamp=stamp)
    layer = read_text_layer(path, 0)
    assert layer is not None and layer.words
    assert all(word.annotation is not None for word in layer.words)
    (x, y, _, _), = [layer.annotations[i] for i in {word.annotation for word in layer.words}]  # type: ignore[index]
    assert y < layer.height * 0.1 and x > layer.width * 0.5  # top right, where the centre signs
