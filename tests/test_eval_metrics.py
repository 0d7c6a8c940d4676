"""Evaluation metrics on small hand-computed cases (tests/cases/eval_metrics.json): CER, WER, syllable accuracy,
bag-of-words F1, precision/recall/F1 conventions and record field scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.eval import metrics, records
from pipeline.eval.metrics import Accuracy, Counts, ErrorRate

CASES = json.loads((Path(__file__).parent / "cases" / "eval_metrics.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["text"], ids=[f"{c['metric']}: {c['comment']}" for c in CASES["text"]])
def test_eval_metrics_text_cases(case: dict) -> None:
    measured = getattr(metrics, case["metric"])(case["reference"], case["hypothesis"], **case.get("options", {}))
    expected = {ErrorRate: ErrorRate, Accuracy: Accuracy, Counts: Counts}[type(measured)](*case["expected"])
    assert measured == expected, case["comment"]


@pytest.mark.parametrize("case", CASES["counts"], ids=[c["comment"] for c in CASES["counts"]])
def test_eval_metrics_precision_recall_f1(case: dict) -> None:
    counts = Counts(*case["counts"])
    assert (counts.precision, counts.recall, counts.f1) == pytest.approx((case["precision"], case["recall"], case["f1"]))


def test_eval_metrics_rates_are_summed_before_dividing() -> None:
    pages = [metrics.cer("abcd", "abcd"), metrics.cer("ab", "")]  # 0 of 4, 2 of 2
    total = sum(pages, ErrorRate())
    assert total == ErrorRate(2, 6) and total.rate == pytest.approx(1 / 3)
    assert ErrorRate().rate == 0.0 and Accuracy().rate == 1.0 and Accuracy(1, 4).rate == 0.25


@pytest.mark.parametrize("case", CASES["records"], ids=[c["comment"] for c in CASES["records"]])
def test_eval_records_field_scores(case: dict) -> None:
    rows = records.record_rows(case["gold"], case["predicted"])
    assert {row: [c.tp, c.fp, c.fn] for row, c in rows.items()} == case["expected"]
    accuracy = records.field_accuracy(case["gold"]["document"], case["predicted"]["document"])
    assert {row: a.correct for row, a in accuracy.items()} == case["expected_accuracy"]
    assert all(a.total == 1 for a in accuracy.values())


def test_eval_records_scores_add_up_over_documents() -> None:
    case = CASES["records"][0]
    scores = records.new_scores()
    for _ in range(2):
        records.score_record(case["gold"], case["predicted"], scores)
    assert [scores["tasks"].tp, scores["tasks"].fp, scores["tasks"].fn] == [2 * n for n in case["expected"]["tasks"]]
    assert set(scores) == set(records.RECORD_ROWS)


@pytest.mark.parametrize("case", CASES["fuzzy"], ids=[c["comment"] for c in CASES["fuzzy"]])
def test_eval_records_fuzzy_matching(case: dict) -> None:
    assert records.same_fuzzy(case["a"], case["b"]) is case["same"]


def test_eval_records_signer_of_nulls_is_no_signer() -> None:
    nulls = {"authority": None, "title": None, "name": None}
    assert records.signer_text(nulls) is None
    assert records.header_field("signer", {"signer": nulls}, {"signer": None}) == Counts(0, 0, 0)
    assert records.header_field("signer", {"signer": nulls}, {"signer": {"name": "Trần Văn A"}}) == Counts(0, 1, 0)
