"""Result files of a processed document: the JSON form of a DocumentResult and atomic file writes."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import stat
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


# Temporary files and folders congvan keeps beside its outputs while it writes them.
TEMP_PREFIX = ".congvan-"
NAME_MAX = 255  # bytes in a file name on the usual file systems (ext4, XFS, btrfs, APFS, NTFS in UTF-16 units)


def dumps_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, default=_json_default) + "\n"


def fit_name(stem: str, suffix: str) -> str:
    """`stem + suffix`, the stem shortened by whole characters when the name would exceed NAME_MAX bytes."""
    while stem and len(os.fsencode(stem + suffix)) > NAME_MAX:
        stem = stem[:-1]
    return stem + suffix


def owned_prefix(prefix: str = TEMP_PREFIX) -> str:
    """The name prefix of this process's temporary files: PREFIX<pid>- (see remove_stale_temporaries)."""
    return f"{prefix}{os.getpid()}-"


def remove_stale_temporaries(folder: Path, prefix: str = TEMP_PREFIX) -> int:
    """Remove the temporary files and folders named PREFIX<pid>-… in `folder` whose process is gone (a run
    killed, or interrupted before it could clean up); never those of a process still running. Returns how
    many were removed."""
    removed = 0
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    for entry in entries:
        owner, dash, _ = entry.name[len(prefix):].partition("-")
        if not (entry.name.startswith(prefix) and dash and owner.isdigit()) or _process_alive(int(owner)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # another user's process, or not a pid at all (then: not ours to judge)
    return True


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`: readers never see a
    half-written file, and a crash leaves at most a stray temporary file, named after this process (short,
    so that it fits beside a long file name) and removed by a later run (remove_stale_temporaries)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=owned_prefix(), suffix=".tmp", dir=path.parent)
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


def write_output(path: Path, data: bytes) -> None:
    """Write an export to `path` as a user means it: a regular file (new or existing) is replaced atomically;
    a symlink keeps being a link and its target is written; a FIFO, a terminal or another device is opened
    and written to, never replaced. A folder is refused with a UsageError naming it."""
    from pipeline.errors import UsageError

    try:
        target = path.resolve() if path.is_symlink() else path
        mode = target.stat().st_mode if target.exists() else None
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(f"--out {path} is a folder: give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        with target.open("wb") as handle:  # a FIFO or device: stream into it
            handle.write(data)
        return
    write_atomic(target, data)


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
