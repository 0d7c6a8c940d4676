"""Build models/digits.npz (make models): the small classifier that reads handwritten digits in a dispatch's
number and date fields (pipeline/handwriting.py). Nothing is downloaded: the training glyphs are generated —
digits drawn as pen strokes in the shapes clerks write, with OpenCV's stroke fonts (the two script faces among them) and the italic faces of the Debian
font packages the Makefile installs, in the shapes Vietnamese clerks write (slashed zero, crossed seven, a one
with a long lead-in stroke), slanted, warped, thinned and thickened — plus the 1,797 handwritten digits that
scikit-learn ships (load_digits, 8×8). Deterministic for a given seed; training needs scikit-learn (dev extra).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.handwriting import DIGITS_FILE, NOISE, DigitModel, features, glyph  # noqa: E402

SEED = 20261207
PER_DIGIT = 1600
NOISE_SAMPLES = 3500
HIDDEN = 128
STROKE_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
                cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
FONT_FOLDER = Path("/usr/share/fonts/truetype")
ITALIC_FONTS = ("dejavu/DejaVuSans-Oblique.ttf", "dejavu/DejaVuSerif-Italic.ttf", "dejavu/DejaVuSansCondensed-Oblique.ttf",
                "liberation/LiberationSans-Italic.ttf", "liberation/LiberationSerif-Italic.ttf",
                "liberation2/LiberationSans-Italic.ttf", "liberation2/LiberationMono-Italic.ttf")
# Characters that may sit beside the digits in a crop and are not digits; letters that look like digits
# (O, l, S, B, Z, g, q …) are left out so as not to teach the classifier that a '0' may be an 'O'.
NOT_DIGITS = "CEFHKMNPRUVWXYacdhkmnpruvwxy/:-.,()"


def _canvas(size: int = 96) -> np.ndarray:
    return np.zeros((size, size), np.uint8)


def stroke_digit(text: str, rng: np.random.Generator) -> np.ndarray:
    """A character drawn with one of OpenCV's stroke fonts, in one of the shapes clerks write."""
    font = int(rng.choice(STROKE_FONTS)) | (cv2.FONT_ITALIC if rng.random() < 0.4 else 0)
    thickness = int(rng.integers(2, 6))
    image = _canvas()
    cv2.putText(image, text, (22, 72), font, 2.0, 255, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(image)
    if len(xs) == 0:
        return image
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    if text == "0" and rng.random() < 0.45:  # slashed zero
        cv2.line(image, (int(x0 - 4), int(y1 + 4)), (int(x1 + 4), int(y0 - 4)), 255, thickness, cv2.LINE_AA)
    elif text == "7" and rng.random() < 0.4:  # crossed seven
        middle = int((y0 + y1) / 2)
        cv2.line(image, (int(x0 + 2), middle), (int(x1 + 6), middle), 255, thickness, cv2.LINE_AA)
    elif text == "1" and rng.random() < 0.5:  # a one with a long lead-in stroke, or a flag and a foot
        image = _canvas()
        top = (56, 20)
        start = (int(rng.integers(24, 44)), int(rng.integers(36, 60)))
        cv2.polylines(image, [np.array([start, top, (52, 76)], np.int32)], False, 255, thickness, cv2.LINE_AA)
        if rng.random() < 0.3:
            cv2.line(image, (38, 76), (66, 76), 255, thickness, cv2.LINE_AA)
    return image


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[tuple[float, float]]:
    """Points of an elliptic arc, angles in degrees (y grows downwards, 0° points right, 90° down)."""
    angles = np.radians(np.linspace(start, end, 24))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def _pen_strokes(digit: int, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A digit as a clerk's pen draws it, in a unit box (x 0..0.6, y 0..1 downwards), in one of its usual
    shapes: strokes of points, before any jitter."""
    variant = rng.random()
    if digit == 0:
        start = rng.uniform(-120, -60)
        strokes = [_arc(0.3, 0.5, 0.27, 0.48, start, start + rng.uniform(330, 380))]
        if variant < 0.45:
            strokes.append([(0.0, 0.95), (0.6, 0.05)])  # slashed zero
        return strokes
    if digit == 1:
        if variant < 0.35:
            return [[(0.3, 0.0), (0.3, 1.0)]]
        lead = (rng.uniform(-0.05, 0.15), rng.uniform(0.2, 0.55))  # a flag or a long lead-in stroke
        strokes = [[lead, (0.34, 0.0), (0.3, 1.0)]]
        if variant > 0.85:
            strokes.append([(0.12, 1.0), (0.5, 1.0)])
        return strokes
    if digit == 2:
        top = _arc(0.3, 0.28, 0.26, 0.26, 200, 380)
        if variant < 0.4:  # a loop at the foot
            return [[*top, (0.05, 0.95), (0.15, 0.85), (0.2, 0.98), (0.6, 1.0)]]
        return [[*top, (0.02, 1.0), (0.6, 1.0)]]
    if digit == 3:
        if variant < 0.3:  # a flat top
            return [[(0.05, 0.0), (0.55, 0.0), (0.25, 0.42), *_arc(0.28, 0.71, 0.28, 0.28, -80, 150)]]
        return [_arc(0.28, 0.25, 0.24, 0.24, -160, 90) + _arc(0.28, 0.73, 0.28, 0.27, -90, 150)]
    if digit == 4:
        if variant < 0.5:
            return [[(0.45, 1.0), (0.45, 0.0), (0.0, 0.65), (0.6, 0.65)]]
        return [[(0.12, 0.0), (0.0, 0.62), (0.6, 0.62)], [(0.45, 0.2), (0.45, 1.0)]]
    if digit == 5:
        return [[(0.58, 0.0), (0.1, 0.02)], [(0.1, 0.02), (0.05, 0.45), *_arc(0.3, 0.7, 0.28, 0.28, -140, 150)]]
    if digit == 6:
        return [[(0.5, 0.0), (0.25, 0.2), (0.06, 0.55), *_arc(0.3, 0.72, 0.25, 0.26, 180, 540)]]
    if digit == 7:
        strokes = [[(0.0, 0.02), (0.6, 0.0), (rng.uniform(0.1, 0.35), 1.0)]]
        if variant < 0.45:
            strokes.append([(0.12, 0.5), (0.58, 0.48)])  # crossed seven
        return strokes
    if digit == 8:
        return [_arc(0.3, 0.25, 0.22, 0.24, 90, 450), _arc(0.3, 0.74, 0.27, 0.26, -90, 270)]
    return [_arc(0.3, 0.28, 0.25, 0.27, 0, 360), [(0.55, 0.28), (0.5 - rng.uniform(0, 0.2), 1.0)]]  # 9


def pen_digit(text: str, rng: np.random.Generator) -> np.ndarray:
    """A digit drawn with pen strokes from `_pen_strokes`, each point nudged: the wobble of a hand."""
    image = _canvas()
    thickness = int(rng.integers(2, 7))
    size = rng.uniform(56, 72)
    for stroke in _pen_strokes(int(text), rng):
        points = np.array(stroke) + rng.normal(0, 0.025, (len(stroke), 2))
        pixels = (points * size + [20, 14]).astype(np.int32)
        cv2.polylines(image, [pixels], False, 255, thickness, cv2.LINE_AA)
    return image


def font_digit(text: str, rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(fonts[int(rng.integers(len(fonts)))]), 64)
    image = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(image).text((20, 4), text, fill=255, font=font)
    return np.array(image)


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Slant, turn, squash, warp, thin or thicken, break: how a hand differs from a font."""
    size = image.shape[0]
    angle = rng.uniform(-12, 12)
    shear = rng.uniform(-0.45, 0.2)
    scale_x = rng.uniform(0.75, 1.2)
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    matrix = matrix @ np.array([[scale_x, shear, 0], [0, 1, 0], [0, 0, 1]])
    image = cv2.warpAffine(image, matrix[:2], (size, size), borderValue=0)
    # a smooth random displacement field: the wobble of a pen
    displacement = rng.normal(0, 1, (2, 6, 6)).astype(np.float32) * rng.uniform(0.5, 3.0)
    dx = cv2.resize(displacement[0], (size, size), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(displacement[1], (size, size), interpolation=cv2.INTER_CUBIC)
    grid_x, grid_y = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    image = cv2.remap(image, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderValue=0)
    kernel = np.ones((3, 3), np.uint8)
    choice = rng.random()
    if choice < 0.25:
        image = cv2.dilate(image, kernel)
    elif choice < 0.4:
        image = cv2.erode(image, kernel)
    image = (image > 110).astype(np.uint8) * 255
    if rng.random() < 0.15:  # a gap in a stroke (faint pen, a bilevel scan)
        ys, xs = np.nonzero(image)
        if len(xs):
            k = int(rng.integers(len(xs)))
            cv2.circle(image, (int(xs[k]), int(ys[k])), int(rng.integers(1, 3)), 0, -1)
    return image


def noise_glyph(rng: np.random.Generator, fonts: list[Path]) -> np.ndarray:
    """Something that is not a digit: a letter or punctuation, a scribble, a blot."""
    kind = rng.random()
    if kind < 0.6:
        char = NOT_DIGITS[int(rng.integers(len(NOT_DIGITS)))]
        return stroke_digit(char, rng) if rng.random() < 0.6 or not fonts else font_digit(char, rng, fonts)
    image = _canvas()
    if kind < 0.85:  # a scribble
        points = rng.integers(15, 80, (int(rng.integers(3, 7)), 2)).astype(np.int32)
        cv2.polylines(image, [points], False, 255, int(rng.integers(2, 5)), cv2.LINE_AA)
    else:  # a blot
        cv2.ellipse(image, (48, 48), (int(rng.integers(8, 30)), int(rng.integers(8, 30))), float(rng.uniform(0, 180)),
                    0, 360, 255, -1)
    return image


def packaged_digits() -> Iterator[tuple[np.ndarray, int]]:
    """scikit-learn's handwritten digits (UCI, 8×8, 16 grey levels), enlarged to strokes."""
    from sklearn.datasets import load_digits

    data = load_digits()
    for image, label in zip(data.images, data.target, strict=True):
        large = cv2.resize((image / 16 * 255).astype(np.uint8), (40, 40), interpolation=cv2.INTER_CUBIC)
        yield (large > 100).astype(np.uint8) * 255, int(label)


def samples(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    fonts = [FONT_FOLDER / name for name in ITALIC_FONTS if (FONT_FOLDER / name).exists()]
    rows: list[np.ndarray] = []
    labels: list[int] = []

    def add(image: np.ndarray, label: int) -> None:
        if image.any():
            rows.append(features(glyph(image)))
            labels.append(label)

    draw: Callable[[str], np.ndarray]
    for digit in range(10):
        for k in range(PER_DIGIT):
            if k % 2 == 0:
                draw = lambda text: pen_digit(text, rng)  # noqa: E731
            elif fonts and k % 4 == 3:
                draw = lambda text: font_digit(text, rng, fonts)  # noqa: E731
            else:
                draw = lambda text: stroke_digit(text, rng)  # noqa: E731
            add(augment(draw(str(digit)), rng), digit)
    for _ in range(NOISE_SAMPLES):
        add(augment(noise_glyph(rng, fonts), rng), NOISE)
    for image, label in packaged_digits():
        for _ in range(2):
            add(augment(cv2.copyMakeBorder(image, 28, 28, 28, 28, cv2.BORDER_CONSTANT, value=0), rng), label)
    return np.stack(rows), np.array(labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    started = time.monotonic()
    rng = np.random.default_rng(args.seed)
    x, y = samples(rng)
    train_x, test_x, train_y, test_y = train_test_split(x, y, test_size=0.1, random_state=args.seed, stratify=y)
    mean = train_x.mean(axis=0)
    scale = train_x.std(axis=0) + 1e-3
    classifier = MLPClassifier(hidden_layer_sizes=(HIDDEN,), alpha=1e-3, batch_size=256, max_iter=40,
                               early_stopping=True, random_state=args.seed)
    classifier.fit((train_x - mean) / scale, train_y)
    model = DigitModel(tuple(w.astype(np.float32) for w in classifier.coefs_),
                       tuple(b.astype(np.float32) for b in classifier.intercepts_),
                       mean.astype(np.float32), scale.astype(np.float32))
    accuracy = float((model.probabilities(test_x).argmax(axis=1) == test_y).mean())
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / DIGITS_FILE)
    print(f"digits: {len(x)} glyphs, held-out accuracy {100 * accuracy:.1f} %, "
          f"{(args.out / DIGITS_FILE).stat().st_size // 1024} KiB, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
