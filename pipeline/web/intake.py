"""Intake: uploaded files saved under safe names and processed one by one by a background worker, through
the same driver (and so the same bad-input handling) as `congvan process`."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pipeline.archive.store import ArchiveStore, IntakeJob
from pipeline.errors import CongvanError, TooLargeError
from pipeline.run import ProcessOptions, Stages, process_inputs
from pipeline.run.progress import describe
from pipeline.web.files import safe_upload_name

POLL_SECONDS = 1.0
COPY_BLOCK = 1 << 20


def save_upload(store: ArchiveStore, folder: Path, name: str, stream: BinaryIO, *, limit: int, user: str) -> IntakeJob:
    """Copy an upload into its own folder under `folder` (never more than `limit` bytes) and queue it."""
    safe = safe_upload_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    target_dir = Path(tempfile.mkdtemp(prefix="upload-", dir=folder))  # one folder per upload: names never clash
    target = target_dir / safe
    size = 0
    try:
        with target.open("xb") as out:
            for block in iter(lambda: stream.read(COPY_BLOCK), b""):
                size += len(block)
                if size > limit:
                    raise TooLargeError(f"larger than the upload limit of {limit // (1 << 20)} MB", name)
                out.write(block)
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    return store.add_intake(name, str(target), size, user=user)


class IntakeWorker:
    """A thread that processes queued uploads, one at a time, into the archive."""

    def __init__(self, open_store: Callable[[], ArchiveStore], db_path: Path | str, *, jobs: int = 1,
                 stages: Stages | None = None) -> None:
        self._open_store = open_store
        self._db_path = db_path
        self._jobs = jobs
        self._stages = stages
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._open_store() as store:
            for job in store.intake_jobs(1000):  # left running by a server that stopped mid-job
                if job.status == "running":
                    store.finish_intake(job.id, "failed", "interrupted: the server stopped while processing", None)
        self._thread = threading.Thread(target=self._run, name="congvan-intake", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._open_store() as store:
                    job = store.claim_intake()
                    if job is not None:
                        self._process(store, job)
                        continue
            except CongvanError:
                pass  # the archive is busy or unreadable now: try again at the next poll
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _process(self, store: ArchiveStore, job: IntakeJob) -> None:
        path = Path(job.path)
        try:
            options = ProcessOptions(db_path=self._db_path, jobs=self._jobs, progress=False)
            summary = process_inputs([path], options, stages=self._stages)
            outcome = summary.outcomes[0] if summary.outcomes else None
            if outcome is None:
                store.finish_intake(job.id, "failed", "nothing to process", None)
            elif outcome.status == "failed":
                error = outcome.error
                message = describe(error) if error else "failed"
                store.finish_intake(job.id, "failed", message.replace(str(path), job.name), None)
            else:
                stored = store.find_document(_sha256(path))
                store.finish_intake(job.id, outcome.status, outcome.reason, stored.id if stored else None)
        except Exception as error:  # one bad upload never stops the worker
            message = f"congvan: error: {job.name}: {' '.join(str(error).split()) or type(error).__name__}"
            with contextlib.suppress(CongvanError):
                store.finish_intake(job.id, "failed", message, None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(COPY_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
