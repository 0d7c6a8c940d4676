"""Real-looking pages for the restorer (build and benchmark time): typeset text, degrade it as archives
degrade paper (scans, bilevel scans, photocopies, print-scan noise, phone photos, low resolution), OCR it
with Tesseract and pair every printed line with what was read on it.

A page is a grayscale image with the quadrilateral of every printed line; each degradation maps the
quadrilaterals along with the pixels (rotation, perspective, resampling), so an OCR word is assigned to
the line its box sits on even on a photographed page. Everything is seeded: a `PageSpec` determines its
page, and its OCR result is cached under build/ keyed by the spec, this module's source, the Tesseract
version and the hash of the traineddata file."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
import random
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype")
# Times New Roman metrics (what Vietnamese offices print with), and a sans for forms and tables.
TRAINING_FAMILIES: dict[str, tuple[str, str]] = {  # regular, bold
    "Liberation Serif": ("liberation2/LiberationSerif-Regular.ttf", "liberation2/LiberationSerif-Bold.ttf"),
    "Tinos": ("croscore/Tinos-Regular.ttf", "croscore/Tinos-Bold.ttf"),
    "Liberation Sans": ("liberation2/LiberationSans-Regular.ttf", "liberation2/LiberationSans-Bold.ttf"),
}
# Never rendered for training: the benchmark's unseen renderer family.
HELD_OUT_FAMILIES: dict[str, tuple[str, str]] = {
    "DejaVu Serif": ("dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf"),
    "Noto Serif": ("noto/NotoSerif-Regular.ttf", "noto/NotoSerif-Bold.ttf"),
}
SOURCE_DPI = 300  # pages are typeset at this resolution, then degraded to their final one
A4_MM = (210.0, 297.0)
MARGINS_MM = (20.0, 20.0, 30.0, 15.0)  # top, bottom, left, right (Decree 30/2020)


@dataclass
class Page:
    """A grayscale page image and, per printed line, its text and quadrilateral (TL, TR, BR, BL)."""

    image: np.ndarray  # uint8, height × width
    dpi: float
    lines: list[str]
    quads: np.ndarray  # float32, lines × 4 × 2, image pixels

    def transformed(self, image: np.ndarray, matrix: np.ndarray, dpi: float | None = None) -> Page:
        """The page after a geometric change `matrix` (3 × 3, old pixels → new pixels)."""
        quads = self.quads
        if len(quads):
            quads = cv2.perspectiveTransform(quads.reshape(-1, 1, 2), matrix).reshape(-1, 4, 2)
        return Page(image, self.dpi if dpi is None else dpi, self.lines, quads.astype(np.float32))


@dataclass(frozen=True)
class PageSpec:
    """Everything that determines one OCR'd page: its text and how it is typeset, degraded and read."""

    lines: tuple[str, ...]  # paragraphs, wrapped to the text width when typeset
    family: str
    bold: bool
    size_pt: float
    spacing: float  # line pitch as a multiple of the font size
    justify: bool
    degradation: str
    language: str  # Tesseract model
    psm: int  # Tesseract page segmentation mode
    seed: int  # the degradation's random parameters


@dataclass(frozen=True)
class OcrLine:
    """One printed line and what Tesseract read on it (words in reading order, with confidences)."""

    intended: str
    observed: str
    confidences: tuple[float, ...]


@dataclass
class OcrPage:
    spec: dict[str, object]
    dpi: float
    params: dict[str, float]  # the degradation's drawn parameters
    lines: list[OcrLine] = field(default_factory=list)


# --------------------------------------------------------------------------- typesetting


@functools.lru_cache(maxsize=64)
def font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / path), size_px)


def font_path(family: str, bold: bool) -> str:
    faces = TRAINING_FAMILIES.get(family) or HELD_OUT_FAMILIES[family]
    return faces[1 if bold else 0]


def wrap(paragraph: str, face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy word wrap of one paragraph to `width` pixels."""
    out: list[str] = []
    current = ""
    for word in paragraph.split():
        trial = f"{current} {word}" if current else word
        if current and face.getlength(trial) > width:
            out.append(current)
            current = word
        else:
            current = trial
    if current:
        out.append(current)
    return out


def typeset(spec: PageSpec) -> Page:
    """The spec's paragraphs on an A4 page at SOURCE_DPI (as many lines as fit), in black ink."""
    dpi = SOURCE_DPI
    mm = dpi / 25.4
    width, height = round(A4_MM[0] * mm), round(A4_MM[1] * mm)
    top, bottom, left, right = (round(v * mm) for v in MARGINS_MM)
    size = round(spec.size_pt / 72 * dpi)
    face = font(font_path(spec.family, spec.bold), size)
    pitch = round(size * spec.spacing)
    text_width = width - left - right
    indent = round(10 * mm)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    lines: list[str] = []
    quads: list[list[tuple[float, float]]] = []
    y = top
    for paragraph in spec.lines:
        wrapped = wrap(paragraph, face, text_width - indent)
        for k, line in enumerate(wrapped):
            if y + pitch > height - bottom:
                break
            x = left + (indent if k == 0 else 0)
            words = line.split()
            natural = face.getlength(line)
            room = text_width - (x - left)
            last = k == len(wrapped) - 1
            if spec.justify and not last and len(words) > 1 and natural > 0.8 * room:
                gap = face.getlength(" ") + (room - natural) / (len(words) - 1)
                cursor = float(x)
                for word in words:
                    draw.text((cursor, y + size), word, font=face, fill=0, anchor="ls")
                    cursor += face.getlength(word) + gap
                end = cursor - gap
            else:
                draw.text((x, y + size), line, font=face, fill=0, anchor="ls")
                end = x + natural
            band_top, band_bottom = y + size - pitch * 0.78, y + size + pitch * 0.22
            quads.append([(x, band_top), (end, band_top), (end, band_bottom), (x, band_bottom)])
            lines.append(line)
            y += pitch
    return Page(
        np.asarray(image, dtype=np.uint8), dpi, lines, np.array(quads, dtype=np.float32).reshape(-1, 4, 2)
    )


# --------------------------------------------------------------------------- degradations

Degradation = Callable[[Page, random.Random], tuple[Page, dict[str, float]]]


def _np(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(63))


def _gray(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).round().astype(np.uint8)


def _rotate(page: Page, degrees: float) -> Page:
    h, w = page.image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    image = cv2.warpAffine(page.image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    return page.transformed(image, np.vstack([matrix, [0, 0, 1]]))


def _resample(page: Page, dpi: float, sx: float | None = None) -> Page:
    """To `dpi` (INTER_AREA down, cubic up); `sx` stretches the width differently (a fax)."""
    scale_y = dpi / page.dpi
    scale_x = scale_y if sx is None else sx / page.dpi
    h, w = page.image.shape
    size = (max(1, round(w * scale_x)), max(1, round(h * scale_y)))
    interpolation = cv2.INTER_AREA if scale_y < 1 else cv2.INTER_CUBIC
    image = cv2.resize(page.image, size, interpolation=interpolation)
    matrix = np.diag([size[0] / w, size[1] / h, 1.0])
    return page.transformed(image, matrix, dpi)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0 else image


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if ok else None
    if decoded is None:
        raise ValueError("JPEG round trip failed")
    return np.asarray(decoded)


def _ink_spread(image: np.ndarray, pixels: int) -> np.ndarray:
    """Strokes thickened (positive) or thinned (negative) by `pixels`, as too much or too little toner."""
    if pixels == 0:
        return image
    kernel = np.ones((abs(pixels) + 1, abs(pixels) + 1), np.uint8)
    return cv2.erode(image, kernel) if pixels > 0 else cv2.dilate(image, kernel)


def _lighting(image: np.ndarray, nrng: np.random.Generator, depth: float) -> np.ndarray:
    """Uneven light of a photo: a gradient across the page and a soft shadow from one edge."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = nrng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / w + np.sin(angle) * yy / h
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    coord = [xx / w, 1 - xx / w, yy / h, 1 - yy / h][int(nrng.integers(4))]
    shadow = 1.0 - nrng.uniform(0.1, 0.35) * np.clip(1 - coord / nrng.uniform(0.08, 0.3), 0, 1)
    return image.astype(np.float32) * (1.0 - depth * ramp) * shadow


def scan(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """A flatbed scan of a printed page: slight skew, optics blur, sensor noise, 150–300 dpi, JPEG."""
    nrng = _np(rng)
    angle = rng.uniform(-1.0, 1.0)
    page = _rotate(page, angle)
    sigma = rng.uniform(0.3, 1.0)
    image = _blur(page.image, sigma).astype(np.float32) + nrng.normal(0, rng.uniform(2, 8), page.image.shape)
    page = Page(_gray(image), page.dpi, page.lines, page.quads)
    dpi = rng.choice([150, 200, 200, 300, 300])
    page = _resample(page, dpi)
    quality = rng.choice([0, 0, 75, 90])
    if quality:
        page.image = _jpeg(page.image, quality)
    return page, {"angle": angle, "blur": sigma, "dpi": dpi, "jpeg": quality}


def bilevel(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """A black-and-white archive scan (TIFF G4 style): 200–300 dpi, thresholded, strokes eaten or
    swollen by the threshold."""
    angle = rng.uniform(-0.8, 0.8)
    page = _rotate(page, angle)
    dpi = rng.choice([150, 200, 200, 300])
    sigma = rng.uniform(0.4, 1.2)
    page.image = _blur(page.image, sigma)
    page = _resample(page, dpi)
    threshold = rng.uniform(95, 185)
    page.image = np.where(page.image < threshold, 0, 255).astype(np.uint8)
    return page, {"angle": angle, "blur": sigma, "dpi": dpi, "threshold": threshold}


def photocopy(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """A copy of a copy: toner too heavy or too light, grey paper, dropouts inside strokes, specks,
    a dark band at an edge, then scanned at 150–300 dpi."""
    nrng = _np(rng)
    spread = rng.choice([-1, 0, 1, 2])
    image = _ink_spread(page.image, spread).astype(np.float32)
    contrast, paper = rng.uniform(0.45, 0.9), rng.uniform(200, 240)
    image = paper - (paper - image) * contrast * (255 / paper)
    ink = image < paper * 0.7
    image[ink & (nrng.random(image.shape) < rng.uniform(0.02, 0.15))] = paper * 0.85
    image[nrng.random(image.shape) < rng.uniform(0.0002, 0.001)] = rng.uniform(30, 100)
    w = image.shape[1]
    band = int(rng.uniform(0.0, 0.04) * w)
    if band:
        image[:, :band] *= np.linspace(0.3, 1.0, band)[None, :]
    image = _blur(_gray(image), rng.uniform(0.3, 0.9))
    page = Page(image, page.dpi, page.lines, page.quads)
    page = _rotate(page, rng.uniform(-1.5, 1.5))
    dpi = rng.choice([150, 200, 300])
    return _resample(page, dpi), {"spread": spread, "contrast": contrast, "paper": paper, "dpi": dpi}


def print_scan(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """Printed on a worn printer and scanned: ink spread, halftone-like grain, noise, 100–300 dpi."""
    nrng = _np(rng)
    spread = rng.choice([-1, 0, 1, 1, 2])
    image = _ink_spread(page.image, spread).astype(np.float32)
    image += nrng.normal(0, rng.uniform(10, 30), image.shape)
    image = _blur(_gray(image), rng.uniform(0.6, 1.4)).astype(np.float32)
    image += nrng.normal(0, rng.uniform(3, 10), image.shape)
    page = _rotate(Page(_gray(image), page.dpi, page.lines, page.quads), rng.uniform(-1.2, 1.2))
    dpi = rng.choice([100, 120, 150, 200, 300])
    page = _resample(page, dpi)
    quality = rng.choice([0, 60, 80])
    if quality:
        page.image = _jpeg(page.image, quality)
    return page, {"spread": spread, "dpi": dpi, "jpeg": quality}


def phone_photo(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """A phone photo of a page on a desk: perspective, uneven light, defocus, hand shake, 80–160 dpi
    on the page, sensor noise and JPEG."""
    nrng = _np(rng)
    h, w = page.image.shape
    jitter = rng.uniform(0.01, 0.06)
    source = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    target = source + (nrng.uniform(-jitter, jitter, (4, 2)) * [w, h]).astype(np.float32)
    margin = jitter * max(w, h)
    target += margin
    size = (int(w + 2 * margin), int(h + 2 * margin))
    matrix = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(page.image, matrix, size, flags=cv2.INTER_LINEAR, borderValue=170)
    page = page.transformed(warped, matrix)
    dpi = rng.choice([80, 90, 100, 110, 120, 140, 160])
    page = _resample(page, dpi)
    depth = rng.uniform(0.1, 0.45)
    page.image = _gray(_lighting(page.image, nrng, depth) * rng.uniform(0.8, 1.0))
    sigma = rng.uniform(0.3, 1.3)
    image = _blur(page.image, sigma)
    shake = rng.choice([0, 0, 2, 3])  # hand shake: a short motion blur
    if shake:
        kernel = np.zeros((shake * 2 + 1, shake * 2 + 1), np.float32)
        kernel[shake, :] = 1.0 / (shake * 2 + 1)
        rotation = cv2.getRotationMatrix2D((shake, shake), rng.uniform(0, 180), 1.0)
        kernel = np.asarray(cv2.warpAffine(kernel, rotation, kernel.shape[::-1]), dtype=np.float32)
        image = cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6))
    image = image.astype(np.float32) + nrng.normal(0, rng.uniform(2, 7), page.image.shape)
    quality = rng.randint(50, 88)
    page.image = _jpeg(_gray(image), quality)
    return page, {
        "jitter": jitter,
        "light": depth,
        "dpi": dpi,
        "blur": sigma,
        "shake": shake,
        "jpeg": quality,
    }


def low_res(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """An old low-resolution scan or a web image of a page: 90–130 dpi, soft, JPEG."""
    page = _rotate(page, rng.uniform(-0.6, 0.6))
    dpi = rng.choice([90, 100, 110, 120, 130])
    page.image = _blur(page.image, rng.uniform(0.3, 1.0))
    page = _resample(page, dpi)
    quality = rng.randint(45, 85)
    page.image = _jpeg(page.image, quality)
    return page, {"dpi": dpi, "jpeg": quality}


def fax(page: Page, rng: random.Random) -> tuple[Page, dict[str, float]]:
    """A received fax, never used in training: 204 × 98 dpi, thresholded, shown stretched back to
    square pixels, with dropped and smeared scan lines."""
    nrng = _np(rng)
    page = _rotate(page, rng.uniform(-1.0, 1.0))
    page.image = _blur(page.image, rng.uniform(0.3, 0.8))
    page = _resample(page, 98, sx=204)
    threshold = rng.uniform(110, 170)
    image = np.where(page.image < threshold, 0, 255).astype(np.uint8)
    rows = nrng.random(image.shape[0]) < rng.uniform(0.005, 0.03)
    image[rows] = 255
    smear = np.flatnonzero(nrng.random(image.shape[0]) < 0.01)
    image[smear[smear > 0]] = image[smear[smear > 0] - 1]
    page.image = image
    page = _resample(page, 204, sx=98)  # rows doubled: the width is at 204 dpi already
    page.image = np.where(page.image < 128, 0, 255).astype(np.uint8)
    return page, {"threshold": threshold}


TRAINING_DEGRADATIONS: dict[str, Degradation] = {
    "scan": scan,
    "bilevel": bilevel,
    "photocopy": photocopy,
    "print_scan": print_scan,
    "phone_photo": phone_photo,
    "low_res": low_res,
}
# what a Vietnamese model is trained on here: what it misreads, photos and low resolution
PHOTO_LIKE = ("phone_photo", "low_res", "print_scan", "photocopy")
HELD_OUT_DEGRADATIONS: dict[str, Degradation] = {"fax": fax}
DEGRADATIONS = {**TRAINING_DEGRADATIONS, **HELD_OUT_DEGRADATIONS}


# --------------------------------------------------------------------------- OCR


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    return subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]


@functools.lru_cache(maxsize=8)
def traineddata_hash(language: str) -> str:
    """sha1 of the traineddata file Tesseract uses for `language`."""
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout
    folder = listing.split('"')[1] if '"' in listing else "/usr/share/tesseract-ocr/5/tessdata/"
    return hashlib.sha1((Path(folder) / f"{language}.traineddata").read_bytes()).hexdigest()


@functools.lru_cache(maxsize=1)
def _source_hash() -> str:
    return hashlib.sha1(Path(__file__).read_bytes()).hexdigest()


def ocr_key(*parts: object) -> str:
    """Cache key of an OCR result: `parts` (what was rendered and how) with this module's source, the
    Tesseract version and the hash of each traineddata file named in `parts`."""
    blob = json.dumps([_source_hash(), tesseract_version(), *parts], ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def run_tesseract(image: np.ndarray, dpi: float, language: str, psm: int) -> list[dict[str, str]]:
    """Word rows of Tesseract's TSV output (one thread)."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.png"
        Image.fromarray(image).save(path, dpi=(round(dpi), round(dpi)))
        result = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", language, "--psm", str(psm), "tsv"],
            capture_output=True,
            env=env,
            timeout=600,
            check=True,
        )
    reader = csv.DictReader(
        io.StringIO(result.stdout.decode("utf-8", errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    return [row for row in reader if row.get("level") == "5" and (row.get("text") or "").strip()]


def assign_words(page: Page, rows: Sequence[dict[str, str]]) -> list[OcrLine]:
    """Every OCR word goes to the line whose quadrilateral holds its centre (else the nearest line
    within half a line pitch); words in a line are ordered along the line's direction."""
    n = len(page.lines)
    if not n:
        return []
    quads = page.quads.astype(np.float64)
    direction = quads[:, 1] - quads[:, 0]
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-9)
    heights = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    found: list[list[tuple[float, str, float]]] = [[] for _ in range(n)]
    for row in rows:
        left, top, width, height = (float(row[k]) for k in ("left", "top", "width", "height"))
        centre = np.array([left + width / 2, top + height / 2])
        inside = np.ones(n, dtype=bool)
        for k in range(4):
            a, b = quads[:, k], quads[:, (k + 1) % 4]
            cross = (b[:, 0] - a[:, 0]) * (centre[1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (centre[0] - a[:, 0])
            inside &= cross >= 0
        if inside.any():
            line = int(np.flatnonzero(inside)[0])
        else:
            # distance from the centre line of each quad (its mid-height segment)
            mid_a, mid_b = (quads[:, 0] + quads[:, 3]) / 2, (quads[:, 1] + quads[:, 2]) / 2
            t = np.clip(np.einsum("ij,ij->i", centre - mid_a, mid_b - mid_a)
                        / np.maximum(np.einsum("ij,ij->i", mid_b - mid_a, mid_b - mid_a), 1e-9), 0, 1)  # fmt: skip
            distance = np.linalg.norm(mid_a + t[:, None] * (mid_b - mid_a) - centre, axis=1)
            line = int(np.argmin(distance))
            if distance[line] > heights[line] / 2:
                continue
        position = float(np.dot(centre - quads[line, 0], direction[line]))
        found[line].append((position, row["text"].strip(), float(row["conf"])))
    result = []
    for text, words in zip(page.lines, found, strict=True):
        words.sort(key=lambda w: w[0])
        result.append(OcrLine(text, " ".join(w for _, w, _ in words), tuple(c for _, _, c in words)))
    return result


def degrade(page: Page, degradation: str, seed: int) -> tuple[Page, dict[str, float]]:
    return DEGRADATIONS[degradation](page, random.Random(seed))


def ocr_spec(spec: PageSpec) -> OcrPage:
    """Typeset, degrade and OCR one page (no cache)."""
    page, params = degrade(typeset(spec), spec.degradation, spec.seed)
    rows = run_tesseract(page.image, page.dpi, spec.language, spec.psm)
    return OcrPage(asdict(spec), page.dpi, params, assign_words(page, rows))


def cached_ocr(spec: PageSpec, cache_dir: Path) -> tuple[OcrPage, bool]:
    """`ocr_spec` through the cache; the flag says whether the result came from the cache."""
    key = ocr_key(asdict(spec), traineddata_hash(spec.language))
    path = cache_dir / key[:2] / f"{key}.json"
    if path.exists():
        return page_from_json(json.loads(path.read_text(encoding="utf-8"))), True
    result = ocr_spec(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(page_to_json(result), ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)
    return result, False


def page_to_json(page: OcrPage) -> dict[str, object]:
    return {
        "spec": page.spec,
        "dpi": page.dpi,
        "params": page.params,
        "lines": [[line.intended, line.observed, list(line.confidences)] for line in page.lines],
    }


def page_from_json(data: dict[str, object]) -> OcrPage:
    lines = [OcrLine(str(a), str(b), tuple(float(c) for c in cs)) for a, b, cs in data["lines"]]  # type: ignore[attr-defined]
    return OcrPage(data["spec"], float(data["dpi"]), data["params"], lines)  # type: ignore[arg-type]
