"""An archive is checked when opened and never written when damaged or foreign; a full disk leaves it intact.

Every failure is one line naming the archive, exit code 12 (E400)."""

from __future__ import annotations

import hashlib
import random
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fakes_run import CLI_RUNNER, FAKE_STAGES, make_result, write_fake_scan

from pipeline.archive import open_archive
from pipeline.archive import sqlite as store_module
from pipeline.archive.search import search
from pipeline.cli import main
from pipeline.errors import ArchiveError
from pipeline.run import ProcessOptions, process_inputs
from pipeline.types import Record

TESTS = str(Path(__file__).parent)


def _archive(path: Path, documents: int = 120) -> Path:
    with open_archive(path) as archive:
        for number in range(documents):
            sha = hashlib.sha256(f"doc {number}".encode()).hexdigest()
            pages = [f"trang {number} nông thôn mới " * 40] * 2
            archive.add_document(make_result(sha, pages, Record()), name=f"d{number}", kind="pdf", result_json="{}")
    return path


def _corrupt(path: Path, size: int = 8192) -> None:
    """Overwrite `size` bytes in the middle of the file with garbage (issue 11: 8 KB)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + size] = random.Random(11).randbytes(size)
    path.write_bytes(bytes(data))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_e400(err: str, path: Path) -> None:
    assert err.count("\n") == 1 and err.startswith(f"congvan: archive error: {path}: "), err
    assert err.endswith("[E400]\n") and "Traceback" not in err


def _read_commands(db: Path) -> list[list[str]]:
    return [["search", "nông thôn", "--db", str(db)], ["show", "1", "--db", str(db)],
            ["export", "tasks", "--db", str(db)]]


def test_archive_integrity_damaged_archive_is_refused_and_never_written(tmp_path, capsys):
    db = _archive(tmp_path / "archive.db")
    _corrupt(db)
    before = _digest(db)
    write_fake_scan(tmp_path / "in" / "new.png", ["nong thon moi"])
    with pytest.raises(ArchiveError, match="damaged archive"):
        process_inputs([tmp_path / "in"], ProcessOptions(db_path=db, force=True), stages=FAKE_STAGES)
    for argv in _read_commands(db):
        assert main(argv) == 12
        _one_line_e400(capsys.readouterr().err, db)
    assert _digest(db) == before and not Path(f"{db}-wal").exists()


def test_archive_integrity_damage_beyond_the_timed_check_is_still_one_line(tmp_path, monkeypatch, capsys):
    # The quick check of a large archive stops after a few seconds; queries meet the rest of the damage.
    db = _archive(tmp_path / "archive.db")
    _corrupt(db, 60_000)
    monkeypatch.setattr(store_module, "READ_CHECK_SECONDS", 0.0)
    codes = [main(argv) for argv in _read_commands(db)]
    err = capsys.readouterr().err
    assert "Traceback" not in err and set(codes) <= {0, 12, 13}, (codes, err)
    assert 12 in codes and all(line.endswith("[E400]") for line in err.splitlines() if "archive error" in line)


def test_archive_integrity_timed_check_returns_on_a_large_archive(tmp_path):
    db = _archive(tmp_path / "archive.db", documents=400)
    with sqlite3.connect(db) as connection:
        store_module.check_archive(connection, db, seconds=0.0)  # interrupted at once: no error, no hang


@pytest.mark.parametrize("kind", ["foreign", "not_sqlite", "missing_table", "folder"])
def test_archive_integrity_foreign_files_are_refused_untouched(tmp_path, capsys, kind):
    db = tmp_path / "archive.db"
    if kind == "foreign":
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE notes (body TEXT)")
            connection.execute("INSERT INTO notes VALUES ('a program of its own')")
        connection.close()
        message = "not a congvan archive: an SQLite database of another program (tables: notes)"
    elif kind == "not_sqlite":
        db.write_text("name,date\nQĐ 539,2020-01-01\n", encoding="utf-8")
        message = "not an archive: not an SQLite database file"
    elif kind == "missing_table":
        _archive(db, documents=1)
        with sqlite3.connect(db) as connection:
            connection.execute('DROP TABLE "tasks"')
        connection.close()
        message = "damaged archive: table tasks is missing"
    else:
        db.mkdir()
        message = "is a folder, not an archive file"
    before = _digest(db) if db.is_file() else None
    write_fake_scan(tmp_path / "in" / "a.png", ["nong thon moi"])
    for argv in [*_read_commands(db), ["process", str(tmp_path / "in"), "--db", str(db)]]:
        assert main(argv) == 12
        err = capsys.readouterr().err
        _one_line_e400(err, db)
        assert message in err
    if before is not None:
        assert _digest(db) == before


def test_archive_integrity_folder_that_cannot_be_created(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["process", str(tmp_path), "--db", str(tmp_path / "file" / "sub" / "archive.db")]) == 12
    err = capsys.readouterr().err
    _one_line_e400(err, tmp_path / "file" / "sub" / "archive.db")
    assert "cannot create the archive's folder: Not a directory" in err


@pytest.mark.parametrize("document", ["999999999999999999999", "²", "٣", "-1", " 1 ", "0x1", "ffffffffffffffffffff"])
def test_archive_integrity_show_odd_ids_is_not_found(tmp_path, capsys, document):
    db = _archive(tmp_path / "archive.db", documents=2)
    code = main(["show", document, "--db", str(db)])
    err = capsys.readouterr().err
    if document == " 1 ":
        assert code == 0
    else:
        assert code == 13 and err.count("\n") == 1 and "[E401]" in err, err


# --------------------------------------------------------------------------- a full disk


def _limited(size: int):
    def apply() -> None:  # in the child: what `ulimit -f` does, with the signal a shell would ignore
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return apply


def _process(tmp_path: Path, folder: str, *options: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI_RUNNER, TESTS, "process", str(tmp_path / folder), *options,
                           "--jobs", "1"], capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(limit) if limit else None)


def test_archive_integrity_disk_full_keeps_the_archive_intact(tmp_path):
    db = tmp_path / "archive.db"
    write_fake_scan(tmp_path / "first" / "a.png", ["Số: 1/KH-UBND nong thon moi"] * 2)
    assert _process(tmp_path, "first", "--db", str(db)).returncode == 0
    write_fake_scan(tmp_path / "second" / "big.png", [" ".join(f"tu{i}" for i in range(20_000))])
    full = _process(tmp_path, "second", "--db", str(db), limit=db.stat().st_size + 16_384)
    assert full.returncode == 12, full.stderr
    failures = [line for line in full.stderr.splitlines() if line.startswith("congvan: archive error")]
    assert failures == [f"congvan: archive error: {db}: cannot store {tmp_path / 'second' / 'big.png'}: cannot "
                        "write to the disk (disk full, file-size limit or device error); the archive is unchanged "
                        "[E400]"], full.stderr
    assert "rollback" not in full.stderr and "Traceback" not in full.stderr
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute('SELECT "name" FROM "documents"').fetchall() == [("a",)]
    connection.close()
    assert _process(tmp_path, "second", "--db", str(db)).returncode == 0  # room again: the document goes in
    with open_archive(db, create=False) as archive:
        assert archive.count_documents() == 2 and len(search(archive, "tu19999")) == 1


def test_archive_integrity_disk_full_for_result_files_is_one_line(tmp_path):
    write_fake_scan(tmp_path / "in" / "big.png", [" ".join(f"tu{i}" for i in range(20_000))])
    write_fake_scan(tmp_path / "in" / "small.png", ["nong"])
    run = _process(tmp_path, "in", "--out", str(tmp_path / "out"), limit=50_000)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert (f"congvan: error: {tmp_path / 'in' / 'big.png'}: cannot write results: disk full or file-size limit "
            "reached (File too large) [E000]") in run.stderr.splitlines()
    assert (tmp_path / "out" / "small.txt").read_text(encoding="utf-8") == "nông"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small.json", "small.txt"]  # no temp file left
