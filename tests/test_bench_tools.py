"""The benchmarks' own tools: mutants of the mutation run, cache keys, the extraction baseline, the real set."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import bench_cache  # noqa: E402
import bench_digit_letters  # noqa: E402
import bench_extract  # noqa: E402
import mutate  # noqa: E402
from baseline_extract import baseline_record  # noqa: E402
from components import require_data  # noqa: E402

from pipeline.eval.metrics import cer  # noqa: E402
from pipeline.eval.records import record_rows  # noqa: E402

MODULE = '''"""A module docstring: never mutated."""
from __future__ import annotations

__all__ = ["f"]
LIMIT: int = 3


def f(x: int, flag: bool = True) -> int:
    """Not mutated either."""
    if x < LIMIT and flag:
        return x + 1
    return not flag
'''


def test_bench_tools_mutants_of_a_module():
    changes = sorted(change for _index, _line, change in mutate.mutations(MODULE))
    # 3 (the value, not its annotation), True, <, and, if, +, 1, `not flag`, two returns
    assert changes == sorted(["3 → 4", "True → False", "< → <=", "and → or", "if c → if not c", "+ → -", "1 → 2",
                              "not x → x", "return x → return None", "return x → return None"])
    for index, _line, change in mutate.mutations(MODULE):
        mutated = mutate.apply_mutation(MODULE, index, change)
        assert mutated != ast.unparse(ast.parse(MODULE))
        assert "A module docstring: never mutated." in mutated and "__all__ = ['f']" in mutated
        compile(mutated, "mutant", "exec")
    comparison = next(m for m in mutate.mutations(MODULE) if m[2] == "< → <=")
    assert "if x <= LIMIT and flag:" in mutate.apply_mutation(MODULE, comparison[0], comparison[2])


def test_bench_tools_mutants_drawn_reproducibly_from_runtime_modules():
    first, again = mutate.draw(["archive"], 5, 1), mutate.draw(["archive"], 5, 1)
    assert first == again and len(first) == 5
    assert all(m.path.startswith("pipeline/archive/") for m in first)
    assert not any("_build" in m.path for m in mutate.draw(["restore"], 50, 1))  # model building is not runtime


def test_bench_tools_mutants_areas_hold_modules_moved_out_of_their_folder():
    # names.py left pipeline/extract/ but is still extraction's code, tested by test_names_*.py
    assert ROOT / "pipeline" / "names.py" in mutate.area_modules("extract")
    assert "tests/test_names_reading.py" in mutate._tests(ROOT, "extract", "pipeline/names.py")


def test_bench_tools_cache_key_follows_imports_and_changes():
    files = {str(p.relative_to(ROOT)) for p in bench_cache.module_files("pipeline.ocr")}
    # ocr imports preprocess and types at module level, errors too; the package __init__ runs first
    assert {"pipeline/ocr.py", "pipeline/preprocess.py", "pipeline/types.py", "pipeline/errors.py",
            "pipeline/__init__.py"} <= files
    # ocr reaches extract only through the resources object (its digit classifier beside the gazetteer and the
    # document types, which extract loads): a stage that does not use the resources stays clear of extract
    assert "pipeline/resources.py" in files
    preprocess = {str(p.relative_to(ROOT)) for p in bench_cache.module_files("pipeline.preprocess")}
    assert "pipeline/extract/__init__.py" not in preprocess
    resources = {str(p.relative_to(ROOT)) for p in bench_cache.module_files("pipeline.resources")}
    assert "pipeline/restore/models.py" in resources  # imported inside a method of the resources object only
    key = bench_cache.CacheKey.of(code="a", tesseract="5.3.0")
    assert key.digest == bench_cache.CacheKey.of(tesseract="5.3.0", code="a").digest
    assert key.digest != bench_cache.CacheKey.of(code="a", tesseract="5.3.1").digest
    assert "tesseract: 5.3.0" in key.describe()


def test_bench_tools_cache_tally_says_what_came_from_cache():
    tally = bench_cache.CacheTally()
    for hit in (True, True, False):
        tally.count("scans", hit)
    assert tally.lines() == ["scans: 2 of 3 results from cache, 1 computed in this run"]


def test_bench_tools_baseline_fills_every_field():
    name = ROOT / "samples" / "documents" / "cv_langson_vpdp_ntm"
    record = baseline_record(name.with_suffix(".txt").read_text(encoding="utf-8"))
    gold = json.loads(name.with_suffix(".gold.json").read_text(encoding="utf-8"))
    header = record["document"]
    for field in ("code", "number", "symbol", "type", "issuer", "parent_issuer", "place", "date", "subject"):
        assert header[field] == gold["document"][field], field
    assert header["signer"] == {"authority": None, "title": "CHÁNH VĂN PHÒNG", "name": "Hoàng Văn Nam"}
    assert header["distribution"] == gold["document"]["distribution"]
    assert header["recipients"] == gold["document"]["recipients"]
    assert [r["code"] for r in record["references"]] == [r["code"] for r in gold["references"]]
    assert ("deadline", "2020-04-30") in [(d["kind"], d["value"]) for d in record["dates"]]
    assert {"level": "district", "name": "Hữu Lũng", "district": None, "province": "Lạng Sơn"} in record["places"]
    assert [t["id"] for t in record["tasks"]] == ["1", "2", "3", "4"]


def test_bench_tools_real_gold_records_are_scored_on_what_they_hold():
    """Every gold record of tests/real/ has its document and transcription; scored against itself it is perfect
    on every row the benchmark reports, and a record that misses its tasks loses them only where the gold lists
    them (null: the page was cut off before them)."""
    require_data(bench_extract.REAL, "the real documents")
    documents = bench_extract.real_documents()
    assert len(documents) == len(list(bench_extract.REAL_GOLD.glob("*.gold.json"))) >= 9
    for path, gold, transcription in documents:
        assert path.exists() and transcription.strip()
        truth = bench_extract.comparable(gold, gold)
        scores = record_rows(truth, truth)
        assert all(scores[row].fp == scores[row].fn == 0 for row in bench_extract.REAL_ROWS), path.name
        missed = record_rows(truth, bench_extract.comparable(gold, {**gold, "tasks": []}))
        assert missed["tasks.id"].fn == len(gold["tasks"] or [])
    row = bench_extract._text_row("doc", 2, [cer("abcd", "abce"), cer("ab", "ab")])
    assert row == "| doc | 2 | 25.00% | 0.00% |"


def test_bench_tools_digit_letters_damage_and_measure():
    import random

    damaged = bench_digit_letters.damage("Số 101/QĐ-UBND ngày 10/10/2020", random.Random(0), 1.0)
    assert "1" not in damaged and "0" not in damaged and len(damaged) == len("Số 101/QĐ-UBND ngày 10/10/2020")
    counts = bench_digit_letters.measure(3, 0.0)  # nothing damaged: everything survives
    assert counts["found"] == counts["dated"] == counts["references"] and counts["false"] == 0
    assert counts["own_code"] == counts["own_date"] == counts["documents"] == 3
