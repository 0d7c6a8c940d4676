"""The driver with fake stages: outputs, folder walking, name collisions, bad files, timeouts, crashes."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from fakes_run import FAKE_STAGES, write_fake_scan

from pipeline.archive.files import write_atomic
from pipeline.defaults import PAGE_TIMEOUT_SECONDS
from pipeline.errors import CorruptFileError, OcrTimeoutError, UnsupportedFormatError
from pipeline.run import ProcessOptions, Stages, collect_inputs, extract_file, process_inputs
from pipeline.run.progress import Progress
from pipeline.types import OcrPage


def _process(inputs, out: Path, *, stages: Stages = FAKE_STAGES, **options):
    return process_inputs(inputs, ProcessOptions(out_dir=out, jobs=2, **options), stages=stages)


def test_run_writes_text_and_json_per_document(tmp_path):
    scan = write_fake_scan(tmp_path / "in" / "cv.png", ["Số: 12/KH-UBND\nnong thon moi", "trang hai"])
    summary = _process([scan], tmp_path / "out")
    assert summary.exit_code == 0 and [o.status for o in summary.outcomes] == ["done"]

    text = (tmp_path / "out" / "cv.txt").read_text(encoding="utf-8")
    assert text == "Số: 12/KH-UBND\nnông thôn mới\ftrang hai"
    data = json.loads((tmp_path / "out" / "cv.json").read_text(encoding="utf-8"))
    assert next(iter(data)) == "source" and list(data)[-1] == "record"
    assert data["source"] == str(scan.resolve()) and len(data["sha256"]) == 64
    page = data["pages"][0]
    assert (page["width"], page["height"], page["dpi"]) == (160, 200, 100.0)
    assert page["preprocessing"] == [{"name": "fake_gray", "params": {"threshold": 128, "angle": 0.25}}]
    assert page["words"][0] == {"text": "Số:", "confidence": 91.0, "box": [4, 4, 21, 12], "block": 0, "line": 0}
    assert page["raw_text"] == "Số: 12/KH-UBND\nnong thon moi"
    assert page["text"] == "Số: 12/KH-UBND\nnông thôn mới"
    assert page["tokens"][2] == {"original": "nong", "restored": "nông", "confidence": 0.9}
    assert page["legacy_text"] is None and page["warnings"] == []
    assert data["record"]["document"]["code"] == "12/KH-UBND"


def test_run_walks_folders_and_ignores_other_files(tmp_path):
    write_fake_scan(tmp_path / "in" / "a.png", ["a"])
    write_fake_scan(tmp_path / "in" / "deep" / "deeper" / "b.pdf", ["b"])
    (tmp_path / "in" / "notes.md").write_text("not a document")
    (tmp_path / "in" / "b.gold.json").write_text("{}")
    (tmp_path / "in" / "c.txt").write_text("văn bản", encoding="utf-8")
    files, errors, _ = collect_inputs([tmp_path / "in"])
    assert [f.name for f in files] == ["a.png", "c.txt", "b.pdf"] and errors == []


def test_run_named_non_document_is_an_error(tmp_path, capsys):
    good = write_fake_scan(tmp_path / "good.png", ["ok"])
    notes = tmp_path / "notes.md"
    notes.write_text("hello")
    summary = _process([notes, good], tmp_path / "out")
    assert summary.exit_code == UnsupportedFormatError.exit_code
    assert [o.status for o in summary.outcomes] == ["failed", "done"]
    err = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("congvan: not a document:") and str(notes) in line for line in err)


def test_run_out_folder_inside_input_is_not_walked(tmp_path):
    write_fake_scan(tmp_path / "a.png", ["a"])
    _process([tmp_path], tmp_path / "out")
    files, _, _ = collect_inputs([tmp_path], exclude=[tmp_path / "out"])
    assert [f.name for f in files] == ["a.png"]


def test_run_stem_collisions_do_not_overwrite(tmp_path):
    first = write_fake_scan(tmp_path / "x" / "scan.png", ["first"])
    second = write_fake_scan(tmp_path / "y" / "scan.png", ["second"])
    out = tmp_path / "out"
    summary = _process([tmp_path / "x", tmp_path / "y"], out)
    assert sorted(o.name for o in summary.done) == ["scan", "scan-2"]
    sources = {json.loads((out / f"{n}.json").read_text())["source"] for n in ("scan", "scan-2")}
    assert sources == {str(first.resolve()), str(second.resolve())}
    # a later run of only the second file keeps its name instead of taking over the first one's
    summary = _process([second], out)
    assert [o.name for o in summary.done] == ["scan-2"]
    assert json.loads((out / "scan.json").read_text())["source"] == str(first.resolve())


@pytest.mark.parametrize(
    ("behaviour", "error_class"),
    [({"fail_page": 1}, CorruptFileError), ({"timeout_page": 1}, OcrTimeoutError)],
    ids=["corrupt-page", "ocr-timeout"],
)
def test_run_bad_page_fails_only_its_document(tmp_path, capsys, behaviour, error_class):
    write_fake_scan(tmp_path / "in" / "a_bad.pdf", ["one", "two", "three"], **behaviour)
    write_fake_scan(tmp_path / "in" / "b_good.pdf", ["fine"])
    summary = _process([tmp_path / "in"], tmp_path / "out")
    assert summary.exit_code == error_class.exit_code
    assert {o.source.split("/")[-1]: o.status for o in summary.outcomes} == {"a_bad.pdf": "failed", "b_good.pdf": "done"}
    assert not (tmp_path / "out" / "a_bad.json").exists() and not (tmp_path / "out" / "a_bad.txt").exists()
    assert (tmp_path / "out" / "b_good.json").exists()
    errors = [line for line in capsys.readouterr().err.splitlines() if "a_bad.pdf" in line]
    assert len(errors) == 1 and f"[{error_class.code}]" in errors[0]


def test_run_mixed_error_classes_exit_one(tmp_path):
    write_fake_scan(tmp_path / "a.png", ["x"], fail_page=0)
    (tmp_path / "b.png").write_bytes(b"")
    summary = _process([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "missing.png"], tmp_path / "out")
    assert len(summary.failed) == 3 and summary.exit_code == 1


def test_run_worker_crash_fails_documents_in_flight_and_batch_goes_on(tmp_path, capsys):
    write_fake_scan(tmp_path / "a.png", ["a"], crash_page=0)
    write_fake_scan(tmp_path / "b.png", ["b1", "b2", "b3", "b4", "b5"], sleep=0.05)
    summary = process_inputs([tmp_path / "a.png", tmp_path / "b.png"],
                             ProcessOptions(out_dir=tmp_path / "out", jobs=1), stages=FAKE_STAGES)
    outcomes = {Path(o.source).name: o for o in summary.outcomes}
    assert outcomes["a.png"].status == "failed" and "worker process died" in str(outcomes["a.png"].error)
    assert outcomes["b.png"].status in {"done", "failed"}
    # whatever was in flight with the crash, a rerun completes the rest
    summary = process_inputs([tmp_path / "b.png"], ProcessOptions(out_dir=tmp_path / "out", jobs=1), stages=FAKE_STAGES)
    assert summary.exit_code == 0


def test_run_text_layer_restores_legacy_text_instead_of_ocr(tmp_path):
    scan = write_fake_scan(tmp_path / "old.pdf", ["ocr text", "ocr two"], legacy=["nong thon moi", None])
    _process([scan], tmp_path / "out", text_layer=True)
    data = json.loads((tmp_path / "out" / "old.json").read_text())
    first, second = data["pages"]
    assert first["raw_text"] == "nong thon moi" and first["text"] == "nông thôn mới"
    assert first["source"] == "legacy-restored" and first["legacy_text"] == "nong thon moi"
    # the old layer's words keep their boxes; their confidence is the restoration's (the fake's 0.9)
    assert [(w["text"], w["confidence"]) for w in first["words"]] == [("nong", 90.0), ("thon", 90.0), ("moi", 90.0)]
    assert second["raw_text"] == "ocr two" and second["warnings"] == ["no text layer on this page: OCR used"]
    assert second["source"] == "ocr"


def test_run_no_restore_keeps_raw_text(tmp_path):
    scan = write_fake_scan(tmp_path / "a.png", ["nong thon moi"])
    _process([scan], tmp_path / "out", restore=False)
    page = json.loads((tmp_path / "out" / "a.json").read_text())["pages"][0]
    assert page["text"] == page["raw_text"] == "nong thon moi" and page["tokens"] is None


def test_run_text_input_pages_split_on_form_feed(tmp_path):
    source = tmp_path / "cv.txt"
    source.write_text("Số: 3/TB-UBND\nnong thon moi\fhai", encoding="utf-8")
    _process([source], tmp_path / "out")
    data = json.loads((tmp_path / "out" / "cv.json").read_text())
    assert data["kind"] == "text" and [p["text"] for p in data["pages"]] == ["Số: 3/TB-UBND\nnông thôn mới", "hai"]
    assert (tmp_path / "out" / "cv.txt").read_text() == "Số: 3/TB-UBND\nnông thôn mới\fhai"


def _ocr_writing_temp_files(prepared, *, languages=None, timeout=PAGE_TIMEOUT_SECONDS, workdir=None) -> OcrPage:
    handle, name = tempfile.mkstemp(suffix=".png", dir=workdir)
    os.write(handle, b"x" * 1000)
    os.close(handle)
    page = FAKE_STAGES.ocr_page(prepared, languages=languages, timeout=timeout, workdir=workdir)
    return OcrPage(**{**page.__dict__, "warnings": (f"temp={name}",)})


def test_run_page_temp_files_are_confined_and_freed(tmp_path, fake_stages):
    scan = write_fake_scan(tmp_path / "a.png", ["one", "two"])
    _process([scan], tmp_path / "out", stages=dataclasses.replace(fake_stages, ocr_page=_ocr_writing_temp_files))
    pages = json.loads((tmp_path / "out" / "a.json").read_text())["pages"]
    temp_files = [Path(page["warnings"][0].removeprefix("temp=")) for page in pages]
    assert all(path.parent.name.startswith("congvan-page-") for path in temp_files)
    assert temp_files[0].parent != temp_files[1].parent
    assert not any(path.exists() or path.parent.exists() for path in temp_files)


def test_run_progress_log_lines_without_terminal(tmp_path, capsys):
    for name in ("a", "b"):
        write_fake_scan(tmp_path / f"{name}.png", ["x", "y"])
    _process([tmp_path / "a.png", tmp_path / "b.png"], tmp_path / "out")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("congvan: [")]
    assert len(lines) == 2 and all("pages/s" in line and "ETA" in line for line in lines)
    assert lines[-1].startswith("congvan: [2/2] done")


def test_run_progress_bar_shows_rate_and_eta():
    stream = io.StringIO()
    progress = Progress(1, 4, bar=True, stream=stream)
    progress.pages_done(2)
    progress.message("congvan: warning: x")
    progress.close()
    output = stream.getvalue()
    assert "page/s" in output and "2/4" in output and "congvan: warning: x" in output


def test_run_summary_names_reasons(tmp_path):
    write_fake_scan(tmp_path / "a.png", ["x"], fail_page=0)
    write_fake_scan(tmp_path / "b.png", ["x"])
    summary = _process([tmp_path], tmp_path / "out")
    text = summary.format()
    assert re.match(r"congvan: 2 documents: 1 done \(1 pages in \d+\.\d s, [\d.]+ pages/min\), 0 skipped, 1 failed$",
                    text.splitlines()[0])
    assert "failed: corrupt file:" in text and "a.png" in text


def test_run_extract_file_text_and_stdin(tmp_path, monkeypatch):
    source = tmp_path / "cv.txt"
    source.write_text("Số: 7/QĐ-UBND\nCăn cứ 12/KH-UBND", encoding="utf-8")
    record = extract_file(str(source), stages=FAKE_STAGES)
    assert record.document.code == "7/QĐ-UBND" and [r.code for r in record.references] == ["12/KH-UBND"]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO("Số: 8/TB-UBND".encode())))
    assert extract_file("-", stages=FAKE_STAGES).document.code == "8/TB-UBND"


def test_run_extract_file_scan(tmp_path):
    scan = write_fake_scan(tmp_path / "s.pdf", ["Số: 9/CV-UBND", "theo 3/KH-UBND"])
    record = extract_file(str(scan), stages=FAKE_STAGES)
    assert record.document.code == "9/CV-UBND" and record.references[0].code == "3/KH-UBND"


def test_run_write_atomic_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    write_atomic(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
