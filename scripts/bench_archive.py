"""Archive benchmark (`make bench-archive`): batch throughput against OCRmyPDF, indexing rate, search latency.

In one run:
1. Throughput: the same synthetic pages (samples/generate.py bench set, mixed degradations) processed by
   congvan (ingest → preprocess → OCR → restore → extract → archive, pages in parallel on --jobs processes)
   and by OCRmyPDF on one multi-page TIFF holding the same pages, twice: as a careful user runs it on scans
   (bench_scan.OCRMYPDF_BEST: its preprocessing + OCR, the configuration bench-scan compares quality with) and
   plain `-l vie` (OCR only, its fastest); congvan on that TIFF as well; pages per minute.
2. Indexing: N synthetic dispatches (random_dispatch → dispatch_text → the real extract_record) added to
   a fresh archive, one transaction per document; documents per second.
3. Search: latency (p50, p95, max) of reference queries in four spellings and of text queries with and
   without diacritics, against the same queries as a plain LIKE scan over the page text (the baseline
   without a full-text index).
Prints a markdown table. Rendered pages and the synthetic documents' records are cached under build/bench_archive/,
keyed by everything that changes them (bench_cache): pages by the generator's code and data and the imaging
libraries' versions; records by the code of pipeline.extract and every pipeline module it imports, its data files,
this script's helpers that call it, the generator and the versions of the libraries it uses. The output says
which inputs came from the cache; every timing is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))
sys.path.insert(0, str(ROOT / "scripts"))
import generate  # noqa: E402  (samples/generate.py, as the tests import it)
from bench_cache import CacheKey, code_key, files_digest, library_versions  # noqa: E402
from bench_scan import (  # noqa: E402
    OCRMYPDF_BEST,
    OCRMYPDF_VARIANTS,
    OcrmypdfConfig,
    ocrmypdf_command,
    ocrmypdf_identity,
)

from pipeline.archive import ArchiveStore, open_archive  # noqa: E402
from pipeline.archive.files import document_to_dict, dumps_json  # noqa: E402
from pipeline.archive.normalize import fold_text  # noqa: E402
from pipeline.archive.search import search  # noqa: E402
from pipeline.run import ProcessOptions, process_inputs  # noqa: E402
from pipeline.types import DocumentResult, PageResult, Record  # noqa: E402

CACHE = ROOT / "build" / "bench_archive"
THROUGHPUT_CLASSES = ("clean300", "skew", "noise", "jpeg", "dpi150", "fade", "seal_over_text", "hardest")
PAGE_CHARS = 2500  # synthetic documents are cut into pages of about this many characters
SEED = 5
GENERATOR = (ROOT / "samples" / "generate.py", ROOT / "samples" / "data")
CACHE_NOTES: list[str] = []  # what came from the cache, for the report


def pages_key(count: int) -> CacheKey:
    return CacheKey.of(generator=files_digest(GENERATOR), seed=str(SEED), count=str(count),
                       libraries=library_versions(("Pillow", "numpy", "opencv-python-headless")))


def records_key(count: int) -> CacheKey:
    key = code_key("pipeline.extract", helpers=(_extract_one, _paginate), data=[ROOT / "pipeline" / "data"],
                   libraries=("rapidfuzz", "vietnamadminunits"))
    return CacheKey.of(**dict(key.parts), generator=files_digest(GENERATOR), seed=str(SEED), count=str(count))


# --------------------------------------------------------------------------- 1. throughput


def bench_pages(count: int) -> list[Path]:
    """`count` single-page PNGs of the bench set, mixed degradations, cached."""
    key = pages_key(count)
    folder = CACHE / f"pages_{key.digest}"
    per_class = -(-count // len(THROUGHPUT_CLASSES))
    items = generate.generate_bench_set(THROUGHPUT_CLASSES, per_class, SEED)[:count]
    paths = [folder / f"{item.name}.png" for item in items]
    if all(path.exists() for path in paths):
        CACHE_NOTES.append(f"throughput input: the {count} rendered pages came from the cache ({key.describe()})")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        for item in items:
            item.write(folder)
        CACHE_NOTES.append(f"throughput input: the {count} pages were rendered in this run (cached under {key.digest})")
    return paths


def as_tiff(pages: Sequence[Path], target: Path) -> Path:
    """The same pages as one multi-page TIFF (each page keeps its resolution)."""
    from PIL import Image

    images = [Image.open(path) for path in pages]
    first, rest = images[0], images[1:]
    first.save(target, save_all=True, append_images=rest, compression="tiff_deflate",
               dpi=first.info.get("dpi", (300, 300)))
    for image in images:
        image.close()
    return target


def time_congvan(inputs: Sequence[Path], jobs: int, work: Path) -> tuple[float, int, int]:
    """Seconds, pages done, documents failed for a full congvan batch with an archive."""
    shutil.rmtree(work, ignore_errors=True)
    options = ProcessOptions(out_dir=work / "out", db_path=work / "archive.db", jobs=jobs, progress=False)
    started = time.perf_counter()
    summary = process_inputs(list(inputs), options)
    seconds = time.perf_counter() - started
    return seconds, sum(o.pages for o in summary.done), len(summary.failed)


OCRMYPDF_PLAIN = OCRMYPDF_VARIANTS[0]


def time_ocrmypdf(tiff: Path, jobs: int, work: Path, config: OcrmypdfConfig) -> float | None:
    if shutil.which("ocrmypdf") is None:
        return None
    work.mkdir(parents=True, exist_ok=True)
    command = ocrmypdf_command(config, tiff, work / "ocrmypdf.pdf", work / "ocrmypdf.txt", jobs)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        print(f"ocrmypdf failed ({done.returncode}): {done.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return seconds


# --------------------------------------------------------------------------- 2. indexing


def _paginate(text: str) -> list[str]:
    pages, current = [], ""
    for line in text.split("\n"):
        if current and len(current) + len(line) > PAGE_CHARS:
            pages.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    pages.append(current)
    return pages


def _extract_one(index: int) -> tuple[int, list[str], dict]:
    from pipeline.extract import extract_record

    generator = generate
    spec = generator.random_dispatch(random.Random(f"archive-bench:{SEED}:{index}"))
    pages = _paginate(generator.dispatch_text(spec))
    return index, pages, extract_record("\f".join(pages)).to_dict()


def synthetic_documents(count: int, jobs: int) -> list[tuple[list[str], dict]]:
    """`count` synthetic dispatches with the records the real extractor makes of them (cached)."""
    key = records_key(count)
    cache = CACHE / f"documents_{key.digest}.jsonl"
    if cache.exists():
        with cache.open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle]
        CACHE_NOTES.append(f"indexing and search input: the {count:,} synthetic documents' records came from the "
                           f"cache ({key.describe()})")
        return [(row["pages"], row["record"]) for row in rows]
    CACHE_NOTES.append(f"indexing and search input: the {count:,} records were extracted in this run (cached under "
                       f"{key.digest})")
    started = time.perf_counter()
    documents: list[tuple[list[str], dict]] = [([], {})] * count
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for index, pages, record in pool.map(_extract_one, range(count), chunksize=50):
            documents[index] = (pages, record)
    print(f"extracted {count} synthetic documents in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("w", encoding="utf-8") as handle:
        for pages, record in documents:
            handle.write(json.dumps({"pages": pages, "record": record}, ensure_ascii=False) + "\n")
    return documents


def add_synthetic(archive: ArchiveStore, number: int, pages: list[str], record_data: dict) -> None:
    """Add synthetic document `number` as the driver adds a processed one (result JSON included)."""
    page_results = [PageResult(index=i, width=2480, height=3508, dpi=300.0, preprocessing=[], words=[],
                               raw_text=text, text=text) for i, text in enumerate(pages)]
    result = DocumentResult(source=f"/archive/doc{number:06d}.pdf", sha256=f"{number:064x}",
                            pages=page_results, record=Record.from_dict(record_data))
    result_json = dumps_json(document_to_dict(result, kind="pdf", settings={}))
    archive.add_document(result, name=f"doc{number:06d}", kind="pdf", result_json=result_json)


def index_documents(db_path: Path, documents: Sequence[tuple[list[str], dict]]) -> float:
    """Documents per second, each added in its own transaction as the driver does."""
    with open_archive(db_path) as archive:
        started = time.perf_counter()
        for number, (pages, record_data) in enumerate(documents):
            add_synthetic(archive, number, pages, record_data)
        seconds = time.perf_counter() - started
    return len(documents) / seconds


# --------------------------------------------------------------------------- 3. search


def reference_queries(documents: Sequence[tuple[list[str], dict]], count: int, rng: random.Random) -> list[str]:
    """Codes of indexed documents and of the documents they cite, each in one of four spellings."""
    codes = sorted({code for _, record in documents
                    for code in [record["document"].get("code"), *(r["code"] for r in record["references"])]
                    if code and re.match(r"\d+[/-]", code)})
    spellings: list[Callable[[str], str]] = [
        lambda c: c,
        lambda c: c.replace("Đ", "D").replace("đ", "d"),
        lambda c: " ".join(re.split(r"[/\-\s]+", c)).lower(),
        lambda c: re.split(r"-", c, maxsplit=1)[0] if "/" in c.split("-", 1)[0] else c,
    ]
    return [rng.choice(spellings)(rng.choice(codes)) for _ in range(count)]


def text_queries(documents: Sequence[tuple[list[str], dict]], count: int, rng: random.Random) -> list[str]:
    """Two- to four-word phrases taken from indexed text, half of them typed without diacritics."""
    queries = []
    while len(queries) < count:
        pages, _ = rng.choice(documents)
        words = [w for w in re.findall(r"\w+", rng.choice(pages)) if not w.isdigit()]
        if len(words) < 6:
            continue
        size = rng.randint(2, 4)
        start = rng.randrange(len(words) - size)
        phrase = " ".join(words[start:start + size]).lower()
        queries.append(fold_text(phrase) if len(queries) % 2 else phrase)
    return queries


def latencies(run_query: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    times = []
    for query in queries:
        started = time.perf_counter()
        run_query(query)
        times.append((time.perf_counter() - started) * 1000.0)
    return times


def like_scan(db_path: Path) -> Callable[[str], object]:
    """Baseline: what a plain SQL archive without a full-text index would do."""
    import sqlite3

    db = sqlite3.connect(db_path)

    def run(query: str) -> object:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return db.execute(
            'SELECT "document_id", "page" FROM "pages" WHERE "text" LIKE ? ESCAPE \'\\\' OR "folded" LIKE ? '
            "ESCAPE '\\' LIMIT 20", (pattern, fold_text(pattern))
        ).fetchall()

    return run


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# --------------------------------------------------------------------------- main


def throughput_rows(page_count: int, jobs: int, work: Path) -> list[tuple[str, str, str]]:
    pages = bench_pages(page_count)
    tiff = as_tiff(pages, work / "pages.tif")
    baselines = [(config, time_ocrmypdf(tiff, jobs, work / f"ocrmypdf{k}", config))
                 for k, config in enumerate((OCRMYPDF_BEST, OCRMYPDF_PLAIN))]
    tiff_seconds, tiff_pages, tiff_failed = time_congvan([tiff], jobs, work / "congvan_tiff")
    files_seconds, files_pages, files_failed = time_congvan(pages, jobs, work / "congvan_files")
    rows = []
    for config, seconds in baselines:
        if seconds is not None:
            rows.append((f"OCRmyPDF `{' '.join(config.args)} --force-ocr --sidecar -j {jobs}`, one {len(pages)}-page "
                         "TIFF", f"{60 * len(pages) / seconds:.1f} pages/min", f"{seconds:.1f} s ({ocrmypdf_identity()})"))
    rows.append((f"congvan all stages + archive, same TIFF (jobs {jobs})",
                 f"{60 * tiff_pages / tiff_seconds:.1f} pages/min", f"{tiff_seconds:.1f} s, {tiff_failed} failed"))
    rows.append((f"congvan all stages + archive, the {len(pages)} pages as PNG files (jobs {jobs})",
                 f"{60 * files_pages / files_seconds:.1f} pages/min", f"{files_seconds:.1f} s, {files_failed} failed"))
    for config, seconds in baselines:
        if seconds is not None:
            rows.append((f"congvan / OCRmyPDF ({config.name}) pages per minute, TIFF", f"{seconds / tiff_seconds:.2f}×",
                         "target ≥ 1.0×"))
    return rows


def search_rows(document_count: int, query_count: int, jobs: int, work: Path) -> list[tuple[str, str, str]]:
    rng = random.Random(SEED)
    documents = synthetic_documents(document_count, jobs)
    db_path = work / "search.db"
    rate = index_documents(db_path, documents)
    rows = [(f"indexing {len(documents):,} documents (one transaction each)", f"{rate:.0f} docs/s",
             f"{sum(len(p) for p, _ in documents):,} pages")]
    with open_archive(db_path, create=False) as archive:
        kinds = {"reference": reference_queries(documents, query_count, rng),
                 "text": text_queries(documents, query_count, rng)}
        found = {kind: sum(bool(search(archive, q)) for q in qs) for kind, qs in kinds.items()}
        for kind, queries in kinds.items():
            times = latencies(lambda q: search(archive, q), queries)
            rows.append((f"search p95 · {kind} queries ({len(queries)}, {found[kind]} with hits)",
                         f"{percentile(times, 0.95):.1f} ms",
                         f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms; target p95 ≤ 50 ms"))
    baseline = like_scan(db_path)
    for kind, queries in kinds.items():
        times = latencies(baseline, queries[:50])
        rows.append((f"baseline LIKE scan p95 · {kind} queries (50)", f"{percentile(times, 0.95):.1f} ms",
                     f"p50 {statistics.median(times):.1f} ms"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="pages for the throughput comparison")
    parser.add_argument("--documents", type=int, default=10_000, help="synthetic documents indexed")
    parser.add_argument("--queries", type=int, default=200, help="queries of each kind")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="8 pages, 1,000 documents, 50 queries")
    parser.add_argument("--skip-throughput", action="store_true", help="no OCR throughput comparison")
    parser.add_argument("--skip-search", action="store_true", help="no indexing or search measurements")
    args = parser.parse_args(argv)
    if args.quick:
        args.pages, args.documents, args.queries = 8, 1000, 50
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="congvan-bench-") as temp:
        if not args.skip_throughput:
            rows += throughput_rows(args.pages, args.jobs, Path(temp))
        if not args.skip_search:
            rows += search_rows(args.documents, args.queries, args.jobs, Path(temp))
    print("| measure | result | notes |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\nCache (inputs only; every timing above was measured in this run):")
    print("\n".join(f"- {note}" for note in CACHE_NOTES) or "- nothing cached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
