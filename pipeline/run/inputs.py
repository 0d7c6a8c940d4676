"""Which files a batch processes: named files, and folders walked recursively for the formats ingest reads."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import CongvanError, InputError, UnsupportedFormatError, os_error_reason
from pipeline.ingest import INPUT_SUFFIXES
from pipeline.run.outcomes import NOT_A_DOCUMENT


def collect_inputs(paths: Iterable[Path], exclude: Iterable[Path] = ()
                   ) -> tuple[list[Path], list[CongvanError], list[tuple[Path, str]]]:
    """Files to process, in a stable order, the errors, and the files skipped with the reason: folders are
    walked recursively for document files (hidden files are passed over; any other file is skipped, so
    that the summary says what was not read); a missing path is an error; a file named explicitly is
    identified later by content."""
    excluded = {path.resolve() for path in exclude}
    files: list[Path] = []
    errors: list[CongvanError] = []
    skipped: list[tuple[Path, str]] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(path)

    def unreadable(error: OSError) -> None:  # a folder the walk cannot list is a failure, never skipped silently
        errors.append(InputError(f"cannot read this folder: {os_error_reason(error)}", error.filename))

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, names in os.walk(path, onerror=unreadable):
                root_path = Path(root)
                dirs[:] = sorted(d for d in dirs if (root_path / d).resolve() not in excluded and not d.startswith("."))
                for name in sorted(names):
                    candidate = root_path / name
                    if name.startswith(".") or not candidate.is_file():
                        continue
                    if candidate.suffix.lower() in INPUT_SUFFIXES:
                        add(candidate)
                    else:
                        skipped.append((candidate, NOT_A_DOCUMENT))
        elif path.is_file():
            add(path)
        elif path.exists():
            errors.append(UnsupportedFormatError("not a regular file", path))
        else:
            errors.append(InputError("no such file or folder", path))
    return files, errors, skipped
