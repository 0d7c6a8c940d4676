"""The intake folder: files processed once complete, originals moved into the archive (paths relative to it, so
that the folder can move), failures set aside with their error, a restart finishing what a killed watcher
claimed, and the log of what it did."""

from __future__ import annotations

import fcntl
import io
import json
import shutil
from pathlib import Path

import pytest
from fakes_run import FAKE_STAGES, write_fake_scan

from pipeline.archive import open_archive
from pipeline.archive.store import source_path
from pipeline.cli import main
from pipeline.run import ProcessOptions
from pipeline.run.watch import JOURNAL, LOG, Watcher, WatchOptions, is_locked


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _watcher(tmp_path: Path, clock=None, stages=FAKE_STAGES, settle: float = 0.0) -> Watcher:
    options = WatchOptions(inbox=tmp_path / "inbox", settle=settle, once=True,
                           process=ProcessOptions(db_path=tmp_path / "archive" / "archive.db", jobs=1))
    return Watcher(options, stages=stages, clock=clock or _Clock(), out=io.StringIO())


@pytest.fixture()
def inbox(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "archive").mkdir()
    return tmp_path / "inbox"


def test_run_watch_moves_originals_into_the_archive_and_logs(tmp_path, inbox):
    write_fake_scan(inbox / "a.png", ["Số: 1/KH-UBND\nnong thon moi"])
    write_fake_scan(inbox / "sub" / "b.pdf", ["Số: 2/QĐ-UBND"])
    watcher = _watcher(tmp_path)
    assert watcher.run(sleep=lambda s: None) == 0
    assert sorted(p.name for p in inbox.rglob("*") if p.is_file()) == []
    stored = sorted((tmp_path / "archive" / "originals").rglob("*.*"))
    assert [p.name for p in stored] == ["a.png", "b.pdf"]
    with open_archive(tmp_path / "archive" / "archive.db", create=False) as archive:
        sources = sorted(archive.lookup(code)[0].source for code in ("1/KH-UBND", "2/QĐ-UBND"))
    assert all(source.startswith("originals/") for source in sources)  # relative to the archive's folder
    log = (tmp_path / "archive" / LOG).read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and all(" done " in line and "1 page" in line for line in log)


def test_run_watch_waits_until_a_file_is_complete(tmp_path, inbox):
    clock = _Clock()
    watcher = _watcher(tmp_path, clock=clock, settle=3.0)
    scan = write_fake_scan(inbox / "a.png", ["Số: 1/KH-UBND"])
    assert watcher.step() == 1  # just seen: not yet
    clock.now = 2.0
    write_fake_scan(scan, ["Số: 1/KH-UBND", "trang hai, vẫn đang quét"])  # still growing
    assert watcher.step() == 1
    clock.now = 4.0
    assert watcher.step() == 1  # unchanged for 2 s only
    with scan.open("rb") as handle:  # the scanner still holds a lock on it
        fcntl.flock(handle, fcntl.LOCK_EX)
        clock.now = 6.0
        assert is_locked(scan) and watcher.step() == 1
    assert not is_locked(scan)
    assert watcher.step() == 0 and watcher.done == 1


def test_run_watch_failures_are_set_aside_with_their_error(tmp_path, inbox):
    (inbox / "empty.pdf").write_bytes(b"")
    write_fake_scan(inbox / "good.png", ["Số: 3/TB-UBND"])
    watcher = _watcher(tmp_path)
    assert watcher.run(sleep=lambda s: None) == 1
    failed = inbox / "failed" / "empty.pdf"
    assert failed.exists() and watcher.done == 1 and watcher.failed == 1
    error = (inbox / "failed" / "empty.pdf.error.txt").read_text(encoding="utf-8")
    assert error.count("\n") == 1 and "[E101]" in error
    # the failed folder is not watched again, and a duplicate of an archived file is set aside
    write_fake_scan(inbox / "again.png", ["Số: 3/TB-UBND"])
    assert _watcher(tmp_path).run(sleep=lambda s: None) == 0
    assert (inbox / "duplicates" / "again.png").exists() and failed.exists()


def test_run_watch_survives_a_restart(tmp_path, inbox, monkeypatch):
    """A watcher stopped after moving a file into the archive, before storing it: the next one finishes it."""
    write_fake_scan(inbox / "a.png", ["Số: 7/KH-UBND"])

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for a kill in the middle of processing

    with monkeypatch.context() as patch:
        patch.setattr("pipeline.run.batch.process_inputs", killed)
        with pytest.raises(KeyboardInterrupt):
            _watcher(tmp_path).run(sleep=lambda s: None)
    journal = (tmp_path / "archive" / JOURNAL).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["event"] for line in journal] == ["claimed"]
    assert not (inbox / "a.png").exists()
    restarted = _watcher(tmp_path)
    assert restarted.run(sleep=lambda s: None) == 0
    with open_archive(tmp_path / "archive" / "archive.db", create=False) as archive:
        assert archive.count_documents() == 1 and archive.lookup("7/KH-UBND")[0].source.startswith("originals/")
    assert "resumed" in (tmp_path / "archive" / LOG).read_text(encoding="utf-8")
    assert _watcher(tmp_path).run(sleep=lambda s: None) == 0  # nothing left to resume
    with open_archive(tmp_path / "archive" / "archive.db", create=False) as archive:
        assert archive.count_documents() == 1


def test_run_watch_moved_archive_still_serves_show(tmp_path, inbox, capsys):
    write_fake_scan(inbox / "a.png", ["Số: 9/KH-UBND\nnong thon moi"])
    _watcher(tmp_path).run(sleep=lambda s: None)
    moved = tmp_path / "elsewhere" / "kho"
    shutil.move(tmp_path / "archive", moved)
    db = moved / "archive.db"
    assert main(["show", "9/KH-UBND", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"File:        {moved}/originals/" in out  # where the original is now
    assert main(["show", "9/KH-UBND", "--db", str(db), "--text"]) == 0
    assert "nông thôn mới" in capsys.readouterr().out
    with open_archive(db, create=False) as archive:
        stored = archive.lookup("9/KH-UBND")[0]
        original = source_path(stored.source, archive.root)
        assert original.is_file() and original.read_bytes().startswith(b"FAKESCAN")
        result_json, _ = archive.load_result(stored.id)
        assert json.loads(result_json)["source"] == stored.source


def test_run_watch_needs_an_archive_file(tmp_path, inbox):
    from pipeline.errors import UsageError

    with pytest.raises(UsageError):
        WatchOptions(inbox=inbox, process=ProcessOptions(out_dir=tmp_path / "out"))
    with pytest.raises(UsageError):
        WatchOptions(inbox=tmp_path / "none", process=ProcessOptions(db_path=tmp_path / "a.db"))
