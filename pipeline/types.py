"""Typed records passed between the stages: page images, OCR words, restored text and document records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np

# x, y, width, height in pixels of the *original* page image (as ingested, before preprocessing).
Box = tuple[int, int, int, int]


def box_centre(box: Box) -> tuple[float, float]:
    x, y, width, height = box
    return x + width / 2, y + height / 2


def centre_inside(box: Box, zone: Box) -> bool:
    """Whether `box`'s centre lies in `zone` (edges included): how a word is assigned to a region."""
    x, y = box_centre(box)
    return zone[0] <= x <= zone[0] + zone[2] and zone[1] <= y <= zone[1] + zone[3]

# The version of the record's JSON Schema (pipeline/data/record.schema.json, semantic versioning); the
# archive's database schema has its own version (archive/sqlite.py, DATABASE_SCHEMA_VERSION).
RECORD_SCHEMA_VERSION = "1.3.0"


# --------------------------------------------------------------------------- pages (ingest → preprocess → ocr)


@dataclass(frozen=True)
class PageImage:
    """One page as it came out of the source file."""

    source: str  # path of the input file
    index: int  # 0-based page number within the source
    image: np.ndarray = field(repr=False, compare=False)  # uint8, H×W (gray) or H×W×3 (BGR)
    dpi: float  # resolution of `image`, read from the file (or the PDF render resolution)
    legacy_text: str | None = None  # the text layer an existing PDF already carried for this page
    dpi_estimated: bool = False  # the file gave no usable DPI: `dpi` was estimated assuming an A4 page


class DocumentKind(StrEnum):
    """What an input file is, by its content (the value is written to results and the archive)."""

    PDF = "pdf"
    TIFF = "tiff"  # possibly multi-page
    IMAGE = "image"  # one page: PNG, JPEG, BMP, WebP…
    TEXT = "text"  # text to restore, pages separated by form feeds
    DOCX = "docx"  # a Word document, its text read directly
    ODT = "odt"  # an OpenDocument text, its text read directly

    @property
    def is_text(self) -> bool:
        """Read as text: no page images, no OCR."""
        return self in (DocumentKind.TEXT, DocumentKind.DOCX, DocumentKind.ODT)


@dataclass(frozen=True)
class LayerWord:
    """A word of a PDF page's own text layer, as a viewer shows the page (form widgets drawn in)."""

    text: str  # NFC
    box: Box  # in page pixels at TextLayer.dpi, the resolution `ingest.load_page` renders the page at
    visible: bool  # drawn; False for invisible text (render mode 3/7: an OCR layer under a scan)
    annotation: int | None = None  # index in TextLayer.annotations of the widget/annotation drawing it
    baseline: float = 0.0  # page-pixel y of the first character's origin (its baseline)
    size: float = 0.0  # font size in page pixels
    upright: bool = True  # runs left to right along the page's x axis (not rotated or vertical text)


@dataclass(frozen=True)
class TextLayer:
    """What a PDF page carries besides its pixels: its text layer (page content and the appearance text of
    its widgets and annotations, e.g. a number filled in at signing), where its annotations are, how much of
    it raster images cover, and a small rendering to measure its ink against the layer's glyphs."""

    source: str
    index: int
    width: int  # page size in pixels at `dpi` (the same page `ingest.load_page` renders)
    height: int
    dpi: float
    words: tuple[LayerWord, ...]  # in content-stream order; annotation words after the page's own
    annotations: tuple[Box, ...]  # annotations drawn into the page (widgets, signature stamps), page pixels
    image_cover: float  # share of the page area under raster images
    ink: np.ndarray = field(repr=False, compare=False)  # uint8 gray rendering at `ink_dpi`, forms drawn
    ink_dpi: float = 50.0


@dataclass(frozen=True)
class SignatureField:
    """A signature dictionary of a PDF (a /Sig form field's /V) as stored: nothing checked or decoded."""

    field_name: str | None  # the form field's /T
    page: int | None  # 0-based page of its widget
    rect: tuple[float, float, float, float] | None  # widget rectangle in PDF points (x0, y0, x1, y1)
    name: str | None  # /Name
    time: str | None  # /M as written: "D:20250108173049+07'00'"
    reason: str | None
    location: str | None
    contact: str | None
    sub_filter: str | None  # adbe.pkcs7.detached, ETSI.CAdES.detached…
    contents: bytes = field(repr=False)  # /Contents: the DER-encoded CMS SignedData (zero-padded)


@dataclass(frozen=True)
class DocumentInfo:
    """What `ingest.open_document` learns about an input file before any page is loaded."""

    path: str
    kind: DocumentKind
    page_count: int
    sha256: str


@dataclass(frozen=True)
class PreprocessStep:
    """One preprocessing step applied to a page, with the parameters it used or measured."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class PreparedPage:
    """A page ready for OCR: cleaned image plus the record of how it was obtained."""

    page: PageImage
    image: np.ndarray = field(repr=False, compare=False)  # uint8 gray/binary image given to Tesseract
    dpi: float  # resolution of `image` (after any upscaling)
    steps: tuple[PreprocessStep, ...]
    # 2×3 affine matrix (row-major, 6 floats) mapping `image` pixel coordinates to original page pixels.
    to_original: tuple[float, float, float, float, float, float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    warnings: tuple[str, ...] = ()  # e.g. "blank page"


@dataclass(frozen=True)
class OcrWord:
    """One word recognised by Tesseract."""

    text: str  # NFC
    confidence: float  # 0..100 as reported by Tesseract
    box: Box  # in original page pixels
    block: int  # reading-order block number within the page
    line: int  # line number within the page (global, reading order)


# FieldReading names of a receiving stamp's fields (the header's are "number", "day" and "month").
RECEIVED_NUMBER, RECEIVED_DATE = "received.number", "received.date"


@dataclass(frozen=True)
class FieldReading:
    """A short header field read apart from the line it sits on: the number after "Số:", the day and the month
    of the date, often written by hand when a dispatch is registered. Its digits replace what the page's OCR
    had read in that place (kept in `ocr_text`)."""

    name: str  # "number", "day", "month", or a stamp's RECEIVED_NUMBER, RECEIVED_DATE
    value: str | None  # the digits as written ("08"); None when unreadable (then nothing stands in the text)
    confidence: float  # 0..1: the share of the recognisers' votes the value won (0 when unreadable)
    box: Box  # the field's place on the original page
    ocr_text: str  # what the page's OCR had read there ("đê", "Ø3"), "" when nothing
    candidates: tuple[tuple[str, float], ...] = ()  # every reading with its votes, best first


@dataclass(frozen=True)
class PageMark:
    """Ink on a page that is not the document's own text: a receiving office's incoming-dispatch stamp ("CV ĐẾN",
    Số, Ngày, Chuyển). Its words are kept out of the page text."""

    kind: str  # "received-stamp" (the one kind found so far; handwritten margin notes are not detected)
    box: Box  # original page pixels
    text: str  # its words, lines joined by newlines
    words: tuple[OcrWord, ...] = ()


@dataclass(frozen=True)
class OcrPage:
    """OCR result for one page. `text` is the words joined: spaces within a line, newlines between lines,
    a blank line between blocks, so that `text.split()` yields exactly the words in order."""

    source: str
    index: int
    width: int  # original page size in pixels
    height: int
    dpi: float  # original page resolution
    words: tuple[OcrWord, ...]
    text: str
    preprocessing: tuple[PreprocessStep, ...]
    legacy_text: str | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    field_readings: tuple[FieldReading, ...] = ()  # header fields read apart (handwritten number, day, month)
    marks: tuple[PageMark, ...] = ()  # receiving stamps, not part of `words`


# --------------------------------------------------------------------------- restoration


@dataclass(frozen=True)
class RestoredToken:
    """One whitespace-separated input token and what restoration made of it.

    `restored` may contain a space (the token was split) or be empty (merged into the previous one)."""

    original: str
    restored: str
    confidence: float  # 0..1, the decoder's posterior for `restored`


@dataclass(frozen=True)
class Restoration:
    """Restored text plus one RestoredToken per `text.split()` token of the input, in order."""

    text: str
    tokens: tuple[RestoredToken, ...]


# --------------------------------------------------------------------------- document records (extraction)


@dataclass
class Span:
    """Where something was found: character offsets in the document text (pages joined by form feeds)."""

    start: int
    end: int
    text: str
    page: int | None = None  # 0-based page index when known


@dataclass
class Signer:
    authority: str | None = None  # TM., KT., TL., Q., TUQ.
    title: str | None = None  # e.g. "CHỦ TỊCH", "PHÓ CHỦ TỊCH"
    name: str | None = None


@dataclass
class DateParts:
    """The parts of the document's date that could be read: a day written by hand may be unreadable while the
    printed month and year are not. `DocumentHeader.date` is set only when all three are known."""

    day: int | None = None
    month: int | None = None
    year: int | None = None


@dataclass
class DocumentHeader:
    code: str | None = None  # full number and symbol as written, e.g. "112/VPĐP-NTM"
    number: str | None = None  # "112"; None when missing or unreadable
    symbol: str | None = None  # "VPĐP-NTM"
    type: str | None = None  # Decree 30/2020 abbreviation (QĐ, KH, TB…), "CV" for công văn
    type_name: str | None = None  # "Quyết định", "Công văn"…
    issuer: str | None = None  # the unit, e.g. "VĂN PHÒNG ĐIỀU PHỐI NÔNG THÔN MỚI"
    parent_issuer: str | None = None  # e.g. "UBND TỈNH LẠNG SƠN"
    place: str | None = None  # "Lạng Sơn"
    date: str | None = None  # ISO yyyy-mm-dd
    subject: str | None = None
    recipients: list[str] = field(default_factory=list)
    signer: Signer | None = None
    distribution: list[str] = field(default_factory=list)
    date_parts: DateParts | None = None  # None when no date line was found


@dataclass
class Reference:
    code: str  # canonical, e.g. "539/QĐ-UBND", "29-NQ/TW"
    number: str | None = None
    year: int | None = None
    type: str | None = None
    type_name: str | None = None
    issuer_code: str | None = None
    date: str | None = None  # ISO date given right after the citation
    mentions: list[Span] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.mentions)


@dataclass
class DateMention:
    text: str
    kind: str  # "date", "deadline", "period", "quarter", "month", "year"
    value: str | None  # ISO: "2020-04-15", "2020-Q1", "2020-04", "2020", or "2016/2020" for periods
    start: str | None = None  # first day covered, ISO
    end: str | None = None  # last day covered, ISO
    span: Span | None = None


@dataclass
class Place:
    level: str  # "province", "district", "commune"
    name: str  # canonical name, e.g. "Hữu Lũng"
    district: str | None = None
    province: str | None = None
    code: str | None = None  # administrative code from the gazetteer
    text: str | None = None  # as written in the document
    new: dict[str, Any] | None = None  # the 2025 unit it belongs to, when known
    mentions: list[Span] = field(default_factory=list)


@dataclass
class Task:
    id: str  # unique within the document: "2.3", "PL.7"
    text: str
    assignees: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    action: str | None = None
    places: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # canonical reference codes
    deadline: str | None = None  # ISO date
    page: int | None = None
    span: Span | None = None


@dataclass
class Received:
    """A receiving office's marks on its copy: the incoming-dispatch stamp ("CV ĐẾN / Số: 2770 / Ngày: 04/4/18 /
    Chuyển: …") and routing notes. Archival metadata: never part of the subject, recipients or tasks."""

    number: str | None = None  # the incoming register number, as written
    date: str | None = None  # ISO date of receipt
    notes: list[str] = field(default_factory=list)  # the stamp's "Chuyển: …" routing, as read
    page: int | None = None  # 0-based page of the stamp


@dataclass
class Signature:
    """One electronic signature: a PDF signature dictionary and/or its visible stamp. Never validated."""

    signer: str | None = None  # a person's name (/Name, or the certificate's CN when it names a person)
    organisation: str | None = None
    email: str | None = None
    time: str | None = None  # ISO 8601 with the signer's offset: "2025-01-08T17:30:49+07:00"
    source: str = "dictionary"  # "dictionary" | "stamp" | "both" | "ocr-stamp"
    page: int | None = None  # 0-based page of its widget or stamp
    verified: bool = False  # congvan does not check certificates or digests


@dataclass
class Record:
    """Everything extracted from one document. Serialised by `to_dict`; see pipeline/data/record.schema.json."""

    document: DocumentHeader = field(default_factory=DocumentHeader)
    references: list[Reference] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    signatures: list[Signature] = field(default_factory=list)
    received: Received | None = None
    needs_review: list[str] = field(default_factory=list)  # field paths to check: "document.number"
    # field path → 0..1 for fields read apart from the page's text ("document.number", "document.date")
    fields_confidence: dict[str, float] = field(default_factory=dict)
    schema_version: str = RECORD_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for ref, ref_data in zip(self.references, data["references"], strict=True):
            ref_data["count"] = ref.count
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        return _from_dict(cls, data)


T = TypeVar("T")

_NESTED: dict[str, Any] = {
    "document": DocumentHeader,
    "signer": Signer,
    "date_parts": DateParts,
    "received": Received,
    "references": Reference,
    "dates": DateMention,
    "places": Place,
    "tasks": Task,
    "signatures": Signature,
    "mentions": Span,
    "span": Span,
}


def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a record dataclass from `asdict` output, ignoring unknown keys (e.g. derived `count`)."""
    kwargs: dict[str, Any] = {}
    assert is_dataclass(cls)
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        nested = _NESTED.get(f.name)
        if nested is not None and value is not None:
            # Task.places / Task.references share a name with Record's but hold plain strings: only dicts nest.
            if isinstance(value, list):
                value = [_from_dict(nested, v) if isinstance(v, dict) else v for v in value]
            elif isinstance(value, dict):
                value = _from_dict(nested, value)
        kwargs[f.name] = value
    return cls(**kwargs)


# --------------------------------------------------------------------------- whole documents (driver output)


class PageSource(StrEnum):
    """Where a page's words came from."""

    TEXT_LAYER = "text-layer"  # the PDF's own text (born-digital page), plus its form-field values; no OCR
    OCR = "ocr"  # Tesseract on the rendered page
    LEGACY_RESTORED = "legacy-restored"  # an old OCR text layer, restored, read better than fresh OCR


@dataclass(frozen=True)
class SourceEvidence:
    """The measurements a page's source was chosen on (see pipeline/textlayer.py)."""

    layer_chars: int = 0  # non-space characters of the page's own text layer (form-field values included)
    visible_share: float = 0.0  # share of them drawn visibly (an OCR layer is invisible text over an image)
    stamp_chars: int = 0  # characters of e-signature stamps (kept out of the page text)
    ink_covered: float | None = None  # share of the page's ink (stamps aside) under visible glyph boxes
    image_cover: float = 0.0  # share of the page covered by raster images (1.0 for a scan)
    syllable_share: float | None = None  # share of the layer's letter words that are Vietnamese syllables
    upright_share: float | None = None  # share of its characters running left to right on the page
    ocr_score: float | None = None  # legacy pages: quality of the fresh OCR reading (0..1)
    legacy_score: float | None = None  # legacy pages: quality of the restored old layer (0..1)
    reason: str = ""


@dataclass
class PageResult:
    """Everything known about one page after all stages; serialised into DIR/<stem>.json."""

    index: int
    width: int
    height: int
    dpi: float
    preprocessing: list[PreprocessStep]
    words: list[OcrWord]
    raw_text: str  # what was read: OCR output, the text layer, or the legacy text layer
    text: str  # final text: restored unless restoration is off
    legacy_text: str | None = None
    tokens: list[RestoredToken] | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    source: PageSource = PageSource.OCR
    evidence: SourceEvidence | None = None
    stamps: list[Signature] = field(default_factory=list)  # e-signature stamps read on the page (not its text)
    field_readings: list[FieldReading] = field(default_factory=list)  # header fields read apart (see FieldReading)
    marks: list[PageMark] = field(default_factory=list)  # receiving stamps kept out of `text`


@dataclass
class DocumentResult:
    source: str
    sha256: str
    pages: list[PageResult]
    record: Record | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """Final text of the document, pages separated by form feeds."""
        return "\f".join(page.text for page in self.pages)
