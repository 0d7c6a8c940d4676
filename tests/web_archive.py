"""A small archive for the web tests: page images drawn with known word boxes (a 2020 decision 539/QĐ-UBND of
Lạng Sơn, a letter citing it, the same code for another province and year), a document whose text, subject and
file name are hostile, one that needs review, tasks, and enough text documents to fill several result pages."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fakes_run import record_from_case
from PIL import Image, ImageDraw, ImageFont

from pipeline.archive import open_archive
from pipeline.archive.files import document_to_dict, dumps_json
from pipeline.types import DocumentResult, OcrWord, PageResult

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PAGE = (1240, 1754)  # A4 at 150 dpi
HOSTILE = "<script>alert('x')</script> \"quoted\""
HOSTILE_NAME = "hop\"><img src=x onerror=alert(1)>.png"
FILLER_COUNT = 24  # text documents mentioning "báo cáo tuần" (more than one page of results)

DECISION = [
    "ỦY BAN NHÂN DÂN TỈNH LẠNG SƠN",
    "Số: 539/QĐ-UBND          Lạng Sơn, ngày 02 tháng 4 năm 2020",
    "QUYẾT ĐỊNH",
    "Về việc giao chỉ tiêu phấn đấu đạt chuẩn nông thôn mới năm 2020",
    "Giao các huyện thực hiện chương trình nông thôn mới.",
    "Văn phòng Điều phối nông thôn mới tỉnh báo cáo kết quả.",
    "CHỦ TỊCH",
    "Hồ Tiến Thiệu",
]
LETTER = [
    "VĂN PHÒNG ĐIỀU PHỐI NÔNG THÔN MỚI",
    "Số: 112/VPĐP-NTM          Lạng Sơn, ngày 15 tháng 4 năm 2020",
    "Thực hiện Quyết định số 539/QĐ-UBND ngày 02/4/2020 của UBND tỉnh,",
    "đề nghị các huyện rà soát tiêu chí nông thôn mới.",
    "CHÁNH VĂN PHÒNG",
    "Hoàng Văn Nam",
]


def draw_page(path: Path, lines: list[str], *, low: frozenset[str] = frozenset()) -> PageResult:
    """Draw `lines` on a white page and return the page as OCR would: words with their boxes (a word in
    `low` gets a low confidence)."""
    font = ImageFont.truetype(FONT, 30)
    image = Image.new("L", PAGE, 255)
    draw = ImageDraw.Draw(image)
    words: list[OcrWord] = []
    y = 120
    for line_number, line in enumerate(lines):
        x = 110
        for word in line.split():
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, font=font, fill=0)
            words.append(OcrWord(word, 45.0 if word in low else 93.0, (left, top, right - left, bottom - top), 0,
                                 line_number))
            x = right + 14
        y += 70
    image.save(path, dpi=(150, 150))
    text = "\n".join(lines)
    return PageResult(index=0, width=PAGE[0], height=PAGE[1], dpi=150.0, preprocessing=[], words=words,
                      raw_text=text, text=text)


def _store(archive, path: Path, pages: list[PageResult], case: dict, kind: str) -> int:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    result = DocumentResult(source=str(path), sha256=sha, pages=pages, record=record_from_case(case))
    result_json = dumps_json(document_to_dict(result, kind=kind, settings={}))
    return archive.add_document(result, name=path.stem, kind=kind, result_json=result_json)


def build(folder: Path) -> dict[str, int]:
    """Write the files and the archive (folder/archive.db); return document ids by name."""
    folder.mkdir(parents=True, exist_ok=True)
    ids: dict[str, int] = {}
    signer = {"signer": {"title": "CHỦ TỊCH", "name": "Hồ Tiến Thiệu"}}
    with open_archive(folder / "archive.db") as archive:
        decision = folder / "qd539_langson.png"
        ids["decision"] = _store(archive, decision, [draw_page(decision, DECISION)], {
            "document": {"code": "539/QĐ-UBND", "number": "539", "symbol": "QĐ-UBND", "type": "QĐ",
                         "type_name": "Quyết định", "date": "2020-04-02", "issuer": "ỦY BAN NHÂN DÂN TỈNH LẠNG SƠN",
                         "place": "Lạng Sơn", "subject": "Về việc giao chỉ tiêu phấn đấu đạt chuẩn nông thôn mới năm 2020",
                         **signer}}, "image")
        letter = folder / "cv112_vpdp.png"
        ids["letter"] = _store(archive, letter, [draw_page(letter, LETTER)], {
            "document": {"code": "112/VPĐP-NTM", "type": "CV", "type_name": "Công văn", "date": "2020-04-15",
                         "issuer": "VĂN PHÒNG ĐIỀU PHỐI NÔNG THÔN MỚI", "parent_issuer": "UBND TỈNH LẠNG SƠN",
                         "place": "Lạng Sơn", "subject": "Rà soát tiêu chí nông thôn mới",
                         "signer": {"title": "CHÁNH VĂN PHÒNG", "name": "Hoàng Văn Nam"}},
            "references": [{"code": "539/QĐ-UBND", "date": "2020-04-02"}, {"code": "01/BCĐTW-VPĐP",
                                                                           "date": "2020-01-04"}],
            "tasks": [{"id": "1", "text": "Rà soát các tiêu chí nông thôn mới", "assignees": ["UBND các huyện"],
                       "deadline": "2020-05-30"},
                      {"id": "2", "text": "Báo cáo kết quả về Văn phòng Điều phối", "assignees": ["Phòng Nông nghiệp"],
                       "deadline": "2020-06-15"}]}, "image")
        other = folder / "qd539_nghean.txt"
        other.write_text("Số: 539/QĐ-UBND\nQuyết định của UBND tỉnh Nghệ An", encoding="utf-8")
        ids["other_province"] = _store(archive, other, [PageResult(0, 0, 0, 0.0, [], [], other.read_text(),
                                                                   other.read_text())], {
            "document": {"code": "539/QĐ-UBND", "type": "QĐ", "date": "2020-06-01", "issuer": "UBND TỈNH NGHỆ AN",
                         "place": "Nghệ An", **signer}}, "text")
        hostile = folder / HOSTILE_NAME
        ids["hostile"] = _store(archive, hostile, [draw_page(hostile, ["Số: 7/TB-UBND", HOSTILE, "kết luận"])], {
            "document": {"code": "7/TB-UBND", "type": "TB", "date": "2021-01-05", "issuer": HOSTILE,
                         "subject": HOSTILE, **signer},
            "tasks": [{"id": "1", "text": HOSTILE, "assignees": [HOSTILE]}]}, "image")
        review = folder / "thongbao_mo.png"
        ids["review"] = _store(archive, review, [draw_page(review, ["Số: 17/TB-UBND", "Thông báo lịch tiếp dân"],
                                                           low=frozenset({"17/TB-UBND"}))], {
            "document": {"code": "17/TB-UBND", "type": "TB", "type_name": "Thông báo", "issuer": "UBND HUYỆN HỮU LŨNG",
                         "place": "Hữu Lũng", "subject": "Lịch tiếp dân"}}, "image")
        for number in range(FILLER_COUNT):
            path = folder / f"bc{number:02d}.txt"
            text = f"Số: {100 + number}/BC-UBND\nBáo cáo tuần số {number}"
            path.write_text(text, encoding="utf-8")
            ids[f"filler{number}"] = _store(archive, path, [PageResult(0, 0, 0, 0.0, [], [], text, text)], {
                "document": {"code": f"{100 + number}/BC-UBND", "type": "BC", "date": f"2019-01-{number + 1:02d}",
                             "issuer": "UBND XÃ TÂN THÀNH", **signer}}, "text")
    return ids
