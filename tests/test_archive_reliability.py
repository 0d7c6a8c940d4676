"""Reliability, on SQLite and PostgreSQL: a batch killed at random moments and re-run loses and duplicates
nothing; two batches writing the same archive at once store each document once; readers never see a
half-written document while a batch writes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from fakes_run import BATCH_RUNNER, CLI_RUNNER, write_fake_scan

from pipeline.archive import open_archive
from pipeline.archive.search import search

DOCUMENTS = 14


def _make_batch(folder: Path) -> dict[str, int]:
    pages = {}
    for number in range(DOCUMENTS):
        count = 1 + number % 3
        texts = [f"Số: {number}/KH-UBND trang {page} nong thon moi theo {number + 100}/QĐ-UBND" for page in range(count)]
        write_fake_scan(folder / f"d{number:02d}.png", texts, sleep=0.08)
        pages[f"d{number:02d}"] = count
    return pages


def _start(folder: Path, out: Path, db: str) -> subprocess.Popen:
    tests = str(Path(__file__).parent)
    return subprocess.Popen([sys.executable, "-c", BATCH_RUNNER, tests, str(folder), str(out), db, "2"],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _documents_whole(archive) -> list[tuple[str, int, int]]:
    """(name, pages declared, pages stored) for every document, each read in one snapshot."""
    return [(d.name, d.page_count, len(archive.read_rows(d.id).pages)) for d in archive.stored_documents()]


def _sqlite_intact(db_path: str) -> None:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.execute("INSERT INTO \"page_fts\" (\"page_fts\", \"rank\") VALUES ('integrity-check', 1)")


def test_archive_reliability_killed_batches_resume_exactly(tmp_path, archive_location):
    expected = _make_batch(tmp_path / "in")
    out, db_path = tmp_path / "out", archive_location
    rng = random.Random(20240607)
    for _ in range(3):
        process = _start(tmp_path / "in", out, db_path)
        time.sleep(rng.uniform(0.4, 2.5))
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    final = _start(tmp_path / "in", out, db_path)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()

    if db_path.endswith(".db"):
        _sqlite_intact(db_path)
    with open_archive(db_path, create=False) as archive:
        counts = archive.table_counts()
        assert counts["documents"] == DOCUMENTS
        assert counts["pages"] == counts["references"] == sum(expected.values())
        documents = list(archive.stored_documents())
        assert {d.name: d.page_count for d in documents} == expected
        assert all(declared == stored for _, declared, stored in _documents_whole(archive))
        assert len(search(archive, "nong thon moi", limit=100)) == DOCUMENTS
    for document in documents:
        data = json.loads((out / f"{document.name}.json").read_text(encoding="utf-8"))
        assert data["sha256"] == document.sha256 and len(data["pages"]) == expected[document.name]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_archive_reliability_two_batches_at_once_store_each_document_once(tmp_path, archive_location):
    """Two runs over the same folder, started together (as on two workstations): both succeed, each document
    is in the archive once, with all its pages."""
    expected = _make_batch(tmp_path / "in")
    runs = [_start(tmp_path / "in", tmp_path / f"out{number}", archive_location) for number in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr.decode()
    with open_archive(archive_location, create=False) as archive:
        assert archive.table_counts()["documents"] == DOCUMENTS
        assert sorted(_documents_whole(archive)) == sorted((name, pages, pages) for name, pages in expected.items())
        assert archive.table_counts()["pages"] == sum(expected.values())


def test_archive_reliability_search_while_a_batch_writes(tmp_path, archive_location):
    expected = _make_batch(tmp_path / "in")
    db_path = archive_location
    open_archive(db_path).close()  # the schema exists before readers start
    process = _start(tmp_path / "in", tmp_path / "out", db_path)
    reader = open_archive(db_path, create=False)
    seen_counts = []
    try:
        while process.poll() is None:
            snapshot = _documents_whole(reader)
            assert all(declared == stored for _, declared, stored in snapshot), snapshot
            hits = search(reader, "nong thon moi", limit=100)
            assert len(snapshot) <= len(hits) <= reader.count_documents()  # the batch commits meanwhile
            search(reader, "5/KH-UBND")
            seen_counts.append(len(snapshot))
            time.sleep(0.02)
        assert process.returncode == 0, process.stderr.read().decode()
        assert len(search(reader, "nong thon moi", limit=100)) == DOCUMENTS
    finally:
        reader.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert seen_counts == sorted(seen_counts) and len(set(seen_counts)) > 2
    assert seen_counts[-1] <= len(expected)


def test_archive_reliability_ctrl_c_ends_pages_in_progress(tmp_path):
    started = tmp_path / "started"
    write_fake_scan(tmp_path / "in" / "slow.png", ["a", "b"], sleep=120, started=str(started))
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_RUNNER, str(Path(__file__).parent), "process", str(tmp_path / "in"), "--out",
         str(tmp_path / "out"), "--jobs", "2"],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=20)  # the pages would sleep for two minutes more
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "Traceback" not in stderr.decode(), stderr.decode()


def test_archive_reliability_ctrl_c_stops_cleanly(tmp_path):
    for number in range(10):
        write_fake_scan(tmp_path / "in" / f"d{number}.png", ["a", "b", "c"], sleep=0.3)
    out, db_path = tmp_path / "out", tmp_path / "archive.db"
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_RUNNER, str(Path(__file__).parent), "process", str(tmp_path / "in"), "--out",
         str(out), "--db", str(db_path), "--jobs", "2"],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _archived(db_path) and time.monotonic() < deadline:  # a document's JSON is written before its row
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    try:
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = stderr.decode()
    assert process.returncode == 130 and "congvan: interrupted" in text and "Traceback" not in text, text
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = db.execute('SELECT count(*) FROM "documents"').fetchone()[0]
    assert 1 <= done < 10


def _archived(db_path: Path) -> int:
    """Documents in the archive a running batch writes (0 while it is not there yet or is being created)."""
    if not db_path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, timeout=0.1)) as db:
            return int(db.execute('SELECT count(*) FROM "documents"').fetchone()[0])
    except sqlite3.Error:
        return 0


def test_archive_reliability_opening_beside_a_writer_waits_for_its_lock(tmp_path):
    """A second process creating the same archive meets the first one's transaction while switching to WAL,
    which SQLite refuses at once ("database is locked") instead of waiting: opening waits for the lock."""
    path = tmp_path / "archive.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, ["COMMIT"])
    release.start()
    try:
        with open_archive(path) as archive:
            assert archive.count_documents() == 0
    finally:
        release.join()
        holder.close()
