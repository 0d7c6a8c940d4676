"""Where the lines of a document sit on their pages, from the OCR word boxes: text column, centred lines and
lines that OCR joined across two columns."""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.extract.text import DocumentText, normalize_text
from pipeline.types import Box, PageResult, box_centre

# A page needs this many lines of several words before its text column can be told from its margins.
MIN_COLUMN_LINES = 5
# A centred line (title) leaves both margins at least this share of the column width, and differs from a
# symmetric position by at most CENTRE_TOLERANCE of it: a body paragraph's first line is indented (1 to
# 1.3 cm, 6 to 9 %) but runs to the right margin, and a justified line touches both margins; a summary wrapped
# to nearly the column's width still leaves 3 to 5 % on each side.
MIN_CENTRE_MARGIN = 0.02
CENTRE_TOLERANCE = 0.05
# A gap between two words of one OCR line is a gutter between columns when it is this share of the column
# width and this many times the page's usual word spacing.
GUTTER_SHARE = 0.06
GUTTER_SPACINGS = 4.0

# A body line starts at the left margin or at a paragraph's indent (1 to 1.27 cm of a 16 to 17 cm column, at most
# 8 %): a line starting further in is a title's, a signature's or a note's.
MAX_INDENT_SHARE = 0.12

# A centred line at least this share of the column wide is one that wrapped (a title's short last line is not).
WRAPPED_SHARE = 0.8

# A line starting this far into the column belongs to its right part (Decree 30 sets the signature block in
# the right half, the distribution list at the left margin).
RIGHT_COLUMN_SHARE = 0.4

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class WordPlace:
    """One word of a line: its offsets in the document text and its extent along the reading direction."""

    start: int
    end: int
    left: float
    right: float


@dataclass(frozen=True)
class LineGeometry:
    """A line's extent along the reading direction and the text column of its page (page pixels)."""

    left: float
    right: float
    column_left: float
    column_right: float
    word_spacing: float  # the page's median gap between words of a line
    words: tuple[WordPlace, ...] = ()  # empty when the line's words could not be matched one to one

    @property
    def column_width(self) -> float:
        return max(1.0, self.column_right - self.column_left)

    def is_centred(self) -> bool:
        """Set in the middle of the column (a title line), not indented or flush with a margin."""
        left_gap, right_gap = self.left - self.column_left, self.column_right - self.right
        width = self.column_width
        return min(left_gap, right_gap) >= MIN_CENTRE_MARGIN * width and abs(left_gap - right_gap) <= (
            CENTRE_TOLERANCE * width)

    def is_centred_under(self, title: LineGeometry) -> bool:
        """Centred on the same axis as `title` (the document type's line), clear of both margins: a scan whose
        text column is estimated off-centre (a stamp or notes in the margin) still has its title lines aligned."""
        left_gap, right_gap = self.left - self.column_left, self.column_right - self.right
        width = self.column_width
        offset = (self.left + self.right - title.left - title.right) / 2
        return min(left_gap, right_gap) >= MIN_CENTRE_MARGIN * width and abs(offset) <= CENTRE_TOLERANCE * width

    def starts_past_indent(self) -> bool:
        """Starts further into the column than a body paragraph's indent."""
        return self.left - self.column_left > MAX_INDENT_SHARE * self.column_width

    def fills_column(self) -> bool:
        """Spans most of the column: a title line that wrapped onto the next."""
        return self.right - self.left >= WRAPPED_SHARE * self.column_width

    def starts_right(self) -> bool:
        """Starts in the right part of the column (the signature block of the closing, the motto column)."""
        return self.left >= self.column_left + RIGHT_COLUMN_SHARE * self.column_width

    def gutter_offset(self) -> int | None:
        """Document offset of the first word after the widest gutter of the line (OCR read two columns as
        one line), or None when every gap is ordinary word spacing."""
        best: tuple[float, int] | None = None
        threshold = max(GUTTER_SHARE * self.column_width, GUTTER_SPACINGS * self.word_spacing)
        for before, after in itertools.pairwise(self.words):
            gap = after.left - before.right
            if gap >= threshold and (best is None or gap > best[0]):
                best = (gap, after.start)
        return best[1] if best else None


def _reading_direction(lines: list[list[Box]]) -> tuple[float, float]:
    """Unit vector along the text lines in page pixels (pages scanned sideways or upside down keep their
    original coordinates): the median direction from first to last word over lines of three words or more."""
    angles = []
    for boxes in lines:
        if len(boxes) >= 3:
            (x0, y0), (x1, y1) = box_centre(boxes[0]), box_centre(boxes[-1])
            if abs(x1 - x0) + abs(y1 - y0) > 0:
                angles.append(math.atan2(y1 - y0, x1 - x0))
    if not angles:
        return 1.0, 0.0
    # the median of angles near ±π must not average across the cut: measure them from the first one
    reference = angles[0]
    spread = [math.remainder(a - reference, math.tau) for a in angles]
    angle = reference + statistics.median(spread)
    return math.cos(angle), math.sin(angle)


def _extent(box: Box, direction: tuple[float, float]) -> tuple[float, float]:
    """The box's interval along the reading direction."""
    dx, dy = direction
    cx, cy = box_centre(box)
    along = cx * dx + cy * dy
    half = (abs(box[2] * dx) + abs(box[3] * dy)) / 2
    return along - half, along + half


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _page_geometry(doc: DocumentText, line_indices: list[int], page: PageResult) -> dict[int, LineGeometry]:
    """Geometry of one page's lines, or nothing when its text, raw text and words do not line up."""
    text_lines = normalize_text(page.text).split("\n")
    raw_lines = normalize_text(page.raw_text).split("\n")
    if len(text_lines) != len(line_indices) or len(raw_lines) != len(text_lines) or not page.words:
        return {}
    if any(doc.lines[index].text != line.strip() for index, line in zip(line_indices, text_lines, strict=True)):
        return {}
    boxes: list[list[Box]] = []
    cursor = 0
    for raw in raw_lines:
        count = len(raw.split())
        boxes.append([word.box for word in page.words[cursor : cursor + count]])
        cursor += count
    if cursor != len(page.words):
        return {}
    direction = _reading_direction(boxes)
    extents = [[_extent(box, direction) for box in line_boxes] for line_boxes in boxes]
    full = [(line[0][0], line[-1][1]) for line in extents if len(line) >= 4]
    if len(full) < MIN_COLUMN_LINES:
        return {}
    column_left = _percentile([left for left, _ in full], 0.15)
    column_right = _percentile([right for _, right in full], 0.85)
    gaps = [b[0] - a[1] for line in extents for a, b in itertools.pairwise(line)]
    spacing = statistics.median(gaps) if gaps else 0.0
    out: dict[int, LineGeometry] = {}
    for index, raw, line_extents in zip(line_indices, raw_lines, extents, strict=True):
        if not line_extents:
            continue
        line = doc.lines[index]
        tokens = list(_WORD.finditer(line.text))
        words: tuple[WordPlace, ...] = ()
        if len(tokens) == len(raw.split()):
            words = tuple(WordPlace(line.start + token.start(), line.start + token.end(), left, right)
                          for token, (left, right) in zip(tokens, line_extents, strict=True))
        out[index] = LineGeometry(min(e[0] for e in line_extents), max(e[1] for e in line_extents),
                                  column_left, column_right, max(0.0, spacing), words)
    return out


def line_geometry(doc: DocumentText, pages: Sequence[PageResult]) -> dict[int, LineGeometry]:
    """Geometry of every line whose page carries OCR words that match the document text line for line
    (restoration keeps the lines and one token per OCR word); lines of other pages have none."""
    by_page: dict[int, list[int]] = {}
    for line in doc.lines:
        by_page.setdefault(line.page, []).append(line.index)
    if len(by_page) != len(pages):
        return {}
    out: dict[int, LineGeometry] = {}
    for number, page in enumerate(pages):
        out.update(_page_geometry(doc, by_page.get(number, []), page))
    return out
