"""The driver with --db (SQLite and PostgreSQL) and --pdf: resumable by content hash, --force, outputs
restored, searchable PDFs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fakes_run import FAKE_PDF_MAGIC, write_fake_scan

from pipeline.archive import open_archive
from pipeline.archive.search import search
from pipeline.archive.store import source_path
from pipeline.run import ProcessOptions, process_inputs


def _run(inputs, tmp_path, db, stages, **options):
    options = ProcessOptions(out_dir=tmp_path / "out", db_path=db, jobs=2, **options)
    return process_inputs(inputs, options, stages=stages)


def _batch(tmp_path):
    write_fake_scan(tmp_path / "in" / "a.png", ["Số: 1/KH-UBND\nnong thon moi"])
    write_fake_scan(tmp_path / "in" / "b.pdf", ["Số: 2/QĐ-UBND", "theo 1/KH-UBND"])
    write_fake_scan(tmp_path / "in" / "sub" / "c.png", ["Số: 3/TB-UBND"])
    return tmp_path / "in"


def test_run_archive_rerun_skips_finished_documents(tmp_path, archive_location, fake_stages):
    folder = _batch(tmp_path)
    first = _run([folder], tmp_path, archive_location, fake_stages)
    assert len(first.done) == 3 and first.exit_code == 0
    second = _run([folder], tmp_path, archive_location, fake_stages)
    assert len(second.done) == 0 and len(second.skipped) == 3
    assert all("already in the archive" in o.reason for o in second.skipped)
    with open_archive(archive_location) as archive:
        assert archive.count_documents() == 3
        hits = search(archive, "1/KH-UBND")
        assert [(h.match, h.code) for h in hits] == [("issued", "1/KH-UBND"), ("cited", "2/QĐ-UBND")]
        assert hits[1].page == 2


def test_run_archive_force_redoes_without_duplicates(tmp_path, archive_location, fake_stages):
    folder = _batch(tmp_path)
    _run([folder], tmp_path, archive_location, fake_stages)
    again = _run([folder], tmp_path, archive_location, fake_stages, force=True)
    assert len(again.done) == 3
    with open_archive(archive_location) as archive:
        assert archive.count_documents() == 3
        assert archive.table_counts()["pages"] == 4


def test_run_archive_skipped_document_gets_missing_outputs_back(tmp_path, archive_location, fake_stages):
    folder = _batch(tmp_path)
    _run([folder], tmp_path, archive_location, fake_stages)
    original = (tmp_path / "out" / "b.json").read_text()
    shutil.rmtree(tmp_path / "out")
    summary = _run([folder], tmp_path, archive_location, fake_stages)
    assert len(summary.skipped) == 3
    assert (tmp_path / "out" / "b.json").read_text() == original
    assert (tmp_path / "out" / "b.txt").read_text() == "Số: 2/QĐ-UBND\ftheo 1/KH-UBND"


def test_run_archive_new_content_under_old_name_is_processed(tmp_path, archive_location, fake_stages):
    folder = _batch(tmp_path)
    _run([folder], tmp_path, archive_location, fake_stages)
    write_fake_scan(folder / "a.png", ["Số: 1/KH-UBND\nsửa đổi"])
    summary = _run([folder], tmp_path, archive_location, fake_stages)
    assert [o.name for o in summary.done] == ["a"] and len(summary.skipped) == 2


def test_run_archive_searchable_pdf_has_restored_words(tmp_path, fake_stages):
    scan = write_fake_scan(tmp_path / "in" / "nt.png", ["xay dung nong thon moi\nSố: 5/KH-UBND", "trang hai"])
    summary = _run([scan], tmp_path, str(tmp_path / "archive.db"), fake_stages, pdf=True)
    assert summary.exit_code == 0
    written = (tmp_path / "out" / "nt.pdf").read_bytes()
    assert written.startswith(FAKE_PDF_MAGIC)  # the driver hands the finished document to the PDF stage
    assert written.decode("utf-8").splitlines()[1:] == ["xay dung nông thôn mới", "Số: 5/KH-UBND", "trang hai"]
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_run_archive_pdf_never_overwrites_the_input(tmp_path, fake_stages):
    scan = write_fake_scan(tmp_path / "doc.pdf", ["nong thon moi"])
    process_inputs([scan], ProcessOptions(out_dir=tmp_path, jobs=1, pdf=True), stages=fake_stages)
    assert scan.read_bytes().startswith(b"FAKESCAN")
    assert (tmp_path / "doc.searchable.pdf").exists()


def test_run_archive_json_matches_archive_record(tmp_path, backend, archive_location, fake_stages):
    folder = _batch(tmp_path)
    db = str(tmp_path / "archive.db") if backend == "sqlite" else archive_location
    _run([folder], tmp_path, db, fake_stages)
    data = json.loads((tmp_path / "out" / "b.json").read_text())
    with open_archive(db) as archive:
        stored = archive.find_document(data["sha256"])
        assert archive.load_record(stored.id).to_dict() == data["record"]
        # the input lies inside the SQLite archive's folder: stored relative to it, so that the folder can move;
        # a server has no folder and keeps the path as processing gave it
        assert stored.source == ("in/b.pdf" if backend == "sqlite" else data["source"])
        assert source_path(stored.source, archive.root).resolve() == Path(data["source"]).resolve()
