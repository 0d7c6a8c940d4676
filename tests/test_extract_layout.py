"""Tests of layout evidence from OCR word boxes: centred title lines against the indented body, columns that
OCR read as one line, pages scanned sideways, and the text-only fallback when words and text disagree."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract import extract_record, record_schema
from pipeline.extract.geometry import line_geometry
from pipeline.extract.text import DocumentText
from pipeline.types import OcrWord, PageResult

WIDTH, HEIGHT = 2480, 3508  # A4 at 300 dpi
LEFT, RIGHT = 350, 2200  # the text column
INDENT = 150  # a body paragraph's first-line indent (1.27 cm)
CHAR = 22  # pixels per character of body text


def _words(text: str, left: float, right: float | None, y: int, line: int) -> list[OcrWord]:
    """The words of one line from `left`, justified up to `right` (None: natural width, left-aligned)."""
    tokens = text.split()
    widths = [CHAR * len(token) for token in tokens]
    natural_gap = CHAR
    gap = natural_gap
    if right is not None and len(tokens) > 1:
        gap = max(natural_gap, (right - left - sum(widths)) / (len(tokens) - 1))
    words, x = [], left
    for token, width in zip(tokens, widths, strict=True):
        words.append(OcrWord(token, 90.0, (round(x), y, width, 40), 0, line))
        x += width + gap
    return words


def _centred(text: str) -> tuple[float, None]:
    width = CHAR * len(text)
    return (LEFT + RIGHT - width) / 2, None


def _page(lines: list[tuple[str, float, float | None]], index: int = 0) -> PageResult:
    """A page whose lines are (text, left, right-or-None); the text is the lines joined."""
    words: list[OcrWord] = []
    for k, (text, left, right) in enumerate(lines):
        words += _words(text, left, right, 200 + 70 * k, k)
    text = "\n".join(text for text, _, _ in lines)
    return PageResult(index, WIDTH, HEIGHT, 300.0, [], words, text, text)


_HEADER = [
    ("ỦY BAN NHÂN DÂN", LEFT + 100, None),
    ("HUYỆN ĐỨC TRỌNG", LEFT + 110, None),
    ("Số: 301/QĐ-UBND", LEFT + 100, None),
    ("Đức Trọng, ngày 11 tháng 5 năm 2019", LEFT + 1000, None),
]
_BODY = [
    ("Ủy ban nhân dân huyện đã triển khai các nhiệm vụ được giao trong năm qua", LEFT + INDENT, RIGHT),
    ("và đạt được một số kết quả quan trọng trên nhiều lĩnh vực kinh tế xã hội", LEFT, RIGHT),
    ("tuy nhiên vẫn còn những hạn chế cần được khắc phục kịp thời trong thời gian", LEFT, RIGHT),
    ("tới để bảo đảm hoàn thành các chỉ tiêu kế hoạch đã đề ra cho cả giai đoạn", LEFT, RIGHT),
    ("Chủ tịch Ủy ban nhân dân huyện yêu cầu:", LEFT + INDENT, None),
    ("1. Các phòng, ban chuyên môn rà soát và báo cáo kết quả thực hiện trước ngày", LEFT + INDENT, RIGHT),
    ("30/6/2019 để tổng hợp báo cáo Ủy ban nhân dân huyện theo quy định hiện hành", LEFT, RIGHT),
]


def _title_page(summary: list[str]) -> PageResult:
    title = [("CHỈ THỊ", *_centred("CHỈ THỊ"))] + [(line, *_centred(line)) for line in summary]
    return _page([*_HEADER, *title, *_BODY])


def test_extract_layout_indented_body_line_is_not_the_title() -> None:
    # the summary ends on "của", so the text alone would glue the capitalised first body line to it
    page = _title_page(["Về việc chấn chỉnh công tác quản lý của"])
    record = extract_record(page.text, [page])
    assert record.document.subject == "Về việc chấn chỉnh công tác quản lý của"
    assert extract_record(page.text).document.subject != record.document.subject


def test_extract_layout_centred_line_continues_the_title() -> None:
    # "tổ chức" can end a phrase, so the text alone would stop the summary at the capitalised line
    page = _title_page(["Về việc phê duyệt Kế hoạch tổ chức", "Hội nghị tổng kết năm 2019"])
    record = extract_record(page.text, [page])
    assert record.document.subject == "Về việc phê duyệt Kế hoạch tổ chức Hội nghị tổng kết năm 2019"
    assert extract_record(page.text).document.subject == "Về việc phê duyệt Kế hoạch tổ chức"


def test_extract_layout_centred_line_continues_even_on_a_body_opening_word() -> None:
    # "trong …" often opens a body paragraph, so the text alone ends the summary before it
    page = _title_page(["Về việc tăng cường phòng, chống dịch bệnh", "trong mùa mưa lũ năm 2019"])
    assert extract_record(page.text, [page]).document.subject == (
        "Về việc tăng cường phòng, chống dịch bệnh trong mùa mưa lũ năm 2019")
    assert extract_record(page.text).document.subject == "Về việc tăng cường phòng, chống dịch bệnh"


def test_extract_layout_summary_wrapped_to_nearly_the_column_width_continues_the_title() -> None:
    # a long summary set almost as wide as the column (4 % margins, still symmetric); the body's first line
    # opens on "Ngày …", a word that ends a summary when the text alone decides
    margin = 0.04 * (RIGHT - LEFT)
    summary = [("Kết luận của Phó Chủ tịch tại cuộc họp nghe báo cáo về tình hình thực hiện", LEFT + margin,
                RIGHT - margin),
               ("công tác cổ phần hóa Công ty và nhiệm vụ trọng tâm trong thời gian đến", LEFT + margin,
                RIGHT - margin)]
    body = [("Ngày 03/01/2025, Phó Chủ tịch chủ trì họp nghe báo cáo về tình hình thực hiện", LEFT + INDENT,
             RIGHT), *_BODY[1:]]
    page = _page([*_HEADER, ("THÔNG BÁO", *_centred("THÔNG BÁO")), *summary, *body])
    subject = extract_record(page.text, [page]).document.subject
    assert subject == ("Kết luận của Phó Chủ tịch tại cuộc họp nghe báo cáo về tình hình thực hiện công tác cổ "
                       "phần hóa Công ty và nhiệm vụ trọng tâm trong thời gian đến")
    geometry = line_geometry(DocumentText.from_text(page.text), [page])
    justified = len(_HEADER) + 1 + len(summary) + 1  # the body's second line, flush with both margins
    assert not geometry[justified].is_centred()


def test_extract_layout_line_centred_under_the_title_continues_it_when_the_column_is_off_centre() -> None:
    # the title block sits 110 px right of the column's middle (a stamp or notes widened the left margin):
    # its second summary line is centred under the title, not in the column
    shift = 110
    title = [(text, left + shift, None) for text, (left, _) in
             (("CHỈ THỊ", _centred("CHỈ THỊ")),
              ("Về việc tăng cường công tác thi hành án hành chính", _centred("Về việc tăng cường công tác thi "
                                                                               "hành án hành chính")),
              ("trên địa bàn tỉnh", _centred("trên địa bàn tỉnh")))]
    page = _page([*_HEADER, *title, *_BODY])
    assert extract_record(page.text, [page]).document.subject == (
        "Về việc tăng cường công tác thi hành án hành chính trên địa bàn tỉnh")
    geometry = line_geometry(DocumentText.from_text(page.text), [page])
    summary_end = len(_HEADER) + 2
    assert not geometry[summary_end].is_centred()
    assert geometry[summary_end].is_centred_under(geometry[len(_HEADER)])
    assert not geometry[summary_end + 1].is_centred_under(geometry[len(_HEADER)])  # the indented body line


def _stamped_title_page(first: tuple[str, float, float | None], second_left: float) -> PageResult:
    """A title whose summary's second line a receiving stamp covers at its start: OCR read a speck where its first
    words were, and the rest from `second_left`."""
    covered = '" sử dụng vốn ngoài ngân sách tại tỉnh'
    body = [("Thời gian qua, các cấp, các ngành đã có nhiều cố gắng trong lãnh đạo, chỉ đạo", LEFT + INDENT,
             RIGHT), *_BODY[1:]]
    return _page([*_HEADER, ("CHỈ THỊ", *_centred("CHỈ THỊ")), first, (covered, second_left, None), *body])


def test_extract_layout_summary_line_half_under_a_stamp_continues_the_title() -> None:
    # the second line goes on in lower case from mid-column, neither centred nor where a body line starts,
    # after a first line as wide as the column (it wrapped)
    first = "Về việc tăng cường công tác quản lý nhà nước để hỗ trợ nhà đầu tư"
    margin = 0.04 * (RIGHT - LEFT)
    left, _ = _centred("thực hiện dự án sử dụng vốn ngoài ngân sách tại tỉnh")
    lost = CHAR * len("thực hiện dự án ")
    page = _stamped_title_page((first, LEFT + margin, RIGHT - margin), left + lost)
    assert extract_record(page.text, [page]).document.subject == (
        "Về việc tăng cường công tác quản lý nhà nước để hỗ trợ nhà đầu tư sử dụng vốn ngoài ngân sách tại tỉnh")
    # the same line at a paragraph's indent is the body's
    indented = _stamped_title_page((first, LEFT + margin, RIGHT - margin), LEFT + INDENT)
    assert extract_record(indented.text, [indented]).document.subject == first
    # after a short centred line, which ended the summary, it is the body's too
    short = "Về việc tăng cường công tác quản lý"
    ended = _stamped_title_page((short, *_centred(short)), left + lost)
    assert extract_record(ended.text, [ended]).document.subject == short


@pytest.mark.parametrize(("name_left", "signer"), [(LEFT + 1210, "Hồ Đình Tùng"), (LEFT, None)])
def test_extract_layout_signer_by_position_only_in_the_right_column(name_left: float, signer: str | None) -> None:
    # the signature block under a seal: "Nơi nhận" and the titles read as specks; the last line is a name, the
    # signer's only where Decree 30 sets it, in the right column
    closing = [("Nơi Tỵ", LEFT, None), ("- Như trên;", LEFT, None), ("c3 MNL tịch", LEFT + 1150, None),
               ("ót +", LEFT + 1300, None), ("Hồ Đình Tùng", name_left, None)]
    page = _page([*_HEADER, *_BODY, *closing])
    record = extract_record(page.text, [page])
    assert (record.document.signer.name if record.document.signer else None) == signer
    text_only = extract_record(page.text).document.signer
    assert text_only is None or text_only.name is None  # the text alone cannot tell the column: no name taken


def _merged_header(second: str, right: str) -> PageResult:
    """A header whose issuer's second line OCR read on one line with what stands right of it (the motto's second
    line, garbled, or the place and date), across the gutter."""
    lines = [("ỦY BAN NHÂN DÂN", LEFT + 100, None), (f"{second} {right}", LEFT + 110, None),
             ("Số: 301/UBND-VP", LEFT + 100, None), ("V/v triển khai nhiệm vụ năm 2019", LEFT + 60, None),
             ("Kính gửi: Các phòng, ban chuyên môn.", LEFT + 500, None), *_BODY]
    page = _page(lines)
    words = [replace(w, box=(w.box[0] + 700, *w.box[1:])) if w.line == 1 and k >= len(second.split()) else w
             for w, k in zip(page.words, _ranks(page.words), strict=True)]
    return replace(page, words=words)


def _ranks(words: list[OcrWord]) -> list[int]:
    """Each word's rank in its line."""
    seen: dict[int, int] = {}
    ranks = []
    for word in words:
        ranks.append(seen.get(word.line, 0))
        seen[word.line] = ranks[-1] + 1
    return ranks


def test_extract_layout_issuer_left_of_a_garbled_motto() -> None:
    page = _merged_header("HUYỆN TĨNH GIA", "Đặc lập ~ Và —015 0066")
    assert extract_record(page.text, [page]).document.issuer == "ỦY BAN NHÂN DÂN HUYỆN TĨNH GIA"
    assert extract_record(page.text).document.issuer != "ỦY BAN NHÂN DÂN HUYỆN TĨNH GIA"  # the text cannot tell
    # the place and date right of the issuer's last line stay the place and date
    dated = _merged_header("HUYỆN TĨNH GIA", "Tĩnh Gia, ngày 16 tháng 4 năm 2020")
    assert extract_record(dated.text, [dated]).document.date == "2020-04-16"


def _closing_page() -> PageResult:
    sign_left = LEFT + 1150
    lines = [
        *_BODY,
        ("Nơi nhận:", LEFT, None),
        ("- Như trên;", LEFT, None),
        # OCR read both columns as one line: the gutter is far wider than any word space
        ("- Lưu: VT, KT. PHÓ CHỦ TỊCH", LEFT, None),
        ("- dấu đỏ", sign_left + 80, None),  # seal ink read as a dash and two words, in the signature column
        ("Nguyễn Văn Tám", sign_left + 60, None),
    ]
    page = _page(lines)
    # move the signature words of the merged line into the right column
    words = list(page.words)
    merged = [k for k, w in enumerate(words) if w.line == len(_BODY) + 2]
    for k in merged[-3:]:
        x, y, w, h = words[k].box
        words[k] = replace(words[k], box=(x + 900, y, w, h))
    return replace(page, words=words)


def test_extract_layout_closing_columns_split_by_position() -> None:
    page = _closing_page()
    record = extract_record(page.text, [page])
    assert record.document.distribution == ["Như trên", "Lưu: VT, KT"]
    assert record.document.signer is not None
    assert record.document.signer.title == "PHÓ CHỦ TỊCH"
    # without the boxes, "KT." looks like the signature's authority prefix and the seal's "- dấu đỏ" like an item
    assert extract_record(page.text).document.distribution == ["Như trên", "Lưu: VT", "dấu đỏ"]


def _rotate_quarter(page: PageResult) -> PageResult:
    """The same page scanned sideways: boxes in the original (rotated) pixels, as OCR reports them."""
    words = [replace(w, box=(w.box[1], WIDTH - w.box[0] - w.box[2], w.box[3], w.box[2])) for w in page.words]
    return replace(page, width=HEIGHT, height=WIDTH, words=words)


def test_extract_layout_sideways_scan_reads_the_same() -> None:
    page = _rotate_quarter(_title_page(["Về việc chấn chỉnh công tác quản lý của"]))
    assert extract_record(page.text, [page]).document.subject == "Về việc chấn chỉnh công tác quản lý của"
    closing = _rotate_quarter(_closing_page())
    assert extract_record(closing.text, [closing]).document.distribution == ["Như trên", "Lưu: VT, KT"]


def test_extract_layout_needs_words_that_match_the_text() -> None:
    page = _title_page(["Về việc chấn chỉnh công tác quản lý của"])
    doc = DocumentText.from_text(page.text)
    geometry = line_geometry(doc, [page])
    assert len(geometry) == len(doc.lines)
    title, first_body = len(_HEADER) + 1, len(_HEADER) + 2
    assert geometry[title].is_centred() and not geometry[first_body].is_centred()
    # a word missing from the boxes, a different text, or a page count that differs: no geometry, no crash
    assert line_geometry(doc, [replace(page, words=page.words[:-1])]) == {}
    assert line_geometry(DocumentText.from_text(page.text + "\nthêm"), [page]) == {}
    assert line_geometry(doc, [page, page]) == {}
    text_only = extract_record(page.text, [replace(page, words=[])]).document.subject
    assert text_only == extract_record(page.text).document.subject
    assert text_only is not None and text_only.startswith("Về việc chấn chỉnh công tác quản lý của")


_BOX = st.tuples(st.integers(-50, 5000), st.integers(-50, 5000), st.integers(0, 3000), st.integers(0, 300))


_CITATION = "Căn cứ Quyết định số 539/QĐ-UBND ngày 02/4/2020, hoàn thành trước ngày 30/4/2020."


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.lists(st.tuples(st.sampled_from(["Nơi", "nhận:", "-", "KT.", "CHỦ", "TỊCH", "Về", "việc",
                                                          "x", "1.", "Số:", "12/UBND"]), _BOX),
                               min_size=0, max_size=8), min_size=0, max_size=30))
def test_extract_layout_any_boxes_give_a_record(lines: list[list[tuple[str, tuple[int, int, int, int]]]]) -> None:
    """Boxes anywhere (overlapping, empty, out of the page, reversed order) never break extraction, and what the
    text says outside the header is read whatever the boxes around it."""
    text = "\n".join([*(" ".join(word for word, _ in line) for line in lines), _CITATION])
    words = [OcrWord(word, 50.0, box, 0, k) for k, line in enumerate(lines) for word, box in line]
    words += _words(_CITATION, LEFT + INDENT, RIGHT, 3300, len(lines))
    page = PageResult(0, WIDTH, HEIGHT, 300.0, [], words, text, text)
    record = extract_record(text, [page])
    jsonschema.validate(json.loads(json.dumps(record.to_dict(), ensure_ascii=False)), record_schema())
    assert ("539/QĐ-UBND", "2020-04-02") in [(r.code, r.date) for r in record.references]
    assert ("deadline", "2020-04-30") in [(d.kind, d.value) for d in record.dates]
