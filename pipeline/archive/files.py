"""Result files of a processed document: the JSON form of a DocumentResult and atomic file writes."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import __version__
from pipeline.types import DocumentKind, DocumentResult, OcrWord, PageResult, RestoredToken


def _json_default(value: Any) -> Any:
    """Values the stages may leave in recorded parameters (numpy scalars/arrays, paths, sets)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def page_to_dict(page: PageResult) -> dict[str, Any]:
    return {
        "index": page.index,
        "width": page.width,
        "height": page.height,
        "dpi": page.dpi,
        "preprocessing": [{"name": step.name, "params": step.params} for step in page.preprocessing],
        "words": [
            {"text": w.text, "confidence": w.confidence, "box": list(w.box), "block": w.block, "line": w.line}
            for w in page.words
        ],
        "raw_text": page.raw_text,
        "text": page.text,
        "legacy_text": page.legacy_text,
        "tokens": None
        if page.tokens is None
        else [{"original": t.original, "restored": t.restored, "confidence": t.confidence} for t in page.tokens],
        "seconds": round(page.seconds, 3),
        "warnings": list(page.warnings),
        "source": str(page.source),
        "source_evidence": None if page.evidence is None else dataclasses.asdict(page.evidence),
    }


def pages_from_result(data: dict[str, Any]) -> list[PageResult]:
    """The pages of a result JSON (`document_to_dict`) with their words and aligned tokens, enough to box
    words and to rebuild a searchable PDF; preprocessing steps are not read back."""
    pages = []
    for page in data.get("pages") or []:
        words = [OcrWord(w["text"], float(w["confidence"]), (int(w["box"][0]), int(w["box"][1]), int(w["box"][2]),
                                                             int(w["box"][3])), w.get("block", 0), w.get("line", 0))
                 for w in page.get("words") or []]
        tokens = page.get("tokens")
        pages.append(PageResult(
            index=page["index"], width=page["width"], height=page["height"], dpi=page["dpi"], preprocessing=[],
            words=words, raw_text=page.get("raw_text", ""), text=page.get("text", ""),
            legacy_text=page.get("legacy_text"),
            tokens=None if tokens is None else [RestoredToken(t["original"], t["restored"], t["confidence"])
                                                for t in tokens]))
    return pages


def document_to_dict(result: DocumentResult, *, kind: DocumentKind, settings: dict[str, Any]) -> dict[str, Any]:
    """The content of DIR/<stem>.json: source first, the record last."""
    return {
        "source": result.source,
        "sha256": result.sha256,
        "kind": str(kind),
        "page_count": len(result.pages),
        "congvan_version": __version__,
        "settings": settings,
        "warnings": list(result.warnings),
        "pages": [page_to_dict(page) for page in result.pages],
        "record": result.record.to_dict() if result.record is not None else None,
    }


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=_json_default) + "\n"


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`: readers never see a
    half-written file, and a crash leaves at most a stray temporary file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):  # left by a killed earlier run
        with contextlib.suppress(OSError):
            stale.unlink()
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; results are ordinary files
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise


@functools.cache
def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def read_json_source(path: Path) -> str | None:
    """The `source` of an existing result JSON, or None when the file is missing or unreadable."""
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    source = data.get("source") if isinstance(data, dict) else None
    return source if isinstance(source, str) else None
