"""Robustness of congvan on the real documents (`make bench-real-variants`): each real page of ../shared/real,
as the pipeline renders it, is remade the ways archives really hold such pages — rescanned at 150 and 100 dpi,
fed in rotated ±1.5°, saved as a JPEG of quality 35, photocopied (contrast, toner speckle and a streak),
cropped off-centre inside its blank margins, photographed by a phone (page on a desk, perspective, uneven
light, no resolution in the file) — and each variant runs through the product's page stages (ingest of the
variant file → preprocess → OCR → restore, `pipeline.run.worker.run_page`) and `extract_record`. The fields of
the gold records (tests/real/*.gold.json) are scored per variant family with bench-real's own scoring, against
the `original` family: the same raster pages, undegraded, through the same path.

By default only the first and the last page of a document are remade (`--pages ends`): they hold the header
(issuer, number, date, subject) and the signer block; the pages between come unchanged from bench-real's
congvan run of the document (its cache, or computed once). `--pages all` remakes every page. A page is OCR'd
as an image even when its PDF has an exact text layer: a variant is a raster page, as a rescanned born-digital
document is. A variant that would not change a page (a 96-dpi web image rescaled "to 150 dpi") keeps the
original's reading.

Degradations are deterministic: each draws from a generator seeded by (seed, document, page, family). OCR
results are cached under build/bench_real/cache/variants, keyed by bench-real's page-stage key, this script's
degradation code (with the parameters each family is made with) and the seed. Timings are wall-clock on the
machine the run had (say if it was shared).

Exit status: 0 when measured (or when the real documents are absent), 2 when no document matches `--only`
(bench-real's EXIT_NO_DOCUMENTS).
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import bench_cache  # noqa: E402
import bench_real  # noqa: E402

OUT_DIR = ROOT / "out" / "bench_real_variants"
SEED = 20261207
SCORED = ("code", "date", "signer name", "issuer", "subject")  # bench_real field rows reported here
ORIGINAL = "original"

Degraded = tuple[np.ndarray, float | None]  # pixels, resolution to declare in the file (None: declare none)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image


def original(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    return image, dpi


def rescaled(target: float) -> Callable[[np.ndarray, float | None, np.random.Generator], Degraded]:
    """A rescan at `target` dpi (a page already at or below it is left as it is)."""
    def rescale(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
        height, width = image.shape[:2]
        scale = target / (dpi or bench_real_estimate(width, height))
        if scale >= 1.0:
            return image, dpi
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA), None if dpi is None else dpi * scale
    return rescale


def bench_real_estimate(width: int, height: int) -> float:
    from pipeline.ingest import estimate_dpi

    return estimate_dpi(width, height)


def rotated(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    """Fed into the scanner 1.5° askew, one way or the other."""
    angle = float(rng.choice([-1.5, 1.5]))
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    white = (255,) * (1 if image.ndim == 2 else 3)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=white), dpi


def jpeg(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    """Saved as a JPEG of quality 35 (the encoding is done here, the file is then written losslessly)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 35])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED), dpi


def photocopied(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    """A photocopy: strokes darker and thicker, contrast up, grey toner speckle, one vertical toner streak,
    a little sensor noise."""
    gray = _gray(image).astype(np.float32)
    height, width = gray.shape
    unit = max(1, round((dpi or bench_real_estimate(width, height)) / 150))  # ~0.17 mm
    gray = cv2.erode(gray, np.ones((unit, unit), np.uint8)) if unit > 1 else gray
    gray = np.clip((gray - 35.0) * 1.35, 0, 255)
    speckles = int(width * height * 0.0004 / unit)
    ys, xs = rng.integers(0, height, speckles), rng.integers(0, width, speckles)
    for y, x, r, v in zip(ys, xs, rng.integers(1, unit + 2, speckles), rng.integers(0, 120, speckles), strict=True):
        cv2.circle(gray, (int(x), int(y)), int(r) - 1, float(v), -1)
    x = int(rng.integers(width // 8, width - width // 8))
    streak = np.linspace(0.55, 0.8, height, dtype=np.float32)[:, None] * rng.uniform(0.8, 1.0, (height, 1))
    band = slice(x, min(width, x + 2 * unit))
    gray[:, band] = gray[:, band] * streak
    gray += rng.normal(0.0, 6.0, gray.shape).astype(np.float32)
    return np.clip(gray, 0, 255).astype(np.uint8), dpi


def cropped(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    """Cropped off-centre: each side loses a random share (10–95 %) of its blank margin, so the text sits near
    one edge and the page's proportions change; no ink is cut."""
    ink = _gray(image) < 128
    rows, cols = np.flatnonzero(ink.sum(axis=1) > 2), np.flatnonzero(ink.sum(axis=0) > 2)
    if rows.size == 0 or cols.size == 0:
        return image, dpi
    height, width = ink.shape
    top, bottom = rows[0], height - 1 - rows[-1]
    left, right = cols[0], width - 1 - cols[-1]
    share = rng.uniform(0.1, 0.95, 4)
    y0, y1 = int(top * share[0]), height - int(bottom * share[1])
    x0, x1 = int(left * share[2]), width - int(right * share[3])
    return image[y0:y1, x0:x1].copy(), dpi


def photographed(image: np.ndarray, dpi: float | None, rng: np.random.Generator) -> Degraded:
    """A phone photo: the page on a darker desk, seen in perspective (each corner moved up to 3 % of the page),
    light falling off across the page, a slight blur, colour JPEG of quality 80 with no resolution in it."""
    page = _bgr(image)
    height, width = page.shape[:2]
    pad_y, pad_x = int(0.06 * height), int(0.06 * width)
    desk = np.full((height + 2 * pad_y, width + 2 * pad_x, 3), (78, 92, 104), np.float32)
    desk += rng.normal(0.0, 8.0, desk.shape).astype(np.float32)
    corners = np.float32([[pad_x, pad_y], [pad_x + width, pad_y], [pad_x + width, pad_y + height],
                          [pad_x, pad_y + height]])
    moved = corners + rng.uniform(-0.03, 0.03, (4, 2)).astype(np.float32) * np.float32([width, height])
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [width, 0], [width, height], [0, height]]), moved)
    size = (desk.shape[1], desk.shape[0])
    warped = cv2.warpPerspective(page, matrix, size, flags=cv2.INTER_LINEAR).astype(np.float32)
    mask = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, size, flags=cv2.INTER_LINEAR)[..., None]
    photo = warped * mask + desk * (1 - mask)
    yy, xx = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / size[0] + np.sin(angle) * yy / size[1])
    light = 1.0 - 0.28 * (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    photo = photo * light[..., None] * np.float32([0.97, 1.0, 1.02])  # a warm lamp
    sigma = 0.6 * (dpi or bench_real_estimate(width, height)) / 300
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (0, 0), max(0.3, sigma))
    ok, data = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR), None


FAMILIES: dict[str, Callable[[np.ndarray, float | None, np.random.Generator], Degraded]] = {
    ORIGINAL: original,
    "150 dpi": rescaled(150),
    "100 dpi": rescaled(100),
    "rotated ±1.5°": rotated,
    "JPEG q35": jpeg,
    "photocopy": photocopied,
    "margin crop": cropped,
    "phone photo": photographed,
}


# --------------------------------------------------------------------------- running pages


def _seed(stem: str, index: int, family: str, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}|{stem}|{index}|{family}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _variant_page(source: str, stem: str, index: int, family: str, seed: int) -> Any:
    """One page remade by `family`, written to a PNG (resolution declared when known) and run through the
    page stages as an image input; None when the family leaves the page as it is (pool process)."""
    from PIL import Image

    from pipeline.ingest import load_page

    page = load_page(Path(source), index)
    dpi = None if page.dpi_estimated else page.dpi
    image, new_dpi = FAMILIES[family](page.image, dpi, _seed(stem, index, family, seed))
    if family != ORIGINAL and image.shape == page.image.shape and np.array_equal(image, page.image):
        return None
    with tempfile.TemporaryDirectory(prefix="bench-real-variants-") as work:
        path = Path(work) / "page.png"
        pixels = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        Image.fromarray(pixels).save(path, **({"dpi": (new_dpi, new_dpi)} if new_dpi else {}))
        result = bench_real.run_page(str(path), 0)
    return replace(result, index=index)


def _key(seed: int) -> bench_cache.CacheKey:
    parts = dict(bench_real.page_key().parts)
    parts["variants"] = bench_cache.source_digest(_variant_page, *FAMILIES.values(), rescaled, _gray, _bgr,
                                                  bench_real_estimate) + f" seed {seed}"
    return bench_cache.CacheKey.of(**parts)


@dataclass(frozen=True)
class Job:
    document: bench_real.RealDocument
    index: int
    family: str
    path: Path  # cache file


def run_variants(documents: Sequence[bench_real.RealDocument], families: Sequence[str], all_pages: bool,
                 jobs: int, use_cache: bool, seed: int) -> tuple[dict[str, dict[str, bench_real.Output]], str]:
    """Per family, per document: the record and pages made from the document with its remade pages."""
    from pipeline.extract import extract_record

    base = bench_real.run_pages(documents, jobs, use_cache).by_document
    key = _key(seed)
    folder = bench_real.BUILD_DIR / "cache" / "variants" / key.digest
    folder.mkdir(parents=True, exist_ok=True)
    remade = {d.stem: (range(len(base[d.stem])) if all_pages else sorted({0, len(base[d.stem]) - 1}))
              for d in documents}
    wanted = [Job(d, i, f, folder / f"{d.sha256[:20]}-{i}-{hashlib.sha256(f.encode()).hexdigest()[:8]}.pkl")
              for f in dict.fromkeys([ORIGINAL, *families]) for d in documents for i in remade[d.stem]]
    todo = [job for job in wanted if not (use_cache and job.path.exists())]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [(job, pool.submit(_variant_page, str(job.document.path), job.document.stem, job.index,
                                     job.family, seed)) for job in todo]
        for job, future in futures:
            job.path.write_bytes(pickle.dumps(future.result()))
    print(f"bench-real-variants: {len(todo)} of {len(wanted)} variant pages OCR'd in "
          f"{time.monotonic() - started:.0f} s ({len(wanted) - len(todo)} from cache)", file=sys.stderr)
    readings = {(job.document.stem, job.index, job.family): pickle.loads(job.path.read_bytes()) for job in wanted}
    outputs: dict[str, dict[str, bench_real.Output]] = {}
    for family in dict.fromkeys([ORIGINAL, *families]):
        outputs[family] = {}
        for document in documents:
            pages = list(base[document.stem])
            for index in remade[document.stem]:
                page = readings[(document.stem, index, family)] or readings[(document.stem, index, ORIGINAL)]
                pages[index] = page
            record = extract_record("\f".join(page.text for page in pages), pages)
            outputs[family][document.stem] = bench_real.Output([page.text for page in pages], record.to_dict())
    return outputs, key.describe()


# --------------------------------------------------------------------------- report


def report(documents: Sequence[bench_real.RealDocument], results: dict[str, dict[str, bench_real.DocumentScore]],
           key: str, pages: str) -> str:
    families = list(results)
    lines = [f"## bench-real-variants: {len(documents)} real documents, {pages} pages remade", "",
             "### Documents right per variant family (lost: right in `original`, wrong here)", "",
             "| family | " + " | ".join(SCORED) + " | references with their dates | CER |",
             "|---|" + "---|" * (len(SCORED) + 2)]
    reference = results[ORIGINAL]
    for family in families:
        cells = []
        for name in SCORED:
            right = sum(results[family][d.stem].fields[name] for d in documents)
            lost = sum(reference[d.stem].fields[name] and not results[family][d.stem].fields[name] for d in documents)
            cells.append(f"{right}/{len(documents)}" + (f" (−{lost})" if family != ORIGINAL and lost else ""))
        dated = bench_real.total(list(results[family].values()), lambda s: s.references_dated)
        rate = bench_real.total(list(results[family].values()), lambda s: s.cer).rate
        cells.append(f"R {100 * dated.recall:.0f} % ({dated.tp}/{dated.tp + dated.fn})")
        cells.append(f"{100 * rate:.2f} %")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines += ["", "### Per document (code · date · signer name · issuer · subject; refs with dates)", "",
              "| document | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
    for document in documents:
        cells = []
        for family in families:
            score = results[family][document.stem]
            dated = score.references_dated
            cells.append("".join("✓" if score.fields[n] else "✗" for n in SCORED) + f" {dated.tp}/{dated.tp + dated.fn}")
        lines.append(f"| {document.stem} | " + " | ".join(cells) + " |")
    lines += ["", f"Cache: {key}"]
    return "\n".join(lines)


def differences(documents: Sequence[bench_real.RealDocument],
                results: dict[str, dict[str, bench_real.DocumentScore]]) -> str:
    lines = ["## What differs from the gold (fields of the table; references)", ""]
    for document in documents:
        lines.append(f"### {document.stem}")
        for family, by_document in results.items():
            for name, (gold, predicted) in by_document[document.stem].differences.items():
                if name in (*SCORED, "references"):
                    lines.append(f"- {family} · {name}: gold {gold!r} · got {predicted!r}")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=bench_real.REAL_DIR, help="folder of the real documents")
    parser.add_argument("--families", nargs="+", default=[f for f in FAMILIES if f != ORIGINAL],
                        choices=[f for f in FAMILIES if f != ORIGINAL], metavar="FAMILY",
                        help="variant families (default all): " + ", ".join(repr(f) for f in FAMILIES if f != ORIGINAL))
    parser.add_argument("--only", nargs="*", default=[], help="documents whose stem contains one of these")
    parser.add_argument("--pages", choices=("ends", "all"), default="ends",
                        help="remake the first and last page of each document (default) or every page")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--jobs", type=int, default=bench_real.JOBS)
    parser.add_argument("--no-cache", action="store_true", help="recompute every OCR result")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where the report goes")
    args = parser.parse_args(argv)
    if not args.real.is_dir():
        print(f"bench-real-variants: {args.real} is absent: nothing to measure", file=sys.stderr)
        return 0
    documents = bench_real.load_documents(args.real, args.only)
    if not documents:
        print(f"bench-real-variants: no real document matches {args.only}", file=sys.stderr)
        return bench_real.EXIT_NO_DOCUMENTS
    outputs, key = run_variants(documents, args.families, args.pages == "all", args.jobs, not args.no_cache,
                                args.seed)
    results = {family: {d.stem: bench_real.score(d, by_doc[d.stem]) for d in documents}
               for family, by_doc in outputs.items()}
    text = report(documents, results, key, args.pages)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(text + "\n\n" + differences(documents, results) + "\n", encoding="utf-8")
    print(f"\nreport with every difference from the gold: {args.out / 'report.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
