"""Settings of a batch (`ProcessOptions`) and the per-page settings the workers receive (`PageSettings`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProcessOptions:
    out_dir: Path | None = None
    db_path: Path | str | None = None  # the archive: a file path or a URL (see archive.open_archive)
    jobs: int = os.cpu_count() or 1
    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    page_timeout: float = 180.0
    force: bool = False
    pdf: bool = False
    executor: str = "local"  # "local" | "dask"
    scheduler: str | None = None  # Dask scheduler address for executor "dask"
    progress: bool | None = None  # progress bar: None = only when stderr is a terminal

    def page_settings(self) -> PageSettings:
        return PageSettings(restore=self.restore, text_layer=self.text_layer, languages=self.languages,
                            timeout=self.page_timeout, pdf=self.pdf and self.out_dir is not None)


@dataclass(frozen=True)
class PageSettings:
    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    timeout: float = 180.0
    pdf: bool = False
