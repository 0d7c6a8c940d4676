"""Document codes ("539/QĐ-UBND", "321/2025/NĐ-CP", "29-NQ/TW") in text, tolerant of OCR damage, and the
references a document makes to other documents."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from pipeline.extract.dates import parse_date_at, read_digits, valid_date
from pipeline.extract.text import DocType, DocumentText, doc_types, fold_key
from pipeline.types import Reference
from pipeline.vietnamese import digit_letters

# One symbol group: starts with a capital, letters/digits, and is a whole word ("Sở" is not the group "S").
_GROUP = r"[A-ZĐ][A-Za-zĐđ0-9]*(?![\w])"
# Separators may carry spaces ("1906 /SGDĐT") and a line break around them ("539/QĐ-⏎UBND", "18⏎/KH-UBND");
# a dash that starts a line is part of a code only when a letter follows at once: "- Sở Y tế" is a list item.
_SLASH = r"[ \t]*\n?[ \t]*/[ \t]*(?:\n[ \t]*)?"
_DASH = r"(?:[ \t]*[-–—][ \t]*(?:\n[ \t]*)?|[ \t]*\n[-–—](?=[A-ZĐ]))"
_NUMBER_START = r"(?<![\w./\-])"

_STATE = re.compile(
    _NUMBER_START + rf"(?P<num>\d{{1,5}}(?:\.\d{{1,3}})?){_SLASH}(?:(?P<year>(?:19|20)\d\d){_SLASH})?"
    rf"(?P<sym>{_GROUP}(?:{_DASH}{_GROUP})*)"
)
_PARTY = re.compile(
    _NUMBER_START + rf"(?P<num>\d{{1,5}}){_DASH}(?P<type>{_GROUP}){_SLASH}"
    rf"(?P<sym>{_GROUP}(?:(?:{_SLASH}|{_DASH}){_GROUP})*)"
)
_SEPARATOR = re.compile(r"\s*([-–—/])\s*")
# OCR confusions inside a symbol: "Qb" and "Qđ" for "QĐ".
_CONFUSIONS = str.maketrans({"b": "Đ", "đ": "Đ", "d": "Đ", "0": "O"})
# Mixed-case abbreviations that are not document types but appear in codes.
_MIXED_CASE_ISSUERS = frozenset({"TTg", "CTrTT", "GDĐT", "VHTTDL"})


@dataclass(frozen=True)
class CodeMatch:
    """One document code found in text."""

    start: int
    end: int
    code: str  # canonical
    number: str
    year: int | None
    symbol: str  # canonical symbol: "QĐ-UBND", "NQ/TW"
    doc_type: DocType | None  # the type named by the symbol, if any
    issuer_code: str | None
    party: bool


def _fix_type(group: str, party: bool) -> DocType | None:
    """The document type a symbol group names, repairing OCR damage; None when it names none."""
    types = doc_types()
    table = types.party_by_abbr if party else types.by_abbr
    # "QĐĐ": OCR doubled a letter
    undoubled = re.sub(r"(.)\1+", r"\1", group)
    for candidate in (group, group.translate(_CONFUSIONS), group.upper(), undoubled):
        if candidate in table:
            return table[candidate]
    key = fold_key(group)
    matches = {t.abbr for t in table.values() if t.abbr and fold_key(t.abbr) == key}
    return table[matches.pop()] if len(matches) == 1 else None


# Issuer groups common enough to repair OCR damage towards them ("LIBND" → "UBND").
_COMMON_ISSUERS = frozenset({"UBND", "HĐND", "BCĐ", "VPCP", "TTg", "CP", "QH", "TW", "TU", "HU", "ĐU"})
_ISSUER_CONFUSIONS = (("LI", "U"), ("IJ", "U"), ("0", "Đ"), ("D", "Đ"))


# A last symbol group OCR read with digits and spaces for its capitals ("942/QĐ-1 1g" for 942/QĐ-TTg): after the
# code's dash, up to five such characters with at most one space inside, a whole word. It joins the code only
# when OCR's readings of capitals make it one of the common issuers.
_GARBLED_GROUP = re.compile(_DASH + r"(?P<group>[0-9|!A-Za-z](?: ?[0-9|!A-Za-z]){0,4})(?![\w/])")
_CAPITAL_READINGS = (str.maketrans("1|!0", "TTTO"), str.maketrans("1|!0", "IIIĐ"))


def _garbled_issuer(text: str, end: int, limit: int) -> tuple[str, int] | None:
    """(issuer, end) of a common issuer group OCR garbled with digits for capitals right after a code's end (and
    before `limit`)."""
    match = _GARBLED_GROUP.match(text, end, limit)
    if match is None or not any(ch.isdigit() or ch in "|!" for ch in match.group("group")):
        return None
    squeezed = match.group("group").replace(" ", "")
    for readings in _CAPITAL_READINGS:
        repaired = _fix_group(squeezed.translate(readings))
        if repaired in _COMMON_ISSUERS:
            return repaired, match.end()
    return None


def _stroke_misread(group: str) -> str | None:
    """The one common issuer a group is, but for an "I" OCR read for a letter's stroke ("NQ-CI" → NQ-CP): Decree
    30's abbreviations are the initials of Vietnamese syllables, and hardly any begins with an I."""
    if group in doc_types().by_abbr:
        return None
    near = {issuer for issuer in _COMMON_ISSUERS if _one_letter_apart(group, issuer) and all(
        a == b or a == "I" for a, b in zip(group, issuer, strict=True))}
    return near.pop() if len(near) == 1 else None


def _one_letter_apart(word: str, other: str) -> bool:
    """Whether two words of one length differ in exactly one letter (OCR's misreading of one)."""
    return len(word) == len(other) and sum(a != b for a, b in zip(word, other, strict=True)) == 1


def _fix_issuer(group: str) -> str:
    """A group after a code's first (its issuer's) repaired as `_fix_group` does, and "CI" → "CP"."""
    fixed = _fix_group(group)
    stroke = _stroke_misread(fixed) if fixed == group and "I" in group and group not in _COMMON_ISSUERS else None
    return stroke or fixed


def _fix_group(group: str) -> str:
    """An issuer group with frequent OCR confusions repaired ("UBNb" → "UBNĐ", "LIBND" → "UBND")."""
    if group not in _COMMON_ISSUERS:
        for wrong, right in _ISSUER_CONFUSIONS:
            repaired = group.replace(wrong, right, 1)
            if repaired != group and repaired in _COMMON_ISSUERS:
                return repaired
    if group in _MIXED_CASE_ISSUERS or not any(ch.islower() for ch in group):
        return group
    lower = [ch for ch in group if ch.islower()]
    if set(lower) <= {"b", "đ"} and group[0].isupper():
        return group.translate(_CONFUSIONS)
    return group


def _groups(symbol: str) -> tuple[list[str], list[str]]:
    parts = _SEPARATOR.split(symbol.strip())
    groups = parts[0::2]
    separators = ["-" if s in "-–—" else s for s in parts[1::2]]
    return groups, separators


def _build(match: re.Match[str], party: bool) -> CodeMatch | None:
    number = match.group("num")
    groups, separators = _groups(match.group("sym"))
    year = None
    if party:
        doc_type = _fix_type(match.group("type"), party=True)
        type_abbr = doc_type.abbr if doc_type and doc_type.abbr else _fix_group(match.group("type"))
        issuer_groups = [_fix_issuer(g) for g in groups]
        issuer = "".join(g + s for g, s in zip(issuer_groups, [*separators, ""], strict=True))
        symbol = f"{type_abbr}/{issuer}"
        code = f"{number}-{symbol}"
    else:
        year = int(match.group("year")) if match.group("year") else None
        doc_type = _fix_type(groups[0], party=False)
        if doc_type is not None and len(groups) > 1:
            fixed = [doc_type.abbr or groups[0], *(_fix_issuer(g) for g in groups[1:])]
            issuer = "-".join(fixed[1:])
        else:
            doc_type = None if len(groups) > 1 or year is None else doc_type
            fixed = [_fix_group(groups[0]), *(_fix_issuer(g) for g in groups[1:])]
            issuer = "-".join(fixed)
        symbol = "-".join(fixed)
        code = f"{number}/{year}/{symbol}" if year else f"{number}/{symbol}"
    letters = sum(ch.isupper() for ch in symbol)
    if letters < 2:
        return None
    return CodeMatch(match.start(), match.end(), code, number, year, symbol, doc_type, issuer or None, party)


# A code's number right after "số" with OCR's letters for digits ("số I3/UB-TP", "số !3/2018/NĐ-CP",
# "Số: lO5/QĐ"): "số" and the slash that follows make the token a number, so its letters are digits. At least
# one real digit is required: "số I/…" stays a Roman numeral.
_DIGIT_READINGS = str.maketrans(digit_letters(without="o§"))
_LETTERS = re.escape("".join(digit_letters(without="o§")))
_MISREAD_NUMBER = rf"(?P<num>(?=[0-9{_LETTERS}]*[0-9])(?=[0-9]*[{_LETTERS}])[0-9{_LETTERS}]{{2,5}})(?=[ \t]*/)"
_NUMBER_AFTER_SO = re.compile(r"(?<![\w])[Ss][ốỐôÔoO]\s*[:.]?\s*" + _MISREAD_NUMBER)
# After the header's "Số:" label: its number, and a space OCR read for the slash before a type ("110 QĐ-STP").
# There a number is never a Roman numeral, so "lI" is 11 with no real digit beside it.
_LABELLED_NUMBER = re.compile(rf"[ \t]*(?P<num>(?=[0-9]*[{_LETTERS}])[0-9{_LETTERS}]{{2,5}})(?=[ \t]*/)")
_LOST_SLASH = re.compile(r"([ \t]*\d{1,5}) (?=(?P<group>[A-ZĐ][A-Za-zĐđ]{0,3})-)")


def read_number_digits(text: str) -> str:
    """`text` with the letters OCR put for digits in code numbers after "số" read as digits; one character
    for one character, so offsets stay valid."""
    def digits(match: re.Match[str]) -> str:
        head = match.group(0)[: match.start("num") - match.start()]
        return head + match.group("num").translate(_DIGIT_READINGS)

    return _NUMBER_AFTER_SO.sub(digits, text)


def read_labelled_code(rest: str) -> str:
    """The text after a header's "Số:" label with the OCR damage the label makes certain repaired: letters for
    digits in its number ("II0/QĐ"), a space for the slash before a document type ("110 QĐ-STP"). One character
    for one character."""
    number = _LABELLED_NUMBER.match(rest)
    if number:
        rest = rest[: number.start("num")] + number.group("num").translate(_DIGIT_READINGS) + rest[number.end():]
    lost = _LOST_SLASH.match(rest)
    if lost and lost.group("group") in doc_types().by_abbr:
        rest = lost.group(1) + "/" + rest[lost.end():]
    return rest


def _with_garbled_issuer(code: CodeMatch, text: str, limit: int) -> CodeMatch:
    """A state code extended by a garbled common issuer group after it ("942/QĐ" + "-1 1g" → 942/QĐ-TTg)."""
    garbled = None if code.party else _garbled_issuer(text, code.end, limit)
    if garbled is None:
        return code
    issuer, end = garbled
    match = _STATE.fullmatch(f"{text[code.start:code.end]}-{issuer}")
    built = _build(match, party=False) if match else None
    return code if built is None else replace(built, start=code.start, end=end)


def iter_codes(text: str, start: int = 0, end: int | None = None) -> Iterator[CodeMatch]:
    """Every document code of `text[start:end]`, in order (state and Party styles); code numbers after "số"
    are read through OCR's letters for digits."""
    end = len(text) if end is None else end
    text = read_number_digits(text)
    found: list[CodeMatch] = []
    for pattern, party in ((_STATE, False), (_PARTY, True)):
        for match in pattern.finditer(text, start, end):
            built = _build(match, party)
            if built is not None:
                found.append(_with_garbled_issuer(built, text, end))
    found.sort(key=lambda c: (c.start, -c.end))
    last_end = -1
    for code in found:
        if code.start >= last_end:
            last_end = code.end
            yield code


def parse_code(text: str) -> CodeMatch | None:
    """The first document code in `text` ("Số: 112/VPĐP-NTM" → 112/VPĐP-NTM)."""
    return next(iter_codes(text), None)


# --------------------------------------------------------------------------- context: "Quyết định số …"


_SO_BEFORE = re.compile(r"(?:(?<![\w])so\s*[:.]?\s*|\s)$")


def context_type(folded: str, start: int) -> DocType | None:
    """The type named just before a code: "Quyết định số 539/…", "Luật Tổ chức Chính phủ số 63/…"."""
    window_start = max(0, start - 90)
    window = folded[window_start:start]
    cut = max(window.rfind(ch) for ch in ";()\n")
    window = window[cut + 1 :]
    if not _SO_BEFORE.search(window):
        return None
    names = list(doc_types().name_pattern.finditer(window))
    if not names:
        return None
    last = names[-1]
    between = window[last.end() :]
    # the name must be followed directly by "số", or by the title of a law ("Luật Đất đai số 45/…")
    if not re.fullmatch(r"\s*(?:so\s*[:.]?\s*)?", between) and not (
        last.group(1) in ("luat", "bo luat", "phap lenh") and re.search(r"so\s*[:.]?\s*$", between)
    ):
        return None
    return doc_types().from_name(last.group(1))


# What OCR glued to a code's end ("42/NQ-CI*P ngày …": a misread letter's remnant) is skipped up to the space.
_DATE_LEAD = re.compile(r"(?:[^\s\w]\w?(?=\s))?\s*[,.]?\s*\(?\s*(?:(?:ban hanh|ky|ky ban hanh)\s+)?(?=[an]g[a-z][yu]\b|\d)")
# OCR's readings of "ngày" in a date (folded): "agày", "ngàu"; its digits go through dates.read_digits.
_DAY_WORD = re.compile(r"^[an]g[a-z][yu]\b")
DATE_REACH = 40  # characters a date after a code spans at most


def date_after(folded: str, end: int, latest: str | None = None) -> str | None:
    """The date written right after a code: "539/QĐ-UBND ngày 02/4/2020", "88/CP. ngày 17/8/1994", also with
    OCR's readings of its digits and of "ngày", and (given the `latest` it can be) through the one reading of a
    damaged date that is a date no later."""
    lead = _DATE_LEAD.match(folded, end)
    if lead is None:
        return None
    window = folded[lead.end() : lead.end() + DATE_REACH]
    window = read_digits(_DAY_WORD.sub("ngay", window))
    parsed = parse_date_at(window, 0)
    if parsed:
        return parsed[0]
    return repair_date(window, latest) if latest else None


# A cited date OCR damaged by one character, so that it is no date: a digit added to its year ("năm 20270") or a
# day its month does not have ("42/02/2018"). Its readings one character away that are dates are tried.
_DAMAGED_DATE = re.compile(
    r"(?:ngay\s*(?P<d1>\d{1,2})\s*,?\s*th[a-z]ng\s*(?P<m1>\d{1,2})\s*,?\s*nam\s*(?P<y1>\d{4,5}))"
    r"|(?:(?:ngay\s*)?(?P<d2>\d{1,2})\s?[/.\-]\s?(?P<m2>\d{1,2})\s?[/.\-]\s?(?P<y2>\d{4,5}))(?!\d)"
)


def _iso_date(year: str, month: str, day: str) -> str | None:
    date = valid_date(int(year), int(month), int(day)) if len(year) == 4 else None
    return date.isoformat() if date else None


def _one_character_readings(year: str, month: str, day: str) -> set[str]:
    """The dates one character from a damaged one: a digit of a five-digit year dropped, or one digit of a day
    changed."""
    years = [year[:k] + year[k + 1 :] for k in range(len(year))] if len(year) == 5 else []
    days = [day[:k] + digit + day[k + 1 :] for k in range(len(day)) for digit in "0123456789"]
    readings = [(y, month, day) for y in years] + ([(year, month, d) for d in days] if len(year) == 4 else [])
    return {iso for iso in (_iso_date(*reading) for reading in readings) if iso is not None}


def repair_date(window: str, latest: str) -> str | None:
    """The one date, not after `latest`, that a damaged date at the start of a folded `window` can be read as by
    changing one character ("ngày 09 tháng 4 năm 20270" cited by a document of 2020 → 2020-04-09); None when there
    is none or more than one."""
    match = _DAMAGED_DATE.match(window)
    if match is None:
        return None
    g = match.group
    year, month, day = (g("y1"), g("m1"), g("d1")) if g("y1") else (g("y2"), g("m2"), g("d2"))
    if _iso_date(year, month, day) is not None:
        return None  # a date as read: not damaged
    readings = {iso for iso in _one_character_readings(year, month, day) if iso <= latest}
    return readings.pop() if len(readings) == 1 else None


def _plausible(date: str | None, code: CodeMatch, own_year: int | None) -> str | None:
    """A cited document's date, or None when it falls in a year after the citing document's: one of the two
    years is misread, and the cited date is dropped unless its code's own year ("13/2018/NĐ-CP") agrees."""
    if date is None or own_year is None or int(date[:4]) <= own_year or code.year == int(date[:4]):
        return date
    return None


def _symbol_misread(code: str, other: str, by_abbr: Mapping[str, DocType]) -> bool:
    """`code` is `other` with OCR's one-letter misreading of its document type ("42/HQ" for 42/NQ-CP): same
    number and year, a first group that names no type nor a common issuer, one letter from `other`'s type, and no
    other group that differs (`other` may carry groups the misread mention lost)."""
    number, _, symbol = code.rpartition("/")
    other_number, _, other_symbol = other.rpartition("/")
    groups, other_groups = symbol.split("-"), other_symbol.split("-")
    if number != other_number or groups[0] in by_abbr or groups[0] in _COMMON_ISSUERS or (
            other_groups[0] not in by_abbr):
        return False
    if len(groups) > len(other_groups) or groups[1:] != other_groups[1 : len(groups)]:
        return False
    return _one_letter_apart(groups[0], other_groups[0])


def _misreads(reference: Reference, other: Reference, named: set[str], by_abbr: Mapping[str, DocType]) -> bool:
    """`reference` is a mention of `other` whose type OCR misread: not where its words name another type of
    document ("Công văn số 12/CA" beside Chỉ thị số 12/CT-UBND) or its date is another ("5/NV ngày 3/4" beside 5/NQ
    of 5/2): both are then documents of their own."""
    if named - {other.type_name} or (reference.date and other.date and reference.date != other.date):
        return False
    return _symbol_misread(reference.code, other.code, by_abbr)


def _merge_misreadings(references: list[Reference], named: dict[str, set[str]]) -> list[Reference]:
    """One reference per cited document: a mention whose type OCR misread joins the reference it misreads (of
    the same number: only those are compared). `named` holds the type names each code's mentions are called by."""
    by_abbr = doc_types().by_abbr
    by_number: dict[str, list[Reference]] = {}
    for reference in references:
        by_number.setdefault(reference.code.rpartition("/")[0], []).append(reference)
    kept: list[Reference] = []
    for reference in references:
        target = next((other for other in by_number[reference.code.rpartition("/")[0]] if other is not reference
                       and _misreads(reference, other, named.get(reference.code, set()), by_abbr)), None)
        if target is None:
            kept.append(reference)
            continue
        target.mentions = sorted([*target.mentions, *reference.mentions], key=lambda m: (m.page, m.start))
        target.date = target.date or reference.date
        if target.year is None and target.date:
            target.year = int(target.date[:4])
    return kept


def extract_references(doc: DocumentText, *, own_code: str | None = None, own_year: int | None = None,
                       latest: str | None = None) -> list[Reference]:
    """One Reference per cited document (the document's own code excluded), mentions in text order. A cited
    document's date is never in a year after `own_year`, the citing document's (by year only: a handwritten
    day or month of the document's own date is the less sure reading, which review_fields checks against the
    cited documents' dates); a date OCR damaged is read as the one date a character away that is not after
    `latest`."""
    types = doc_types()
    cong_van = types.by_abbr["CV"]
    by_code: dict[str, Reference] = {}
    named_types: dict[str, set[str]] = {}
    for code in iter_codes(doc.text):
        if own_code and code.code == own_code:
            continue
        named = context_type(doc.folded, code.start)
        if named is not None:
            if named.name != "Văn bản":  # any document is a văn bản: the word names no type apart from another
                named_types.setdefault(code.code, set()).add(cong_van.name if named.name == "Công văn" else named.name)
            named = cong_van if named.name in ("Văn bản", "Công văn") else named
        reference = by_code.get(code.code)
        if reference is None:
            doc_type = code.doc_type
            if doc_type is None and named is not None:
                doc_type = named
            if doc_type is None and code.year is None and not code.party:
                doc_type = cong_van  # Decree 30: only a công văn's code carries no type and no year
            reference = Reference(
                code=code.code,
                number=code.number,
                year=code.year,
                type=doc_type.abbr if doc_type else None,
                type_name=doc_type.name if doc_type else None,
                issuer_code=code.issuer_code,
            )
            by_code[code.code] = reference
        if reference.date is None:
            reference.date = _plausible(date_after(doc.folded, code.end, latest), code, own_year)
            if reference.year is None and reference.date:
                reference.year = int(reference.date[:4])
        reference.mentions.append(doc.span(code.start, code.end))
    return _merge_misreadings(list(by_code.values()), named_types)
