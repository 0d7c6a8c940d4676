"""Small stand-ins for the stages, so that tests of the driver and the archive run in milliseconds.

A fake scan is a file starting with FAKE_MAGIC followed by JSON: {"pages": [...], "sleep": s,
"fail_page": i, "timeout_page": i, "crash_page": i, "started": path, "allocate": bytes}. Its pages' "OCR" text
is the given page text; a page being loaded creates the file `started` when given, and takes `allocate` bytes of
memory (as a huge page would). A ".pdf" one may carry per page an old invisible OCR layer ("legacy": [text or
null, ...]) or a visible born-digital text layer ("layer": [text or null, ...]), and signature dictionaries
("signatures": [{"name", "time", "page"}, ...]).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.archive import ArchiveStore
from pipeline.defaults import PAGE_TIMEOUT_SECONDS
from pipeline.errors import CorruptFileError, EmptyFileError, OcrTimeoutError, UnsupportedFormatError
from pipeline.run import BatchSummary, ProcessOptions, Stages
from pipeline.types import (
    Box,
    DocumentHeader,
    DocumentInfo,
    DocumentKind,
    DocumentResult,
    LayerWord,
    OcrPage,
    OcrWord,
    PageImage,
    PageResult,
    Place,
    PreparedPage,
    PreprocessStep,
    Record,
    Reference,
    Restoration,
    RestoredToken,
    SignatureField,
    Span,
    Task,
    TextLayer,
)

FAKE_MAGIC = b"FAKESCAN"
# The fake restoration knows a few syllables, enough to show that restored text reaches every output.
RESTORED = {"nong": "nông", "thon": "thôn", "moi": "mới", "quyet": "quyết", "dinh": "định"}
PAGE_SIZE = (200, 160)  # height, width of the fake page images
LINE_HEIGHT = 14


def write_fake_scan(path: Path, pages: list[str], **behaviour: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FAKE_MAGIC + json.dumps({"pages": pages, **behaviour}, ensure_ascii=False).encode())
    return path


def _spec(path: Path) -> dict[str, Any]:
    data = Path(path).read_bytes()
    if not data:
        raise EmptyFileError("empty file", path)
    if path.suffix == ".txt":
        return {"pages": data.decode("utf-8").split("\f")}
    if not data.startswith(FAKE_MAGIC):
        raise UnsupportedFormatError("not a fake scan", path)
    try:
        spec: dict[str, Any] = json.loads(data[len(FAKE_MAGIC):])
        return spec
    except ValueError:
        raise CorruptFileError("truncated fake scan", path) from None


def open_document(path: Path) -> DocumentInfo:
    spec = _spec(Path(path))
    suffix = Path(path).suffix
    kind = DocumentKind.TEXT if suffix == ".txt" else DocumentKind.PDF if suffix == ".pdf" else DocumentKind.IMAGE
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return DocumentInfo(path=str(path), kind=kind, page_count=len(spec["pages"]), sha256=digest)


def load_page(path: Path, index: int) -> PageImage:
    spec = _spec(Path(path))
    if spec.get("crash_page") == index:
        os._exit(9)  # a worker dying mid-page, as when the kernel kills it for memory
    if spec.get("fail_page") == index:
        raise CorruptFileError(f"page {index + 1} is damaged", path)
    if spec.get("started"):
        Path(spec["started"]).touch()
    if spec.get("allocate"):
        np.empty(int(spec["allocate"]), dtype=np.uint8)  # address space only: fails beyond the worker's cap
    time.sleep(float(spec.get("sleep", 0.0)))
    image = np.full((*PAGE_SIZE, 3), 255, dtype=np.uint8)
    legacy = spec.get("legacy", [None] * len(spec["pages"]))[index]
    return PageImage(source=str(path), index=index, image=image, dpi=100.0, legacy_text=legacy)


def _layer_words(text: str, visible: bool) -> list[LayerWord]:
    """Words laid out like the fake OCR's, one text line per line."""
    words = []
    for line_number, line in enumerate(text.split("\n")):
        x = 4
        for word in line.split():
            width = 7 * len(word)
            box: Box = (x, 4 + LINE_HEIGHT * line_number, width, 12)
            words.append(LayerWord(word, box, visible, baseline=float(box[1] + 10), size=12.0))
            x += width + 6
    return words


def read_text_layer(path: Path, index: int) -> TextLayer | None:
    """A visible "layer" page is born-digital (its ink lies under its words); a "legacy" one is a scan
    (ink everywhere) under an invisible layer."""
    if Path(path).suffix != ".pdf":
        return None
    spec = _spec(Path(path))
    visible = (spec.get("layer") or [None] * len(spec["pages"]))[index]
    legacy = (spec.get("legacy") or [None] * len(spec["pages"]))[index]
    words = _layer_words(visible, True) if visible else _layer_words(legacy, False) if legacy else []
    ink = np.full(PAGE_SIZE, 255, dtype=np.uint8)
    for word in words:
        x, y, w, h = word.box
        ink[y + 2 : y + h - 2, x + 1 : x + w - 1] = 0 if visible else 255
    if not visible:
        ink[20:180, 10:150] = 0
    return TextLayer(source=str(path), index=index, width=PAGE_SIZE[1], height=PAGE_SIZE[0], dpi=100.0,
                     words=tuple(words), annotations=(), image_cover=0.0 if visible else 1.0, ink=ink,
                     ink_dpi=100.0)


def read_signatures(path: Path) -> list[SignatureField]:
    if Path(path).suffix != ".pdf":
        return []
    return [SignatureField(field_name=f"Signature{n + 1}", page=item.get("page"), rect=None, name=item.get("name"),
                           time=item.get("time"), reason=None, location=None, contact=None, sub_filter=None,
                           contents=b"")
            for n, item in enumerate(_spec(Path(path)).get("signatures", []))]


def read_text_file(path: Path) -> str:
    return unicodedata.normalize("NFC", Path(path).read_text(encoding="utf-8"))


def preprocess_page(page: PageImage) -> PreparedPage:
    gray = page.image[:, :, 0]
    step = PreprocessStep("fake_gray", {"threshold": np.uint8(128), "angle": np.float64(0.25)})
    return PreparedPage(page=page, image=gray, dpi=page.dpi, steps=(step,))


def ocr_page(prepared: PreparedPage, *, languages: str | None = None, timeout: float = PAGE_TIMEOUT_SECONDS,
             workdir: Path | None = None) -> OcrPage:
    page = prepared.page
    spec = _spec(Path(page.source))
    if spec.get("timeout_page") == page.index:
        raise OcrTimeoutError(f"page {page.index + 1}: Tesseract killed after {timeout:.0f} s", page.source)
    text = spec["pages"][page.index]
    words, lines = [], []
    for line_number, line in enumerate(text.split("\n")):
        x = 4
        line_words = line.split()
        for word in line_words:
            width = 7 * len(word)
            words.append(OcrWord(word, 91.0, (x, 4 + LINE_HEIGHT * line_number, width, 12), 0, line_number))
            x += width + 6
        lines.append(" ".join(line_words))
    return OcrPage(source=page.source, index=page.index, width=PAGE_SIZE[1], height=PAGE_SIZE[0], dpi=page.dpi,
                   words=tuple(words), text="\n".join(lines), preprocessing=prepared.steps)


def check_tesseract(languages: str | None) -> None:
    return None


def restore_text(text: str, confidences: Sequence[float | None] | None = None) -> Restoration:
    tokens = tuple(RestoredToken(token, RESTORED.get(token, token), 0.9) for token in text.split())
    lines = [" ".join(RESTORED.get(token, token) for token in line.split(" ")) for line in text.split("\n")]
    return Restoration("\n".join(lines), tokens)


_CODE = re.compile(r"\b\d+/[A-ZĐ]+(?:-[A-ZĐ]+)?\b")


def extract_record(text: str, pages: Sequence[PageResult] | None = None) -> Record:
    """Header code = the first code after "Số:"; every other code is a reference; "Hạn: DATE" is a task."""
    header = DocumentHeader()
    number = re.search(r"Số:\s*(\S+)", text)
    if number:
        header.code = number.group(1)
        header.number, _, header.symbol = header.code.partition("/")
    references = []
    for match in _CODE.finditer(text):
        if header.code and match.group(0) == header.code:
            continue
        references.append(Reference(code=match.group(0), mentions=[Span(match.start(), match.end(), match.group(0))]))
    tasks = [Task(id=str(i + 1), text=m.group(0), deadline=m.group(1))
             for i, m in enumerate(re.finditer(r"Hạn: (\d{4}-\d{2}-\d{2})", text))]
    return Record(document=header, references=references, tasks=tasks)


FAKE_PDF_MAGIC = b"%PDF-FAKE\n"


def write_pdf(source: Path, result: DocumentResult, target: Path, *, image_dpi: float | None = None,
              jobs: int = 1) -> list[str]:
    """A stand-in for the PDF/A writer: the target holds the pages' final text, one per line."""
    target.write_bytes(FAKE_PDF_MAGIC + "\n".join(page.text for page in result.pages).encode("utf-8"))
    return []


FAKE_STAGES = Stages(
    open_document=open_document,
    load_page=load_page,
    read_text_file=read_text_file,
    preprocess_page=preprocess_page,
    ocr_page=ocr_page,
    check_tesseract=check_tesseract,
    restore_text=restore_text,
    extract_record=extract_record,
    write_pdf=write_pdf,
    read_text_layer=read_text_layer,
    read_signatures=read_signatures,
)


def make_result(sha256: str, pages: list[str], record: Record, source: str = "/archive/doc.pdf") -> DocumentResult:
    """A processed document as the driver hands it to the archive, without running any stage."""
    page_results = [PageResult(index=i, width=100, height=100, dpi=300.0, preprocessing=[], words=[], raw_text=text,
                               text=text) for i, text in enumerate(pages)]
    return DocumentResult(source=source, sha256=sha256, pages=page_results, record=record)


def record_from_case(case: dict[str, Any]) -> Record:
    """A Record from the compact form used in tests/cases/archive_*.json."""
    references = []
    for ref in case.get("references", []):
        spans = [Span(0, len(ref["code"]), ref["code"], ref.get("page")) for _ in range(ref.get("mentions", 1))]
        references.append(Reference(code=ref["code"], mentions=spans, date=ref.get("date"),
                                    year=int(ref["date"][:4]) if ref.get("date") else None))
    places = [Place(**place) for place in case.get("places", [])]
    tasks = [Task(**task) for task in case.get("tasks", [])]
    header = Record.from_dict({"document": case.get("document", {})}).document  # nested signer too
    return Record(document=header, references=references, places=places, tasks=tasks)


def store_case_documents(archive: ArchiveStore, documents: list[dict[str, Any]]) -> dict[str, int]:
    """Add the documents of a case file to `archive`; return their ids by name."""
    ids = {}
    for document in documents:
        sha = hashlib.sha256(document["name"].encode()).hexdigest()
        result = make_result(sha, document["pages"], record_from_case(document), f"/archive/{document['name']}.pdf")
        ids[document["name"]] = archive.add_document(result, name=document["name"], kind=DocumentKind.PDF, result_json="{}")
    return ids


def run_batch_cli(argv: list[str]) -> int:
    """`python -c` entry point for tests that run (and kill) a whole batch in another process:
    FOLDER OUT ARCHIVE [JOBS] (ARCHIVE: a file or a URL)."""
    from pipeline.run import process_inputs

    folder, out, db, *rest = argv
    options = ProcessOptions(out_dir=Path(out), db_path=db, jobs=int(rest[0]) if rest else 2)
    return process_inputs([Path(folder)], options, stages=FAKE_STAGES).exit_code


BATCH_RUNNER = "import sys; sys.path.insert(0, sys.argv[1]); import fakes_run; sys.exit(fakes_run.run_batch_cli(sys.argv[2:]))"


def run_congvan_cli(argv: list[str]) -> int:
    """`python -c` entry point: the real `congvan` command line, with the fake stages."""
    import pipeline.run
    from pipeline.cli import main

    real = pipeline.run.process_inputs

    def with_fake_stages(paths: Iterable[Path], options: ProcessOptions, *, stages: Stages | None = None) -> BatchSummary:
        return real(paths, options, stages=FAKE_STAGES)

    pipeline.run.process_inputs = with_fake_stages
    return main(argv)


# Ctrl-C acts as in a terminal even where the tests were started in the background by a shell without job
# control (which starts them with SIGINT ignored, and Python keeps a signal ignored at its start).
CLI_RUNNER = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              "sys.path.insert(0, sys.argv[1]); import fakes_run; sys.exit(fakes_run.run_congvan_cli(sys.argv[2:]))")
