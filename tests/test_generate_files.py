"""Tests of the sample generator's file writers, gold files and the committed sample set."""

from __future__ import annotations

import json
import random
import sys
from functools import lru_cache
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "samples"))
import generate  # noqa: E402

from pipeline.ingest import INPUT_SUFFIXES  # noqa: E402


@lru_cache(maxsize=1)
def _pages() -> tuple[generate.Dispatch, list[generate.RenderedPage]]:
    rng = random.Random(21)
    spec = generate.random_dispatch(rng, length="long")
    spec.body = spec.body * 2
    pages = generate.render_dispatch(spec, rng=rng, dpi=100)
    assert len(pages) >= 2
    return spec, pages


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_generate_files_image_carries_dpi(tmp_path: Path, suffix: str) -> None:
    page = generate.degrade(_pages()[1][0], "dpi75", random.Random(3))
    path = generate.write_image(page, tmp_path / f"page{suffix}")
    with Image.open(path) as image:
        assert image.size == page.image.size
        assert [round(v) for v in image.info["dpi"]] == [round(page.dpi)] * 2


def test_generate_files_jpeg_class_written_as_its_own_jpeg(tmp_path: Path) -> None:
    page = generate.degrade(_pages()[1][0], "jpeg", random.Random(3))
    path = generate.write_image(page, tmp_path / "page.jpg")
    assert path.read_bytes() == page.jpeg


def test_generate_files_tiff_multipage(tmp_path: Path) -> None:
    _, pages = _pages()
    path = generate.write_tiff(pages, tmp_path / "doc.tif")
    with Image.open(path) as image:
        assert image.n_frames == len(pages)
        for k in range(len(pages)):
            image.seek(k)
            assert image.size == pages[k].image.size and [round(v) for v in image.info["dpi"]] == [100, 100]


def test_generate_files_pdf_pages_at_their_dpi(tmp_path: Path) -> None:
    _, pages = _pages()
    path = generate.write_pdf(pages, tmp_path / "doc.pdf")
    pdf = pdfium.PdfDocument(str(path))
    assert len(pdf) == len(pages)
    width, height = pdf[0].get_size()
    assert abs(width - pages[0].image.width * 72 / 100) < 0.5 and abs(height - pages[0].image.height * 72 / 100) < 0.5
    assert pdf[0].get_textpage().get_text_range().strip() == ""  # image only


def test_generate_files_pdf_with_old_garbled_text_layer(tmp_path: Path) -> None:
    _, pages = _pages()
    layers = [generate.legacy_ocr_text(page) for page in pages[:1]]
    assert layers[0] != pages[0].text and len(layers[0]) >= 0.8 * len(pages[0].text)
    assert not any(ch in layers[0] for ch in "ơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ")
    path = generate.write_pdf(pages[:1], tmp_path / "old.pdf", text_layers=layers)
    pdf = pdfium.PdfDocument(str(path))
    for k, layer in enumerate(layers):
        extracted = pdf[k].get_textpage().get_text_range()
        assert generate.normalize_whitespace(extracted) == generate.normalize_whitespace(layer)


def test_generate_files_owner_password_pdf_opens_without_password(tmp_path: Path) -> None:
    _, pages = _pages()
    path = generate.write_pdf(pages[:1], tmp_path / "locked.pdf", owner_password="secret")
    with pikepdf.open(path) as pdf:  # no password needed
        assert pdf.is_encrypted and len(pdf.pages) == 1
        assert pdf.allow.print_highres and not pdf.allow.modify_other
    with pikepdf.open(path, password="secret") as pdf:  # the owner password unlocks everything
        assert pdf.owner_password_matched
    assert len(pdfium.PdfDocument(str(path))) == 1


def test_generate_files_gold_json_next_to_document(tmp_path: Path) -> None:
    spec, pages = _pages()
    damaged = [generate.degrade(page, "dpi150", random.Random(k)) for k, page in enumerate(pages)]
    path = generate.write_document(damaged, tmp_path, "doc", "tif", spec, random.Random(0))
    gold = json.loads(generate.gold_path(path).read_text(encoding="utf-8"))
    assert generate.gold_path(path).name == "doc.gold.json"
    assert generate.Dispatch.from_json(gold["spec"]) == spec
    assert [p["text"] for p in gold["pages"]] == [p.text for p in pages]
    assert all(p["degradation"] == "dpi150" and p["dpi"] == 150 for p in gold["pages"])


def test_generate_files_cli_writes_requested_classes(tmp_path: Path) -> None:
    assert generate.main(["--out", str(tmp_path), "--count", "2", "--classes", "dpi75", "rotated", "--seed", "3",
                          "--dpi", "100"]) == 0
    golds = sorted(tmp_path.glob("*.gold.json"))
    assert len(golds) == 2
    assert [json.loads(p.read_text())["pages"][0]["degradation"] for p in golds] == ["dpi75", "rotated"]


def _committed_inputs() -> list[Path]:
    return sorted(p for p in (ROOT / "samples").rglob("*")
                  if p.suffix.lower() in INPUT_SUFFIXES and "documents" not in p.relative_to(ROOT / "samples").parts)


def test_generate_files_committed_samples_have_gold_and_stay_small() -> None:
    inputs = _committed_inputs()
    assert len(inputs) >= 8
    total_pages = 0
    for path in inputs:
        gold = json.loads(generate.gold_path(path).read_text(encoding="utf-8"))
        pages = gold["pages"]
        total_pages += len(pages)
        if path.suffix == ".pdf":
            assert len(pdfium.PdfDocument(str(path))) == len(pages)
        else:
            with Image.open(path) as image:
                assert getattr(image, "n_frames", 1) == len(pages)
                assert round(image.info["dpi"][0]) == round(pages[0]["dpi"])
    assert total_pages <= 15
    covered = {p["degradation"] for path in inputs for p in json.loads(generate.gold_path(path).read_text())["pages"]}
    assert covered == set(generate.DEGRADATIONS)
    size = sum(p.stat().st_size for p in (ROOT / "samples").rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert size <= 10 * 1024 * 1024
