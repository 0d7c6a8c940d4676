"""The vocabulary of official dispatches that the header and task extractors match, each list defined once.

Words are written with their diacritics; where a pattern matches folded text (`vietnamese.fold`: lower case, no
diacritics, same length) its folded forms are derived here, never typed twice. The OCR readings a list
admits are named next to it and tested in tests/cases/extract_lexicon.json. Conventions of the lists:
a phrase that ends with a space must be followed by whitespace ("để " is not "đến"); `alternation` puts
longer phrases first, so that "Ban Chỉ đạo" is preferred to "Ban".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.vietnamese import fold


def alternation(phrases: Iterable[str], *, folded: bool = False) -> str:
    """A regex alternation of literal phrases, longest first (folded first when `folded`); a trailing space
    stands for any whitespace."""
    forms = {fold(phrase) if folded else phrase for phrase in phrases}
    parts = []
    for form in sorted(forms, key=lambda item: (-len(item), item)):
        body = re.escape(form.rstrip(" "))
        parts.append(body + r"\s" if form.endswith(" ") else body)
    return "|".join(parts)


def loose(phrase: str) -> str:
    """A folded phrase whose words OCR may run together or space widely ("Kính  gửi", "Nơinhận")."""
    return r"\s*".join(re.escape(word) for word in fold(phrase).split())


# --------------------------------------------------------------------------- bullets

# A list bullet as typed, and what OCR makes of a dash bullet ("_", "~", "_~", "~-"). In the small print of
# the distribution list OCR also reads the dash as "=", "·" or "»", and a bullet as a colon.
BULLET_MARKS = "-–—+•*"
DASH_READINGS = "_~¬"
SMALL_PRINT_DASH_READINGS = "=·»"
# Any bullet at the start of a list line, to be removed from a recipient or distribution item.
BULLET_PREFIX = re.compile(
    rf"^(?:[{re.escape(BULLET_MARKS + DASH_READINGS + SMALL_PRINT_DASH_READINGS)}]{{1,3}}|:(?=\s))\s*"
)
# A bullet that opens a list item of the body, with its mark: the typed marks, or a dash reading that is not
# followed by more of them.
LIST_BULLET = re.compile(
    rf"^(?:(?P<label>[{re.escape(BULLET_MARKS)}])\s*(?=\S)"
    rf"|(?P<label2>[{re.escape(DASH_READINGS)}]{{1,2}}-?)\s*(?=[^\s{re.escape(DASH_READINGS)}-]))"
)

# --------------------------------------------------------------------------- the header block

MOTTOS = ("Cộng hòa xã hội chủ nghĩa Việt Nam", "Độc lập - Tự do - Hạnh phúc", "Đảng Cộng sản Việt Nam")
MOTTOS_FOLDED = tuple(fold(motto) for motto in MOTTOS)

# "Số: 12/…", "Số 45-KH/HU", OCR's "S0:" and (small print) "Sä:"; with a type before it only in the header form
# "Luật số: 121/…"; the number may start with OCR's letters for digits ("Số: II0/QĐ-STP", "Số: lI /TB-UBND").
NUMBER_LABEL = re.compile(
    r"^(?:[a-z]+(?: [a-z]+){0,3}\s+s[o0]\s*:|s[o0]\s*[:;.]?|sa\s*:)\s*(?=[\d/._…]|[il|!o]{1,4}\d|[il|!o]{2,5}\s*/)"
)
# "V/v" (về việc) and its OCR readings: "VW", "V/V", "Vlv", "V/y", "V.v", "W/v", "V/v:", "V/ " (folded).
SUBJECT_LABEL = re.compile(r"^[vw]\s*(?:[/.\\|l1i]?\s*[vyw](?![a-z0-9])|/(?=\s))\s*[:.]?\s*")

# Old titles name their issuer after the type: "QUYẾT ĐỊNH CỦA UỶ BAN NHÂN DÂN TỈNH" (folded).
TITLE_ISSUER = re.compile(r"\s+cua\s+\S")
# The old subject label with its colon, "Về việc : Giao quyền …" (folded): the subject is what follows it. Without
# the colon ("Về việc tăng cường …") the words are the title's own and stay.
SUBJECT_WITH_COLON = re.compile(r"^ve viec\s*:\s*")

RECIPIENTS_LABEL = "Kính gửi"
DISTRIBUTION_LABEL = "Nơi nhận"
APPENDIX_HEADING = "Phụ lục"
# "Kính gửi:", or a công điện's "CHỦ TỊCH ỦY BAN NHÂN DÂN TỈNH điện:" (folded).
RECIPIENTS = re.compile(rf"^(?:{loose(RECIPIENTS_LABEL)}\b|[^:]{{3,80}}\bdien\s*(?=:))\s*[:;.]?\s*")
# "Nơi nhận:", and OCR's "Voi nhận:" of the italic N (only with its colon: "với nhận thức" opens body lines).
DISTRIBUTION = re.compile(rf"^(?:{loose(DISTRIBUTION_LABEL)}\b\s*[:;.]?|voi\s*nhan\s*[:;])\s*")
APPENDIX = re.compile(rf"^{loose(APPENDIX_HEADING)}\b")

# How the body's first line opens, after the title's summary ("để ", "căn cứ", "Điều 1").
BODY_OPENERS = (
    RECIPIENTS_LABEL, "căn cứ", "thực hiện", "triển khai", "để ", "theo ", "qua ", "tiếp theo", "nhằm ", "xét ",
    "sau khi", "trong ", "hiện nay", "như ", "vừa qua", "thời gian qua", "về việc", "chiều ", "sáng ", "tại ",
)
BODY_START = re.compile(rf"^(?:{alternation(BODY_OPENERS, folded=True)}|ngay\s*\d|nam \d{{4}}\s*,|dieu \d)")

# Lines that start the enacting part of a decision or the signature of a collective body, never a title's
# continuation ("CHỦ TỊCH ỦY BAN NHÂN DÂN …", "QUYẾT ĐỊNH:").
ENACTING_LINE_STARTS = (
    "chủ tịch", "phó chủ tịch", "bộ trưởng", "thứ trưởng", "giám đốc", "phó giám đốc", "thủ tướng",
    "ban thường vụ", "ban chấp hành", "hội đồng nhân dân", "ủy ban nhân dân", "trưởng ban", "chánh văn phòng",
    "tổng cục trưởng", "cục trưởng", "bí thư", "quyết định", "quyết nghị", "chỉ thị",
)
ENACTING_LINE = re.compile(rf"^(?:{alternation(ENACTING_LINE_STARTS, folded=True)})\b")

# Words a title line cannot end on: the name or object that completes them is on the next line. Compared with
# their diacritics ("địa bàn" ends a phrase, "Ban" opens one), folded only in text that lost its diacritics.
OPEN_ENDINGS = frozenset({"của", "về", "và", "với", "các", "tại", "trên", "cho", "năm", "huyện", "tỉnh", "xã",
                          "phố", "phường", "quận", "số", "thị", "trấn", "khu", "ban", "ủy", "uỷ", "đối", "đồng",
                          "theo"})
OPEN_ENDINGS_FOLDED = frozenset(fold(word) for word in OPEN_ENDINGS)

# --------------------------------------------------------------------------- bodies (issuers and assignees)


@dataclass(frozen=True)
class BodyHead:
    """A word that opens the name of a body (a unit, an office, a Party committee, a person in office)."""

    spelling: str  # as written in running text (capitalised; the old tone placement "Uỷ" listed apart)
    issuer: bool = True  # opens a unit on an upper-case issuer line of the header (compared folded)
    assignee: bool = True  # opens an assignee in the body (compared as written: "Sở", not "sở")
    needs_name: bool = False  # also a common word: a unit only when a capitalised name follows ("Trường hợp")


# One table for the issuer lines and the assignees. Issuer-only: names seen on header lines whose bare
# spelling in running text is another word ("Đại" hội, "Chính phủ" as an object); assignee-only: people
# and collectives the body addresses ("Các", "Chủ tịch", "Lãnh đạo") that never head an issuer line.
BODY_HEADS = (
    BodyHead("Ban cán sự đảng", issuer=False), BodyHead("Ban cán sự", issuer=False), BodyHead("Ban Thường vụ"),
    BodyHead("Ban Chấp hành"), BodyHead("Ban Chỉ đạo"), BodyHead("Ban Chỉ huy"), BodyHead("Bộ Chỉ huy"),
    BodyHead("Ban Quản lý"), BodyHead("Ban quản lý", issuer=False), BodyHead("Tổ công tác"),
    BodyHead("Tổ giúp việc", issuer=False), BodyHead("Tổ công nghệ", issuer=False),
    BodyHead("Đoàn công tác", issuer=False),
    BodyHead("Đảng đoàn", issuer=False), BodyHead("Ủy ban nhân dân", issuer=False),
    BodyHead("Uỷ ban nhân dân", issuer=False), BodyHead("Uy ban nhân dân", issuer=False), BodyHead("Ủy ban"),
    BodyHead("Uỷ ban", issuer=False), BodyHead("UBND"), BodyHead("HĐND"), BodyHead("Hội đồng"),
    BodyHead("Sở", needs_name=True), BodyHead("Phòng", needs_name=True), BodyHead("Ban", needs_name=True),
    BodyHead("Văn phòng"), BodyHead("Công an"), BodyHead("Bộ", needs_name=True), BodyHead("Cục", needs_name=True),
    BodyHead("Chi cục"), BodyHead("Tổng cục"), BodyHead("Trung tâm", needs_name=True),
    BodyHead("Đài", needs_name=True), BodyHead("Báo", needs_name=True), BodyHead("Hội", needs_name=True),
    BodyHead("Đoàn", needs_name=True), BodyHead("Liên đoàn"), BodyHead("Mặt trận"),
    BodyHead("MTTQ", issuer=False), BodyHead("Kho bạc"), BodyHead("Ngân hàng"), BodyHead("Bảo hiểm"),
    BodyHead("Trường", needs_name=True), BodyHead("Bệnh viện"), BodyHead("Thanh tra"),
    BodyHead("Viện", needs_name=True), BodyHead("Tỉnh đoàn"), BodyHead("Huyện đoàn"),
    BodyHead("Tổ", issuer=False, needs_name=True), BodyHead("Đội", issuer=False, needs_name=True),
    BodyHead("Thủ trưởng", issuer=False), BodyHead("Chủ tịch", issuer=False), BodyHead("Giám đốc", issuer=False),
    BodyHead("Trưởng", issuer=False, needs_name=True), BodyHead("Chánh", issuer=False, needs_name=True),
    BodyHead("Bộ trưởng", issuer=False), BodyHead("Cục trưởng", issuer=False),
    BodyHead("Vụ trưởng", issuer=False), BodyHead("Chi cục trưởng", issuer=False),
    BodyHead("Tổng cục trưởng", issuer=False), BodyHead("Viện trưởng", issuer=False),
    BodyHead("Hiệu trưởng", issuer=False),
    BodyHead("Cơ quan", issuer=False), BodyHead("Đơn vị", issuer=False), BodyHead("Tỉnh ủy"),
    BodyHead("Tỉnh uỷ", issuer=False), BodyHead("Huyện ủy"), BodyHead("Huyện uỷ", issuer=False),
    BodyHead("Thành ủy"), BodyHead("Thị ủy", assignee=False), BodyHead("Quận ủy", assignee=False),
    BodyHead("Đảng ủy"), BodyHead("Đảng uỷ", issuer=False), BodyHead("Đảng bộ", assignee=False),
    BodyHead("Chi bộ", assignee=False), BodyHead("Công ty"), BodyHead("Tổng công ty", assignee=False),
    BodyHead("Điện lực", issuer=False), BodyHead("Bưu điện", issuer=False), BodyHead("Viễn thông", issuer=False),
    BodyHead("Hạt", issuer=False, needs_name=True), BodyHead("Kiểm lâm", issuer=False),
    BodyHead("Hạt kiểm lâm", assignee=False), BodyHead("Chi nhánh", needs_name=True),
    BodyHead("Quỹ", issuer=False, needs_name=True), BodyHead("Cảng vụ", issuer=False),
    BodyHead("Các", issuer=False), BodyHead("các", issuer=False), BodyHead("Những", issuer=False, needs_name=True),
    BodyHead("Lãnh đạo", issuer=False), BodyHead("Người đứng đầu", issuer=False),
    BodyHead("Cấp ủy", issuer=False), BodyHead("BCH", issuer=False), BodyHead("BCĐ", issuer=False),
    BodyHead("BQL", assignee=False), BodyHead("Thường trực"), BodyHead("Tòa án"),
    BodyHead("Toà án", issuer=False), BodyHead("Viện kiểm sát"), BodyHead("Chính phủ", assignee=False),
    BodyHead("Quốc hội", assignee=False), BodyHead("Thủ tướng", assignee=False),
    BodyHead("Học viện", assignee=False), BodyHead("Đại học", assignee=False), BodyHead("Đại", assignee=False),
)
# An issuer line that starts a new unit ("UBND TỈNH X" / "SỞ Y TẾ"), folded; lines that start like one and
# are not ("TỔ QUỐC" wrapped from the motto, an ấp's "BAN NHÂN DÂN").
UNIT_HEAD = re.compile(rf"^(?:{alternation((h.spelling for h in BODY_HEADS if h.issuer), folded=True)})\b")
NOT_UNIT_STARTS = tuple(fold(phrase) for phrase in ("Tổ quốc", "Ban nhân dân"))
# An organisation's name in running text, as written.
ORG_HEAD = re.compile(rf"(?:{alternation(h.spelling for h in BODY_HEADS if h.assignee)})(?![\w])")
PROPER_NAME_HEADS = frozenset(h.spelling for h in BODY_HEADS if h.assignee and h.needs_name)
# "các", "những" open a body only before a kind of body ("các sở, ban, ngành", "các tổ chức, đoàn thể") or a
# capitalised name ("các Chủ đầu tư"); "các dự án", "các nội dung" are things, "các KCN", "các khu công nghiệp"
# places (in "Ban quản lý Khu kinh tế X và các KCN" they belong to the board's name).
PLURAL_HEADS = ("các", "Các", "những", "Những")
BODY_KINDS = ("sở", "ban", "ngành", "bộ", "cục", "chi cục", "cơ quan", "đơn vị", "địa phương", "tổ chức",
              "đoàn thể", "hội", "chi hội", "cấp", "tỉnh", "huyện", "quận", "thị xã", "thành phố", "xã", "phường",
              "thị trấn", "thôn", "xóm", "ấp", "tổ dân phố", "khu phố", "khối phố", "khu dân cư", "phòng",
              "bộ phận", "trường", "cơ sở", "trung tâm", "bệnh viện", "trạm", "doanh nghiệp", "công ty",
              "hợp tác xã", "chủ đầu tư", "nhà đầu tư", "nhà thầu", "ủy ban", "uỷ ban", "hội đồng", "thành viên",
              "lực lượng", "hộ gia đình", "hộ", "cá nhân", "đồng chí", "chi bộ", "đảng bộ", "đảng ủy", "đảng uỷ",
              "cấp ủy", "cấp uỷ", "chi đoàn", "đoàn viên", "hội viên", "ngân hàng", "tập thể")
PLACE_KINDS = ("KCN", "KKT", "CCN", "khu", "cụm")
# BODY_KINDS and PLACE_KINDS are matched on lower-cased text: a kind is one in either case ("các Khu phố", "các khu
# phố"; "các Khu công nghiệp", "các khu công nghiệp").
# Nouns that open with a kind of body and are things: "các trường hợp", "các hội nghị", "các cơ sở dữ liệu".
THING_NOUNS = ("trường hợp", "hội nghị", "hội thảo", "hội chẩn", "bộ hồ sơ", "bộ luật", "bộ tiêu chí",
               "bộ chỉ số", "phòng họp", "cấp độ", "cấp phép", "sở hữu", "cơ sở dữ liệu", "cơ sở pháp lý",
               "hộ chiếu", "hộ khẩu", "xã hội")
BODY_KIND = re.compile(rf"(?!(?:{alternation(THING_NOUNS)})(?![\w]))(?:{alternation(BODY_KINDS)})(?![\w])")
# OCR misplaces a mark ("các chỉ bộ, đảng bộ"): kinds of two words and more, which no other words spell alike, are
# also matched folded.
BODY_KIND_FOLDED = re.compile(rf"(?!(?:{alternation(THING_NOUNS, folded=True)})(?![\w]))"
                              rf"(?:{alternation((kind for kind in BODY_KINDS if ' ' in kind), folded=True)})(?![\w])")
PLACE_KIND = re.compile(rf"(?:{alternation(kind.lower() for kind in PLACE_KINDS)})(?![\w])")

# --------------------------------------------------------------------------- the closing block

@dataclass(frozen=True)
class Authority:
    """A signature authority prefix (Decree 30/2020, Phụ lục I) and how it is written and read."""

    canonical: str
    folded: str  # its folded spelling: the slash of T/M typed, spaced or left out; Q. only with its dot
    slash_read_as_letter: str | None  # OCR's reading of its slash as a letter on capitals: "T1M", "KlT", "TIL"
    inside: str  # as written where OCR glued it to a distribution line ("… Như trên; KT. CHỦ TỊCH")


AUTHORITIES = (
    Authority("TM.", r"t\s*/?\s*m", r"t\s*[il1|]\s*m", "T/?M"),
    Authority("KT.", r"k\s*/?\s*t", r"k\s*[il1|]\s*t", "K/?T"),
    Authority("TL.", r"t\s*/?\s*l", r"t\s*[il1|]\s*l", "T/?L"),
    Authority("TUQ.", "tuq", None, "TUQ"),
    Authority("Q.", r"q(?=\s*\.)", None, r"Q(?=\s*\.)"),  # a lone q is a word
)
_AUTHORITY_END = r"(?:\s*[.,:]\s*|\s+)(?=[a-z])"  # "KT." and OCR's "KT," / "KT:", then the title
AUTHORITY = re.compile(rf"^({'|'.join(a.folded for a in AUTHORITIES)}){_AUTHORITY_END}")
AUTHORITY_OCR = re.compile(
    rf"^({'|'.join(a.slash_read_as_letter for a in AUTHORITIES if a.slash_read_as_letter)}){_AUTHORITY_END}"
)
AUTHORITY_INSIDE = re.compile(rf"(?<![\w])({'|'.join(a.inside for a in AUTHORITIES)})\s*\.?\s+(?=[A-ZĐÀ-Ỹ])")
AUTHORITY_BY_LETTERS = {re.sub(r"[^a-z]", "", fold(a.canonical)): a.canonical for a in AUTHORITIES}

# "(Đã ký)", "Ký tên, đóng dấu", "Ký số": notes where the signature is.
SIGNATURE_NOTES = ("đã ký", "ký tên", "ký,", "ký và", "đóng dấu", "đã ký tên", "ký số")
SIGNED = re.compile(rf"^[(\[]?\s*(?:{alternation(SIGNATURE_NOTES, folded=True)})")

# Distribution notes of Decree 30/2020 in parentheses ("(b/c)" báo cáo, "(t/h)" thực hiện, "(p/h)" phối hợp)
# and what small-print OCR makes of them: "(B/e)", "(b/€)", "(Bb/c)".
DISTRIBUTION_NOTES = ("b/c", "t/h", "p/h")
DISTRIBUTION_NOTE = re.compile(r"\((?P<note>[^()\s/]{1,2}\s*/\s*[^()\s/]{1,2})\)")
NOTE_LOOKALIKES = str.maketrans({"€": "c", "¢": "c", "©": "c", "‹": "c", "e": "c"})
# "Lưu: VT, <the drafting unit's abbreviation>" (Decree 30/2020, Phụ lục I): the archive item, whose "VT"
# OCR reads as "VI", "VĨ", "VŨ", "VE", "VL", and whose comma as ";", "_" or nothing ("VŨ NN").
ARCHIVE_ITEM = re.compile(r"^(?P<head>L[uư]u\s*:\s*)V[IĨÍÌỈỊLEŨUYJ1FT](?:[\s,;._]+(?P<rest>.*))?$")

# --------------------------------------------------------------------------- directives (tasks)

UNIT_WORDS = ("đơn vị", "cơ quan", "bộ phận")  # "Đơn vị chủ trì: …"
ASSIGNEE_LABELS = ("chủ trì", "chủ trì thực hiện", "thực hiện", "chịu trách nhiệm", "chịu trách nhiệm chính",
                   "trách nhiệm", "trách nhiệm thực hiện")
COORDINATOR_LABELS = ("phối hợp", "phối hợp thực hiện")
_UNIT_WORD = rf"(?:(?:{alternation(UNIT_WORDS, folded=True)})\s+)?"
_LABEL_START = r"(?:^|[(;.]\s*)"  # a label inside an item's text follows its start or a punctuation mark
ASSIGNEE_LABEL = re.compile(rf"{_LABEL_START}{_UNIT_WORD}(?:{alternation(ASSIGNEE_LABELS, folded=True)})\s*:\s*")
COORDINATOR_LABEL = re.compile(rf"{_LABEL_START}{_UNIT_WORD}(?:{alternation(COORDINATOR_LABELS, folded=True)})\s*:\s*")
ASSIGNEE_LABEL_LINE = re.compile(rf"^{_UNIT_WORD}(?:{alternation(ASSIGNEE_LABELS, folded=True)})\s*:\s*")
COORDINATOR_LABEL_LINE = re.compile(rf"^{_UNIT_WORD}(?:{alternation(COORDINATOR_LABELS, folded=True)})\s*:\s*")
# An item's attribute line: who, until when, what it produces, what it costs (folded).
ATTRIBUTE_LINE = re.compile(
    r"^(?:[-–+•]\s*)?(?:(?:don vi|co quan|bo phan)\s+(?:chu tri|phoi hop|thuc hien)|chu tri\s*:|phoi hop\s*:|"
    r"thoi gian(?: hoan thanh| thuc hien)?\s*:|thoi han|han hoan thanh|trach nhiem(?: thuc hien)?\s*:|"
    r"san pham\s*:|kinh phi(?: thuc hien)?\s*:|ket qua dau ra\s*:|hinh thuc\s*:)"
)
# The column heads of a table of tasks in an appendix (folded): STT | Nhiệm vụ | Cơ quan chủ trì | Cơ quan phối
# hợp | Thời gian hoàn thành.
TABLE_HEADINGS = {
    "number": re.compile(r"^(?:stt|tt|so tt)$"),
    "task": re.compile(r"^(?:nhiem vu|noi dung(?: nhiem vu| cong viec)?|ten nhiem vu|cong viec)\b"),
    "lead": re.compile(r"^(?:(?:co quan|don vi) )?(?:chu tri|thuc hien|chiu trach nhiem)\b"),
    "partners": re.compile(r"^(?:(?:co quan|don vi) )?phoi hop\b"),
    "deadline": re.compile(r"^(?:thoi gian|thoi han|tien do)\b"),
}

# "Trong quá trình (tổ chức) (triển khai) thực hiện": it opens the closing formula and, with a body after it, an
# item ("… Thủ trưởng các địa phương chủ động phối hợp …"), folded.
IN_THE_COURSE = r"trong qua trinh (?:to chuc )?(?:trien khai )?thuc hien"
SETTING = re.compile(rf"^{IN_THE_COURSE}\s*,?\s*")
# The clause that asks for problems to be reported, if there are any ("Trong quá trình thực hiện, nếu có khó khăn,
# vướng mắc, … phản ánh về …"): a condition, no task, wherever it stands, numbered or not.
IF_PROBLEMS = re.compile(
    rf"^{IN_THE_COURSE}[^,.;:]{{0,80}}?,?\s*(?:neu|truong hop|khi|co (?:phat sinh|kho khan|vuong mac))\b")
# The execution clause, the last article of a decision ("Điều 3. … chịu trách nhiệm thi hành Quyết định này"): who
# executes the document, no task of its own (folded).
EXECUTION = re.compile(
    r"chiu trach nhiem (?:thi hanh|thuc hien) (?:quyet dinh|chi thi|nghi quyet|nghi dinh|thong tu|ke hoach|thong bao)"
    r" nay")
# The closing formulas after the directives ("Trên đây là …", "Nay thông báo …", the execution clause), folded.
CLOSING = re.compile(
    rf"^(?:tren day la|nay thong bao|{IN_THE_COURSE}|"
    rf"{re.escape(fold(DISTRIBUTION_LABEL))})|{EXECUTION.pattern}|"
    r"^(?:yeu cau|de nghi)\s+(?:cac|thu truong|ubnd|uy ban|lanh dao)[^.]{0,160}"
    r"(?:nghiem tuc|quan tam|khan truong|trien khai|phoi hop)[^.]{0,60}thuc hien(?:[^.]{0,40})?\s*\./?\.?$"
)
# A lead-in that announces what a petition asks ("Qua xem xét đơn đề ngày … của bà X, khiếu nại Quyết định …, với
# các yêu cầu:"): the items under it are the petitioner's demands as reported, not tasks the issuing body assigns.
# Matched on the lead-in's last sentence, lower case with its diacritics. A petition is a complaint or denunciation,
# or "đơn" naming a filed letter ("đơn của", "đơn đề ngày", "đơn khiếu nại"; never "đơn vị", "đơn giản"); voters'
# "phản ánh, kiến nghị" are what directives answer, so they are none. A lead-in in which the body directs
# ("chỉ đạo", "giao", "phân công") assigns its items, whatever it mentions.
PETITIONS = ("khiếu nại", "tố cáo", "đơn của", "đơn đề ngày", "đơn ngày", "đơn thư", "đơn khiếu nại", "đơn tố cáo",
             "đơn kiến nghị", "đơn đề nghị", "đơn phản ánh")
DEMANDS = ("yêu cầu", "kiến nghị", "đề nghị", "nội dung")
REPORTED_DEMANDS = re.compile(
    rf"(?<![\w])(?:{alternation(PETITIONS)})(?![\w]).*"
    rf"\svới\s+(?:(?:các|những)\s+)?(?:{alternation(DEMANDS)})(?:\s+(?:sau|như sau|cụ thể))?\s*:\s*$"
)
DIRECTING = re.compile(r"(?<![\w])(?:chỉ đạo|giao|phân công)(?![\w])")

# Section headings over descriptions, and over directives.
DESCRIPTIVE_HEADINGS = (
    "mục đích", "yêu cầu", "kết quả", "tình hình", "đánh giá", "tồn tại", "hạn chế", "nguyên nhân", "thành phần",
    "căn cứ", "quan điểm", "mục tiêu", "phạm vi", "đối tượng", "bối cảnh", "thực trạng", "chỉ tiêu",
    "thời gian, địa điểm", "thời gian địa điểm", "địa điểm", "bài học kinh nghiệm", "đặc điểm",
)
DIRECTIVE_HEADINGS = ("nhiệm vụ", "giải pháp", "tổ chức thực hiện", "phân công", "trách nhiệm", "nội dung", "đề xuất",
                      "kiến nghị", "các nhiệm vụ", "những nhiệm vụ")
DESCRIPTIVE_SECTION = re.compile(rf"^(?:{alternation(DESCRIPTIVE_HEADINGS, folded=True)})")
DIRECTIVE_SECTION = re.compile(rf"^(?:{alternation(DIRECTIVE_HEADINGS, folded=True)})")

# Verbs that open or carry an instruction. Matched on the lower-cased text with its diacritics: folding
# would make "giáo" the verb "giao" and "phổ thông báo cáo" hold "thông báo".
DIRECTIVE_VERBS = (
    "chủ trì", "phối hợp", "thực hiện", "tổ chức", "triển khai", "chỉ đạo", "hướng dẫn", "kiểm tra", "rà soát",
    "xây dựng", "tham mưu", "báo cáo", "tổng hợp", "tuyên truyền", "tăng cường", "đẩy mạnh", "tiếp tục",
    "bố trí", "phân bổ", "hoàn thành", "lập", "ban hành", "theo dõi", "đôn đốc", "giám sát", "cập nhật",
    "đề xuất", "xử lý", "quản lý", "đảm bảo", "bảo đảm", "nâng cao", "nâng cấp", "cung cấp", "gửi", "nộp",
    "tiếp nhận", "giải quyết", "khẩn trương", "chịu trách nhiệm", "có trách nhiệm", "yêu cầu", "đề nghị",
    "giao", "trình", "thẩm định", "củng cố", "kiện toàn", "hỗ trợ", "vận động", "huy động", "chuẩn bị",
    "thông báo", "công khai", "công bố", "duy trì", "nghiên cứu", "điều chỉnh", "rút kinh nghiệm", "tập huấn",
    "bồi dưỡng", "đào tạo", "phát động", "ngăn chặn", "phòng, chống", "phòng chống", "kiểm soát", "sơ kết",
    "tổng kết", "khắc phục", "chấn chỉnh", "quan tâm", "phân công", "chủ động", "xác minh", "điều tra",
    "thống kê", "lựa chọn", "tiếp thu", "hoàn thiện", "hoàn chỉnh", "sửa đổi", "bổ sung", "cân đối",
    "thành lập", "xem xét", "khảo sát", "đánh giá", "kê khai", "thu hồi", "cải tạo", "sửa chữa", "lắp đặt",
    "vận hành", "mua sắm", "đăng ký", "thanh tra", "cấp phát", "chi trả", "xử phạt", "di dời", "giải ngân",
    "đẩy nhanh", "ưu tiên", "tập trung", "quán triệt", "kiểm điểm", "tuần tra", "kêu gọi", "gia cố",
    "sơ tán", "tham gia", "vận chuyển", "khôi phục", "mở rộng", "phủ sóng", "số hóa", "tích hợp", "sắp xếp",
    "tăng", "đưa", "làm rõ", "cử", "bàn giao", "tiến hành", "phổ biến", "ký kết",
)
# A duty given to someone named before it ("… có trách nhiệm đền bù", "… có nhiệm vụ giải phóng mặt bằng").
OBLIGATION = re.compile(r"(?<![\w])(?:có|chịu) (?:trách nhiệm|nhiệm vụ)(?![\w])")
DIRECTIVE_VERB = re.compile(rf"(?<![\w])(?:{alternation(DIRECTIVE_VERBS)})(?![\w])")
# Verbs that give an instruction only when they open it ("Thi hành nghiêm chỉnh …", "Chấp hành …"): inside a
# sentence they are mostly names ("Cục Thi hành án dân sự") or what is reported on.
OPENING_VERBS = ("thi hành", "chấp hành")
IMPERATIVE = re.compile(rf"(?:{alternation((*DIRECTIVE_VERBS, *OPENING_VERBS))})(?![\w])")
# Decision content, not an assignment ("Điều 1. Phê duyệt Kế hoạch …", "Điều 1. Thành lập Tổ công tác …").
DECISION_VERBS = ("phê duyệt", "ban hành kèm theo", "ban hành", "thành lập", "công nhận", "bổ nhiệm", "điều động",
                  "cho phép", "bãi bỏ", "chấp thuận", "khen thưởng", "tặng", "kỷ luật", "giải thể", "sáp nhập",
                  "quyết định này", "kế hoạch này", "chỉ thị này", "nghị quyết này")
DECISION = re.compile(rf"^(?:{alternation(DECISION_VERBS)})(?![\w])")
# Where an organisation's name ends: punctuation, or a lower-case verb or one of these words.
ORG_NAME_ENDS = ("căn cứ", "theo", "để", "trong", "trên", "tại", "khi", "về", "với", "đối với", "nhằm", "sau khi",
                 "trước", "đặc biệt là", "nhất là", "trong đó", "lãnh đạo", "gồm", "là", "có nhiệm vụ",
                 "như sau", "quy định", "quyết định", "phê duyệt", "cam kết")
# Adverbs and modals between a body and its verb ("UBND các xã tích cực vận động …", "… cần tập trung …"); before
# anything else they may be part of a name ("Trung tâm Giáo dục thường xuyên", "Cục Hậu cần").
NAME_END_ADVERBS = ("tích cực", "thường xuyên", "nghiêm túc", "kịp thời", "cần", "phải", "sớm", "cần phải")
# Names of kinds of body after their head ("Trung tâm …", "Cục …", "Phòng …") whose last word is one of those
# adverbs: before a verb they stay whole ("Trung tâm Giáo dục thường xuyên tổ chức …", "Cục Hậu cần phối hợp …").
BODY_NAMES = ("Giáo dục thường xuyên", "Hậu cần")
NAME_ENDING_IN_ADVERB = re.compile(
    rf"(?<![\w])(?:{alternation(name.lower() for name in BODY_NAMES if name.lower().endswith(NAME_END_ADVERBS))})$")
# Where a group of bodies is, which is part of its name ("Chủ tịch UBND các huyện, thành phố trong tỉnh", "các cơ
# quan Trung ương trên địa bàn tỉnh"), though "trong", "trên" end a name elsewhere ("… trong phạm vi …").
WITHIN_AREA = re.compile(
    r"(?:trong|trên)\s+(?:địa bàn\s+)?(?:toàn\s+)?(?:tỉnh|huyện|quận|thị xã|thành phố|xã)(?![\w])")
# The phrase that seals a list of subjects before their verb ("Sở A, Sở B theo chức năng, nhiệm vụ (được giao) chủ
# động …"): what comes before it is all names, lower case with diacritics.
BY_FUNCTIONS = re.compile(r"\s+theo chức năng,?\s+(?:và\s+)?nhiệm vụ(?![\w])")
# What the phrase is followed by where it seals such a list: the list's verb, or an adverb before it, right after
# it or after "được giao" (a comma may stand between). At the end of a clause ("UBND các huyện rà soát hồ sơ theo chức năng, nhiệm vụ được
# giao.") it says how a body acts, and seals nothing.
SEALED_BY = re.compile(
    rf"(?:,?\s+được giao)?,?\s+(?:{alternation((*DIRECTIVE_VERBS, *NAME_END_ADVERBS))})(?![\w])")
ORG_STOP = re.compile(
    rf"\s*(?::|;|\.(?:\s|$)|\(|,?\s+(?P<word>(?:{alternation((*DIRECTIVE_VERBS, *ORG_NAME_ENDS))})(?![\w])|"
    rf"(?:{alternation(NAME_END_ADVERBS)})(?=\s+(?:{alternation(DIRECTIVE_VERBS)})(?![\w]))))"
)
# Words that hand a task to a body ("giao cho UBND …", "đề nghị các sở …"), lower case.
ASSIGNING_WORDS = ("giao cho", "giao", "đề nghị", "yêu cầu", "đối với", "nhiệm vụ của", "trách nhiệm của",
                   "chỉ thị")
# Of those, the words that charge a body with a task wherever they stand in its sentence ("Trên cơ sở …, giao Sở
# Tài chính chủ trì"); "đối với", "nhiệm vụ của" name a body only where an item opens with them. Not where they
# are cited ("theo đề nghị Sở Xây dựng tại Tờ trình …", "xét đề nghị của …"): the body proposed, it is not charged.
CHARGING_WORDS = ("giao cho", "giao", "đề nghị", "yêu cầu", "chỉ thị")
CITING_WORDS = ("theo", "Theo", "xét", "Xét", "của", "ứng")  # ứng: "đáp ứng yêu cầu"
NOT_CITED = "".join(rf"(?<!{word} )" for word in CITING_WORDS)
GIVE = re.compile(rf"{NOT_CITED}(?<![\w])(?:{alternation(ASSIGNING_WORDS)})\s+")
CHARGE = re.compile(rf"{NOT_CITED}(?<![\w])(?:{alternation(CHARGING_WORDS)})\s+")
# People an item names before their duty (a decision on a citizen's land: "Ông, bà: Nguyễn Văn A - Trần Thị B có
# trách nhiệm …").
PERSON_TITLES = ("ông", "bà", "Ông", "Bà", "anh", "chị", "Anh", "Chị")
PERSON_LEAD = re.compile(rf"^(?:{alternation(PERSON_TITLES)})(?:\s*(?:,|và|/)\s*(?:{alternation(PERSON_TITLES)}))*"
                         r"\s*:?\s+(?=[A-ZĐÀ-Ỹ])")
WITH = re.compile(r"(?<![\w])phối hợp (?:với|cùng)\s+")
ORG_SPLIT = re.compile(r"\s*(?:;|,|\s(?=và\s))\s*(?:và\s+)?(?=" + ORG_HEAD.pattern + r")")
# "Văn phòng HĐND và UBND huyện" is one unit: no split at "và" after these words.
JOINT_BODIES = ("HĐND", "ĐBQH", "nhân dân", "Đảng ủy", "Đảng uỷ")
TRAILING_WORDS = ("và", "các", "của", "cấp")  # never the last word of a unit's name
