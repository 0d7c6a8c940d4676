"""Tests of bench-real-variants' page degradations (scripts/bench_real_variants.py): seeded, and each one the
change it names."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_real_variants as variants  # noqa: E402


def _page() -> np.ndarray:
    """A white A4 page at 150 dpi with a block of black text-like bars inside wide margins."""
    page = np.full((1754, 1240), 255, np.uint8)
    for row in range(300, 1400, 40):
        cv2.rectangle(page, (200, row), (1050, row + 14), 0, -1)
    return page


RANDOM_FAMILIES = ("rotated ±1.5°", "photocopy", "margin crop", "phone photo")  # those that draw from the generator


@pytest.mark.parametrize("family", RANDOM_FAMILIES)
def test_bench_real_variants_are_seeded(family: str) -> None:
    make = variants.FAMILIES[family]
    first = make(_page(), 150.0, variants._seed("doc", 0, family, 1))
    again = make(_page(), 150.0, variants._seed("doc", 0, family, 1))
    assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    # other seeds draw other pages (the rotation has two draws: some of the seeds tried turn the other way)
    others = (make(_page(), 150.0, variants._seed("doc", 0, family, seed))[0] for seed in range(2, 10))
    assert any(other.shape != first[0].shape or not np.array_equal(other, first[0]) for other in others)


def test_bench_real_variants_cache_key_follows_family_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    before = variants._key(1)
    assert variants._key(2).digest != before.digest
    monkeypatch.setitem(variants.FAMILIES, "150 dpi", variants.rescaled(120))  # same code, another target
    assert variants._key(1).digest != before.digest


def test_bench_real_variants_no_matching_document_exits_with_its_code(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = variants.main(["--real", str(tmp_path), "--only", "nosuchdoc", "--families", "JPEG q35",
                          "--out", str(tmp_path / "out")])
    assert code == variants.bench_real.EXIT_NO_DOCUMENTS != 0
    assert "no real document matches" in capsys.readouterr().err


def test_bench_real_variants_each_changes_the_page_as_named() -> None:
    page, rng = _page(), np.random.default_rng(0)
    assert variants.FAMILIES["150 dpi"](page, 150.0, rng)[0] is page  # already at 150 dpi: left as it is
    small, dpi = variants.FAMILIES["100 dpi"](page, 150.0, rng)
    assert small.shape == (1169, 827) and dpi == pytest.approx(100.0)
    crop, _ = variants.FAMILIES["margin crop"](page, 150.0, rng)
    assert crop.shape[0] < page.shape[0] and crop.shape[1] < page.shape[1]
    assert (crop < 128).sum() == (page < 128).sum()  # no ink cut
    photo, declared = variants.FAMILIES["phone photo"](page, 150.0, rng)
    assert declared is None and photo.ndim == 3 and photo.shape[0] > page.shape[0]
    copy, _ = variants.FAMILIES["photocopy"](page, 150.0, rng)
    margin = copy[:250, :]  # above the text: toner speckle and the streak print there
    assert (margin < 128).any() and not (page[:250, :] < 128).any()
    turned, _ = variants.FAMILIES["rotated ±1.5°"](page, 150.0, rng)
    assert turned.shape == page.shape and not np.array_equal(turned, page)
