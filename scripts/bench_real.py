"""Real-document benchmark (`make bench-real`): field accuracy and text error rates on the real documents of
../shared/real against the gold records and transcriptions annotators wrote in tests/real/, for three systems
measured in the same run on the same files:

1. congvan now: this checkout's stages, page by page through `pipeline.run.worker.run_page` (what the driver
   runs: ingest → preprocess → OCR → restore), then `extract_record` over the pages;
2. congvan previous: the commit this branch started from (by default the merge base of HEAD and `main`),
   checked out as a git worktree under build/bench_real/ and run with ITS OWN code (`python -m pipeline
   process FILE --out DIR`, same interpreter and libraries);
3. OCRmyPDF: `ocrmypdf -l vie --rotate-pages --deskew --clean --force-ocr --sidecar` (its best configuration on
   scans, see bench-scan), its sidecar text fed to this checkout's extractor (no restoration).

What each figure covers:
- field rows: documents whose field is right, over the documents scored. code, number, symbol, type, place,
  date, received number/date: exact (NFC; spaces removed in codes); issuer and subject: folded text (lower case,
  no diacritics) with a similarity ratio ≥ 90 (pipeline/eval/records.py); signer name: exact (NFC, spaces
  normalised). A field absent from both the gold and the output is right; a value where the gold has none is
  wrong. Partial web images have no signer or tasks in the gold: their signer must be absent, tasks are not scored.
- references: precision/recall of the cited codes over all documents, and of (code, date) pairs ("with their
  dates": the date written right after the citation, null when none).
- tasks: total counts, precision/recall of task ids, and of the id-matched tasks those whose assignees (one to
  one, fuzzy) and deadline are both right.
- text: CER and WER of the final text against the transcriptions (NFC, whitespace runs one space), page by
  page when the page counts agree (else the whole document), summed over pages; bag-of-words F1 (words
  without edge punctuation, order ignored). The transcriptions leave out stamps, seals, margin notes and
  signature boxes, so any of those in the output count as errors.

OCR results are cached under build/bench_real/cache, keyed by everything that changes them: the input's
sha256, the code of the stages that made them (congvan: ingest, preprocess, OCR, restore and what they
import, the worker and its settings, the models; previous: its commit; OCRmyPDF: its version and options),
Tesseract's version and traineddata hashes, and the image libraries' versions. Extraction always runs fresh.
The report says which rows came from the cache.

Exit status: 0 when measured (or when the real documents are absent: nothing to measure), 2 when no document
matches `--only` (EXIT_NO_DOCUMENTS).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_cache  # noqa: E402

from pipeline.eval.metrics import Counts, ErrorRate, bag_of_words, cer, wer  # noqa: E402
from pipeline.eval.records import match_lists, same_fuzzy, same_unit  # noqa: E402

GOLD_DIR = ROOT / "tests" / "real"
REAL_DIR = ROOT.parent / "shared" / "real"
BUILD_DIR = ROOT / "build" / "bench_real"
OUT_DIR = ROOT / "out" / "bench_real"
JOBS = 2
EXIT_NO_DOCUMENTS = 2  # no real document matches the selection: nothing to score

NOW, PREVIOUS, OCRMYPDF = "congvan now", "congvan previous", "OCRmyPDF → extract"
SYSTEMS = {"now": NOW, "previous": PREVIOUS, "ocrmypdf": OCRMYPDF}
OCRMYPDF_ARGS = ("-l", "vie", "--rotate-pages", "--deskew", "--clean", "--force-ocr", "--output-type", "pdf")

EXACT_FIELDS = ("code", "number", "symbol", "type", "place", "date")
FUZZY_FIELDS = ("issuer", "subject")
FIELD_ROWS = ("code", "number", "symbol", "type", "issuer", "place", "date", "subject", "signer name",
              "received number", "received date")
TARGETS = {"code": 0.95, "date": 0.95, "signer name": 0.90}
TARGET_REFERENCES_DATED_RECALL = 0.95


# --------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class RealDocument:
    stem: str
    path: Path
    gold: dict[str, Any]
    transcription: list[str]  # pages

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def load_documents(real_dir: Path, only: Sequence[str] = ()) -> list[RealDocument]:
    documents = []
    for gold_path in sorted(GOLD_DIR.glob("*.gold.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        stem = gold_path.name.removesuffix(".gold.json")
        if only and not any(key in stem for key in only):
            continue
        path = real_dir / gold["file"]
        if not path.exists():
            print(f"bench-real: {path} missing: {stem} skipped", file=sys.stderr)
            continue
        text = (GOLD_DIR / f"{stem}.txt").read_text(encoding="utf-8")
        documents.append(RealDocument(stem, path, gold, unicodedata.normalize("NFC", text).split("\f")))
    return documents


@dataclass
class Output:
    """What one system made of one document."""

    pages: list[str]  # final text per page
    record: dict[str, Any]
    cached: bool = False
    seconds: float = 0.0  # OCR wall-clock time (0 when cached)
    error: str | None = None


# --------------------------------------------------------------------------- congvan now


def page_key() -> bench_cache.CacheKey:
    """The code that makes a page's text: the driver's worker and every pipeline module it imports, extraction
    left out (it runs fresh each time; the page stages reach its modules only for the extractors' tables)."""
    modules = [path for path in bench_cache.module_files("pipeline.run.worker")
               if "extract" not in path.relative_to(ROOT / "pipeline").parts]
    return bench_cache.CacheKey.of(
        code=bench_cache.files_digest(modules) + " (run/worker and what it imports, extract/ aside)",
        helpers=bench_cache.source_digest(run_page),
        models=bench_cache.files_digest([ROOT / "models"]),
        tesseract=bench_cache.tesseract_identity("vie"),
        libraries=bench_cache.library_versions())


def run_page(source: str, index: int) -> Any:
    """One page of a PDF or an image through the driver's worker with default settings (runs in a pool
    process)."""
    from pipeline.run import worker
    from pipeline.run.options import PageSettings
    from pipeline.run.stages import Stages
    from pipeline.types import DocumentKind

    kind = DocumentKind.PDF if source.lower().endswith(".pdf") else DocumentKind.IMAGE
    return worker.run_page(worker.PageTask(source, index, kind, PageSettings(), Stages.default())).result


@dataclass
class Pages:
    """congvan's page results of each document, from `page_key`'s cache or computed in this run."""

    by_document: dict[str, list[Any]]  # stem → page results in page order
    seconds: dict[str, float]  # stem of each document with pages OCR'd in this run → their OCR wall-clock time
    key: str  # the cache key, described


def run_pages(documents: Sequence[RealDocument], jobs: int, use_cache: bool) -> Pages:
    """Every page of `documents` through `run_page`, cached under `page_key`."""
    from pipeline.ingest import open_document

    key = page_key()
    folder = BUILD_DIR / "cache" / "now" / key.digest
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {}
    for document in documents:
        info = open_document(document.path)
        files[document.stem] = [folder / f"{info.sha256[:20]}-{index}.pkl" for index in range(info.page_count)]
    todo = [(document, index, path) for document in documents for index, path in enumerate(files[document.stem])
            if not (use_cache and path.exists())]
    started = time.monotonic()
    seconds: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [(document, path, pool.submit(run_page, str(document.path), index))
                   for document, index, path in todo]
        for document, path, future in futures:
            result = future.result()
            path.write_bytes(pickle.dumps(result))
            seconds[document.stem] = seconds.get(document.stem, 0.0) + result.seconds
    print(f"bench-real: {NOW}: {len(todo)} pages OCR'd in {time.monotonic() - started:.0f} s", file=sys.stderr)
    pages = {stem: [pickle.loads(path.read_bytes()) for path in paths] for stem, paths in files.items()}
    return Pages(pages, seconds, key.describe())


def run_now(documents: Sequence[RealDocument], jobs: int, use_cache: bool) -> tuple[dict[str, Output], str]:
    from pipeline.extract import extract_record

    pages = run_pages(documents, jobs, use_cache)
    outputs: dict[str, Output] = {}
    for document in documents:
        results = pages.by_document[document.stem]
        record = extract_record("\f".join(page.text for page in results), results)
        outputs[document.stem] = Output([page.text for page in results], record.to_dict(),
                                        cached=document.stem not in pages.seconds,
                                        seconds=pages.seconds.get(document.stem, 0.0))
    return outputs, pages.key


# --------------------------------------------------------------------------- congvan previous


def resolve_previous(revision: str | None) -> str:
    """The commit of the previous release: `revision`, or the merge base of HEAD and main."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()

    if revision:
        return git("rev-parse", "--verify", f"{revision}^{{commit}}")
    return git("merge-base", "HEAD", "main")


def previous_checkout(commit: str) -> Path:
    """A git worktree of `commit` under build/ (made once, never committed)."""
    folder = BUILD_DIR / f"previous-{commit[:12]}"
    if not (folder / "pipeline" / "__init__.py").exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(folder), commit], cwd=ROOT, check=True,
                       capture_output=True)
    return folder


def run_previous(documents: Sequence[RealDocument], commit: str, jobs: int, use_cache: bool,
                 ) -> tuple[dict[str, Output], str]:
    checkout = previous_checkout(commit)
    key = bench_cache.CacheKey.of(commit=commit, tesseract=bench_cache.tesseract_identity("vie"),
                                  libraries=bench_cache.library_versions(), command="python -m pipeline process")
    folder = BUILD_DIR / "cache" / "previous" / key.digest
    folder.mkdir(parents=True, exist_ok=True)
    todo = [d for d in documents if not (use_cache and (folder / f"{d.sha256[:20]}.json").exists())]
    seconds = 0.0
    if todo:
        env = dict(os.environ, PYTHONPATH=str(checkout))
        env.pop("CONGVAN_MODELS", None)
        with tempfile.TemporaryDirectory(prefix="bench-real-previous-") as out:
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "pipeline", "process", *(str(d.path) for d in todo),
                                   "--out", out, "--jobs", str(jobs)], cwd=checkout, env=env, capture_output=True,
                                  text=True)
            seconds = time.monotonic() - started
            if done.returncode not in (0, 1):
                print(f"bench-real: previous release failed ({done.returncode}): {done.stderr[-800:]}",
                      file=sys.stderr)
            for document in todo:
                result = Path(out) / f"{document.path.stem}.json"
                if result.exists():
                    shutil.copy(result, folder / f"{document.sha256[:20]}.json")
    outputs = {}
    for document in documents:
        path = folder / f"{document.sha256[:20]}.json"
        if not path.exists():
            outputs[document.stem] = Output([], {}, error="no output")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        outputs[document.stem] = Output([page["text"] for page in data["pages"]], data.get("record") or {},
                                        cached=document not in todo, seconds=seconds / max(1, len(todo)))
    print(f"bench-real: {PREVIOUS} ({commit[:12]}): {len(todo)} documents run in {seconds:.0f} s", file=sys.stderr)
    return outputs, key.describe()


# --------------------------------------------------------------------------- OCRmyPDF


def _ocrmypdf_version() -> str:
    done = subprocess.run(["ocrmypdf", "--version"], capture_output=True, text=True, check=False)
    unpaper = subprocess.run(["unpaper", "--version"], capture_output=True, text=True, check=False)
    return f"ocrmypdf {done.stdout.strip()}, unpaper {unpaper.stdout.strip() or 'absent'}"


def _ocrmypdf_input(document: RealDocument, folder: Path) -> tuple[Path, list[str]]:
    """The file OCRmyPDF gets and the options it needs for it: an image gets congvan's own resolution estimate
    (the same information both systems have); an image with transparency is flattened on white first."""
    if document.path.suffix.lower() == ".pdf":
        return document.path, []
    import cv2
    import numpy as np

    from pipeline.ingest import load_page

    page = load_page(document.path, 0)
    image = cv2.imread(str(document.path), cv2.IMREAD_UNCHANGED)
    path = document.path
    if image is not None and image.ndim == 3 and image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255
        flat = (image[:, :, :3].astype(np.float32) * alpha + 255 * (1 - alpha)).astype(np.uint8)
        path = folder / f"{document.stem}.png"
        cv2.imwrite(str(path), flat)
    return path, ["--image-dpi", str(round(page.dpi))]


def run_ocrmypdf(documents: Sequence[RealDocument], jobs: int, use_cache: bool) -> tuple[dict[str, Output], str]:
    from pipeline.extract import extract_record

    key = bench_cache.CacheKey.of(ocrmypdf=_ocrmypdf_version(), options=" ".join(OCRMYPDF_ARGS),
                                  tesseract=bench_cache.tesseract_identity("vie"),
                                  helpers=bench_cache.source_digest(_ocrmypdf_input))
    folder = BUILD_DIR / "cache" / "ocrmypdf" / key.digest
    folder.mkdir(parents=True, exist_ok=True)
    outputs = {}
    if shutil.which("ocrmypdf") is None:
        print("bench-real: ocrmypdf not installed (make setup installs it): baseline skipped", file=sys.stderr)
        return outputs, key.describe()
    for document in documents:
        sidecar = folder / f"{document.sha256[:20]}.txt"
        cached = use_cache and sidecar.exists()
        seconds = 0.0
        if not cached:
            with tempfile.TemporaryDirectory(prefix="bench-real-ocrmypdf-") as work:
                source, extra = _ocrmypdf_input(document, Path(work))
                started = time.monotonic()
                done = subprocess.run(
                    ["ocrmypdf", *OCRMYPDF_ARGS, *extra, "--sidecar", str(Path(work) / "out.txt"), "-j", str(jobs),
                     "--quiet", str(source), str(Path(work) / "out.pdf")],
                    capture_output=True, text=True, env=dict(os.environ, OMP_THREAD_LIMIT="1"))
                seconds = time.monotonic() - started
                if done.returncode != 0:
                    message = done.stderr.strip().splitlines()[-1:] or [""]
                    outputs[document.stem] = Output([], {}, error=f"ocrmypdf exit {done.returncode}: {message[0]}")
                    continue
                shutil.copy(Path(work) / "out.txt", sidecar)
        text = unicodedata.normalize("NFC", sidecar.read_text(encoding="utf-8")).rstrip("\f")
        pages = text.split("\f")
        record = extract_record(text)
        outputs[document.stem] = Output(pages, record.to_dict(), cached=cached, seconds=seconds)
    return outputs, key.describe()


# --------------------------------------------------------------------------- scoring


def _nfc(value: Any) -> str:
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _code(value: Any) -> str:
    return "".join(_nfc(value).split())


def _same(name: str, gold: Any, predicted: Any) -> bool:
    if gold is None or predicted is None:
        return gold is None and predicted is None
    if name in FUZZY_FIELDS:
        return same_fuzzy(gold, predicted)
    if name in ("code", "symbol", "received number"):
        return _code(gold) == _code(predicted)
    return _nfc(gold) == _nfc(predicted)


def field_values(record: dict[str, Any]) -> dict[str, Any]:
    """The scored fields of a record (gold or predicted; both have the `Record.to_dict()` shape)."""
    document = record.get("document") or {}
    signer = document.get("signer") or {}
    received = record.get("received") or {}
    values = {name: document.get(name) for name in (*EXACT_FIELDS, *FUZZY_FIELDS)}
    values["signer name"] = signer.get("name")
    values["received number"] = received.get("number")
    values["received date"] = received.get("date")
    return values


@dataclass
class DocumentScore:
    fields: dict[str, bool] = field(default_factory=dict)
    references: Counts = field(default_factory=Counts)
    references_dated: Counts = field(default_factory=Counts)
    tasks_scored: bool = False
    tasks_gold: int = 0
    tasks_predicted: int = 0
    task_ids: Counts = field(default_factory=Counts)
    tasks_right: Counts = field(default_factory=Counts)  # id, assignees and deadline right
    cer: ErrorRate = field(default_factory=ErrorRate)
    wer: ErrorRate = field(default_factory=ErrorRate)
    words: Counts = field(default_factory=Counts)
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def _set_counts(gold: Iterable[Any], predicted: Iterable[Any]) -> Counts:
    gold_set, predicted_set = set(gold), set(predicted)
    common = len(gold_set & predicted_set)
    return Counts(common, len(predicted_set) - common, len(gold_set) - common)


def score(document: RealDocument, output: Output) -> DocumentScore:
    result = DocumentScore()
    gold_values, predicted_values = field_values(document.gold), field_values(output.record)
    for name in FIELD_ROWS:
        right = _same(name, gold_values[name], predicted_values[name])
        result.fields[name] = right
        if not right:
            result.differences[name] = (gold_values[name], predicted_values[name])
    gold_refs = {_code(r["code"]): r.get("date") for r in document.gold.get("references") or []}
    predicted_refs = {_code(r["code"]): r.get("date") for r in output.record.get("references") or []}
    result.references = _set_counts(gold_refs, predicted_refs)
    result.references_dated = _set_counts(gold_refs.items(), predicted_refs.items())
    missed = sorted(set(gold_refs.items()) - set(predicted_refs.items()))
    spurious = sorted(set(predicted_refs.items()) - set(gold_refs.items()), key=str)
    if missed or spurious:
        result.differences["references"] = (missed, spurious)
    gold_tasks = document.gold.get("tasks")
    if gold_tasks is not None:
        predicted_tasks = {t["id"]: t for t in output.record.get("tasks") or []}
        result.tasks_scored = True
        result.tasks_gold, result.tasks_predicted = len(gold_tasks), len(predicted_tasks)
        result.task_ids = _set_counts((t["id"] for t in gold_tasks), predicted_tasks)
        right = 0
        for task in gold_tasks:
            found = predicted_tasks.get(task["id"])
            if found is None:
                continue
            assignees = match_lists(task.get("assignees") or [], found.get("assignees") or [], same_unit)
            if assignees.fp == 0 and assignees.fn == 0 and task.get("deadline") == found.get("deadline"):
                right += 1
        result.tasks_right = Counts(right, len(predicted_tasks) - right, len(gold_tasks) - right)
        if result.task_ids.fp or result.task_ids.fn:
            result.differences["task ids"] = ([t["id"] for t in gold_tasks], list(predicted_tasks))
    reference, hypothesis = document.transcription, output.pages
    if len(reference) == len(hypothesis):
        pairs = list(zip(reference, hypothesis, strict=True))
    else:
        pairs = [("\n".join(reference), "\n".join(hypothesis))]
    for ref, hyp in pairs:
        result.cer += cer(ref, hyp)
        result.wer += wer(ref, hyp)
    result.words = bag_of_words("\n".join(reference), "\n".join(hypothesis))
    return result


# --------------------------------------------------------------------------- report


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f} %)" if whole else "–"


def _pr(counts: Counts) -> str:
    return f"P {100 * counts.precision:.0f} % · R {100 * counts.recall:.0f} % ({counts.tp}/{counts.tp + counts.fn})"


def total(scores: Iterable[DocumentScore], getter: Callable[[DocumentScore], Any]) -> Any:
    """The sum of one measure (counts, error rates) over documents; the empty measure when there are none."""
    summed = getter(DocumentScore())
    for each in scores:
        summed = summed + getter(each)
    return summed


def report(documents: Sequence[RealDocument], results: dict[str, dict[str, DocumentScore]],
           outputs: dict[str, dict[str, Output]], keys: dict[str, str]) -> str:
    systems = [name for name in SYSTEMS.values() if name in results]
    lines = [f"## bench-real: {len(documents)} real documents, "
             f"{sum(len(d.transcription) for d in documents)} transcribed pages", ""]
    lines += ["### Fields (documents right / scored)", "", "| field | " + " | ".join(systems) + " | target |",
              "|---|" + "---|" * (len(systems) + 1)]
    for name in FIELD_ROWS:
        cells = []
        for system in systems:
            scored = [s for s in results[system].values()]
            cells.append(_percent(sum(s.fields[name] for s in scored), len(scored)))
        target = f"≥ {100 * TARGETS[name]:.0f} %" if name in TARGETS else ""
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {target} |")
    rows: list[tuple[str, Callable[[list[DocumentScore]], str]]] = [
        ("references found", lambda s: _pr(total(s, lambda x: x.references))),
        ("references with their dates", lambda s: _pr(total(s, lambda x: x.references_dated))),
        ("tasks: gold / found", lambda s: f"{sum(x.tasks_gold for x in s if x.tasks_scored)} / "
                                          f"{sum(x.tasks_predicted for x in s if x.tasks_scored)}"),
        ("task ids", lambda s: _pr(total([x for x in s if x.tasks_scored], lambda x: x.task_ids))),
        ("tasks right (id, assignees, deadline)",
         lambda s: _pr(total([x for x in s if x.tasks_scored], lambda x: x.tasks_right))),
        ("CER (pages)", lambda s: f"{100 * total(s, lambda x: x.cer).rate:.2f} %"),
        ("WER (pages)", lambda s: f"{100 * total(s, lambda x: x.wer).rate:.2f} %"),
        ("bag-of-words F1", lambda s: f"{100 * total(s, lambda x: x.words).f1:.1f} %"),
    ]
    lines += ["", "### References, tasks, text", "", "| measure | " + " | ".join(systems) + " |",
              "|---|" + "---|" * len(systems)]
    for label, compute in rows:
        lines.append(f"| {label} | " + " | ".join(compute(list(results[s].values())) for s in systems) + " |")
    lines += ["", "### Per document (code · date · signer name · references with dates · task ids · CER)", "",
              "| document | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems)]
    for document in documents:
        cells = []
        for system in systems:
            s = results[system][document.stem]
            marks = "".join("✓" if s.fields[name] else "✗" for name in ("code", "date", "signer name"))
            dated = s.references_dated
            tasks = f"{s.task_ids.tp}/{s.tasks_gold} (+{s.task_ids.fp})" if s.tasks_scored else "–"
            cache = " (cache)" if outputs[system][document.stem].cached else ""
            error = f" {outputs[system][document.stem].error}" if outputs[system][document.stem].error else ""
            cells.append(f"{marks} · refs {dated.tp}/{dated.tp + dated.fn} · tasks {tasks} · "
                         f"CER {100 * s.cer.rate:.1f} %{cache}{error}")
        lines.append(f"| {document.stem} | " + " | ".join(cells) + " |")
    lines += ["", "### Cache", ""]
    for system in systems:
        hits = sum(outputs[system][d.stem].cached for d in documents)
        lines.append(f"- {system}: {hits} of {len(documents)} documents' OCR from cache; {keys[system]}")
    return "\n".join(lines)


def differences(documents: Sequence[RealDocument], results: dict[str, dict[str, DocumentScore]]) -> str:
    lines = ["## What differs from the gold", ""]
    for document in documents:
        lines.append(f"### {document.stem}")
        for system, by_document in results.items():
            for name, (gold, predicted) in by_document[document.stem].differences.items():
                lines.append(f"- {system} · {name}: gold {gold!r} · got {predicted!r}")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="folder of the real documents")
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--previous", help="commit of the previous release (default: merge base of HEAD and main)")
    parser.add_argument("--only", nargs="*", default=[], help="documents whose stem contains one of these")
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--no-cache", action="store_true", help="recompute every OCR result")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the report and the records go")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"bench-real: {args.real} is absent: nothing to measure (the real documents live in ../shared/real)",
              file=sys.stderr)
        return 0
    documents = load_documents(args.real, args.only)
    if not documents:
        print(f"bench-real: no real document matches {args.only}", file=sys.stderr)
        return EXIT_NO_DOCUMENTS
    use_cache = not args.no_cache
    outputs: dict[str, dict[str, Output]] = {}
    keys: dict[str, str] = {}
    if "now" in args.systems:
        outputs[NOW], keys[NOW] = run_now(documents, args.jobs, use_cache)
    if "previous" in args.systems:
        commit = resolve_previous(args.previous)
        outputs[PREVIOUS], keys[PREVIOUS] = run_previous(documents, commit, args.jobs, use_cache)
        keys[PREVIOUS] += f" (previous release = {commit[:12]})"
    if "ocrmypdf" in args.systems:
        outputs[OCRMYPDF], keys[OCRMYPDF] = run_ocrmypdf(documents, args.jobs, use_cache)
    for by_doc in outputs.values():
        for document in documents:
            by_doc.setdefault(document.stem, Output([], {}, error="missing"))
    results = {system: {d.stem: score(d, by_doc[d.stem]) for d in documents} for system, by_doc in outputs.items()}
    text = report(documents, results, outputs, keys)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(text + "\n\n" + differences(documents, results) + "\n", encoding="utf-8")
    for system, by_doc in outputs.items():
        slug = next(key for key, name in SYSTEMS.items() if name == system)
        for stem, output in by_doc.items():
            (args.out / f"{stem}.{slug}.json").write_text(
                json.dumps({"record": output.record, "pages": output.pages, "error": output.error},
                           ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\nreport with every difference from the gold: {args.out / 'report.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
