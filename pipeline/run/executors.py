"""Where tasks run: a local pool of worker processes, or a Dask distributed cluster; one interface for both."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from pipeline.errors import CongvanError, MissingDependencyError
from pipeline.run.options import ExecutorKind, ProcessOptions

# Local workers are replaced after this many tasks so that leaks in native libraries cannot pile up.
TASKS_PER_WORKER = 200
DASK_CONNECT_SECONDS = 20.0
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
    """A pool of `jobs` worker processes, started from a fork server that has imported the stages."""

    remote = False

    def __init__(self, jobs: int) -> None:
        self._jobs = jobs
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._abort: Event | None = None

    def _ensure_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._abort = context.Event()
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._jobs, mp_context=context, max_tasks_per_child=TASKS_PER_WORKER,
                initializer=_start_worker, initargs=(self._abort,),
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


def _start_worker(abort: Event) -> None:
    """Workers leave Ctrl-C to the driver (otherwise each would print a traceback); when the driver aborts,
    a watcher thread ends the worker as `terminate()` would, whatever page it is busy with. OpenCV runs on one
    thread: pages already run in parallel processes, and its own threads only fight them for the cores
    (measured: connected components on a text-layer page's mask 8.3 → 3.0 ms on the loaded 2-core machine)."""
    import cv2

    cv2.setNumThreads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_terminate_on, args=(abort,), name="congvan-abort", daemon=True).start()


def _terminate_on(abort: Event) -> None:
    abort.wait()
    os.kill(os.getpid(), signal.SIGTERM)


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
    return LocalExecutor(options.jobs)
