"""The document's own block: issuer, number and symbol, place and date, title/subject, recipients, distribution
and signer; and the layout (where the body, the closing block and the appendix are) for the other extractors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from pipeline.extract import lexicon
from pipeline.extract.dates import parse_date
from pipeline.extract.places import names_an_area
from pipeline.extract.references import CodeMatch, iter_codes, read_labelled_code
from pipeline.extract.text import DocumentText, Line, doc_types, is_upper_text
from pipeline.names import ANCHOR_MIDDLE_NAMES, FAMILY_NAMES, read_name
from pipeline.types import DateParts, DocumentHeader, Signer
from pipeline.vietnamese import fold, is_valid

HEADER_MAX_LINES = 60  # how far into the document the header block may reach
HEADER_RESUMES_WITHIN_LINES = 6  # an unreadable line is the header's when its motto, number or date follows
OWN_CODE_REACH = 40  # characters past the number line where its code may end (broken across the line)
RECIPIENTS_MAX_LINES = 40  # how far after the header block "Kính gửi" may come
SIGNATURE_MAX_LINES = 8  # how many lines of a signature block may stand above "Nơi nhận" (or the end)
SIGNATURE_TITLE_MAX_CHARS = 60  # an upper-case line longer than this is body text, not a signature's title
SIGNER_TITLE_MAX_CHARS = 70  # the longest title line under a signature prefix
HEADING_MAX_CHARS = 80  # an appendix heading ("Phụ lục II. DANH MỤC …") is a short line

_RULE = re.compile(r"^[\s\-_=—–.*·~]+$")
# "Lạng Sơn, ngày …", "Phường 2, ngày …"; the place starts with a letter
_PLACE_DATE = re.compile(r"^(?P<place>[^\W\d_][^,]{1,39}?)\s*,\s*(?=ngay\b)")
_PLACE_ONLY = re.compile(r"^[^\W\d_][^,]{1,39},$")
_BLANK_DATE = re.compile(r"ngay\s*[._…\s]*\s*thang\s*[._…\s]*\s*nam\s*(?P<y>(?:19|20)\d\d)")
# The parts of a date line, any of them possibly missing (a handwritten day left unread): "ngày … tháng 4 năm 2018"
_DATE_PARTS = re.compile(r"ngay\s*(?P<d>\d{1,2})?[^\d]{0,8}?th[a-z]ng\s*(?P<m>\d{1,2})?[^\d]{0,8}?nam\s*(?P<y>(?:19|20)\d\d)")
# Tokens without a letter or digit before a signature line ("_ KT. GIÁM ĐỐC"): specks of the seal or signature
# Punctuation and underscores before a signature line ("_ KT. GIÁM ĐỐC", "..K/T CHỦ TỊCH", '"Trần …'): specks of
# the seal or signature stroke read as characters
_LEADING_DEBRIS = re.compile(r"^(?:(?:[^\w\s(\[]|_)+\s*)+")  # specks, quotes, bullets: "` \"Phạm …"
# Specks a stamp or a pen leaves before a wrapped title line ('" sử dụng vốn …'): neither a dash nor a bracket.
_STAMP_SPECKS = re.compile(r"^(?:[^\w\s(\[\-–—]+\s+)+")
_TYPED_BULLET = re.compile(r"^[-–+•]\s")  # a list item's bullet as typed: a mark and a space
_NAME_WORD = re.compile(r"^[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\.?$")
_ABBREVIATION = re.compile(r"^[A-ZĐ][A-ZĐa-zđ&\-]*$")


def _is_name(text: str) -> bool:
    """A signer's name line: two to five capitalised words, after at most two words of rank ("Thượng tướng")."""
    words = text.split()
    if not 2 <= len(words) <= 7 or len(text) > 45:
        return False
    trailing = 0
    for word in reversed(words):
        if not _NAME_WORD.match(word):
            break
        trailing += 1
    return trailing >= 2 and len(words) - trailing <= 2 and words[-1][-1].isalpha()
_TRAILING = " ;,.:"
_ACRONYM = re.compile(r"^[A-ZĐ]{2,6}$")
_WORD_PUNCTUATION = ".,;:()[]\"'“”‘’"


def _is_open_ending(word: str) -> bool:
    word = word.lower()
    if word in lexicon.OPEN_ENDINGS:
        return True
    folded = fold(word)
    return folded == word and folded in lexicon.OPEN_ENDINGS_FOLDED


def _is_word(token: str) -> bool:
    """A Vietnamese syllable or an upper-case acronym (UBND), not OCR debris from a seal ("ÄJEaU)", "6H")."""
    token = token.strip(_WORD_PUNCTUATION)
    return bool(token) and (is_valid(token.lower()) or bool(_ACRONYM.match(token)))


def _match_authority(text: str) -> re.Match[str] | None:
    """The signature prefix (TM., KT., TL., TUQ., Q.) a line starts with, on its folded text."""
    folded = fold(text)
    match = lexicon.AUTHORITY.match(folded)
    if match is None and is_upper_text(text):
        match = lexicon.AUTHORITY_OCR.match(folded)
    return match


def _authority_name(match: re.Match[str]) -> str:
    letters = re.sub(r"[^a-z]", "", match.group(1))
    if letters not in lexicon.AUTHORITY_BY_LETTERS and len(letters) == 3:
        letters = letters[0] + letters[2]  # the slash read as a letter
    return lexicon.AUTHORITY_BY_LETTERS.get(letters, letters.upper() + ".")


def _clean_title(text: str) -> str | None:
    """An upper-case signature line without the debris a seal or signature left in it: the line's words when
    at least two thirds of its tokens with letters are words, and there are two of them (a title has two
    syllables or more: a lone "ÁN" or "VAT" is a reading of the seal), else None."""
    # a space read as a hyphen ("CHỦ-TỊCH") joins two words; titles have no hyphenated words
    tokens = [token for token in re.sub(r"(?<=\w)-(?=\w)", " ", text).split() if any(ch.isalpha() for ch in token)]
    words = [token for token in tokens if _is_word(token)]
    if len(words) < 2 or 3 * len(words) < 2 * len(tokens):
        return None
    return " ".join(words)


@dataclass
class Layout:
    """The document's own block, and where its parts lie (line indices)."""

    header: DocumentHeader
    header_end: int = 0  # first line after the header block (issuer, number, place/date, title)
    body_start: int = 0  # first line after the header block and the recipients
    place_span: tuple[int, int] | None = None  # "Lạng Sơn" of "Lạng Sơn, ngày …"
    closing_start: int | None = None  # "Nơi nhận" / signature block
    closing_end: int | None = None  # first line after the closing block
    appendix_start: int | None = None  # "Phụ lục …" heading
    own_code: CodeMatch | None = None
    skip: set[int] = field(default_factory=set)  # lines that belong to the header/recipients/closing
    signer_by_position: bool = False  # the signer's name taken from the last line, its block unreadable


def _strip_mottos(folded: str) -> list[tuple[int, int]]:
    """Character ranges of the national/Party motto inside a (folded) line, for removal."""
    ranges = []
    for motto in lexicon.MOTTOS_FOLDED:
        if len(folded) < 0.75 * len(motto):
            continue
        alignment = fuzz.partial_ratio_alignment(motto, folded, score_cutoff=84)
        if alignment is not None and alignment.dest_end - alignment.dest_start >= 0.75 * len(motto):
            ranges.append((alignment.dest_start, alignment.dest_end))
    return ranges


def _is_debris(text: str, after_motto: bool, continuing: Reading) -> bool:
    """Header debris: a star or speck ("»*", "kả"), or the last word of a motto that OCR wrapped ("NAM").
    A lone word that ends the unit name or the title being read ("ĐÀO⏎TẠO", "mùa hanh⏎khô") is kept."""
    if not any(ch.isalnum() for ch in text):
        return True
    if " " in text or text.isdigit() or doc_types().from_name(text) is not None:
        return False
    if continuing is not Reading.NOTHING and not after_motto and _is_word(text) and (
            continuing is not Reading.UNIT or text.isupper()):
        return False
    return len(text) <= 3 or (after_motto and len(text) <= 5 and text.isupper())


def _remove_ranges(text: str, ranges: list[tuple[int, int]]) -> str:
    for start, end in sorted(ranges, reverse=True):
        text = text[:start] + " " + text[end:]
    return " ".join(text.split())


def _clean_item(text: str) -> str:
    text = lexicon.BULLET_PREFIX.sub("", text.strip())
    text = text.rstrip(_TRAILING).strip()
    text = text[:-2].rstrip(_TRAILING) if text.endswith("/.") else text
    return _canonical_archive_item(lexicon.DISTRIBUTION_NOTE.sub(_canonical_note, text))


def _canonical_note(match: re.Match[str]) -> str:
    """A parenthesised distribution note one OCR slip away from exactly one of the known notes, written right."""
    note = "".join(match["note"].split()).lower()
    near = [known for known in lexicon.DISTRIBUTION_NOTES
            if known == note or Levenshtein.distance(note.translate(lexicon.NOTE_LOOKALIKES), known) <= 1]
    return f"({near[0]})" if len(near) == 1 else match[0]


def _canonical_archive_item(text: str) -> str:
    """"Lưu: VŨ NN" → "Lưu: VT, NN": only when what follows "VT" is abbreviations (or nothing)."""
    match = lexicon.ARCHIVE_ITEM.match(text)
    if match is None:
        return text
    rest = [part for part in re.split(r"[\s,;._]+", match["rest"] or "") if part]
    if not all(_ABBREVIATION.match(part) for part in rest):
        return text
    return match["head"] + ", ".join(["VT", *rest])


def _split_units(lines: list[str]) -> list[str]:
    """Header lines → unit names: a line that starts with a unit word opens a new unit."""
    units: list[list[str]] = []
    for line in lines:
        folded = fold(line)
        starts_unit = bool(lexicon.UNIT_HEAD.match(folded)) and not folded.startswith(lexicon.NOT_UNIT_STARTS)
        if not units or starts_unit:
            units.append([line])
        else:
            units[-1].append(line)
    return [" ".join(unit) for unit in units]


def _type_of_title(text: str) -> tuple[str, str] | None:
    """(abbreviation, name) when an upper-case title line names a document type ("KẾ HOẠCH"), also in the old
    form that names its issuer ("QUYẾT ĐỊNH CỦA UỶ BAN NHÂN DÂN TỈNH")."""
    if not is_upper_text(text) or text.rstrip().endswith(":"):
        return None  # "QUYẾT ĐỊNH:" opens the articles of a decision, it is not its title
    issuer = lexicon.TITLE_ISSUER.search(fold(text))
    if issuer is not None and issuer.start() > 0:
        text = text[: issuer.start()]
    doc_type = doc_types().from_name(text.rstrip(" :"))
    if doc_type is None or doc_type.name == "Văn bản":
        return None
    return doc_type.abbr or "", doc_type.name


class Reading(Enum):
    """What the header walk is in the middle of: a lone word on the next line may still belong to it."""

    NOTHING = auto()
    UNIT = auto()  # an issuer line was just read ("SỞ GIÁO DỤC VÀ ĐÀO⏎TẠO")
    SUBJECT = auto()  # the subject after "V/v", until a blank line
    TITLE = auto()  # the summary under a type title ("KẾ HOẠCH⏎Triển khai …"), until the body starts


class LineKind(Enum):
    """What a line of the header block is. Each kind has one handler (`_HANDLERS`) but BODY, which ends the walk."""

    BLANK = auto()
    DEBRIS = auto()  # a rule, a motto alone, specks of a seal
    TITLE_SUMMARY = auto()  # a line of the summary under a type title
    NUMBER = auto()  # "Số: 12/KH-UBND" (and what follows it on the line)
    SUBJECT_LABEL = auto()  # "V/v …"
    PLACE_DATE = auto()  # "Lạng Sơn, ngày 15 tháng 4 năm 2020"
    TYPE_TITLE = auto()  # "KẾ HOẠCH"
    SUBJECT = auto()  # a wrapped line of the subject after "V/v"
    ISSUER = auto()  # an upper-case line of the issuing bodies
    UNREADABLE = auto()  # a header line OCR garbled: the motto, a number or the date comes next
    BODY = auto()  # the first line of the body


@dataclass
class _HeaderWalk:
    """The state of the walk over the header block's lines."""

    doc: DocumentText
    layout: Layout
    lines: list[Line]
    position: int = 0  # the next line to read
    reading: Reading = Reading.NOTHING  # SUBJECT or TITLE while a subject is gathered
    after_unit: bool = False
    after_motto: bool = False
    number_seen: bool = False
    units: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    subject_lines: list[int] = field(default_factory=list)  # line indices of `subject` (and of its type title)

    @property
    def next_line(self) -> Line | None:
        return self.lines[self.position] if self.position < len(self.lines) else None


def _parse_header_block(doc: DocumentText, layout: Layout) -> int:
    """Walk the first lines: issuer lines, number, V/v, motto, place and date, title and subject.
    Returns the index of the first body line."""
    walk = _HeaderWalk(doc, layout, doc.lines[:HEADER_MAX_LINES])
    body_start = walk.lines[-1].index + 1 if walk.lines else 0
    while walk.position < len(walk.lines):
        line = walk.lines[walk.position]
        walk.position += 1
        kind, text, folded = _classify(walk, line)
        if kind is LineKind.BODY:
            body_start = line.index
            break
        _HANDLERS[kind](walk, line, text, folded)
    names = _split_units(walk.units)
    if names:
        layout.header.issuer = names[-1]
        layout.header.parent_issuer = " ".join(names[:-1]) or None
    if walk.subject:
        subject = " ".join(" ".join(walk.subject).split())
        label = lexicon.SUBJECT_WITH_COLON.match(fold(subject))
        layout.header.subject = subject[label.end() if label else 0 :].rstrip(_TRAILING) or None
    return body_start


def _classify(walk: _HeaderWalk, line: Line) -> tuple[LineKind, str, str]:
    """The kind of a line, with its text (the motto OCR read into it removed) and that text folded. The
    first rule that applies decides."""
    if not line.text:
        return LineKind.BLANK, "", ""
    ranges = _strip_mottos(walk.doc.folded[line.start : line.end])
    text = _remove_ranges(line.text, ranges) if ranges else line.text
    folded = fold(text)
    if ranges:
        walk.layout.skip.add(line.index)
    continuing = Reading.UNIT if walk.after_unit else walk.reading
    if not text or _RULE.match(text) or _is_debris(text, walk.after_motto, continuing):
        return LineKind.DEBRIS, text, folded
    walk.after_motto = bool(ranges)
    walk.after_unit = False
    header = walk.layout.header
    issuer = _issuer_column(walk, line)
    if issuer is not None:
        return LineKind.ISSUER, issuer, fold(issuer)
    if walk.reading is Reading.TITLE:
        summary = _continues_title(walk.doc, line.index, text, folded, walk.subject, walk.subject_lines)
        return (LineKind.BODY, text, folded) if summary is None else (LineKind.TITLE_SUMMARY, summary, fold(summary))
    if lexicon.NUMBER_LABEL.match(folded) and not walk.number_seen and header.code is None:
        kind = LineKind.NUMBER
    elif lexicon.SUBJECT_LABEL.match(folded):
        kind = LineKind.SUBJECT_LABEL
    elif _place_and_date(_place_date_text(text, folded, walk.next_line)[0]) is not None:
        kind = LineKind.PLACE_DATE
    elif _type_of_title(text) is not None:
        kind = LineKind.TYPE_TITLE
    elif walk.reading is Reading.SUBJECT and not is_upper_text(text) and not lexicon.BODY_START.match(folded):
        kind = LineKind.SUBJECT
    elif is_upper_text(text) and not walk.number_seen and header.date is None:
        kind = LineKind.ISSUER
    elif header.date is None and header.place is None and _header_follows(walk.doc, walk.lines, walk.position):
        kind = LineKind.UNREADABLE
    else:
        kind = LineKind.BODY
    return kind, text, folded


def _issuer_column(walk: _HeaderWalk, line: Line) -> str | None:
    """The issuer's part of a header line that OCR read across both columns (the word boxes show the gutter),
    before the number and the date: Decree 30 sets the issuer on the left, the motto on the right, which OCR
    may garble past recognition ("HUYỆN TĨNH GIA   Đặc lập ~ Và …"). None when the right part is the place and
    date, or the left is no upper-case unit line."""
    header = walk.layout.header
    geometry = walk.doc.geometry.get(line.index)
    if walk.number_seen or header.date is not None or walk.reading is not Reading.NOTHING:
        return None
    offset = geometry.gutter_offset() if geometry is not None and not geometry.starts_right() else None
    if offset is None or not line.start < offset < line.end:
        return None
    left, right = walk.doc.text[line.start : offset].strip(), walk.doc.text[offset : line.end].strip()
    if not is_upper_text(left) or lexicon.NUMBER_LABEL.match(fold(left)) or _place_and_date(right) is not None:
        return None
    return left


def _on_blank(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    if walk.reading is Reading.SUBJECT:
        walk.reading = Reading.NOTHING  # a subject after "V/v" ends at a blank line


def _on_skipped(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    walk.layout.skip.add(line.index)


def _on_subject_line(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    text = text if walk.subject else _without_leading_debris(text, folded)
    walk.subject.append(text)
    walk.subject_lines.append(line.index)
    walk.layout.skip.add(line.index)


def _without_leading_debris(text: str, folded: str) -> str:
    """A title's first line without what a stamp or a margin mark beside it left in front ("3C 0.NGÃI| Về việc
    …"): the words before "Về việc" go when none of them is a Vietnamese word."""
    start = folded.find("ve viec")
    if start <= 0:
        return text
    before = [token for token in text[:start].split() if any(ch.isalpha() for ch in token)]
    return text[start:] if not any(_is_word(token) and len(token) > 1 for token in before) else text


def _on_number(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    """"Số: 12/KH-UBND", or a number left blank ("Số:    /KH-UBND"); a place and date OCR read onto the
    same line are kept."""
    header, layout = walk.layout.header, walk.layout
    number = lexicon.NUMBER_LABEL.match(folded)
    assert number is not None
    rest = read_labelled_code(text[number.end() :])
    code = next(iter_codes(rest), None)
    if code is not None and code.start <= 2:
        header.code, header.number, header.symbol = code.code, code.number, code.symbol
        layout.own_code = next(
            (c for c in iter_codes(walk.doc.text, line.start, min(len(walk.doc.text), line.end + OWN_CODE_REACH))
             if c.code == code.code), None)
        if code.doc_type is not None and code.doc_type.abbr and header.type is None:
            header.type, header.type_name = code.doc_type.abbr, code.doc_type.name
        tail = rest[code.end :].strip()
    else:
        symbol = re.match(r"\s*[/-]\s*(\S+)", rest)
        if symbol:  # the number was left blank: "Số:    /KH-UBND"
            header.symbol = symbol.group(1).rstrip(_TRAILING)
            header.code = "/" + header.symbol
        tail = ""
    walk.number_seen = True
    layout.skip.add(line.index)
    if tail:
        _parse_place_date(tail, header)


def _on_subject_label(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    label = lexicon.SUBJECT_LABEL.match(folded)
    assert label is not None
    walk.subject = [text[label.end() :].strip()]
    walk.subject_lines = [line.index]
    walk.reading = Reading.SUBJECT
    walk.layout.skip.add(line.index)


def _on_place_date(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    layout, next_line = walk.layout, walk.next_line
    place_date, joined = _place_date_text(text, folded, next_line)
    _parse_place_date(place_date, layout.header)
    layout.skip.add(line.index)
    if joined and next_line is not None:  # the date wrapped onto the next line
        layout.skip.add(next_line.index)
        walk.position += 1
    walk.reading = Reading.NOTHING
    place = layout.header.place
    position = line.text.find(place or "")
    if place and position >= 0:
        layout.place_span = (line.start + position, line.start + position + len(place))


def _on_type_title(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    title = _type_of_title(text)
    assert title is not None
    abbr, name = title
    walk.layout.header.type, walk.layout.header.type_name = abbr or None, name
    walk.subject, walk.subject_lines = [], [line.index]
    walk.reading = Reading.TITLE
    walk.layout.skip.add(line.index)


def _on_issuer(walk: _HeaderWalk, line: Line, text: str, folded: str) -> None:
    walk.units.append(text)
    walk.after_unit = True
    walk.layout.skip.add(line.index)


_HANDLERS: dict[LineKind, Callable[[_HeaderWalk, Line, str, str], None]] = {
    LineKind.BLANK: _on_blank,
    LineKind.DEBRIS: _on_skipped,
    LineKind.TITLE_SUMMARY: _on_subject_line,
    LineKind.NUMBER: _on_number,
    LineKind.SUBJECT_LABEL: _on_subject_label,
    LineKind.PLACE_DATE: _on_place_date,
    LineKind.TYPE_TITLE: _on_type_title,
    LineKind.SUBJECT: _on_subject_line,
    LineKind.ISSUER: _on_issuer,
    LineKind.UNREADABLE: _on_skipped,
}  # LineKind.BODY has none: the walk ends there


def _header_follows(doc: DocumentText, lines: list[Line], start: int) -> bool:
    """Whether a motto, a number line or a place-and-date line comes within the next few lines."""
    for line in lines[start : start + HEADER_RESUMES_WITHIN_LINES]:
        folded = doc.folded[line.start : line.end]
        if folded and (_strip_mottos(folded) or lexicon.NUMBER_LABEL.match(folded) or _PLACE_DATE.search(folded)):
            return True
    return False


def _continues_title(doc: DocumentText, index: int, text: str, folded: str, subject: list[str],
                     subject_lines: list[int]) -> str | None:
    """The line's text where it is still the title's summary ("Về việc …" and its wrapped lines), else None.
    `subject_lines` starts with the type line. Where the page's word boxes are known, a summary line is centred
    and the body's first line is not (indented, or flush with the margins); otherwise the text decides."""
    if (lexicon.ENACTING_LINE.match(folded) and is_upper_text(text)) or lexicon.RECIPIENTS.match(folded):
        return None  # the enacting authority ("CHỦ TỊCH ỦY BAN NHÂN DÂN …") or the recipients
    if subject:
        previous = subject[-1]
        if previous.endswith((".", ";", ":")):
            return None
        if is_upper_text(text) and (not is_upper_text(previous) or lexicon.UNIT_HEAD.match(folded)):
            # a sentence-case summary is not continued in capitals, and a capitalised unit after a capitalised
            # summary is the enacting body ("ỦY BAN THƯỜNG VỤ QUỐC HỘI")
            return None
    geometry = doc.geometry.get(index)
    if geometry is not None and any(k in doc.geometry for k in subject_lines):
        # "trong mùa mưa lũ" centred under the summary continues it
        title = doc.geometry.get(subject_lines[0])
        if geometry.is_centred() or (title is not None and geometry.is_centred_under(title)):
            return text
        # a summary line whose start a stamp covers: what is left, past a speck or two, goes on in lower case
        # from mid-column, where no body line starts, after a summary line that filled the column (it wrapped)
        wrapped = doc.geometry.get(subject_lines[-1])
        rest = _STAMP_SPECKS.sub("", text)  # the specks go with the stamp, on this line only
        return rest if (bool(subject) and wrapped is not None and wrapped.fills_column() and rest[:1].islower()
                        and geometry.starts_past_indent()) else None
    if not subject:
        return text
    previous = subject[-1]
    if lexicon.BODY_START.match(folded):
        return None
    if is_upper_text(previous) and is_upper_text(text):
        return text  # a wrapped upper-case summary
    if ". " in text:
        return None  # a sentence ends inside it: body text
    if text[:1].islower() or text[:1].isdigit() or text[:1] in "(–-":
        return text
    # a capitalised line continues the summary only when the line before cannot end it ("… với huyện" /
    # "Nam Trà My …") and it does not end a sentence; otherwise it is the body's first paragraph
    if text.endswith((".", ":", ";")):
        return None
    words = previous.split()
    return text if words and _is_open_ending(words[-1]) else None


def _place_date_text(text: str, folded: str, next_line: Line | None) -> tuple[str, bool]:
    """The place-and-date line, joined with the next line when the date wrapped ("…, ngày 25 tháng 01⏎năm
    2019", "Thành phố Hồ Chí Minh,⏎ngày …"); True when joined."""
    if next_line is None or not next_line.text:
        return text, False
    match = _PLACE_DATE.search(folded)
    if (match and parse_date(text) is None) or _PLACE_ONLY.match(text):
        joined = f"{text} {next_line.text}"
        if parse_date(joined) or _BLANK_DATE.search(fold(joined)):
            return joined, True
    return text, False


def _place_and_date(text: str) -> tuple[str, str | None] | None:
    """(place, ISO date) of a place-and-date line; the date is None when it is unreadable or was never
    filled in ("ngày … tháng … năm 2020")."""
    match = _PLACE_DATE.search(fold(text))
    if match is None:
        return None
    place = text[match.start("place") : match.end("place")].strip(" .,-")
    if not place or not (place[0].isupper() or place[0].isdigit()):
        return None
    return place, parse_date(text[match.end() :])


def _parse_place_date(text: str, header: DocumentHeader) -> None:
    found = _place_and_date(text)
    if found is not None:
        header.place, header.date = found
        header.date_parts = date_parts(text, header.date)


def date_parts(text: str, date: str | None) -> DateParts | None:
    """The day, month and year of a date line, those that could be read (all three when `date` is known)."""
    if date is not None:
        year, month, day = (int(part) for part in date.split("-"))
        return DateParts(day, month, year)
    match = _DATE_PARTS.search(fold(text))
    if match is None:
        return None
    read_day, read_month = (int(value) if value else None for value in (match["d"], match["m"]))
    return DateParts(read_day if read_day and 1 <= read_day <= 31 else None,
                     read_month if read_month and 1 <= read_month <= 12 else None, int(match["y"]))


def _parse_recipients(doc: DocumentText, layout: Layout, start: int) -> int:
    """'Kính gửi:' inline or as a list of '- …' lines; returns the first line after it."""
    end = min(len(doc.lines), start + RECIPIENTS_MAX_LINES)
    for index in range(start, end):
        line = doc.lines[index]
        folded = doc.folded[line.start : line.end]
        match = lexicon.RECIPIENTS.match(folded)
        if not match:
            continue
        items: list[str] = []
        layout.skip.add(index)
        inline = line.text[match.end() :].strip()
        if inline:
            items += [part for part in re.split(r"\s*;\s*-?\s*|\s+-\s+", lexicon.BULLET_PREFIX.sub("", inline)) if part]
        j = index + 1
        while j < len(doc.lines):
            text = doc.lines[j].text
            if lexicon.BULLET_PREFIX.match(text):
                items.append(text)
            elif (text and items and not items[-1].rstrip().endswith((".", ";", ":"))
                  and not lexicon.BODY_START.match(doc.folded[doc.lines[j].start : doc.lines[j].end])):
                items[-1] += " " + text  # a recipient wrapped onto the next line
            elif not text and not items:
                j += 1
                continue
            else:
                break
            layout.skip.add(j)
            j += 1
        layout.header.recipients = [c for c in (_clean_item(item) for item in items) if c]
        return j
    return start


def _find_closing(doc: DocumentText, layout: Layout) -> None:
    """The 'Nơi nhận' list and the signature block. An appendix after them is the document's own; an
    appendix before them sits inside the body (the layout of the spec format)."""
    lines = doc.lines
    appendix = _find_appendix(doc, layout.body_start)
    layout.appendix_start = appendix
    noi_nhan = [line.index for line in lines[layout.body_start :]
                if lexicon.DISTRIBUTION.match(doc.folded[line.start : line.end])]
    before = [index for index in noi_nhan if appendix is None or index < appendix]
    if before or noi_nhan:
        index = before[-1] if before else noi_nhan[-1]
        zone_end = appendix if before and appendix is not None else len(lines)
        start = _signature_start_before(doc, index, layout.body_start)
        layout.closing_start, layout.closing_end = start, zone_end
        _parse_closing(doc, layout, start, index, zone_end)
        return
    end = appendix if appendix is not None else len(lines)
    start = _signature_start_before(doc, end, layout.body_start)
    if start < end:
        layout.closing_start, layout.closing_end = start, end
        _parse_closing(doc, layout, start, None, end)


def _signature_start_before(doc: DocumentText, index: int, floor: int) -> int:
    """Signature lines that come before 'Nơi nhận' (or the end): upper-case authority lines and a name."""
    j = index
    while j - 1 >= floor and index - (j - 1) <= SIGNATURE_MAX_LINES:
        text = doc.lines[j - 1].text
        folded = doc.folded[doc.lines[j - 1].start : doc.lines[j - 1].end]
        if not text or _match_authority(text) or lexicon.SIGNED.match(folded) or (
            is_upper_text(text) and len(text) < SIGNATURE_TITLE_MAX_CHARS) or _is_name(text):
            j -= 1
            continue
        break
    while j < index and not doc.lines[j].text:
        j += 1
    # keep only if it really holds a signature (an authority line or an upper-case title)
    has_title = any(
        _match_authority(line.text) or (is_upper_text(line.text) and len(line.text) < SIGNATURE_TITLE_MAX_CHARS)
        for line in doc.lines[j:index]
    )
    return j if has_title else index


def _parse_closing(doc: DocumentText, layout: Layout, start: int, noi_nhan: int | None, end: int) -> None:
    """Distribution items are the bullets after 'Nơi nhận' (and their wrapped lines); the rest of the zone,
    and whatever OCR glued to the right of an item, is the signature block."""
    header = layout.header
    signature_lines: list[str] = []
    distribution: list[str] = []
    seen_noi_nhan = False
    for index in range(start, end):
        line = doc.lines[index]
        layout.skip.add(index)
        text, right = _split_columns(doc, line)
        if right:
            signature_lines.append(right)
        if not text:
            continue
        geometry = doc.geometry.get(index)
        if geometry is not None and geometry.starts_right():
            signature_lines.append(text)  # the signature column: nothing here is a distribution item
            continue
        folded = fold(text)
        if noi_nhan is not None and index == noi_nhan:
            match = lexicon.DISTRIBUTION.match(folded)
            rest = text[match.end() :].strip() if match else ""
            seen_noi_nhan = True
            unbulleted = lexicon.BULLET_PREFIX.sub("", rest)
            if rest and (_match_authority(unbulleted) or (
                    is_upper_text(unbulleted) and not unbulleted.endswith((";", ".")))):
                signature_lines.append(unbulleted)  # the signature column's first line, read with the label
            elif rest:
                item, signature = _split_signature(rest)
                if item:
                    distribution.append(item)
                if signature:
                    signature_lines.append(signature)
            continue
        if not _TYPED_BULLET.match(text) and _continues_signature(signature_lines, _LEADING_DEBRIS.sub("", text)):
            signature_lines.append(text)  # "_PHÓ CHỦ TỊCH", "-_ Trần Ngọc Căng": a seal's speck read as a bullet
            continue
        if seen_noi_nhan and (_is_item(text) or (distribution and _continues_item(distribution[-1], text))):
            item, signature = _split_signature(text)
            if _is_item(item) or not distribution:
                distribution.append(item)
            elif item:
                distribution[-1] += " " + item
            if signature:
                signature_lines.append(signature)
            continue
        signature_lines.append(text)
    header.distribution = [c for c in (_clean_item(item) for item in distribution) if c]
    header.signer = _parse_signer(signature_lines)


def _continues_signature(signature_lines: list[str], text: str) -> bool:
    """A line under a signature's title is its next title or the signer's name, even when OCR put a bullet-like
    speck before it."""
    if not signature_lines or not text:
        return False
    titled = any(_match_authority(_LEADING_DEBRIS.sub("", line)) or is_upper_text(line) for line in signature_lines)
    return titled and (_is_name(text) or (is_upper_text(text) and len(text) < SIGNATURE_TITLE_MAX_CHARS
                                          and _clean_title(text) is not None))


def _split_columns(doc: DocumentText, line: Line) -> tuple[str, str]:
    """(left column, right column) of a closing-block line that OCR read across both columns, where the word
    boxes show the gutter; (the line, "") otherwise."""
    geometry = doc.geometry.get(line.index)
    offset = geometry.gutter_offset() if geometry is not None and not geometry.starts_right() else None
    if offset is None or not line.start < offset < line.end:
        return line.text, ""
    return doc.text[line.start : offset].strip(), doc.text[offset : line.end].strip()


def _is_item(text: str) -> bool:
    """A bulleted list line with words after the bullet (a lone "+" or "-" is a speck or a pen stroke)."""
    bullet = lexicon.BULLET_PREFIX.match(text)
    return bullet is not None and sum(ch.isalpha() for ch in text[bullet.end() :]) >= 2


def _continues_item(item: str, text: str) -> bool:
    """A wrapped distribution item ("- Ban Chỉ đạo Quốc gia về PCTT⏎(b/c);"), not a signature line."""
    if item.rstrip().endswith((";", ".", ",")):
        return False
    folded = fold(text)
    return not (_match_authority(text) or is_upper_text(text) or _is_name(text) or lexicon.SIGNED.match(folded))


def _split_signature(text: str) -> tuple[str, str]:
    """A distribution line that OCR merged with the signature column: '- Như trên; KT. CHỦ TỊCH'."""
    match = lexicon.AUTHORITY_INSIDE.search(text)
    if match and match.start() > 0:
        return text[: match.start()].strip(), text[match.start() :].strip()
    words = text.split()
    k = len(words)
    capitals = 0  # upper-case words of the tail; debris a seal or signature left among them is carried along
    while k > 0:
        word = words[k - 1]
        if is_upper_text(word, 1.0) and len(word) > 1 and word[-1].isalpha():
            capitals += 1
        elif _is_word(word) or word[-1] in ";.,":
            break
        k -= 1
    if capitals >= 2 and k > 0 and words[k - 1].endswith((";", ".", ",")):
        return " ".join(words[:k]), " ".join(words[k:])
    return text, ""


def _parse_signer(lines: list[str]) -> Signer | None:
    """Authority = the last prefix (KT. in "TM. UBND / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH"); title = the upper-case
    lines after it, or what followed the prefix; name = the person's name line, read through the name model."""
    authority = None
    prefixed_title: str | None = None
    titles: list[str] = []
    name = None
    for line in lines:
        text = _LEADING_DEBRIS.sub("", line)
        folded = fold(text)
        if not text or lexicon.SIGNED.match(folded):
            continue
        match = _match_authority(text)
        if match:
            authority = _authority_name(match)
            prefixed_title = _clean_title(text[match.end() :])
            titles = []
        elif is_upper_text(text) and len(text) < SIGNER_TITLE_MAX_CHARS:
            title = _clean_title(text)
            if title:
                titles.append(title)
        elif _is_name(text):
            name = read_name(text)
    if authority is None and not titles and name is None:
        return None
    if authority is None and len(titles) >= 2 and fold(titles[-1]) == "pho " + fold(titles[-2]):
        authority, titles = "KT.", titles[-1:]  # "CHỦ TỊCH / PHÓ CHỦ TỊCH": a deputy signs for the head
    # What follows "TM." is the collective body signed for (ỦY BAN NHÂN DÂN), never a title: when the title line
    # under it is lost, the title is unknown. After KT., TL., TUQ. and Q. it is the office, the best we have.
    title = " ".join(titles) if titles else (None if authority == "TM." else prefixed_title)
    return Signer(authority=authority, title=title, name=name)


def _find_appendix(doc: DocumentText, start: int) -> int | None:
    for line in doc.lines[start:]:
        if len(line.text) <= HEADING_MAX_CHARS and lexicon.APPENDIX.match(doc.folded[line.start : line.end]):
            rest = doc.folded[line.start : line.end][8:].strip(" :.")
            if not rest or re.match(r"^(?:[ivxlc]+|\d+|[a-z])?\b", rest):
                return line.index
    return None


def parse_layout(doc: DocumentText) -> Layout:
    """The header record and the layout of the document."""
    layout = Layout(DocumentHeader())
    if not doc.text.strip():
        return layout
    body_start = _parse_header_block(doc, layout)
    layout.header_end = body_start
    body_start = _parse_recipients(doc, layout, body_start)
    layout.body_start = body_start
    header = layout.header
    if header.type_name is None and header.subject and header.code and header.symbol:
        cong_van = doc_types().by_abbr["CV"]
        header.type, header.type_name = cong_van.abbr, cong_van.name
    _find_closing(doc, layout)
    if header.signer is None or header.signer.name is None:
        _signer_by_position(doc, layout)
    return layout


def _signer_by_position(doc: DocumentText, layout: Layout) -> None:
    """The signer's name where Decree 30 sets it, when the signature block around it is unreadable (a seal over
    the titles, no "Nơi nhận" read): the document's last line (before an appendix) is a person's name, whose first
    word is a family name (but for its marks, through the name model), in the right column as the page's word
    boxes show, and no province's or district's name but one shaped as only a person's is. Text alone tells neither
    the column nor a list's last item ("- Nguyễn Văn An") or a place's name ("Hà Tĩnh") from a signer's name:
    without word boxes none is taken."""
    end = layout.appendix_start if layout.appendix_start is not None else len(doc.lines)
    last = next((line for line in reversed(doc.lines[layout.body_start : end]) if line.text), None)
    if last is None or last.index in layout.skip:
        return
    text = _LEADING_DEBRIS.sub("", last.text)
    geometry = doc.geometry.get(last.index)
    if geometry is None or not geometry.starts_right() or _TYPED_BULLET.match(last.text):
        return
    if not _is_name(text) or (names_an_area(text) and not _person_spelled_as_area(text)):
        return
    name = read_name(text)
    family = name.split()[0]
    if family not in FAMILY_NAMES or fold(family) != fold(text.split()[0]):
        return  # a family name as written, or but for its marks ("Hỗ" → Hồ; "Sở" is no name)
    signer = layout.header.signer or Signer()
    layout.header.signer = Signer(signer.authority, signer.title, name)
    layout.signer_by_position = True
    layout.skip.add(last.index)


def _person_spelled_as_area(text: str) -> bool:
    """A person's name that a province or district shares ("Trần Văn Thời", a district named after a person): three
    or four words, family name first, with a middle name that is nothing else (Văn, Thị). A lone area's name
    after an unreadable block ("Hà Tĩnh", "Lê Chân") is no signer's; under a block read, the name's place after the
    title decides (_parse_signer), whatever the gazetteer holds."""
    words = text.split()
    return 3 <= len(words) <= 4 and any(word in ANCHOR_MIDDLE_NAMES for word in words[1:-1])
