"""Scan benchmark (`make bench-scan`): CER/WER per degradation class and pages per minute on the same pages, for
raw Tesseract, OCRmyPDF at its best configuration, congvan's OCR stages alone and congvan's whole pipeline; deskew
and orientation accuracy.

In one run, on pages generated deterministically by samples/generate.py (`generate_bench_set`, several documents
per degradation class, written as PNG with their DPI to a temporary folder), every row measured in this run (no
cache):
1. raw Tesseract (OCR only): `tesseract PAGE stdout -l vie` on the unprocessed page, 2 pages at a time;
2. OCRmyPDF (its preprocessing + OCR): `ocrmypdf` with OCRMYPDF_BEST (the best of OCRMYPDF_VARIANTS, measured
   with `--ocrmypdf-variants`) on one PDF holding the same pages losslessly at their DPI, `-j 2`; its text per
   page from `--sidecar`;
3. congvan OCR stages only: ingest.load_page → preprocess_page → ocr_page on each page, 2 processes; the OCR
   text, no restoration, no extraction;
4. congvan whole pipeline: `python -m pipeline process PAGES --out OUT --db DB --jobs 2` in a fresh process, as a
   user runs it: ingest → preprocess → OCR → restore → extract → archive and output files, model loading
   included; its text per page is OUT/<page>.txt (the restored text). Its pages/min is the speed claim.
CER and WER (pipeline/eval/metrics.py) are edit distances over the gold text, both NFC with whitespace runs
collapsed, summed per class; reading order counts. Deskew: |measured − true| skew angle on pages skewed up to
±10° (the `skew` class plus extra deskew-only pages). `--variants` also runs congvan OCR configurations
(language, page segmentation mode, binarization, own layout analysis) on the same pages: the evidence behind the
defaults in pipeline/ocr.py. Timings are wall-clock on this machine; other processes sharing the CPU slow every
system alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "samples"))
import generate  # noqa: E402  (samples/generate.py, as the tests import it)

from pipeline import ingest, ocr, preprocess  # noqa: E402
from pipeline.eval import metrics  # noqa: E402
from pipeline.eval.metrics import ErrorRate  # noqa: E402
from pipeline.types import PageImage  # noqa: E402

SEED = 2024
PER_CLASS = 3
QUICK_PER_CLASS = 1
DESKEW_EXTRA_PAGES = 20
JOBS = 2
HARDEST = "hardest"
TARGETS = "targets: hardest CER ≤ 1.5 %, clean300 CER ≤ 0.2 %, congvan pages/min ≥ OCRmyPDF's, deskew median ≤ 0.1°, worst ≤ 0.5°"


@dataclass(frozen=True)
class Config:
    """One congvan OCR configuration."""

    name: str
    languages: str = ocr.DEFAULT_LANGUAGES
    psm: int = ocr.DEFAULT_PSM
    binarize: bool = False
    layout: bool = True


DEFAULT_CONFIG = Config("congvan")
VARIANTS = (
    DEFAULT_CONFIG,
    Config("binarized (Sauvola)", binarize=True),
    Config("psm 4", psm=4),
    Config("psm 6", psm=6),
    Config("no own layout", layout=False),
    Config("vie+Vietnamese", languages="vie+Vietnamese"),
    Config("Vietnamese", languages="Vietnamese"),
)


@dataclass
class Page:
    name: str
    degradation: str
    path: Path
    gold: str
    skew: float
    rotation: int


@dataclass
class Run:
    """One system's output on every page."""

    system: str
    texts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    angles: dict[str, float] = field(default_factory=dict)  # congvan: measured deskew angle per page
    quarters: dict[str, int] = field(default_factory=dict)  # congvan: orientation fix per page


# --------------------------------------------------------------------------- pages


def _write_item(item: Any, folder: Path) -> Path:
    return Path(item.write(folder))


def write_pages(items: Sequence[Any], folder: Path, classes_per_document: int) -> list[Page]:
    """Render and write the bench items in parallel (a worker keeps one document's classes together, so
    each document is rendered once)."""
    with ProcessPoolExecutor(JOBS) as pool:
        paths = list(pool.map(_write_item, items, [folder] * len(items), chunksize=max(1, classes_per_document)))
    pages = []
    for item, path in zip(items, paths, strict=True):
        gold = json.loads(path.with_name(f"{path.stem}.gold.json").read_text(encoding="utf-8"))["pages"][0]
        pages.append(Page(item.name, item.degradation, path, gold["text"], float(gold["skew"]), int(gold["rotation"])))
    return pages


# --------------------------------------------------------------------------- systems


def _tesseract_env() -> dict[str, str]:
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


def _raw_tesseract(path: Path) -> str:
    done = subprocess.run(["tesseract", str(path), "stdout", "-l", "vie"], capture_output=True, check=True,
                          env=_tesseract_env())
    return done.stdout.decode("utf-8", "replace")


RAW = "raw Tesseract (OCR only)"
OCRMYPDF = "OCRmyPDF (preprocessing + OCR)"
CONGVAN_OCR = "congvan OCR stages only"
CONGVAN_PIPELINE = "congvan whole pipeline"


def run_raw_tesseract(pages: Sequence[Page]) -> Run:
    run = Run(RAW)
    started = time.monotonic()
    with ProcessPoolExecutor(JOBS) as pool:
        texts = list(pool.map(_raw_tesseract, [page.path for page in pages]))
    run.seconds = time.monotonic() - started
    run.texts = {page.name: text for page, text in zip(pages, texts, strict=True)}
    return run


def _pages_pdf(pages: Sequence[Page], path: Path) -> None:
    """All pages in one PDF, each image embedded losslessly at its own DPI."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pageCompression=1)
    for page in pages:
        with Image.open(page.path) as image:
            dpi = float(image.info.get("dpi", (300, 300))[0])
            size = (image.width * 72 / dpi, image.height * 72 / dpi)
        pdf.setPageSize(size)
        pdf.drawImage(ImageReader(str(page.path)), 0, 0, *size)
        pdf.showPage()
    pdf.save()


@dataclass(frozen=True)
class OcrmypdfConfig:
    """One OCRmyPDF command line (besides input, output, sidecar and -j)."""

    name: str
    args: tuple[str, ...]


# A careful user's OCRmyPDF on scans: language, orientation (OSD, tesseract-ocr-osd), deskew, unpaper cleaning;
# text only, so no PDF/A conversion. The variants add what its documentation offers for poor scans;
# `--ocrmypdf-variants` measures them on the bench pages and OCRMYPDF_BEST is the one with the lowest CER over all
# pages (measured on 1 page per class, seed 2024: 13.1 % against 22.9 % for the careful line alone; page
# segmentation mode 6 rescues the skewed and sealed pages that mode 3 reads as scattered blocks). --clean-final
# sends the same cleaned image to OCR as --clean, so it cannot change the text; --remove-background is "temporarily
# not implemented" in OCRmyPDF 14 (it exits with an error), so it is not a variant.
_CAREFUL = ("-l", "vie", "--rotate-pages", "--deskew", "--clean", "--output-type", "pdf")
OCRMYPDF_VARIANTS = (
    OcrmypdfConfig("plain: -l vie", ("-l", "vie", "--output-type", "pdf")),
    OcrmypdfConfig("careful: --rotate-pages --deskew --clean", _CAREFUL),
    OcrmypdfConfig("careful + --rotate-pages-threshold 2", (*_CAREFUL, "--rotate-pages-threshold", "2")),
    OcrmypdfConfig("careful + --oversample 300", (*_CAREFUL, "--oversample", "300")),
    OcrmypdfConfig("careful + --clean-final", (*_CAREFUL, "--clean-final")),
    OcrmypdfConfig("careful + --tesseract-pagesegmode 4", (*_CAREFUL, "--tesseract-pagesegmode", "4")),
    OcrmypdfConfig("careful + --tesseract-pagesegmode 6", (*_CAREFUL, "--tesseract-pagesegmode", "6")),
    OcrmypdfConfig("careful + --tesseract-thresholding sauvola", (*_CAREFUL, "--tesseract-thresholding", "sauvola")),
)
OCRMYPDF_BEST = OCRMYPDF_VARIANTS[6]


def ocrmypdf_command(config: OcrmypdfConfig, source: Path, output: Path, sidecar: Path, jobs: int = JOBS) -> list[str]:
    return ["ocrmypdf", *config.args, "--force-ocr", "--sidecar", str(sidecar), "-j", str(jobs), "--quiet",
            str(source), str(output)]


def ocrmypdf_identity() -> str:
    """Which OCRmyPDF the baseline runs (the first on PATH) and its version."""
    program = shutil.which("ocrmypdf")
    if program is None:
        return "OCRmyPDF not installed"
    done = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    return f"OCRmyPDF {done.stdout.strip() or '(version unknown)'} at {program}"


def run_ocrmypdf(pages: Sequence[Page], folder: Path, config: OcrmypdfConfig = OCRMYPDF_BEST,
                 label: str = OCRMYPDF) -> Run | None:
    if shutil.which("ocrmypdf") is None:
        print("ocrmypdf not installed: baseline skipped (make setup installs it)", file=sys.stderr)
        return None
    source = folder / "ocrmypdf_in.pdf"
    if not source.exists():
        _pages_pdf(pages, source)
    output, sidecar = folder / "ocrmypdf_out.pdf", folder / "ocrmypdf.txt"
    started = time.monotonic()
    done = subprocess.run(ocrmypdf_command(config, source, output, sidecar), capture_output=True,
                          env=_tesseract_env())
    run = Run(label, seconds=time.monotonic() - started)
    if done.returncode != 0:
        print(f"ocrmypdf ({config.name}) failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}",
              file=sys.stderr)
        return None
    texts = sidecar.read_text(encoding="utf-8").split("\f")
    run.texts = {page.name: texts[k] if k < len(texts) else "" for k, page in enumerate(pages)}
    return run


def _congvan_page(job: tuple[Path, Config]) -> tuple[str, float, int]:
    path, config = job
    page = ingest.load_page(path, 0)
    prepared = preprocess.preprocess_page(page, binarize_output=config.binarize)
    result = ocr.ocr_page(prepared, languages=config.languages, psm=config.psm, use_layout=config.layout)
    steps = {step.name: step.params for step in prepared.steps}
    return result.text, float(steps["deskew"]["angle"]), int(steps["fix_orientation"]["quarters_ccw"])


def run_congvan(pages: Sequence[Page], config: Config, label: str | None = None) -> Run:
    run = Run(label or config.name)
    started = time.monotonic()
    with ProcessPoolExecutor(JOBS) as pool:
        results = list(pool.map(_congvan_page, [(page.path, config) for page in pages]))
    run.seconds = time.monotonic() - started
    for page, (text, angle, quarters) in zip(pages, results, strict=True):
        run.texts[page.name], run.angles[page.name], run.quarters[page.name] = text, angle, quarters
    return run


def pipeline_command(pages_dir: Path, work: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline", "process", str(pages_dir), "--out", str(work / "out"), "--db",
            str(work / "archive.db"), "--jobs", str(JOBS)]


def run_congvan_pipeline(pages: Sequence[Page], pages_dir: Path, work: Path) -> Run | None:
    """`congvan process` on the page files in a fresh process: every stage, as a user runs it."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.monotonic()
    done = subprocess.run(pipeline_command(pages_dir, work), capture_output=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    run = Run(CONGVAN_PIPELINE, seconds=time.monotonic() - started)
    if done.returncode != 0:
        print(f"congvan process failed ({done.returncode}): {done.stderr.decode(errors='replace')[-800:]}",
              file=sys.stderr)
        return None
    for page in pages:
        output = work / "out" / f"{page.path.stem}.txt"
        run.texts[page.name] = output.read_text(encoding="utf-8") if output.exists() else ""
    return run


def _deskew_only(path: Path) -> float:
    prepared = preprocess.preprocess_page(ingest.load_page(path, 0))
    return float({step.name: step.params for step in prepared.steps}["deskew"]["angle"])


def measure_deskew(pages: Sequence[Page]) -> list[float]:
    """|measured − true| skew in degrees (the measured angle is what deskew rotated away)."""
    with ProcessPoolExecutor(JOBS) as pool:
        angles = list(pool.map(_deskew_only, [page.path for page in pages]))
    return [abs(angle - page.skew) for page, angle in zip(pages, angles, strict=True)]


# --------------------------------------------------------------------------- scoring and report


@dataclass
class Score:
    characters: ErrorRate = field(default_factory=ErrorRate)
    words: ErrorRate = field(default_factory=ErrorRate)

    def add(self, hypothesis: str, reference: str) -> None:
        self.characters += metrics.cer(reference, hypothesis)
        self.words += metrics.wer(reference, hypothesis)

    @property
    def cer(self) -> float:
        return 100.0 * self.characters.rate

    @property
    def wer(self) -> float:
        return 100.0 * self.words.rate


def score(run: Run, pages: Sequence[Page]) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for page in pages:
        scores[page.degradation].add(run.texts.get(page.name, ""), page.gold)
        scores["all"].add(run.texts.get(page.name, ""), page.gold)
    return scores


def pages_per_minute(run: Run, count: int) -> float:
    return 60.0 * count / run.seconds if run.seconds else 0.0


def table(runs: Sequence[Run], pages: Sequence[Page], classes: Iterable[str]) -> str:
    scored = [score(run, pages) for run in runs]
    counts: dict[str, int] = defaultdict(int)
    for page in pages:
        counts[page.degradation] += 1
    header = "| class | pages | " + " | ".join(f"{run.system} CER % | WER %" for run in runs) + " |"
    lines = [header, "|" + "---|" * (2 + 2 * len(runs))]
    for name in [*classes, "all"]:
        cells = " | ".join(f"{s[name].cer:.2f} | {s[name].wer:.2f}" for s in scored)
        lines.append(f"| {name} | {counts[name] if name != 'all' else len(pages)} | {cells} |")
    speed = " | ".join(f"{pages_per_minute(run, len(pages)):.1f} | " for run in runs)
    lines.append(f"| pages/min ({JOBS} processes) | {len(pages)} | {speed}|")
    return "\n".join(lines)


def summary_table(runs: Sequence[Run], pages: Sequence[Page]) -> str:
    """All pages per system, with two measures that do not depend on reading order (the baselines interleave the
    two header columns, which CER and WER count as errors): bag-of-words F1 and syllable accuracy."""
    lines = ["| system | CER % | WER % | word bag F1 (any order) | syllable accuracy % | pages/min |",
             "|---|---|---|---|---|---|"]
    for run in runs:
        total = score(run, pages)["all"]
        words, syllables = metrics.Counts(), metrics.Accuracy()
        for page in pages:
            words += metrics.bag_of_words(page.gold, run.texts.get(page.name, ""))
            syllables += metrics.syllable_accuracy(page.gold, run.texts.get(page.name, ""))
        lines.append(f"| {run.system} | {total.cer:.2f} | {total.wer:.2f} | {words.f1:.4f} | "
                     f"{100 * syllables.rate:.2f} | {pages_per_minute(run, len(pages)):.1f} |")
    return "\n".join(lines)


def covers(runs: Sequence[Run]) -> str:
    """What each column measured, exactly."""
    what = {
        RAW: "`tesseract PAGE stdout -l vie` on each unprocessed PNG, 2 at a time: OCR only",
        OCRMYPDF: f"`{' '.join(ocrmypdf_command(OCRMYPDF_BEST, Path('IN.pdf'), Path('OUT.pdf'), Path('TXT')))}` "
                  f"({ocrmypdf_identity()}) on one PDF of the same pages (lossless, own DPI): its preprocessing and "
                  "OCR, the sidecar text; wall time of the command",
        CONGVAN_OCR: "ingest.load_page → preprocess_page → ocr_page per page, 2 processes: the OCR text, no "
                     "restoration, no extraction, no output files",
        CONGVAN_PIPELINE: f"`congvan process PAGES --out OUT --db DB --jobs {JOBS}` (as `{Path(sys.executable).name} "
                          "-m pipeline`) in a fresh process: ingest → "
                          "preprocess → OCR → restore → extract → archive, JSON and text outputs, model loading "
                          "included; the text scored is OUT/<page>.txt (restored); wall time of the command",
    }
    return "\n".join(f"- {run.system}: {what.get(run.system, 'congvan OCR configuration ' + repr(run.system))}"
                     for run in runs)


def deskew_report(errors: Sequence[float], run: Run, pages: Sequence[Page]) -> str:
    rotated = [page for page in pages if page.rotation]
    right = sum(1 for page in rotated if run.quarters.get(page.name, 0) * 90 % 360 == (360 - page.rotation) % 360)
    lines = []
    if errors:
        lines.append(f"- deskew |error| on {len(errors)} pages skewed up to ±10°: median {statistics.median(errors):.3f}°, "
                     f"mean {statistics.fmean(errors):.3f}°, worst {max(errors):.3f}°")
    if rotated:
        lines.append(f"- orientation (90°/180°/270° pages): {right}/{len(rotated)} turned upright")
    return "\n".join(lines)


def ocrmypdf_variants_section(pages: Sequence[Page], folder: Path, classes: Sequence[str],
                              names: Sequence[str], done: Run | None) -> str:
    """OCRmyPDF configurations of OCRMYPDF_VARIANTS (all, or those named) on the same pages, best first; `done` is
    OCRMYPDF_BEST's run of the main table, reused."""
    runs = []
    for config in OCRMYPDF_VARIANTS:
        if names and config.name not in names:
            continue
        if config == OCRMYPDF_BEST and done is not None:
            runs.append(dataclasses.replace(done, system=config.name))
            continue
        print(f"running OCRmyPDF variant {config.name} …", file=sys.stderr)
        run = run_ocrmypdf(pages, folder, config, label=config.name)
        if run is not None:
            runs.append(run)
    runs.sort(key=lambda run: score(run, pages)["all"].cer)
    return ("## OCRmyPDF configurations (same pages; lowest CER over all pages first)\n\n" + table(runs, pages, classes)
            + f"\n\nOCRMYPDF_BEST is {OCRMYPDF_BEST.name!r}; every variant adds `--force-ocr --sidecar TXT -j {JOBS}`.")


# --------------------------------------------------------------------------- orientation


ORIENTATION_DOCUMENTS = 60
QUICK_ORIENTATION_DOCUMENTS = 6
SPARSE_WORDS = 80  # fewer gold words than this: a sparse page (a short last page, a signature-only page)
# every class except "rotated": the evaluation turns each page itself
ORIENTATION_CLASSES = ("clean300", "skew", "noise", "blur", "jpeg", "dpi150", "dpi75", "fade", "seal_over_text",
                       "hardest")
BEFORE = "page rows (before)"
IMAGE_ONLY = "congvan image only"
CONGVAN = "congvan"


@dataclass(frozen=True)
class OrientationCase:
    """One generated page, turned `turn` quarters counter-clockwise, and what each method did to it."""

    document: int
    page: int
    degradation: str
    words: int
    turn: int
    found: dict[str, int]  # method → quarter turns counter-clockwise it applied
    seconds: dict[str, float]  # method → seconds it took on this page
    checked: bool  # congvan asked Tesseract

    def right(self, method: str) -> bool:
        return (self.found[method] + self.turn) % 4 == 0


def _page_array(page: Any) -> np.ndarray:
    """A generated page as ingest decodes it: gray for grayscale pages, BGR otherwise."""
    if page.params.get("grayscale"):
        return np.asarray(page.image.convert("L"), dtype=np.uint8).copy()
    return np.ascontiguousarray(np.asarray(page.image.convert("RGB"), dtype=np.uint8)[:, :, ::-1])


def _orientation_input(page: PageImage) -> tuple[np.ndarray, float]:
    """The image fix_orientation sees inside preprocess_page: the cleaning steps before it, in its order."""
    image, photo = preprocess.detect_photo(page.image, page.dpi)
    gray, _ = preprocess.suppress_color_ink(image, camera=bool(photo["photo"]))
    gray, params = preprocess.rescale(gray, float(photo["dpi"]))
    dpi = float(params["dpi"])
    gray, _ = preprocess.denoise(gray)
    gray, _ = preprocess.normalize_background(gray, dpi)
    gray, _ = preprocess.remove_borders(gray, dpi)
    gray, _ = preprocess.remove_specks(gray, dpi)
    if photo["photo"]:
        gray, _ = preprocess.straighten_lines(gray, dpi)
    return gray, dpi


# the steps before fix_orientation on a page that is no photo (a photo's add straighten_lines)
CLEANING_BEFORE_ORIENTATION = ("detect_photo", "suppress_color_ink", "rescale", "denoise", "normalize_background",
                               "remove_borders", "remove_specks")


def applied_quarters(prepared: Any) -> int:
    """Quarter turns counter-clockwise between the original page and the prepared image, read from the
    composed pixel mapping (so that every step that turns the page counts)."""
    a, _, _, d, _, _ = prepared.to_original
    return round(math.degrees(math.atan2(d, a)) / 90.0) % 4


def rows_orientation(gray: np.ndarray, dpi: float) -> int:
    """The baseline (congvan's orientation fix before this evaluation existed): lines horizontal or
    vertical by projection sharpness, then upright or upside down by the ink above vs below the x-height
    band of page-wide rows. Quarter turns counter-clockwise it applies."""
    scale = min(1.0, 150.0 / dpi)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    points = preprocess._ink_points(small)
    if points.shape[0] < 200:
        return 0
    span = preprocess.DESKEW_RANGE_DEGREES
    _, horizontal = preprocess._best_angle(points, -span, span, 1.0, 1.0)
    _, vertical = preprocess._best_angle(points[:, ::-1].copy(), -span, span, 1.0, 1.0)
    quarters = 0 if horizontal >= vertical else 1
    upright, _ = preprocess._quarter_turn(small, quarters)
    angle, _ = preprocess.measure_skew(upright, dpi * scale)
    if abs(angle) >= 0.2:
        upright, _ = preprocess.rotate_page(upright, -angle)
    _, ink = cv2.threshold(upright, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    profile = ink.sum(axis=1).astype(np.float64)
    if profile.max(initial=0) == 0:
        return quarters
    in_line = profile > 0.02 * profile.max()
    above = below = 0.0
    row = 0
    while row < len(profile):
        if not in_line[row]:
            row += 1
            continue
        start = row
        while row < len(profile) and in_line[row]:
            row += 1
        line = profile[start:row]
        if len(line) < 4:
            continue
        core = np.nonzero(line >= 0.5 * line.max())[0]
        above += line[:core[0]].sum()
        below += line[core[-1] + 1:].sum()
    return (quarters + (2 if above < below else 0)) % 4


def _orientation_case(image: np.ndarray, dpi: float, turn: int, label: tuple[int, int, str, int]) -> OrientationCase:
    document, number, degradation, words = label
    turned = np.ascontiguousarray(np.rot90(image, turn))
    page = PageImage(source=f"orientation-{document}-{number}-{turn}.png", index=0, image=turned, dpi=dpi)
    found: dict[str, int] = {}
    seconds: dict[str, float] = {}
    gray, gray_dpi = _orientation_input(page)
    started = time.perf_counter()
    found[BEFORE] = rows_orientation(gray, gray_dpi)
    seconds[BEFORE] = time.perf_counter() - started
    started = time.perf_counter()
    orientation = preprocess.fix_orientation(gray, gray_dpi)[1]
    seconds[IMAGE_ONLY] = seconds[CONGVAN] = time.perf_counter() - started
    found[IMAGE_ONLY] = found[CONGVAN] = int(orientation["quarters_ccw"])
    read = None
    if not orientation["sure"]:  # only then does congvan do more than the step above: run it for real
        prepared = preprocess.preprocess_page(page)
        started = time.perf_counter()
        settled, read = ocr.settle_orientation(prepared)
        seconds[CONGVAN] += time.perf_counter() - started
        found[CONGVAN] = applied_quarters(settled)
    return OrientationCase(document, number, degradation, words, turn, found, seconds, read is not None)


def _orientation_document(job: tuple[int, int]) -> list[OrientationCase]:
    """Every page of one generated document (each page its own degradation class), upright and turned."""
    seed, document = job
    generator = generate
    rng = random.Random(f"orientation:{seed}:{document}")
    rendered = generator.render_dispatch(generator.random_dispatch(rng), rng=rng)
    cases = []
    for number, clean in enumerate(rendered):
        degradation = ORIENTATION_CLASSES[(document + number) % len(ORIENTATION_CLASSES)]
        page = generator.degrade(clean, degradation, rng)
        image = _page_array(page)
        label = (document, number, degradation, len(page.text.split()))
        cases += [_orientation_case(image, page.dpi, turn, label) for turn in range(4)]
    return cases


def evaluate_orientation(documents: int, seed: int) -> list[OrientationCase]:
    blank = preprocess.preprocess_page(PageImage(source="blank.png", index=0, image=np.full((64, 64), 255, np.uint8),
                                                 dpi=300.0))
    names = tuple(step.name for step in blank.steps)
    if names[:len(CLEANING_BEFORE_ORIENTATION) + 1] != (*CLEANING_BEFORE_ORIENTATION, "fix_orientation"):
        raise SystemExit(f"bench_scan: preprocess_page's steps changed ({', '.join(names)}): update _orientation_input")
    with ProcessPoolExecutor(JOBS) as pool:
        per_document = list(pool.map(_orientation_document, [(seed, k) for k in range(documents)]))
    return [case for cases in per_document for case in cases]


def orientation_report(cases: Sequence[OrientationCase]) -> str:
    pages = len({(case.document, case.page) for case in cases})
    sparse = len({(case.document, case.page) for case in cases if case.words < SPARSE_WORDS})
    upright = [case for case in cases if case.turn == 0]
    lines = [f"{pages} pages of {len({case.document for case in cases})} documents ({sparse} sparse: "
             f"< {SPARSE_WORDS} words), each upright and turned 90°/180°/270°",
             "",
             "| method | upright pages kept | false turns | sparse false turns | turned 90° | turned 180° | "
             "turned 270° | all correct | ms/page |",
             "|---|---|---|---|---|---|---|---|---|"]
    for method in (BEFORE, IMAGE_ONLY, CONGVAN):
        false_turns = [case for case in upright if not case.right(method)]
        cells = [f"{len(upright) - len(false_turns)}/{len(upright)}", str(len(false_turns)),
                 str(sum(case.words < SPARSE_WORDS for case in false_turns))]
        for turn in (1, 2, 3):
            turned = [case for case in cases if case.turn == turn]
            cells.append(f"{sum(case.right(method) for case in turned)}/{len(turned)}")
        correct = sum(case.right(method) for case in cases)
        cells.append(f"{100.0 * correct / max(1, len(cases)):.2f} %")
        cells.append(f"{1000.0 * statistics.fmean(case.seconds[method] for case in cases):.0f}")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    checked = [case for case in cases if case.checked]
    lines.append("")
    lines.append(f"- congvan asked Tesseract on {len(checked)} of {len(cases)} page images "
                 f"({sum(case.words >= SPARSE_WORDS for case in checked)} of them not sparse)")
    wrong = [case for case in cases if not case.right(CONGVAN)]
    for case in wrong[:20]:
        lines.append(f"- congvan wrong: document {case.document} page {case.page + 1} ({case.degradation}, "
                     f"{case.words} words) turned {90 * case.turn}°: applied {90 * case.found[CONGVAN]}°")
    return "\n".join(lines)


def orientation_section(documents: int, seed: int, json_path: Path | None) -> str:
    started = time.monotonic()
    cases = evaluate_orientation(documents, seed)
    report = (f"## Orientation: {documents} generated documents, seed {seed} "
              f"({time.monotonic() - started:.0f} s)\n\n" + orientation_report(cases))
    if json_path is not None:
        json_path.write_text(json.dumps([dataclasses.asdict(case) for case in cases], ensure_ascii=False),
                             encoding="utf-8")
    return report


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PER_CLASS} page per class, no extra deskew pages")
    parser.add_argument("--per-class", type=int, default=None, help=f"pages per class (default {PER_CLASS})")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--classes", nargs="+", default=None, help="degradation classes (default: all)")
    parser.add_argument("--systems", nargs="+", default=["raw", "ocrmypdf", "ocr", "pipeline"],
                        choices=["raw", "ocrmypdf", "ocr", "pipeline"],
                        help="raw Tesseract, OCRmyPDF, congvan's OCR stages, congvan's whole pipeline")
    parser.add_argument("--ocrmypdf-variants", nargs="*", metavar="NAME", default=None,
                        help="also run the OCRmyPDF configurations of OCRMYPDF_VARIANTS on the same pages (all, or "
                             "those named: " + ", ".join(repr(config.name) for config in OCRMYPDF_VARIANTS) + ")")
    parser.add_argument("--variants", nargs="*", metavar="NAME", default=None,
                        help="also compare congvan OCR configurations (all, or those named: "
                             + ", ".join(repr(config.name) for config in VARIANTS[1:]) + ")")
    parser.add_argument("--deskew-pages", type=int, default=None,
                        help=f"extra skewed pages for the deskew figure (default {DESKEW_EXTRA_PAGES}, quick 0)")
    parser.add_argument("--orientation", action="store_true",
                        help="run only the orientation evaluation (every page of generated documents, upright "
                             "and turned 90°/180°/270°)")
    parser.add_argument("--orientation-documents", type=int, default=None,
                        help=f"documents for the orientation evaluation (default {ORIENTATION_DOCUMENTS}, "
                             f"quick {QUICK_ORIENTATION_DOCUMENTS}, 0: skip it)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--keep", type=Path, help="write the pages here and keep them")
    return parser.parse_args(argv)


def _selected_variants(names: list[str] | None) -> list[Config]:
    if names is None:
        return []
    unknown = set(names) - {config.name for config in VARIANTS[1:]}
    if unknown:
        raise SystemExit(f"bench_scan: unknown variants: {', '.join(sorted(unknown))}")
    return [config for config in VARIANTS[1:] if not names or config.name in names]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    generator = generate
    classes = list(args.classes or generator.DEGRADATIONS)
    per_class = args.per_class or (QUICK_PER_CLASS if args.quick else PER_CLASS)
    extra = args.deskew_pages if args.deskew_pages is not None else (0 if args.quick else DESKEW_EXTRA_PAGES)
    variants = _selected_variants(args.variants)
    orientation_documents = args.orientation_documents if args.orientation_documents is not None else (
        QUICK_ORIENTATION_DOCUMENTS if args.quick else ORIENTATION_DOCUMENTS)
    if args.orientation:
        ocr.check_tesseract(ocr.DEFAULT_LANGUAGES)
        print(orientation_section(orientation_documents, args.seed, args.json))
        return 0
    for languages in {ocr.DEFAULT_LANGUAGES, *(config.languages for config in variants)}:
        ocr.check_tesseract(languages)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="congvan-bench-scan-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        started = time.monotonic()
        pages_dir = folder / "pages"
        pages = write_pages(generator.generate_bench_set(classes, per_class, args.seed), pages_dir, len(classes))
        skewed = write_pages(generator.generate_bench_set(["skew"], extra, args.seed + 1), folder / "deskew", 1) \
            if extra else []
        print(f"{len(pages)} pages ({per_class} per class, seed {args.seed}) + {len(skewed)} deskew pages written "
              f"in {time.monotonic() - started:.0f} s", file=sys.stderr)
        runs: list[Run] = []
        system_runners: dict[str, Callable[[], Run | None]] = {
            "raw": lambda: run_raw_tesseract(pages),
            "ocrmypdf": lambda: run_ocrmypdf(pages, folder),
            "ocr": lambda: run_congvan(pages, DEFAULT_CONFIG, CONGVAN_OCR),
            "pipeline": lambda: run_congvan_pipeline(pages, pages_dir, folder / "process"),
        }
        for system in args.systems:
            print(f"running {system} …", file=sys.stderr)
            result = system_runners[system]()
            if result is not None:
                runs.append(result)
        congvan = next((run for run in runs if run.system == CONGVAN_OCR), None)
        print(f"\n## Scan benchmark: {len(pages)} generated pages, seed {args.seed}\n")
        print(table(runs, pages, classes))
        print(f"\nAll {len(pages)} pages, with measures that ignore reading order:\n")
        print(summary_table(runs, pages))
        print("\nWhat each column covers (every figure measured in this run; nothing comes from a cache):\n")
        print(covers(runs))
        by_name = {run.system: run for run in runs}
        if CONGVAN_PIPELINE in by_name and OCRMYPDF in by_name:
            ratio = by_name[CONGVAN_PIPELINE].seconds and by_name[OCRMYPDF].seconds / by_name[CONGVAN_PIPELINE].seconds
            print(f"- speed: congvan's whole pipeline ÷ OCRmyPDF, pages per minute: {ratio:.2f}×")
        errors = [abs(congvan.angles[p.name] - p.skew) for p in pages if p.degradation == "skew"] if congvan else []
        errors += measure_deskew(skewed) if skewed else []
        if congvan:
            print("\n" + deskew_report(errors, congvan, pages))
        print(f"\n{TARGETS}. Timings: wall clock, shared CPU.")
        variant_runs: list[Run] = []
        if variants:
            variant_runs = [congvan or run_congvan(pages, DEFAULT_CONFIG, CONGVAN_OCR)]
            for config in variants:
                print(f"running variant {config.name} …", file=sys.stderr)
                variant_runs.append(run_congvan(pages, config))
            print("\n## congvan OCR configurations (same pages)\n")
            print(table(variant_runs, pages, classes))
        if args.ocrmypdf_variants is not None:
            print("\n" + ocrmypdf_variants_section(pages, folder, classes, args.ocrmypdf_variants,
                                                   by_name.get(OCRMYPDF)))
        if orientation_documents:
            print("running the orientation evaluation …", file=sys.stderr)
            print("\n" + orientation_section(orientation_documents, args.seed, None))
        if args.json:
            figures = {
                run.system: {name: {"cer": round(s.cer, 3), "wer": round(s.wer, 3)} for name, s in score(run, pages).items()}
                | {"pages_per_minute": round(pages_per_minute(run, len(pages)), 2)}
                for run in [*runs, *variant_runs[1:]]
            }
            figures["deskew"] = {"pages": len(errors), "median": statistics.median(errors) if errors else None,
                                 "worst": max(errors) if errors else None}
            args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
