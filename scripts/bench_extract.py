"""Extraction benchmark (`make bench-extract`): precision, recall and F1 per record field on two evaluation sets,
on clean text and through degraded scans, with a baseline in the same run.

1. Gold set: the hand-annotated documents of samples/documents/, every field (below).
2. Spec-derived set, not annotated by the extraction author: `--generated` (40) dispatches drawn by
   samples/generate.py `random_dispatch` (the kinds in turn, seed `--generated-seed`), each scanned with one
   degradation class (the classes in turn), and the committed sample scans samples/*.png|jpg|tif|pdf. Their
   header truth is read off the spec each was rendered from by `spec_header` (its docstring states the rule);
   the `document.*` rows are scored on the clean text `dispatch_text(spec)` and on the OCR of the scans, which
   `extract_record` gets with its pages (word boxes) as in the product.
3. Robustness: `--large-text` MB of text (and a tenth of it): time per character and a valid record.

Each gold document is `<name>.json` (a Dispatch spec), `<name>.txt` (its text, = dispatch_text(spec)) and
`<name>.gold.json` (the hand-checked record). Conditions:
- clean: `extract_record` on `<name>.txt`;
- baseline (clean): a naive extractor written here (strict regular expressions, first gazetteer match, every
  numbered line a task with no assignee): what a few regexes get on the same texts;
- scans (`--degradations`, default dpi150 and hardest): the spec rendered by samples/generate.py with a fixed
  seed, degraded, written as PNG, then the real pipeline: ingest.load_page → preprocess_page → ocr_page →
  restore_text → extract_record (text and pages); the same OCR without restoration is a second row (the pipeline's own
  baseline). OCR results (text and word boxes) are cached in out/bench_extract_cache/, keyed by the page image
  hash and a hash of the OCR stages' code (printed with the commit in the title), so reruns only pay for
  restoration and extraction, and a change to the OCR re-runs it.

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
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))
import generate  # noqa: E402  (samples/generate.py, as the tests import it)

from pipeline.extract import extract_record  # noqa: E402
from pipeline.extract.text import fold  # noqa: E402
from pipeline.types import OcrWord, PageResult  # noqa: E402

DOCUMENTS = ROOT / "samples" / "documents"
SAMPLES = ROOT / "samples"
CACHE = ROOT / "out" / "bench_extract_cache"
CACHE_VERSION = "v2"  # OCR results with word boxes
OCR_MODULES = ("ingest.py", "preprocess.py", "ocr.py")  # a cached OCR result is valid for this code only
SEED = 4
FUZZY = 90
HEADER_FIELDS = ("code", "number", "symbol", "type", "issuer", "parent_issuer", "place", "date", "subject",
                 "recipients", "signer", "distribution")
FUZZY_FIELDS = {"issuer", "parent_issuer", "subject"}
HEADER_ROWS = tuple(f"document.{f}" for f in HEADER_FIELDS)
ROWS = (*HEADER_ROWS, "references", "references.date", "dates", "places",
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


def score_header(gold: dict, predicted: dict, scores: dict[str, Score]) -> None:
    """The `document.*` rows: one header record (`Record.document`) against its truth."""
    for name in HEADER_FIELDS:
        row = scores[f"document.{name}"]
        if name in ("recipients", "distribution"):
            row.add(*_match_lists(gold.get(name) or [], predicted.get(name) or [], _close))
        elif name == "signer":
            row.add(*_scalar(_signer(gold.get(name)), _signer(predicted.get(name)), True))
        else:
            row.add(*_scalar(gold.get(name), predicted.get(name), name in FUZZY_FIELDS))


def score_record(gold: dict, predicted: dict, scores: dict[str, Score]) -> None:
    score_header(gold["document"], predicted["document"], scores)
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


@lru_cache(maxsize=1)
def ocr_fingerprint() -> str:
    """Hash of the OCR stages' code: part of every cache key, so a change to the OCR re-runs it."""
    digest = hashlib.sha256()
    for name in OCR_MODULES:
        digest.update((ROOT / "pipeline" / name).read_bytes())
    return f"{CACHE_VERSION}-{digest.hexdigest()[:12]}"


def ocr_version() -> str:
    """The commit the OCR stages were measured at, and whether their files differ from it."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--",
                                *(f"pipeline/{name}" for name in OCR_MODULES)]).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return f"OCR code {ocr_fingerprint()} (no git)"
    return f"OCR code {ocr_fingerprint()} at commit {commit}" + (" with uncommitted changes" if dirty else "")


def _ocr_page(source: tuple[str, int]) -> dict:
    """One page of a file through ingest → preprocess → OCR (worker process), with its word boxes."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from pipeline import ingest, ocr, preprocess

    path, index = source
    page = ingest.load_page(Path(path), index)
    result = ocr.ocr_page(preprocess.preprocess_page(page))
    height, width = page.image.shape[:2]
    return {"text": result.text, "width": int(width), "height": int(height), "dpi": float(page.dpi),
            "words": [[w.text, w.confidence, *w.box, w.block, w.line] for w in result.words]}


@dataclass
class ScanText:
    """One document's OCR: the raw text and, when the restoration models are built, the restored text (pages
    joined by form feeds), with the pages `extract_record` gets in the product (words with their boxes)."""

    raw: str
    restored: str | None
    raw_pages: list[PageResult]
    restored_pages: list[PageResult] | None

    def condition(self, restored: bool) -> tuple[str, list[PageResult]] | None:
        if restored:
            return (self.restored, self.restored_pages) if self.restored is not None and self.restored_pages else None
        return self.raw, self.raw_pages


def _ocr_cached(sources: list[tuple[str, int, Path]], jobs: int) -> list[dict]:
    """OCR results of (file, page index, cache file) sources: read from the cache, or computed in parallel."""
    results: list[dict | None] = []
    todo: list[tuple[int, str, int, Path]] = []
    for k, (path, index, cached) in enumerate(sources):
        if cached.exists():
            results.append(json.loads(cached.read_text(encoding="utf-8")))
        else:
            results.append(None)
            todo.append((k, path, index, cached))
    if todo:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for (k, _path, _index, cached), result in zip(
                    todo, pool.map(_ocr_page, [(t[1], t[2]) for t in todo]), strict=True):
                cached.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
                results[k] = result
    return [result for result in results if result is not None]


_restoration_available = True


def _scan_text(results: list[dict]) -> ScanText:
    """Raw and restored text and pages of one document's OCR results."""
    global _restoration_available
    from pipeline.errors import MissingDependencyError
    from pipeline.restore import restore_text

    raw_pages: list[PageResult] = []
    restored_pages: list[PageResult] | None = [] if _restoration_available else None
    for index, result in enumerate(results):
        words = [OcrWord(text, confidence, (x, y, w, h), block, line)
                 for text, confidence, x, y, w, h, block, line in result["words"]]
        confidences: list[float | None] | None = [w.confidence for w in words]
        if len(words) != len(result["text"].split()):
            confidences = None
        page = PageResult(index, result["width"], result["height"], result["dpi"], [], words, result["text"],
                          result["text"])
        raw_pages.append(page)
        if restored_pages is not None:
            try:
                text = restore_text(result["text"], confidences).text
            except MissingDependencyError as error:
                print(f"restoration unavailable ({error}): scan rows without it only", file=sys.stderr)
                _restoration_available = False
                restored_pages = None
                continue
            restored_pages.append(replace(page, text=text))
    join = "\f".join
    return ScanText(join(p.text for p in raw_pages),
                    join(p.text for p in restored_pages) if restored_pages is not None else None,
                    raw_pages, restored_pages)


def scan_texts(name: str, spec: dict, degradation: str, jobs: int, seed: int = SEED) -> ScanText:
    """The OCR of the document rendered and degraded (a fixed rng per name, class and seed)."""
    rng = random.Random(f"{seed}:{name}:{degradation}")
    pages = generate.render_dispatch(spec, rng=rng)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sources = []
        for k, page in enumerate(pages):
            degraded = generate.degrade(page, degradation, rng)
            png = Path(tmp) / f"{name}_{k}.png"
            degraded.image.save(png, dpi=(degraded.dpi, degraded.dpi))
            key = hashlib.sha256(png.read_bytes()).hexdigest()[:24]
            sources.append((str(png), 0, CACHE / f"{name}.{degradation}.{k}.{key}.{ocr_fingerprint()}.json"))
        return _scan_text(_ocr_cached(sources, jobs))


def file_scan_texts(path: Path, jobs: int) -> ScanText:
    """The OCR of every page of a committed scan (samples/*.png|jpg|tif|pdf), ignoring any old text layer."""
    from pipeline import ingest

    info = ingest.open_document(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    sources = [(str(path), k, CACHE / f"{path.stem}.file.{k}.{info.sha256[:24]}.{ocr_fingerprint()}.json")
               for k in range(info.page_count)]
    return _scan_text(_ocr_cached(sources, jobs))


# --------------------------------------------------------------------------- the spec-derived set


GENERATED_KINDS = ("cong_van", "quyet_dinh", "ke_hoach", "thong_bao", "bao_cao", "chi_thi")
# Header lines of the generator that open a unit (the rest continue the unit above them: a wrapped name,
# "TỈNH X" under "ỦY BAN NHÂN DÂN"): its whole issuer vocabulary.
_UNIT_OPENER = re.compile(r"^(?:[UỦ][YỶ] BAN|UBND|SỞ|PHÒNG|ĐẢNG BỘ|\S+ [UỦ][YỶ] )")
_SIGN_PREFIX = re.compile(r"^(T/M|T/L|TM|KT|TL|TUQ|Q)\.?\s+")
_PLACE_DATE = re.compile(r"^(?P<place>[^,]+), ngày (?P<d>\d+) tháng (?P<m>\d+) năm (?P<y>\d{4})$")


def _item(line: str) -> str:
    """A list line without its bullet and final punctuation."""
    line = line.removeprefix("- ").strip()
    return line.removesuffix("/.").rstrip(" ;.")


def spec_header(spec: dict) -> dict:
    """The header record a Dispatch spec was rendered from, read off its lines by fixed rules (no annotation):
    - code: the text after "Số" (and an optional colon) on the `header_left` line that starts with "Số";
      number: its leading digits (None when it starts with "/"); symbol: the rest after the first separator;
    - type: the generator's abbreviation of the title's first line (QUYẾT ĐỊNH → QĐ …); "CV" when there is no
      title and a "V/v" line;
    - issuer / parent_issuer: the `header_left` lines above "Số" grouped into units (a line that starts with
      ỦY BAN, UBND, SỞ, PHÒNG, ĐẢNG BỘ or "<X> ỦY " opens one, any other continues the one above); the issuer
      is the last unit, the parent the others joined (None when there are none);
    - place / date: "<place>, ngày D tháng M năm Y", the last `header_right` line;
    - subject: the "V/v" line without "V/v", else the title lines after the first, joined;
    - recipients: the items after "Kính gửi:" at the top of the body (inline, or the "- " lines after it);
    - signer: name = the last signature line; authority = the prefix (TM., KT., TL., TUQ., Q.; T/M = TM.)
      of the last prefixed line; title = the lines between that line and the name, or what follows the
      prefix when there are none (all lines but the name when nothing is prefixed);
    - distribution: the lines after "Nơi nhận:"; list items lose their bullet and final punctuation."""
    left = spec["header_left"]
    number_at = next(k for k, line in enumerate(left) if line.startswith("Số"))
    code = re.sub(r"^Số:?\s*", "", left[number_at]).strip()
    digits = re.match(r"\d+", code)
    number = digits.group() if digits else None
    symbol = code[len(number) + 1 :] if number else code.lstrip("/")
    units: list[str] = []
    for line in left[:number_at]:
        if units and not _UNIT_OPENER.match(line):
            units[-1] += " " + line
        else:
            units.append(line)
    vv = next((line[len("V/v ") :] for line in left[number_at + 1 :] if line.startswith("V/v ")), None)
    abbreviations = {name: abbr for name, abbr in generate._DOC_KINDS.values() if name}
    title = spec["title"]
    doc_type = abbreviations[title[0]] if title else ("CV" if vv else None)
    place_date = _PLACE_DATE.match(spec["header_right"][-1])
    assert place_date, spec["header_right"][-1]
    recipients: list[str] = []
    body = spec["body"]
    if body and body[0].startswith("Kính gửi:"):
        inline = body[0][len("Kính gửi:") :].strip()
        recipients = [_item(inline)] if inline else [_item(line) for line in itertools.takewhile(
            lambda line: line.startswith("- "), body[1:])]
    *above, name = spec["signature"]
    prefixed = [k for k, line in enumerate(above) if _SIGN_PREFIX.match(line)]
    authority, title_lines = None, above
    if prefixed:
        k = prefixed[-1]
        prefix = _SIGN_PREFIX.match(above[k])
        assert prefix
        authority = prefix.group(1).replace("/", "") + "."
        title_lines = above[k + 1 :] or [above[k][prefix.end() :]]
    return {
        "code": code, "number": number, "symbol": symbol, "type": doc_type,
        "issuer": units[-1] if units else None, "parent_issuer": " ".join(units[:-1]) or None,
        "place": place_date.group("place"),
        "date": f"{int(place_date['y']):04d}-{int(place_date['m']):02d}-{int(place_date['d']):02d}",
        "subject": vv if vv is not None else (" ".join(title[1:]) or None),
        "recipients": recipients,
        "signer": {"authority": authority, "title": " ".join(title_lines) or None, "name": name},
        "distribution": [_item(line) for line in spec["distribution"][1:]],
    }


def generated_specs(count: int, seed: int) -> list[tuple[str, dict, str]]:
    """`count` random dispatches (kinds in turn, issuers random) with the degradation each is scanned with
    (classes in turn, so kinds and classes combine differently)."""
    out = []
    for k in range(count):
        rng = random.Random(f"extract-bench:{seed}:{k}")
        kind = GENERATED_KINDS[k % len(GENERATED_KINDS)]
        # the generator numbers a Party committee's công văn or decision without its type ("57-/HU")
        party = False if kind in ("cong_van", "quyet_dinh") else None
        spec = generate.random_dispatch(rng, kind=kind, party=party).to_json()
        out.append((f"generated_{seed}_{k:03d}", spec, generate.DEGRADATIONS[k % len(generate.DEGRADATIONS)]))
    return out


def committed_samples() -> list[tuple[Path, dict]]:
    """The committed sample scans (samples/*.png|jpg|tif|pdf) with the spec of their .gold.json."""
    out = []
    for path in sorted(SAMPLES.iterdir()):
        gold = path.with_name(path.stem + ".gold.json")
        if path.suffix.lower() in (".png", ".jpg", ".tif", ".pdf") and gold.exists():
            out.append((path, json.loads(gold.read_text(encoding="utf-8"))["spec"]))
    return out


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


def _table(conditions: list[Condition], rows: Sequence[str] = ROWS) -> str:
    head = "| field | " + " | ".join(f"{c.name} P / R / F1" for c in conditions) + " | target F1 |"
    lines = [head, "|" + "---|" * (len(conditions) + 2)]
    for row in rows:
        cells = []
        for condition in conditions:
            s = condition.scores[row]
            cells.append(f"{s.precision:.3f} / {s.recall:.3f} / **{s.f1:.3f}**")
        target = TARGETS.get(row)
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {'≥ ' + format(target, '.2f') if target else ''} |")
    return "\n".join(lines)


def _header_errors(name: str, gold: dict, predicted: dict) -> list[str]:
    out = []
    for field_name in HEADER_FIELDS:
        g, p = gold.get(field_name), predicted.get(field_name)
        if field_name in ("recipients", "distribution"):
            _tp, fp, fn = _match_lists(g or [], p or [], _close)
        else:
            if field_name == "signer":
                g, p = _signer(g), _signer(p)
            _tp, fp, fn = _scalar(g, p, field_name in FUZZY_FIELDS or field_name == "signer")
        if fp or fn:
            out.append(f"{name}: document.{field_name}: gold {g!r} ≠ {p!r}")
    return out


def _errors(name: str, gold: dict, predicted: dict) -> list[str]:
    """Per-document differences, for --verbose."""
    out = _header_errors(name, gold["document"], predicted["document"])
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


def _extract(condition: Condition, text: str, pages: Sequence[PageResult] | None = None) -> dict:
    started = time.perf_counter()
    predicted = extract_record(text, pages).to_dict()
    condition.seconds += time.perf_counter() - started
    return predicted


def run_gold_set(args: argparse.Namespace, errors: list[str]) -> list[Condition] | None:
    """The hand-annotated gold documents: every field, clean text, the naive baseline and scans."""
    documents = load_documents(args.documents)
    if not documents:
        print("no gold documents found in samples/documents/", file=sys.stderr)
        return None
    clean, baseline = Condition("clean"), Condition("baseline (clean)")
    for name, _spec, text, gold in documents:
        predicted = _extract(clean, text)
        score_record(gold, predicted, clean.scores)
        errors += _errors(name, gold, predicted)
        started = time.perf_counter()
        score_record(gold, baseline_record(text), baseline.scores)
        baseline.seconds += time.perf_counter() - started
    conditions = [clean, baseline]
    for degradation in args.degradations:
        restored, raw = Condition(f"{degradation} scan"), Condition(f"{degradation} scan, no restore")
        for name, spec, _text, gold in documents:
            scan = scan_texts(name, spec, degradation, args.jobs)
            for condition, use_restored in ((restored, True), (raw, False)):
                found = scan.condition(use_restored)
                if found is None:
                    continue
                predicted = _extract(condition, *found)
                score_record(gold, predicted, condition.scores)
                if use_restored or scan.restored is None:
                    errors += _errors(f"{name} [{degradation}]", gold, predicted)
        conditions += [restored, raw] if _restoration_available else [raw]
    return conditions


def _score_scan(scan: ScanText, truth: dict, label: str, restored: Condition, raw: Condition,
                errors: list[str]) -> None:
    for condition, use_restored in ((restored, True), (raw, False)):
        found = scan.condition(use_restored)
        if found is None:
            continue
        predicted = _extract(condition, *found)["document"]
        score_header(truth, predicted, condition.scores)
        if use_restored or scan.restored is None:
            errors += _header_errors(label, truth, predicted)


def run_spec_set(args: argparse.Namespace, errors: list[str]) -> list[Condition]:
    """Header fields of documents nobody annotated: generated dispatches and the committed samples, truth
    read off their specs (`spec_header`), on clean text and on the OCR of their scans."""
    scans = bool(args.degradations)
    generated = generated_specs(args.generated, args.generated_seed)
    conditions: list[Condition] = []
    if generated:
        clean, baseline = Condition("generated clean"), Condition("baseline (generated clean)")
        restored, raw = Condition("generated scan"), Condition("generated scan, no restore")
        for name, spec, degradation in generated:
            truth = spec_header(spec)
            text = generate.dispatch_text(spec)
            predicted = _extract(clean, text)["document"]
            score_header(truth, predicted, clean.scores)
            errors += _header_errors(f"{name} [clean]", truth, predicted)
            score_header(truth, baseline_record(text)["document"], baseline.scores)
            if scans:
                _score_scan(scan_texts(name, spec, degradation, args.jobs), truth, f"{name} [{degradation}]",
                            restored, raw, errors)
        conditions += [clean, baseline]
        if scans:
            conditions += [restored, raw] if _restoration_available else [raw]
    if args.samples:
        clean, restored, raw = Condition("samples clean"), Condition("samples scan"), Condition("samples scan, no restore")
        for path, spec in committed_samples():
            truth = spec_header(spec)
            predicted = _extract(clean, generate.dispatch_text(spec))["document"]
            score_header(truth, predicted, clean.scores)
            errors += _header_errors(f"{path.stem} [clean]", truth, predicted)
            if scans:
                _score_scan(file_scan_texts(path, args.jobs), truth, f"{path.stem} [file]", restored, raw, errors)
        conditions.append(clean)
        if scans:
            conditions += [restored, raw] if _restoration_available else [raw]
    return conditions


def _print_conditions(conditions: list[Condition], rows: Sequence[str]) -> None:
    print(_table(conditions, rows))
    print()
    for condition in conditions:
        print(f"- {condition.name}: extraction {condition.seconds:.2f} s in all")


def run_large_text(megabytes: float) -> None:
    """Robustness: the gold texts repeated up to `megabytes` and a tenth of that, a valid record in linear time."""
    import jsonschema

    from pipeline.extract import record_schema

    texts = [text for _name, _spec, text, _gold in load_documents()]
    validator = jsonschema.Draft202012Validator(record_schema())
    timings = []
    for size in (int(megabytes * 100_000), int(megabytes * 1_000_000)):
        parts, total = [], 0
        for text in itertools.cycle(texts):
            if total >= size:
                break
            parts.append(text)
            total += len(text) + 1
        text = "\n".join(parts)[:size]
        started = time.perf_counter()
        record = extract_record(text)
        seconds = time.perf_counter() - started
        validator.validate(json.loads(json.dumps(record.to_dict(), ensure_ascii=False)))
        timings.append((size, seconds, len(record.references), len(record.tasks)))
    print("\n## Large text (gold texts repeated), valid record\n")
    for size, seconds, references, tasks in timings:
        print(f"- {size / 1e6:.1f} MB: {seconds:.1f} s ({seconds / size * 1e6:.2f} µs per character), "
              f"{references} references, {tasks} tasks")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--degradations", nargs="*", default=["dpi150", "hardest"],
                        help="scan conditions of the gold set (samples/generate.py DEGRADATIONS); none: clean "
                             "text only, for both sets")
    parser.add_argument("--documents", nargs="*", help="only these gold documents (names without extension)")
    parser.add_argument("--generated", type=int, default=40,
                        help="generated documents in the spec-derived set (0: none)")
    parser.add_argument("--generated-seed", type=int, default=1, help="seed of the generated documents")
    parser.add_argument("--no-samples", dest="samples", action="store_false",
                        help="leave the committed sample scans out of the spec-derived set")
    parser.add_argument("--no-gold", dest="gold", action="store_false", help="only the spec-derived set")
    parser.add_argument("--jobs", type=int, default=2, help="OCR worker processes")
    parser.add_argument("--large-text", type=float, default=10.0, metavar="MB",
                        help="robustness run on this many megabytes of text, and a tenth of it (0: none)")
    parser.add_argument("--verbose", action="store_true", help="list every difference from the truth")
    args = parser.parse_args(argv)
    errors: list[str] = []
    print(f"# Extraction benchmark ({ocr_version()})\n")
    if args.gold:
        gold_conditions = run_gold_set(args, errors)
        if gold_conditions is None:
            return 1
        print(f"## Gold set: {len(load_documents(args.documents))} hand-annotated documents (samples/documents/)\n")
        _print_conditions(gold_conditions, ROWS)
    spec_conditions = run_spec_set(args, errors)
    if spec_conditions:
        print(f"\n## Spec-derived set: header fields of {args.generated} generated documents (seed "
              f"{args.generated_seed}, scanned with the degradation classes in turn)"
              + (" and of the committed sample scans" if args.samples else "") + ", truth read off the specs\n")
        _print_conditions(spec_conditions, HEADER_ROWS)
    if args.large_text > 0:
        run_large_text(args.large_text)
    if args.verbose:
        print("\n## Differences from the truth\n")
        print("\n".join(f"- {line}" for line in errors) or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
