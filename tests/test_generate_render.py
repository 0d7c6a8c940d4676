"""Tests of the sample generator's page rendering: gold text per page, layout, seal and signature."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import generate


def _without_page_number(text: str, index: int) -> str:
    first, _, rest = text.partition("\n\n")
    return rest if index > 0 and first == str(index + 1) else text


def _red_mask(image) -> np.ndarray:
    rgb = np.asarray(image.convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 150) & (r - g > 60) & (r - b > 50)


def _red_pixels(image) -> int:
    return int(_red_mask(image).sum())


@pytest.mark.parametrize("seed", range(8))
def test_generate_render_gold_text_equals_spec_modulo_wrapping(seed: int) -> None:
    rng = random.Random(seed)
    spec = generate.random_dispatch(rng, length="long" if seed % 2 else "short")
    pages = generate.render_dispatch(spec, rng=rng, dpi=100)
    joined = "\n".join(_without_page_number(page.text, k) for k, page in enumerate(pages))
    assert generate.normalize_whitespace(joined) == generate.normalize_whitespace(generate.dispatch_text(spec))
    for page in pages:
        assert page.dpi == 100 and page.image.mode == "RGB"
        assert abs(page.image.width - 210 / 25.4 * 100) <= 1 and abs(page.image.height - 297 / 25.4 * 100) <= 1
        assert page.text.strip() and page.skew == 0 and page.rotation == 0 and page.degradation == "clean300"


def test_generate_render_long_documents_break_pages_and_number_them() -> None:
    rng = random.Random(5)
    style = generate.Style(page_numbers=True)
    spec = generate.random_dispatch(rng, length="long")
    spec.body = spec.body * 3
    pages = generate.render_dispatch(spec, rng=rng, style=style, dpi=100)
    assert len(pages) >= 2
    for k, page in enumerate(pages[1:], start=1):
        assert page.text.split("\n\n")[0] == str(k + 1)
    assert pages[0].text.startswith("\n".join(spec.header_left[:1]))
    assert spec.signature[-1] in pages[-1].text and spec.signature[-1] not in pages[0].text


def test_generate_render_header_blocks_in_reading_order() -> None:
    rng = random.Random(8)
    spec = generate.random_dispatch(rng, kind="cong_van")
    page = generate.render_dispatch(spec, rng=rng, dpi=100)[0]
    left, right = page.text.split("\n\n")[:2]
    assert generate.normalize_whitespace(left) == generate.normalize_whitespace("\n".join(spec.header_left))
    assert right.splitlines() == spec.header_right


def test_generate_render_seal_is_red_and_on_the_signature_page() -> None:
    rng = random.Random(2)
    spec = generate.random_dispatch(rng, length="long")
    spec.body = spec.body * 2
    pages = generate.render_dispatch(spec, rng=rng, dpi=100)
    assert len(pages) >= 2
    assert _red_pixels(pages[-1].image) > 1000
    assert _red_pixels(pages[0].image) == 0
    _ys, xs = np.nonzero(_red_mask(pages[-1].image))
    assert xs.mean() > pages[-1].image.width * 0.5  # beside the signature, in the right half


def test_generate_render_uses_fonts_with_vietnamese_glyphs() -> None:
    families = generate.available_font_families()
    assert "Liberation Serif" in families and len(families) >= 3
    styles = {generate.random_style(random.Random(seed)).family for seed in range(40)}
    assert len(styles) >= 3 and styles <= set(families)


def test_generate_stamp_keeps_black_text_black() -> None:
    page = np.full((40, 40, 3), 255.0, dtype=np.float32)
    page[10:30, 18:22] = 0.0  # a black stroke
    generate.stamp(page, np.ones((40, 40), dtype=np.float32), (220, 30, 40), (20, 20))
    assert page[15, 20].tolist() == [0.0, 0.0, 0.0]
    assert page[5, 5, 0] > 200 and page[5, 5, 1] < 60  # paper turns red
