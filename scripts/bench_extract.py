"""Extraction benchmark (`make bench-extract`): precision, recall and F1 per record field on the gold documents
of samples/documents/, on their clean text and through synthetic degraded scans, with a baseline in the same run.

Each gold document is `<name>.json` (a Dispatch spec), `<name>.txt` (its text, = dispatch_text(spec)) and
`<name>.gold.json` (the hand-checked record). Conditions:
- clean: `extract_record` on `<name>.txt`;
- baseline (clean): a naive extractor written here (strict regular expressions, first gazetteer match, every
  numbered line a task with no assignee): what a few regexes get on the same texts;
- scans (`--degradations`, default dpi150 and hardest): the spec rendered by samples/generate.py with a fixed
  seed, degraded, written as PNG, then the real pipeline: ingest.load_page → preprocess_page → ocr_page →
  restore_text → extract_record; the same OCR text without restoration is a second row (the pipeline's own
  baseline). OCR results are cached in out/bench_extract_cache/ (keyed by the page image hash), so reruns
  only pay for restoration and extraction.

Matching, per field:
- scalar header fields: exact after NFC/whitespace normalization (code, number, symbol, type, place, date);
  long strings (issuer, parent_issuer, subject, signer) with a fuzzy ratio ≥ 90 on folded text;
- lists (recipients, distribution): items matched one to one, fuzzy ratio ≥ 90;
- references: by canonical code; `references.date` also requires the date;
- dates: multiset of (kind, value);
- places: multiset of (level, name, district, province);
- tasks: by id with the same assignees (each matched, parentheses ignored, fuzzy ≥ 90) and deadline;
  `tasks.id` counts ids alone.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from rapidfuzz import fuzz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.extract import extract_record  # noqa: E402
from pipeline.extract.text import fold  # noqa: E402

DOCUMENTS = ROOT / "samples" / "documents"
CACHE = ROOT / "out" / "bench_extract_cache"
SEED = 4
FUZZY = 90
HEADER_FIELDS = ("code", "number", "symbol", "type", "issuer", "parent_issuer", "place", "date", "subject",
                 "recipients", "signer", "distribution")
FUZZY_FIELDS = {"issuer", "parent_issuer", "subject"}
ROWS = (*(f"document.{f}" for f in HEADER_FIELDS), "references", "references.date", "dates", "places",
        "tasks", "tasks.id")
TARGETS = {"references": 0.97, "dates": 0.97, "places": 0.9, "tasks": 0.9,
           **{f"document.{f}": 0.95 for f in HEADER_FIELDS}}


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _norm(value: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _close(a: str, b: str) -> bool:
    a, b = fold(_norm(a)), fold(_norm(b))
    return a == b or fuzz.ratio(a, b) >= FUZZY


def _match_lists(gold: Sequence[str], predicted: Sequence[str], same: Callable[[str, str], bool]) -> tuple[int, int, int]:
    left = list(predicted)
    tp = 0
    for item in gold:
        for k, candidate in enumerate(left):
            if same(item, candidate):
                tp += 1
                del left[k]
                break
    return tp, len(predicted) - tp, len(gold) - tp


def _scalar(gold: Any, predicted: Any, fuzzy: bool) -> tuple[int, int, int]:
    if gold is None and predicted is None:
        return 0, 0, 0
    if gold is None:
        return 0, 1, 0
    if predicted is None:
        return 0, 0, 1
    same = _close(str(gold), str(predicted)) if fuzzy else _norm(gold) == _norm(predicted)
    return (1, 0, 0) if same else (0, 1, 1)


def _signer(value: dict | None) -> str | None:
    if not value:
        return None
    return " | ".join(str(value.get(k) or "") for k in ("authority", "title", "name"))


def _no_parentheses(text: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", text)


def _same_unit(a: str, b: str) -> bool:
    return _close(_no_parentheses(a), _no_parentheses(b))


def score_record(gold: dict, predicted: dict, scores: dict[str, Score]) -> None:
    g_doc, p_doc = gold["document"], predicted["document"]
    for name in HEADER_FIELDS:
        row = scores[f"document.{name}"]
        if name in ("recipients", "distribution"):
            row.add(*_match_lists(g_doc.get(name) or [], p_doc.get(name) or [], _close))
        elif name == "signer":
            row.add(*_scalar(_signer(g_doc.get(name)), _signer(p_doc.get(name)), True))
        else:
            row.add(*_scalar(g_doc.get(name), p_doc.get(name), name in FUZZY_FIELDS))
    g_refs = {r["code"]: r for r in gold["references"]}
    p_refs = {r["code"]: r for r in predicted["references"]}
    tp = len(g_refs.keys() & p_refs.keys())
    scores["references"].add(tp, len(p_refs) - tp, len(g_refs) - tp)
    dated = sum(1 for code in g_refs.keys() & p_refs.keys() if g_refs[code].get("date") == p_refs[code].get("date"))
    scores["references.date"].add(dated, len(p_refs) - dated, len(g_refs) - dated)
    for name, key in (("dates", lambda d: (d["kind"], d["value"])),
                      ("places", lambda p: (p["level"], p["name"], p["district"], p["province"]))):
        g_items, p_items = Counter(map(key, gold[name])), Counter(map(key, predicted[name]))
        tp = sum((g_items & p_items).values())
        scores[name].add(tp, sum(p_items.values()) - tp, sum(g_items.values()) - tp)
    g_tasks = {t["id"]: t for t in gold["tasks"]}
    p_tasks = {t["id"]: t for t in predicted["tasks"]}
    ids = g_tasks.keys() & p_tasks.keys()
    scores["tasks.id"].add(len(ids), len(p_tasks) - len(ids), len(g_tasks) - len(ids))
    good = 0
    for task_id in ids:
        g, p = g_tasks[task_id], p_tasks[task_id]
        _tp, fp, fn = _match_lists(g["assignees"], p["assignees"], _same_unit)
        if fp == 0 and fn == 0 and g.get("deadline") == p.get("deadline"):
            good += 1
    scores["tasks"].add(good, len(p_tasks) - good, len(g_tasks) - good)


# --------------------------------------------------------------------------- the naive baseline

_B_CODE = re.compile(r"\b\d+/(?:\d{4}/)?[A-ZĐ]+(?:-[A-ZĐ]+)*\b|\b\d+-[A-ZĐ]+/[A-ZĐ]+\b")
_B_DATE = re.compile(r"ngày (\d{1,2})/(\d{1,2})/(\d{4})|ngày (\d{1,2}) tháng (\d{1,2}) năm (\d{4})")
_B_PLACE = re.compile(r"\b(tỉnh|huyện|xã) ((?:[A-ZĐ]\w*\s?){1,3})")


def baseline_record(text: str) -> dict:
    """What a handful of strict regular expressions extract: the reference point of the table."""
    from pipeline.extract.places import COMMUNE, DISTRICT, PROVINCE, gazetteer
    from pipeline.extract.text import fold_key

    number = re.search(r"Số:?\s*(\S+)", text)
    code = number.group(1) if number else None
    first_date = _B_DATE.search(text)
    date = None
    if first_date:
        d, m, y = [g for g in first_date.groups() if g]
        date = f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
    document = {name: None for name in HEADER_FIELDS}
    document.update(code=code, date=date, recipients=[], distribution=[])
    references = [{"code": c, "date": None} for c in dict.fromkeys(_B_CODE.findall(text)) if c != code]
    dates = []
    for match in _B_DATE.finditer(text):
        d, m, y = [g for g in match.groups() if g]
        dates.append({"kind": "date", "value": f"{int(y):04d}-{int(m):02d}-{int(d):02d}"})
    places = []
    levels = {"tỉnh": PROVINCE, "huyện": DISTRICT, "xã": COMMUNE}
    g = gazetteer()
    for match in _B_PLACE.finditer(text):
        level = levels[match.group(1)]
        found = [u for u, _ in g.index.get(fold_key(match.group(2)), ()) if u.level == level]
        if found:
            unit = found[0]
            district = g.district_of(unit) if level == COMMUNE else None
            province = g.province_of(unit)
            item = {"level": level, "name": unit.name, "district": district.name if district else None,
                    "province": province.name if province else None}
            if item not in places:
                places.append(item)
    tasks = [{"id": m.group(1), "assignees": [], "deadline": None}
             for m in re.finditer(r"^(\d+)\.\s", text, re.M)]
    return {"document": document, "references": references, "dates": dates, "places": places, "tasks": tasks}


# --------------------------------------------------------------------------- scans through the pipeline


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "samples" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    return module


def _ocr_png(path: str) -> dict:
    """One page through ingest → preprocess → OCR (worker process)."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from pipeline import ingest, ocr, preprocess

    page = ingest.load_page(Path(path), 0)
    result = ocr.ocr_page(preprocess.preprocess_page(page))
    return {"text": result.text, "confidences": [w.confidence for w in result.words]}


def scan_texts(name: str, spec: dict, degradation: str, jobs: int) -> tuple[str, str | None]:
    """(raw OCR text, restored text) of the document rendered and degraded, pages joined by form feeds;
    the restored text is None when the restoration models are not built."""
    generate = _load_generator()
    rng = random.Random(f"{SEED}:{name}:{degradation}")
    pages = generate.render_dispatch(spec, rng=rng)
    CACHE.mkdir(parents=True, exist_ok=True)
    results: list[dict | None] = []
    todo: list[tuple[int, str, Path]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, page in enumerate(pages):
            degraded = generate.degrade(page, degradation, rng)
            png = Path(tmp) / f"{name}_{k}.png"
            degraded.image.save(png, dpi=(degraded.dpi, degraded.dpi))
            key = hashlib.sha256(png.read_bytes()).hexdigest()[:24]
            cached = CACHE / f"{name}.{degradation}.{k}.{key}.json"
            if cached.exists():
                results.append(json.loads(cached.read_text(encoding="utf-8")))
            else:
                results.append(None)
                todo.append((k, str(png), cached))
        if todo:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for (k, _png, cached), result in zip(todo, pool.map(_ocr_png, [t[1] for t in todo]), strict=True):
                    cached.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
                    results[k] = result
    from pipeline.errors import MissingDependencyError
    from pipeline.restore import restore_text

    raw_pages: list[str] = []
    restored_pages: list[str] | None = []
    for result in results:
        assert result is not None
        confidences = result["confidences"]
        if len(confidences) != len(result["text"].split()):
            confidences = None
        raw_pages.append(result["text"])
        if restored_pages is not None:
            try:
                restored_pages.append(restore_text(result["text"], confidences).text)
            except MissingDependencyError as error:
                print(f"restoration unavailable ({error}): scan rows without it only", file=sys.stderr)
                restored_pages = None
    return "\f".join(raw_pages), "\f".join(restored_pages) if restored_pages is not None else None


# --------------------------------------------------------------------------- main


@dataclass
class Condition:
    name: str
    scores: dict[str, Score] = field(default_factory=lambda: {row: Score() for row in ROWS})
    seconds: float = 0.0


def load_documents(names: Iterable[str] | None = None) -> list[tuple[str, dict, str, dict]]:
    wanted = set(names or [])
    out = []
    for gold_path in sorted(DOCUMENTS.glob("*.gold.json")):
        name = gold_path.name[: -len(".gold.json")]
        if wanted and name not in wanted:
            continue
        spec = json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))
        text = (DOCUMENTS / f"{name}.txt").read_text(encoding="utf-8")
        out.append((name, spec, text, json.loads(gold_path.read_text(encoding="utf-8"))))
    return out


def _table(conditions: list[Condition]) -> str:
    head = "| field | " + " | ".join(f"{c.name} P / R / F1" for c in conditions) + " | target F1 |"
    lines = [head, "|" + "---|" * (len(conditions) + 2)]
    for row in ROWS:
        cells = []
        for condition in conditions:
            s = condition.scores[row]
            cells.append(f"{s.precision:.3f} / {s.recall:.3f} / **{s.f1:.3f}**")
        target = TARGETS.get(row)
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {'≥ ' + format(target, '.2f') if target else ''} |")
    return "\n".join(lines)


def _errors(name: str, gold: dict, predicted: dict) -> list[str]:
    """Per-document differences, for --verbose."""
    out = []
    for field_name in HEADER_FIELDS:
        g, p = gold["document"].get(field_name), predicted["document"].get(field_name)
        if field_name in ("recipients", "distribution"):
            _tp, fp, fn = _match_lists(g or [], p or [], _close)
            wrong = bool(fp or fn)
        else:
            if field_name == "signer":
                g, p = _signer(g), _signer(p)
            _tp, fp, fn = _scalar(g, p, field_name in FUZZY_FIELDS or field_name == "signer")
            wrong = bool(fp or fn)
        if wrong:
            out.append(f"{name}: document.{field_name}: gold {g!r} ≠ {p!r}")
    g_refs = {r["code"] for r in gold["references"]}
    p_refs = {r["code"] for r in predicted["references"]}
    out += [f"{name}: reference missed {c}" for c in sorted(g_refs - p_refs)]
    out += [f"{name}: reference extra {c}" for c in sorted(p_refs - g_refs)]
    for key_name, key in (("dates", lambda d: (d["kind"], d["value"])),
                          ("places", lambda p: (p["level"], p["name"], p["district"], p["province"]))):
        g_items, p_items = Counter(map(key, gold[key_name])), Counter(map(key, predicted[key_name]))
        out += [f"{name}: {key_name} missed {k}" for k in (g_items - p_items).elements()]
        out += [f"{name}: {key_name} extra {k}" for k in (p_items - g_items).elements()]
    g_tasks = {t["id"]: t for t in gold["tasks"]}
    p_tasks = {t["id"]: t for t in predicted["tasks"]}
    out += [f"{name}: task missed {i}" for i in g_tasks.keys() - p_tasks.keys()]
    out += [f"{name}: task extra {i}: {p_tasks[i].get('text', '')[:70]!r}" for i in p_tasks.keys() - g_tasks.keys()]
    for i in sorted(g_tasks.keys() & p_tasks.keys()):
        g, p = g_tasks[i], p_tasks[i]
        _tp, fp, fn = _match_lists(g["assignees"], p["assignees"], _same_unit)
        if fp or fn or g.get("deadline") != p.get("deadline"):
            out.append(f"{name}: task {i}: gold {g['assignees']} {g.get('deadline')} ≠ {p['assignees']} {p.get('deadline')}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--degradations", nargs="*", default=["dpi150", "hardest"],
                        help="scan conditions (samples/generate.py DEGRADATIONS); none: clean text only")
    parser.add_argument("--documents", nargs="*", help="only these gold documents (names without extension)")
    parser.add_argument("--jobs", type=int, default=2, help="OCR worker processes")
    parser.add_argument("--verbose", action="store_true", help="list every difference from the gold records")
    args = parser.parse_args(argv)
    documents = load_documents(args.documents)
    if not documents:
        print("no gold documents found in samples/documents/", file=sys.stderr)
        return 1
    clean, baseline = Condition("clean"), Condition("baseline (clean)")
    errors: list[str] = []
    for name, _spec, text, gold in documents:
        started = time.perf_counter()
        predicted = extract_record(text).to_dict()
        clean.seconds += time.perf_counter() - started
        score_record(gold, predicted, clean.scores)
        errors += _errors(name, gold, predicted)
        started = time.perf_counter()
        score_record(gold, baseline_record(text), baseline.scores)
        baseline.seconds += time.perf_counter() - started
    conditions = [clean, baseline]
    for degradation in args.degradations:
        restored, raw = Condition(f"{degradation} scan"), Condition(f"{degradation} scan, no restore")
        restoration = True
        for name, spec, _text, gold in documents:
            raw_text, restored_text = scan_texts(name, spec, degradation, args.jobs)
            restoration = restoration and restored_text is not None
            for condition, text in ((restored, restored_text), (raw, raw_text)):
                if text is None:
                    continue
                started = time.perf_counter()
                predicted = extract_record(text).to_dict()
                condition.seconds += time.perf_counter() - started
                score_record(gold, predicted, condition.scores)
                if condition is restored or not restoration:
                    errors += _errors(f"{name} [{degradation}]", gold, predicted)
        conditions += [restored, raw] if restoration else [raw]
    print(f"# Extraction benchmark: {len(documents)} gold documents (samples/documents/)\n")
    print(_table(conditions))
    print()
    for condition in conditions:
        print(f"- {condition.name}: extraction {condition.seconds:.2f} s in all")
    if args.verbose:
        print("\n## Differences from the gold records\n")
        print("\n".join(f"- {line}" for line in errors) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
