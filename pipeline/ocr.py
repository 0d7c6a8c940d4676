"""The one place that runs Tesseract: reading-order regions, recognition, words with boxes on the original page."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import itertools
import math
import os
import re
import signal
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pipeline import handwriting
from pipeline.defaults import PAGE_TIMEOUT_SECONDS, SHAPE_CHOSEN_CONFIDENCE
from pipeline.errors import MissingDependencyError, OcrError, OcrTimeoutError
from pipeline.limits import check_pixels
from pipeline.names import FAMILY_NAMES, read_name
from pipeline.preprocess import suppress_color_ink, turn_prepared
from pipeline.resources import current_resources
from pipeline.types import (
    RECEIVED_DATE,
    RECEIVED_NUMBER,
    Box,
    FieldReading,
    OcrPage,
    OcrWord,
    PageMark,
    PreparedPage,
    PreprocessStep,
    centre_inside,
)

# Chosen by measurement: `scripts/bench_scan.py --variants` runs the alternatives on the same pages.
DEFAULT_LANGUAGES = "vie"
DEFAULT_PSM = 3  # full layout analysis inside each region: never worse than 4 or 6, far better on dusty pages
TESSERACT = "tesseract"
APT_PACKAGE_FOR_LANGUAGE = {"vie": "tesseract-ocr-vie", "Vietnamese": "tesseract-ocr-script-viet",
                            "eng": "tesseract-ocr-eng", "osd": "tesseract-ocr-osd"}

JUNK_CONFIDENCE = 30.0
# Orientation check (settle_orientation): a reading this confident is upright; otherwise the page turned
# by 180° must read this many points better to be kept. Measured on generated sparse pages: upright
# readings 88–96, the same pages upside down 34–48.
CONFIDENT_READING = 75.0
TURN_MARGIN = 15.0

# Layout: words closer than SMEAR_INCHES join into one line segment. A two-column zone opens at a row with
# a white gap of OPEN_GUTTER_INCHES (wider than the word spacing of any justified line), and goes on while
# a gutter of KEEP_GUTTER_INCHES still runs through every row: the dispatch motto often passes within
# a few millimetres of the issuer's name.
SMEAR_INCHES = 0.09
DOT_INCHES = 0.05
OPEN_GUTTER_INCHES = 0.3
KEEP_GUTTER_INCHES = 0.05


# --------------------------------------------------------------------------- Tesseract process


_RUNNING: set[int] = set()  # process groups of the Tesseract runs in progress (see stop_tesseract)


def _tesseract_env(workdir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"  # pages run in parallel processes; threads inside only fight for cores
    if workdir is not None:
        env["TMPDIR"] = str(workdir)  # Tesseract's own temporary files go with the page's
    return env


def run_tesseract(args: list[str], *, timeout: float, source: str | None = None, workdir: Path | None = None) -> str:
    """Run `tesseract ARGS` (one thread), return stdout; kill the whole process group on timeout. Temporary
    files go to `workdir` when given (the driver gives each page its own folder)."""
    try:
        process = subprocess.Popen(
            [TESSERACT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_tesseract_env(workdir),
            start_new_session=True)
    except FileNotFoundError:
        raise MissingDependencyError(
            "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-vie)", source) from None
    _RUNNING.add(process.pid)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise OcrTimeoutError(f"Tesseract took longer than {timeout:g} s on this page and was killed",
                              source) from None
    except BaseException:
        _kill_group(process)
        raise
    finally:
        _RUNNING.discard(process.pid)
    if process.returncode != 0:
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"Tesseract failed (exit {process.returncode}): {message[-1] if message else ''}",
                       source)
    return out.decode("utf-8", "replace")


def stop_tesseract() -> None:
    """Kill the Tesseract runs of this process now (a worker ending abruptly: they are in their own process
    groups and would outlive it)."""
    for group in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


# pytesseract answers the questions about the installation (languages, version); recognition goes through
# run_tesseract, because pytesseract can neither give Tesseract its own process group and environment
# (one OpenMP thread, the page's temporary folder) nor kill that group when a page times out.


@functools.lru_cache(maxsize=8)
def installed_languages() -> frozenset[str]:
    """The language data Tesseract has installed."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = TESSERACT
    try:
        return frozenset(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractNotFoundError, OSError):
        raise MissingDependencyError(
            "tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-vie)") from None


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    """Tesseract's version, e.g. 5.3.0 ("not installed" when it is not)."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = TESSERACT
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError):
        return "not installed"


def check_tesseract(languages: str | None = None) -> None:
    """Raise MissingDependencyError naming the package to install when Tesseract or a language is absent."""
    wanted = [lang for lang in (languages or DEFAULT_LANGUAGES).split("+") if lang]
    missing = [lang for lang in wanted if lang not in installed_languages()]
    if missing:
        packages = " ".join(APT_PACKAGE_FOR_LANGUAGE.get(lang, f"tesseract-ocr-{lang.lower()}") for lang in missing)
        raise MissingDependencyError(
            f"Tesseract language data missing: {', '.join(missing)} (apt-get install {packages})")


# --------------------------------------------------------------------------- layout: reading-order regions


@dataclass(frozen=True)
class Region:
    """A rectangle of the prepared image OCR'd on its own; regions are listed in reading order."""

    x0: int
    y0: int
    x1: int
    y1: int
    column: str  # "full", "left" or "right"


Span = tuple[int, int]  # x0, x1 of ink in a row
Row = tuple[int, int, list[Span]]  # top, bottom, sorted disjoint x-intervals of ink


@dataclass
class _Zone:
    rows: list[Row]
    gutter: Span | None  # white x-interval through every row: a two-column zone


def _line_segments(image: np.ndarray, dpi: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of ink smeared horizontally into line pieces; specks and huge blobs out."""
    _, ink = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    areas = stats[:, cv2.CC_STAT_AREA]
    speck = areas < max(3, (dpi / 300) ** 2 * 4)
    huge = (widths > dpi * 1.2) & (heights > dpi * 1.2)  # pictures, seal rings, page-edge shadows
    drop = speck | huge
    drop[0] = True
    ink = np.where(drop[labels], 0, ink).astype(np.uint8)
    smear = max(3, round(SMEAR_INCHES * dpi))
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (smear, 3)))
    _, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    min_height, dot = max(4, round(dpi * 0.02)), round(dpi * DOT_INCHES)
    # dust and stray dots would fake column gaps
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in stats[1:, :4]
            if h >= min_height and (w > dot or h > dot)]


def _rows(segments: list[tuple[int, int, int, int]]) -> list[Row]:
    """Group segments whose vertical extents overlap (by more than a third of the smaller one) into rows."""
    rows: list[Row] = []
    for x0, y0, x1, y1 in sorted(segments, key=lambda s: (s[1], s[0])):
        if rows:
            top, bottom, spans = rows[-1]
            overlap = min(bottom, y1) - max(top, y0)
            if overlap > min(bottom - top, y1 - y0) / 3:
                rows[-1] = (min(top, y0), max(bottom, y1), [*spans, (x0, x1)])
                continue
        rows.append((y0, y1, [(x0, x1)]))
    return _attach_mark_rows([(top, bottom, _merge_spans(spans)) for top, bottom, spans in rows])


def _attach_mark_rows(rows: list[Row]) -> list[Row]:
    """Rows much thinner than a text line just above another row are its tone marks (they float well above
    capitals): fold them into that row."""
    if len(rows) < 2:
        return rows
    typical = float(np.median([bottom - top for top, bottom, _ in rows]))
    merged: list[Row] = []
    pending: Row | None = None
    for row in rows:
        if pending is not None:
            if row[0] - pending[1] <= typical / 2:
                row = (pending[0], row[1], _merge_spans([*pending[2], *row[2]]))
            else:
                merged.append(pending)
            pending = None
        if row[1] - row[0] < typical / 2:
            pending = row
        else:
            merged.append(row)
    if pending is not None:
        merged.append(pending)
    return merged


def _merge_spans(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _widest_gap(spans: list[Span]) -> Span | None:
    gaps = [(spans[i][1], spans[i + 1][0]) for i in range(len(spans) - 1)]
    return max(gaps, key=lambda gap: gap[1] - gap[0]) if gaps else None


def _narrow_gutter(gutter: Span, spans: list[Span]) -> Span | None:
    """What is left of `gutter` once this row's ink is taken out: the widest free part, or None."""
    free = [gutter]
    for start, end in spans:
        free = [piece for lo, hi in free
                for piece in ((lo, min(hi, start)), (max(lo, end), hi)) if piece[1] > piece[0]]
    return max(free, key=lambda gap: gap[1] - gap[0]) if free else None


def find_regions(image: np.ndarray, dpi: float) -> list[Region]:
    """Split the page into reading-order regions: full-width zones, and two-column zones (the dispatch
    header: issuer | motto, place and date; the closing: "Nơi nhận" | signature) read left column first.

    Rows of line segments are walked top to bottom; a row with a wide white gap opens a two-column zone
    whose gutter is narrowed by each following row and which ends at the first row that crosses it.
    Single-side rows just above the zone (a motto set higher than the issuer) join it."""
    height, width = image.shape[:2]
    return regions_of_segments(_line_segments(image, dpi), width, height, dpi)


def regions_of_segments(segments: list[tuple[int, int, int, int]], width: int, height: int,
                        dpi: float) -> list[Region]:
    """The reading-order regions of `find_regions` from line pieces (x0, y0, x1, y1) known otherwise (the
    word boxes of a PDF's text layer, widened by the word spacing), on a width × height page at `dpi`."""
    rows = _rows(segments)
    if not rows:
        return [Region(0, 0, width, height, "full")]
    open_gutter, keep_gutter = OPEN_GUTTER_INCHES * dpi, KEEP_GUTTER_INCHES * dpi
    zones: list[_Zone] = []
    for row in rows:
        spans = row[2]
        current = zones[-1] if zones else None
        if current is not None and current.gutter is not None:
            narrowed = _narrow_gutter(current.gutter, spans)
            # a row joins when it is one-sided or shows the wide gap itself: a centred title whose word
            # gap happens to fall on the gutter ends the header instead of being cut in two
            if (narrowed is not None and narrowed[1] - narrowed[0] >= keep_gutter
                    and _free_width(narrowed, spans) >= open_gutter):
                current.gutter = narrowed
                current.rows.append(row)
                continue
        if current is not None and current.gutter is not None:
            _release_trailing_rows(zones, row)
            current = zones[-1]
        gap = _widest_gap(spans)
        if gap is not None and gap[1] - gap[0] >= open_gutter and _ink_on_both_sides(spans, gap, open_gutter):
            zone = _Zone(rows=[row], gutter=gap)
            # Pull in preceding single-column rows that keep well clear of the new gutter. Only the page's
            # first row may squeeze it down to the narrow width (the national motto running up to the
            # issuer's name): elsewhere such a row is a justified body line with a wide word gap.
            while current is not None and current.gutter is None and current.rows:
                previous = current.rows[-1]
                narrowed = _narrow_gutter(zone.gutter or gap, previous[2])
                first_row = current is zones[0] and len(current.rows) == 1
                needed = keep_gutter if first_row else open_gutter
                if narrowed is None or narrowed[1] - narrowed[0] < needed:
                    break
                zone.gutter = narrowed
                zone.rows.insert(0, current.rows.pop())
            if current is not None and not current.rows:
                zones.pop()
            zones.append(zone)
        elif current is not None and current.gutter is None:
            current.rows.append(row)
        else:
            zones.append(_Zone(rows=[row], gutter=None))
    return _zones_to_regions(zones, width, height, open_gutter)


def _free_width(gutter: Span, spans: list[Span]) -> float:
    """Width of the white run around `gutter` in this row (infinite when the row has ink on one side)."""
    left = [end for _, end in spans if end <= gutter[0]]
    right = [start for start, _ in spans if start >= gutter[1]]
    return float(min(right) - max(left)) if left and right else float("inf")


def _ink_on_both_sides(spans: list[Span], gap: Span, least: float) -> bool:
    """Each side of the gap carries at least `least` pixels of line (not a speck in the margin)."""
    left = sum(end - start for start, end in spans if end <= gap[0])
    right = sum(end - start for start, end in spans if start >= gap[1])
    return left >= least and right >= least


def _release_trailing_rows(zones: list[_Zone], crossing: Row) -> None:
    """Before a row that crosses the gutter of the two-column zone above it, give that row back the zone's
    last rows that belong with it: rows overlapping it vertically (they cannot be cut apart), and
    one-sided rows nearer to it than to the zone row above them ("Kính gửi:" under the header)."""
    zone = zones[-1]
    assert zone.gutter is not None
    released: list[Row] = []
    while len(zone.rows) > 1:
        row = zone.rows[-1]
        below = released[0] if released else crossing
        one_sided = all(end <= zone.gutter[0] for _, end in row[2]) or all(
            start >= zone.gutter[1] for start, _ in row[2])
        closer_below = below[0] - row[1] < row[0] - zone.rows[-2][1]
        if row[1] > crossing[0] or (one_sided and closer_below):
            released.insert(0, zone.rows.pop())
        else:
            break
    if released:
        zones.append(_Zone(rows=released, gutter=None))


def _is_two_columns(zone: _Zone, open_gutter: float) -> bool:
    """Both sides carry ink in at least two rows: one loose line is not two columns."""
    if zone.gutter is None:
        return False
    lo, hi = zone.gutter
    left_rows = sum(any(end <= lo for _, end in spans) for _, _, spans in zone.rows)
    right_rows = sum(any(start >= hi for start, _ in spans) for _, _, spans in zone.rows)
    wide = any(_free_width(zone.gutter, spans) >= open_gutter for _, _, spans in zone.rows)
    return wide and left_rows >= 2 and right_rows >= 2


def _zones_to_regions(zones: list[_Zone], width: int, height: int, open_gutter: float) -> list[Region]:
    regions: list[Region] = []
    bounds = [(zone.rows[0][0], max(row[1] for row in zone.rows)) for zone in zones]
    for index, zone in enumerate(zones):
        top = 0 if index == 0 else (bounds[index - 1][1] + bounds[index][0]) // 2
        bottom = height if index == len(zones) - 1 else (bounds[index][1] + bounds[index + 1][0]) // 2
        if zone.gutter is not None and _is_two_columns(zone, open_gutter):
            middle = (zone.gutter[0] + zone.gutter[1]) // 2
            regions.append(Region(0, top, middle, bottom, "left"))
            regions.append(Region(middle, top, width, bottom, "right"))
        elif regions and regions[-1].column == "full":  # consecutive single-column zones stay one region
            last = regions.pop()
            regions.append(Region(0, last.y0, width, bottom, "full"))
        else:
            regions.append(Region(0, top, width, bottom, "full"))
    return regions


# --------------------------------------------------------------------------- recognition


def ocr_page(prepared: PreparedPage, *, languages: str | None = None, timeout: float = PAGE_TIMEOUT_SECONDS,
             workdir: Path | None = None, psm: int | None = None, use_layout: bool = True) -> OcrPage:
    """OCR one prepared page: words (NFC) with confidences and boxes in ORIGINAL page pixels, in reading
    order, one block per layout region; `text` joins them so that `text.split()` is exactly the words.
    A page whose preprocessing was not sure which way up it is gets read both ways (settle_orientation);
    `preprocessing` then records that check as a last step. Temporary files go to `workdir` (default:
    the system's temporary folder)."""
    started = time.monotonic()
    page = prepared.page
    languages = languages or DEFAULT_LANGUAGES
    check_tesseract(languages)
    prepared, marks, stamp_readings = read_marks(prepared, languages=languages, timeout=timeout, workdir=workdir)
    prepared, words = settle_orientation(prepared, languages=languages, timeout=timeout, workdir=workdir, psm=psm,
                                         use_layout=use_layout)
    if words is None:
        words = read_words(prepared, languages=languages, timeout=timeout, workdir=workdir, psm=psm,
                           use_layout=use_layout)
    prepared, words = reread_small_print(prepared, words, languages=languages, timeout=timeout, workdir=workdir)
    words, readings = read_header_fields(prepared, words, timeout=timeout, workdir=workdir)
    height, width = page.image.shape[:2]
    return OcrPage(
        source=page.source, index=page.index, width=width, height=height, dpi=page.dpi, words=tuple(words),
        text=words_to_text(words), preprocessing=prepared.steps, legacy_text=page.legacy_text,
        seconds=round(time.monotonic() - started, 3), warnings=prepared.warnings,
        field_readings=(*stamp_readings, *readings), marks=tuple(marks))


def read_words(prepared: PreparedPage, *, languages: str, timeout: float, workdir: Path | None = None,
               psm: int | None = None, use_layout: bool = True) -> list[OcrWord]:
    """The page's words in reading order (none for a blank page)."""
    if "blank page" in prepared.warnings:
        return []
    image = prepared.image
    check_pixels(image.shape[1], image.shape[0], "the page to read", prepared.page.source)  # its crops are within it
    regions = (find_regions(image, prepared.dpi) if use_layout
               else [Region(0, 0, image.shape[1], image.shape[0], "full")])
    return _recognise_regions(prepared, regions, languages, psm or DEFAULT_PSM, timeout, workdir)


# --------------------------------------------------------------------------- orientation check


def settle_orientation(prepared: PreparedPage, *, languages: str | None = None,
                       timeout: float = PAGE_TIMEOUT_SECONDS, workdir: Path | None = None, psm: int | None = None,
                       use_layout: bool = True) -> tuple[PreparedPage, list[OcrWord] | None]:
    """Decide which way up a page is when preprocessing could not (its fix_orientation step says
    "sure": false, typically a sparse last page): read it as prepared and, unless that reading is
    already confident, read it turned by 180° too; keep the reading Tesseract is clearly more confident
    in (text upside down reads at about 40, upright at about 90). Returns the page to use and its words,
    or (prepared, None) when no check was needed. The check is recorded as a "check_orientation" step."""
    step = next((step for step in prepared.steps if step.name == "fix_orientation"), None)
    if step is None or step.params.get("sure", True) or "blank page" in prepared.warnings:
        return prepared, None
    languages = languages or DEFAULT_LANGUAGES
    read = functools.partial(read_words, languages=languages, timeout=timeout, workdir=workdir, psm=psm,
                             use_layout=use_layout)
    words = read(prepared)
    confidence = reading_confidence(words)
    params: dict[str, Any] = {"confidence": round(confidence, 1), "turned": False}
    if confidence < CONFIDENT_READING:
        turned_words = read(turn_prepared(prepared, 2, "check_orientation", params))
        turned_confidence = reading_confidence(turned_words)
        params["turned_confidence"] = round(turned_confidence, 1)
        if turned_confidence >= confidence + TURN_MARGIN:
            params["turned"] = True
            return turn_prepared(prepared, 2, "check_orientation", params), turned_words
    return replace(prepared, steps=(*prepared.steps, PreprocessStep("check_orientation", params))), words


def reading_confidence(words: Sequence[OcrWord]) -> float:
    """Mean word confidence weighted by word length (0 when nothing was read)."""
    characters = sum(len(word.text) for word in words)
    if not characters:
        return 0.0
    return sum(word.confidence * len(word.text) for word in words) / characters


def _recognise_regions(prepared: PreparedPage, regions: list[Region], languages: str, psm: int,
                       timeout: float, workdir: Path | None) -> list[OcrWord]:
    """One Tesseract process for all regions of the page: each region is one "page" of an image list."""
    with tempfile.TemporaryDirectory(prefix="congvan-ocr-", dir=workdir) as folder:
        paths = []
        for number, region in enumerate(regions):
            path = Path(folder) / f"region{number:03d}.pgm"
            cv2.imwrite(str(path), np.ascontiguousarray(prepared.image[region.y0:region.y1, region.x0:region.x1]))
            paths.append(str(path))
        listing = Path(folder) / "regions.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        tsv = run_tesseract(
            [str(listing), "stdout", "-l", languages, "--psm", str(psm), "--dpi", str(round(prepared.dpi)), "tsv"],
            timeout=timeout, source=prepared.page.source, workdir=workdir)
    return _parse_tsv(tsv, regions, prepared)


def _parse_tsv(tsv: str, regions: list[Region], prepared: PreparedPage) -> list[OcrWord]:
    words: list[OcrWord] = []
    line_keys: dict[tuple[int, int, int, int], int] = {}
    reader = csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    affine = np.array(prepared.to_original, dtype=np.float64).reshape(2, 3)
    height, width = prepared.page.image.shape[:2]
    for fields in reader:
        if len(fields) < 12 or fields[0] != "5":
            continue
        text = unicodedata.normalize("NFC", fields[11]).strip()
        confidence = float(fields[10])
        if not text or confidence < 0:
            continue
        page_number, block, paragraph, line = (int(value) for value in fields[1:5])
        region = regions[page_number - 1]
        left, top, box_width, box_height = (int(value) for value in fields[6:10])
        box = _to_original_box(region.x0 + left, region.y0 + top, box_width, box_height, affine, width, height)
        line_index = line_keys.setdefault((page_number, block, paragraph, line), len(line_keys))
        if is_junk(text, confidence):
            continue
        for piece in text.split():  # Tesseract words never contain spaces, but NFC text might gain none
            words.append(OcrWord(text=fold_double_marks(piece), confidence=round(confidence, 2), box=box,
                                 block=page_number - 1, line=line_index))
    return words


def fold_double_marks(word: str) -> str:
    """One vowel for the two Tesseract sometimes writes when it hesitates between two marks on it ("QUÁẢNG"):
    two letters in a row with the same base vowel and each a mark never occur in Vietnamese. The one that makes
    a valid syllable is kept, the second when both do.

    >>> fold_double_marks("QUÁẢNG"), fold_double_marks("xoong"), fold_double_marks("Ngãi")
    ('QUẢNG', 'xoong', 'Ngãi')
    """
    from pipeline.vietnamese import is_valid

    for k in range(len(word) - 1):
        first, second = word[k], word[k + 1]
        base_first, base_second = (unicodedata.normalize("NFD", ch)[0].lower() for ch in (first, second))
        if base_first != base_second or base_first not in "aeiouy":
            continue
        if first.lower() == base_first or second.lower() == base_second:
            continue  # a bare vowel beside a marked one ("oó"): not this artefact
        keep_second, keep_first = word[:k] + word[k + 1 :], word[: k + 1] + word[k + 2 :]
        if is_valid(keep_second.lower()) or not is_valid(keep_first.lower()):
            return fold_double_marks(keep_second)
        return fold_double_marks(keep_first)
    return word


def is_junk(text: str, confidence: float) -> bool:
    """Tesseract's reading of a stroke, speck or seal fragment: low confidence and hardly any letters.
    (Measured on the generated pages: below 30, such tokens outnumber real words ten to one.)"""
    if confidence >= JUNK_CONFIDENCE:
        return False
    letters = sum(character.isalnum() for character in text)
    return letters < 2 or letters < len(text) / 2


def _to_original_box(x: int, y: int, w: int, h: int, affine: np.ndarray, width: int, height: int) -> Box:
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], dtype=np.float64)
    mapped = corners @ affine.T
    x0 = int(np.clip(np.floor(mapped[:, 0].min()), 0, width))
    y0 = int(np.clip(np.floor(mapped[:, 1].min()), 0, height))
    x1 = int(np.clip(np.ceil(mapped[:, 0].max()), 0, width))
    y1 = int(np.clip(np.ceil(mapped[:, 1].max()), 0, height))
    return (x0, y0, x1 - x0, y1 - y0)


def words_to_text(words: list[OcrWord] | tuple[OcrWord, ...]) -> str:
    """Spaces within a line, newlines between lines, a blank line between blocks."""
    parts: list[str] = []
    previous: OcrWord | None = None
    for word in words:
        if previous is not None:
            if word.block != previous.block:
                parts.append("\n\n")
            elif word.line != previous.line:
                parts.append("\n")
            else:
                parts.append(" ")
        parts.append(word.text)
        previous = word
    return "".join(parts)


# --------------------------------------------------------------------------- header fields written by hand

# The number and the date of a dispatch sit in the top part of its first page (Decree 30/2020, Phụ lục I).
FIELD_REGION_SHARE = 0.45
# Letters OCR reads for printed digits (small print, typewriters); a field read as plausible digits with these at
# most is the printed value, not read again.
PRINTED_LOOKALIKES = str.maketrans({"I": "1", "l": "1", "|": "1", "O": "0", "o": "0"})
# ... and OCR's words there must cover the field's ink: no more than this share of its inked columns beyond them
# (with a slack of this share of the line height on each side).
UNREAD_INK_SHARE = 0.25
PRINTED_SLACK = 0.15
# ... and a one-digit day or month must explain all of its field's ink (`_reads_part_of`).
# The winning reading must hold this share of the recognisers' votes, and be backed by two recognisers unless the
# classifier alone reads it at most of its shears, this surely on average; else the field is unreadable. A
# classifier's reading in which a character's topology overruled its first choice (an "8" with no loop at its top
# and its upper left open: a looped "2", handwriting.rerank) is still the classifier's: the shape only chooses
# among its candidates. Where a reading is backed only thanks to such readings (the shape alone made it win), its
# confidence is at most SHAPE_CHOSEN_CONFIDENCE (defaults), between this and REVIEW_BELOW: it is kept, for review.
MIN_FIELD_CONFIDENCE = 0.34
DATE_PARTS = ("day", "month")  # the fields whose ink a one-digit reading must explain all of
CONFIDENT_CLASSIFIER = 0.9
# Votes: the classifier of handwritten digits, the page's own OCR of the gap (its look-alikes mapped), and
# Tesseract restricted to digits over each binarization × height × page-segmentation mode (8 readings). Both
# recognisers read the field as written and stood upright (each of handwriting.SHEARS), their votes shared out.
CLASSIFIER_VOTE, OCR_VOTE, TESSERACT_VOTE = 1.5, 1.0, 0.25
DIGIT_HEIGHTS = (32, 56)  # pixel heights the crop is scaled to for Tesseract
DIGIT_PSMS = (7, 8)  # one line, one word
LARGEST_NUMBER = 99999
# What OCR makes of handwritten digits: the slashed zero read as Ø, a crossed seven as T, …
DIGIT_LOOKALIKES = str.maketrans({"Ø": "0", "ø": "0", "O": "0", "o": "0", "Q": "0", "D": "0", "l": "1", "I": "1",
                                  "|": "1", "i": "1", "!": "1", "Z": "2", "z": "2", "S": "5", "s": "5", "B": "8",
                                  "g": "9", "q": "9", "G": "6", "b": "6", "T": "7"})
# On a header line's folded text (lower case, no diacritics, one character for one): the number between "Số:"
# and the symbol's slash; the day between "ngày" and "tháng", the month between "tháng" and "năm".
# "Số" as OCR reads it at small sizes ("Sä", "S0"); the symbol starts at a slash or, in Party codes, a hyphen
# ("45-KH/HU"); a symbol whose slash OCR lost ("II0QĐ-STP") starts at the letters of its first part.
_NUMBER_FIELD = re.compile(
    r"(?:^|\s)s[oa0]\s*[:;.]?(?P<number>[^/|:-]{0,14}?)\s*(?:[/|-]\s*(?=[a-z])|(?<=[0-9ilo|])\s*(?=[a-z]{2,4}\s*-))")
_DATE_FIELD = re.compile(r"ng[ao][yu](?P<day>[^,;]{0,12}?)th[a-z]{1,2}ng(?P<month>[^,;]{0,10}?)n[a-z]m\s*[.,]?\s*(?:19|20)\d\d")


MAX_GAP_WORDS = 2  # what OCR makes of a handwritten number is a word or two ("đê", "4€`"), not a phrase


def _is_number_label(text: str) -> bool:
    """"Số", as written or misread, but not "Sở" (a department: "Sở Lao động - TB&XH"), which folds the same."""
    return not any(ch in "ởỞờỜớỚợỢỡỠ" for ch in text)


def _fold_char(character: str) -> str:
    base = unicodedata.normalize("NFD", character)[0].lower()
    return "d" if base in "đð" else base


@dataclass(frozen=True)
class _LineText:
    """A line's words joined by spaces, folded one character for one, with each word's offsets."""

    indices: list[int]  # word indices in the page's word list
    starts: list[int]
    text: str
    folded: str

    @classmethod
    def of(cls, words: Sequence[OcrWord], indices: list[int]) -> _LineText:
        starts, parts, position = [], [], 0
        for index in indices:
            starts.append(position)
            parts.append(words[index].text)
            position += len(words[index].text) + 1
        text = " ".join(parts)
        return cls(indices, starts, text, "".join(_fold_char(ch) for ch in text))

    def word_at(self, offset: int) -> int:
        """Position in `indices` of the word holding `offset` (or the one after the space at it)."""
        k = 0
        while k + 1 < len(self.starts) and self.starts[k + 1] <= offset:
            k += 1
        return k


@dataclass(frozen=True)
class _FieldSpot:
    name: str
    start: int  # character offsets of the field in the line's text
    end: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 on the original page
    ocr_text: str
    ocr_confidence: float
    month: int | None = None  # for a day: the month and year printed on the line, to check it
    year: int | None = None
    read_span: tuple[float, float] | None = None  # page x-extent of what OCR read there


def _x_at(words: Sequence[OcrWord], line: _LineText, offset: int, *, left: bool) -> float:
    """Page x of a character offset of the line (words' boxes shared out by character count)."""
    k = line.word_at(offset)
    word = words[line.indices[k]]
    x, _, width, _ = word.box
    inside = offset - line.starts[k]
    length = max(1, len(word.text))
    if inside >= length:  # on the space after the word
        if not left and k + 1 < len(line.indices):
            return float(words[line.indices[k + 1]].box[0])
        return float(x + width)
    return x + width * inside / length


def _at_word_edge(line: _LineText, offset: int) -> bool:
    """Whether a character offset of the line falls between words (not inside one)."""
    return offset >= len(line.text) or offset == 0 or line.text[offset] == " " or line.text[offset - 1] == " "


def _spot(words: Sequence[OcrWord], line: _LineText, name: str, start: int, end: int) -> _FieldSpot | None:
    x0 = _x_at(words, line, start, left=True)
    x1 = _x_at(words, line, end, left=False)
    gap = line.text[start:end]
    start, end = start + len(gap) - len(gap.lstrip()), end - len(gap) + len(gap.rstrip())  # the words OCR read there
    # where OCR read none, the stripped span would come out inverted: the field is empty at the next word's start
    # (a spot's span is ordered, start <= end, for _put_fields' cuts), where its reading goes
    end = max(start, end)
    boxes = [words[i].box for i in line.indices]
    top = float(np.median([b[1] for b in boxes]))
    bottom = float(np.median([b[1] + b[3] for b in boxes]))
    height = max(1.0, bottom - top)
    if x1 - x0 < 0.3 * height:
        return None  # no room for a digit
    text = line.text[start:end]
    covered = [line.indices[k] for k in range(line.word_at(start), line.word_at(max(start, end - 1)) + 1)] if text else []
    confidences = [words[i].confidence for i in covered] or [0.0]
    # kept clear of the label's colon and the symbol's slash, which read as a "1", where they are words of their
    # own; inside a word the edge is only an estimate, and the digits must not be cut
    margin = 0.12 * height
    left_margin = margin if _at_word_edge(line, start) else 0.0
    right_margin = margin if _at_word_edge(line, end) else 0.0
    box = (int(x0 + left_margin), int(top - 0.45 * height), int(np.ceil(x1 - right_margin)), int(bottom + 0.3 * height))
    read_span = (_x_at(words, line, start, left=True), _x_at(words, line, end, left=False)) if text else None
    return _FieldSpot(name, start, end, box, text, min(confidences), read_span=read_span)


def find_header_fields(words: Sequence[OcrWord], page_height: int) -> list[tuple[_LineText, _FieldSpot]]:
    """The number and date fields on the header lines of a page (none on a page without them)."""
    lines: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        if word.box[1] <= FIELD_REGION_SHARE * page_height:
            lines.setdefault(word.line, []).append(index)
    found: list[tuple[_LineText, _FieldSpot]] = []
    names_done: set[str] = set()
    for indices in lines.values():
        line = _LineText.of(words, indices)
        number = _NUMBER_FIELD.search(line.folded)
        if number and _is_number_label(line.text[number.start() : number.start("number")]) \
                and len(line.text[number.start("number") : number.end("number")].split()) <= MAX_GAP_WORDS \
                and "number" not in names_done:
            spot = _spot(words, line, "number", number.start("number"), number.end("number"))
            if spot is not None:
                found.append((line, spot))
                names_done.add("number")
        date = _DATE_FIELD.search(line.folded)
        if date and "day" not in names_done:
            year = int(re.findall(r"(?:19|20)\d\d", date.group())[-1])
            month_text = date.group("month").strip().translate(DIGIT_LOOKALIKES)
            month = int(month_text) if month_text.isdigit() and 1 <= int(month_text) <= 12 else None
            for name in ("day", "month"):
                spot = _spot(words, line, name, date.start(name), date.end(name))
                if spot is not None:
                    found.append((line, replace(spot, month=month if name == "day" else None, year=year)))
            names_done.add("day")
    return found


def _printed(spot: _FieldSpot, image: np.ndarray) -> str | None:
    """The value when the page's OCR read the field as plausible digits, at most with the letters OCR confuses
    with printed digits ("II0" → "110"), and those digits cover the ink there: a printed value. OCR reads
    handwriting as other letters and signs ("đê", "Ø3", "4€`"), or reads part of it ("4" of a written "24"),
    unsure of it: those are read again."""
    value = spot.ocr_text.translate(PRINTED_LOOKALIKES)
    if not (value.isdigit() and _plausible(spot, value)) or spot.read_span is None:
        return None
    x0, y0, x1, y1 = spot.box
    ink = handwriting.ink_mask(image[max(0, y0) : y1, max(0, x0) : x1])
    if value == spot.ocr_text and spot.name in DATE_PARTS and _reads_part_of(value, _characters_inside(ink)):
        return None  # fewer digits than the ink holds ("4" of a written "24"), however sure OCR is of them
    inked = np.flatnonzero(ink.any(axis=0)) + max(0, x0)
    if len(inked) == 0:
        return value
    left, right = spot.read_span
    outside = np.count_nonzero((inked < left - PRINTED_SLACK * (y1 - y0)) | (inked > right + PRINTED_SLACK * (y1 - y0)))
    return value if outside <= UNREAD_INK_SHARE * len(inked) else None


def _reads_part_of(value: str, characters: int) -> bool:
    """Whether a one-digit day or month leaves ink of a digit's height unexplained before or after it (more
    `characters` in the field's ink, `_characters_inside`), as when a looped "2" of a written "24" is read as
    nothing and the "4" alone is read. Two digits are a whole day or month (a stray piece of a neighbouring letter
    or a digit broken at low resolution does not undo them). Only a day's or month's characters are counted: a
    number's crop may hold part of the symbol's slash ("635/QĐ-UBND" read as one word)."""
    return len(value) < 2 and characters > len(value)


def _characters_inside(ink: np.ndarray) -> int:
    """The characters of a field's ink (handwriting.characters leaves dots, commas and rules out), less the pieces
    its crop's left or right edge cuts: the stem of a neighbouring letter (the "t" of "tháng") reaching into it."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    cut = [k for k in range(1, count) if stats[k, cv2.CC_STAT_LEFT] == 0
           or stats[k, cv2.CC_STAT_LEFT] + stats[k, cv2.CC_STAT_WIDTH] >= ink.shape[1]]
    return len(handwriting.characters(np.where(np.isin(labels, cut), 0, ink).astype(ink.dtype)))


def _plausible(spot: _FieldSpot, value: str) -> bool:
    """Day 1–31 (and within its month when the month is printed), month 1–12, number 1–99999, a stamp's date
    d/m/y."""
    if spot.name == RECEIVED_DATE:
        return handwriting.stamp_date(value) is not None
    if not value.isdigit():
        return False
    number = int(value)
    if spot.name == "day":
        if spot.month is not None and spot.year is not None:
            import calendar

            return 1 <= number <= calendar.monthrange(spot.year, spot.month)[1]
        return 1 <= number <= 31
    if spot.name == "month":
        return 1 <= number <= 12
    return 1 <= number <= LARGEST_NUMBER and len(value) <= len(str(LARGEST_NUMBER))


def _shears(spot: _FieldSpot) -> tuple[float, ...]:
    """The shears a field is read at: a date's slashes would stand upright into ones, so a stamp's date is read
    as written."""
    return (0.0,) if spot.name == RECEIVED_DATE else handwriting.SHEARS


def _digit_variants(crop: np.ndarray, shears: tuple[float, ...]) -> list[np.ndarray]:
    """The crop for Tesseract: its ink as black on white, plain and thickened, at each of `shears` and
    DIGIT_HEIGHTS."""
    ink = handwriting.ink_mask(crop)
    variants = []
    for image in (ink, cv2.dilate(ink, np.ones((2, 2), np.uint8))):
        for shear in shears:
            leaning = handwriting.upright(image, shear)
            for height in DIGIT_HEIGHTS:
                scale = height / max(1, leaning.shape[0])
                resized = cv2.resize(255 - leaning, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                variants.append(cv2.copyMakeBorder(resized, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255))
    return variants


def _tesseract_digits(crops: list[np.ndarray], shears: list[tuple[float, ...]], timeout: float, source: str | None,
                      workdir: Path | None, whitelist: str = "0123456789") -> list[list[tuple[str, float]]]:
    """Per crop, Tesseract's digit readings (text, confidence 0..100) over its variants (at its `shears`) and
    DIGIT_PSMS."""
    readings: list[list[tuple[str, float]]] = [[] for _ in crops]
    owners: list[int] = []
    with tempfile.TemporaryDirectory(prefix="congvan-digits-", dir=workdir) as folder:
        paths: list[str] = []
        for number, (crop, leaning) in enumerate(zip(crops, shears, strict=True)):
            for variant in _digit_variants(crop, leaning):
                path = Path(folder) / f"field{len(paths):03d}.png"
                cv2.imwrite(str(path), variant)
                paths.append(str(path))
                owners.append(number)
        if not paths:
            return readings
        listing = Path(folder) / "fields.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        for psm in DIGIT_PSMS:
            tsv = run_tesseract([str(listing), "stdout", "-l", "eng", "--psm", str(psm), "-c",
                                 f"tessedit_char_whitelist={whitelist}", "tsv"], timeout=timeout, source=source,
                                workdir=workdir)
            texts: dict[int, list[tuple[str, float]]] = {}
            for fields in csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(fields) >= 12 and fields[0] == "5" and fields[11].strip() and float(fields[10]) >= 0:
                    texts.setdefault(int(fields[1]) - 1, []).append((fields[11].strip(), float(fields[10])))
            for image, parts in texts.items():
                text = "".join(part for part, _ in parts)
                readings[owners[image]].append((text, min(conf for _, conf in parts)))
    return readings


@dataclass(frozen=True)
class _Vote:
    text: str
    weight: float
    source: str  # "classifier", "topology" (a candidate of the classifier's its shape chose), "tesseract" or "ocr"


def _votes(spot: _FieldSpot, crop: np.ndarray, tesseract: list[tuple[str, float]]) -> list[_Vote]:
    """The recognisers' readings of a field as votes, each recogniser's vote shared out over the shears it reads
    the field at. Tesseract gives handwriting confidences near zero even when it is right, so each of its readings
    weighs at least a fifth of a full one."""
    shears = _shears(spot)
    votes = [_Vote(text, TESSERACT_VOTE * max(confidence, 20.0) / 100 / len(shears), "tesseract")
             for text, confidence in tesseract]
    votes += [_Vote(reading.text, CLASSIFIER_VOTE * reading.confidence / len(shears),
                    "topology" if reading.reranked else "classifier")
              for reading in handwriting.read_leaning(crop, current_resources().digit_model, shears)]
    mapped = "".join(spot.ocr_text.split()).translate(DIGIT_LOOKALIKES).strip(".,:;")
    if spot.name in (RECEIVED_NUMBER, RECEIVED_DATE):
        # a stamp's value, then the body word it was written over ("Ø4/4/18đạo"): its leading digits; a date's
        # parts as clerks separate them ("21.3.18", "21-3-18", "21/3/18") are one date
        if spot.name == RECEIVED_DATE:
            mapped = re.sub(r"(?<=\d)[.\-](?=\d)", "/", mapped)
        leading = re.match(r"[\d/]*", mapped)
        mapped = leading.group().strip("/") if leading else ""
    if mapped.isdigit() or (mapped and set(mapped) <= set("0123456789/") and any(ch.isdigit() for ch in mapped)):
        votes.append(_Vote(mapped, OCR_VOTE * spot.ocr_confidence / 100, "ocr"))
    return votes


def _key(spot: _FieldSpot, text: str) -> str:
    """Readings that mean the same value: days and months by number ("3" backs "03"), the rest as written."""
    return str(int(text)) if spot.name in ("day", "month") else text


def _read_field(spot: _FieldSpot, crop: np.ndarray, tesseract: list[tuple[str, float]]) -> FieldReading:
    """The plausible value with most votes, if two recognisers back it (or the classifier alone is sure of it: it
    reads it at most shears, CONFIDENT_CLASSIFIER surely on average) and it holds MIN_FIELD_CONFIDENCE of all
    votes; its share of the votes is its confidence, at most SHAPE_CHOSEN_CONFIDENCE where only the readings a
    character's topology chose back it so, and it reads all of a day's or month's ink (a reading of part of it is
    passed over: `_reads_part_of`). Else unreadable. A stamp's date is written with separators
    ("04/4/18"): a reading without any ("0414118") took them for digits and does not vote."""
    votes = [vote for vote in _votes(spot, crop, tesseract) if vote.text and vote.weight > 0
             and (spot.name != RECEIVED_DATE or "/" in vote.text)]  # a date read without separators misread them
    totals: dict[str, float] = {}
    for vote in votes:
        totals[vote.text] = totals.get(vote.text, 0.0) + vote.weight
    ranked = tuple(sorted(((text, round(weight, 3)) for text, weight in totals.items()), key=lambda item: -item[1]))
    everything = sum(totals.values())
    groups: dict[str, list[_Vote]] = {}
    for vote in votes:
        if _plausible(spot, vote.text):
            groups.setdefault(_key(spot, vote.text), []).append(vote)
    value, share, part = None, 0.0, None
    shears = len(_shears(spot))
    characters = _characters_inside(handwriting.ink_mask(crop)) if spot.name in DATE_PARTS else 0
    for backing in sorted(groups.values(), key=lambda group: -sum(vote.weight for vote in group)):
        share = sum(vote.weight for vote in backing) / everything
        if share < MIN_FIELD_CONFIDENCE:
            break
        if _backed(backing, shears):
            best = max((vote.text for vote in backing), key=lambda text: totals[text])
            if part is not None and part not in best:
                break  # after a reading of part of the ink, only a reading of all of it that holds that part
            if _reads_part_of(best, characters):
                part = best
                continue  # part of what was written ("4" of a "24"): a reading of all of it may follow, else none
            value = best
            if not _backed([vote for vote in backing if vote.source != "topology"], shears):
                share = min(share, SHAPE_CHOSEN_CONFIDENCE)
            break
    return FieldReading(spot.name, value, round(share, 3) if value else 0.0, _box(spot), spot.ocr_text, ranked)


def _backed(backing: list[_Vote], shears: int) -> bool:
    """Whether `backing` (the votes for one value) is backed by two recognisers, the topology's votes counting as
    the classifier's, or by the classifier alone reading it at most of the `shears`, CONFIDENT_CLASSIFIER surely on
    average (a reading its topology chose is not one it was sure of)."""
    sources = {"classifier" if vote.source == "topology" else vote.source for vote in backing}
    classified = [vote.weight * shears / CLASSIFIER_VOTE for vote in backing if vote.source == "classifier"]
    sure = 2 * len(classified) > shears and sum(classified) / len(classified) >= CONFIDENT_CLASSIFIER
    return len(sources) >= 2 or sure


def _box(spot: _FieldSpot) -> Box:
    x0, y0, x1, y1 = spot.box
    return (x0, y0, x1 - x0, y1 - y0)


def read_header_fields(prepared: PreparedPage, words: list[OcrWord], *, timeout: float = PAGE_TIMEOUT_SECONDS,
                       workdir: Path | None = None) -> tuple[list[OcrWord], list[FieldReading]]:
    """Read again, apart, the number and the day and month of a page's header when the page's OCR did not read
    them as digits (they are often written by hand): the classifier of handwritten digits, Tesseract restricted
    to digits over several binarizations and scales, and the page's own reading vote. The winning digits replace
    the OCR's words in that place; an unreadable field leaves the place empty (never a guess). A printed value
    OCR read with a look-alike letter ("II0") is written as its digits."""
    height = prepared.page.image.shape[0]
    printed = [(line, spot, FieldReading(spot.name, value, round(spot.ocr_confidence / 100, 3), _box(spot),
                                         spot.ocr_text, ((value, round(spot.ocr_confidence / 100, 3)),)))
               for line, spot in find_header_fields(words, height)
               if (value := _printed(spot, prepared.page.image)) is not None and value != spot.ocr_text]
    if printed:
        words = _put_fields(words, printed)
    image = prepared.page.image
    spots, crops = [], []
    for line, spot in find_header_fields(words, height):
        x0, y0, x1, y1 = spot.box
        crop = image[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
        if crop.size and _printed(spot, image) is None and handwriting.characters(handwriting.ink_mask(crop)):
            spots.append((line, spot))
            crops.append(crop)
    readings = [reading for _, _, reading in printed]
    if not spots:
        return words, readings
    tesseract = _tesseract_digits(crops, [_shears(spot) for _, spot in spots], timeout, prepared.page.source, workdir)
    read = [(line, spot, _read_field(spot, crop, found))
            for (line, spot), crop, found in zip(spots, crops, tesseract, strict=True)]
    return _put_fields(words, read), readings + [reading for _, _, reading in read]


def _put_fields(words: list[OcrWord], fields: list[tuple[_LineText, _FieldSpot, FieldReading]]) -> list[OcrWord]:
    """The page's words with each field's OCR text replaced by its reading (left out when unreadable); words
    that ran into a field ("ngày20tháng") are cut at its edges, their boxes shared out by characters."""
    by_line: dict[int, tuple[_LineText, list[tuple[_FieldSpot, FieldReading]]]] = {}
    for line, spot, reading in fields:
        by_line.setdefault(line.indices[0], (line, []))[1].append((spot, reading))
    rebuilt: dict[int, list[OcrWord]] = {}
    for line, items in by_line.values():
        items.sort(key=lambda item: item[0].start)
        anchor = words[line.indices[0]]
        out: list[OcrWord] = []
        emitted: set[int] = set()

        def emit(position: int, reading: FieldReading, out: list[OcrWord] = out, emitted: set[int] = emitted,
                 anchor: OcrWord = anchor) -> None:
            if position in emitted:
                return
            emitted.add(position)
            if reading.value is not None:
                x, y, width, height = reading.box
                out.append(replace(anchor, text=reading.value, confidence=round(100 * reading.confidence, 2),
                                   box=(x, y, width, height)))

        for k, index in enumerate(line.indices):
            word = words[index]
            begin = line.starts[k]
            finish = begin + len(word.text)
            cursor = begin
            for position, (spot, reading) in enumerate(items):
                if spot.end <= begin:
                    emit(position, reading)  # a field in the space before this word
                    continue
                if spot.start >= finish or spot.end <= cursor:
                    continue
                if spot.start > cursor:
                    out.append(_part(word, begin, cursor, spot.start))
                emit(position, reading)
                cursor = max(cursor, spot.end)
            if cursor < finish:
                out.append(word if cursor == begin else _part(word, begin, cursor, finish))
        for position, (_, reading) in enumerate(items):
            emit(position, reading)
        rebuilt[line.indices[0]] = out
    skip = {index for line, _ in by_line.values() for index in line.indices}
    result: list[OcrWord] = []
    for index, word in enumerate(words):
        if index in rebuilt:
            result.extend(rebuilt[index])
        elif index not in skip:
            result.append(word)
    return result


def _part(word: OcrWord, begin: int, start: int, end: int) -> OcrWord:
    """Characters start..end (line offsets; the word starts at `begin`) of a word, with their share of its box."""
    x, y, width, height = word.box
    length = max(1, len(word.text))
    left = x + round(width * (start - begin) / length)
    right = x + round(width * (end - begin) / length)
    return replace(word, text=word.text[start - begin : end - begin], box=(left, y, max(1, right - left), height))


# --------------------------------------------------------------------------- receiving-office stamps

# A receiving office's stamp ("CV ĐẾN / Số: … / Ngày: … / Chuyển: …") is a framed box a few centimetres wide,
# put on the upper part of the first page, often over the first lines of the body.
STAMP_WIDTH_INCHES = (0.8, 4.0)
STAMP_HEIGHT_INCHES = (0.3, 1.1)
STAMP_REGION_SHARE = 0.6
STAMP_TITLE_INCHES = 0.2
# A stamp's rules are found from straight runs this long, joined across breaks and waves of these sizes; a rule is at
# most RULE_HEIGHT_INCHES high with its waves (a line of text is higher).
RULE_PIECE_INCHES = 0.2
RULE_WAVER_INCHES = 0.03
RULE_GAP_INCHES = 0.08
RULE_HEIGHT_INCHES = 0.12
# The words of such a stamp (folded); a frame is a stamp when "ĐẾN" or "CV" and one more of them are in it.
# Folded, as OCR reads them over the body lines a stamp covers: "ĐẾN" as "ĐẾ" or "REN", "Số" as "Sẽ", "Chuyển" as
# "Chuyên", "Số" as "56" after the frame's inner side ("|56:"), only before the label's colon or leader dots (a "50" alone
# or "50." ending a list item is a number); a word's first letters may carry its value ("Số:2770").
_STAMP_LABEL = re.compile(r"^[|(\[]?(?:(?P<cv>c[vy])|(?P<den>[dr]e[nm]?)|(?P<so>s[oe0]|5[oe06](?=[:;]|\.\.))|(?P<ngay>ng[a-z]y?)|(?P<chuyen>chuy\w*))"
                          r"(?![a-z])\W*(?P<rest>.*)$")
_STAMP_KINDS = ("cv", "den", "so", "ngay", "chuyen")
STAMP_ROWS = ("so", "ngay", "chuyen")  # the labelled rows, top to bottom
STAMP_ROW_PITCH = 1.5  # a stamp's row pitch in label heights, when only one label was read
STAMP_LABEL_WIDTH = 2.0  # where a row's value is taken to begin when its label was neither read nor seen (heights)
STAMP_WIDEST_LABEL = 3.0  # the widest a printed label seen in a row may be ("Ngày:"), in its heights
STAMP_CUT = 0.2  # ink this close (in label heights) before the value found in a placed row: it may have begun there
STAMP_VALUE_WIDTH = 4  # the room a value surely has after its label, in label heights (past it, body lines may run)


def _stamp_label(text: str) -> tuple[str, str] | None:
    """(kind, what follows the label in the same word) of a stamp's word, or None."""
    match = _STAMP_LABEL.match("".join(_fold_char(ch) for ch in text))
    if match is None:
        return None
    kind = next(kind for kind in _STAMP_KINDS if match[kind])
    return kind, text[len(text) - len(match["rest"]) :] if match["rest"] else ""


@dataclass(frozen=True)
class StampFrame:
    """Where a stamp may be: under a rule of a stamp's width, down to the next rule below (`closed`: the frame's
    bottom side) or to a stamp's depth."""

    x0: int
    y0: int
    x1: int
    y1: int
    closed: bool


def find_rules(ink: np.ndarray, dpi: float) -> list[tuple[int, int, int]]:
    """Horizontal rules of a stamp's width in binary `ink` (255 = ink), as (y, x0, x1): straight runs of
    RULE_PIECE_INCHES joined along a line that may waver or break (a stamp pressed unevenly, a rule drawn by hand or
    struck through a word) by up to RULE_WAVER_INCHES across and RULE_GAP_INCHES along."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, round(RULE_PIECE_INCHES * dpi)), 1))
    pieces = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
    joined = cv2.dilate(pieces, np.ones((max(1, round(RULE_WAVER_INCHES * dpi)), max(3, round(RULE_GAP_INCHES * dpi))),
                                        np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    rules = []
    for label, (x, y, width, height, _) in enumerate(stats[1:], start=1):
        if not STAMP_WIDTH_INCHES[0] * dpi <= width <= STAMP_WIDTH_INCHES[1] * dpi or height > RULE_HEIGHT_INCHES * dpi:
            continue
        rows, columns = np.nonzero((labels[y : y + height, x : x + width] == label)
                                   & (pieces[y : y + height, x : x + width] > 0))
        rules.append((int(y + rows.min()), int(x + columns.min()), int(x + columns.max() + 1)))
    return sorted(rules)


def find_stamp_frames(image: np.ndarray, dpi: float) -> list[StampFrame]:
    """The places a stamp may be, in the upper part of a page: under each rule of a stamp's width (a stamp's
    frame has at least its top side; its other sides may be cut by the page edge or left open), down to the
    next rule below or a stamp's depth. Whether one holds a stamp is decided by its words."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    height = gray.shape[0]
    found = [rule for rule in find_rules(ink, dpi) if rule[0] <= STAMP_REGION_SHARE * height]
    frames = []
    for y, x0, x1 in found:
        depth = min(height, round(y + STAMP_HEIGHT_INCHES[1] * dpi))
        below = [other for other, left, right in found
                 if other > y + STAMP_HEIGHT_INCHES[0] * dpi and min(x1, right) - max(x0, left) > 0.5 * (x1 - x0)]
        bottom = min([depth, *below])
        # a stamp's title (the receiving office's name) is often printed just above its top side
        frames.append(StampFrame(x0, max(0, round(y - STAMP_TITLE_INCHES * dpi)), x1, bottom, bottom < depth))
    return frames


def read_marks(prepared: PreparedPage, *, languages: str, timeout: float = PAGE_TIMEOUT_SECONDS,
               workdir: Path | None = None) -> tuple[PreparedPage, list[PageMark], list[FieldReading]]:
    """Receiving-office stamps of a page: framed boxes whose own reading holds the stamp's words. Each is read
    apart (its handwritten number and date by the digit recognisers) and blanked out of the page the body is
    read from, so that its ink does not mix with the lines it covers."""
    if "blank page" in prepared.warnings:
        return prepared, [], []
    page = prepared.page
    frames = find_stamp_frames(page.image, page.dpi)
    if not frames:
        return prepared, [], []
    crops = [page.image[frame.y0 : frame.y1, frame.x0 : frame.x1] for frame in frames]
    read = _read_crops(crops, languages, page.dpi, timeout, page.source, workdir)
    stamps = []
    for frame, words in zip(frames, read, strict=True):
        words = [replace(w, box=(w.box[0] + frame.x0, w.box[1] + frame.y0, w.box[2], w.box[3])) for w in words]
        kinds = {label[0] for w in words if (label := _stamp_label(w.text))
                 and (label[0] not in ("cv", "den") or w.text.isupper())}  # "ĐẾN", never the word "đến"
        if {"den", "cv"} & kinds and len(kinds) >= 2:
            stamps.append((frame, words, len(kinds)))
    marks: list[PageMark] = []
    readings: list[FieldReading] = []
    image = prepared.image
    # one stamp under several of its rules (a title struck through, a side broken in pieces): the frame whose
    # reading holds most of its labels, as wide as all of those rules (its top and bottom are that frame's: a
    # struck title's frame starts a title's height too high). That is what is blanked; its values are read up to
    # the side of the widest frame covering it, whether or not that frame's own reading held the stamp's words
    # (the body lines a stamp covers spoil that reading; blanking them would cut those lines mid-word)
    for frame, words, _ in sorted(stamps, key=lambda stamp: -stamp[2]):
        y0, y1 = frame.y0, frame.y1
        if any(_overlap((frame.x0, y0, frame.x1, y1), mark.box) > 0.5 for mark in marks):
            continue
        x0, x1 = _stamp_extent(frame, [other for other, _, _ in stamps], math.inf)
        left, right = _stamp_extent(frame, frames, STAMP_WIDTH_INCHES[1] * page.dpi)
        # the stamp ends under its last labelled line: what lies below is the body it was put on
        if not frame.closed:
            labelled = [w for w in words if _stamp_label(w.text)]
            y1 = min(y1, max(w.box[1] + round(1.4 * w.box[3]) for w in labelled))
        words = [w for w in words if w.box[1] + w.box[3] / 2 < y1]
        readings += _stamp_fields(page.image, (min(x0, left), y0, max(x1, right), y1), words, timeout, page.source,
                                  workdir)
        marks.append(PageMark("received-stamp", (x0, y0, x1 - x0, y1 - y0), words_to_text(words), tuple(words)))
        image = _blank(image, prepared, (x0, y0, x1, y1))
    if marks:
        prepared = replace(prepared, image=image)
    return prepared, marks, readings


def _stamp_extent(frame: StampFrame, frames: list[StampFrame], widest: float) -> tuple[int, int]:
    """The columns (x0, x1) of the stamp found under `frame`: as wide as the frames that cover more than half of
    it (the widest first), no wider than `widest` pixels."""
    x0, x1 = frame.x0, frame.x1
    for other in sorted(frames, key=lambda other: -(other.x1 - other.x0)):
        wider = min(x0, other.x0), max(x1, other.x1)
        if _overlap((frame.x0, frame.y0, frame.x1, frame.y1), _box_of(other)) > 0.5 and wider[1] - wider[0] <= widest:
            x0, x1 = wider
    return x0, x1


def _box_of(frame: StampFrame) -> Box:
    return (frame.x0, frame.y0, frame.x1 - frame.x0, frame.y1 - frame.y0)


def _overlap(box: tuple[int, int, int, int], other: Box) -> float:
    """The share of `box` (x0, y0, x1, y1) that `other` (x, y, width, height) covers."""
    x0, y0, x1, y1 = box
    ox, oy, width, height = other
    across = max(0, min(x1, ox + width) - max(x0, ox)) * max(0, min(y1, oy + height) - max(y0, oy))
    return across / max(1, (x1 - x0) * (y1 - y0))


def _blank(image: np.ndarray, prepared: PreparedPage, box: tuple[int, int, int, int]) -> np.ndarray:
    """`image` (the prepared page) with the original page's `box` painted paper-white."""
    inverse = cv2.invertAffineTransform(np.array(prepared.to_original, dtype=np.float64).reshape(2, 3))
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], dtype=np.float64) @ inverse.T
    height, width = image.shape[:2]
    left, top = (int(np.clip(np.floor(v), 0, limit)) for v, limit in zip(corners.min(axis=0), (width, height), strict=True))
    right, bottom = (int(np.clip(np.ceil(v), 0, limit)) for v, limit in zip(corners.max(axis=0), (width, height), strict=True))
    out = image.copy()
    out[top:bottom, left:right] = 255
    return out


def _read_crops(crops: list[np.ndarray], languages: str, dpi: float, timeout: float, source: str | None,
                workdir: Path | None) -> list[list[OcrWord]]:
    """Words of each crop (boxes within the crop), one Tesseract process for all (uniform block of text)."""
    with tempfile.TemporaryDirectory(prefix="congvan-marks-", dir=workdir) as folder:
        paths = []
        for number, crop in enumerate(crops):
            path = Path(folder) / f"mark{number:03d}.png"
            cv2.imwrite(str(path), crop)
            paths.append(str(path))
        listing = Path(folder) / "marks.txt"
        listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
        tsv = run_tesseract([str(listing), "stdout", "-l", languages, "--psm", "6", "--dpi", str(round(dpi)), "tsv"],
                            timeout=timeout, source=source, workdir=workdir)
    out: list[list[OcrWord]] = [[] for _ in crops]
    lines: dict[tuple[int, int, int, int], int] = {}
    for fields in csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        if len(fields) < 12 or fields[0] != "5" or not fields[11].strip() or float(fields[10]) < 0:
            continue
        number = int(fields[1]) - 1
        key = (number, int(fields[2]), int(fields[3]), int(fields[4]))
        line = lines.setdefault(key, len(lines))
        left, top, width, height = (int(value) for value in fields[6:10])
        out[number].append(OcrWord(unicodedata.normalize("NFC", fields[11].strip()), round(float(fields[10]), 2),
                                   (left, top, width, height), 0, line))
    return out


def _stamp_rows(words: list[OcrWord]) -> dict[str, tuple[OcrWord, str]]:
    """The stamp's labelled rows as OCR found them: per kind ("so", "ngay", "chuyen") its label word, of the most
    labels standing in the rows' order (then the surest), and what follows the label in that word. A label OCR did not read is placed from the others: a
    stamp's rows are printed one under another at one pitch, Số, Ngày, Chuyển (the layout of the "ĐẾN" stamp in
    Decree 30/2020); the placed word has no text of its own."""
    labels = [(word, label) for word in words if (label := _stamp_label(word.text)) is not None and label[0] in STAMP_ROWS]
    # the most labels standing in the rows' order, then the surest: one out of that order (a "Số" read under
    # "Ngày", in a leader's dots; a "Số" of a body line under the stamp) is no label
    choices = [[None, *((word, rest) for word, (k, rest) in labels if k == kind)] for kind in STAMP_ROWS]
    best: tuple[tuple[int, float], dict[str, tuple[OcrWord, str]]] = ((0, 0.0), {})
    for choice in itertools.product(*choices):
        chosen = {kind: pick for kind, pick in zip(STAMP_ROWS, choice, strict=True) if pick is not None}
        if all(_in_row_order(kind, word, other, placed) for kind, (word, _) in chosen.items()
               for other, (placed, _) in chosen.items() if other != kind):
            score = (len(chosen), sum(word.confidence for word, _ in chosen.values()))
            if score > best[0]:
                best = (score, chosen)
    rows = best[1]
    found = [(STAMP_ROWS.index(kind), word) for kind, (word, _) in rows.items()]
    if not found:
        return rows
    if len(found) >= 2:
        (i, first), (j, second) = sorted(found, key=lambda item: item[0])[:2]
        pitch = (second.box[1] - first.box[1]) / (j - i)
    else:
        pitch = STAMP_ROW_PITCH * found[0][1].box[3]
    index, anchor = found[0]
    for position, kind in enumerate(STAMP_ROWS):
        if kind not in rows:
            x, y, _, height = anchor.box
            place = (x, round(y + (position - index) * pitch), 0, height)  # no width: the label's own text unknown
            rows[kind] = (replace(anchor, text="", box=place, confidence=0.0, line=-1), "")
    return rows


def _in_row_order(kind: str, word: OcrWord, other: str, placed: OcrWord) -> bool:
    """Whether a label of `kind` at `word` stands where the stamp's row order puts it relative to `placed`, a label
    of the row `other`: below it when it is a later row, above it when an earlier one (by more than half a line)."""
    rise = (word.box[1] + word.box[3] / 2) - (placed.box[1] + placed.box[3] / 2)
    apart = 0.5 * max(word.box[3], placed.box[3])
    return rise > apart if STAMP_ROWS.index(kind) > STAMP_ROWS.index(other) else rise < -apart


def _stamp_fields(image: np.ndarray, frame: tuple[int, int, int, int], words: list[OcrWord], timeout: float,
                  source: str | None, workdir: Path | None) -> list[FieldReading]:
    """The stamp's number ("Số: 2770") and date ("Ngày: 04/4/18"), written by hand after their labels, often over
    a dotted leader: each row's box after its label is cleared of the leader and the frame's rules, cut to the
    first value written there (not the body line the stamp covers, further right) and read by the same vote as the
    header's fields. A value whose ink the box's edges cut (it runs on past the frame, or starts before where its
    row was placed) is unreadable. A row whose label OCR did not read is read where the stamp's layout puts it,
    from past its printed label's ink (see _placed_value_start)."""
    readings = []
    for kind, (word, rest) in _stamp_rows(words).items():
        if kind == "chuyen":
            continue
        name = RECEIVED_NUMBER if kind == "so" else RECEIVED_DATE
        x, y, width, height = word.box
        if word.text:
            start = x + round(width * (len(word.text) - len(rest)) / max(1, len(word.text)))
        else:
            start = _placed_value_start(image, (x, max(0, y), frame[2], y + height), height)
        after = sorted((w for w in words if word.text and w.line == word.line and w.box[0] > x), key=lambda w: w.box[0])
        values = list(itertools.takewhile(lambda w: any(ch.isdigit() or ch == "/" for ch in w.text), after))
        text = " ".join([rest, *(w.text for w in values)]).strip()
        confidence = min([word.confidence, *(w.confidence for w in values)])
        # the value's own words when OCR read digits there, else room for a few digits: not the body lines the
        # stamp covers, which run on to its right
        end = max(values[-1].box[0] + values[-1].box[2] + round(0.3 * height) if values else 0,
                  start + STAMP_VALUE_WIDTH * height)
        x0, y0, x1, y1 = max(0, start), max(0, int(y - 0.35 * height)), min(frame[2], end), int(y + 1.25 * height)
        near = max(2, (y1 - y0) // 3)
        ink, span = _stamp_value_ink(image, (x0, y0, x1, y1), height)
        if not any(ch.isdigit() for ch in text) and span is not None and ink[:, -near:].any() and x1 < frame[2]:
            # a value longer than that room, cut by it, where OCR read no digits there: read out to the frame's side
            # (the value ends at a gap of a label's height, so the body line further right stays out; where OCR read
            # digits, the room or their words bound it, short of body ink that may touch it)
            x1 = frame[2]
            ink, span = _stamp_value_ink(image, (x0, y0, x1, y1), height)
        if ink.size == 0:
            continue
        margin = round(0.25 * height)
        left, right = (max(0, span[0] - margin), min(ink.shape[1], span[1] + margin)) if span else (0, 0)
        spot = _FieldSpot(name, 0, 0, (x0 + left, y0, x0 + right, y1), text, confidence)
        beyond = image[y0:y1, x1 : x1 + near]
        if span is None or (not word.text and _begun_before(image, (x, y0, x0 + span[0], y1), height)) or (
                x1 >= frame[2] and span[1] >= ink.shape[1] - near
                and (beyond.size == 0 or handwriting.ink_mask(beyond).any())):
            # no value; or one that began before where its row was placed, or runs on past the frame's edge (or the
            # page's): what lies inside is part of it, and reads as another number
            readings.append(FieldReading(name, None, 0.0, _box(spot), text))
            continue
        value = np.ascontiguousarray(255 - ink[:, left:right])
        whitelist = "0123456789/" if name == RECEIVED_DATE else "0123456789"
        readings.append(_read_field(spot, value, _tesseract_digits([value], [_shears(spot)], timeout, source, workdir,
                                                                   whitelist)[0]))
    return readings


def _placed_value_start(image: np.ndarray, box: tuple[int, int, int, int], height: int) -> int:
    """Where the value of a row whose label OCR did not read may begin, in the label's line (x0, y0, x1, y1: from
    the labels' shared left edge, a label's height): just past the printed label's colon, the label as narrow as
    "Số:" or as wide as "Ngày:" (STAMP_WIDEST_LABEL); past STAMP_LABEL_WIDTH when no such label is seen there. The
    label is looked for in the line's ink as it is, else cleared of its leader (whose first dot may join the colon
    to the value): clearing the guides breaks a label's letters, leaving pieces a colon's are told from only by
    their shape."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    if crop.size:
        raw = handwriting.ink_mask(crop)
        for ink in (raw, handwriting.clear_guides(raw, height)):
            end = handwriting.label_end(ink, height)
            if end is not None and end < STAMP_WIDEST_LABEL * height:
                return x0 + end
    return x0 + round(STAMP_LABEL_WIDTH * height)


def _begun_before(image: np.ndarray, row: tuple[int, int, int, int], height: int) -> bool:
    """Whether the value found from column x1 of a placed row (x0, y0, x1, y1: from the labels' left edge) may have
    begun before it: ink (pieces at least LABEL_PIECE high, the leader cleared) within STAMP_CUT to its left, so
    that nothing tells where it began (a digit cut by the box, or the value's next digit after one written close
    to the label: "770" of "2770")."""
    x0, y0, x1, y1 = row
    gap = max(1, round(STAMP_CUT * height))
    if x1 - gap <= x0:
        return True
    ink = handwriting.clear_guides(handwriting.ink_mask(image[y0:y1, x0:x1]), height)
    _count, _labels, stats, _ = cv2.connectedComponentsWithStats((ink > 0).astype(np.uint8), connectivity=8)
    return any(x + width > x1 - x0 - gap for x, _, width, tall, _ in stats[1:] if tall >= handwriting.LABEL_PIECE * height)


def _stamp_value_ink(image: np.ndarray, box: tuple[int, int, int, int],
                     height: int) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The ink of a stamp row's box (x0, y0, x1, y1) cleared of its leader and rules, and the columns of the first
    value written there (None: none)."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    if crop.size == 0:
        return np.zeros((0, 0), np.uint8), None
    ink = handwriting.clear_guides(handwriting.ink_mask(crop), height)
    return ink, handwriting.value_span(ink, height)


# --------------------------------------------------------------------------- small print read again, larger

# The header's two blocks (issuer and number | motto, place and date) and the signature's block are read again
# from the page's own pixels when the page's reading missed what they hold: the number or the date, the signer's
# name. Small print (a phone photo's ~70 dpi header, a reduced copy) is misread at the page's scale, and the
# preprocessing made for the body (background flattening, mark removal, a curled photo's straightening) thins
# its strokes further; the zone cut from the original page, coloured ink set aside, at each of REREAD_DPI, reads
# better. A reading replaces the page's in that zone only when it finds what the page's missed.
REREAD_DPI = (300.0, 480.0)
REREAD_MARGIN_INCHES = 0.08  # around the zone, for a line the page's curl or skew moved out of it
# Line pieces lying wholly within this share of the page's width from its left or right edge are margin marks
# (a finger holding a photographed sheet, the next sheet's edge, a punch hole), not a column of the page.
MARGIN_SHARE = 0.15
SIGNATURE_REGION_SHARE = 0.5  # the signature's block is the last two-column zone, below this share of the page


def find_small_print_zones(image: np.ndarray, dpi: float) -> list[tuple[str, Region]]:
    """The header's two blocks ("header-left", "header-right": the first two-column zone in the top
    FIELD_REGION_SHARE of the page) and the signature's block ("signature": the right column of the last
    two-column zone in the page's lower half) of a prepared page, margin marks left out of the layout."""
    height, width = image.shape[:2]
    segments = [s for s in _line_segments(image, dpi) if s[2] > MARGIN_SHARE * width and s[0] < (1 - MARGIN_SHARE) * width]
    regions = regions_of_segments(segments, width, height, dpi)
    pairs = [(regions[i], regions[i + 1]) for i in range(len(regions) - 1)
             if regions[i].column == "left" and regions[i + 1].column == "right"]
    zones: list[tuple[str, Region]] = []
    if pairs and pairs[0][0].y1 <= FIELD_REGION_SHARE * height:
        zones += [("header-left", pairs[0][0]), ("header-right", pairs[0][1])]
    if pairs and pairs[-1][1].y0 >= SIGNATURE_REGION_SHARE * height:
        zones.append(("signature", pairs[-1][1]))
    inked = []  # each zone as far as its lines reach: the page's edge and margin confuse a block's reading
    for name, region in zones:
        inside = [s for s in segments if region.x0 <= (s[0] + s[2]) / 2 < region.x1 and region.y0 <= (s[1] + s[3]) / 2 < region.y1]
        if inside:
            inked.append((name, Region(max(region.x0, min(s[0] for s in inside)), max(region.y0, min(s[1] for s in inside)),
                                       min(region.x1, max(s[2] for s in inside)), min(region.y1, max(s[3] for s in inside)),
                                       region.column)))
    return inked


def has_name_line(words: Sequence[OcrWord]) -> bool:
    """Some line ends in a person's name: two to five capitalised words from a family name (as read_name reads
    a damaged one)."""
    lines: dict[int, list[str]] = {}
    for word in words:
        lines.setdefault(word.line, []).append(word.text.strip(".,;:'\"“”()"))
    for tokens in lines.values():
        for start in range(max(0, len(tokens) - 5), len(tokens) - 1):
            person = tokens[start:]
            # a family name as written, or repaired in a name with a middle name: two words, the first repaired,
            # are as likely a fragment ("Định Tùng" under a seal)
            if all(t[:1].isupper() and t[1:] == t[1:].lower() and t.isalpha() for t in person) and (
                    person[0] in FAMILY_NAMES
                    or (len(person) > 2 and read_name(" ".join(person)).split()[0] in FAMILY_NAMES)):
                return True
    return False


def _zone_score(name: str, words: Sequence[OcrWord], page_height: int) -> int:
    """What a zone's reading holds of what it is read again for: the signature's block a signer's name; the
    header's left block its number field, labelled at the start of its line ("Số: …", not a subject's "Nghị
    quyết số 42/…"), its right block the date's day."""
    if name == "signature":
        return int(has_name_line(words))
    fields = find_header_fields(words, page_height)
    if name == "header-left":
        return int(any(spot.name == "number" and len(line.text[: spot.start].split()) <= 2 for line, spot in fields))
    return int(any(spot.name == "day" for _, spot in fields))


def _source_box(prepared: PreparedPage, region: Region) -> Box:
    """The bounding box (x, y, width, height) in original page pixels of a prepared page's region, with a margin."""
    affine = np.array(prepared.to_original, dtype=np.float64).reshape(2, 3)
    margin = REREAD_MARGIN_INCHES * prepared.dpi
    corners = np.array([[x, y, 1.0] for x in (region.x0 - margin, region.x1 + margin)
                        for y in (region.y0 - margin, region.y1 + margin)]) @ affine.T
    height, width = prepared.page.image.shape[:2]
    x0, y0 = (int(np.clip(np.floor(v), 0, limit)) for v, limit in zip(corners.min(axis=0), (width, height), strict=True))
    x1, y1 = (int(np.clip(np.ceil(v), 0, limit)) for v, limit in zip(corners.max(axis=0), (width, height), strict=True))
    return x0, y0, x1 - x0, y1 - y0


def _source_crop(prepared: PreparedPage, box: Box, dpi: float) -> np.ndarray:
    """The original page's pixels in `box`, coloured ink suppressed as for the page, brought to `dpi`."""
    x, y, width, height = box
    crop = prepared.page.image[y : y + height, x : x + width]
    if crop.ndim == 3:
        photo = next((step.params for step in prepared.steps if step.name == "detect_photo"), {})
        crop = suppress_color_ink(crop, camera=bool(photo.get("photo")))[0]
    affine = np.array(prepared.to_original, dtype=np.float64).reshape(2, 3)
    scale = dpi / (prepared.dpi * math.sqrt(abs(float(np.linalg.det(affine[:, :2])))))
    return cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def reread_small_print(prepared: PreparedPage, words: list[OcrWord], *, languages: str,
                       timeout: float = PAGE_TIMEOUT_SECONDS,
                       workdir: Path | None = None) -> tuple[PreparedPage, list[OcrWord]]:
    """The page's words with its header blocks read again when the number or the date was not found there (on a
    document's first page), and its signature's block when no signer's name was: each zone cut from the original page at REREAD_DPI, its
    reading kept where it finds more (see REREAD_DPI). Recorded as a "reread_small_print" step: each zone read
    again, its box in original pixels, what each reading found and which was kept."""
    if not words or "blank page" in prepared.warnings:
        return prepared, words
    height = prepared.page.image.shape[0]
    # a document's number and date are printed on its first page: a later page's two-column top is no header
    wanted = ("header-left", "header-right", "signature") if prepared.page.index == 0 else ("signature",)
    if all(_zone_score(name, words, height) for name in wanted):
        return prepared, words  # all found: the zones need not even be looked for
    todo = []
    for name, region in find_small_print_zones(prepared.image, prepared.dpi):
        box = _source_box(prepared, region)
        if name in wanted and box[2] and box[3] and _zone_score(name, [word for word in words if centre_inside(word.box, box)], height) == 0:
            todo.append((name, box))
    if not todo:
        return prepared, words
    candidates: list[list[list[OcrWord]]] = [[] for _ in todo]
    for dpi in REREAD_DPI:
        crops = [_source_crop(prepared, box, dpi) for _, box in todo]
        read = _read_crops(crops, languages, dpi, timeout, prepared.page.source, workdir)
        for number, (zone_words, (_, box), crop) in enumerate(zip(read, todo, crops, strict=True)):
            scale = crop.shape[0] / box[3]
            candidates[number].append([replace(word, box=(round(box[0] + word.box[0] / scale),
                                                          round(box[1] + word.box[1] / scale),
                                                          max(1, round(word.box[2] / scale)),
                                                          max(1, round(word.box[3] / scale))))
                                       for word in zone_words if not is_junk(word.text, word.confidence)])
    evidence = []
    for (name, box), readings in zip(todo, candidates, strict=True):
        scores = [_zone_score(name, reading, height) for reading in readings]
        best = max(range(len(readings)), key=lambda k: (scores[k], reading_confidence(readings[k])))
        evidence.append({"zone": name, "box": list(box), "dpi": list(REREAD_DPI), "found": scores,
                         "kept": f"{REREAD_DPI[best]:.0f} dpi" if scores[best] else "page"})
        if scores[best]:
            words = _splice(words, box, readings[best], right=name != "header-left")
    step = PreprocessStep("reread_small_print", {"zones": evidence})
    return replace(prepared, steps=(*prepared.steps, step)), words


def _splice(words: list[OcrWord], zone: Box, new: list[OcrWord], *, right: bool) -> list[OcrWord]:
    """`words` with those inside `zone` replaced by `new` (a block of its own, its lines numbered after the
    page's) in reading order: a left column's zone before the first word level with or below its top, a right
    column's after the last word above its bottom (the left column's lines beside it)."""
    rest = [word for word in words if not centre_inside(word.box, zone)]
    middles = [word.box[1] + word.box[3] / 2 for word in rest]
    if right:
        at = 1 + max((k for k, middle in enumerate(middles) if middle < zone[1] + zone[3]), default=-1)
    else:
        at = next((k for k, middle in enumerate(middles) if middle >= zone[1]), len(rest))
    block = 1 + max((word.block for word in words), default=-1)
    lines = 1 + max((word.line for word in words), default=-1)
    return rest[:at] + [replace(word, block=block, line=word.line + lines) for word in new] + rest[at:]
