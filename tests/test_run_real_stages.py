"""The real stages end to end (no fakes): a batch of a multi-page PDF and a multi-page TIFF from samples/ through
`congvan process`, `--text-layer` on a PDF with an old OCR layer, an OCR timeout inside the driver, Dask with
worker processes, and the `extract` and `schema` commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest
from components import require_file, require_module, require_program
from PIL import Image, TiffImagePlugin
from scan_images import FONT_PATHS

from pipeline.archive import open_archive
from pipeline.archive.search import search
from pipeline.cli import main
from pipeline.eval.metrics import bag_of_words, cer
from pipeline.extract import record_schema
from pipeline.run import ProcessOptions, process_inputs

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DOCUMENTS = SAMPLES / "documents"
FADED_PDF = SAMPLES / "08_ke_hoach_fade.pdf"  # two pages, image only
OLD_OCR_PDF = SAMPLES / "09_thong_bao_tu_seal_over_text_oldocr.pdf"  # one page with an English-model text layer

require_program("tesseract", "make setup: apt-get install tesseract-ocr tesseract-ocr-vie")
require_file(FONT_PATHS[0], "make setup: apt-get install fonts-dejavu-core")


def _gold(path: Path) -> dict:
    return json.loads(path.with_name(f"{path.stem}.gold.json").read_text(encoding="utf-8"))


def _top(source: Path) -> tuple[Image.Image, int]:
    """The top three tenths of a sample's first page (its header: quick to read), and its DPI."""
    with Image.open(source) as image:
        return image.convert("L").crop((0, 0, image.width, image.height * 3 // 10)), round(image.info["dpi"][0])


def _header_tiff(path: Path) -> Path:
    """A small two-page TIFF whose pages have different resolutions: the top of the 150-dpi report of
    samples/06 and the top of the 300-dpi công văn of samples/01 (each page keeps its own DPI)."""
    with TiffImagePlugin.AppendingTiffWriter(str(path), new=True) as tiff:
        for source in (SAMPLES / "06_bao_cao_dpi150.tif", SAMPLES / "01_cong_van_clean300.png"):
            top, dpi = _top(source)
            top.save(tiff, format="TIFF", dpi=(dpi, dpi), compression="tiff_adobe_deflate")
            tiff.newFrame()
    return path


def _header_png(source: Path, path: Path) -> Path:
    top, dpi = _top(source)
    top.save(path, dpi=(dpi, dpi))
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """`congvan process` over a folder of both files, with an archive, as a user runs it."""
    work = tmp_path_factory.mktemp("real")
    scans = work / "scans"
    scans.mkdir()
    (scans / FADED_PDF.name).write_bytes(FADED_PDF.read_bytes())
    _header_tiff(scans / "headers.tif")
    code = main(["process", str(scans), "--out", str(work / "out"), "--db", str(work / "archive.db"), "--jobs", "2"])
    return work, code


def test_run_real_batch_pdf_pages_read_and_restored(batch):
    work, code = batch
    assert code == 0
    data = json.loads((work / "out" / "08_ke_hoach_fade.json").read_text(encoding="utf-8"))
    gold = _gold(FADED_PDF)
    assert [page["index"] for page in data["pages"]] == [0, 1]
    for page, truth in zip(data["pages"], gold["pages"], strict=True):
        assert cer(truth["text"], page["text"]).rate < 0.02, page["text"][:300]
        assert page["words"] and all(0 <= w["confidence"] <= 100 for w in page["words"])
    text = (work / "out" / "08_ke_hoach_fade.txt").read_text(encoding="utf-8")
    assert text.split("\f") == [page["text"] for page in data["pages"]]
    assert data["record"]["document"]["code"] == "894/KH-SLĐTBXH"
    assert data["record"]["document"]["issuer"] == "SỞ LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI"


def test_run_real_batch_tiff_pages_keep_their_resolution(batch):
    work, _ = batch
    data = json.loads((work / "out" / "headers.json").read_text(encoding="utf-8"))
    assert [page["dpi"] for page in data["pages"]] == [150.0, 300.0]
    first, second = (page["text"] for page in data["pages"])
    assert "Số: 42/BC-UBND" in first and "THÀNH PHỐ HÀ NỘI" in first
    assert "Số: 3192/UBND-XD" in second and "HUYỆN NGHI LỘC" in second
    assert data["record"]["document"]["code"] == "42/BC-UBND"


def test_run_real_batch_archive_finds_both_documents(batch):
    work, _ = batch
    with open_archive(work / "archive.db", create=False) as archive:
        assert archive.count_documents() == 2
        assert [hit.code for hit in search(archive, "894/KH-SLĐTBXH")] == ["894/KH-SLĐTBXH"]
        assert [hit.code for hit in search(archive, "894 kh sldtbxh")] == ["894/KH-SLĐTBXH"]
        hits = search(archive, "3192/UBND-XD")  # the second page of the TIFF, cited nowhere: found as text
        assert [(hit.code, hit.page) for hit in hits] == [("42/BC-UBND", 2)]


def test_run_real_text_layer_restores_the_old_ocr_without_ocr(tmp_path):
    gold = _gold(OLD_OCR_PDF)
    code = main(["process", str(OLD_OCR_PDF), "--text-layer", "--out", str(tmp_path), "--jobs", "1"])
    assert code == 0
    data = json.loads((tmp_path / f"{OLD_OCR_PDF.stem}.json").read_text(encoding="utf-8"))
    (page,) = data["pages"]
    # no OCR: the words are the old layer's own, its text restored
    assert page["source"] == "legacy-restored" and page["raw_text"].split() == gold["legacy_text"][0].split()
    assert [word["text"] for word in page["words"]] == page["raw_text"].split()
    truth = gold["pages"][0]["text"]
    # reading order differs between the old layer and the page, so words are compared as bags
    assert bag_of_words(truth, page["raw_text"]).f1 < 0.2
    assert bag_of_words(truth, page["text"]).f1 > 0.65
    assert data["record"]["document"]["code"] == "56-TB/HU"


def test_run_real_ocr_timeout_fails_that_file_and_the_batch_goes_on(tmp_path, capsys):
    """A real Tesseract on a full 300-dpi page, killed after 0.3 s: E201 for that file, the next one done."""
    page = SAMPLES / "01_cong_van_clean300.png"
    text = DOCUMENTS / "cv_langson_vpdp_ntm.txt"
    started = time.monotonic()
    code = main(["process", str(page), str(text), "--out", str(tmp_path), "--page-timeout", "0.3", "--jobs", "2"])
    assert time.monotonic() - started < 60
    assert code == 10
    errors = [line for line in capsys.readouterr().err.splitlines() if "[E201]" in line]
    assert len(errors) == 1 and str(page) in errors[0] and "killed" in errors[0]
    assert not (tmp_path / f"{page.stem}.json").exists()
    record = json.loads((tmp_path / f"{text.stem}.json").read_text(encoding="utf-8"))["record"]
    assert record["document"]["code"] == "112/VPĐP-NTM"


def test_run_real_dask_worker_processes_match_the_local_run(tmp_path):
    distributed = require_module("distributed", "pip install -e '.[dask]' (make setup installs the dev extras)")
    inputs = [_header_png(SAMPLES / "01_cong_van_clean300.png", tmp_path / "header.png"),
              DOCUMENTS / "qd_huulung_tocongtac.txt"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            worker_pids = set(client.run(lambda: __import__("os").getpid()).values())
        on_dask = process_inputs(inputs, ProcessOptions(out_dir=tmp_path / "dask", executor="dask",
                                                        scheduler=cluster.scheduler_address, progress=False))
    assert len(worker_pids) == 2 and __import__("os").getpid() not in worker_pids
    local = process_inputs(inputs, ProcessOptions(out_dir=tmp_path / "local", jobs=2, progress=False))
    assert on_dask.exit_code == local.exit_code == 0
    for name in ("header", "qd_huulung_tocongtac"):
        dask_out = json.loads((tmp_path / "dask" / f"{name}.json").read_text(encoding="utf-8"))
        local_out = json.loads((tmp_path / "local" / f"{name}.json").read_text(encoding="utf-8"))
        assert [p["text"] for p in dask_out["pages"]] == [p["text"] for p in local_out["pages"]]
        assert dask_out["record"] == local_out["record"]
    scan = json.loads((tmp_path / "dask" / "header.json").read_text(encoding="utf-8"))
    assert scan["record"]["document"]["code"] == "3192/UBND-XD"
    assert "phổ biến giáo dục\npháp luật năm 2016" in scan["pages"][0]["text"]
    assert scan["record"]["document"]["issuer"] == "UỶ BAN NHÂN DÂN HUYỆN NGHI LỘC"


def test_run_real_extract_and_schema_commands(tmp_path, capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == record_schema() and schema["type"] == "object"
    name = "kh_huyenuy_huulung_kl21"
    assert main(["extract", str(DOCUMENTS / f"{name}.txt")]) == 0
    record = json.loads(capsys.readouterr().out)
    jsonschema.validate(record, schema)
    gold = json.loads((DOCUMENTS / f"{name}.gold.json").read_text(encoding="utf-8"))
    assert record["document"]["code"] == gold["document"]["code"] == "45-KH/HU"
    assert [r["code"] for r in record["references"]] == [r["code"] for r in gold["references"]]
    assert [t["id"] for t in record["tasks"]] == [t["id"] for t in gold["tasks"]]
    # a scan (the top of a JPEG sample): ingest → preprocess → OCR → restore → extract
    assert main(["extract", str(_header_png(SAMPLES / "05_cong_van_jpeg.jpg", tmp_path / "cv.png"))]) == 0
    scanned = json.loads(capsys.readouterr().out)
    jsonschema.validate(scanned, schema)
    assert scanned["document"]["code"] == "2264/GDĐT"
    assert scanned["document"]["issuer"] == "PHÒNG GIÁO DỤC VÀ ĐÀO TẠO"
    assert scanned["document"]["subject"] == "tổ chức các hoạt động kỷ niệm Ngày Quốc khánh 02 tháng 9"
