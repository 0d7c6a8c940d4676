"""Searchable PDF: page image plus invisible restored words, upright pages, text found again by pypdfium2."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pypdfium2
import pytest

from pipeline.archive.files import write_atomic
from pipeline.archive.pdf import _turn_box, merge_pdfs, page_pdf, quarter_turns
from pipeline.types import OcrWord, PageResult, RestoredToken

RESTORED = ["Xây", "dựng", "nông", "thôn", "mới", "Số:", "539/QĐ-UBND"]


def _page(boxes, restored=RESTORED, raw=("Xay", "dung", "nong", "thon", "moi", "So:", "539/QD-UBND")):
    lines = [0, 0, 0, 0, 0, 1, 1]
    words = [OcrWord(text, 90.0, box, 0, line) for text, box, line in zip(raw, boxes, lines, strict=True)]
    tokens = [RestoredToken(w.text, r, 0.9) for w, r in zip(words, restored, strict=True)]
    return PageResult(0, 400, 200, 100.0, [], words, " ".join(raw), " ".join(restored), tokens=tokens)


HORIZONTAL = [(10, 20, 40, 16), (56, 20, 46, 16), (108, 20, 48, 16), (162, 20, 46, 16), (214, 20, 36, 16),
              (10, 60, 34, 16), (50, 60, 120, 16)]


def _text(data: bytes) -> list[str]:
    pdf = pypdfium2.PdfDocument(data)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def test_archive_pdf_restored_words_are_searchable():
    image = np.full((200, 400, 3), 255, dtype=np.uint8)
    data = page_pdf(image, 100.0, _page(HORIZONTAL))
    (text,) = _text(data)
    assert "Xây dựng nông thôn mới" in text and "539/QĐ-UBND" in text and "Xay" not in text
    pdf = pypdfium2.PdfDocument(data)
    assert tuple(round(v) for v in pdf[0].get_size()) == (288, 144)  # 400×200 px at 100 dpi
    pdf.close()


def test_archive_pdf_merged_token_widens_previous_word():
    restored = ["Xây", "dựng", "nông thôn", "", "mới", "Số:", "539/QĐ-UBND"]
    (text,) = _text(page_pdf(np.full((200, 400), 255, dtype=np.uint8), 100.0, _page(HORIZONTAL, restored)))
    assert "nông thôn mới" in text


def test_archive_pdf_rotated_page_is_upright_with_text_in_order():
    # the page was scanned sideways: the original is 400 wide, 200 high and its words run downwards
    turned = [_turn_box(box, 3, 400, 200) for box in HORIZONTAL]  # where the words lie on the sideways scan
    sideways = np.full((400, 200), 255, dtype=np.uint8)
    data = page_pdf(sideways, 100.0, _page(turned), turns=1)
    (text,) = _text(data)
    assert "Xây dựng nông thôn mới" in text
    pdf = pypdfium2.PdfDocument(data)
    assert tuple(round(v) for v in pdf[0].get_size()) == (288, 144)
    pdf.close()


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_archive_pdf_turn_box_round_trip(turns):
    box = (10, 20, 30, 5)
    width, height = 400, 200
    turned = _turn_box(box, turns, width, height)
    size = (width, height) if turns % 2 == 0 else (height, width)
    assert _turn_box(turned, (4 - turns) % 4, *size) == box


@pytest.mark.parametrize(
    ("matrix", "expected"),
    [((1, 0, 0, 0, 1, 0), 0), ((0, -1, 3507, 1, 0, 0), 1), ((-1, 0, 99, 0, -1, 99), 2), ((0, 1, 0, -1, 0, 99), 3),
     ((0.5 * math.cos(0.01), -0.5 * math.sin(0.01), 0, 0.5 * math.sin(0.01), 0.5 * math.cos(0.01), 0), 0)],
)
def test_archive_pdf_quarter_turns_from_affine(matrix, expected):
    assert quarter_turns(matrix) == expected


def test_archive_pdf_page_without_word_boxes_stays_searchable():
    page = PageResult(0, 400, 200, 100.0, [], [], "nong thon moi", "Xây dựng nông thôn mới\nSố: 5/KH-UBND")
    (text,) = _text(page_pdf(np.full((200, 400), 255, dtype=np.uint8), 100.0, page))
    assert "nông thôn mới" in text and "5/KH-UBND" in text


def test_archive_pdf_merge_keeps_page_order(tmp_path):
    parts = []
    for number, word in enumerate(["một", "hai", "ba"]):
        page = PageResult(0, 100, 100, 100.0, [], [OcrWord(word, 90, (5, 5, 30, 10), 0, 0)], word, word)
        path = tmp_path / f"{number}.pdf"
        path.write_bytes(page_pdf(np.full((100, 100), 255, dtype=np.uint8), 100.0, page))
        parts.append(path)
    assert [t.strip() for t in _text(merge_pdfs(parts))] == ["một", "hai", "ba"]


def test_archive_pdf_results_are_ordinary_files(tmp_path):
    target = tmp_path / "out.pdf"
    write_atomic(target, b"%PDF")
    mode = stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
