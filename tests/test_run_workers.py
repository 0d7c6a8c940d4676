"""Worker processes cannot take the machine down: each has a memory cap (a page beyond it fails alone, E105),
and they all end when the process that started the batch dies, even by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pikepdf
import pytest
from fakes_run import BATCH_RUNNER, FAKE_STAGES, write_fake_scan

from pipeline import limits
from pipeline.cli import main
from pipeline.errors import TooLargeError, UsageError
from pipeline.run import ProcessOptions, process_inputs

GIB = 1 << 30


def test_run_workers_page_beyond_the_memory_cap_fails_alone(tmp_path, capsys):
    write_fake_scan(tmp_path / "in" / "a_huge.png", ["trang lon"], allocate=8 * GIB)
    write_fake_scan(tmp_path / "in" / "b_small.png", ["nong thon moi"])
    options = ProcessOptions(out_dir=tmp_path / "out", jobs=1, worker_memory=1 * GIB)
    summary = process_inputs([tmp_path / "in"], options, stages=FAKE_STAGES)
    assert [o.status for o in summary.outcomes] == ["failed", "done"]
    error = summary.failed[0].error
    assert isinstance(error, TooLargeError) and summary.exit_code == TooLargeError.exit_code == 8
    assert str(error) == (f"{tmp_path / 'in' / 'a_huge.png'}: page 1: out of memory (a worker may use 1.0 GiB: "
                          "--worker-memory) [E105]")
    assert (tmp_path / "out" / "b_small.txt").read_text(encoding="utf-8") == "nông thôn mới"


def test_run_workers_without_a_cap_the_same_page_passes(tmp_path):
    # The same 8 GiB reservation (never touched) succeeds when the cap is off: the cap is what refused it.
    write_fake_scan(tmp_path / "in" / "a_huge.png", ["trang lon"], allocate=8 * GIB)
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "out", jobs=1, worker_memory=0),
                             stages=FAKE_STAGES)
    assert [o.status for o in summary.outcomes] == ["done"]


def test_run_workers_hugebox_pdf_beyond_a_small_cap_is_one_line_e105(tmp_path, capsys):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(14400, 14400))  # issue 11: 200×200 inches, 100 Mpx at 50 dpi
    pdf.save(tmp_path / "hugebox.pdf")
    code = main(["process", str(tmp_path / "hugebox.pdf"), "--out", str(tmp_path / "out"), "--jobs", "1",
                 "--worker-memory", "700M"])
    err = capsys.readouterr().err
    assert code == 8, err
    assert f"congvan: too large: {tmp_path / 'hugebox.pdf'}: page 1: out of memory (a worker may use 700 MiB" in err
    assert "Traceback" not in err and "internal error" not in err


def test_run_workers_default_cap_shares_the_machine(monkeypatch):
    monkeypatch.setattr(limits, "machine_memory", lambda: 16 * GIB)
    assert ProcessOptions(out_dir=Path("o"), jobs=2).worker_memory_limit == int(16 * GIB * 0.8 / 2)
    assert ProcessOptions(out_dir=Path("o"), jobs=64).worker_memory_limit == limits.MIN_WORKER_MEMORY
    assert ProcessOptions(out_dir=Path("o"), worker_memory=3 * GIB).worker_memory_limit == 3 * GIB
    assert ProcessOptions(out_dir=Path("o"), worker_memory=0).worker_memory_limit is None
    with pytest.raises(UsageError, match="--worker-memory"):
        ProcessOptions(out_dir=Path("o"), worker_memory=1000)


@pytest.mark.parametrize(("text", "size"), [("4G", 4 * GIB), ("1500M", 1500 << 20), ("2GiB", 2 * GIB),
                                            ("0", 0), ("0.5g", GIB // 2), ("123456789", 123456789)])
def test_run_workers_memory_sizes_parse(text, size):
    assert limits.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "-1G", "4X", "nan", "1e400", "99999999999T"])
def test_run_workers_bad_memory_sizes_are_usage_errors(tmp_path, capsys, text):
    assert main(["process", str(tmp_path), "--out", str(tmp_path / "out"), "--worker-memory", text]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--worker-memory" in err and "[E001]" in err


# --------------------------------------------------------------------------- the driver killed


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        new = _children(todo.pop()) - found
        found |= new
        todo += new
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent has yet to collect it


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_run_workers_end_when_the_driver_is_killed(tmp_path):
    for number in range(4):
        write_fake_scan(tmp_path / "in" / f"d{number}.png", ["a", "b"], sleep=120)
    driver = subprocess.Popen([sys.executable, "-c", BATCH_RUNNER, str(Path(__file__).parent), str(tmp_path / "in"),
                               str(tmp_path / "out"), str(tmp_path / "archive.db"), "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        family: set[int] = set()
        while time.monotonic() < deadline:  # fork server, resource tracker and two busy workers
            family = _descendants(driver.pid)
            if len(family) >= 4 and len(_children(driver.pid)) >= 2:
                break
            time.sleep(0.1)
        assert len(family) >= 4, family
        time.sleep(0.5)  # the workers are inside their 120 s pages
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 5
        while any(_running(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in family if _running(pid)] == []
    finally:
        for pid in family:  # only what this test started, if the test failed
            if _running(pid) and b"multiprocessing" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
