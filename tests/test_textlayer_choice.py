"""The per-page source choice on the evidence of the page's own text layer: born-digital pages are read from
it, scans whose layer holds only a signature stamp are OCR'd, old invisible OCR layers are restored, and layers
that do not carry the visible text (an image of text, a legacy font encoding) are not trusted."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from born_digital_fixtures import CENTRE, CENTRE_EMAIL, dispatch, esigned_pdf, scan_pdf
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from scan_images import text_page

from pipeline.ingest import read_text_layer
from pipeline.textlayer import MIN_INK_COVERED, read_layer, syllable_share
from pipeline.types import PageSource, TextLayer

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"


def _layer(path: Path) -> TextLayer:
    layer = read_text_layer(path, 0)
    assert layer is not None
    return layer


def test_textlayer_born_digital_page_is_read_from_its_layer(tmp_path: Path) -> None:
    reading = read_layer(_layer(esigned_pdf(tmp_path / "signed.pdf")))
    evidence = reading.evidence
    assert reading.source is PageSource.TEXT_LAYER, evidence.reason
    assert evidence.visible_share == 1.0 and evidence.ink_covered is not None and evidence.ink_covered > 0.9
    assert evidence.syllable_share is not None and evidence.syllable_share > 0.9 and evidence.image_cover < 0.2
    assert evidence.upright_share == 1.0
    # the publication stamp is a signature, not text of the page
    (stamp,) = reading.stamps
    assert (stamp.organisation, stamp.email, stamp.source) == (CENTRE, CENTRE_EMAIL, "stamp")
    assert stamp.time == "2020-04-17T10:20:49+07:00"
    assert CENTRE_EMAIL not in reading.text and evidence.stamp_chars > 40


def test_textlayer_reading_order_keeps_the_header_columns_apart(tmp_path: Path) -> None:
    reading = read_layer(_layer(esigned_pdf(tmp_path / "signed.pdf")))
    lines = reading.text.splitlines()
    number_line = next(line for line in lines if line.startswith("Số:"))
    motto = next(line for line in lines if "CỘNG HÒA" in line)
    assert "CỘNG" not in number_line and motto.startswith("CỘNG HÒA XÃ HỘI") and "Số" not in motto
    blocks = {word.block for word in reading.words if word.text in ("Số:", "CỘNG")}
    assert len(blocks) == 2  # left and right header columns are regions of their own, as in OCR
    assert [word.line for word in reading.words] == sorted(word.line for word in reading.words)
    issuer = dispatch().spec.header_left[-2] if len(dispatch().spec.header_left) > 2 else None
    assert issuer is None or issuer.split()[0] in reading.text


@pytest.mark.parametrize("stamp", ["labelled", "plain"])
def test_textlayer_scan_whose_layer_is_a_signature_stamp_is_ocred(tmp_path: Path, stamp: str) -> None:
    reading = read_layer(_layer(scan_pdf(tmp_path / "scan.pdf", stamp=stamp)))
    assert reading.source is PageSource.OCR
    assert reading.evidence.reason == "the text layer holds only a signature stamp"
    assert reading.evidence.layer_chars == 0 and reading.evidence.image_cover == 1.0
    assert reading.words == () and len(reading.stamp_boxes) == 1
    (signature,) = reading.stamps
    assert signature.organisation == CENTRE and signature.time is not None


def test_textlayer_old_invisible_ocr_layer_is_restored(tmp_path: Path) -> None:
    legacy = "CHI THI\nVe viec tang cuong cong tac quan ly nha nuoc\nUy ban nhan dan tinh yeu cau cac so"
    layer = _layer(scan_pdf(tmp_path / "old.pdf", stamp=None, legacy=legacy))
    reading = read_layer(layer)
    assert reading.source is PageSource.LEGACY_RESTORED and reading.evidence.visible_share == 0.0
    assert reading.text.split() == legacy.split()
    assert read_layer(layer, prefer_layer=True).evidence.reason.startswith("--text-layer")


def test_textlayer_an_image_of_text_under_a_line_of_text_is_ocred(tmp_path: Path) -> None:
    """A born-digital page that carries a scanned image of text: its layer covers little of the page's ink."""
    pdfmetrics.registerFont(TTFont("ChoiceSerif", FONT))
    image = tmp_path / "body.png"
    cv2.imwrite(str(image), text_page(dpi=150, width_in=7.0))
    path = tmp_path / "mixed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pdf.setFont("ChoiceSerif", 13)
    pdf.drawString(72, 780, "Phụ lục: bản chụp văn bản gửi kèm theo công văn này")
    pdf.drawImage(ImageReader(str(image)), 50, 300, 504, 400)
    pdf.showPage()
    pdf.save()
    reading = read_layer(_layer(path))
    assert reading.source is PageSource.OCR
    assert reading.evidence.ink_covered is not None and reading.evidence.ink_covered < MIN_INK_COVERED
    assert reading.evidence.reason == "the text layer covers too little of the page's ink"
    assert read_layer(_layer(path), prefer_layer=True).source is PageSource.TEXT_LAYER


def test_textlayer_legacy_font_encoding_is_ocred(tmp_path: Path) -> None:
    """Text typed in a pre-Unicode Vietnamese font (TCVN3) extracts as `Céng hoµ x· héi`: not Vietnamese."""
    pdfmetrics.registerFont(TTFont("ChoiceSerif", FONT))
    path = tmp_path / "tcvn3.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pdf.setFont("ChoiceSerif", 13)
    lines = ("Céng hoµ x· héi chñ nghÜa ViÖt Nam", "§éc lËp - Tù do - H¹nh phóc",
             "Uû ban nh©n d©n tØnh yªu cÇu c¸c së, ban, ngµnh thùc hiÖn", "kÕ ho¹ch ph¸t triÓn kinh tÕ x· héi n¨m")
    for number, line in enumerate(lines):
        pdf.drawString(72, 760 - 20 * number, line)
    pdf.showPage()
    pdf.save()
    reading = read_layer(_layer(path))
    assert reading.source is PageSource.OCR, reading.evidence
    assert reading.evidence.reason.startswith("the text layer does not spell Vietnamese")


def test_textlayer_sideways_text_is_ocred(tmp_path: Path) -> None:
    """A landscape table typed sideways on a portrait page: its lines run up the page, not along it."""
    pdfmetrics.registerFont(TTFont("ChoiceSerif", FONT))
    path = tmp_path / "sideways.pdf"
    pdf = canvas.Canvas(str(path), pagesize=(595, 842))
    pdf.setFont("ChoiceSerif", 13)
    pdf.rotate(90)
    for number in range(6):
        pdf.drawString(80, -100 - 20 * number, "Ủy ban nhân dân tỉnh yêu cầu các sở, ban, ngành thực hiện kế hoạch")
    pdf.showPage()
    pdf.save()
    reading = read_layer(_layer(path))
    assert reading.evidence.upright_share == 0.0
    assert reading.source is PageSource.OCR and reading.evidence.reason.startswith("the text layer runs sideways")


@pytest.mark.parametrize(("words", "low", "high"), [
    (["Ủy", "ban", "nhân", "dân", "tỉnh", "Quảng", "Ngãi", "UBND", "MTQG"], 0.99, 1.0),
    (["Céng", "hoµ", "x·", "héi", "chñ", "nghÜa", "ViÖt", "Nam"], 0.0, 0.5),
    (["Két", "luan", "cia", "Ban", "Thuong", "vu", "Huyén", "ty"], 0.3, 0.9),
])
def test_textlayer_syllable_share(words: list[str], low: float, high: float) -> None:
    share = syllable_share(words)
    assert share is not None and low <= share <= high
    assert syllable_share(["123", "4/5", "UBND"]) is None
