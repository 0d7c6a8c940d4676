"""The driver's per-page source: born-digital pages from their text layer (no OCR, no restoration), scans by
OCR, old OCR layers restored and compared; signatures into the record; the whole pipeline on an e-signed PDF."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
from born_digital_fixtures import CENTRE, SIGNER, dispatch, esigned_pdf
from fakes_run import FAKE_STAGES, write_fake_scan

from pipeline.extract import record_schema
from pipeline.run import ProcessOptions, process_inputs
from pipeline.types import PageImage


def _process(inputs: list[Path], out: Path, **options: object):  # type: ignore[no-untyped-def]
    stages = options.pop("stages", FAKE_STAGES)
    return process_inputs(inputs, ProcessOptions(out_dir=out, jobs=2, **options), stages=stages)  # type: ignore[arg-type]


def _pages(out: Path, name: str) -> list[dict]:
    return json.loads((out / f"{name}.json").read_text(encoding="utf-8"))["pages"]


def _never_loaded(path: Path, index: int) -> PageImage:
    raise AssertionError("a born-digital page must not be rendered for OCR")


def test_run_sources_born_digital_page_is_read_from_its_layer_without_ocr(tmp_path: Path) -> None:
    scan = write_fake_scan(tmp_path / "mixed.pdf", ["ocr reading one", "ocr reading two"],
                           layer=["Số: 12/KH-UBND\nnong thon moi tai xa", None])
    stages = dataclasses.replace(FAKE_STAGES, load_page=_never_loaded)
    summary = _process([scan], tmp_path / "out", stages=stages, restore=True)
    assert summary.exit_code == 1  # page 2 has no layer: it needs the page image, which this test refuses
    summary = _process([scan], tmp_path / "out", force=True)
    assert summary.exit_code == 0
    first, second = _pages(tmp_path / "out", "mixed")
    assert first["source"] == "text-layer" and second["source"] == "ocr"
    # exact text is never "restored" (the fake restoration would make nong → nông)
    assert first["raw_text"] == first["text"] == "Số: 12/KH-UBND\nnong thon moi tai xa"
    assert first["tokens"] is None and first["preprocessing"] == []
    assert [(w["text"], w["confidence"]) for w in first["words"][:2]] == [("Số:", 100.0), ("12/KH-UBND", 100.0)]
    evidence = first["source_evidence"]
    assert evidence["layer_chars"] == 29 and evidence["visible_share"] == 1.0 and evidence["ink_covered"] == 1.0
    assert second["raw_text"] == "ocr reading two" and second["source_evidence"]["reason"] == "no text layer"


def test_run_sources_only_born_digital_pages_skip_ocr(tmp_path: Path) -> None:
    scan = write_fake_scan(tmp_path / "digital.pdf", ["ocr reading"], layer=["Số: 12/KH-UBND\nnong thon moi tai xa"])
    stages = dataclasses.replace(FAKE_STAGES, load_page=_never_loaded)
    assert _process([scan], tmp_path / "out", stages=stages).exit_code == 0
    (page,) = _pages(tmp_path / "out", "digital")
    assert page["source"] == "text-layer"


def test_run_sources_old_ocr_layer_loses_to_a_confident_fresh_ocr(tmp_path: Path) -> None:
    scan = write_fake_scan(tmp_path / "old.pdf", ["nong thon moi"], legacy=["nong thon mol cua xa Huu Lung"])
    _process([scan], tmp_path / "out")
    (page,) = _pages(tmp_path / "out", "old")
    assert page["source"] == "ocr" and page["raw_text"] == "nong thon moi"
    evidence = page["source_evidence"]
    assert evidence["ocr_score"] == 0.91 and evidence["legacy_score"] == 0.9  # the fakes' confidences
    assert evidence["reason"] == "fresh OCR reads better than the restored old layer"
    assert page["legacy_text"] == "nong thon mol cua xa Huu Lung"


def test_run_sources_signatures_reach_the_record(tmp_path: Path) -> None:
    scan = write_fake_scan(tmp_path / "signed.pdf", ["Số: 12/KH-UBND"],
                           signatures=[{"name": "Trần Văn Bình", "time": "D:20200416173049+07'00'", "page": 0}])
    _process([scan], tmp_path / "out")
    record = json.loads((tmp_path / "out" / "signed.json").read_text(encoding="utf-8"))["record"]
    assert record["signatures"] == [{"signer": "Trần Văn Bình", "organisation": None, "email": None,
                                     "time": "2020-04-16T17:30:49+07:00", "source": "dictionary", "page": 0,
                                     "verified": False}]


def test_run_sources_esigned_pdf_through_the_whole_pipeline(tmp_path: Path) -> None:
    """Real stages: the number and the day exist only as signature-widget appearances; the page is read from
    its layer, the record has them, its signatures and no stamp text; the searchable PDF carries the words."""
    path = esigned_pdf(tmp_path / "in" / "signed.pdf")
    fixture = dispatch()
    summary = process_inputs([path], ProcessOptions(out_dir=tmp_path / "out", jobs=1, pdf=True))
    assert summary.exit_code == 0, [str(o.error) for o in summary.outcomes]
    data = json.loads((tmp_path / "out" / "signed.json").read_text(encoding="utf-8"))
    (page,) = data["pages"]
    assert page["source"] == "text-layer" and page["preprocessing"] == []  # no OCR stages ran
    record = data["record"]
    document = record["document"]
    assert document["number"] == fixture.number and document["code"].startswith(f"{fixture.number}/")
    assert document["date"] is not None and document["date"].endswith(f"-{int(fixture.day):02d}")
    assert [(s["signer"], s["organisation"], s["source"]) for s in record["signatures"]] == [
        (SIGNER, "ỦY BAN NHÂN DÂN TỈNH LẠNG SƠN", "dictionary")] * 3 + [(None, CENTRE, "both")]
    jsonschema.validate(record, record_schema())  # signatures filled in, as the schema describes them
    assert "ttcbth" not in (tmp_path / "out" / "signed.txt").read_text(encoding="utf-8")
    # the searchable copy (OCRmyPDF leaves a page that carries its own text as it is) keeps the page's words
    import pypdfium2

    searchable = pypdfium2.PdfDocument(tmp_path / "out" / "signed.pdf")
    try:
        copied = " ".join(searchable[0].get_textpage().get_text_range().split())
    finally:
        searchable.close()
    layer_words = [w for w in page["text"].split() if len(w) > 3 and not any(c.isdigit() for c in w)][:5]
    assert layer_words and all(word in copied for word in layer_words)
