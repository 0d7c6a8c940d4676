"""Output names: each input's stem in the --out folder, numbered when two inputs would share one."""

from __future__ import annotations

from pathlib import Path

from pipeline.archive.files import fit_name, read_json_source


class OutputNamer:
    """Output stems: the input's stem, or stem-2, stem-3… when another input of the batch (or an existing
    result from another source in the output folder) already has it."""

    def __init__(self, out_dir: Path | None) -> None:
        self._out_dir = out_dir
        self._taken: set[str] = set()

    def claim(self, path: Path) -> str:
        stem = path.stem or path.name
        number = 1
        while True:
            tail = "" if number == 1 else f"-{number}"
            # a long input name (up to the file system's limit) still gets its outputs, <stem>.json the longest
            candidate = fit_name(stem, f"{tail}.json").removesuffix(".json")
            number += 1
            if candidate.casefold() in self._taken:
                continue
            if self._out_dir is not None:
                existing = read_json_source(self._out_dir / f"{candidate}.json")
                if existing is not None and Path(existing).resolve() != path.resolve():
                    continue
            self._taken.add(candidate.casefold())
            return candidate
