"""Rendered-and-OCR'd corpus lines for the restorer: the channel's training pairs and the benchmark pages.

Lines are drawn with PIL in Debian fonts (sizes, blur, noise and low resolution varied by a seeded
RNG), a page at a time, OCR'd by Tesseract (one thread) and read back with word boxes and confidences;
every OCR word is assigned to the rendered line its box sits on, so each line pair is known exactly."""

from __future__ import annotations

import csv
import io
import os
import random
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (
    "/usr/share/fonts/truetype/liberation2",
    "/usr/share/fonts/truetype/noto",
    "/usr/share/fonts/truetype/dejavu",
)
FONT_FILES = (
    "LiberationSerif-Regular.ttf",
    "LiberationSerif-Bold.ttf",
    "LiberationSans-Regular.ttf",
    "NotoSerif-Regular.ttf",
    "NotoSans-Regular.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSans.ttf",
)
PAGE_WIDTH = 2000  # pixels at the nominal 240 dpi of a rendering before degradation
MARGIN = 60


@dataclass(frozen=True)
class RenderStyle:
    font: str
    size: int  # pixels
    blur: float  # Gaussian radius in pixels, 0 = none
    scale: float  # downscale factor before OCR (low resolution), 1 = none
    noise: float  # standard deviation of additive Gaussian noise, 0 = none

    def describe(self) -> str:
        name = Path(self.font).stem
        return f"{name} {self.size}px blur={self.blur:.1f} scale={self.scale:.2f} noise={self.noise:.0f}"


@dataclass(frozen=True)
class OcrLine:
    """One rendered line and what Tesseract read on it."""

    intended: str
    observed: str
    confidences: tuple[float, ...]  # one per observed word


def available_fonts() -> list[str]:
    fonts = []
    for name in FONT_FILES:
        for directory in FONT_DIRS:
            path = Path(directory) / name
            if path.exists():
                fonts.append(str(path))
                break
    if not fonts:
        raise SystemExit(
            "no Vietnamese-capable fonts found (apt: fonts-liberation2 fonts-noto-core fonts-dejavu-core)"
        )
    return fonts


def random_style(rng: random.Random, fonts: Sequence[str], degraded: bool) -> RenderStyle:
    """Clean-ish archive scans for English OCR; blurred, noisy, low-resolution ones when `degraded`."""
    font = rng.choice(list(fonts))
    if degraded:
        return RenderStyle(
            font, rng.randint(24, 34), rng.choice([0.0, 0.8, 1.1, 1.4]), rng.choice([0.45, 0.5, 0.6, 0.75]),
            rng.choice([0.0, 15.0, 25.0]),
        )  # fmt: skip
    return RenderStyle(
        font, rng.randint(28, 46), rng.choice([0.0, 0.0, 0.6, 0.9]), rng.choice([1.0, 1.0, 0.8, 0.65]),
        rng.choice([0.0, 0.0, 8.0]),
    )  # fmt: skip


def wrap_lines(lines: Sequence[str], font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Word-wrap text lines to the page width."""
    out: list[str] = []
    for line in lines:
        current = ""
        for word in line.split():
            trial = f"{current} {word}" if current else word
            if current and font.getlength(trial) > width:
                out.append(current)
                current = word
            else:
                current = trial
        if current:
            out.append(current)
    return out


def render_page(
    lines: Sequence[str], style: RenderStyle, rng: random.Random
) -> tuple[Image.Image, list[tuple[int, int]]]:
    """Grayscale page image of already wrapped lines and each line's vertical extent (after scaling)."""
    font = ImageFont.truetype(style.font, style.size)
    pitch = int(style.size * 1.6)
    height = 2 * MARGIN + pitch * len(lines)
    image = Image.new("L", (PAGE_WIDTH, height), 255)
    draw = ImageDraw.Draw(image)
    extents = []
    for index, line in enumerate(lines):
        top = MARGIN + index * pitch
        draw.text((MARGIN, top), line, font=font, fill=0)
        extents.append((top - pitch // 4, top + pitch - pitch // 4))
    if style.blur:
        image = image.filter(ImageFilter.GaussianBlur(style.blur))
    if style.noise:
        pixels = np.asarray(image, dtype=np.float32)
        noisy = pixels + np.random.default_rng(rng.randrange(1 << 30)).normal(0, style.noise, pixels.shape)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if style.scale != 1.0:
        size = (int(image.width * style.scale), int(image.height * style.scale))
        image = image.resize(size, Image.Resampling.BILINEAR)
        extents = [(int(a * style.scale), int(b * style.scale)) for a, b in extents]
    return image, extents


def run_tesseract(image: Image.Image, language: str, timeout: float = 300.0) -> list[dict[str, str]]:
    """Word rows of Tesseract's TSV output (one thread)."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "page.png"
        image.save(path)
        result = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", language, "--psm", "4", "tsv"],
            capture_output=True,
            env=env,
            timeout=timeout,
            check=True,
        )
    reader = csv.DictReader(
        io.StringIO(result.stdout.decode("utf-8", errors="replace")), delimiter="\t", quoting=csv.QUOTE_NONE
    )
    return [row for row in reader if row.get("level") == "5" and (row.get("text") or "").strip()]


def ocr_page(lines: Sequence[str], style: RenderStyle, language: str, rng: random.Random) -> list[OcrLine]:
    """Render wrapped `lines`, OCR them, and give every line what was read on it."""
    image, extents = render_page(lines, style, rng)
    words = run_tesseract(image, language)
    observed: list[list[tuple[int, str, float]]] = [[] for _ in lines]
    for row in words:
        top, height, left = int(row["top"]), int(row["height"]), int(row["left"])
        middle = top + height / 2
        for index, (start, end) in enumerate(extents):
            if start <= middle < end:
                observed[index].append((left, row["text"].strip(), float(row["conf"])))
                break
    result = []
    for intended, found in zip(lines, observed, strict=True):
        found.sort()
        result.append(OcrLine(intended, " ".join(w for _, w, _ in found), tuple(c for _, _, c in found)))
    return result


def ocr_lines(
    lines: Sequence[str], language: str, degraded: bool, seed: int, lines_per_page: int = 36
) -> list[tuple[RenderStyle, list[OcrLine]]]:
    """Wrap, render and OCR many corpus lines, page by page, each page in its own random style."""
    rng = random.Random(seed)
    fonts = available_fonts()
    pages = []
    queue = list(lines)
    while queue:
        style = random_style(rng, fonts, degraded)
        font = ImageFont.truetype(style.font, style.size)
        wrapped: list[str] = []
        while queue and len(wrapped) < lines_per_page:
            wrapped.extend(wrap_lines([queue.pop(0)], font, PAGE_WIDTH - 2 * MARGIN))
        pages.append((style, ocr_page(wrapped, style, language, rng)))
    return pages
