"""The Tesseract process: one thread, killed on timeout, missing installs named."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from scan_images import text_page

from pipeline import ocr
from pipeline.errors import MissingDependencyError, OcrTimeoutError
from pipeline.preprocess import preprocess_page
from pipeline.types import PageImage


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split()[2] != "Z"


def _fake_tesseract(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "tesseract"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_ocr_timeout_kills_a_hung_tesseract_and_its_children(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pids = tmp_path / "pids"
    hung = _fake_tesseract(tmp_path, f'echo $$ > {pids}\nsleep 60 &\necho $! >> {pids}\nwait\n')
    monkeypatch.setattr(ocr, "TESSERACT", str(hung))
    started = time.monotonic()
    with pytest.raises(OcrTimeoutError) as caught:
        ocr.run_tesseract(["page.png", "stdout"], timeout=1.0, source="scan.pdf")
    assert time.monotonic() - started < 10
    assert str(caught.value).startswith("scan.pdf: ") and "killed" in str(caught.value)
    shell, sleeper = (int(line) for line in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (_alive(shell) or _alive(sleeper)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(shell) and not _alive(sleeper)


def test_ocr_page_timeout_with_real_tesseract() -> None:
    prepared = preprocess_page(PageImage(source="slow.png", index=0, image=text_page(dpi=300), dpi=300))
    with pytest.raises(OcrTimeoutError):
        ocr.ocr_page(prepared, timeout=0.05)


def test_ocr_runs_tesseract_with_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = tmp_path / "env"
    spy = _fake_tesseract(tmp_path, f'echo "$OMP_THREAD_LIMIT" > {seen}\n')
    monkeypatch.setattr(ocr, "TESSERACT", str(spy))
    monkeypatch.setenv("OMP_THREAD_LIMIT", "8")
    ocr.run_tesseract(["x"], timeout=10)
    assert seen.read_text().strip() == "1"


def test_ocr_check_tesseract_names_missing_language_package(monkeypatch: pytest.MonkeyPatch) -> None:
    ocr.check_tesseract("vie")
    with pytest.raises(MissingDependencyError, match="tesseract-ocr-xyz"):
        ocr.check_tesseract("vie+xyz")
    monkeypatch.setattr(ocr, "installed_languages", lambda: frozenset({"eng", "osd"}))
    with pytest.raises(MissingDependencyError, match="tesseract-ocr-vie tesseract-ocr-script-viet"):
        ocr.check_tesseract("vie+Vietnamese")


def test_ocr_check_tesseract_without_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "TESSERACT", "/nonexistent/bin/tesseract")
    ocr.installed_languages.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match="apt-get install tesseract-ocr"):
            ocr.check_tesseract("vie")
    finally:
        ocr.installed_languages.cache_clear()
