"""Searchable PDF/A-2B through OCRmyPDF: the original pages (images untouched or losslessly optimised) with an
invisible layer of the restored words at their boxes (placed by the congvan OCRmyPDF plugin), and the record's
subject, issuer and date as the document's title, author and creation date."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline.archive.files import fit_name
from pipeline.errors import CongvanError, MissingDependencyError
from pipeline.types import Box, DocumentResult, PageResult, PageSource, Record

PLUGIN = "pipeline.plugins.ocrmypdf_congvan"
PDFA_OUTPUT = "pdfa-2"  # PDF/A-2B
# pikepdf's PDF/A conversion (validated as it writes; page content untouched, no Ghostscript) first, then
# Ghostscript's, then a plain searchable PDF with a warning.
PDFA_ATTEMPTS = (("internal", PDFA_OUTPUT), ("auto", PDFA_OUTPUT), ("auto", "pdf"))
VIETNAM_TIME = timezone(timedelta(hours=7))
UNPLACED_LINE_HEIGHT = 0.02  # share of the page height per line of text that has no word boxes


def page_words(page: PageResult) -> list[tuple[str, Box, int, float]]:
    """(restored text, box, line, confidence) per visible word: a token merged into its predecessor widens
    that word's box; without aligned restoration the OCR words are used as they are."""
    tokens = page.tokens if page.tokens is not None and len(page.tokens) == len(page.words) else None
    placed: list[tuple[str, Box, int, float]] = []
    for position, word in enumerate(page.words):
        text = tokens[position].restored if tokens is not None else word.text
        if not text.strip():
            if placed and tokens is not None:
                previous_text, (x, y, w, h), line, confidence = placed[-1]
                bx, by, bw, bh = word.box
                left, top = min(x, bx), min(y, by)
                right, bottom = max(x + w, bx + bw), max(y + h, by + bh)
                placed[-1] = (previous_text, (left, top, right - left, bottom - top), line, confidence)
            continue
        placed.append((text, word.box, word.line, word.confidence))
    return placed


def page_turns(page: PageResult) -> int:
    """Counter-clockwise quarter turns preprocessing gave the page to read it upright (its text runs at that
    angle on the page as it is)."""
    turns = 0
    for step in page.preprocessing:
        if step.name == "fix_orientation":
            turns += int(step.params.get("quarters_ccw", 0))
        elif step.name == "check_orientation" and step.params.get("turned"):
            turns += 2
    return turns % 4


def text_layer_page(page: PageResult) -> dict[str, Any]:
    """What the OCRmyPDF plugin places on one page: its size in the pixels congvan read, the turn of its text,
    and its words line by line as [text, x, y, w, h, confidence]. A page whose text has no word boxes (a
    restored old text layer) gets its lines stacked from the top of the page, still searchable; a page read
    from its own text layer (born-digital) gets nothing: its text is in the PDF already."""
    lines: dict[int, list[list[Any]]] = {}
    if page.source is PageSource.TEXT_LAYER:
        return {"width": page.width or 1000, "height": page.height or 1414, "turns": 0, "text": page.text,
                "lines": []}
    for text, (x, y, w, h), line, confidence in page_words(page):
        lines.setdefault(line, []).append([text, x, y, max(w, 1), max(h, 1), confidence])
    width, height = page.width or 1000, page.height or 1414
    if not lines and page.text.strip():
        step = max(2, round(height * UNPLACED_LINE_HEIGHT))
        for number, text in enumerate(line for line in page.text.splitlines() if line.strip()):
            top = min(height - step, step * (number + 1))
            lines[number] = [[text.strip(), step, top, max(1, width - 2 * step), step, 100.0]]
    return {"width": width, "height": height, "turns": page_turns(page), "text": page.text,
            "lines": [sorted(words, key=lambda word: word[1]) for _, words in sorted(lines.items())]}


def pdf_metadata(record: Record | None) -> dict[str, str]:
    """Title (the subject, trích yếu), author (the issuer) and subject/keywords (type and code) for OCRmyPDF."""
    if record is None:
        return {}
    header = record.document
    kind_and_code = " ".join(x for x in (header.type_name, header.code) if x)
    values = {
        "title": header.subject or kind_and_code,
        "author": " - ".join(x for x in (header.parent_issuer, header.issuer) if x),
        "subject": kind_and_code,
        "keywords": header.code or "",
    }
    return {key: " ".join(value.split()) for key, value in values.items() if value}


def write_pdfa(source: Path, result: DocumentResult, target: Path, *, image_dpi: float | None = None,
               jobs: int = 1) -> list[str]:
    """Write `target` (atomically): `source` made a PDF/A-2B by OCRmyPDF with congvan's words as its text
    layer, the record's metadata, and the document date as creation date. When neither pikepdf nor
    Ghostscript can make this file PDF/A, a plain searchable PDF is written and the reason returned as a
    warning. Raises CongvanError naming the source when OCRmyPDF cannot make it at all."""
    try:
        import ocrmypdf
    except ImportError:
        raise MissingDependencyError("ocrmypdf is not installed in congvan's environment (pip install ocrmypdf)",
                                     source) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".congvan-pdfa-", dir=target.parent) as folder:
        work = Path(folder)
        words = work / "words.json"
        words.write_text(json.dumps([text_layer_page(page) for page in result.pages], ensure_ascii=False),
                         encoding="utf-8")
        output = work / "out.pdf"
        options: dict[str, Any] = {
            "plugins": [PLUGIN], "congvan_words": str(words), "optimize": 1,
            "jobs": jobs, "use_threads": True, "progress_bar": False, **pdf_metadata(result.record),
            # a copy of an e-signed PDF cannot keep the signature: the original keeps it, the copy says so
            "invalidate_digital_signatures": True}
        # An old OCR layer is replaced by the restored one (redo), visible text is kept; pages that carry their
        # own text are left as they are (skip), which is all OCRmyPDF can do for a fillable form.
        modes = ["default"]
        if any(page.legacy_text for page in result.pages):
            modes = ["redo", "skip"]
        elif any(page.source is not PageSource.OCR for page in result.pages):
            modes = ["skip"]
        if image_dpi and not _is_pdf(source):
            options["image_dpi"] = round(image_dpi)
        warnings: list[str] = []
        failures: list[str] = []
        status = None
        for backend, output_type in PDFA_ATTEMPTS:
            for mode in modes:
                try:
                    with _quiet("ocrmypdf"):
                        status = ocrmypdf.ocr(source, output, **{**options, "pdfa_backend": backend,
                                                                 "output_type": output_type, "mode": mode})
                    break
                except Exception as error:
                    failures.append(f"{type(error).__name__}: {' '.join(str(error).split())}")
            if status is not None:
                break
        else:
            raise CongvanError(f"searchable PDF failed: {failures[-1]}", source) from None
        if output_type != PDFA_OUTPUT:
            warnings.append(f"not PDF/A (a plain searchable PDF was written): {failures[0]}")
        if any(page.stamps for page in result.pages) or _is_signed(source):
            warnings.append("the searchable copy does not carry the original's digital signature (the original "
                            "keeps it)")
        if status is None or int(status) != 0 or not output.exists():
            raise CongvanError(f"searchable PDF/A failed: OCRmyPDF exit status {int(status)}", source)
        header = result.record.document if result.record is not None else None
        if header is not None and header.date:
            set_creation_date(output, header.date)
        os.replace(output, target)
    return warnings


def _is_signed(path: Path) -> bool:
    """A PDF with a signature field (an e-signed document)."""
    if not _is_pdf(path):
        return False
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            form = pdf.Root.get("/AcroForm")
            return form is not None and any(field.get("/FT") == "/Sig" for field in form.get("/Fields", []))
    except pikepdf.PdfError:
        return False


def _is_pdf(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"%PDF-" in handle.read(1024)


def set_creation_date(path: Path, iso_date: str) -> None:
    """The document's own date (not the scan's) as creation date, in the XMP metadata and the document
    information dictionary alike (PDF/A requires them to agree)."""
    import pikepdf

    try:
        day = datetime.fromisoformat(iso_date[:10]).replace(tzinfo=VIETNAM_TIME)
    except ValueError:
        return
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["xmp:CreateDate"] = day.isoformat()
        pdf.save(path)


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """OCRmyPDF's log lines stay out of congvan's output: failures come back as exceptions."""
    logger = logging.getLogger(name)
    handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def searchable_pdf_path(out_dir: Path, name: str, source: Path) -> Path:
    """DIR/<stem>.pdf, unless that is the input itself (output folder = input folder)."""
    target = out_dir / f"{name}.pdf"
    if target.resolve() == Path(source).resolve():
        target = out_dir / fit_name(name, ".searchable.pdf")
    return target
