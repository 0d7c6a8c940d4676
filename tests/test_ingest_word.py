"""Word (.docx) and OpenDocument (.odt) files read directly: paragraphs and tables in document order, page breaks,
hostile archives refused; a folder's other files reported as skipped with their reason."""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import docx
import pytest
from fakes_run import FAKE_STAGES

from pipeline.errors import CorruptFileError, TooLargeError, UnsupportedFormatError
from pipeline.ingest import MAX_DOCUMENT_XML_BYTES, open_document, read_text_file
from pipeline.run import ProcessOptions, process_inputs


def _dispatch_docx(path: Path) -> Path:
    """A công văn as offices type it: the header in a borderless 2×2 table, body paragraphs, a task table."""
    document = docx.Document()
    header = document.add_table(rows=2, cols=2)
    header.cell(0, 0).text = "ỦY BAN NHÂN DÂN\nHUYỆN HỮU LŨNG"
    header.cell(0, 1).text = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"
    header.cell(1, 0).text = "Số: 18/KH-UBND"
    header.cell(1, 1).text = "Hữu Lũng, ngày 01 tháng 5 năm 2020"
    document.add_paragraph("KẾ HOẠCH")
    document.add_paragraph("Thực hiện Quyết định số 539/QĐ-UBND của UBND tỉnh Lạng Sơn")
    tasks = document.add_table(rows=2, cols=3)
    for column, value in enumerate(("TT", "Nội dung", "Thời hạn")):
        tasks.cell(0, column).text = value
    for column, value in enumerate(("1", "Rà soát tiêu chí nông thôn mới", "30/6/2020")):
        tasks.cell(1, column).text = value
    document.add_page_break()
    document.add_paragraph("Nơi nhận: UBND các xã")
    document.save(str(path))
    return path


def test_ingest_word_docx_text_and_tables_in_order(tmp_path):
    path = _dispatch_docx(tmp_path / "kh18.docx")
    info = open_document(path)
    assert info.kind == "docx" and info.page_count == 1
    pages = read_text_file(path).split("\f")
    assert len(pages) == 2 and pages[1] == "Nơi nhận: UBND các xã"
    assert pages[0].splitlines() == [
        "ỦY BAN NHÂN DÂN\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "HUYỆN HỮU LŨNG\tĐộc lập - Tự do - Hạnh phúc",
        "Số: 18/KH-UBND\tHữu Lũng, ngày 01 tháng 5 năm 2020",
        "KẾ HOẠCH",
        "Thực hiện Quyết định số 539/QĐ-UBND của UBND tỉnh Lạng Sơn",
        "TT\tNội dung\tThời hạn",
        "1\tRà soát tiêu chí nông thôn mới\t30/6/2020",
    ]


def _odt(path: Path, body: str) -> Path:
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">'
               f'<office:body><office:text>{body}</office:text></office:body></office:document-content>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        archive.writestr("content.xml", content)
    return path


def test_ingest_word_odt_paragraphs_and_tables(tmp_path):
    body = ('<text:h>QUYẾT ĐỊNH</text:h><text:p>Số:<text:s/>539/QĐ-UBND</text:p>'
            '<table:table><table:table-row><table:table-cell><text:p>Điều 1</text:p></table:table-cell>'
            '<table:table-cell><text:p>Phê duyệt</text:p></table:table-cell></table:table-row></table:table>'
            '<text:p>Nơi nhận<text:line-break/>Lưu: VT</text:p>')
    path = _odt(tmp_path / "qd.odt", body)
    assert open_document(path).kind == "odt"
    assert read_text_file(path) == "QUYẾT ĐỊNH\nSố: 539/QĐ-UBND\nĐiều 1\tPhê duyệt\nNơi nhận\nLưu: VT"


def test_ingest_word_hostile_archives_are_refused(tmp_path):
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(CorruptFileError):
        open_document(broken)
    entities = tmp_path / "laughs.docx"
    with zipfile.ZipFile(entities, "w") as archive:
        archive.writestr("word/document.xml", '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><w/>')
    with pytest.raises(CorruptFileError, match="entities"):
        open_document(entities)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (MAX_DOCUMENT_XML_BYTES + 1))
    with pytest.raises(TooLargeError):
        open_document(bomb)
    spreadsheet = tmp_path / "book.docx"
    with zipfile.ZipFile(spreadsheet, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedFormatError):
        open_document(spreadsheet)


def test_ingest_word_batch_reads_docx_and_reports_what_it_skipped(tmp_path):
    folder = tmp_path / "in"
    _dispatch_docx(folder.mkdir() or folder / "kh18.docx")
    (folder / "note.txt").write_text("Số: 1/KH-UBND", encoding="utf-8")
    (folder / "notes.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "README.md").write_text("đọc tôi")
    (folder / ".hidden").write_text("x")
    stages = dataclasses.replace(FAKE_STAGES, open_document=open_document, read_text_file=read_text_file)
    summary = process_inputs([folder], ProcessOptions(out_dir=tmp_path / "out", jobs=1), stages=stages)
    assert sorted(Path(o.source).name for o in summary.done) == ["kh18.docx", "note.txt"]
    assert sorted(Path(o.source).name for o in summary.skipped) == ["README.md", "notes.xlsx"]
    text = summary.format()
    assert "4 documents: 2 done" in text and "2 skipped" in text
    assert "skipped: 1 .xlsx file, not a document congvan reads (PDF, images, .docx, .odt, .txt): " in text
    assert text.rstrip().endswith("notes.xlsx") or "notes.xlsx" in text
    assert "Số: 18/KH-UBND" in (tmp_path / "out" / "kh18.txt").read_text(encoding="utf-8")
