"""Electronic signatures: who signed, for which organisation and when, read from a PDF's signature dictionaries
(their fields and certificates) and from the visible signature stamps on its pages; and the bound the signing
time puts on the document's date. Signatures are read, never validated."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from pipeline.names import FAMILY_NAMES
from pipeline.types import OcrWord, Record, Signature, SignatureField
from pipeline.vietnamese import fold

OCR_STAMP = "ocr-stamp"  # a Signature's source: a stamp as OCR read it on a scanned or photocopied page
# Vietnam's offset: times written without one (a stamp's "26/01/2025 11:12:09") are local times there.
LOCAL_OFFSET = dt.timedelta(hours=7)

# Family names let an all-capitals name ("NGUYỄN VĂN AN") be told from an organisation ("SỞ TƯ PHÁP"); a name
# in title case needs none of them.
_SURNAMES = frozenset(fold(name) for name in FAMILY_NAMES)
# First words of organisation names, so that "Sở Tư Pháp" written in title case is not taken for a person.
_UNIT_WORDS = frozenset(fold(word) for word in (
    "Ủy", "Uỷ", "UBND", "Sở", "Phòng", "Ban", "Cục", "Chi", "Bộ", "Tổng", "Trung", "Văn", "Công", "Trường",
    "Bệnh", "Viện", "Hội", "Đảng", "Tỉnh", "Huyện", "Thành", "Quận", "Thị", "Xã", "Phường", "Ngân", "Kho",
    "Tòa", "Toà", "Học", "Đài", "Báo", "Hợp", "Liên", "Đoàn", "Mặt", "Cơ"))
_NAME_WORD = re.compile(r"^[A-ZĐÀ-Ỹ][a-zđà-ỹ]+$|^[A-ZĐÀ-Ỹ]+$")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# "09.01.2025 10:21:11 +07:00", "26/01/2025 11:12:09", "2025-01-26 11:12:09Z"; the offset may wrap onto the
# next line of a narrow stamp.
_DAY_FIRST = r"(?P<day>\d{1,2})[./-](?P<month>\d{1,2})[./-](?P<year>\d{4})"
_YEAR_FIRST = r"(?P<year2>\d{4})-(?P<month2>\d{2})-(?P<day2>\d{2})"
_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_OFFSET = r"(?P<offset>Z|(?:GMT|UTC)?\s*[+-]\s*\d{1,2}(?::?\d{2})?)"
_DATE_TIME = re.compile(rf"(?:{_DAY_FIRST}|{_YEAR_FIRST})[\sT,]+(?:lúc\s+)?{_CLOCK}(?:\s*{_OFFSET})?")
# Labelled stamp lines, compared folded: "Ký bởi: …", "Cơ quan: …", "Thời gian ký: …".
_SIGNER_LABELS = ("ky boi", "nguoi ky", "duoc ky boi", "signed by", "signer")
_ORGANISATION_LABELS = ("co quan", "to chuc", "don vi", "organization", "organisation")
_EMAIL_LABELS = ("email", "e-mail", "thu dien tu")
_TIME_LABELS = ("thoi gian ky", "ngay ky", "ky ngay", "thoi gian", "ngay gio ky", "signing time", "date")
# A stamp's lines as OCR reads them over a scanned or photocopied page (folded), its letters often misread: a
# signing label ("Ký bởi:", "Thời gian ký:"; not the everyday "Email:", "Cơ quan:", "Đơn vị:" of contact lines
# and lists), an e-mail with its "@" and domain ("ttcbth@)quangngai.gov.vn", OCR reading "@" as "@)"), a full
# signing time, to the second as signing software prints it ("11:12:09"; a meeting's "14:00" or
# "15/3/2025 14:00" is not one) or the offset a long time wraps onto ("_+07:00"; a phone number's "- 700" is not
# one).
_STAMP_LABEL = re.compile(r"(?:^|\s)(?:" + "|".join(re.escape(label) for label in (
    *_SIGNER_LABELS, "thoi gian ky", "ngay ky", "ngay gio ky")) + r")\s*[:：]")
_STAMP_EMAIL = re.compile(r"[\w.+-]@\)?[\w-]+(?:\.[\w-]+)+")
_STAMP_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d\d:\d\d(?!\d)|\+\s?07:?00(?!\d)")
# An OCR line's words more than this many of their heights apart belong to different columns (a stamp printed
# beside the header's "Số: 46/TB-UBND" shares its OCR line).
STAMP_COLUMN_GAP = 2.0
# Its lines lie at most this many of their heights apart; its other lines (the organisation's name, above or
# between them) start at most this many heights, or this share of its width, left of its left edge, and end at
# most that far past its right edge.
STAMP_LINE_GAP = 1.8
STAMP_SLACK_HEIGHTS = 1.5
STAMP_SLACK_WIDTH = 0.3
STAMP_NAME_LINES = 3  # the organisation's name above them wraps onto this many lines at most
_LABEL = re.compile(r"^\s*(?P<label>[^:：]{2,20})\s*[:：]\s*(?P<value>.*)$")
# /M and CMS times: D:YYYYMMDDHHmmSS+HH'mm'
_PDF_DATE = re.compile(r"^(?:D:)?(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?"
                       r"(?P<second>\d{2})?(?P<offset>Z|[+-]\d{2}'?(?:\d{2}'?)?)?")


@dataclass(frozen=True)
class Stamp:
    """What a visible signature stamp says."""

    signer: str | None
    organisation: str | None
    email: str | None
    time: str | None  # ISO 8601, with the offset when the stamp prints one


@dataclass(frozen=True)
class CertificateSubject:
    common_name: str | None
    organisation: str | None
    unit: str | None
    email: str | None


# --------------------------------------------------------------------------- times


def pdf_date(value: str | None) -> str | None:
    """A PDF date string (/M: "D:20250108173049+07'00'") as ISO 8601 ("2025-01-08T17:30:49+07:00"); None
    when it is not one."""
    if not value:
        return None
    match = _PDF_DATE.match(value.strip())
    if match is None or match.group("hour") is None:
        return None
    moment = _moment(int(match["year"]), int(match["month"] or 1), int(match["day"] or 1), int(match["hour"]),
                     int(match["minute"] or 0), int(match["second"] or 0))
    if moment is None:
        return None
    return moment + _iso_offset(match.group("offset"))


def _moment(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str | None:
    try:
        return dt.datetime(year, month, day, hour, minute, second).isoformat()
    except ValueError:
        return None


def _iso_offset(raw: str | None) -> str:
    """"+07'00'", "+0700", "GMT+7", "Z" → "+07:00"; "" when absent."""
    if not raw:
        return ""
    raw = raw.replace("GMT", "").replace("UTC", "").replace("'", "").replace(" ", "")
    if raw in ("Z", "+0", "-0"):
        return "+00:00"
    sign, digits = raw[0], raw[1:].replace(":", "")
    if not digits.isdigit():
        return ""
    hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "00")
    return f"{sign}{int(hours):02d}:{minutes}"


def _time_in_text(text: str) -> str | None:
    match = _DATE_TIME.search(text)
    if match is None:
        return None
    year = match["year"] or match["year2"]
    month = match["month"] or match["month2"]
    day = match["day"] or match["day2"]
    moment = _moment(int(year), int(month), int(day), int(match["hour"]), int(match["minute"]),
                     int(match["second"] or 0))
    if moment is None:
        return None
    return moment + _iso_offset(match.group("offset"))


def local_date(time: str) -> dt.date | None:
    """The calendar date of an ISO signing time where it was signed: in its own offset, or in Vietnam's when
    it has none or is in UTC (a signature made at 06:00 in Hà Nội is dated the day before in UTC)."""
    try:
        moment = dt.datetime.fromisoformat(time)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() == dt.timedelta(0):
        if moment.tzinfo is not None:
            moment = moment.replace(tzinfo=None) + LOCAL_OFFSET
        return moment.date()
    return moment.date()


# --------------------------------------------------------------------------- names


def is_person_name(text: str | None) -> bool:
    """A person's name ("Nguyễn Phước Bình", "PHÙNG TÔ LONG"), not an organisation ("Ủy ban nhân dân tỉnh
    Quảng Ngãi", "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC", "Sở Tư Pháp")."""
    if not text:
        return False
    words = text.split()
    if not 2 <= len(words) <= 5 or not all(_NAME_WORD.match(word) for word in words):
        return False
    first = fold(words[0])
    if first in _UNIT_WORDS:
        return False
    if all(word.isupper() for word in words):
        return first in _SURNAMES
    return True


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(unicodedata.normalize("NFC", text).replace("\x00", "").split()).strip(" ,;:-")
    return text or None


# --------------------------------------------------------------------------- visible stamps


def parse_stamp(text: str) -> Stamp | None:
    """The fields of a visible signature stamp ("Ký bởi: …" / "Cơ quan: …" / "Thời gian ký: …", or the
    organisation's name, its e-mail and the time on lines of their own), or None when `text` is not one:
    a stamp has a signing time and a label or an e-mail beside it (a form field's "11" has neither)."""
    lines = [" ".join(line.split()) for line in unicodedata.normalize("NFC", text).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return None
    signer_value = organisation_value = email = None
    labelled = False
    plain: list[str] = []
    for line in lines:
        match = _LABEL.match(line)
        label = fold(match["label"]).strip() if match else ""
        value = _clean(match["value"]) if match else None
        if match and label in _SIGNER_LABELS:
            signer_value, labelled = value, True
        elif match and label in _ORGANISATION_LABELS:
            organisation_value, labelled = value, True
        elif match and label in _EMAIL_LABELS:
            email, labelled = value, True
        elif match and label in _TIME_LABELS:
            labelled = True
        elif not _EMAIL.search(line) and not _DATE_TIME.search(line) and not re.fullmatch(r"[+-]\d{2}:?\d{2}", line):
            plain.append(line)
    joined = " ".join(lines)
    time = _time_in_text(joined)
    found_email = _EMAIL.search(joined)
    email = email or (found_email.group(0) if found_email else None)
    if time is None or not (labelled or email):
        return None
    signer = organisation = None
    if signer_value is not None and is_person_name(signer_value):
        signer, organisation = signer_value, organisation_value
    else:
        organisation = signer_value or organisation_value
    if organisation is None and not labelled and plain:
        organisation = _clean(" ".join(plain))
    return Stamp(signer=signer, organisation=organisation, email=email, time=time)


@dataclass(frozen=True)
class _Line:
    indices: tuple[int, ...]
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    height: float  # its words' median height

    @property
    def marker(self) -> str | None:
        """What marks the line as a stamp's: "label", "email" or "clock" (None: nothing)."""
        folded = fold(self.text)
        if _STAMP_LABEL.search(folded):
            return "label"
        if _STAMP_EMAIL.search(folded):
            return "email"
        return "clock" if _STAMP_CLOCK.search(folded) else None


def _ocr_lines(words: Sequence[OcrWord]) -> list[_Line]:
    """The page's OCR lines, each cut where its words lie more than STAMP_COLUMN_GAP heights apart."""
    by_line: dict[int, list[int]] = {}
    for index, word in enumerate(words):
        by_line.setdefault(word.line, []).append(index)
    lines = []
    for indices in by_line.values():
        indices.sort(key=lambda i: words[i].box[0])
        height = float(sorted(words[i].box[3] for i in indices)[len(indices) // 2])
        segment: list[int] = []
        for index in indices:
            if segment and words[index].box[0] - max(words[i].box[0] + words[i].box[2] for i in segment) \
                    > STAMP_COLUMN_GAP * height:
                lines.append(_line(words, segment))
                segment = []
            segment.append(index)
        lines.append(_line(words, segment))
    return sorted(lines, key=lambda line: line.box[1])


def _line(words: Sequence[OcrWord], indices: Sequence[int]) -> _Line:
    boxes = [words[i].box for i in indices]
    return _Line(tuple(indices), " ".join(words[i].text for i in indices),
                 (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[0] + b[2] for b in boxes),
                  max(b[1] + b[3] for b in boxes)), float(sorted(b[3] for b in boxes)[len(boxes) // 2]))


def find_ocr_stamps(words: Sequence[OcrWord]) -> list[tuple[Stamp | None, frozenset[int]]]:
    """The visible signature stamps in a page's OCR'd words (a scanned or photocopied e-signed page, its stamp
    printed black over or above the header), each with the indices of its words: lines marked as a stamp's
    (`_Line.marker`) lying close together, a clock and a label or an e-mail among them, with the unmarked lines
    between them or just above them (the organisation's name, up to STAMP_NAME_LINES), most of their letters
    inside its width. Each is read by `_read_ocr_stamp` (None where OCR misread its time: its words are then
    the caller's to keep, since what cannot be read as a stamp may be the page's own text)."""
    lines = _ocr_lines(words)
    clusters: list[list[_Line]] = []
    for line in (line for line in lines if line.marker):
        for cluster in clusters:
            x0, x1 = min(m.box[0] for m in cluster), max(m.box[2] for m in cluster)
            bottom = max(m.box[3] for m in cluster)
            if line.box[1] - bottom <= STAMP_LINE_GAP * line.height and min(x1, line.box[2]) > max(x0, line.box[0]):
                cluster.append(line)
                break
        else:
            clusters.append([line])
    found: list[tuple[Stamp | None, frozenset[int]]] = []
    for cluster in clusters:
        if not any(_STAMP_CLOCK.search(fold(line.text)) for line in cluster) \
                or not {line.marker for line in cluster} & {"label", "email"}:
            continue
        height = float(sorted(line.height for line in cluster)[len(cluster) // 2])
        left = sorted(line.box[0] for line in cluster)[len(cluster) // 2]  # a misread mark before it aside
        right, top, bottom = max(m.box[2] for m in cluster), min(m.box[1] for m in cluster), max(m.box[3] for m in cluster)
        slack = max(STAMP_SLACK_HEIGHTS * height, STAMP_SLACK_WIDTH * (right - left))
        inside = [line for line in lines if line not in cluster and _inside(line, words, left - slack, right + slack)]
        members = cluster + [line for line in inside if top <= (line.box[1] + line.box[3]) / 2 <= bottom]
        for line in sorted((line for line in inside if (line.box[1] + line.box[3]) / 2 < top),
                           key=lambda line: -line.box[1])[:STAMP_NAME_LINES]:  # the organisation's name, upwards
            if (line.box[1] + line.box[3]) / 2 < top - STAMP_LINE_GAP * height:
                break
            members.append(line)
            top = line.box[1]
        members.sort(key=lambda line: line.box[1])
        found.append((_read_ocr_stamp(members), frozenset(i for line in members for i in line.indices)))
    return found


def _inside(line: _Line, words: Sequence[OcrWord], left: float, right: float) -> bool:
    """Whether most of a line's letters lie between `left` and `right` (the stamp's logo beside its text reads
    as a stray word or two: "Cề BẢO VÀ TIN HỌC")."""
    letters = [(len(words[i].text), words[i].box) for i in line.indices]
    within = sum(count for count, box in letters if box[0] >= left and box[0] + box[2] <= right)
    return 2 * within > sum(count for count, _ in letters)


def _read_ocr_stamp(lines: Sequence[_Line]) -> Stamp | None:
    """An OCR'd stamp's fields: as `parse_stamp` reads them, else (its e-mail misread, "ttcbth@)quangngai.gov.vn")
    its signing time with its unmarked lines as the organisation; None when OCR misread the time too."""
    text = "\n".join(line.text for line in lines)
    stamp = parse_stamp(text)
    if stamp is not None:
        return stamp
    time = _time_in_text(" ".join(text.split()))
    if time is None:
        return None
    found_email = _EMAIL.search(text)
    return Stamp(signer=None, organisation=_clean(" ".join(line.text for line in lines if not line.marker)),
                 email=found_email.group(0) if found_email else None, time=time)


# --------------------------------------------------------------------------- signature dictionaries


def _der_length(blob: bytes) -> int | None:
    """Length of the DER element at the start of `blob` (the /Contents string is padded with zeros)."""
    if len(blob) < 2 or blob[0] != 0x30:
        return None
    first = blob[1]
    if first < 0x80:
        return 2 + first
    count = first & 0x7F
    if not 1 <= count <= 4 or len(blob) < 2 + count:
        return None
    return 2 + count + int.from_bytes(blob[2 : 2 + count], "big")


def _signed_data(contents: bytes) -> bytes | None:
    length = _der_length(contents)
    if length is None or length > len(contents):
        return None
    return contents[:length]


@lru_cache(maxsize=64)  # the fields of one signer (number, day, signature) carry the same blob
def certificate_subject(contents: bytes) -> CertificateSubject | None:
    """Subject of the signer's certificate in a CMS SignedData blob (the end-entity certificate: the one
    that issued no other in the blob); None when it cannot be read or `cryptography` is not installed."""
    der = _signed_data(contents)
    if der is None:
        return None
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import pkcs7
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover - cryptography is a dependency; a stripped install still runs
        return None
    try:
        certificates = pkcs7.load_der_pkcs7_certificates(der)
    except ValueError:
        return None
    if not certificates:
        return None
    issuers = {certificate.issuer for certificate in certificates}
    leaves = [certificate for certificate in certificates if certificate.subject not in issuers]
    certificate = (leaves or certificates)[0]

    def attribute(oid: x509.ObjectIdentifier) -> str | None:
        values = certificate.subject.get_attributes_for_oid(oid)
        return _clean(str(values[0].value)) if values else None

    email = attribute(NameOID.EMAIL_ADDRESS)
    if email is None:
        try:
            alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            emails = alternative.value.get_values_for_type(x509.RFC822Name)
            email = emails[0] if emails else None
        except (x509.ExtensionNotFound, ValueError):
            email = None
    return CertificateSubject(common_name=attribute(NameOID.COMMON_NAME),
                              organisation=attribute(NameOID.ORGANIZATION_NAME),
                              unit=attribute(NameOID.ORGANIZATIONAL_UNIT_NAME), email=email)


# signingTime attribute (1.2.840.113549.1.9.5) followed by its SET { UTCTime | GeneralizedTime }
_SIGNING_TIME_OID = bytes.fromhex("06092a864886f70d010905")


def cms_signing_time(contents: bytes) -> str | None:
    """The signingTime attribute of a CMS SignedData blob as ISO 8601 UTC, or None."""
    der = _signed_data(contents) or b""
    at = der.find(_SIGNING_TIME_OID)
    if at < 0:
        return None
    rest = der[at + len(_SIGNING_TIME_OID):]
    if len(rest) < 4 or rest[0] != 0x31:
        return None
    tag, length = rest[2], rest[3]
    raw = rest[4 : 4 + length].decode("ascii", "replace")
    if tag == 0x17 and len(raw) >= 13:  # UTCTime YYMMDDHHMMSSZ
        year = int(raw[:2])
        raw = f"{1900 + year if year >= 50 else 2000 + year}{raw[2:]}"
    elif tag != 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        return None
    return pdf_date(raw.rstrip("Z") + "Z")


_REASON_EMAIL = re.compile(r"^(?P<name>[^<>]+)<(?P<email>[^<>@\s]+@[^<>\s]+)>")


def signature_from_field(field: SignatureField) -> Signature:
    """What a signature dictionary says of its signer: /Name, else the certificate's subject; the time from
    /M (the signer's local time, what the signing software shows), else the CMS signingTime."""
    subject = certificate_subject(field.contents)
    name = _clean(field.name)
    common_name = subject.common_name if subject else None
    signer = name if name is not None else (common_name if is_person_name(common_name) else None)
    if signer is not None and is_person_name(common_name):
        organisation = subject.organisation if subject else None
    else:
        organisation = common_name or (subject.organisation if subject else None)
    email = subject.email if subject else None
    reason = _REASON_EMAIL.match(field.reason or "")
    if reason is not None:  # "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC<ttcbth@quangngai.gov.vn> đã ký lên văn bản này!"
        email = email or reason["email"]
        organisation = organisation or _clean(reason["name"])
    time = pdf_date(field.time) or cms_signing_time(field.contents)
    return Signature(signer=signer, organisation=organisation, email=email, time=time, source="dictionary",
                     page=field.page)


def same_moment(first: str | None, second: str | None) -> bool:
    """Equal signing times to the second, compared as written (a stamp may omit the offset)."""
    return bool(first and second) and first[:19] == second[:19]  # type: ignore[index]


def merge_signatures(fields: Sequence[SignatureField], stamps: Sequence[Signature]) -> list[Signature]:
    """One entry per signature dictionary, in signing order, joined by its visible stamp (same page, same
    time); then the stamps no dictionary accounts for (a scanned or re-saved copy keeps only the stamp)."""
    merged = [signature_from_field(field) for field in fields]
    for stamp in stamps:
        match = next((number for number, signature in enumerate(merged)
                      if signature.source == "dictionary" and same_moment(signature.time, stamp.time)
                      and (signature.page is None or stamp.page is None or signature.page == stamp.page)), None)
        if match is None:
            merged.append(stamp)
            continue
        signature = merged[match]
        merged[match] = replace(signature, source="both", signer=signature.signer or stamp.signer,
                                organisation=signature.organisation or stamp.organisation,
                                email=signature.email or stamp.email, page=signature.page
                                if signature.page is not None else stamp.page)
    return merged


def stamp_signature(stamp: Stamp, page: int | None, source: str = "stamp") -> Signature:
    return Signature(signer=stamp.signer, organisation=stamp.organisation, email=stamp.email, time=stamp.time,
                     source=source, page=page)


# --------------------------------------------------------------------------- the document date


def check_document_date(record: Record) -> str | None:
    """A document is signed on or after its date: a date after the earliest signing day is a misread. Such
    a date is rejected (set to null and listed in `needs_review`); the warning saying so is returned. A stamp's
    time as OCR read it ("21.01.2025" for a printed "27.01.2025") bounds nothing."""
    date = record.document.date
    days = [day for signature in record.signatures if signature.time and signature.source != OCR_STAMP
            for day in [local_date(signature.time)] if day is not None]
    if not date or not days:
        return None
    try:
        value = dt.date.fromisoformat(date)
    except ValueError:
        return None
    earliest = min(days)
    if value <= earliest:
        return None
    record.document.date = None
    if record.document.date_parts is not None:
        record.document.date_parts.day = None  # the part a misread concerns: month and year are printed
    if "document.date" not in record.needs_review:
        record.needs_review.append("document.date")
    return f"document date {date} is after the earliest signing day {earliest.isoformat()}: rejected as a misread"
