"""Tests of bench-real's scoring (scripts/bench_real.py), and of congvan on the real documents of ../shared/real
when that folder is there."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
from components import require_data

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_real  # noqa: E402

GOLD = json.loads((ROOT / "tests" / "real" / "ct08_2018_quangngai_stamp.gold.json").read_text(encoding="utf-8"))
TRANSCRIPTION = (ROOT / "tests" / "real" / "ct08_2018_quangngai_stamp.txt").read_text(encoding="utf-8").split("\f")
REAL = ROOT.parent / "shared" / "real"


def _document() -> bench_real.RealDocument:
    return bench_real.RealDocument("ct08", Path("ct08.pdf"), GOLD, TRANSCRIPTION)


def test_bench_real_the_gold_scores_perfectly() -> None:
    score = bench_real.score(_document(), bench_real.Output(list(TRANSCRIPTION), copy.deepcopy(GOLD)))
    assert all(score.fields.values())
    assert score.references_dated.recall == 1.0 and score.task_ids.f1 == 1.0 and score.tasks_right.recall == 1.0
    assert score.cer.errors == 0 and score.words.f1 == 1.0


def test_bench_real_each_miss_is_counted() -> None:
    record = copy.deepcopy(GOLD)
    record["document"]["code"] = "/CT-UBND"
    record["document"]["subject"] = record["document"]["subject"].lower()  # folded: still the same subject
    record["references"][1]["date"] = None
    record["received"] = None
    record["tasks"] = record["tasks"][:-1]
    pages = [*TRANSCRIPTION[:-1], TRANSCRIPTION[-1] + " CV ĐẾN"]
    score = bench_real.score(_document(), bench_real.Output(pages, record))
    assert not score.fields["code"] and score.fields["subject"] and not score.fields["received number"]
    assert (score.references.tp, score.references_dated.tp, score.references_dated.fn) == (2, 1, 1)
    assert (score.task_ids.tp, score.task_ids.fn, score.tasks_predicted) == (10, 1, 10)
    assert score.cer.errors == len(" CV ĐẾN")


def test_bench_real_report_names_every_system_and_field() -> None:
    document = _document()
    output = bench_real.Output(list(TRANSCRIPTION), copy.deepcopy(GOLD), cached=True)
    results = {bench_real.NOW: {"ct08": bench_real.score(document, output)}}
    text = bench_real.report([document], results, {bench_real.NOW: {"ct08": output}}, {bench_real.NOW: "key x"})
    assert "| code | 1/1 (100 %) |" in text and "(cache)" in text and "key x" in text


@pytest.mark.slow
def test_bench_real_totals_of_no_document_are_empty() -> None:
    # a selection without a task-scored document (partial web images only) sums nothing
    assert bench_real.total([], lambda s: s.task_ids) == bench_real.Counts()
    assert bench_real.total([], lambda s: s.cer).rate == 0.0


def test_bench_real_no_matching_document_exits_with_its_code(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = bench_real.main(["--real", str(tmp_path), "--only", "nosuchdoc", "--systems", "now",
                            "--out", str(tmp_path / "out")])
    assert code == bench_real.EXIT_NO_DOCUMENTS != 0
    assert "no real document matches" in capsys.readouterr().err


def test_bench_real_ct08_first_page_number_and_stamp() -> None:
    """The e-signed scan with a handwritten number and a "CV ĐẾN" stamp over its first body lines."""
    path = require_data(REAL / "ct08_2018_quangngai_stamp.pdf", "the real documents")
    from pipeline import ingest, ocr, preprocess

    result = ocr.ocr_page(preprocess.preprocess_page(ingest.load_page(path, 0)))
    readings = {reading.name: reading.value for reading in result.field_readings}
    assert readings["number"] == "08"
    assert [mark.kind for mark in result.marks] == ["received-stamp"]
    assert "Số: 08 /CT-UBND" in result.text
