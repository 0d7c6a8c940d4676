"""The one place that runs Tesseract: reading-order regions, recognition, words with boxes on the original page."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import os
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

from pipeline.defaults import PAGE_TIMEOUT_SECONDS
from pipeline.errors import MissingDependencyError, OcrError, OcrTimeoutError
from pipeline.limits import check_pixels
from pipeline.preprocess import turn_prepared
from pipeline.types import Box, OcrPage, OcrWord, PreparedPage, PreprocessStep

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
    prepared, words = settle_orientation(prepared, languages=languages, timeout=timeout, workdir=workdir, psm=psm,
                                         use_layout=use_layout)
    if words is None:
        words = read_words(prepared, languages=languages, timeout=timeout, workdir=workdir, psm=psm,
                           use_layout=use_layout)
    height, width = page.image.shape[:2]
    return OcrPage(
        source=page.source, index=page.index, width=width, height=height, dpi=page.dpi, words=tuple(words),
        text=words_to_text(words), preprocessing=prepared.steps, legacy_text=page.legacy_text,
        seconds=round(time.monotonic() - started, 3), warnings=prepared.warnings)


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
            words.append(OcrWord(text=piece, confidence=round(confidence, 2), box=box,
                                 block=page_number - 1, line=line_index))
    return words


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

