"""The intake folder (`congvan watch INBOX --db ARCHIVE`): files are processed as they arrive, once complete
(size and time unchanged for a while, no lock held on them); each original moves into the archive's own
folder (`originals/`, stored relative to the archive so that the whole folder can move); a failure moves
aside into `INBOX/failed/` with its one-line error beside it. A journal in the archive's folder records every
claim before the file moves, so a watcher killed at any point picks up where it stopped."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pipeline.errors import CongvanError, UsageError
from pipeline.ingest import file_sha256
from pipeline.run.options import ProcessOptions
from pipeline.run.outcomes import DocumentStatus
from pipeline.run.stages import Stages

ORIGINALS = "originals"  # in the archive's folder
FAILED = "failed"  # in the inbox
DUPLICATES = "duplicates"  # in the inbox: files whose content is already archived
JOURNAL = "watch.journal"  # JSON lines in the archive's folder
LOG = "watch.log"  # what the watcher did, one line per event, in the archive's folder


@dataclass(frozen=True)
class WatchOptions:
    inbox: Path
    process: ProcessOptions  # how each file is processed (its db_path is the archive)
    interval: float = 2.0  # seconds between looks at the inbox
    settle: float = 3.0  # a file unchanged (size, mtime) for this long, and unlocked, is complete
    once: bool = False  # process what is there (waiting for it to settle), then stop

    def __post_init__(self) -> None:
        if self.process.db_path is None or "://" in str(self.process.db_path):
            raise UsageError("congvan watch needs an archive file (--db FILE): originals are kept beside it")
        if not self.inbox.is_dir():
            raise UsageError(f"the inbox {self.inbox} is not a folder")
        if self.interval <= 0 or self.settle < 0:
            raise UsageError("--interval must be > 0 and --settle ≥ 0 seconds")

    @property
    def root(self) -> Path:
        return Path(str(self.process.db_path)).expanduser().resolve().parent


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # when this size and mtime were first seen


@dataclass
class Watcher:
    """One watcher on one inbox; `step()` looks once, `run()` loops until stopped."""

    options: WatchOptions
    stages: Stages | None = None
    clock: Callable[[], float] = time.monotonic
    out: TextIO = field(default_factory=lambda: sys.stdout)
    seen: dict[Path, _Seen] = field(default_factory=dict)
    done: int = 0
    failed: int = 0

    # ----------------------------------------------------------------------- the loop

    def run(self, sleep: Callable[[float], None] = time.sleep) -> int:
        self.recover()
        while True:
            waiting = self.step()
            if self.options.once and not waiting:
                return 0 if not self.failed else 1
            sleep(self.options.interval if not self.options.once else min(self.options.interval, 0.2))

    def step(self) -> int:
        """Look at the inbox once: process every complete file; return how many are still arriving."""
        present = set(self._candidates())
        for gone in set(self.seen) - present:
            del self.seen[gone]
        waiting = 0
        for path in sorted(present):
            if self._complete(path):
                self.seen.pop(path, None)
                self.take(path)
            else:
                waiting += 1
        return waiting

    def _candidates(self) -> list[Path]:
        inbox = self.options.inbox
        found = []
        for root, dirs, names in os.walk(inbox):
            top = Path(root) == inbox
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (top and d in (FAILED, DUPLICATES)))
            found += [Path(root) / name for name in names if not name.startswith(".") and not name.endswith(".part")]
        return found

    def _complete(self, path: Path) -> bool:
        """Size and modification time unchanged for `settle` seconds, and nobody holds a lock on it."""
        try:
            status = path.stat()
        except OSError:
            return False
        now = self.clock()
        seen = self.seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != (status.st_size, status.st_mtime_ns):
            self.seen[path] = _Seen(status.st_size, status.st_mtime_ns, now)
            return self.options.settle == 0 and not is_locked(path)
        return now - seen.since >= self.options.settle and not is_locked(path)

    # ----------------------------------------------------------------------- one file

    def take(self, path: Path) -> None:
        """Claim a complete file: duplicates aside, others moved into the archive and processed."""
        try:
            digest = file_sha256(path)
        except OSError as error:
            self._fail(path, None, CongvanError(f"cannot read: {error.strerror or error}", path))
            return
        archived = self._archived(digest)
        if archived is not None:
            target = _free_name(self.options.inbox / DUPLICATES / path.name)
            _move(path, target)
            self.log("duplicate", path, f"already archived as document {archived}; moved to {target}")
            return
        target = _free_name(self.options.root / ORIGINALS / datetime.now(UTC).strftime("%Y-%m") / path.name)
        self._journal({"event": "claimed", "from": str(path), "to": _relative(target, self.options.root),
                       "sha256": digest})
        _move(path, target)
        self.process(target, path)

    def process(self, stored: Path, arrived: Path) -> None:
        from pipeline.run.batch import process_inputs

        summary = process_inputs([stored], replace(self.options.process, progress=False), stages=self.stages)
        relative = _relative(stored, self.options.root)
        outcome = summary.outcomes[0] if summary.outcomes else None
        if outcome is not None and outcome.status in (DocumentStatus.DONE, DocumentStatus.SKIPPED):
            self.done += 1
            self._journal({"event": "done", "to": relative})
            detail = f"{outcome.pages} page{'' if outcome.pages == 1 else 's'}" if outcome.status is DocumentStatus.DONE \
                else outcome.reason or "skipped"
            self.log(outcome.status, arrived, f"{relative} ({detail})")
            return
        error = outcome.error if outcome is not None and outcome.error is not None else \
            CongvanError("not processed", stored)
        self._fail(stored, arrived, error)

    def _fail(self, path: Path, arrived: Path | None, error: CongvanError) -> None:
        self.failed += 1
        name = (arrived or path).name
        target = _free_name(self.options.inbox / FAILED / name)
        with contextlib.suppress(OSError):
            _move(path, target)
            target.with_name(target.name + ".error.txt").write_text(f"{error.label}: {error}\n", encoding="utf-8")
        self._journal({"event": "failed", "to": _relative(path, self.options.root), "moved_to": str(target),
                       "error": str(error)})
        self.log("failed", arrived or path, f"{error.label}: {error.message} [{error.code}] → {target}")

    def _archived(self, digest: str) -> int | None:
        from pipeline.archive import open_archive

        db = self.options.process.db_path
        assert db is not None
        if not Path(str(db)).exists():
            return None
        with open_archive(db, create=False) as archive:
            stored = archive.find_document(digest)
        return stored.id if stored is not None else None

    # ----------------------------------------------------------------------- journal and log

    def recover(self) -> None:
        """Files claimed by an earlier watcher that stopped before finishing them are processed now."""
        journal = self.options.root / JOURNAL
        if not journal.exists():
            return
        open_claims: dict[str, dict[str, Any]] = {}
        for line in journal.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            if entry.get("event") == "claimed":
                open_claims[entry["to"]] = entry
            elif entry.get("event") in ("done", "failed"):
                open_claims.pop(entry.get("to", ""), None)
        for relative, entry in open_claims.items():
            stored = self.options.root / relative
            arrived = Path(entry["from"])
            if stored.exists():
                self.log("resumed", arrived, f"{relative} was claimed by a watcher that stopped")
                self.process(stored, arrived)
            elif arrived.exists():  # stopped before the move: the file is still in the inbox
                self._journal({"event": "done", "to": relative})
            else:
                self._journal({"event": "failed", "to": relative, "error": "lost before it was stored"})

    def _journal(self, entry: dict[str, Any]) -> None:
        entry = {"at": _now(), **entry}
        with (self.options.root / JOURNAL).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def log(self, event: str, path: Path, detail: str) -> None:
        line = " ".join(f"{_now()} {event} {path}: {detail}".split())
        self.options.root.mkdir(parents=True, exist_ok=True)
        with (self.options.root / LOG).open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        print(f"congvan: {line}", file=self.out, flush=True)


# --------------------------------------------------------------------------- file helpers


def is_locked(path: Path) -> bool:
    """True when another process holds a lock on the file (a scanner or copier still writing it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        return error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # closing releases our own lock
    return False


def _move(source: Path, target: Path) -> None:
    """Rename, or copy and remove across file systems (the copy made durable before the original goes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(source, target)
        return
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
    partial = target.with_name(target.name + ".part")
    shutil.copy2(source, partial)
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    os.rename(partial, target)
    source.unlink()


def _free_name(path: Path) -> Path:
    """`path`, or name-2.ext, name-3.ext… when it is taken."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
