"""Reliability: a batch killed at random moments and re-run loses and duplicates nothing; readers never see
a half-written document while a batch writes."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
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


def _start(folder: Path, out: Path, db: Path) -> subprocess.Popen:
    tests = str(Path(__file__).parent)
    return subprocess.Popen([sys.executable, "-c", BATCH_RUNNER, tests, str(folder), str(out), str(db), "2"],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _consistent_snapshot(db: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(name, pages declared, pages stored) for every document, read in one transaction."""
    db.execute("BEGIN")
    try:
        return db.execute(
            'SELECT d."name", d."page_count", (SELECT count(*) FROM "pages" p WHERE p."document_id" = d."id") '
            'FROM "documents" d'
        ).fetchall()
    finally:
        db.execute("COMMIT")


def test_archive_reliability_killed_batches_resume_exactly(tmp_path):
    expected = _make_batch(tmp_path / "in")
    out, db_path = tmp_path / "out", tmp_path / "archive.db"
    rng = random.Random(20240607)
    for _ in range(3):
        process = _start(tmp_path / "in", out, db_path)
        time.sleep(rng.uniform(0.4, 2.5))
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    final = _start(tmp_path / "in", out, db_path)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.execute("INSERT INTO \"page_fts\" (\"page_fts\", \"rank\") VALUES ('integrity-check', 1)")
        rows = db.execute('SELECT "name", "page_count", "sha256" FROM "documents" ORDER BY "name"').fetchall()
        assert db.execute('SELECT count(*) FROM "pages"').fetchone()[0] == sum(expected.values())
        assert db.execute('SELECT count(*) FROM "references"').fetchone()[0] == sum(expected.values())
    assert {name: pages for name, pages, _ in rows} == expected
    for name, _, sha in rows:
        data = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert data["sha256"] == sha and len(data["pages"]) == expected[name]
    with open_archive(db_path, create=False) as archive:
        assert len(search(archive, "nong thon moi", limit=100)) == DOCUMENTS
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_archive_reliability_search_while_a_batch_writes(tmp_path):
    expected = _make_batch(tmp_path / "in")
    db_path = tmp_path / "archive.db"
    open_archive(db_path).close()  # the schema exists before readers start
    process = _start(tmp_path / "in", tmp_path / "out", db_path)
    reader = open_archive(db_path, create=False)
    seen_counts = []
    try:
        while process.poll() is None:
            snapshot = _consistent_snapshot(reader.connection)
            assert all(declared == stored for _, declared, stored in snapshot), snapshot
            hits = search(reader, "nong thon moi", limit=100)
            assert len(hits) <= len(snapshot) + 1  # the batch may commit between the two reads
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
    while not list(out.glob("*.json")) and time.monotonic() < deadline:
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
