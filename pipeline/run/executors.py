"""Where tasks run: a local pool of worker processes, or a Dask distributed cluster; one interface for both."""

from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable, Iterable
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from pipeline.errors import CongvanError, MissingDependencyError
from pipeline.limits import limit_memory
from pipeline.run.options import ExecutorKind, ProcessOptions

# Local workers are replaced after this many tasks so that leaks in native libraries cannot pile up.
TASKS_PER_WORKER = 200
DASK_CONNECT_SECONDS = 10.0  # an address that answers nothing fails after this
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>
# Imported once by the fork server, so that each new worker starts with the stages already loaded.
_PRELOAD = ["pipeline.run.worker", "pipeline.ingest", "pipeline.preprocess", "pipeline.ocr", "pipeline.restore",
            "pipeline.extract"]


class Executor(Protocol):
    # Whether workers may not see the driver's disk: inputs are then checked by content and, where a worker
    # cannot read them, sent to it (`share`); and a server archive is written by the workers directly.
    remote: bool

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def share(self, data: bytes) -> Any:
        """`data` made available to the workers (passed to `submit` in place of the bytes)."""
        ...

    def wait_any(self, futures: Iterable[Any]) -> set[Any]: ...

    def is_broken(self, error: BaseException) -> bool: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class LocalExecutor:
    """A pool of `jobs` worker processes, started from a fork server that has imported the stages. Each
    worker's data memory is capped at `memory_limit` bytes (None: no cap), and a worker ends itself when the
    process that started the batch is gone (even killed with SIGKILL)."""

    remote = False

    def __init__(self, jobs: int, memory_limit: int | None = None) -> None:
        self._jobs = jobs
        self._memory_limit = memory_limit
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._abort: Event | None = None

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._abort = context.Event()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._jobs, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER,
                initializer=_start_worker, initargs=(self._abort, self._memory_limit),
            )
        return self._pool

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._ensure_pool().submit(fn, *args)

    def share(self, data: bytes) -> Any:
        return data  # the workers are local: nothing to send ahead

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        done, _ = concurrent.futures.wait(list(futures), return_when=concurrent.futures.FIRST_COMPLETED)
        return set(done)

    def is_broken(self, error: BaseException) -> bool:
        return isinstance(error, concurrent.futures.process.BrokenProcessPool)

    def restart(self) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def abort(self) -> None:
        """Stop now (Ctrl-C): pages in progress are dropped, their documents were never written. The
        workers end themselves when the abort event is set (see `_start_worker`)."""
        if self._pool is not None:
            assert self._abort is not None
            self._abort.set()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _start_worker(abort: Event, memory_limit: int | None) -> None:
    """Set up a worker process:
    - Ctrl-C is left to the driver (otherwise each worker would print a traceback);
    - OpenCV runs on one thread: pages already run in parallel processes, and its own threads only fight them
      for the cores (measured: connected components on a text-layer page's mask 8.3 → 3.0 ms on the loaded
      2-core machine);
    - its data memory is capped (pipeline.limits.limit_memory): a page that needs more fails alone, E105;
    - it ends whatever page it is busy with when the driver aborts, and when the driver's process is gone
      (the pipe multiprocessing keeps to it reaches its end: any death, SIGKILL included); the kernel also
      kills it if the fork server that forked it dies (PR_SET_PDEATHSIG, Linux). Once the workers are gone,
      the fork server and multiprocessing's resource tracker end by themselves."""
    import cv2

    cv2.setNumThreads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit is not None:
        limit_memory(memory_limit)
    _die_with_parent()
    threading.Thread(target=_end_on_abort, args=(abort,), name="congvan-abort", daemon=True).start()
    driver = multiprocessing.parent_process()
    if driver is not None:
        threading.Thread(target=_end_with, args=(driver.sentinel,), name="congvan-lifeline", daemon=True).start()


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux prctl; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _end_on_abort(abort: Event) -> None:
    abort.wait()
    _end_worker(signal.SIGTERM)


def _end_with(driver_sentinel: int) -> None:
    multiprocessing.connection.wait([driver_sentinel])
    _end_worker(signal.SIGKILL)


def _end_worker(how: signal.Signals) -> None:
    """End this worker now, with the Tesseract runs it started (they run in their own process groups)."""
    from pipeline.ocr import stop_tesseract

    stop_tesseract()
    os.kill(os.getpid(), how)


class DaskExecutor:
    """The same tasks on a Dask distributed cluster. Workers read the inputs where they can; a worker that
    cannot gets the file's bytes (see Engine), so the cluster needs no shared disk."""

    remote = True

    def __init__(self, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise MissingDependencyError(
                "the dask executor needs the 'distributed' package: pip install 'congvan[dask]'"
            ) from None
        from distributed import as_completed

        try:
            self._client = Client(scheduler, timeout=DASK_CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise CongvanError(f"cannot reach the Dask scheduler: {error}", scheduler) from None
        self._completed = as_completed(loop=self._client.loop)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        future = self._client.submit(fn, *args, pure=False)
        self._completed.add(future)
        return future

    def share(self, data: bytes) -> Any:
        """The bytes scattered to the cluster once: every page task of the document refers to them, and
        each worker fetches them at most once."""
        return self._client.scatter(data, hash=False)

    def wait_any(self, futures: Iterable[Any]) -> set[Any]:
        wanted = set(futures)
        while True:
            future = next(self._completed)  # futures cancelled by the driver come out too: skip them
            if future in wanted:
                return {future}

    def is_broken(self, error: BaseException) -> bool:
        return False

    def restart(self) -> None:
        pass

    def close(self) -> None:
        self._client.close()

    def abort(self) -> None:
        self.close()


def make_executor(options: ProcessOptions) -> Executor:
    if options.executor is ExecutorKind.DASK:
        assert options.scheduler is not None  # ProcessOptions checked it
        return DaskExecutor(options.scheduler)
    return LocalExecutor(options.jobs, options.worker_memory_limit)
