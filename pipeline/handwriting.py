"""Digits written by hand in a small crop (a dispatch's number or day): ink, characters, and the small digit
classifier of models/digits.npz that reads them (built by `make models` from scripts/build_digit_model.py)."""

from __future__ import annotations

import datetime
import itertools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pipeline.errors import MissingDependencyError

DIGITS_FILE = "digits.npz"
# A character is scaled to fit a WORK_SIZE square (aspect kept), thinned to its skeleton and redrawn with one
# stroke width (pens, markers and scans differ most in stroke width), centred by its ink mass and halved.
WORK_SIZE = 40
WORK_CANVAS = 48
CANVAS = 24
NOISE = 10  # the classifier's eleventh class: a stroke, dot, slash or letter that is not a digit
# A character wider than this many times its height holds several digits written touching each other.
TOUCHING_WIDTH = 1.15
# Pieces much lower than the tallest character are dots, commas or the dots of a dotted line.
MIN_HEIGHT_SHARE = 0.45
# A field's crop is enlarged to at least this many pixels' height before its ink is taken: a web image's day is
# 20 pixels high, and Otsu at that size fills the loops of a "2" or an "8".
MIN_FIELD_HEIGHT = 48
# Hands lean right, often steeply (a zero becomes a thin slanted oval, read as a "4"); the field is read upright
# at each of these shears (x shift per pixel of height) too, and each reading votes.
SHEARS = (0.0, 0.2, 0.4)
# A character the classifier reads as no digit, at least MIN_CUT_WIDTH as wide as it is high (or one wider than
# TOUCHING_WIDTH), may be two digits written touching each other (a "20" in one stroke): it is cut in two where
# both halves read best as digits, when both read at least SURE_PIECE surely (the cut within CUT_RANGE of its
# width).
SURE_PIECE = 0.8
MIN_CUT_WIDTH = 0.55
CUT_RANGE = (0.3, 0.7)


def ink_mask(crop: np.ndarray) -> np.ndarray:
    """Binary ink (255) of a gray or colour crop: Otsu on the darkest channel, so that blue or black pen reads
    as ink on white or yellowed paper."""
    gray = crop.min(axis=2) if crop.ndim == 3 else crop
    gray = cv2.GaussianBlur(gray, (3, 3), 0)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if ink.mean() > 127:  # nothing but paper: Otsu split the paper's grain
        ink[:] = 0
    return ink


def field_ink(crop: np.ndarray) -> np.ndarray:
    """The ink of a field's crop, enlarged first to MIN_FIELD_HEIGHT when it is smaller (low-resolution pages)."""
    height = crop.shape[0]
    if 0 < height < MIN_FIELD_HEIGHT:
        factor = MIN_FIELD_HEIGHT / height
        crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return ink_mask(crop)


def upright(ink: np.ndarray, shear: float) -> np.ndarray:
    """`ink` sheared left by `shear` pixels per pixel of height above its bottom row: a hand leaning right by that
    much stands upright (the canvas widened to keep all of it)."""
    if not shear:
        return ink
    height, width = ink.shape
    pad = int(np.ceil(abs(shear) * height)) + 1
    matrix = np.array([[1, shear, pad - shear * height], [0, 1, 0]], np.float32)
    return cv2.warpAffine(ink, matrix, (width + pad, height), flags=cv2.INTER_NEAREST, borderValue=0)


def thin(ink: np.ndarray) -> np.ndarray:
    """Zhang–Suen thinning of a binary image (nonzero = ink): the one-pixel skeleton of its strokes."""
    image = (ink > 0).astype(np.uint8)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            padded = np.pad(image, 1)
            p2, p3, p4 = padded[:-2, 1:-1], padded[:-2, 2:], padded[1:-1, 2:]
            p5, p6, p7 = padded[2:, 2:], padded[2:, 1:-1], padded[2:, :-2]
            p8, p9 = padded[1:-1, :-2], padded[:-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = sum(x.astype(np.int32) for x in ring[:8])
            transitions = sum(((a == 0) & (b == 1)).astype(np.int32) for a, b in itertools.pairwise(ring))
            if step == 0:
                first, second = p2 * p4 * p6 == 0, p4 * p6 * p8 == 0
            else:
                first, second = p2 * p4 * p8 == 0, p2 * p6 * p8 == 0
            remove = (image == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & first & second
            if remove.any():
                image[remove] = 0
                changed = True
    return image


def glyph(ink: np.ndarray) -> np.ndarray:
    """A character's ink as the classifier sees it: cropped to its ink, scaled to fit (aspect kept), thinned and
    redrawn with one stroke width, centred by ink mass on a CANVAS square, values 0..1."""
    ys, xs = np.nonzero(ink)
    canvas = np.zeros((WORK_CANVAS, WORK_CANVAS), np.float32)
    if len(xs) == 0:
        return np.zeros((CANVAS, CANVAS), np.float32)
    cropped = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255
    height, width = cropped.shape
    scale = WORK_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(cropped, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    skeleton = thin(resized > 0.35)
    piece = cv2.dilate(skeleton * 255, np.ones((3, 3), np.uint8)).astype(np.float32) / 255
    mass = piece.sum()
    cy, cx = ((np.indices(piece.shape) * piece).sum(axis=(1, 2)) / mass) if mass else (size[1] / 2, size[0] / 2)
    top = min(max(0, round(WORK_CANVAS / 2 - cy)), WORK_CANVAS - size[1])
    left = min(max(0, round(WORK_CANVAS / 2 - cx)), WORK_CANVAS - size[0])
    canvas[top : top + size[1], left : left + size[0]] = piece
    small: np.ndarray = cv2.resize(canvas, (CANVAS, CANVAS), interpolation=cv2.INTER_AREA)
    return small


ORIENTATIONS = 8  # stroke directions told apart per cell
CELL = 6  # pixels of a cell of the orientation histogram (a 4×4 grid over the canvas)


def stroke_orientations(glyph_image: np.ndarray) -> np.ndarray:
    """Histogram of gradient orientations per cell, weighted by magnitude, normalised over the glyph: where the
    strokes run which way, less sensitive than pixels to exactly where a stroke lies."""
    dx = cv2.Sobel(glyph_image, cv2.CV_32F, 1, 0, ksize=3)
    dy = cv2.Sobel(glyph_image, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(dx, dy)
    bins = ((np.arctan2(dy, dx) % np.pi) / np.pi * ORIENTATIONS).astype(np.int32) % ORIENTATIONS
    cells = CANVAS // CELL
    histogram = np.zeros((cells, cells, ORIENTATIONS), np.float32)
    rows, columns = np.indices(glyph_image.shape)
    np.add.at(histogram, (rows // CELL, columns // CELL, bins), magnitude)
    norm = float(np.linalg.norm(histogram))
    return (histogram / norm if norm else histogram).ravel()


def features(glyph_image: np.ndarray) -> np.ndarray:
    """The classifier's input: the glyph's pixels, its stroke orientations and its aspect ratio (a '1' is thin)."""
    ys, xs = np.nonzero(glyph_image > 0.2)
    aspect = 0.0 if len(xs) == 0 else (xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)
    return np.concatenate([glyph_image.ravel(), stroke_orientations(glyph_image), [min(aspect, 3.0)]]).astype(
        np.float32)


@dataclass(frozen=True)
class DigitModel:
    """A one-hidden-layer perceptron over `features`: eleven classes, digits 0–9 and NOISE."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    mean: np.ndarray
    scale: np.ndarray

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        values = (rows - self.mean) / self.scale
        for k, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            values = values @ weight + bias
            if k < len(self.weights) - 1:
                values = np.maximum(values, 0)
        values -= values.max(axis=1, keepdims=True)
        exp = np.exp(values)
        probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probabilities

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {"mean": self.mean, "scale": self.scale}
        arrays |= {f"w{k}": w for k, w in enumerate(self.weights)} | {f"b{k}": b for k, b in enumerate(self.biases)}
        np.savez_compressed(path, allow_pickle=False, **arrays)


_lock = threading.Lock()
_loaded: dict[Path, DigitModel] = {}


def load_digit_model(folder: Path) -> DigitModel:
    """models/digits.npz (float32 weights), read once per process and folder."""
    path = folder / DIGITS_FILE
    with _lock:
        if path not in _loaded:
            if not path.exists():
                raise MissingDependencyError(f"digit model {path} is missing (make models builds it)")
            with np.load(path) as data:
                layers = sum(1 for name in data.files if name.startswith("w"))
                _loaded[path] = DigitModel(
                    tuple(data[f"w{k}"].astype(np.float32) for k in range(layers)),
                    tuple(data[f"b{k}"].astype(np.float32) for k in range(layers)),
                    data["mean"].astype(np.float32), data["scale"].astype(np.float32))
        return _loaded[path]


# --------------------------------------------------------------------------- a form's guides

# A form's value is written on a dotted (or dashed) leader, and a stamp's value box ends at its frame's side; both
# touch the digits and read as digits ("2352" on dots as "22/111", a frame's side as a "1"). Measured in the height
# of the value's characters: dots are at most LEADER_DOT of it across and stand at most that far apart, a leader
# runs on at least LEADER_RUN; a stroke reaching at least STROKE_REACH beyond the leader's band is a digit's,
# which crosses it. A rule is straight ink RULE_RUN long across; a frame's side is upright ink as high as the box
# (but 4 pixels) at the box's left or right edge.
LEADER_DOT = 0.35
LEADER_RUN = 2.0
LEADER_BAND = 0.1
STROKE_REACH = 0.1
RULE_RUN = 3.0
# A value's characters stand at most VALUE_GAP apart; what lies further right is something else (the body line a
# stamp was put on). Characters are pieces at least VALUE_PIECE high. A printed label ("Số:") begins within
# LABEL_LEFT of the labels' left edge; its letters (pieces at least LABEL_PIECE high: a lower-case letter, its
# diacritic, a colon's dot) stand closer than LABEL_GAP (a word's spacing), the last its colon.
VALUE_GAP = 1.0
VALUE_PIECE = 0.4
LABEL_LEFT = 0.5
LABEL_GAP = 0.3
LABEL_PIECE = 0.1


def _short_runs(mask: np.ndarray, longest: int) -> np.ndarray:
    """The pixels of `mask` in horizontal runs no longer than `longest`."""
    padded = np.pad(mask.astype(np.int8), ((0, 0), (1, 1)))
    steps = np.diff(padded, axis=1)
    starts = np.cumsum(steps == 1, axis=1)[:, :-1]  # which run of its row each pixel is in
    out = np.zeros(mask.shape, bool)
    for y in np.flatnonzero(mask.any(axis=1)):
        begins, ends = np.flatnonzero(steps[y] == 1), np.flatnonzero(steps[y] == -1)
        short = np.flatnonzero(ends - begins <= longest) + 1
        out[y] = mask[y] & np.isin(starts[y], short)
    return out


def _frame_sides(mask: np.ndarray, near: int) -> np.ndarray:
    """The upright rules of `mask` as high as the box (but 4 pixels) within `near` pixels of its left or right
    edge: a frame's side, where the box ends at it. Upright strokes inside the box are a tall digit's."""
    wide = cv2.dilate(mask.astype(np.uint8), np.ones((1, 3), np.uint8))  # a side a pixel off upright
    upright = cv2.morphologyEx(wide, cv2.MORPH_OPEN, np.ones((max(3, mask.shape[0] - 4), 1), np.uint8))
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(upright, connectivity=8)
    x, width = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_WIDTH]
    at_edge = (x <= near) | (x + width >= mask.shape[1] - near)
    at_edge[0] = False
    sides: np.ndarray = at_edge[labels]
    return sides


def clear_guides(ink: np.ndarray, height: int) -> np.ndarray:
    """`ink` (binary, 255 = ink) of a value written `height` pixels high, without the form's guides: the dots of
    a leader (found as a line where closing the gaps between dots makes one LEADER_RUN long), except where a
    digit's stroke goes on above or below them, and the straight rules of a frame."""
    mask = ink > 0
    size = max(8, height)
    dot = max(2, round(LEADER_DOT * size))
    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((1, dot), np.uint8))
    line = cv2.morphologyEx(closed, cv2.MORPH_OPEN, np.ones((1, round(LEADER_RUN * size)), np.uint8))
    _n, parts, shapes, _ = cv2.connectedComponentsWithStats(line, connectivity=8)
    thin_parts = shapes[:, cv2.CC_STAT_HEIGHT] <= dot  # a leader is a thin line; closed digits written close are not
    thin_parts[0] = False
    line = thin_parts[parts].astype(np.uint8)
    band = cv2.dilate(line, np.ones((max(3, round(LEADER_BAND * size)), 1), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    dots = (stats[:, cv2.CC_STAT_WIDTH] <= dot) & (stats[:, cv2.CC_STAT_HEIGHT] <= dot)
    dots[0] = False
    on_line = np.zeros(count, bool)
    on_line[np.unique(labels[band & mask])] = True
    cleared = mask & ~(dots & on_line)[labels]
    cleared &= ~_frame_sides(cleared, dot)
    rule = cv2.morphologyEx(cleared.astype(np.uint8), cv2.MORPH_OPEN,
                            np.ones((1, round(RULE_RUN * size)), np.uint8)) > 0
    # dots touching a digit (the leader's short runs) and rules through one, except where a stroke goes on above or
    # below them (a digit crossing the line)
    band |= cv2.dilate(rule.astype(np.uint8), np.ones((3, 1), np.uint8)) > 0
    guides = _short_runs(band & cleared, dot) | rule
    reach = max(2, round((LEADER_BAND + STROKE_REACH) * size))  # from inside the band to past it
    stroke = cv2.dilate((cleared & ~band).astype(np.uint8), np.ones((2 * reach + 1, 3), np.uint8)) > 0
    cleared &= ~(guides & ~stroke)
    out: np.ndarray = cleared.astype(np.uint8) * 255
    return out


def value_span(ink: np.ndarray, height: int) -> tuple[int, int] | None:
    """Columns (start, end) of the first value written in `ink`, left to right: its characters (pieces at least
    VALUE_PIECE of `height` high) no more than VALUE_GAP of it apart; None when it holds none."""
    _count, _labels, stats, _ = cv2.connectedComponentsWithStats((ink > 0).astype(np.uint8), connectivity=8)
    pieces = sorted((int(x), int(x + w)) for x, _, w, h, _ in stats[1:] if h >= VALUE_PIECE * height)
    if not pieces:
        return None
    start, end = pieces[0]
    for left, right in pieces[1:]:
        if left > end + VALUE_GAP * height:
            break
        end = max(end, right)
    return start, end


def label_end(ink: np.ndarray, height: int) -> int | None:
    """The column just past a printed label ending in a colon ("Số:") at the left edge of `ink` (a label's line,
    `height` high): its pieces from within LABEL_LEFT of the edge, each at most LABEL_GAP from the next, the last a
    colon: two dots (each at most LEADER_DOT across and high) one above the other. None where there is none: no
    ink at the edge, the label's letters running on into what is written after it (no gap then tells them apart),
    or a diacritic ending the run (a letter's strokes broken where the guides were cleared)."""
    _count, _labels, stats, _ = cv2.connectedComponentsWithStats((ink > 0).astype(np.uint8), connectivity=8)
    pieces = sorted((int(x), int(x + w), int(y), int(y + h)) for x, y, w, h, _ in stats[1:] if h >= LABEL_PIECE * height)
    if not pieces or pieces[0][0] > LABEL_LEFT * height:
        return None
    run = [pieces[0]]
    for piece in pieces[1:]:
        if piece[0] > max(p[1] for p in run) + LABEL_GAP * height:
            break
        run.append(piece)
    end = max(p[1] for p in run)
    dot = LEADER_DOT * height
    dots = [p for p in run if p[1] - p[0] <= dot and p[3] - p[2] <= dot]
    colon = any(a[1] == end and min(a[1], b[1]) > max(a[0], b[0]) and (b[2] >= a[3] or a[2] >= b[3])
                for a in dots for b in dots)
    return end if colon else None


# --------------------------------------------------------------------------- a character's topology

# Loops tell digits apart where their strokes' shapes do not: an "8" closes a loop in its upper half (or fills it
# with ink); a "2", hurried or written with a loop at its foot, has at most that low loop, and its top arc is open
# on the left (the classifier reads such a "2" as an "8" where its foot's loop crosses the diagonal). A loop is a
# hole in the ink at least HOLE_AREA of the character's box (not a pinhole where strokes meet); the upper left is
# open when, on OPEN_RUN of the height in consecutive rows between OPEN_ROWS of it from the top, no ink lies in the
# left OPEN_SHARE of the width (not the few rows of an "8"'s waist, its inked top leaning right). A character read as one of TOP_LOOP_DIGITS that has neither a loop in its upper half nor ink at its upper
# left is read as a "2" when the classifier gave that at least RERANK_FLOOR.
HOLE_AREA = 0.01
OPEN_ROWS = (0.2, 0.5)
OPEN_SHARE = 0.5
OPEN_RUN = 0.06
TOP_LOOP_DIGITS = (8,)
OPEN_TOP_DIGIT = 2
RERANK_FLOOR = 0.1


@dataclass(frozen=True)
class Topology:
    """A character's loops (each one's centre height, 0 at the top of its ink to 1 at the bottom) and whether its
    upper left is open."""

    loops: tuple[float, ...]
    open_upper_left: bool

    def rules_out(self, digit: int) -> bool:
        """Whether this shape cannot be `digit`: the loop at the top of an "8" missing, neither closed nor inked."""
        return digit in TOP_LOOP_DIGITS and self.open_upper_left and not any(y < 0.5 for y in self.loops)


def topology(ink: np.ndarray) -> Topology:
    """The loops and the upper left of a character's ink (255 = ink)."""
    mask = (ink > 0).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return Topology((), False)
    mask = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height, width = mask.shape
    count, _labels, stats, centroids = cv2.connectedComponentsWithStats(1 - np.pad(mask, 1), connectivity=4)
    loops = []
    for k in range(1, count):  # the background's parts; the first is the paper around the character
        x, y, w, h, area = stats[k]
        if x > 0 and y > 0 and x + w < width + 2 and y + h < height + 2 and area >= HOLE_AREA * height * width:
            loops.append(round(float((centroids[k][1] - 1) / height), 3))
    top = round(OPEN_ROWS[0] * height)
    rows = mask[top : max(top + 1, round(OPEN_ROWS[1] * height)), : max(1, round(OPEN_SHARE * width))]
    empty = np.concatenate(([0], (~rows.any(axis=1)).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(empty))  # where runs of empty rows begin and end
    longest = int((edges[1::2] - edges[::2]).max()) if len(edges) else 0
    return Topology(tuple(sorted(loops)), longest >= max(1, OPEN_RUN * height))


def rerank(probabilities: np.ndarray, shape: Topology) -> int | None:
    """The digit a character of the classifier's class `probabilities` reads as once its topology is heard: a
    "2" when the shape rules out the classifier's choice and the classifier gave a "2" RERANK_FLOOR; else None (the
    classifier's choice stands)."""
    if not shape.rules_out(int(probabilities.argmax())) or probabilities[OPEN_TOP_DIGIT] < RERANK_FLOOR:
        return None
    return OPEN_TOP_DIGIT


# --------------------------------------------------------------------------- characters of a crop


def characters(ink: np.ndarray, model: DigitModel | None = None) -> list[np.ndarray]:
    """The characters of a field's ink, left to right: connected strokes, pieces of one character joined
    (the bar of a '5', a slashed zero's slash), touching digits cut apart (where both halves read as digits when
    `model` is given, else at the columns with least ink), dots and rules left out."""
    _count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    boxes = [(int(x), int(y), int(w), int(h), k) for k, (x, y, w, h, area) in enumerate(stats) if k and area >= 4]
    if not boxes:
        return []
    tallest = max(h for _, _, _, h, _ in boxes)
    boxes = [b for b in boxes if b[3] >= MIN_HEIGHT_SHARE * tallest or b[2] >= MIN_HEIGHT_SHARE * tallest]
    boxes = [b for b in boxes if not (b[3] < 0.3 * tallest and b[2] > 2 * b[3])]  # underlines, dashes
    groups: list[list[tuple[int, int, int, int, int]]] = []
    for box in sorted(boxes):
        x, _, w, _, _ = box
        if groups:
            gx0 = min(b[0] for b in groups[-1])
            gx1 = max(b[0] + b[2] for b in groups[-1])
            overlap = min(gx1, x + w) - max(gx0, x)
            if overlap > 0.5 * min(w, gx1 - gx0):
                groups[-1].append(box)
                continue
        groups.append([box])
    out: list[np.ndarray] = []
    for group in groups:
        x0 = min(b[0] for b in group)
        y0 = min(b[1] for b in group)
        x1 = max(b[0] + b[2] for b in group)
        y1 = max(b[1] + b[3] for b in group)
        mask = np.isin(labels[y0:y1, x0:x1], [b[4] for b in group]).astype(np.uint8) * 255
        out += (model and _cut_by_reading(mask, model)) or _split_touching(mask)
    return out


def _probabilities(pieces: list[np.ndarray], model: DigitModel) -> np.ndarray:
    return model.probabilities(np.stack([features(glyph(piece)) for piece in pieces]))


def _cut_by_reading(mask: np.ndarray, model: DigitModel) -> list[np.ndarray] | None:
    """A character's pieces: itself where the classifier reads it as a digit and it is no wider than one digit;
    else its two halves at the column where both read most surely as digits, when both read at least SURE_PIECE
    (two digits written in one stroke, which no column free of ink separates); else None, and the caller cuts it
    at the columns with least ink."""
    height, width = mask.shape
    whole = _probabilities([mask], model)[0]
    if int(whole.argmax()) != NOISE and width <= TOUCHING_WIDTH * height:
        return [mask]
    if width < MIN_CUT_WIDTH * height:
        return None
    cuts = [x for x in range(round(CUT_RANGE[0] * width), round(CUT_RANGE[1] * width) + 1)
            if mask[:, :x].any() and mask[:, x:].any()]
    if not cuts:
        return None
    halves = _probabilities([half for x in cuts for half in (mask[:, :x], mask[:, x:])], model).reshape(
        len(cuts), 2, -1)
    sureness = halves[:, :, :NOISE].max(axis=2).min(axis=1)
    sureness[(halves.argmax(axis=2) == NOISE).any(axis=1)] = 0.0
    best = int(sureness.argmax())
    return [mask[:, : cuts[best]], mask[:, cuts[best] :]] if sureness[best] >= SURE_PIECE else None


def _split_touching(mask: np.ndarray) -> list[np.ndarray]:
    """A character too wide for one digit, cut at the columns with the least ink near the expected cuts."""
    height, width = mask.shape
    pieces = round(width / (0.75 * height)) if width > TOUCHING_WIDTH * height else 1
    if pieces <= 1:
        return [mask]
    column_ink = (mask > 0).sum(axis=0)
    cuts = [0]
    for k in range(1, pieces):
        expected = k * width // pieces
        window = max(1, width // (3 * pieces))
        lo, hi = max(cuts[-1] + 1, expected - window), min(width - 1, expected + window)
        cuts.append(lo + int(np.argmin(column_ink[lo:hi])) if hi > lo else expected)
    cuts.append(width)
    return [mask[:, a:b] for a, b in itertools.pairwise(cuts) if b - a > 1 and mask[:, a:b].any()]


@dataclass(frozen=True)
class DigitReading:
    """The classifier's reading of a crop: digits, with "/" where a non-digit stroke separates two groups of them
    (the slashes of a date "04/4/18"), the lowest of the digits' class probabilities, and whether a character's
    topology overruled the classifier's first choice (its digit then the classifier's candidate of that shape)."""

    text: str
    confidence: float
    reranked: bool = False


def read_digits(crop: np.ndarray, model: DigitModel, shear: float = 0.0) -> DigitReading | None:
    """The digits written in `crop` (gray or colour), read after shearing its ink upright by `shear`, or None
    when it holds none, or fewer digits than other characters. Non-digits at either end (a colon of "Số:", the
    slash of the symbol) are left out; non-digits between digits become one "/". A character whose topology rules
    out the classifier's choice is read as the candidate of its shape (`rerank`)."""
    pieces = characters(upright(field_ink(crop), shear), model)
    if not pieces:
        return None
    probabilities = _probabilities(pieces, model)
    shaped = [rerank(row, topology(piece)) for row, piece in zip(probabilities, pieces, strict=True)]
    classes = [int(row.argmax()) if digit is None else digit for row, digit in zip(probabilities, shaped, strict=True)]
    digits = [k for k, c in enumerate(classes) if c != NOISE]
    if len(digits) < len(pieces) - len(digits):
        return None  # mostly no digits: a scribble, a blot, a word
    text = ""
    for k in range(digits[0], digits[-1] + 1):
        if classes[k] != NOISE:
            text += str(classes[k])
        elif not text.endswith("/"):
            text += "/"
    confidence = float(min(probabilities[k, classes[k]] for k in digits))
    return DigitReading(text, confidence, any(digit is not None for digit in shaped))


def read_leaning(crop: np.ndarray, model: DigitModel, shears: tuple[float, ...] = SHEARS) -> list[DigitReading]:
    """The classifier's readings of `crop` at each of `shears` (none where it finds no digits)."""
    return [reading for shear in shears if (reading := read_digits(crop, model, shear)) is not None]


def stamp_date(text: str) -> str | None:
    """ISO date of a date as clerks write it in a receiving stamp ("04/4/18", "4-4-2018"); two-digit years are
    20xx; None when it is no calendar date.

    >>> stamp_date("04/4/18"), stamp_date("31/4/18")
    ('2018-04-04', None)
    """
    match = re.fullmatch(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{2}|\d{4})", text.strip())
    if match is None:
        return None
    day, month, year = (int(group) for group in match.groups())
    try:
        return datetime.date(year + 2000 if year < 100 else year, month, day).isoformat()
    except ValueError:
        return None
