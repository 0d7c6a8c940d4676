"""Tests of the sample generator's Dispatch spec, gold text and random dispatches."""

from __future__ import annotations

import json
import random
import re
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import generate

CASES = json.loads((Path(__file__).parent / "cases" / "generate_dispatch_text.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["comment"][:40] for c in CASES])
def test_generate_dispatch_text_reading_order(case: dict) -> None:
    assert generate.dispatch_text(case["input"]) == case["expected"]
    assert generate.dispatch_text(generate.Dispatch.from_json(case["input"])) == case["expected"]


_line = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s != "")


@given(st.lists(st.lists(_line, min_size=1, max_size=4), min_size=6, max_size=6))
def test_generate_dispatch_text_blocks_round_trip(blocks: list[list[str]]) -> None:
    spec = generate.Dispatch(*blocks)
    text = generate.dispatch_text(spec)
    expected_blocks = [blocks[0], blocks[1], blocks[2] + blocks[3], blocks[4], blocks[5]]
    assert text.split("\n\n") == ["\n".join(b) for b in expected_blocks]
    assert generate.Dispatch.from_json(json.dumps(spec.to_json())) == spec


def test_generate_dispatch_json_round_trip() -> None:
    spec = generate.random_dispatch(random.Random(3))
    data = json.loads(json.dumps(spec.to_json(), ensure_ascii=False))
    assert set(data) == {"header_left", "header_right", "title", "body", "distribution", "signature"}
    assert generate.Dispatch.from_json(data) == spec


def test_generate_random_dispatch_deterministic() -> None:
    assert generate.random_dispatch(random.Random(11)) == generate.random_dispatch(random.Random(11))
    assert generate.random_dispatch(random.Random(11)) != generate.random_dispatch(random.Random(12))


_NUMBER = re.compile(r"^Số:? \d{2,4}[/-][\wĐđ]+([-/][\wĐđ]+)*$")
_DATE = re.compile(r", ngày (0[1-9]|[12]\d) tháng (0[12]|[3-9]|1[0-2]) năm (19|20)\d\d$")


@pytest.mark.parametrize("seed", range(40))
def test_generate_random_dispatch_follows_decree_30(seed: int) -> None:
    spec = generate.random_dispatch(random.Random(seed))
    numbers = [line for line in spec.header_left if line.startswith("Số")]
    assert len(numbers) == 1 and _NUMBER.match(numbers[0]), spec.header_left
    assert _DATE.search(spec.header_right[-1]), spec.header_right
    assert spec.header_right[0] in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                                    "ĐẢNG CỘNG SẢN VIỆT NAM")
    is_cong_van = not spec.title
    assert any(line.startswith("V/v ") for line in spec.header_left) == is_cong_van
    if is_cong_van:
        assert spec.body[0].startswith("Kính gửi:")
    assert spec.distribution[0] == "Nơi nhận:" and spec.distribution[-1].startswith("- Lưu")
    assert spec.signature[-1][0].isupper() and not generate._is_upper(spec.signature[-1])  # the signer's name
    assert any(re.match(r"^\d+\. ", p) for p in spec.body)
    text = generate.dispatch_text(spec)
    assert text == unicodedata.normalize("NFC", text)
    assert "Ð" not in text and "ð" not in text  # corpus artefact mapped to Đ/đ


def test_generate_random_dispatch_varies() -> None:
    specs = [generate.random_dispatch(random.Random(seed)) for seed in range(60)]
    issuers = {spec.header_left[0] for spec in specs}
    kinds = {spec.title[0] if spec.title else "công văn" for spec in specs}
    assert len(issuers) >= 5 and len(kinds) >= 4
    assert any(spec.header_right[0] == "ĐẢNG CỘNG SẢN VIỆT NAM" for spec in specs)
    assert len({spec.body[-2] for spec in specs}) == len(specs)
    assert generate.random_dispatch(random.Random(1), party=True).header_right[0] == "ĐẢNG CỘNG SẢN VIỆT NAM"
    assert generate.random_dispatch(random.Random(1), kind="quyet_dinh").title[0] == "QUYẾT ĐỊNH"
