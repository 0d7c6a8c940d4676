"""Settings of a batch, validated once (`ProcessOptions`), and the per-page settings the workers receive."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.defaults import PAGE_TIMEOUT_SECONDS, default_jobs
from pipeline.errors import UsageError


class ExecutorKind(StrEnum):
    LOCAL = "local"  # a pool of worker processes on this machine
    DASK = "dask"  # a Dask distributed cluster (--scheduler)


@dataclass(frozen=True)
class ProcessOptions:
    """What `process_inputs` does, checked when made: a bad combination raises UsageError (exit code 2)
    whether it comes from the command line or from a library call."""

    out_dir: Path | None = None  # write <stem>.txt and <stem>.json here
    db_path: Path | str | None = None  # the archive: a file path or a URL (see archive.open_archive)
    jobs: int = field(default_factory=default_jobs)
    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    page_timeout: float = PAGE_TIMEOUT_SECONDS
    force: bool = False
    pdf: bool = False
    executor: ExecutorKind = ExecutorKind.LOCAL
    scheduler: str | None = None  # Dask scheduler address for ExecutorKind.DASK
    progress: bool | None = None  # progress bar: None = only when stderr is a terminal

    def __post_init__(self) -> None:
        if self.out_dir is None and self.db_path is None:
            raise UsageError("give an output folder (--out DIR) and/or an archive (--db FILE)")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise UsageError(f"--jobs must be a whole number ≥ 1, not {self.jobs!r}")
        if not isinstance(self.page_timeout, int | float) or not math.isfinite(self.page_timeout) \
                or self.page_timeout <= 0:
            raise UsageError(f"--page-timeout must be a number of seconds > 0, not {self.page_timeout!r}")
        if self.pdf and self.out_dir is None:
            raise UsageError("--pdf needs an output folder (--out DIR)")
        try:
            object.__setattr__(self, "executor", ExecutorKind(self.executor))
        except ValueError:
            choices = ", ".join(kind.value for kind in ExecutorKind)
            raise UsageError(f"unknown executor {self.executor!r} (--executor {choices})") from None
        if self.executor is ExecutorKind.DASK and not self.scheduler:
            raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT")

    def page_settings(self) -> PageSettings:
        return PageSettings(restore=self.restore, text_layer=self.text_layer, languages=self.languages,
                            timeout=self.page_timeout, pdf=self.pdf)


@dataclass(frozen=True)
class PageSettings:
    """What a worker needs to know of the options to run one page."""

    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    timeout: float = PAGE_TIMEOUT_SECONDS
    pdf: bool = False
