"""The files the web interface serves, and only those: a document's original (when the file at its archived
path still has the archived content hash) and page images rendered from it, searchable PDFs, uploads saved
under safe names."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pipeline.archive.store import StoredDocument
from pipeline.errors import NotFoundError

PAGE_WIDTHS = (1000, 1600, 2400)  # rendered widths in pixels (the viewer's zoom picks one)
MAX_UPLOAD_NAME = 120
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")
MEDIA_TYPES = {"pdf": "application/pdf", "tiff": "image/tiff", "text": "text/plain; charset=utf-8"}


class _HashCache:
    """Content hashes of files by (path, size, mtime): a file is hashed again only when it changed."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._hashes:
                return self._hashes[key]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        with self._lock:
            self._hashes[key] = digest.hexdigest()
        return self._hashes[key]


_hashes = _HashCache()


def original_file(document: StoredDocument) -> Path:
    """The document's original file: the regular file at its archived path, if its content is still the
    archived content (a moved, edited or swapped file is never served in its place)."""
    path = Path(document.source)
    try:
        if not path.is_absolute() or not path.is_file() or _hashes.sha256(path) != document.sha256:
            raise NotFoundError("the original file is no longer at its archived place", document.source)
    except OSError:
        raise NotFoundError("the original file cannot be read", document.source) from None
    return path


def media_type(document: StoredDocument) -> str:
    if document.kind == "image":
        suffix = Path(document.source).suffix.lower()
        return {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(suffix, "application/octet-stream")
    return MEDIA_TYPES.get(document.kind, "application/octet-stream")


class PageImages:
    """PNG renderings of original pages (ingest.load_page), the latest few kept in memory."""

    def __init__(self, size: int = 24) -> None:
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def png(self, document: StoredDocument, index: int, width: int) -> bytes:
        if index < 0 or index >= document.page_count or document.kind == "text":
            raise NotFoundError(f"no page image {index + 1}", document.source)
        width = min(PAGE_WIDTHS, key=lambda w: abs(w - width))
        key = (document.sha256, index, width)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = render_page(original_file(document), index, width)
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return data


def render_page(path: Path, index: int, width: int) -> bytes:
    from pipeline.ingest import load_page

    page = load_page(path, index)
    image = page.image
    picture = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]) if image.ndim == 3 else image)
    if picture.width > width:
        picture = picture.resize((width, max(1, round(picture.height * width / picture.width))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def searchable_pdf(document: StoredDocument, result: dict[str, Any]) -> bytes:
    """The original pages with the archived (restored) words as an invisible text layer: the PDF/A of
    `congvan process --pdf` (archive/pdf.py), made from the archived words."""
    from pipeline.archive.files import pages_from_result
    from pipeline.archive.pdf import write_pdfa
    from pipeline.types import DocumentResult, Record

    path = original_file(document)
    pages = pages_from_result(result)
    record = Record.from_dict(result["record"]) if isinstance(result.get("record"), dict) else None
    with tempfile.TemporaryDirectory(prefix="congvan-web-pdf-") as folder:
        target = Path(folder) / "searchable.pdf"
        write_pdfa(path, DocumentResult(source=str(path), sha256=document.sha256, pages=pages, record=record), target,
                   image_dpi=pages[0].dpi if pages else None)
        return target.read_bytes()


def safe_upload_name(name: str) -> str:
    """A file name to save an upload under: no folders, no leading dots, no control or odd characters."""
    base = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/")))
    base = _UNSAFE_NAME.sub("_", base).strip(" ._")
    if len(base) > MAX_UPLOAD_NAME:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: MAX_UPLOAD_NAME - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 8 else base[:MAX_UPLOAD_NAME]
    return base or "upload"

