"""Product cases of restore_text (tests/cases/restore_*.json): the issue's examples, tone confusions,
plain text and protected tokens. They must come out of the models, not out of special rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.restore import restore_text

CASE_FILES = [
    "restore_legacy_ocr.json",
    "restore_real_ocr.json",
    "restore_tone_confusions.json",
    "restore_plain_text.json",
    "restore_protected.json",
    "restore_capitals.json",
]
CASES = [
    (name, case)
    for name in CASE_FILES
    for case in json.loads((Path(__file__).parent / "cases" / name).read_text(encoding="utf-8"))
]


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}:{c['input'][:30]}" for n, c in CASES])
def test_restore_cases(name: str, case: dict) -> None:
    result = restore_text(case["input"], case.get("confidences"))
    assert result.text == case["expected"], case["comment"]
    assert [t.original for t in result.tokens] == case["input"].split()


def test_restore_cases_confidence_keeps_what_ocr_was_sure_of() -> None:
    text = "Đề nghị các đơn vị phân bố vốn đầu tư công"
    sure = restore_text(text, [99.0] * len(text.split()))
    assert sure.text.split()[:4] == text.split()[:4]
    assert len(sure.tokens) == len(text.split())
    assert all(0.0 <= t.confidence <= 1.0 for t in sure.tokens)


def test_restore_cases_cli(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("Quyet dinh s6 18/KH-UBND\nctia UBND tinh\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "restore", str(source)], capture_output=True, text=True, check=True
    )
    assert run.stdout == "Quyết định số 18/KH-UBND\ncủa UBND tỉnh\n"
    run = subprocess.run(
        [sys.executable, "-m", "pipeline", "restore", "-", "--json"],
        input="ngudi dan",
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(run.stdout)
    assert data["text"] == "người dân"
    assert [t["original"] for t in data["tokens"]] == ["ngudi", "dan"]
    assert data["tokens"][0]["restored"] == "người"


def test_restore_cases_merged_token_is_empty() -> None:
    result = restore_text("thuc hién ng uoi dan")
    assert [(t.original, t.restored) for t in result.tokens][2:4] == [("ng", "người"), ("uoi", "")]
