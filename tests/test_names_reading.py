"""Tests of the name syllable model: the reading of signers' names (JSON cases) on the model built from the
corpus, and the build script's counting on a small generated corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from extract_helpers import load_cases

from pipeline.names import NAMES_FILE, NameModel, load_name_model, read_name

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from build_name_model import count_names


@pytest.mark.parametrize(("name", "expected"), load_cases("names_reading"))
def test_names_cases(name: str, expected: str) -> None:
    assert read_name(name, load_name_model(NAMES_FILE)) == expected


def test_names_counts_roles_from_anchors() -> None:
    lines = ["Ông Phạm Trường Thọ, Chủ tịch, và bà Lò Thị Mai dự họp tại Hà Nội.",
             "Đồng chí Nguyễn Văn Thọ (Phó Giám đốc) ký."] * 3
    counts = count_names(lines)
    assert counts["family"] == {"Phạm": 3, "Lò": 3, "Nguyễn": 3}  # Lò: before the anchor middle name Thị
    assert counts["middle"] == {"Trường": 3, "Văn": 3}
    assert counts["given"] == {"Thọ": 6}  # Lò's given name is not counted; "Hà Nội" (two words) is no name


def test_names_reads_through_the_model_it_is_given() -> None:
    model = NameModel({"family": {"Phạm": 500, "Thân": 300}, "middle": {}, "given": {}})
    assert read_name("Tham Văn Ba", model) == "Tham Văn Ba"  # Phạm and Thân a letter away, neither far ahead
    assert read_name("Thạm Văn Ba", NameModel({"family": {"Phạm": 500}})) == "Phạm Văn Ba"
