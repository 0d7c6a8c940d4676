"""Tests of the syllable rules: phonotactics, tone placement, skeletons and the generated inventory."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.vietnamese import (
    generate_inventory,
    is_valid,
    normalize_text,
    place_tone,
    remove_tone,
    skeleton,
    split_tone,
    tone_key,
)

CASES = json.loads((Path(__file__).parent / "cases" / "vietnamese_syllables.json").read_text(encoding="utf-8"))
VIET74K = Path(__import__("underthesea").__file__).parent / "corpus" / "data" / "Viet74K.txt"


@pytest.mark.parametrize("case", CASES, ids=[c["input"] for c in CASES])
def test_vietnamese_syllables_validity(case: dict) -> None:
    assert is_valid(case["input"]) is case["expected"], case["comment"]


@pytest.mark.parametrize(
    ("syllable", "expected"),
    [("hoa", 2), ("thuy", 3), ("hoan", 2), ("nguoi", 2), ("nguyen", 4), ("quy", 1), ("gia", 1), ("khuyu", 3)],
)
def test_vietnamese_syllables_tone_placement(syllable: str, expected: int) -> None:
    toneless = {"nguoi": "người", "nguyen": "nguyễn", "hoa": "hòa", "thuy": "thủy", "hoan": "hoàn",
                "quy": "quý", "gia": "giá", "khuyu": "khuỷu"}[syllable]  # fmt: skip
    base, tone = split_tone(toneless)
    assert tone == expected
    assert place_tone(base, tone) == toneless


def test_vietnamese_syllables_skeleton_and_keys() -> None:
    assert skeleton("Đường Hữu Lũng") == "Duong Huu Lung"
    assert remove_tone("người") == "ngươi"
    assert tone_key("hoà") == tone_key("hòa") == "hoa2"
    assert normalize_text("Ð" + unicodedata.normalize("NFD", "ộ")) == "Độ"


def test_vietnamese_syllables_inventory_is_valid_and_covers_viet74k() -> None:
    inventory = set(generate_inventory())
    assert all(is_valid(s) for s in inventory)
    assert 15_000 < len(inventory) < 30_000
    keys = {tone_key(s) for s in inventory}
    words = {
        w
        for line in VIET74K.read_text(encoding="utf-8").splitlines()
        for w in unicodedata.normalize("NFC", line).lower().split()
        if w.isalpha()
    }
    covered = sum(tone_key(w) in keys for w in words) / len(words)
    # the rest are loanwords written as one token (ôtô, bêtông), abbreviations and typos
    assert covered > 0.85


@given(st.sampled_from(sorted(set(generate_inventory()))))
def test_vietnamese_syllables_placement_roundtrip(syllable: str) -> None:
    base, tone = split_tone(syllable)
    assert place_tone(base, tone) == syllable
    assert is_valid(syllable.upper().lower())
