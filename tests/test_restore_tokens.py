"""Tests of the token rules: edges, protected classes, capitals, case patterns and LM units."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipeline.restore.decode import TOKEN_RE
from pipeline.restore.tokens import (
    CODE,
    NUM,
    URL,
    apply_case,
    capitals_are_words,
    classify,
    line_units,
    split_edges,
)

CASES = json.loads((Path(__file__).parent / "cases" / "restore_tokens.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["input"] for c in CASES])
def test_restore_tokens_classify(case: dict) -> None:
    assert classify(case["input"]).value == case["expected"], case["comment"]


def test_restore_tokens_token_regex_matches_str_split() -> None:
    # the decoder rebuilds text around its own tokens: they must be exactly str.split()'s
    text = "".join(chr(c) + "a" for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    assert TOKEN_RE.findall(text) == text.split()


def test_restore_tokens_edges() -> None:
    assert split_edges("(tỉnh),") == ("(", "tỉnh", "),")
    assert split_edges("“ĐƠN") == ("“", "ĐƠN", "")
    assert split_edges("...") == ("...", "", "")


def test_restore_tokens_capitals() -> None:
    assert capitals_are_words(["CỘNG", "HÒA", "XÃ", "HỘI"]) == [True] * 4
    # one capitalised syllable in a sentence is an abbreviation (CA = Công an), a run is a phrase
    assert capitals_are_words(["Phòng", "CA", "huyện"]) == [False, False, False]
    line = ["Đạt", "danh", "hiệu", "ĐƠN", "VỊ", "XUẤT", "SẮC", "năm", "nay"]
    assert capitals_are_words(line) == [False, False, False, True, True, True, True, False, False]
    assert classify("CA", False).value == "abbr"
    assert classify("CA", True).value == "word"
    # capitals joined by & stay an abbreviation on a line of capitals too
    assert classify("GD&ĐT", True).value == "abbr"


@pytest.mark.parametrize(
    ("pattern", "word", "expected"),
    [
        ("Chuong", "chương", "Chương"),
        ("CHUONG", "chương", "CHƯƠNG"),
        ("ctia", "của", "của"),
        ("d6", "độ", "độ"),
    ],
)
def test_restore_tokens_apply_case(pattern: str, word: str, expected: str) -> None:
    assert apply_case(pattern, word) == expected


def test_restore_tokens_line_units() -> None:
    units = line_units("Căn cứ Kế hoạch số 18/KH-UBND ngày 15/4/2020 của UBND tỉnh (xem www.a.gov.vn).")
    assert units == [
        "căn", "cứ", "kế", "hoạch", "số", CODE, "ngày", NUM, "của", "UBND", "tỉnh", "(", "xem", URL, ")", ".",
    ]  # fmt: skip
    assert line_units("Kinh-tế, VĂN HÓA") == ["kinh", "-", "tế", ",", "văn", "hóa"]
