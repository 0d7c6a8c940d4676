"""The document text as the extractors see it: normalized text, a same-length folded copy, lines, pages, tables."""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from pipeline.resources import current_resources
from pipeline.types import Span
from pipeline.vietnamese import fold

if TYPE_CHECKING:
    from pipeline.extract.geometry import LineGeometry

PAGE_BREAK = "\f"


# Look-alikes some encoders and OCR engines emit inside Latin text: the Icelandic eth for Đ/đ, Cyrillic and
# Greek capitals in codes ("TT-BTС" with a Cyrillic С), the fraction and division slashes OCR reads in dates
# ("17⁄4/2020"). One character for one, so offsets do not move.
_LOOKALIKES = str.maketrans({
    "⁄": "/", "∕": "/",
    "Ð": "Đ", "ð": "đ",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "К": "K", "М": "M", "О": "O", "Р": "P", "Т": "T",
    "Х": "X", "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x",
    "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Χ": "X",
})


def normalize_text(text: str) -> str:
    """NFC with look-alike letters mapped to the Vietnamese/Latin ones they stand for."""
    return unicodedata.normalize("NFC", text).translate(_LOOKALIKES)


def fold_key(text: str) -> str:
    """A name as a lookup key: folded, letters and digits only ("Bà Rịa - Vũng Tàu" → "bariavungtau")."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def is_upper_text(text: str, threshold: float = 0.8) -> bool:
    """True when most letters of `text` are capitals (header lines, titles, signature titles)."""
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) < 2:
        return False
    return sum(ch.isupper() for ch in letters) >= threshold * len(letters)


@dataclass(frozen=True)
class Line:
    """One line of the document, stripped; `start`/`end` are offsets of the stripped text."""

    index: int
    start: int
    end: int
    text: str
    page: int


@dataclass
class DocumentText:
    """Normalized text with its folded twin, lines and page starts; `geometry` holds where lines sit on their
    page when the OCR words came with the text (line index → LineGeometry)."""

    text: str
    folded: str = field(repr=False)
    lines: list[Line] = field(repr=False)
    page_starts: list[int] = field(repr=False)
    geometry: dict[int, LineGeometry] = field(default_factory=dict, repr=False)

    @classmethod
    def from_text(cls, text: str) -> DocumentText:
        text = normalize_text(text)
        folded = fold(text)
        lines: list[Line] = []
        page_starts = [0]
        page = 0
        position = 0
        for separator in [*re.finditer(r"[\n\f]", text), None]:
            stop = separator.start() if separator else len(text)
            raw = text[position:stop]
            offset = position + (len(raw) - len(raw.lstrip()))
            stripped = raw.strip()
            lines.append(Line(len(lines), offset, offset + len(stripped), stripped, page))
            if separator is not None:
                position = separator.end()
                if separator.group() == PAGE_BREAK:
                    page += 1
                    page_starts.append(position)
        return cls(text, folded, lines, page_starts)

    def page_of(self, offset: int) -> int:
        return bisect.bisect_right(self.page_starts, offset) - 1

    def span(self, start: int, end: int) -> Span:
        return Span(start, end, self.text[start:end], self.page_of(start))

    def line_at(self, offset: int) -> Line:
        starts = [line.start for line in self.lines]
        return self.lines[max(0, bisect.bisect_right(starts, offset) - 1)]


# --------------------------------------------------------------------------- committed tables


def _data_text(name: str) -> str:
    return resources.files("pipeline").joinpath("data", name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class DocType:
    name: str  # "Quyết định"
    abbr: str | None  # "QĐ"; None for types never abbreviated in a code (Luật)
    families: tuple[str, ...] = ()  # "nd30" (Decree 30 table), "legal", "party"


@dataclass(frozen=True)
class DocTypes:
    """Document types from pipeline/data/doc_types.json, looked up by abbreviation or by (folded) name."""

    by_abbr: dict[str, DocType]  # state documents (Decree 30 and legal types)
    party_by_abbr: dict[str, DocType]  # Party documents ("QĐi" is a Quy định, "TT" a Thông tri)
    by_name_key: dict[str, DocType]

    def from_name(self, name: str) -> DocType | None:
        return self.by_name_key.get(fold_key(name))

    def names(self) -> list[str]:
        return sorted({t.name for t in self.by_name_key.values()}, key=len, reverse=True)

    @cached_property
    def name_pattern(self) -> re.Pattern[str]:
        """Any type's name as a whole word of folded text ("quyet dinh", "luat"), the longest first."""
        names = sorted({fold(name) for name in self.names()}, key=len, reverse=True)
        return re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")


def doc_types() -> DocTypes:
    """The document types of this process's resources (pipeline.resources)."""
    return current_resources().doc_types


def load_doc_types() -> DocTypes:
    """Read pipeline/data/doc_types.json."""
    data: dict[str, Any] = json.loads(_data_text("doc_types.json"))
    by_abbr: dict[str, DocType] = {}
    party: dict[str, DocType] = {}
    by_name: dict[str, DocType] = {}
    # state families first, so that a name shared with a Party type ("Quy định") maps to the state abbreviation
    items = sorted(data["types"], key=lambda item: "party" in item["families"] and len(item["families"]) == 1)
    for item in items:
        doc_type = DocType(item["name"], item["abbr"], tuple(item["families"]))
        by_name.setdefault(fold_key(doc_type.name), doc_type)
        if doc_type.abbr:
            if doc_type.families != ("party",):
                by_abbr.setdefault(doc_type.abbr, doc_type)
            if "party" in doc_type.families:
                party[doc_type.abbr] = doc_type
    for name in data["generic_names"]:
        by_name.setdefault(fold_key(name), DocType(name, None))
    return DocTypes(by_abbr, party, by_name)
