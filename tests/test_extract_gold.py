"""The gold set of samples/documents/: consistent files, valid gold records, and the clean-text scores."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import jsonschema
import pytest

from pipeline.extract import extract_record, record_schema

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = ROOT / "samples" / "documents"
GOLD = sorted(DOCUMENTS.glob("*.gold.json"))


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_extract_gold_set_is_large_and_varied() -> None:
    assert len(GOLD) >= 15
    types = {json.loads(p.read_text(encoding="utf-8"))["document"]["type"] for p in GOLD}
    assert {"CV", "QĐ", "KH", "TB"} <= types
    provinces = {place["province"] for p in GOLD for place in json.loads(p.read_text(encoding="utf-8"))["places"]}
    assert len(provinces) >= 3


@pytest.mark.parametrize("gold_path", GOLD, ids=[p.name for p in GOLD])
def test_extract_gold_text_is_the_spec_text(gold_path: Path) -> None:
    generate = _module("generate", ROOT / "samples" / "generate.py")
    name = gold_path.name[: -len(".gold.json")]
    spec = json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))
    text = (DOCUMENTS / f"{name}.txt").read_text(encoding="utf-8")
    assert text.rstrip("\n") == generate.dispatch_text(spec)


def test_extract_gold_clean_scores_meet_targets() -> None:
    bench = _module("bench_extract", ROOT / "scripts" / "bench_extract.py")
    condition = bench.Condition("clean")
    validator = jsonschema.Draft202012Validator(record_schema())
    for _name, _spec, text, gold in bench.load_documents():
        predicted = json.loads(json.dumps(extract_record(text).to_dict(), ensure_ascii=False))
        validator.validate(predicted)
        bench.score_record(gold, predicted, condition.scores)
    low = {row: round(score.f1, 3) for row, score in condition.scores.items()
           if row in bench.TARGETS and score.f1 < bench.TARGETS[row]}
    assert not low
