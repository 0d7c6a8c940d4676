"""Output and temporary files in hostile conditions: two runs into one --out, runs killed before they could
clean up, very long and control-character file names, unreadable folders, an --out that cannot be used."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from fakes_run import CLI_RUNNER, FAKE_STAGES, write_fake_scan

from pipeline.archive.files import NAME_MAX, fit_name, remove_stale_temporaries, write_atomic
from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.run import ProcessOptions, collect_inputs, process_inputs
from pipeline.run.worker import PAGE_TEMP_PREFIX

TESTS = str(Path(__file__).parent)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _leftovers(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir() if entry.name.startswith("."))


# --------------------------------------------------------------------------- concurrent runs


def _write_many(target: str, count: int) -> int:
    failures = 0
    for number in range(count):
        try:
            write_atomic(Path(target), f"{os.getpid()} {number}\n" * 50)
        except OSError:
            failures += 1
    return failures


def test_run_outputs_concurrent_atomic_writes_never_remove_each_other(tmp_path):
    # issue 11: each write removed every other temporary file of the same name (582 of 3,000 writes failed)
    target = tmp_path / "a.json"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        failures = pool.starmap(_write_many, [(str(target), 300)] * 3)
    assert failures == [0, 0, 0]
    assert _leftovers(tmp_path) == [] and target.read_text().count("\n") == 50


def test_run_outputs_two_runs_into_the_same_out_folder_both_complete(tmp_path):
    for number in range(12):
        write_fake_scan(tmp_path / "in" / f"d{number:02d}.png", [f"nong thon moi {number}", "trang hai"], sleep=0.02)
    out = tmp_path / "out"
    runs = [subprocess.Popen([sys.executable, "-c", CLI_RUNNER, TESTS, "process", str(tmp_path / "in"), "--out",
                              str(out), "--pdf", "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    results = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in results]
    for number in range(12):
        data = json.loads((out / f"d{number:02d}.json").read_text(encoding="utf-8"))
        assert data["page_count"] == 2 and (out / f"d{number:02d}.pdf").stat().st_size > 0
    assert _leftovers(out) == []


# --------------------------------------------------------------------------- what a killed run leaves


def test_run_outputs_stale_temporaries_of_dead_runs_are_removed_live_ones_kept(tmp_path, monkeypatch):
    system_temp = tmp_path / "tmp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    out = tmp_path / "out"
    out.mkdir()
    dead, live = _dead_pid(), os.getppid()
    for folder, prefix in ((out, ".congvan-"), (system_temp, PAGE_TEMP_PREFIX)):
        (folder / f"{prefix}{dead}-a1b2.tmp").write_bytes(b"x" * 1000)
        (folder / f"{prefix}{dead}-c3d4").mkdir()
        (folder / f"{prefix}{dead}-c3d4" / "page.pgm").write_bytes(b"x" * 1000)
        (folder / f"{prefix}{live}-e5f6.tmp").write_bytes(b"another run, still going")
        (folder / f"{prefix}notapid").write_bytes(b"not ours")
    (out / "notes.txt").write_text("kept")
    write_fake_scan(tmp_path / "in" / "a.png", ["nong"])
    summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=out, jobs=1), stages=FAKE_STAGES)
    assert [o.status for o in summary.outcomes] == ["done"]
    assert _leftovers(out) == [f".congvan-{live}-e5f6.tmp", ".congvan-notapid"]
    assert sorted(p.name for p in system_temp.iterdir() if p.name.startswith("congvan")) == [f"{PAGE_TEMP_PREFIX}{live}-e5f6.tmp",
                                                              f"{PAGE_TEMP_PREFIX}notapid"]
    assert (out / "notes.txt").read_text() == "kept"


def test_run_outputs_remove_stale_temporaries_counts_and_spares_other_names(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".congvan-{dead}-x.tmp").write_text("x")
    (tmp_path / f".congvan-{dead}").write_text("no dash after the pid: not a temporary name")
    (tmp_path / f"congvan-{dead}-x.tmp").write_text("no leading dot")
    assert remove_stale_temporaries(tmp_path) == 1
    assert remove_stale_temporaries(tmp_path / "missing") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".congvan-{dead}", f"congvan-{dead}-x.tmp"]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("stem", ["x" * 250, "Quyết định số 539 " * 11 + "QĐ", "é" * 125], ids=["ascii", "vietnamese", "two-byte"])
def test_run_outputs_longest_input_names_get_their_outputs(tmp_path, stem):
    name = f"{fit_name(stem, '.png').removesuffix('.png')}.png"  # the longest name the file system allows
    assert len(os.fsencode(name)) >= NAME_MAX - 3
    write_fake_scan(tmp_path / "in" / name, ["nong thon moi"])
    write_fake_scan(tmp_path / "in2" / name, ["quyet dinh"])  # the same stem again: numbered, still fits
    out = tmp_path / "out"
    summary = process_inputs([tmp_path / "in", tmp_path / "in2"], ProcessOptions(out_dir=out, jobs=1, pdf=True),
                             stages=FAKE_STAGES)
    assert [o.status for o in summary.outcomes] == ["done", "done"], summary.format()
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 6 and all(len(os.fsencode(n)) <= NAME_MAX for n in names)
    assert {json.loads((out / n).read_text(encoding="utf-8"))["source"] for n in names if n.endswith(".json")} == {
        str((tmp_path / "in" / name).resolve()), str((tmp_path / "in2" / name).resolve())}


def test_run_outputs_control_characters_in_names_stay_on_one_line(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = folder / "công\nvăn\x1b[31m.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    (folder / "ok.png").write_bytes(b"")
    code = main(["process", str(folder), "--out", str(tmp_path / "out"), "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"congvan: corrupt file: {folder}/công\\nvăn\\x1b[31m.pdf: unreadable PDF" in err
    assert "\x1b" not in err and all(line.startswith(("congvan: ", "  failed: ")) for line in err.splitlines()), err


# --------------------------------------------------------------------------- folders


def test_run_outputs_unreadable_sub_folder_is_a_failure(tmp_path, monkeypatch):
    (tmp_path / "in" / "locked").mkdir(parents=True)
    write_fake_scan(tmp_path / "in" / "a.png", ["nong"])
    write_fake_scan(tmp_path / "in" / "locked" / "b.png", ["thon"])
    locked = tmp_path / "in" / "locked"
    if os.geteuid() == 0:  # root reads any folder: make the walk meet what another user would
        scandir = os.scandir

        def refusing(path="."):
            if os.fspath(path) == str(locked):
                raise PermissionError(13, "Permission denied", str(locked))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refusing)
    else:
        locked.chmod(0)
    try:
        files, errors, _ = collect_inputs([tmp_path / "in"])
        summary = process_inputs([tmp_path / "in"], ProcessOptions(out_dir=tmp_path / "out", jobs=1),
                                 stages=FAKE_STAGES)
    finally:
        locked.chmod(0o755)
    assert files == [tmp_path / "in" / "a.png"]
    assert [str(e) for e in errors] == [f"{locked}: cannot read this folder: Permission denied [E100]"]
    assert [o.status for o in summary.outcomes] == ["failed", "done"]
    assert isinstance(summary.failed[0].error, InputError) and summary.exit_code == 3


@pytest.mark.parametrize("kind", ["file", "under_a_file"])
def test_run_outputs_unusable_out_folder_is_a_usage_error(tmp_path, capsys, kind):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" if kind == "file" else tmp_path / "file" / "out"
    write_fake_scan(tmp_path / "in" / "a.png", ["nong"])
    assert main(["process", str(tmp_path / "in"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"congvan: usage: {out}: --out") and "[E001]" in err, err
