"""Tests of the regime model: word evidence, rates learnt from sample lines, line regimes of a page."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from build_tools.restore.regime_build import (
    estimate_regimes,
    evidence_counts,
    line_evidence,
    regimes_to_json,
    word_list_counts,
)
from pipeline.restore.models import get_restorer
from pipeline.restore.regimes import REGIMES, Evidence, Lexicon, Regime, RegimeModel, token_evidence

CASES = json.loads((Path(__file__).parent / "cases" / "restore_evidence.json").read_text(encoding="utf-8"))
CORRECT = ["Ủy ban nhân dân tỉnh Lạng Sơn", "Đề nghị các đơn vị khẩn trương triển khai thực hiện"]
ENGLISH = ["Uy ban nhén dén tinh Lang Son", "V/v ddy nhanh tién d6 thyc hién", "Chuong trinh néng thon ma&i"]
PLAIN = ["De nghi cac don vi khan truong trien khai thuc hien", "Uy ban nhan dan tinh Lang Son"]
# English word frequencies (a few of the most frequent words and their shares)
ENGLISH_WORDS = {"the": 5.4, "to": 2.7, "and": 2.6, "of": 2.5, "a": 2.3, "in": 1.9, "is": 1.2, "for": 1.0}
ENGLISH_WORDS |= {"history": 0.1, "language": 0.1, "university": 0.1, "press": 0.1, "official": 0.1}


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return get_restorer().lexicon


@pytest.fixture(scope="module")
def model(lexicon: Lexicon) -> RegimeModel:
    """Rates from a few lines of each kind: what `make models` does with the channel's pairs."""
    samples = {Regime.VIETNAMESE: CORRECT, Regime.ENGLISH: ENGLISH, Regime.PLAIN: PLAIN}
    counts = {
        regime: evidence_counts(line_evidence(line, lexicon) for line in lines)
        for regime, lines in samples.items()
    }
    counts[Regime.FOREIGN] = word_list_counts(ENGLISH_WORDS, lexicon, 0.15, 30.0)
    return estimate_regimes(counts)


@pytest.mark.parametrize("case", CASES, ids=[c["input"] for c in CASES])
def test_restore_regimes_evidence(case: dict, lexicon: Lexicon) -> None:
    expected = case["expected"] if isinstance(case["expected"], list) else [case["expected"]]
    assert [e.name for e in token_evidence(case["input"], lexicon)] == expected, case["comment"]


def _counts(lines: list[str], lexicon: Lexicon) -> np.ndarray:
    counts = np.zeros((len(lines), len(Evidence)))
    for row, line in enumerate(lines):
        for evidence in line_evidence(line, lexicon):
            counts[row, evidence] += 1
    return counts


def test_restore_regimes_mixed_page(model: RegimeModel, lexicon: Lexicon) -> None:
    page = [CORRECT[0], ENGLISH[1], ENGLISH[2], CORRECT[1], "12/KH-UBND", PLAIN[0]]
    labels = model.line_regimes(_counts(page, lexicon), REGIMES)
    # the code line says nothing: it keeps the regime of the line before it
    vie, eng = Regime.VIETNAMESE, Regime.ENGLISH
    assert labels == [vie, eng, eng, vie, vie, Regime.PLAIN]


def test_restore_regimes_other_language(model: RegimeModel, lexicon: Lexicon) -> None:
    english = "A History of the Hebrew Language, Oxford University Press"
    # among correct lines an English line is kept as written; among lines typed without marks it is
    # taken for one of them, with foreign words
    assert model.line_regimes(_counts([CORRECT[0], english], lexicon), REGIMES)[1] is Regime.FOREIGN
    assert model.line_regimes(_counts([PLAIN[0], english, PLAIN[1]], lexicon), REGIMES) == [Regime.PLAIN] * 3


def test_restore_regimes_short_line_follows_the_page(model: RegimeModel, lexicon: Lexicon) -> None:
    # "Lang Son" alone could be typed without marks; among English-OCR lines it is English OCR
    page = [ENGLISH[0], ENGLISH[1], "Lang Son", ENGLISH[2]]
    assert model.line_regimes(_counts(page, lexicon), REGIMES) == [Regime.ENGLISH] * 4
    # a regime without its channel is never chosen
    assert Regime.ENGLISH not in model.line_regimes(_counts(page, lexicon), (Regime.PLAIN, Regime.VIETNAMESE))


def test_restore_regimes_json_round_trip(model: RegimeModel) -> None:
    again = RegimeModel.from_json(json.loads(json.dumps(regimes_to_json(model))))
    for regime in REGIMES:
        assert np.allclose(again.logp[regime], model.logp[regime], atol=1e-4)
        assert np.isclose(np.exp(again.logp[regime]).sum(), 1.0, atol=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=len(Evidence), max_size=len(Evidence)), max_size=12))
def test_restore_regimes_one_label_per_line(model: RegimeModel, rows: list[list[int]]) -> None:
    counts = np.array(rows, dtype=np.float64).reshape(len(rows), len(Evidence))
    labels = model.line_regimes(counts, REGIMES)
    assert len(labels) == len(rows)
    assert all(label in REGIMES for label in labels)
    # a page of one line repeated is one regime
    if rows:
        assert len(set(model.line_regimes(np.repeat(counts[:1], 5, axis=0), REGIMES))) == 1
