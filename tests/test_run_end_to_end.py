"""All real stages on one small rendered page: OCR → restoration → record → archive → searchable PDF.
The page is printed WITHOUT diacritics, so finding `nông thôn mới` proves the PDF carries restored words."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2
from components import require_file, require_program
from PIL import Image, ImageDraw, ImageFont

from pipeline.archive import open_archive
from pipeline.archive.search import search
from pipeline.run import ProcessOptions, process_inputs

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
LINES = ["Số: 27/KH-UBND", "xay dung nong thon moi va phat trien kinh te"]

require_program("tesseract", "make setup: apt-get install tesseract-ocr tesseract-ocr-vie")
require_file(FONT, "make setup: apt-get install fonts-dejavu-core")


def _render(path: Path) -> Path:
    font = ImageFont.truetype(str(FONT), 42)
    image = Image.new("L", (1500, 260), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(LINES):
        draw.text((60, 50 + 90 * number), line, font=font, fill=0)
    image.save(path, dpi=(300, 300))
    return path


def test_run_end_to_end_restored_words_reach_pdf_and_archive(tmp_path):
    scan = _render(tmp_path / "page.png")
    summary = process_inputs([scan], ProcessOptions(out_dir=tmp_path / "out", db_path=tmp_path / "a.db", jobs=1,
                                                    pdf=True, progress=False))
    assert summary.exit_code == 0, summary.format()
    page = json.loads((tmp_path / "out" / "page.json").read_text(encoding="utf-8"))["pages"][0]
    assert "nong thon moi" in page["raw_text"] and "nông thôn mới" in page["text"]
    pdf = pypdfium2.PdfDocument(tmp_path / "out" / "page.pdf")
    try:
        assert "nông thôn mới" in pdf[0].get_textpage().get_text_range()
    finally:
        pdf.close()
    with open_archive(tmp_path / "a.db", create=False) as archive:
        assert [hit.code for hit in search(archive, "27/KH-UBND")] == ["27/KH-UBND"]
        assert search(archive, "nông thôn mới")[0].page == 1
