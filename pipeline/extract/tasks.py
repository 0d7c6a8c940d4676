"""Directive items of a dispatch as tasks: the numbered/lettered/bulleted list tree of the body and of an
appendix, its heading items, assignees ("Đơn vị chủ trì"), coordinators, deadlines, places and references."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pipeline.extract import lexicon
from pipeline.extract.header import HEADING_MAX_CHARS, Layout
from pipeline.extract.text import DocumentText, Line, is_upper_text
from pipeline.names import FAMILY_NAMES
from pipeline.types import DateMention, Place, Reference, Task
from pipeline.vietnamese import fold

T = TypeVar("T")

# --------------------------------------------------------------------------- list markers

# Roman section numbers, with the OCR confusions of I (l, 1, |) and II (H): "HI. TỔ CHỨC THỰC HIỆN"
_ROMAN = re.compile(r"^(?P<label>[IVXHl1|]{1,5}|L)\s*[.:/)]\s+(?=\S)")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10}
_LETTERS = "abcdđeghiklmnopqrstuvxy"  # Vietnamese list letters: no f, j, w, z; đ after d
_DIEU = re.compile(r"^(?i:điều|dieu)\s+(?P<label>\d{1,3})\s*[.:]\s*")
_DECIMAL = re.compile(r"^(?P<label>\d{1,2}(?:\.\d{1,2})+)\s*[.)]?\s+(?=\S)")
_ARABIC = re.compile(r"^(?P<label>\d{1,2})\s*[.)]\s+(?=\S)")
_PAREN_ARABIC = re.compile(r"^\((?P<label>\d{1,2})\)\s*(?=\S)")
# Numbered items OCR damaged, taken only where they follow the open list's previous number ("4."): the full
# stop read as a comma ("5, Đối với …", and "5, 6 và 7" opens sentences too), a speck read as a bullet before
# the number ("_ 3. Yêu cầu …")
_DAMAGED_ARABIC = (re.compile(r"^(?P<label>\d{1,2}),\s+(?=[A-ZĐÀ-Ỹ])"),
                   re.compile(rf"^[{re.escape(lexicon.DASH_READINGS)}]\s*(?P<label>\d{{1,2}})\s*[.)]\s+(?=\S)"))
# A bullet with a speck OCR read before it (": - Thống kê …"), taken only inside an open list of that bullet.
_SPECK_BULLET = re.compile(r"^[:;.,'`\"]\s*(?P<bullet>[-–—+•])\s")
_LETTER = re.compile(r"^(?P<label>[a-zđ])\s*[)]\s*(?=\S)|^(?P<label2>[a-zđ])\.\s+(?=\S)")
_UPPER_LETTER = re.compile(r"^(?P<label>[A-ZĐ])\s*[.)]\s+(?=[A-ZĐÀ-Ỹ]{2})")
_MARKERS = (("dieu", _DIEU), ("roman", _ROMAN), ("decimal", _DECIMAL), ("arabic", _ARABIC), ("paren", _PAREN_ARABIC),
            ("letter", _LETTER), ("upper", _UPPER_LETTER), ("bullet", lexicon.LIST_BULLET))
_SECTION_STYLES = ("roman", "dieu", "upper")
_PAGE_NUMBER = re.compile(r"^(?:[-–—]?\s*\d{1,3}\s*[-–—]?|trang\s*\d{1,3}(?:\s*/\s*\d{1,3})?)$")

DESCRIPTIVE_HEADING_CHARS = 45  # a heading line in sentence case is short; a sentence that opens with its word is not

_SENTENCE_END = re.compile(r"[.!?]\s")  # not the full stop inside a number ("800.000")
_SENTENCE_MARKS = (".", ";", ":", "!", "?")  # a line that ends on one ended its sentence
LEAD_IN_TAIL_CHARS = 600  # the end of a lead-in where the sentence that announces its list is
_WITHIN = re.compile(r"(?<![\w])trong\s*$")


@dataclass
class _Item:
    style: str  # roman, dieu, decimal<n>, arabic, paren, letter, upper, bullet:<char>, root
    label: str
    lines: list[Line] = field(default_factory=list)  # own lines (marker line, continuations, paragraphs)
    attributes: list[Line] = field(default_factory=list)  # "Đơn vị chủ trì: …" and deadline lines
    children: list[_Item] = field(default_factory=list)
    parent: _Item | None = None
    marker_end: int = 0  # characters of the marker on the first line
    closed: bool = False  # "/." or a closing formula followed: later unmarked paragraphs are not its own

    @property
    def first(self) -> Line:
        return self.lines[0]

    def all_lines(self) -> list[Line]:
        out = [*self.lines, *self.attributes]
        for child in self.children:
            out += child.all_lines()
        return sorted(out, key=lambda line: line.start)


def _roman_value(label: str) -> int | None:
    """1..39 for a Roman numeral read by OCR ("HI" → 3), None when it is not one."""
    label = "I" if label == "L" else label  # a lone "L." heading is OCR's reading of "I."
    label = label.replace("H", "II").translate(str.maketrans("l1|", "III"))
    values = [_ROMAN_VALUES.get(ch) for ch in label]
    if not values or None in values:
        return None
    total = 0
    for k, value in enumerate(values):
        assert value is not None
        following = values[k + 1] if k + 1 < len(values) else None
        total += -value if following is not None and following > value else value
    return total if 0 < total < 40 else None


def _roman(value: int) -> str:
    out = ""
    for number, numeral in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while value >= number:
            out += numeral
            value -= number
    return out


def _marker(text: str) -> tuple[str, str, int] | None:
    """(style, label, marker length) of a list marker at the start of a line."""
    for style, pattern in _MARKERS:
        match = pattern.match(text)
        if match is None:
            continue
        groups = match.groupdict()
        label = groups.get("label") or groups.get("label2")
        if not label:
            continue
        if style == "roman":
            value = _roman_value(label)
            heading = is_upper_text(text[match.end() : match.end() + 40], 0.6)
            heading = heading or (label == "L" and text[match.end() : match.end() + 1].isupper())
            if value is None or label.isdigit() or (label != _roman(value) and not heading):
                continue  # OCR-damaged numerals only on upper-case section headings
            if len(label) == 1 and label != "I" and not heading:
                continue  # "V. Nguyễn …": a name initial, not section five
            label = _roman(value)
        if style == "bullet":
            if label[0] in lexicon.DASH_READINGS:
                label = "-"
            return f"bullet:{label if label in '-+' else '•'}", label, match.end()
        if style == "decimal":
            return f"decimal{label.count('.')}", label, match.end()
        return style, label, match.end()
    return None


def _continued_item(text: str, stack: list[_Item]) -> tuple[str, str, int] | None:
    """An arabic item OCR damaged (_DAMAGED_ARABIC), when the open list's last number comes just before it."""
    match = next((m for pattern in _DAMAGED_ARABIC if (m := pattern.match(text))), None)
    if match is None:
        return None
    label = match.group("label")
    if any(item.style == "arabic" and item.label.isdigit() and int(item.label) + 1 == int(label) for item in stack):
        return "arabic", label, match.end()
    return None


def _damaged_item(text: str, stack: list[_Item], previous: str | None) -> tuple[str, str, int] | None:
    """An item whose marker OCR damaged or lost, where the open lists say what it is: a bullet of an open
    bulleted list with a speck before it (": - Thống kê …"), a lettered heading whose letter was lost."""
    speck = _SPECK_BULLET.match(text)
    if speck is None:
        return _lost_letter(text, stack, previous)
    marker = _marker(text[speck.start("bullet"):])
    if marker is not None and any(item.style == marker[0] for item in stack):
        return marker[0], marker[1], speck.start("bullet") + marker[2]
    return None


def _lost_letter(text: str, stack: list[_Item], previous: str | None) -> tuple[str, str, int] | None:
    """A heading that names a unit and announces its list ("Ủy ban nhân dân các huyện, thành phố:") after a
    finished sentence, among lettered items that are such headings ("a) Cục Thi hành án dân sự tỉnh:"): the
    next letter, which OCR lost (at a page break, under a speck or a pen mark)."""
    if not (text.endswith(":") and len(text) <= HEADING_MAX_CHARS and lexicon.ORG_HEAD.match(text)):
        return None
    if previous is None or not previous.rstrip().endswith((".", ";")):
        return None
    sibling = next((item for item in reversed(stack[1:]) if item.style == "letter"), None)
    if sibling is None or sibling.parent is None:
        return None
    first = next((child for child in sibling.parent.children if child.style == "letter"), sibling)
    headings = [child.first.text[child.marker_end:].strip() for child in (first, sibling)]  # the list's first, last
    if not any(heading.endswith(":") and lexicon.ORG_HEAD.match(heading) for heading in headings):
        return None
    label = _expected(stack, "letter")
    return ("letter", label, 0) if label else None


def _inline_items(lines: Sequence[Line]) -> list[Line]:
    """Lines with a second marker right after the first ("Điều 2: a) Uỷ ban nhân dân …") cut in two, so that the
    lettered item opens under the article instead of being its text."""
    out: list[Line] = []
    for line in lines:
        marker = _marker(line.text)
        if marker is not None and marker[0] in (*_SECTION_STYLES, "arabic", "decimal1"):
            rest = line.text[marker[2] :]
            inner = _marker(rest)
            if inner is not None and inner[0] in ("letter", "arabic", "paren") and inner[0] != marker[0]:
                offset = marker[2]
                out.append(Line(line.index, line.start, line.start + offset, line.text[:offset].rstrip(), line.page))
                out.append(Line(line.index, line.start + offset, line.end, rest, line.page))
                continue
        out.append(line)
    return out


def _attribute_text(text: str) -> str:
    """An attribute line without its bullet or letter ("b) Đơn vị phối hợp: …" → "Đơn vị phối hợp: …")."""
    marker = _marker(text)
    if marker is not None and (marker[0].startswith("bullet") or marker[0] == "letter"):
        return text[marker[2] :]
    return text


def _is_attribute(text: str) -> bool:
    """An item's field line: who leads, who helps, until when ("Đơn vị chủ trì: …", "a) Thời gian hoàn thành: …")."""
    return bool(lexicon.ATTRIBUTE_LINE.match(fold(_attribute_text(text))))


def _build_tree(lines: Sequence[Line]) -> _Item:
    """The list tree of a run of lines; unnumbered lines before the first item are the root's own (intro)."""
    root = _Item("root", "")
    stack: list[_Item] = [root]
    current: _Item | None = None
    pending: list[Line] = []  # a paragraph that opens like the closing formula, and the lines after it
    for line in _inline_items(lines):
        text = line.text
        if not text or _PAGE_NUMBER.match(fold(text)):
            continue
        folded = fold(text)
        previous = _last_line(current)
        marker = _continued_item(text, stack) or _marker(text) or _damaged_item(text, stack, previous)
        if current is not None and _is_attribute(text):
            current.attributes.append(line)  # "a) Đơn vị chủ trì: …" under an appendix item is its field
            continue
        if marker is not None and _plausible(stack, marker, text, previous):
            if current is not None and pending:
                _keep_paragraph(current, pending)  # an item follows: it was no closing formula
                pending = []
            style, label, length = marker
            if style == "roman":
                label = _next_roman(stack, label)
            if any(item.style == style for item in stack[1:]):
                while stack[-1].style != style:
                    stack.pop()
                stack.pop()
            elif style in _SECTION_STYLES:
                while len(stack) > 1 and stack[-1].style not in _SECTION_STYLES:
                    stack.pop()  # a section (Điều 2, II.) never sits inside a numbered item
            parent = stack[-1]
            item = _Item(style, label, [line], parent=parent, marker_end=length)
            parent.children.append(item)
            stack.append(item)
            current = item
            continue
        if current is None:
            root.lines.append(line)
            continue
        if is_upper_text(text) or lexicon.DISTRIBUTION.match(folded):
            # an unnumbered heading ("DANH MỤC NHIỆM VỤ"), or a distribution list ("Nơi nhận:") the closing
            # block left in the body: the lists before it are over
            stack = [root]
            current = None
            pending = []
            continue
        if current.closed:
            continue
        if text.endswith("/."):
            # the end of the text ("… thực hiện./."): unnumbered paragraphs after it are nobody's; a line that goes
            # on with the item's unfinished sentence ("… thi hành Quyết định⏎này./.") is its last
            if not pending and previous is not None and not previous.rstrip().endswith(_SENTENCE_MARKS):
                current.lines.append(line)
            current.closed = True
            pending = []
            continue
        if pending or (lexicon.SETTING.match(folded) and not lexicon.IF_PROBLEMS.match(folded)):
            # what opens like the closing formula ("Trong quá trình thực hiện …") is it only after the last item
            pending.append(line)
            continue
        if lexicon.CLOSING.search(folded):
            # the closing formula itself ("Trên đây là …", "Trong quá trình thực hiện, nếu có vướng mắc …"): later
            # unnumbered paragraphs are not the item's
            current.closed = True
            continue
        # a wrapped line or a further paragraph of the item: items run over several paragraphs
        current.lines.append(line)
    return root


def _keep_paragraph(current: _Item, lines: list[Line]) -> None:
    """An unnumbered paragraph that an item follows, kept where it stands: after a bullet, a paragraph of that
    list of its own (a list's last paragraph without its bullet); otherwise a further paragraph of the item."""
    if current.style.startswith("bullet") and current.parent is not None:
        current.parent.children.append(_Item(current.style, current.label, lines, parent=current.parent))
    else:
        current.lines += lines


def _last_line(item: _Item | None) -> str | None:
    if item is None:
        return None
    lines = [*item.lines, *item.attributes]
    return max(lines, key=lambda line: line.start).text if lines else None


def _expected(stack: list[_Item], style: str) -> str | None:
    """The label the next item of `style` should carry, or None when anything goes."""
    sibling = next((item for item in reversed(stack[1:]) if item.style == style), None)
    if style == "arabic":
        return str(int(sibling.label) + 1) if sibling else None
    if style == "letter":
        if sibling is None:
            return "a"
        position = _LETTERS.find(sibling.label)
        return _LETTERS[position + 1] if 0 <= position < len(_LETTERS) - 1 else None
    return None


def _plausible(stack: list[_Item], marker: tuple[str, str, int], text: str, previous: str | None) -> bool:
    """Is a marker-looking line start a new item, or a wrapped line ("phiên bản⏎2.0 theo …")? Out-of-sequence
    numbers and lower-case bullets are items only after a line that ended a sentence."""
    style, label, _length = marker
    ended = previous is None or previous.rstrip().endswith(_SENTENCE_MARKS) or is_upper_text(previous)
    if style.startswith("decimal"):
        prefix = label.rsplit(".", 1)[0]
        open_labels = {item.label for item in stack[1:] if item.style == "arabic" or item.style.startswith("decimal")}
        return prefix in open_labels or ended
    if style.startswith("bullet"):
        body = text[_length:].lstrip()
        return ended or body[:1].isupper()
    expected = _expected(stack, style)
    return expected is None or label == expected or ended


def _next_roman(stack: list[_Item], label: str) -> str:
    """OCR may misread a section number ("I." for "II."): sections only go up."""
    sibling = next((item for item in reversed(stack[1:]) if item.style == "roman"), None)
    if sibling is None:
        return label
    before, now = _roman_value(sibling.label) or 0, _roman_value(label) or 0
    return label if now > before else _roman(before + 1)


def _own_text(item: _Item) -> str:
    if item.style == "root":
        return " ".join(" ".join(line.text for line in item.lines).split())
    parts = [item.first.text[item.marker_end :].strip(), *(line.text for line in item.lines[1:])]
    return " ".join(" ".join(parts).split())


def _section_kind(item: _Item) -> str | None:
    """'directive' or 'descriptive' from the nearest heading above that says which ("II. NHIỆM VỤ …",
    "I. MỤC ĐÍCH, YÊU CẦU", "1. Kết quả"); None when no heading says."""
    node = item.parent
    while node is not None and node.style != "root":
        heading = fold(_own_text(node))[:HEADING_MAX_CHARS]
        if lexicon.DIRECTIVE_SECTION.match(heading):
            return "directive"
        first_line = node.first.text[node.marker_end :].strip()
        if lexicon.DESCRIPTIVE_SECTION.match(heading) and (
                len(first_line) <= DESCRIPTIVE_HEADING_CHARS or is_upper_text(first_line)):
            return "descriptive"  # "I. Đánh giá chung", not "1. Yêu cầu Thủ trưởng các cơ quan … thực hiện:"
        node = node.parent
    return None


# --------------------------------------------------------------------------- units


def _clean_org(text: str) -> str:
    text = text.strip(" ,;:.-–")
    words = text.split()
    while words and words[-1] in lexicon.TRAILING_WORDS:
        words.pop()
    return " ".join(words)


def _body_head(text: str, position: int = 0, *, named: bool = True) -> int | None:
    """The end of the word that opens a body's name at `position` ("Sở", "UBND", "Thủ trưởng", "các sở"), or None:
    "các", "những" need a kind of body or a capitalised name after them ("các sở, ngành", "các Chủ đầu tư"; not
    "các dự án"), and, when `named`, a head that is also a common word a capitalised name ("Sở Y tế", not
    "Trường hợp")."""
    position += len(text[position:]) - len(text[position:].lstrip())
    head = lexicon.ORG_HEAD.match(text, position)
    if head is None:
        return None
    following = text[head.end() :].lstrip()
    if head.group() in lexicon.PLURAL_HEADS:
        kind = following.lower()
        named_after = following[:1].isupper() and not lexicon.PLACE_KIND.match(kind)
        of_a_kind = lexicon.BODY_KIND.match(kind) or lexicon.BODY_KIND_FOLDED.match(fold(following))
        return head.end() if of_a_kind or named_after else None
    if named and head.group() in lexicon.PROPER_NAME_HEADS and not following[:1].isupper():
        return None
    return head.end()


def _split_orgs(text: str) -> list[str]:
    """The bodies of a list: its parts short enough for a name (a longer part is a sentence)."""
    return [part for part in _org_parts(text) if len(part) <= _NAME_CHARS and len(part.split()) <= _NAME_WORDS]


def _org_parts(text: str) -> list[str]:
    """The parts of a list of bodies ("Thủ trưởng các sở, ngành; Chủ tịch UBND các huyện, thành phố và các cơ quan
    liên quan"): cut at ";", "," and "và" only where a body's name starts, so that the commas inside a name ("các
    sở, ban, ngành", "UBND các huyện, thành phố") stay in it."""
    parts: list[str] = []
    position = 0
    for match in lexicon.ORG_SPLIT.finditer(text):
        before = text[position : match.start()]
        if "và" in match.group() and before.rstrip().endswith(lexicon.JOINT_BODIES):
            continue
        if _body_head(text, match.end(), named=False) is None:
            continue  # "và các KCN": a place in the name
        parts.append(before)
        position = match.end()
    parts.append(text[position:])
    return [cleaned for part in parts if (cleaned := _clean_org(part))]


_ORG_WINDOW = 400  # characters: a list of bodies is never longer
_NAME_CHARS = 160  # nor one body's name in characters
_NAME_WORDS = 20  # and in words


def _org_at(text: str, start: int) -> tuple[str, int] | None:
    """The bodies named from `start` on: up to the verb or punctuation that ends their list. A ";" goes on to
    the next body of a list ("Thủ trưởng các sở, ngành; Chủ tịch UBND các huyện có trách nhiệm"); OCR's full
    stop for a comma, before a lower-case word ("UBND các huyện. thành phố"), ends nothing."""
    text, offset = text[start : start + _ORG_WINDOW], start
    position = _body_head(text)
    if position is None:
        return None
    lower = text.lower()
    end = _sealed_list(text, lower)
    if end is None:
        end = _names_end(text, lower, position)
    name = text[:end]
    if not _split_orgs(name):
        return None  # a sentence, not a list of names: the next giving word may name the bodies
    return name, offset + end


def _names_end(text: str, lower: str, position: int) -> int:
    """Where the names that start `text` end: at the verb or punctuation after them, read from `position` on."""
    while (stop := lexicon.ORG_STOP.search(lower, position)) is not None:
        word = stop.start("word") if stop.group("word") else -1
        punctuation = stop.group().strip()
        if word >= 0 and not text[word].islower():
            position = stop.end()  # a capitalised word belongs to the name ("Ban Quản lý dự án")
            continue
        head_end = _body_head(text, lower.rfind(" ", 0, word - 1) + 1) if word > 0 else None
        if head_end is not None and head_end > word:
            position = head_end  # the verb is in the head of the list's next body: ", Ban quản lý …"
            continue
        if word >= 0 and lexicon.NAME_ENDING_IN_ADVERB.search(lower, 0, word + len(stop.group("word"))):
            position = stop.end()  # the adverb ends a body's name: "Trung tâm Giáo dục thường xuyên tổ chức"
            continue
        if word >= 0 and lower[:word].split()[-1:] in (["các"], ["những"]):
            position = stop.end()  # after "các" a verb is a noun: "các tổ chức, đoàn thể"
            continue
        if word >= 0 and (area := lexicon.WITHIN_AREA.match(lower, word)) is not None:
            position = area.end()  # "… các huyện, thành phố trong tỉnh"
            continue
        if punctuation == "." and text[stop.end() : stop.end() + 1].islower():
            position = stop.end()  # OCR's full stop for a comma: "UBND các huyện. thành phố"
            continue
        if punctuation == ";" and (next_head := _body_head(text, stop.end())) is not None:
            position = next_head  # the next body's name, read from after its head ("Ban quản lý")
            continue
        if word >= 0:
            # "trung học phổ thông báo cáo": when a later verb overlaps this one, the first word belongs
            # to the name ("phổ thông") and the verb is the later one ("báo cáo")
            later = lexicon.DIRECTIVE_VERB.match(lower, word + len(stop.group("word").split()[0]) + 1)
            if later is not None and later.end() > word + len(stop.group("word")):
                return later.start()
        return stop.start()
    return len(text)


def _sealed_list(text: str, lower: str) -> int | None:
    """The end of a list of bodies that "theo chức năng, nhiệm vụ" closes ("Giám đốc các sở, các đơn vị được giao vốn,
    các Ban quản lý chủ trì dự án theo chức năng, nhiệm vụ được giao khẩn trương …"), or None: everything before the
    phrase names bodies, a verb included where it restricts a group of them ("các đơn vị được giao vốn") and names
    no other body. No sentence mark may come between, and a named body ("Sở Y tế chủ trì, …") ends at its verb."""
    seal = lexicon.BY_FUNCTIONS.search(lower)
    if seal is None or not lexicon.SEALED_BY.match(lower, seal.end()) or re.search(r"[;:(]|\.(?:\s|$)", text[: seal.start()]):
        return None
    for part in _org_parts(text[: seal.start()]):
        lower_part = part.lower()
        # a verb after the body's head ("Ban quản lý"), neither capitalised ("Ban Quản lý dự án") nor after "các"
        # ("các tổ chức"): words of a name, as _names_end reads them
        verb = next((v for v in lexicon.DIRECTIVE_VERB.finditer(lower_part, _body_head(part, named=False) or 0)
                     if part[v.start()].islower() and lower_part[: v.start()].split()[-1:] not in (["các"], ["những"])),
                    None)
        if verb is None:
            continue
        group = set(part[: verb.start()].split()) & set(lexicon.PLURAL_HEADS)
        if not group or lexicon.ORG_HEAD.search(part, verb.end()) or lexicon.WITH.search(lower_part):
            return None
    return seal.start()


def _labelled(text: str, pattern: re.Pattern[str], *, whole_line: bool) -> list[str]:
    """Units after a label ("Đơn vị chủ trì: X; Y"): on an attribute line the value is the rest of the line; inside
    a sentence only bodies ("… triển khai. Thực hiện: thường xuyên báo cáo …" names none)."""
    folded = fold(text)
    out: list[str] = []
    for match in pattern.finditer(folded):
        if whole_line:
            value = text[match.end() :]
        else:
            end = re.search(r"[;)]|\.(?:\s|$)|$", text[match.end() :])
            value = text[match.end() : match.end() + (end.start() if end else 0)]
            if _body_head(value) is None:
                continue
        out += _split_orgs(value)
    return out


def _persons(text: str) -> list[str]:
    """The people an item opens by naming before their duty ("Ông, bà: Nguyễn Văn A - Trần Thị B có trách nhiệm
    …"): capitalised names from a family name after the title, cut at "-", "," and "và", up to the verb (so
    "Bà Rịa - Vũng Tàu có trách nhiệm" names no one)."""
    lead = lexicon.PERSON_LEAD.match(text)
    if lead is None:
        return []
    names: list[list[str]] = [[]]
    position = lead.end()
    for word in re.finditer(r"\S+", text[lead.end() : lead.end() + 160]):
        token = word.group().rstrip(",")
        position = lead.end() + word.start()
        if token in ("-", "–", "và"):
            names.append([])
        elif token[:1].isupper():
            names[-1].append(token)
            if word.group().endswith(","):
                names.append([])
        else:
            break
    lower = text.lower()
    if not (lexicon.OBLIGATION.match(lower, position) or lexicon.DIRECTIVE_VERB.match(lower, position)):
        return []
    return [" ".join(name) for name in names if 2 <= len(name) <= 5 and name[0] in FAMILY_NAMES]


def _assignees(text: str, attributes: Sequence[Line] = ()) -> tuple[list[str], list[str]]:
    """(assignees, coordinators) named in an item's text and its attribute lines."""
    lower = text[:2000].lower()  # units are named near the start of an item
    assignees: list[str] = []
    coordinators: list[str] = []
    for line in attributes:
        label_text = _attribute_text(line.text)
        assignees += _labelled(label_text, lexicon.ASSIGNEE_LABEL_LINE, whole_line=True)
        coordinators += _labelled(label_text, lexicon.COORDINATOR_LABEL_LINE, whole_line=True)
    if not assignees:
        assignees = _labelled(text, lexicon.ASSIGNEE_LABEL, whole_line=False)
    if not coordinators:
        coordinators = _labelled(text, lexicon.COORDINATOR_LABEL, whole_line=False)
    if not assignees:
        setting = lexicon.SETTING.match(fold(text))  # "Trong quá trình thực hiện, <the body> <its verb> …"
        opening = _org_at(text, setting.end() if setting else 0)
        assignees = _persons(text) or (
            _split_orgs(opening[0]) if opening else _given(text, lexicon.GIVE, _GIVEN_AT_START))
    if not coordinators:
        for match in lexicon.WITH.finditer(lower):
            org = _org_at(text, match.end())
            if org is not None:
                coordinators += _split_orgs(org[0])
    return _unique(assignees), _unique(coordinators)


_GIVEN_AT_START = 80  # characters: "Giao Sở …", "Đối với UBND các huyện: …" open an item
_CHARGED_WITHIN = 400  # characters: "…, giao Sở Tài chính chủ trì" in an item's first sentences


def _given(text: str, words: re.Pattern[str], within: int) -> list[str]:
    """The bodies named after the first word that hands them the item ("giao", "đề nghị", "đối với") within its
    first `within` characters."""
    for give in words.finditer(text[:within].lower()):
        org = _org_at(text, give.end())
        if org is not None:
            return _split_orgs(org[0])
    return []


def _intro_assignees(text: str) -> list[str]:
    """The units a lead-in addresses: "… đề nghị UBND các huyện, thành phố thực hiện một số nội dung sau:"."""
    text = text[-600:]  # the sentence that introduces the list
    lower = text.lower()
    found: list[str] = []
    for give in lexicon.GIVE.finditer(lower):
        org = _org_at(text, give.end())
        if org is not None:
            found = _split_orgs(org[0])
    return found


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = fold(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _action(text: str, assignees: list[str]) -> str | None:
    lower = text.lower()
    start = 0
    if assignees:
        position = lower.find(assignees[0].lower())
        if position >= 0:
            start = position + len(assignees[0])
    match = lexicon.DIRECTIVE_VERB.search(lower, start)
    return match.group() if match else None


# --------------------------------------------------------------------------- tasks


@dataclass
class _Candidate:
    item: _Item
    path: list[str]
    section: list[str]  # labels of roman/dieu/upper ancestors (dropped from ids when not needed)


def _labels(children: list[_Item]) -> list[str]:
    """Labels of sibling items: bullets are numbered in their order among bullets of the same kind."""
    counts: Counter[str] = Counter()
    labels = []
    for child in children:
        if child.style.startswith("bullet"):
            counts[child.style] += 1
            labels.append(str(counts[child.style]))
        else:
            labels.append(f"Đ{child.label}" if child.style == "dieu" else child.label)
    return labels


def _walk(item: _Item, path: list[str], section: list[str], out: list[_Candidate]) -> None:
    for child, label in zip(item.children, _labels(item.children), strict=True):
        child_path = list(path)
        if child.style.startswith("decimal") and child_path and label.split(".")[0] == child_path[-1]:
            child_path[-1] = label  # "2.3." under "2." is "2.3", not "2.2.3"
        else:
            child_path.append(label)
        child_section = section
        if child.style in _SECTION_STYLES and len(path) == len(section):
            child_section = [*section, label]
        out.append(_Candidate(child, child_path, child_section))
        _walk(child, child_path, child_section, out)


class _SpanIndex(Generic[T]):
    """Things found in the text, by the start of each of their spans: range queries in log time (a long
    document has thousands of tasks and mentions; scanning all of them per task would be quadratic)."""

    def __init__(self, items: Iterable[tuple[int, T]]) -> None:
        pairs = sorted(items, key=lambda pair: pair[0])
        self.starts = [start for start, _ in pairs]
        self.items = [item for _, item in pairs]

    def between(self, start: int, end: int) -> list[T]:
        return self.items[bisect.bisect_left(self.starts, start) : bisect.bisect_left(self.starts, end)]


class TaskContext:
    """The other extractors' results, indexed by position."""

    def __init__(self, references: Sequence[Reference], dates: Sequence[DateMention], places: Sequence[Place]) -> None:
        self.dates = _SpanIndex((d.span.start, d) for d in dates if d.span is not None)
        self.places = _SpanIndex((m.start, p) for p in places for m in p.mentions)
        self.references = _SpanIndex((m.start, r) for r in references for m in r.mentions)


def _closes(item: _Item, text: str, last: bool) -> bool:
    """Whether an item closes the document instead of directing: the execution clause of a decision ("Điều 3. …
    chịu trách nhiệm thi hành Quyết định này") or the request to report problems if any ("Trong quá trình thực
    hiện, nếu có khó khăn …"), wherever they stand; or the closing formula, which no number opens and which
    follows every item (`last`), a bullet before it (a speck OCR read as one)."""
    folded = fold(text)
    if lexicon.EXECUTION.search(folded) or lexicon.IF_PROBLEMS.match(folded):
        return True
    return last and item.style.startswith("bullet") and bool(lexicon.CLOSING.search(folded))


def _is_task(item: _Item, children_tasks: bool, context: TaskContext, last: bool) -> bool:
    """Whether an item is a task by what it says; `last`: no item follows it."""
    text = _own_text(item)
    folded = fold(text)
    lower = text.lower()
    if children_tasks and not _instructs(item, text):
        return False  # a heading over tasks ("1. Sở Y tế:", "c) … có trách nhiệm hướng dẫn:")
    if not text or _closes(item, text, last) or folded.startswith("can cu"):
        return False  # the document's closing, a legal basis
    if item.style in _SECTION_STYLES and (
            (is_upper_text(text, 0.6) and not item.children) or lexicon.DESCRIPTIVE_SECTION.match(folded)):
        return False  # a section title with nothing under it, an assessment ("I. Đánh giá chung …")
    if _inside(item, "dieu") and lexicon.DECISION.match(lower):
        return False  # "Điều 1. Phê duyệt …": what is decided, not who must act
    kind = _section_kind(item)
    if kind == "descriptive":
        return False
    if kind == "directive":
        return True
    if any(lexicon.ASSIGNEE_LABEL_LINE.match(fold(_attribute_text(line.text))) for line in item.attributes):
        return True  # "Đơn vị chủ trì: …" under it: a task list entry
    assignees, _ = _assignees(text, item.attributes)
    verb = lexicon.DIRECTIVE_VERB.search(lower)
    if assignees and verb is not None:
        return True
    if lexicon.OBLIGATION.search(lower):
        return True  # "Ông, bà … có trách nhiệm đền bù …": someone is given a duty
    if lexicon.IMPERATIVE.match(lower):
        return True  # an instruction in the imperative: "Rà soát …", "Thi hành nghiêm chỉnh …"
    return any(d.kind == "deadline" for d in _dates_in(item, context)) and verb is not None


def _is_speck(word: str) -> bool:
    """A word with no letter (modifier letters such as 'ˆ' are marks), digit or sentence punctuation: "—", "ˆ"."""
    return not any(ch.isdigit() or ch in ":;.!?)]" or (ch.isalpha() and unicodedata.category(ch) != "Lm")
                   for ch in word)


def _without_trailing_specks(text: str) -> str:
    """The text without the specks OCR read after its last word ("… tỉnh): — ˆ")."""
    words = text.split()
    while words and _is_speck(words[-1]):
        words.pop()
    return " ".join(words)


def _instructs(item: _Item, text: str) -> bool:
    """An item over sub-tasks is a task itself when its own paragraph is a whole instruction: a sentence of more
    than a heading's length that does not end by announcing its list (":"), with an instruction in it."""
    text = _without_trailing_specks(text)
    if item.style in _SECTION_STYLES or len(text) <= HEADING_MAX_CHARS or text.endswith(":"):
        return False
    lower = text.lower()
    return bool(lexicon.DIRECTIVE_VERB.search(lower)) and not lexicon.DECISION.match(lower)


def _duty_by_place(item: _Item, is_task: dict[int, bool], last: bool) -> bool:
    """An item is a task by where it stands: a bulleted paragraph of a numbered or lettered task ("a) UBND thị xã
    có nhiệm vụ …" / "- Thu tiền …"), or of a heading that names who acts and announces its list ("2. Sở Kế
    hoạch và Đầu tư chủ trì, phối hợp …:"); an instruction among sibling items that are mostly tasks."""
    text = _own_text(item)
    parent = item.parent
    if not text or parent is None or parent.style == "root" or _closes(item, text, last):
        return False
    if any(is_task.get(id(child)) for child in item.children):
        return False  # a heading over tasks
    if item.style.startswith("bullet") and not parent.style.startswith("bullet"):
        heading = _own_text(parent)
        if is_task.get(id(parent)) and not heading.rstrip().endswith(":"):
            return True
        if heading.rstrip().endswith(":") and _assignees(heading, parent.attributes)[0]:
            return True
    siblings = [child for child in parent.children if child.style == item.style and child is not item]
    return (bool(siblings) and 2 * sum(bool(is_task.get(id(s))) for s in siblings) >= len(siblings)
            and lexicon.DIRECTIVE_VERB.search(text.lower()) is not None)


def _build_tasks(doc: DocumentText, root: _Item, prefix: str, context: TaskContext,
                 default_assignees: list[str]) -> list[Task]:
    candidates: list[_Candidate] = []
    _walk(root, [], [], candidates)
    is_task: dict[int, bool] = {}
    last = candidates[-1].item if candidates else None  # the closing formula is after every other item
    for candidate in reversed(candidates):  # bottom-up: children are decided before their heading
        item = candidate.item
        children_tasks = any(is_task.get(id(child)) for child in item.children)
        is_task[id(item)] = _is_task(item, children_tasks, context, item is last)
    for candidate in candidates:  # top-down: duties the bottom-up rules cannot see alone
        item = candidate.item
        if not is_task[id(item)] and _duty_by_place(item, is_task, item is last):
            is_task[id(item)] = True
    reported = {id(item) for item in (root, *(c.item for c in candidates)) if item.children and _reports(item)}
    chosen = [c for c in candidates if is_task[id(c.item)] and not _under(c.item, reported)]
    intro = _intro_assignees(_own_text(root)) or default_assignees
    return [_task(doc, c.item, f"{prefix}{task_id}", context, intro) for c, task_id in zip(chosen, _ids(chosen), strict=True)]


def _reports(item: _Item) -> bool:
    """A list's lead-in that reports a petition's demands ("… đơn … khiếu nại …, với các yêu cầu:")."""
    tail = _without_trailing_specks(_own_text(item))[-LEAD_IN_TAIL_CHARS:]
    sentence = _SENTENCE_END.split(tail)[-1].lower()
    return bool(lexicon.REPORTED_DEMANDS.search(sentence)) and not lexicon.DIRECTING.search(sentence)


def _under(item: _Item, heads: set[int]) -> bool:
    """Whether one of `item`'s ancestors is among `heads`."""
    parent = item.parent
    while parent is not None:
        if id(parent) in heads:
            return True
        parent = parent.parent
    return False


def _inside(item: _Item, style: str) -> bool:
    node: _Item | None = item
    while node is not None:
        if node.style == style:
            return True
        node = node.parent
    return False


def _ids(chosen: list[_Candidate]) -> list[str]:
    """Dotted paths; the section part (I., Điều 2) is dropped when the ids stay unique without it."""
    full = [".".join(c.path) for c in chosen]
    short = [".".join(c.path[len(c.section) :]) or ".".join(c.path) for c in chosen]
    ids = short if len(set(short)) == len(short) else full
    counts: Counter[str] = Counter()
    out = []
    for task_id in ids:
        counts[task_id] += 1
        out.append(task_id if counts[task_id] == 1 else f"{task_id}~{counts[task_id]}")
    return out


def _span_of(item: _Item) -> tuple[int, int]:
    lines = item.all_lines()
    return lines[0].start, lines[-1].end


def _dates_in(item: _Item, context: TaskContext) -> list[DateMention]:
    start, end = _span_of(item)
    return context.dates.between(start, end)


def _deadline(doc: DocumentText, item: _Item, context: TaskContext) -> str | None:
    """The first deadline in the item (or, failing that, a period it must be done 'trong' — within), else its
    heading's."""
    node: _Item | None = item
    while node is not None and node.style != "root":
        if node is item:
            start, end = _span_of(item)
        else:
            start, end = node.first.start, (node.attributes or node.lines)[-1].end
        inside: list[DateMention] = context.dates.between(start, end)
        for mention in inside:
            if mention.kind == "deadline":
                return mention.end or mention.value
        for mention in inside:
            assert mention.span is not None
            if mention.kind in ("month", "quarter", "year", "period") and _WITHIN.search(
                    doc.text[max(0, mention.span.start - 12) : mention.span.start].lower()):
                return mention.end
        node = node.parent
    return None


def _task(doc: DocumentText, item: _Item, task_id: str, context: TaskContext, intro: list[str]) -> Task:
    text = _own_text(item)
    if item.children:  # a list item whose sub-items are details, not tasks of their own
        text = " ".join([text, *(_own_text(child) for child in item.children)])
    assignees, coordinators = _assignees(text, item.attributes)
    node = item.parent
    while not assignees and node is not None and node.style != "root":
        assignees, _ = _assignees(_own_text(node), node.attributes)
        node = node.parent
    if not assignees:  # "Trên cơ sở …, giao Sở Tài chính chủ trì …": charged further on in its sentence
        assignees = _given(text, lexicon.CHARGE, _CHARGED_WITHIN)
    if not assignees:
        assignees = list(intro)
    start, end = _span_of(item)
    places: list[str] = list(dict.fromkeys(place.name for place in context.places.between(start, end)))
    references: list[str] = list(dict.fromkeys(r.code for r in context.references.between(start, end)))
    span = doc.span(start, end)
    return Task(
        id=task_id,
        text=text,
        assignees=assignees,
        coordinators=coordinators,
        action=_action(text, assignees),
        places=places,
        references=references,
        deadline=_deadline(doc, item, context),
        page=span.page,
        span=span,
    )


def _appendix_parts(doc: DocumentText, layout: Layout) -> list[tuple[str, int, int]]:
    """(label, first line, end line) of each appendix ("Phụ lục I", "Phụ lục II")."""
    if layout.appendix_start is None:
        return []
    end = len(doc.lines)
    if layout.closing_start is not None and layout.closing_start > layout.appendix_start:
        end = layout.closing_start
    starts: list[tuple[str, int]] = []
    for line in doc.lines[layout.appendix_start : end]:
        folded = doc.folded[line.start : line.end]
        heading = re.match(rf"^{lexicon.loose(lexicon.APPENDIX_HEADING)}\s*(?:so\s*)?([ivxlc]+\b|\d+\b)?", folded)
        if len(line.text) <= HEADING_MAX_CHARS and heading:
            starts.append(((heading.group(1) or "").upper(), line.index))
    parts = []
    for k, (label, first) in enumerate(starts):
        last = starts[k + 1][1] if k + 1 < len(starts) else end
        parts.append((label, first + 1, last))
    return parts


# --------------------------------------------------------------------------- tables of tasks

# A table's cells as text keeps them: one tab each (empty cells kept), "|" rules, or runs of three spaces and more.
_CELL_SEPARATOR = re.compile(r"\t|\s*\|\s*|\s{3,}")
_STT = re.compile(r"^\d{1,3}\.?$")


@dataclass
class _Row:
    label: str
    cells: list[list[Line]]  # per column, the pieces of text (as Lines of the document) that fill it


def _cells(doc: DocumentText, line: Line) -> list[tuple[int, int]]:
    """Document offsets (start, end) of the cells of a table line, empty cells included (start == end): the
    line is taken with its leading tabs, which say which columns its first cells are in."""
    begin = max(doc.text.rfind("\n", 0, line.start), doc.text.rfind("\f", 0, line.start)) + 1
    raw = doc.text[begin : line.end]
    out, position = [], 0
    for separator in [*_CELL_SEPARATOR.finditer(raw), None]:
        stop = separator.start() if separator else len(raw)
        piece = raw[position:stop]
        lead = len(piece) - len(piece.lstrip())
        out.append((begin + position + lead, begin + position + len(piece.rstrip())))
        if separator is not None:
            position = separator.end()
    return out


def _table_columns(doc: DocumentText, line: Line) -> dict[str, int] | None:
    """Which column holds what ({"task": 1, "lead": 2, "partners": 3, "deadline": 4}) when `line` is the head of a
    table of tasks (STT | Nhiệm vụ | Cơ quan chủ trì | Cơ quan phối hợp | Thời gian hoàn thành)."""
    columns: dict[str, int] = {}
    for k, (start, end) in enumerate(_cells(doc, line)):
        heading = doc.folded[start:end].strip()
        for name, pattern in lexicon.TABLE_HEADINGS.items():
            if name not in columns and pattern.match(heading):
                columns[name] = k
                break
    return columns if {"task", "lead"} <= columns.keys() else None


def _table_tasks(doc: DocumentText, lines: Sequence[Line], prefix: str, context: TaskContext) -> list[Task] | None:
    """One task per row of a table of tasks: its "Nhiệm vụ" cell, its lead and partner units, its deadline; a row
    runs over the following lines until the next row number. None when the lines hold no such table."""
    heads = ((k, columns) for k, line in enumerate(lines) if (columns := _table_columns(doc, line)) is not None)
    k, columns = next(heads, (-1, None))
    if columns is None:
        return None
    width = 1 + max(columns.values())
    rows: list[_Row] = []
    for line in lines[k + 1 :]:
        cells = _cells(doc, line)
        first = doc.text[cells[0][0] : cells[0][1]] if cells else ""
        if _STT.match(first) and len(cells) > 1:
            rows.append(_Row(first.rstrip("."), [[] for _ in range(width)]))
        elif not rows or len(cells) < 2:
            continue  # before the first row, or a line that is no row of the table
        for column, (start, end) in enumerate(cells):
            if 0 < column < width and end > start:
                rows[-1].cells[column].append(Line(line.index, start, end, doc.text[start:end], line.page))
    tasks = []
    for row in rows:
        def cell(name: str, row: _Row = row) -> str:
            return " ".join(piece.text for piece in row.cells[columns[name]]) if name in columns else ""

        pieces = [piece for column in row.cells for piece in column]
        if not pieces or not cell("task"):
            continue
        start, end = min(p.start for p in pieces), max(p.end for p in pieces)
        deadline = None
        if "deadline" in columns and row.cells[columns["deadline"]]:
            time_cell = row.cells[columns["deadline"]]
            mentions = context.dates.between(time_cell[0].start, time_cell[-1].end)
            deadline = mentions[0].end if mentions else None
        span = doc.span(start, end)
        tasks.append(Task(
            id=f"{prefix}{row.label}", text=cell("task"), assignees=_split_orgs(cell("lead")),
            coordinators=_split_orgs(cell("partners")), action=_action(cell("task"), []),
            places=list(dict.fromkeys(p.name for p in context.places.between(start, end))),
            references=list(dict.fromkeys(r.code for r in context.references.between(start, end))),
            deadline=deadline, page=span.page, span=span))
    return tasks


def extract_tasks(doc: DocumentText, layout: Layout, context: TaskContext) -> list[Task]:
    """The tasks of the body, then those of the appendices (ids "PL.7", or "PLII.3" with several): a list of items,
    or a table of tasks (one task per row)."""
    main_end = min(x for x in (layout.closing_start, layout.appendix_start, len(doc.lines)) if x is not None)
    body_lines = [line for line in doc.lines[layout.body_start : main_end] if line.index not in layout.skip]
    tasks = _build_tasks(doc, _build_tree(body_lines), "", context, [])
    parts = _appendix_parts(doc, layout)
    for label, first, last in parts:
        lines = [line for line in doc.lines[first:last] if line.index not in layout.skip]
        prefix = f"PL{label}." if len(parts) > 1 else "PL."
        table = _table_tasks(doc, lines, prefix, context)
        tasks += table if table is not None else _build_tasks(doc, _build_tree(lines), prefix, context, [])
    return tasks
