"""Tests of the case model: what a word's case says (`tokens.word_case`), the corpus counts behind it,
their smoothing, and that the restorer weighs readings with it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_tools.restore.case_build import case_arrays, case_counts
from pipeline.restore.case import PRIOR_COUNT, CaseModel
from pipeline.restore.models import get_restorer
from pipeline.restore.regimes import Regime
from pipeline.restore.tokens import word_case
from pipeline.vietnamese import tone_key

CASES = json.loads((Path(__file__).parent / "cases" / "restore_word_case.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['previous']} {c['token']}" for c in CASES])
def test_restore_case_word_case(case: dict) -> None:
    assert word_case(case["previous"], case["token"]) is case["expected"], case["comment"]


@given(st.text(min_size=1), st.text(min_size=1))
def test_restore_case_word_case_capital_needs_a_capital(previous: str, token: str) -> None:
    # a word without a capital is never taken for a capitalised one, nor one after a sentence end
    if not any(c.isupper() for c in token):
        assert word_case(previous, token) is not True
    assert word_case(previous + ".", token) is None
    assert word_case(None, token) is None


def test_restore_case_counts_skip_sentence_starts() -> None:
    documents = [
        (["Nay, ông Võ Văn Ba đi vào họp.", "Vào ngày đó, ông Võ đi vào. Vào sau"], 2.0),
        (["THÔNG BÁO Võ"], 1.0),
    ]
    counts = case_counts(documents)
    # vào: three lowercase uses; the two at a paragraph's and a sentence's start say nothing
    assert counts[tone_key("vào")] == (0.0, 4.0)
    # Võ twice capitalised in mid-sentence; after a heading's capitals it says nothing
    assert counts[tone_key("võ")] == (4.0, 0.0)
    assert tone_key("nay") not in counts  # first word of a paragraph
    assert counts[tone_key("ông")] == (0.0, 4.0)
    arrays = case_arrays(counts)
    assert list(arrays["words"]) == sorted(counts)
    assert float(arrays["capitalised"].sum()) == sum(c for c, _ in counts.values())


def test_restore_case_model_smooths_towards_the_corpus_share() -> None:
    model = CaseModel({tone_key("võ"): (90.0, 10.0), tone_key("vào"): (0.0, 900.0)})
    prior = 90.0 / 1000.0
    capitalised, lowercase = model.logp(["võ", "vào", "xyz"])
    assert math.exp(capitalised[0]) == pytest.approx((90 + PRIOR_COUNT * prior) / (100 + PRIOR_COUNT))
    assert math.exp(capitalised[1]) == pytest.approx(PRIOR_COUNT * prior / (900 + PRIOR_COUNT))
    assert math.exp(capitalised[2]) == pytest.approx(prior)  # unknown: the corpus share
    for cap, lower in zip(capitalised, lowercase, strict=True):
        assert math.exp(cap) + math.exp(lower) == pytest.approx(1.0)
    arrays = case_arrays(model.counts)
    assert CaseModel.from_arrays({k: np.asarray(v) for k, v in arrays.items()}).counts == model.counts


def test_restore_case_capitalised_reading_gains() -> None:
    # the bundled models: in English-model OCR a capitalised Vo in mid-sentence makes the surname Võ
    # likelier against vô, a lowercase vo the reverse; with no evidence, the scores are the channel's
    # alone; text typed without marks is left to the LM (it knows names in their contexts)
    restorer = get_restorer()

    def emit(regime: Regime, text: str, case: bool | None, word: str) -> float:
        found = restorer.candidates(regime, text, 3, case=case)
        return float(found.emit[found.words.index(word)])

    def margin(regime: Regime, text: str, case: bool | None) -> float:
        return emit(regime, text, case, "võ") - emit(regime, text, case, "vô")

    assert margin(Regime.ENGLISH, "Vo", True) - margin(Regime.ENGLISH, "Vo", None) > 0.5
    assert margin(Regime.ENGLISH, "vo", False) < margin(Regime.ENGLISH, "vo", None)
    assert margin(Regime.PLAIN, "Vo", True) == margin(Regime.PLAIN, "Vo", None)
