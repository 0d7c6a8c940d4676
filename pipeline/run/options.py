"""Settings of a batch, validated once (`ProcessOptions`), and the per-page settings the workers receive."""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from pipeline.defaults import PAGE_TIMEOUT_SECONDS, default_jobs
from pipeline.errors import UsageError
from pipeline.limits import MIN_WORKER_MEMORY_OPTION, default_worker_memory, format_size


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
    # Data memory of each local worker in bytes: None = an equal share of the machine (limits.
    # default_worker_memory), 0 = no cap. A page that needs more fails alone (E105).
    worker_memory: int | None = None

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
        if self.executor is ExecutorKind.DASK:
            if not self.scheduler:
                raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT")
            check_scheduler_address(self.scheduler)
        if self.worker_memory is not None and (
                isinstance(self.worker_memory, bool) or not isinstance(self.worker_memory, int)
                or not (self.worker_memory == 0 or self.worker_memory >= MIN_WORKER_MEMORY_OPTION)):
            raise UsageError(f"--worker-memory must be 0 (no cap) or at least {format_size(MIN_WORKER_MEMORY_OPTION)}, "
                             f"not {self.worker_memory!r}")

    @property
    def worker_memory_limit(self) -> int | None:
        """The cap each local worker's data memory gets, in bytes (None: none)."""
        if self.worker_memory is None:
            return default_worker_memory(self.jobs)
        return self.worker_memory or None

    def page_settings(self) -> PageSettings:
        return PageSettings(restore=self.restore, text_layer=self.text_layer, languages=self.languages,
                            timeout=self.page_timeout)


@dataclass(frozen=True)
class PageSettings:
    """What a worker needs to know of the options to run one page."""

    restore: bool = True
    text_layer: bool = False
    languages: str | None = None
    timeout: float = PAGE_TIMEOUT_SECONDS


DASK_SCHEMES = ("tcp", "tls", "ws", "wss")


def check_scheduler_address(address: str) -> None:
    """A Dask scheduler address must be SCHEME://HOST:PORT (tcp by default): a malformed one is a usage error
    now, not a connection attempt that hangs until it times out."""
    try:
        parts = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}")
        usable = (parts.scheme in DASK_SCHEMES and bool(parts.hostname) and bool(parts.port)
                  and parts.path in ("", "/") and not parts.query and not parts.fragment)
    except ValueError:  # "tcp://[::1", a port that is not a number or beyond 65535
        usable = False
    if not usable or not address.isprintable() or any(char.isspace() for char in address):
        schemes = "|".join(DASK_SCHEMES)
        raise UsageError(f"--scheduler must be a Dask scheduler address ({schemes}://HOST:PORT), "
                         f"not {address!r}")
