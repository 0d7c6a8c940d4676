"""Small print read again: the header's blocks and the signature's block cut from the original page and read
larger when the page's reading missed the number, the date or the signer's name; margin marks kept out of the
layout that finds those blocks."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw
from scan_images import font

from pipeline import ocr
from pipeline.preprocess import preprocess_page
from pipeline.types import OcrWord, PageImage

DPI = 150
HEADER = (("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
          ("HUYỆN TĨNH GIA", "Độc lập - Tự do - Hạnh phúc"),
          ("Số: 1113/UBND-LĐTBXH", "Tĩnh Gia, ngày 16 tháng 4 năm 2020"))
BODY = "Thực hiện Nghị quyết số 42/NQ-CP ngày 09 tháng 4 năm 2020 của Chính phủ về các biện pháp hỗ trợ"
CLOSING = (("Nơi nhận:", "KT. CHỦ TỊCH"), ("- Như trên;", "PHÓ CHỦ TỊCH"), ("- Lưu: VT.", ""), ("", "Hồ Đình Tùng"))


def _small_print_header(dpi: int = 200, points: float = 4.0) -> PageImage:
    """An A4 page at `dpi` whose header blocks are set in `points` type (a reduced copy's small print) above 12-pt
    body lines citing "Nghị quyết số 42/NQ-CP", slightly blurred as a copy is."""
    width, height = round(8.27 * dpi), round(11.69 * dpi)
    image = Image.new("L", (width, height), "white")
    draw = ImageDraw.Draw(image)
    small, face = font(round(points * dpi / 72)), font(round(12 * dpi / 72))
    for k, (first, second) in enumerate(HEADER):
        y = round(0.6 * dpi) + k * round(points * 1.7 * dpi / 72)
        draw.text((round(1.0 * dpi), y), first, font=small, fill="black")
        draw.text((round(4.3 * dpi), y), second, font=small, fill="black")
    for k in range(8):
        draw.text((round(1.0 * dpi), round(2.0 * dpi) + k * round(12 * 1.7 * dpi / 72)), BODY[:75], font=face, fill="black")
    pixels = cv2.GaussianBlur(np.asarray(image), (3, 3), 0.8)
    return PageImage(source="small-print.png", index=0, image=pixels, dpi=float(dpi))


def _dispatch(margin_mark: bool) -> PageImage:
    """An A4 dispatch at 150 dpi: the two header blocks, body lines, the closing's two blocks (recipients | title
    and the signer's name); `margin_mark` puts dark pieces down the left margin, as a finger holding a photographed sheet does."""
    width, height = round(8.27 * DPI), round(11.69 * DPI)
    image = Image.new("L", (width, height), "white")
    draw = ImageDraw.Draw(image)
    face = font(round(12 * DPI / 72))
    pitch = round(12 * 1.7 * DPI / 72)
    left, right = round(1.0 * DPI), round(4.3 * DPI)
    for k, (first, second) in enumerate(HEADER):
        draw.text((left, round(0.6 * DPI) + k * pitch), first, font=face, fill="black")
        draw.text((right, round(0.6 * DPI) + k * pitch), second, font=face, fill="black")
    for k in range(14):
        draw.text((left, round(2.4 * DPI) + k * pitch), BODY[: 60 + k % 3], font=face, fill="black")
    for k, (first, second) in enumerate(CLOSING):
        draw.text((left, round(7.6 * DPI) + 2 * k * pitch), first, font=face, fill="black")
        draw.text((round(4.8 * DPI), round(7.6 * DPI) + 2 * k * pitch), second, font=face, fill="black")
    pixels = np.asarray(image).copy()
    if margin_mark:  # pieces of a dark edge beside every line, clear of the paper's border
        for y in range(round(0.5 * DPI), round(10.5 * DPI), pitch):
            pixels[y : y + round(0.06 * DPI), round(0.1 * DPI) : round(0.5 * DPI)] = 60
    return PageImage(source="dispatch.png", index=0, image=pixels, dpi=float(DPI))


@pytest.fixture(scope="module")
def prepared():
    return preprocess_page(_dispatch(margin_mark=True))


def _line(text: str, x: int, y: int, line: int) -> list[OcrWord]:
    return [OcrWord(token, 90.0, (x + 60 * k, y, 50, 20), 0, line) for k, token in enumerate(text.split())]


def test_ocr_reread_zones_found_past_a_margin_mark(prepared) -> None:
    """Dark pieces down the left margin (a finger) would be the page's left column and hide both two-column blocks."""
    names = [name for name, _ in ocr.find_small_print_zones(prepared.image, prepared.dpi)]
    assert names == ["header-left", "header-right", "signature"]


def test_ocr_reread_missing_fields_and_name_read_from_the_original(prepared, monkeypatch) -> None:
    """The page's reading lost the number line and the signer's name: the header's left block and the signature's
    block are read again from the original page at each of REREAD_DPI, and the readings that hold them replace
    the page's words there; the right block, whose date was read, is left alone; all recorded as a step."""
    zones = dict(ocr.find_small_print_zones(prepared.image, prepared.dpi))
    to_original = np.array(prepared.to_original).reshape(2, 3)

    def at(zone: str) -> tuple[int, int]:
        region = zones[zone]
        x, y = to_original @ np.array([region.x0, region.y0, 1.0])
        return round(x) + 5, round(y) + 5

    page_words = (_line("ỦY BAN NHÂN DÂN", *at("header-left"), 0) + _line("Mé, 44 (.3 /UBND", at("header-left")[0],
                                                                       at("header-left")[1] + 60, 1)
                  + _line("Tĩnh Gia, ngày 16 tháng 4 năm 2020", *at("header-right"), 2)
                  + _line(BODY, 150, 400, 3)
                  + _line("KT. CHỦ TỊCH", *at("signature"), 4) + _line("1o Định Tùng", at("signature")[0],
                                                                        at("signature")[1] + 200, 5))
    calls: list[tuple[float, list[tuple[int, ...]]]] = []

    def read_crops(crops, _languages, dpi, *_args) -> list[list[OcrWord]]:
        calls.append((dpi, [crop.shape for crop in crops]))
        texts = {"header-left": "Số: 1113/UBND-LĐTBXH", "signature": "Hồ Đình Tùng"}
        return [[OcrWord(token, 80.0, (10 + 80 * k, 10, 70, 30), 0, number) for k, token in enumerate(texts[name].split())]
                for number, name in enumerate(["header-left", "signature"])]

    monkeypatch.setattr(ocr, "_read_crops", read_crops)
    read_prepared, words = ocr.reread_small_print(prepared, page_words, languages="vie")
    step = read_prepared.steps[-1]
    assert step.name == "reread_small_print"
    assert [(zone["zone"], zone["kept"]) for zone in step.params["zones"]] == [("header-left", "300 dpi"),
                                                                               ("signature", "300 dpi")]
    # each zone's box of the original page (150 dpi), brought to each resolution: not the prepared page (300 dpi)
    assert [dpi for dpi, _ in calls] == list(ocr.REREAD_DPI)
    for dpi, shapes in calls:
        for zone, shape in zip(step.params["zones"], shapes, strict=True):
            assert shape[:2] == pytest.approx((zone["box"][3] * dpi / DPI, zone["box"][2] * dpi / DPI), abs=1)
    text = ocr.words_to_text(words)
    assert "Số: 1113/UBND-LĐTBXH" in text and "Mé," not in text and "Tĩnh Gia, ngày 16" in text
    assert "Hồ Đình Tùng" in text and "1o" not in text and "KT. CHỦ TỊCH" not in text
    assert text.index("Số: 1113") < text.index("Thực hiện") < text.index("Hồ Đình Tùng")
    assert {spot.name: spot.ocr_text for _, spot in ocr.find_header_fields(words, prepared.page.image.shape[0])} == {
        "number": "1113", "day": "16", "month": "4"}


def test_ocr_reread_later_page_has_no_header_to_read_again(prepared, monkeypatch) -> None:
    """A document's number and date are on its first page: on a later page whose top is laid out in two columns
    (an appendix's table, two signatures) only a missing signer's name is looked for again."""
    later = replace(prepared, page=replace(prepared.page, index=1))
    read: list[int] = []

    def read_crops(crops, *_args) -> list[list[OcrWord]]:
        read.append(len(crops))
        return [[] for _ in crops]

    monkeypatch.setattr(ocr, "_read_crops", read_crops)
    result, _ = ocr.reread_small_print(later, _line(BODY, 150, 400, 0), languages="vie")
    assert [zone["zone"] for zone in result.steps[-1].params["zones"]] == ["signature"]
    assert read == [1] * len(ocr.REREAD_DPI)


def test_ocr_reread_nothing_when_the_page_read_them(prepared, monkeypatch) -> None:
    """A page whose number, date and signer's name were read is not read again."""
    zones = dict(ocr.find_small_print_zones(prepared.image, prepared.dpi))
    to_original = np.array(prepared.to_original).reshape(2, 3)
    words: list[OcrWord] = []
    for number, (zone, text) in enumerate((("header-left", "Số: 1113/UBND-LĐTBXH"),
                                           ("header-right", "Tĩnh Gia, ngày 16 tháng 4 năm 2020"),
                                           ("signature", "Hồ Đình Tùng"))):
        x, y = to_original @ np.array([zones[zone].x0, zones[zone].y0, 1.0])
        words += _line(text, round(x) + 5, round(y) + 5, number)
    monkeypatch.setattr(ocr, "_read_crops", lambda *_args: pytest.fail("read again"))
    assert ocr.reread_small_print(prepared, words, languages="vie") == (prepared, words)


@pytest.mark.parametrize(("line", "name"), [("Hồ Đình Tùng", True), ("Hỗ Đình Tùng", True), ("1o Định Tùng", False),
                                            ("PHÓ CHỦ TỊCH", False), ("Định Tùng", False)])
def test_ocr_reread_name_line(line: str, name: bool) -> None:
    assert ocr.has_name_line(_line(line, 0, 0, 0)) is name


@pytest.mark.parametrize(("line", "found"), [("Số: 1113/UBND-LĐTBXH", 1), ("Số 45-KH/HU", 1),
                                             ("Nghị quyết số 42/NQ-CP ngày", 0), ("V/v thực hiện số 42/NQ-CP", 0)])
def test_ocr_reread_number_field_opens_its_line(line: str, found: int) -> None:
    """In the header's left block the number field opens its line: a subject citing "Nghị quyết số 42/NQ-CP" (a
    photo's misread header) is no number field, and the block is still read again."""
    assert ocr._zone_score("header-left", _line(line, 0, 10, 0), 2000) == found


def test_ocr_reread_small_print_header_number_found_larger() -> None:
    """A 4-pt header at 200 dpi: the page's reading garbles the number line ("Số- 1113/UBND.LĐTBXH"), so the only
    number field on the page is the body's "số 42/"; read again from the original at 480 dpi, the header's left
    block gives its own number."""
    prepared = preprocess_page(_small_print_header())
    height = prepared.page.image.shape[0]
    words = ocr.read_words(prepared, languages="vie", timeout=120)
    assert ocr._zone_score("header-left", words, height) == 0
    prepared, words = ocr.reread_small_print(prepared, words, languages="vie")
    fields = {spot.name: spot.ocr_text for _, spot in ocr.find_header_fields(words, height)}
    assert fields["number"] == "1113" and fields["day"] == "16"
    assert [zone["zone"] for zone in prepared.steps[-1].params["zones"]] == ["header-left"]
