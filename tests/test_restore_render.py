"""Tests of the training and benchmark pages (build_tools/restore): every degradation moves the line
boxes with the pixels, OCR words land on their lines, the OCR cache is keyed by what changes results,
and born-digital PDFs give their text layer's lines where the page shows them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from build_tools.restore import render
from build_tools.restore.real_layouts import layout_page, text_lines
from build_tools.restore.render import DEGRADATIONS, Page, PageSpec, assign_words, degrade, typeset

LINES = ("Ủy ban nhân dân tỉnh Lạng Sơn", "Kế hoạch xây dựng nông thôn mới năm 2025", "Sở Tài chính chủ trì")
SPEC = PageSpec(LINES, "Liberation Serif", False, 14.0, 1.5, False, "scan", "vie", 4, 3)


def _ink_inside(page: Page) -> float:
    """Share of the page's dark pixels that lie inside one of its line boxes."""
    import cv2

    inside = np.zeros(page.image.shape, np.uint8)
    for quad in page.quads:
        cv2.fillConvexPoly(inside, np.round(quad).astype(np.int32), 1)
    # dark against the local background: photos have a darker border and uneven light
    background = cv2.medianBlur(page.image, 31).astype(np.int32)
    dark = page.image.astype(np.int32) < background - 60
    # around the text only: specks and edge shadows elsewhere on the page say nothing about the boxes
    (x0, y0), (x1, y1) = page.quads.reshape(-1, 2).min(axis=0), page.quads.reshape(-1, 2).max(axis=0)
    pad = (y1 - y0) / 2
    near = np.zeros(page.image.shape, bool)
    near[max(0, int(y0 - pad)) : int(y1 + pad), max(0, int(x0 - pad)) : int(x1 + pad)] = True
    dark &= near
    return float(inside[dark].mean()) if dark.any() else 0.0


def test_restore_render_typesets_lines_in_their_boxes() -> None:
    page = typeset(SPEC)
    assert page.lines == list(LINES)
    assert page.quads.shape == (3, 4, 2)
    assert _ink_inside(page) > 0.99


@pytest.mark.parametrize("degradation", sorted(DEGRADATIONS))
def test_restore_render_degradations_move_boxes_with_the_pixels(degradation: str) -> None:
    page, params = degrade(typeset(SPEC), degradation, seed=11)
    assert page.image.dtype == np.uint8
    assert params
    assert _ink_inside(page) > 0.9, degradation


def test_restore_render_words_land_on_their_lines() -> None:
    page, _ = degrade(typeset(SPEC), "phone_photo", seed=5)
    # Tesseract-like rows: each line's text as one word at the centre of its (warped) box
    rows = []
    for text, quad in zip(page.lines, page.quads, strict=True):
        left, top = quad.min(axis=0)
        right, bottom = quad.max(axis=0)
        for k, word in enumerate(text.split()):
            x = left + (right - left) * (k + 0.5) / len(text.split())
            rows.append({"left": str(x - 2), "top": str(top + (bottom - top) * 0.3), "width": "4",
                         "height": str((bottom - top) * 0.4), "text": word, "conf": "90"})  # fmt: skip
    rows.reverse()  # the order Tesseract gives must not matter
    lines = assign_words(page, rows)
    assert [line.observed for line in lines] == list(LINES)
    assert all(line.confidences == (90.0,) * len(line.observed.split()) for line in lines)


def test_restore_render_ocr_reads_the_lines_and_caches_them(tmp_path: Path) -> None:
    result, cached = render.cached_ocr(SPEC, tmp_path)
    assert not cached
    for line in result.lines:
        assert Levenshtein.normalized_distance(line.intended, line.observed) < 0.2, line
    again, cached = render.cached_ocr(SPEC, tmp_path)
    assert cached and again.lines == result.lines
    # another page segmentation mode or Tesseract version is another cache entry
    _, cached = render.cached_ocr(dataclasses.replace(SPEC, psm=6), tmp_path)
    assert not cached


def test_restore_render_cache_key_follows_tesseract(monkeypatch: pytest.MonkeyPatch) -> None:
    key = render.ocr_key("page", render.traineddata_hash("eng"))
    monkeypatch.setattr(render, "tesseract_version", lambda: "tesseract 0.0-other")
    assert render.ocr_key("page", render.traineddata_hash("eng")) != key
    assert render.traineddata_hash("eng") != render.traineddata_hash("vie")


def test_restore_render_real_layout_lines_from_a_text_layer(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("Serif", str(render.FONT_DIR / render.font_path("Tinos", False))))
    pdf = tmp_path / "born_digital.pdf"
    sheet = canvas.Canvas(str(pdf), pagesize=A4)
    sheet.setFont("Serif", 13)
    for k, line in enumerate(LINES):
        sheet.drawString(90, 760 - 30 * k, line)
    sheet.save()
    assert [text for text, _ in text_lines(pdf)[0]] == list(LINES)
    page = layout_page(pdf, 0)
    assert page.lines == list(LINES)
    assert _ink_inside(page) > 0.95
