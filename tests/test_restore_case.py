"""Tests of the case model: what a word's case says (`tokens.word_case`), the corpus counts behind it,
their smoothing, and that the restorer weighs readings with it."""

from __future__ import annotations

import gzip
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from build_tools.restore.case_build import case_arrays, case_counts
from build_tools.restore.corpus import CORPUS_WEIGHTS, SOURCE_PREFIX, split_of
from pipeline.restore.case import PRIOR_COUNT, CaseModel
from pipeline.restore.models import CASE_FILE, get_restorer
from pipeline.restore.regimes import Regime
from pipeline.restore.tokens import word_case
from pipeline.vietnamese import tone_key

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from build_models import build_case_model

CASES = json.loads((Path(__file__).parent / "cases" / "restore_word_case.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['previous']} {c['token']}" for c in CASES])
def test_restore_case_word_case(case: dict) -> None:
    assert word_case(case["previous"], case["token"]) is case["expected"], case["comment"]


@given(st.text(), st.text())
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
    # vào: two lowercase uses; the two at a paragraph's and a sentence's start say nothing
    assert counts[tone_key("vào")] == (0.0, 4.0)
    # Võ twice capitalised in mid-sentence; after a heading's capitals it says nothing
    assert counts[tone_key("võ")] == (4.0, 0.0)
    assert tone_key("nay") not in counts  # first word of a paragraph
    assert counts[tone_key("ông")] == (0.0, 4.0)
    arrays = case_arrays(counts)
    assert list(arrays["words"]) == sorted(counts)
    assert float(arrays["capitalised"].sum()) == sum(c for c, _ in counts.values())


def test_restore_case_model_built_from_training_documents(tmp_path: Path) -> None:
    # a training and a held-out document of the weighted corpus: only the first is counted, at its weight
    sources = (f"document {i}" for i in itertools.count())
    train = next(s for s in sources if split_of(s) == "train")
    held_out = next(s for s in sources if split_of(s) == "test")
    corpus = next(iter(CORPUS_WEIGHTS))
    with gzip.open(tmp_path / f"{corpus}.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write(
            f"{SOURCE_PREFIX}{train}\nNay, ông Võ đi họp.\n{SOURCE_PREFIX}{held_out}\nNay, ông vào đi Vào.\n"
        )
    report = build_case_model(tmp_path, tmp_path)
    with np.load(tmp_path / CASE_FILE) as arrays:
        model = CaseModel.from_arrays(dict(arrays))
    weight = float(CORPUS_WEIGHTS[corpus])
    assert model.counts == {
        tone_key(w): c
        for w, c in [
            ("ông", (0.0, weight)),
            ("võ", (weight, 0.0)),
            ("đi", (0.0, weight)),
            ("họp", (0.0, weight)),
        ]
    }
    assert report == {"syllables": 4, "capitalised_share": round(model.prior, 4)}


def test_restore_case_model_smooths_towards_the_corpus_share() -> None:
    model = CaseModel({tone_key("võ"): (90.0, 10.0), tone_key("vào"): (0.0, 900.0)})
    prior = (90.0 + 1.0) / (1000.0 + 2.0)
    capitalised, lowercase = model.logp(["võ", "vào", "xyz"])
    assert math.exp(capitalised[0]) == pytest.approx((90 + PRIOR_COUNT * prior) / (100 + PRIOR_COUNT))
    assert math.exp(capitalised[1]) == pytest.approx(PRIOR_COUNT * prior / (900 + PRIOR_COUNT))
    assert math.exp(capitalised[2]) == pytest.approx(prior)  # unknown: the corpus share
    for cap, lower in zip(capitalised, lowercase, strict=True):
        assert math.exp(cap) + math.exp(lower) == pytest.approx(1.0)
    arrays = case_arrays(model.counts)
    assert CaseModel.from_arrays({k: np.asarray(v) for k, v in arrays.items()}).counts == model.counts


@pytest.mark.parametrize("counts", [{"a": (0.0, 5.0)}, {"a": (5.0, 0.0)}, {}])
def test_restore_case_model_one_sided_corpus(counts: dict[str, tuple[float, float]]) -> None:
    # a corpus that writes every word one way (or has no counts) leaves neither reading impossible
    capitalised, lowercase = CaseModel(counts).logp(["a", "b"])
    for cap, lower in zip(capitalised, lowercase, strict=True):
        assert math.isfinite(cap) and math.isfinite(lower)
        assert math.exp(cap) + math.exp(lower) == pytest.approx(1.0)


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
    # each case its own scores, whichever was asked for first
    assert margin(Regime.ENGLISH, "Vo", False) < margin(Regime.ENGLISH, "Vo", True)
