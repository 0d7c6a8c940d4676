"""A PDF page's own text layer: its words in reading order with their boxes, the e-signature stamps among
them, and whether the layer carries the page's visible text — the evidence a page's source is chosen on."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from pipeline.ocr import SMEAR_INCHES, regions_of_segments, words_to_text
from pipeline.signatures import parse_stamp, stamp_signature
from pipeline.types import Box, LayerWord, OcrWord, PageSource, Signature, SourceEvidence, TextLayer
from pipeline.vietnamese import is_valid

# Words read from a text layer are exact: they get the highest OCR confidence, so that every consumer of
# confidences (restoration, the web page's colouring) treats them as certain.
LAYER_CONFIDENCE = 100.0

# The choice (measured on ../shared/real and the generated pages, README "Born-digital and e-signed PDFs"):
# a layer carries the page when it has some text, drawn visibly, covering most of the page's ink, in
# Vietnamese that spells like Vietnamese. The born-digital pages of ../shared/real cover 0.85-1.00 of their
# ink (the least: a last page with a seal and a handwritten signature); its scans e-signed with a stamp, 0.
MIN_LAYER_CHARS = 20
MIN_VISIBLE_SHARE = 0.5
MIN_INK_COVERED = 0.6
MIN_SYLLABLE_SHARE = 0.6
MIN_UPRIGHT_SHARE = 0.5
# Pixels darker than this on the gray ink rendering are ink (blue and red stamps included).
INK_LEVEL = 160
# A legacy (invisible OCR) layer is preferred to fresh OCR only when the fresh reading is this weak.
WEAK_OCR = 0.6

LINE_TOLERANCE = 0.35  # words whose baselines differ by less than this share of the font size share a line
_LETTERS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class LayerReading:
    """What a page's text layer gives: its words in reading order (stamps left out), its signature stamps,
    where they are, and the source the evidence points to (TEXT_LAYER, LEGACY_RESTORED to be compared with
    fresh OCR, or OCR)."""

    words: tuple[OcrWord, ...]
    stamps: tuple[Signature, ...]
    stamp_boxes: tuple[Box, ...]
    source: PageSource
    evidence: SourceEvidence

    @property
    def text(self) -> str:
        return words_to_text(self.words)


def read_layer(layer: TextLayer, *, prefer_layer: bool = False) -> LayerReading:
    """Arrange a page's text layer and choose the page's source from its evidence. `prefer_layer` (the
    `--text-layer` option) takes any layer with text, without OCR: visible text as it is, invisible (an old
    OCR layer) restored."""
    stamp_texts = _annotation_texts(layer)
    stamps: list[Signature] = []
    stamp_annotations: set[int] = set()
    for annotation, text in stamp_texts.items():
        stamp = parse_stamp(text)
        if stamp is not None:
            stamps.append(stamp_signature(stamp, layer.index))
            stamp_annotations.add(annotation)
    page_words = [word for word in layer.words if word.annotation not in stamp_annotations]
    stamp_boxes = tuple(layer.annotations[number] for number in sorted(stamp_annotations))
    stamp_chars = sum(len(word.text) for word in layer.words if word.annotation in stamp_annotations)
    evidence = measure_layer(layer, page_words, stamp_boxes, stamp_chars)
    source, reason = choose_source(evidence, prefer_layer=prefer_layer)
    evidence = replace(evidence, reason=reason)
    return LayerReading(words=tuple(arrange_words(page_words, layer)), stamps=tuple(stamps), stamp_boxes=stamp_boxes,
                        source=source, evidence=evidence)


# --------------------------------------------------------------------------- evidence and choice


def measure_layer(layer: TextLayer, words: Sequence[LayerWord], stamp_boxes: Sequence[Box],
                  stamp_chars: int) -> SourceEvidence:
    """The numbers the source is chosen on (see SourceEvidence)."""
    chars = sum(len(word.text) for word in words)
    visible = sum(len(word.text) for word in words if word.visible)
    upright = sum(len(word.text) for word in words if word.upright)
    return SourceEvidence(
        layer_chars=chars, visible_share=round(visible / chars, 4) if chars else 0.0, stamp_chars=stamp_chars,
        ink_covered=_ink_covered(layer, [word.box for word in words if word.visible], stamp_boxes),
        image_cover=layer.image_cover, syllable_share=syllable_share(word.text for word in words),
        upright_share=round(upright / chars, 4) if chars else None)


def choose_source(evidence: SourceEvidence, *, prefer_layer: bool = False) -> tuple[PageSource, str]:
    """The page's source and why, in words."""
    if evidence.layer_chars < (1 if prefer_layer else MIN_LAYER_CHARS):
        if evidence.stamp_chars:
            return PageSource.OCR, "the text layer holds only a signature stamp"
        return PageSource.OCR, "no text layer" if not evidence.layer_chars else "the text layer is nearly empty"
    if evidence.visible_share < MIN_VISIBLE_SHARE:
        if prefer_layer:
            return PageSource.LEGACY_RESTORED, "--text-layer: the invisible (old OCR) layer restored, no OCR"
        return PageSource.LEGACY_RESTORED, "an invisible (old OCR) layer: restored and compared with fresh OCR"
    if prefer_layer:
        return PageSource.TEXT_LAYER, "--text-layer: the page's text layer, no OCR"
    if evidence.upright_share is not None and evidence.upright_share < MIN_UPRIGHT_SHARE:
        return PageSource.OCR, "the text layer runs sideways (OCR turns the page upright)"
    if evidence.ink_covered is not None and evidence.ink_covered < MIN_INK_COVERED:
        return PageSource.OCR, "the text layer covers too little of the page's ink"
    if evidence.syllable_share is not None and evidence.syllable_share < MIN_SYLLABLE_SHARE:
        return PageSource.OCR, "the text layer does not spell Vietnamese (a legacy font encoding?)"
    return PageSource.TEXT_LAYER, "the text layer carries the page's visible text"


def syllable_share(words: Iterable[str]) -> float | None:
    """Share of the letter runs of `words` that are Vietnamese syllables, upper-case acronyms (UBND, MTQG)
    aside; None when there are none. Text in a legacy font encoding (`Céng hoµ`) scores low."""
    total = valid = 0
    for word in words:
        for run in _LETTERS.findall(word):
            if len(run) > 1 and run.isupper() and not is_valid(run.lower()):
                continue  # an acronym
            total += 1
            valid += is_valid(run.lower())
    return round(valid / total, 4) if total else None


def _ink_covered(layer: TextLayer, boxes: Sequence[Box], stamp_boxes: Sequence[Box]) -> float | None:
    """Share of the page's ink (stamps aside) lying under the given glyph boxes; None on a blank page."""
    if layer.ink.size == 0:
        return None
    ink = layer.ink < INK_LEVEL
    scale = layer.ink_dpi / layer.dpi
    for box in stamp_boxes:
        ink[_slices(box, scale, ink.shape, 1)] = False
    total = int(ink.sum())
    if total == 0:
        return None
    covered = np.zeros_like(ink)
    for box in boxes:
        covered[_slices(box, scale, ink.shape, 1)] = True
    return round(float((ink & covered).sum()) / total, 4)


def _slices(box: Box, scale: float, shape: tuple[int, ...], margin: int) -> tuple[slice, slice]:
    x, y, w, h = box
    top, left = max(0, math.floor(y * scale) - margin), max(0, math.floor(x * scale) - margin)
    bottom = min(shape[0], math.ceil((y + h) * scale) + margin)
    right = min(shape[1], math.ceil((x + w) * scale) + margin)
    return slice(top, bottom), slice(left, right)


def _annotation_texts(layer: TextLayer) -> dict[int, str]:
    """The text each annotation draws, its lines top to bottom."""
    by_annotation: dict[int, list[LayerWord]] = {}
    for word in layer.words:
        if word.annotation is not None:
            by_annotation.setdefault(word.annotation, []).append(word)
    return {annotation: "\n".join(" ".join(word.text for word in line) for line in _lines(words))
            for annotation, words in by_annotation.items()}


# --------------------------------------------------------------------------- reading order


def arrange_words(words: Sequence[LayerWord], layer: TextLayer) -> list[OcrWord]:
    """The words in reading order, as OCR would give them: the page is cut into the same reading-order
    regions as for OCR (from the word boxes instead of the ink), each region read line by line, left to right."""
    if not words:
        return []
    regions = regions_of_segments(_line_pieces(words, SMEAR_INCHES * layer.dpi), layer.width, layer.height,
                                  layer.dpi)
    by_region: dict[int, list[LayerWord]] = {}
    for word in words:
        cx, cy = word.box[0] + word.box[2] / 2, word.box[1] + word.box[3] / 2
        number = next((n for n, r in enumerate(regions) if r.x0 <= cx < r.x1 and r.y0 <= cy < r.y1),
                      len(regions) - 1)
        by_region.setdefault(number, []).append(word)
    arranged: list[OcrWord] = []
    line_number = 0
    for block, number in enumerate(sorted(by_region)):
        for line in _lines(by_region[number]):
            arranged.extend(OcrWord(text=word.text, confidence=LAYER_CONFIDENCE, box=word.box, block=block,
                                    line=line_number) for word in line)
            line_number += 1
    return arranged


def _line_pieces(words: Sequence[LayerWord], smear: float) -> list[tuple[int, int, int, int]]:
    """What `find_regions` sees in ink: each line's words joined where they are closer than `smear`, over
    the middle of their height (tone marks must not reach the line above)."""
    pieces: list[tuple[int, int, int, int]] = []
    for line in _lines(words):
        current: list[float] | None = None  # x0, y0, x1, y1
        for x, y, w, h in (word.box for word in line):
            top, bottom = y + 0.2 * h, y + 0.8 * h
            if current is not None and x - current[2] < smear:
                current = [current[0], min(current[1], top), max(current[2], x + w), max(current[3], bottom)]
                continue
            if current is not None:
                pieces.append(_piece(current))
            current = [x, top, x + w, bottom]
        if current is not None:
            pieces.append(_piece(current))
    return pieces


def _piece(box: list[float]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (round(value) for value in box)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _lines(words: Sequence[LayerWord]) -> list[list[LayerWord]]:
    """Group words into text lines by their baselines (within a third of the font size: a smaller
    subscript joins its line), lines top to bottom, words left to right. A value filled into a form field
    joins the printed line it sits on ("Số: 565 /TB-UBND")."""
    lines: list[tuple[float, float, list[LayerWord]]] = []  # baseline, font size, words
    for word in sorted(words, key=lambda w: (w.baseline, w.box[0])):
        size = max(word.size, 1.0)
        for number in range(len(lines) - 1, max(-1, len(lines) - 4), -1):
            baseline, line_size, members = lines[number]
            if abs(word.baseline - baseline) <= LINE_TOLERANCE * max(size, line_size):
                members.append(word)
                break
        else:
            lines.append((word.baseline, size, [word]))
    lines.sort(key=lambda line: line[0])
    return [sorted(members, key=lambda w: w.box[0]) for _, _, members in lines]
