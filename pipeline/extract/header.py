"""The document's own block: issuer, number and symbol, place and date, title/subject, recipients, distribution
and signer; and the layout (where the body, the closing block and the appendix are) for the other extractors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from pipeline.extract.dates import parse_date
from pipeline.extract.references import CodeMatch, iter_codes
from pipeline.extract.text import DocumentText, Line, doc_types, fold, is_upper_text
from pipeline.types import DocumentHeader, Signer
from pipeline.vietnamese import is_valid

# How far into the document the header block may reach.
HEADER_MAX_LINES = 60

_MOTTOS = ("cong hoa xa hoi chu nghia viet nam", "doc lap - tu do - hanh phuc", "dang cong san viet nam")
_RULE = re.compile(r"^[\s\-_=—–.*·~]+$")
# "Số: 12/…", "Số 45-KH/HU"; with a type before it only in the header form "Luật số: 121/…"
_NUMBER = re.compile(r"^(?:[a-z]+(?: [a-z]+){0,3}\s+s[o0]\s*:|s[o0]\s*[:;.]?)\s*(?=[\d/._…])")
# "V/v" and its OCR readings: "VW", "V/V", "Vlv", "V/y", "V.v", "W/v", "V/v:", "V/ " (matched on folded text)
_VV = re.compile(r"^[vw]\s*(?:[/.\\|l1i]?\s*[vyw](?![a-z0-9])|/(?=\s))\s*[:.]?\s*")
# "Lạng Sơn, ngày …", "Phường 2, ngày …"; the place starts with a letter
_PLACE_DATE = re.compile(r"^(?P<place>[^\W\d_][^,]{1,39}?)\s*,\s*(?=ngay\b)")
_PLACE_ONLY = re.compile(r"^[^\W\d_][^,]{1,39},$")
_BLANK_DATE = re.compile(r"ngay\s*[._…\s]*\s*thang\s*[._…\s]*\s*nam\s*(?P<y>(?:19|20)\d\d)")
_BODY_START = re.compile(
    r"^(?:kinh gui|can cu|thuc hien|trien khai|de\s|theo\s|qua\s|ngay\s*\d|tiep theo|nham\s|xet\s|sau khi|"
    r"trong\s|hien nay|nhu\s|vua qua|thoi gian qua|ve viec|chieu\s|sang\s|tai\s|nam \d{4}\s*,|dieu \d)"
)
# "Kính gửi:", or a công điện's "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH điện:"
_KINH_GUI = re.compile(r"^(?:kinh\s*gui\b|[^:]{3,80}\bdien\s*(?=:))\s*[:;.]?\s*")
_NOI_NHAN = re.compile(r"^noi\s*nhan\b\s*[:;.]?\s*")
# A list bullet, with OCR's readings of the dash ("_", "~-", "=", a colon): matched on the text
_BULLET = re.compile(r"^(?:[-–—+•*_~=·¬»]{1,3}|:(?=\s))\s*")
# "KT." and OCR's "KT," / "KT:" (matched on folded text)
_AUTHORITY = re.compile(r"^(t\s*/?\s*m|k\s*/?\s*t|t\s*/?\s*l|tuq|q(?=\s*\.))(?:\s*[.,:]\s*|\s+)(?=[a-z])")
# OCR's readings of the slash in a capitalised prefix: "TIL BAN THƯỜNG VỤ", "T1M", "KlT"
_AUTHORITY_OCR = re.compile(r"^(t\s*[il1|]\s*[ml]|k\s*[il1|]\s*t)(?:\s*[.,:]\s*|\s+)(?=[a-z])")
_AUTHORITIES = {"tm": "TM.", "kt": "KT.", "tl": "TL.", "tuq": "TUQ.", "q": "Q."}
_AUTHORITY_INSIDE = re.compile(r"(?<![\w])(T/?M|K/?T|T/?L|TUQ|Q(?=\s*\.))\s*\.?\s+(?=[A-ZĐÀ-Ỹ])")
_SIGNED = re.compile(r"^[(\[]?\s*(?:da ky|ky ten|ky,|ky va|dong dau|da ky ten|ky so)")
_APPENDIX = re.compile(r"^phu\s*luc\b")
# Capitalised words after which a header line starts a new unit ("UBND TỈNH X" / "SỞ Y TẾ").
_UNIT_HEADS = re.compile(
    r"^(?:ubnd|uy ban|hdnd|hoi dong|so|bo|ban|van phong|phong|chi cuc|cuc|tong cuc|trung tam|truong|cong an|"
    r"bo chi huy|ban chi huy|tinh uy|huyen uy|thanh uy|thi uy|quan uy|dang uy|dang bo|chi bo|mat tran|doan|"
    r"hoi|kho bac|ngan hang|bao hiem|thanh tra|vien|benh vien|cong ty|tong cong ty|toa an|vien kiem sat|"
    r"chinh phu|quoc hoi|thu tuong|lien doan|tinh doan|huyen doan|hoc vien|dai hoc|dai|bao|chi nhanh|"
    r"ban quan ly|bql|hat kiem lam|thuong truc|ban thuong vu|ban chap hanh|ban chi dao|to cong tac)\b"
)
_AUTHORITY_LINE = re.compile(
    r"^(?:chu tich|pho chu tich|bo truong|thu truong|giam doc|pho giam doc|thu tuong|ban thuong vu|"
    r"ban chap hanh|hoi dong nhan dan|uy ban nhan dan|truong ban|chanh van phong|tong cuc truong|"
    r"cuc truong|bi thu|quyet dinh|quyet nghi|chi thi)\b"
)
# Tokens without a letter or digit before a signature line ("_ KT. GIÁM ĐỐC"): specks of the seal or signature
_LEADING_DEBRIS = re.compile(r"^(?:[^\w\s]+\s+)+")
_NAME_WORD = re.compile(r"^[A-ZĐÀ-Ỹ][a-zđà-ỹ]*\.?$")
# Distribution notes of Decree 30/2020 in parentheses ("(b/c)" báo cáo, "(t/h)" thực hiện, "(p/h)" phối hợp)
# and what small-print OCR makes of them: "(B/e)", "(b/€)", "(Bb/c)"
_NOTES = ("b/c", "t/h", "p/h")
_NOTE = re.compile(r"\((?P<note>[^()\s/]{1,2}\s*/\s*[^()\s/]{1,2})\)")
_NOTE_LOOKALIKES = str.maketrans({"€": "c", "¢": "c", "©": "c", "‹": "c", "e": "c"})
# "Lưu: VT, <the drafting unit's abbreviation>" (Decree 30/2020, Phụ lục I): the archive item, whose "VT"
# OCR reads as "VI", "VĨ", "VŨ", "VE", "VL", and whose comma as ";", "_" or nothing ("VŨ NN")
_ARCHIVE_ITEM = re.compile(r"^(?P<head>L[uư]u\s*:\s*)V[IĨÍÌỈỊLEŨUYJ1FT](?:[\s,;._]+(?P<rest>.*))?$")
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
# Words a title line cannot end on: the name or object that completes them is on the next line. Compared with
# their diacritics ("địa bàn" ends a phrase, "Ban" opens one), folded only in text that lost its diacritics.
_OPEN_ENDINGS = frozenset({"của", "về", "và", "với", "các", "tại", "trên", "cho", "năm", "huyện", "tỉnh", "xã",
                           "phố", "phường", "quận", "số", "thị", "trấn", "khu", "ban", "ủy", "uỷ", "đối", "đồng",
                           "theo"})
_OPEN_ENDINGS_FOLDED = frozenset(fold(word) for word in _OPEN_ENDINGS)
_ACRONYM = re.compile(r"^[A-ZĐ]{2,6}$")
_WORD_PUNCTUATION = ".,;:()[]\"'“”‘’"


def _is_open_ending(word: str) -> bool:
    word = word.lower()
    if word in _OPEN_ENDINGS:
        return True
    folded = fold(word)
    return folded == word and folded in _OPEN_ENDINGS_FOLDED


def _is_word(token: str) -> bool:
    """A Vietnamese syllable or an upper-case acronym (UBND), not OCR debris from a seal ("ÄJEaU)", "6H")."""
    token = token.strip(_WORD_PUNCTUATION)
    return bool(token) and (is_valid(token.lower()) or bool(_ACRONYM.match(token)))


def _match_authority(text: str) -> re.Match[str] | None:
    """The signature prefix (TM., KT., TL., TUQ., Q.) a line starts with, on its folded text."""
    folded = fold(text)
    match = _AUTHORITY.match(folded)
    if match is None and is_upper_text(text):
        match = _AUTHORITY_OCR.match(folded)
    return match


def _authority_name(match: re.Match[str]) -> str:
    letters = re.sub(r"[^a-z]", "", match.group(1))
    if letters not in _AUTHORITIES and len(letters) == 3:
        letters = letters[0] + letters[2]  # the slash read as a letter
    return _AUTHORITIES.get(letters, letters.upper() + ".")


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


def _strip_mottos(folded: str) -> list[tuple[int, int]]:
    """Character ranges of the national/Party motto inside a (folded) line, for removal."""
    ranges = []
    for motto in _MOTTOS:
        if len(folded) < 0.75 * len(motto):
            continue
        alignment = fuzz.partial_ratio_alignment(motto, folded, score_cutoff=84)
        if alignment is not None and alignment.dest_end - alignment.dest_start >= 0.75 * len(motto):
            ranges.append((alignment.dest_start, alignment.dest_end))
    return ranges


def _is_debris(text: str, after_motto: bool, continuing: str | None) -> bool:
    """Header debris: a star or speck ("»*", "kả"), or the last word of a motto that OCR wrapped ("NAM").
    A lone word that ends the unit name or the title being read ("ĐÀO⏎TẠO", "mùa hanh⏎khô") is kept:
    `continuing` is "unit" after an issuer line, "title"/"vv" while a subject is read."""
    if not any(ch.isalnum() for ch in text):
        return True
    if " " in text or text.isdigit() or doc_types().from_name(text) is not None:
        return False
    if continuing and not after_motto and _is_word(text) and (continuing != "unit" or text.isupper()):
        return False
    return len(text) <= 3 or (after_motto and len(text) <= 5 and text.isupper())


def _remove_ranges(text: str, ranges: list[tuple[int, int]]) -> str:
    for start, end in sorted(ranges, reverse=True):
        text = text[:start] + " " + text[end:]
    return " ".join(text.split())


def _clean_item(text: str) -> str:
    text = _BULLET.sub("", text.strip())
    text = text.rstrip(_TRAILING).strip()
    text = text[:-2].rstrip(_TRAILING) if text.endswith("/.") else text
    return _canonical_archive_item(_NOTE.sub(_canonical_note, text))


def _canonical_note(match: re.Match[str]) -> str:
    """A parenthesised distribution note one OCR slip away from exactly one of _NOTES, written right."""
    note = "".join(match["note"].split()).lower()
    near = [known for known in _NOTES
            if known == note or Levenshtein.distance(note.translate(_NOTE_LOOKALIKES), known) <= 1]
    return f"({near[0]})" if len(near) == 1 else match[0]


def _canonical_archive_item(text: str) -> str:
    """"Lưu: VŨ NN" → "Lưu: VT, NN": only when what follows "VT" is abbreviations (or nothing)."""
    match = _ARCHIVE_ITEM.match(text)
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
        starts_unit = bool(_UNIT_HEADS.match(folded)) and not folded.startswith(("to quoc", "ban nhan dan"))
        if not units or starts_unit:
            units.append([line])
        else:
            units[-1].append(line)
    return [" ".join(unit) for unit in units]


def _type_of_title(text: str) -> tuple[str, str] | None:
    """(abbreviation, name) when an upper-case title line names a document type ("KẾ HOẠCH")."""
    if not is_upper_text(text) or text.rstrip().endswith(":"):
        return None  # "QUYẾT ĐỊNH:" opens the articles of a decision, it is not its title
    doc_type = doc_types().from_name(text.rstrip(" :"))
    if doc_type is None or doc_type.name == "Văn bản":
        return None
    return doc_type.abbr or "", doc_type.name


def _parse_header_block(doc: DocumentText, layout: Layout) -> int:
    """Walk the first lines: issuer lines, number, V/v, motto, place and date, title and subject.
    Returns the index of the first body line."""
    header = layout.header
    units: list[str] = []
    subject: list[str] = []
    collecting: str | None = None  # "vv" or "title": subject lines being gathered
    subject_lines: list[int] = []  # line indices of `subject`
    number_seen = False
    after_motto = False
    last_was_unit = False
    body_start = 0
    lines = doc.lines[:HEADER_MAX_LINES]
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.text:
            if collecting == "vv":
                collecting = None
            continue
        folded_line = doc.folded[line.start : line.end]
        ranges = _strip_mottos(folded_line)
        text = _remove_ranges(line.text, ranges) if ranges else line.text
        folded = fold(text)
        if ranges:
            layout.skip.add(line.index)
        continuing = "unit" if last_was_unit else collecting
        if not text or _RULE.match(text) or _is_debris(text, after_motto, continuing):
            layout.skip.add(line.index)
            continue
        after_motto = bool(ranges)
        last_was_unit = False
        if collecting == "title":
            if _continues_title(doc, line.index, text, folded, subject, subject_lines):
                subject.append(text)
                subject_lines.append(line.index)
                layout.skip.add(line.index)
                continue
            body_start = line.index
            break
        number = _NUMBER.match(folded)
        if number and not number_seen and header.code is None:
            rest = text[number.end() :]
            code = next(iter_codes(rest), None)
            if code is not None and code.start <= 2:
                header.code, header.number, header.symbol = code.code, code.number, code.symbol
                layout.own_code = next(
                    (c for c in iter_codes(doc.text, line.start, min(len(doc.text), line.end + 40))
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
            number_seen = True
            layout.skip.add(line.index)
            if tail:
                _parse_place_date(tail, header)
            continue
        vv = _VV.match(folded)
        if vv:
            subject = [text[vv.end() :].strip()]
            subject_lines = [line.index]
            collecting = "vv"
            layout.skip.add(line.index)
            continue
        next_line = lines[i] if i < len(lines) else None
        place_date, joined = _place_date_text(text, folded, next_line)
        if _parse_place_date(place_date, header):
            layout.skip.add(line.index)
            if joined and next_line is not None:  # the date wrapped onto the next line
                layout.skip.add(next_line.index)
                i += 1
            collecting = None
            position = line.text.find(header.place or "")
            if header.place and position >= 0:
                layout.place_span = (line.start + position, line.start + position + len(header.place))
            continue
        title = _type_of_title(text)
        if title is not None:
            abbr, name = title
            header.type, header.type_name = abbr or None, name
            subject, subject_lines = [], [line.index]
            collecting = "title"
            layout.skip.add(line.index)
            continue
        if collecting == "vv" and not is_upper_text(text) and not _BODY_START.match(folded):
            subject.append(text)
            subject_lines.append(line.index)
            layout.skip.add(line.index)
            continue
        if is_upper_text(text) and not number_seen and header.date is None:
            units.append(text)
            last_was_unit = True
            layout.skip.add(line.index)
            continue
        if header.date is None and header.place is None and _header_follows(doc, lines, i):
            layout.skip.add(line.index)  # an unreadable header line: the motto or the date line comes next
            continue
        body_start = line.index
        break
    else:
        body_start = lines[-1].index + 1 if lines else 0
    names = _split_units(units)
    if names:
        header.issuer = names[-1]
        header.parent_issuer = " ".join(names[:-1]) or None
    if subject:
        header.subject = " ".join(" ".join(subject).split()).rstrip(_TRAILING) or None
    return body_start


def _header_follows(doc: DocumentText, lines: list[Line], start: int, window: int = 6) -> bool:
    """Whether a motto, a number line or a place-and-date line comes within the next `window` lines."""
    for line in lines[start : start + window]:
        folded = doc.folded[line.start : line.end]
        if folded and (_strip_mottos(folded) or _NUMBER.match(folded) or _PLACE_DATE.search(folded)):
            return True
    return False


def _continues_title(doc: DocumentText, index: int, text: str, folded: str, subject: list[str],
                     subject_lines: list[int]) -> bool:
    """Is this line still the title's summary ("Về việc …" and its wrapped lines)? `subject_lines` starts
    with the type line. Where the page's word boxes are known, a summary line is centred and the body's
    first line is not (indented, or flush with the margins); otherwise the text decides."""
    if (_AUTHORITY_LINE.match(folded) and is_upper_text(text)) or _KINH_GUI.match(folded):
        return False  # the enacting authority ("CHỦ TỊCH ỦY BAN NHÂN DÂN …") or the recipients
    if subject:
        previous = subject[-1]
        if previous.endswith((".", ";", ":")):
            return False
        if is_upper_text(text) and (not is_upper_text(previous) or _UNIT_HEADS.match(folded)):
            # a sentence-case summary is not continued in capitals, and a capitalised unit after a capitalised
            # summary is the enacting body ("ỦY BAN THƯỜNG VỤ QUỐC HỘI")
            return False
    geometry = doc.geometry.get(index)
    if geometry is not None and any(k in doc.geometry for k in subject_lines):
        return geometry.is_centred()  # "trong mùa mưa lũ" centred under the summary continues it
    if not subject:
        return True
    previous = subject[-1]
    if _BODY_START.match(folded):
        return False
    if is_upper_text(previous) and is_upper_text(text):
        return True  # a wrapped upper-case summary
    if ". " in text:
        return False  # a sentence ends inside it: body text
    if text[:1].islower() or text[:1].isdigit() or text[:1] in "(–-":
        return True
    # a capitalised line continues the summary only when the line before cannot end it ("… với huyện" /
    # "Nam Trà My …") and it does not end a sentence; otherwise it is the body's first paragraph
    if text.endswith((".", ":", ";")):
        return False
    words = previous.split()
    return bool(words) and _is_open_ending(words[-1])


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


def _parse_place_date(text: str, header: DocumentHeader) -> bool:
    folded = fold(text)
    match = _PLACE_DATE.search(folded)
    if match is None:
        return False
    place = text[match.start("place") : match.end("place")].strip(" .,-")
    if not place or not (place[0].isupper() or place[0].isdigit()):
        return False
    header.place = place
    header.date = parse_date(text[match.end() :])
    if header.date is None and _BLANK_DATE.search(folded):
        header.date = None  # "ngày … tháng … năm 2020": signed but the day was never filled in
    return True


def _parse_recipients(doc: DocumentText, layout: Layout, start: int) -> int:
    """'Kính gửi:' inline or as a list of '- …' lines; returns the first line after it."""
    end = min(len(doc.lines), start + 40)
    for index in range(start, end):
        line = doc.lines[index]
        folded = doc.folded[line.start : line.end]
        match = _KINH_GUI.match(folded)
        if not match:
            continue
        items: list[str] = []
        layout.skip.add(index)
        inline = line.text[match.end() :].strip()
        if inline:
            items += [part for part in re.split(r"\s*;\s*-?\s*|\s+-\s+", _BULLET.sub("", inline)) if part]
        j = index + 1
        while j < len(doc.lines):
            text = doc.lines[j].text
            if _BULLET.match(text):
                items.append(text)
            elif (text and items and not items[-1].rstrip().endswith((".", ";", ":"))
                  and not _BODY_START.match(doc.folded[doc.lines[j].start : doc.lines[j].end])):
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
                if _NOI_NHAN.match(doc.folded[line.start : line.end])]
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
    while j - 1 >= floor and index - (j - 1) <= 8:
        text = doc.lines[j - 1].text
        folded = doc.folded[doc.lines[j - 1].start : doc.lines[j - 1].end]
        if not text or _match_authority(text) or _SIGNED.match(folded) or (
            is_upper_text(text) and len(text) < 60) or _is_name(text):
            j -= 1
            continue
        break
    while j < index and not doc.lines[j].text:
        j += 1
    # keep only if it really holds a signature (an authority line or an upper-case title)
    has_title = any(
        _match_authority(line.text) or (is_upper_text(line.text) and len(line.text) < 60)
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
            match = _NOI_NHAN.match(folded)
            rest = text[match.end() :].strip() if match else ""
            seen_noi_nhan = True
            unbulleted = _BULLET.sub("", rest)
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
    bullet = _BULLET.match(text)
    return bullet is not None and sum(ch.isalpha() for ch in text[bullet.end() :]) >= 2


def _continues_item(item: str, text: str) -> bool:
    """A wrapped distribution item ("- Ban Chỉ đạo Quốc gia về PCTT⏎(b/c);"), not a signature line."""
    if item.rstrip().endswith((";", ".", ",")):
        return False
    folded = fold(text)
    return not (_match_authority(text) or is_upper_text(text) or _is_name(text) or _SIGNED.match(folded))


def _split_signature(text: str) -> tuple[str, str]:
    """A distribution line that OCR merged with the signature column: '- Như trên; KT. CHỦ TỊCH'."""
    match = _AUTHORITY_INSIDE.search(text)
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
    lines after it, or what followed the prefix; name = the person's name line."""
    authority = None
    prefixed_title: str | None = None
    titles: list[str] = []
    name = None
    for line in lines:
        text = _LEADING_DEBRIS.sub("", line)
        folded = fold(text)
        if not text or _SIGNED.match(folded):
            continue
        match = _match_authority(text)
        if match:
            authority = _authority_name(match)
            prefixed_title = _clean_title(text[match.end() :])
            titles = []
        elif is_upper_text(text) and len(text) < 70:
            title = _clean_title(text)
            if title:
                titles.append(title)
        elif _is_name(text):
            name = text
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
        if len(line.text) <= 80 and _APPENDIX.match(doc.folded[line.start : line.end]):
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
    return layout


def header_lines(doc: DocumentText, layout: Layout) -> list[Line]:
    """The lines of the header block (issuer, number, motto, place/date, title)."""
    return [line for line in doc.lines[: layout.body_start] if line.index in layout.skip]
