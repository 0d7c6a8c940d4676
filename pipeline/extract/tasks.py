"""Directive items of a dispatch as tasks: the numbered/lettered/bulleted list tree of the body and of an
appendix, its heading items, assignees ("Đơn vị chủ trì"), coordinators, deadlines, places and references."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.extract.header import Layout
from pipeline.extract.text import DocumentText, Line, fold, is_upper_text
from pipeline.types import DateMention, Place, Reference, Task

_ROMAN = re.compile(r"^(?P<label>X{0,2}(?:IX|IV|V?I{0,3}))\s*[.:/)]\s+(?=\S)")
_DIEU = re.compile(r"^(?i:điều|dieu)\s+(?P<label>\d{1,3})\s*[.:]\s*")
_DECIMAL = re.compile(r"^(?P<label>\d{1,2}(?:\.\d{1,2})+)\s*[.)]?\s+(?=\S)")
_ARABIC = re.compile(r"^(?P<label>\d{1,2})\s*[.)]\s+(?=\S)")
_PAREN_ARABIC = re.compile(r"^\((?P<label>\d{1,2})\)\s*(?=\S)")
_LETTER = re.compile(r"^(?P<label>[a-zđ])\s*[)]\s*(?=\S)|^(?P<label2>[a-zđ])\.\s+(?=\S)")
_UPPER_LETTER = re.compile(r"^(?P<label>[A-ZĐ])\s*[.)]\s+(?=[A-ZĐÀ-Ỹ]{2})")
_BULLET = re.compile(r"^(?P<label>[-–—+•*])\s*(?=\S)")
_PAGE_NUMBER = re.compile(r"^(?:[-–—]?\s*\d{1,3}\s*[-–—]?|trang\s*\d{1,3}(?:\s*/\s*\d{1,3})?)$")

# Attribute lines that belong to the item above them.
_ASSIGNEE_LABEL = re.compile(
    r"(?:^|[(;.]\s*)(?:don vi|co quan|bo phan)?\s*(?:chu tri(?: thuc hien)?|thuc hien|thuc hien chinh|"
    r"chiu trach nhiem(?: chinh)?)\s*:\s*|(?:^|[(;.]\s*)trach nhiem(?: thuc hien)?\s*:\s*|"
    r"(?:^|[(;.]\s*)chu tri\s*:\s*"
)
_COORDINATOR_LABEL = re.compile(r"(?:^|[(;.]\s*)(?:don vi|co quan|bo phan)?\s*phoi hop(?: thuc hien)?\s*:\s*")
_ATTRIBUTE_LINE = re.compile(
    r"^(?:[-–+•]\s*)?(?:(?:don vi|co quan|bo phan)\s+(?:chu tri|phoi hop|thuc hien)|chu tri\s*:|phoi hop\s*:|"
    r"thoi gian(?: hoan thanh| thuc hien)?\s*:|thoi han|han hoan thanh|trach nhiem(?: thuc hien)?\s*:|"
    r"san pham\s*:|kinh phi(?: thuc hien)?\s*:|ket qua dau ra\s*:|hinh thuc\s*:)"
)
_CLOSING = re.compile(
    r"^(?:tren day la|trong qua trinh (?:to chuc )?thuc hien|noi nhan)|"
    r"(?:chiu trach nhiem (?:thi hanh|thuc hien) (?:quyet dinh|chi thi|nghi quyet|ke hoach) nay)|"
    r"^(?:yeu cau|de nghi)\s+(?:cac|thu truong|ubnd|uy ban|lanh dao)[^.]{0,160}"
    r"(?:nghiem tuc|quan tam|khan truong|trien khai|phoi hop)[^.]{0,60}thuc hien(?:[^.]{0,40})?\s*\./?\.?$"
)
_NON_DIRECTIVE_SECTION = re.compile(
    r"^(?:muc dich|yeu cau|muc dich,? yeu cau|ket qua|tinh hinh|danh gia|ton tai|han che|nguyen nhan|"
    r"thanh phan|can cu|quan diem|muc tieu|pham vi|doi tuong|boi canh|thuc trang|chi tieu|"
    r"thoi gian,? dia diem|dia diem|noi dung cuoc hop|ket qua dat duoc|bai hoc kinh nghiem)"
)
_DIRECTIVE_SECTION = re.compile(r"nhiem vu|giai phap|to chuc thuc hien|phan cong|trach nhiem|noi dung|de xuat|kien nghi")
# Verbs that open an instruction ("Rà soát …", "Tổ chức …"); matched on folded text at a word start.
_DIRECTIVE_VERBS = (
    "chu tri", "phoi hop", "thuc hien", "to chuc", "trien khai", "chi dao", "huong dan", "kiem tra", "ra soat",
    "xay dung", "tham muu", "bao cao", "tong hop", "tuyen truyen", "tang cuong", "day manh", "tiep tuc",
    "bo tri", "phan bo", "hoan thanh", "lap", "ban hanh", "theo doi", "don doc", "giam sat", "cap nhat",
    "de xuat", "xu ly", "quan ly", "dam bao", "bao dam", "nang cao", "cung cap", "gui", "nop", "tiep nhan",
    "giai quyet", "khan truong", "chiu trach nhiem", "co trach nhiem", "yeu cau", "de nghi", "giao", "trinh",
    "tham dinh", "cung co", "ho tro", "van dong", "huy dong", "chuan bi", "thong bao", "cong khai", "duy tri",
    "nghien cuu", "dieu chinh", "rut kinh nghiem", "tap huan", "boi duong", "dao tao", "phat dong",
    "ngan chan", "phong chong", "phong, chong", "kiem soat", "so ket", "tong ket", "khac phuc", "chan chinh",
    "quan tam", "phan cong", "chu dong", "nghiem tuc", "xac minh", "dieu tra", "thong ke", "lua chon",
    "tiep thu", "hoan thien", "sua doi", "bo sung", "phoi hop", "rasoat", "can doi", "bo tri", "thanh lap",
    "to chuc", "thuc hien", "xem xet", "khao sat", "danh gia", "phoi, hop", "ke khai", "thu hoi", "cai tao",
    "sua chua", "lap dat", "van hanh", "mua sam", "dang ky", "thanh tra", "thong tin", "cap phat", "chi tra",
    "xu phat", "ra quyet dinh", "di doi", "giai ngan", "day nhanh", "uu tien", "tap trung",
)
# Decision content, not an assignment ("Điều 1. Phê duyệt Kế hoạch …").
_DECISION_VERBS = re.compile(
    r"^(?:phe duyet|ban hanh kem theo|ban hanh|cong nhan|bo nhiem|dieu dong|cho phep|bai bo|chap thuan|"
    r"khen thuong|tang|ky luat|quyet dinh nay|ke hoach nay|chi thi nay|nghi quyet nay)\b"
)
_DIRECTIVE_VERB = re.compile(r"(?<![\w])(" + "|".join(sorted(set(_DIRECTIVE_VERBS), key=len, reverse=True)) + r")(?![\w])")
# Words that open an organisation's name in an assignment.
_ORG_HEAD = re.compile(
    r"(?:Ủy ban|Uỷ ban|UBND|HĐND|Sở|Phòng|Ban|Văn phòng|Công an|Bộ|Cục|Chi cục|Tổng cục|Trung tâm|Đài|Báo|"
    r"Hội|Đoàn|Liên đoàn|Mặt trận|MTTQ|Kho bạc|Ngân hàng|Bảo hiểm|Trường|Bệnh viện|Thanh tra|Viện|Tỉnh đoàn|"
    r"Huyện đoàn|Hội đồng|Tổ|Thủ trưởng|Chủ tịch|Giám đốc|Trưởng|Chánh|Cơ quan|Đơn vị|Tỉnh ủy|Tỉnh uỷ|"
    r"Huyện ủy|Huyện uỷ|Thành ủy|Đảng ủy|Đảng uỷ|Công ty|Điện lực|Bưu điện|Viễn thông|Hạt|Kiểm lâm|Chi nhánh|"
    r"Quỹ|Cảng vụ|Các|các|Những|Lãnh đạo|Người đứng đầu|Cấp ủy|BCH|BCĐ|Ban Chỉ đạo|Ban Chỉ huy|Bộ Chỉ huy|"
    r"Thường trực|Ủy ban Kiểm tra)(?![\w])"
)
# Where an organisation's name ends (on folded text): punctuation, or a verb/preposition in lower case.
_ORG_STOP = re.compile(
    r"\s*(?::|;|\.(?:\s|$)|\(|,?\s+(?P<word>(?:" + "|".join(sorted(set(_DIRECTIVE_VERBS), key=len, reverse=True))
    + r"|tap trung|can cu|theo|de|trong|tren|tai|khi|ve|voi|doi voi|nham|sau khi|truoc)(?![\w])))"
)
# Heads that are also common words: a unit only when a capitalised name follows ("Sở Y tế", "Tổ công tác" no).
_PROPER_NAME_HEADS = frozenset({"Trường", "Tổ", "Hội", "Ban", "Phòng", "Đoàn", "Báo", "Đài", "Viện", "Quỹ", "Hạt",
                                "Cục", "Bộ", "Sở", "Những", "Chánh", "Trưởng", "Chi nhánh", "Trung tâm"})
_GIVE = re.compile(r"(?<![\w])(?:giao(?: cho)?|de nghi|yeu cau|chi dao|doi voi)\s+")
_WITH = re.compile(r"(?<![\w])phoi hop (?:voi|cung)\s+")
_ORG_SPLIT = re.compile(r"\s*(?:;|,|\s(?=và\s))\s*(?:và\s+)?(?=" + _ORG_HEAD.pattern + r")")
_CONNECTOR_WORDS = ("và", "các", "của", "thuộc", "cấp", "trực thuộc")


@dataclass
class _Item:
    style: str  # roman, dieu, decimal, arabic, paren, letter, upper, bullet:<char>, root
    label: str
    lines: list[Line] = field(default_factory=list)  # own lines (marker line, continuations, paragraphs)
    attributes: list[Line] = field(default_factory=list)  # "Đơn vị chủ trì: …" and deadline lines
    children: list[_Item] = field(default_factory=list)
    parent: _Item | None = None
    marker_end: int = 0  # characters of the marker on the first line
    closed: bool = False  # a closing formula followed: later unmarked paragraphs are not its own

    @property
    def first(self) -> Line:
        return self.lines[0]

    def all_lines(self) -> list[Line]:
        out = [*self.lines, *self.attributes]
        for child in self.children:
            out += child.all_lines()
        return sorted(out, key=lambda line: line.start)


def _marker(text: str) -> tuple[str, str, int] | None:
    """(style, label, marker length) of a list marker at the start of a line."""
    for style, pattern in (("dieu", _DIEU), ("roman", _ROMAN), ("decimal", _DECIMAL), ("arabic", _ARABIC),
                           ("paren", _PAREN_ARABIC), ("letter", _LETTER), ("upper", _UPPER_LETTER),
                           ("bullet", _BULLET)):
        match = pattern.match(text)
        if match is None:
            continue
        label = match.group("label") if "label" in match.groupdict() else None
        if label is None and "label2" in match.groupdict():
            label = match.group("label2")
        if not label:
            continue
        if (style == "roman" and len(label) == 1 and label != "I"
                and not is_upper_text(text[match.end() : match.end() + 40], 0.6)):
            continue  # "V. Nguyễn …": a name initial, not section five
        if style == "bullet":
            return f"bullet:{label if label in '-+' else '•'}", label, match.end()
        if style == "decimal":
            return f"decimal{label.count('.')}", label, match.end()
        return style, label, match.end()
    return None


def _build_tree(doc: DocumentText, lines: Sequence[Line]) -> _Item:
    root = _Item("root", "")
    stack: list[_Item] = [root]
    current: _Item | None = None
    for line in lines:
        text = line.text
        if not text or _PAGE_NUMBER.match(fold(text)):
            continue
        folded = fold(text)
        marker = _marker(text)
        if marker is not None and not _ATTRIBUTE_LINE.match(folded):
            style, label, length = marker
            if any(item.style == style for item in stack[1:]):
                while stack[-1].style != style:
                    stack.pop()
                stack.pop()
            parent = stack[-1]
            item = _Item(style, label, [line], parent=parent, marker_end=length)
            parent.children.append(item)
            stack.append(item)
            current = item
            continue
        if current is None:
            continue
        if _ATTRIBUTE_LINE.match(folded):
            current.attributes.append(line)
            continue
        if is_upper_text(text) and not marker:
            # an unnumbered heading ("DANH MỤC NHIỆM VỤ"): the lists before it are over
            stack = [root]
            current = None
            continue
        if current.closed or _CLOSING.search(folded) or text.endswith("/."):
            # the closing formula ("… thực hiện./."): unnumbered paragraphs after it are nobody's
            current.closed = True
            continue
        # a wrapped line or a further paragraph of the item: items run over several paragraphs
        current.lines.append(line)
    return root


def _section_directive(item: _Item) -> bool:
    """False inside sections that describe rather than direct ("I. MỤC ĐÍCH, YÊU CẦU", "1. Kết quả")."""
    node = item.parent
    while node is not None and node.style != "root":
        heading = fold(_own_text(node))
        if _NON_DIRECTIVE_SECTION.match(heading) and not _DIRECTIVE_SECTION.search(heading[:60]):
            return False
        node = node.parent
    return True


def _own_text(item: _Item) -> str:
    parts = [item.first.text[item.marker_end :].strip(), *(line.text for line in item.lines[1:])]
    return " ".join(" ".join(parts).split())


def _clean_org(text: str) -> str:
    text = text.strip(" ,;:.-–")
    words = text.split()
    while words and words[-1] in _CONNECTOR_WORDS:
        words.pop()
    return " ".join(words)


def _split_orgs(text: str) -> list[str]:
    parts = [_clean_org(part) for part in _ORG_SPLIT.split(text)]
    return [p for p in parts if p and len(p.split()) <= 20]


def _org_at(text: str, start: int) -> tuple[str, int] | None:
    """An organisation name starting at `start`: up to the verb or punctuation that ends it."""
    head = _ORG_HEAD.match(text, start)
    if head is None:
        return None
    if head.group() in _PROPER_NAME_HEADS:
        following = text[head.end() : head.end() + 2].strip()
        if not following[:1].isupper():  # "Trường hợp", "Tổ chức, cá nhân": not a unit
            return None
    folded = fold(text)
    position = head.end()
    end = len(text)
    while (stop := _ORG_STOP.search(folded, position)) is not None:
        word = stop.start("word") if stop.group("word") else -1
        if word >= 0 and not text[word].islower():
            position = stop.end()  # a capitalised word belongs to the name ("Ban Quản lý dự án")
            continue
        end = stop.start()
        break
    if end - start > 160:
        return None
    name = text[start:end]
    return (name, end) if name.strip() else None


def _assignees(text: str) -> tuple[list[str], list[str]]:
    """(assignees, coordinators) named in an item's text and attribute lines."""
    folded = fold(text)
    assignees: list[str] = []
    coordinators: list[str] = []
    for match in _ASSIGNEE_LABEL.finditer(folded):
        end = re.search(r"[;)]|\.(?:\s|$)|$", text[match.end() :])
        value = text[match.end() : match.end() + (end.start() if end else 0)]
        assignees += _split_orgs(value)
    for match in _COORDINATOR_LABEL.finditer(folded):
        end = re.search(r"[;)]|\.(?:\s|$)|$", text[match.end() :])
        value = text[match.end() : match.end() + (end.start() if end else 0)]
        coordinators += _split_orgs(value)
    if not assignees:
        org = _org_at(text, 0)
        if org is None:
            give = _GIVE.search(folded[:80])
            if give is not None:
                org = _org_at(text, give.end())
        if org is not None:
            assignees = _split_orgs(org[0])
    if not coordinators:
        for match in _WITH.finditer(folded):
            org = _org_at(text, match.end())
            if org is not None:
                coordinators += _split_orgs(org[0])
    return _unique(assignees), _unique(coordinators)


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
    folded = fold(text)
    start = 0
    if assignees:
        position = folded.find(fold(assignees[0]))
        if position >= 0:
            start = position + len(assignees[0])
    match = _DIRECTIVE_VERB.search(folded, start)
    return text[match.start() : match.end()].lower() if match else None


def _starts_with_directive(text: str) -> bool:
    folded = fold(text)
    match = _DIRECTIVE_VERB.match(folded)
    return match is not None


@dataclass
class _Candidate:
    item: _Item
    path: list[str]
    section: list[str]  # labels of roman/dieu/upper ancestors (dropped from ids when not needed)


def _label_of(item: _Item, siblings: list[_Item]) -> str:
    if item.style.startswith("bullet"):
        same = [s for s in siblings if s.style == item.style]
        return str(same.index(item) + 1)
    if item.style == "dieu":
        return f"Đ{item.label}"
    return item.label


def _walk(item: _Item, path: list[str], section: list[str], out: list[_Candidate]) -> None:
    for child in item.children:
        label = _label_of(child, item.children)
        child_path = list(path)
        if child.style.startswith("decimal") and child_path and label.split(".")[0] == child_path[-1]:
            child_path[-1] = label  # "2.3." under "2." is "2.3", not "2.2.3"
        else:
            child_path.append(label)
        child_section = section
        if child.style in ("roman", "dieu", "upper") and len(path) == len(section):
            child_section = [*section, label]
        out.append(_Candidate(child, child_path, child_section))
        _walk(child, child_path, child_section, out)


@dataclass
class TaskContext:
    references: Sequence[Reference]
    dates: Sequence[DateMention]
    places: Sequence[Place]


def _build_tasks(doc: DocumentText, root: _Item, prefix: str, context: TaskContext) -> list[Task]:
    candidates: list[_Candidate] = []
    _walk(root, [], [], candidates)
    is_task: dict[int, bool] = {}
    # bottom-up: a heading whose children hold tasks is not a task itself
    for candidate in reversed(candidates):
        item = candidate.item
        text = _own_text(item)
        folded = fold(text)
        has_task_child = any(is_task.get(id(child)) for child in item.children)
        if has_task_child or not text or _CLOSING.search(folded) or folded.startswith("can cu"):
            is_task[id(item)] = False
            continue
        if item.style in ("roman", "upper") and is_upper_text(text, 0.6) and not item.children:
            is_task[id(item)] = False  # a section title with nothing under it
            continue
        if not _section_directive(item):
            is_task[id(item)] = False
            continue
        full_text = " ".join([text, *(line.text for line in item.attributes)])
        assignees, _ = _assignees(full_text)
        in_decision = _inside(item, "dieu")
        directive = _starts_with_directive(text) and not (in_decision and _DECISION_VERBS.match(folded))
        if in_decision and _DECISION_VERBS.match(folded):
            directive = False
        has_deadline = any(d.kind == "deadline" for d in _dates_in(item, context))
        is_task[id(item)] = bool(assignees) or directive or (has_deadline and _DIRECTIVE_VERB.search(folded) is not None)
    tasks: list[Task] = []
    chosen = [c for c in candidates if is_task[id(c.item)]]
    ids = _ids(chosen)
    for candidate, task_id in zip(chosen, ids, strict=True):
        tasks.append(_task(doc, candidate.item, f"{prefix}{task_id}", context))
    return tasks


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
    own = [d for d in context.dates if d.span is not None and start <= d.span.start < end]
    return own


def _deadline(item: _Item, context: TaskContext) -> str | None:
    node: _Item | None = item
    while node is not None and node.style != "root":
        start, end = node.first.start, (node.attributes or node.lines)[-1].end
        if node is item:
            start, end = _span_of(item)
        for mention in context.dates:
            if mention.span is not None and start <= mention.span.start < end and mention.kind == "deadline":
                return mention.end or mention.value
        node = node.parent
    return None


def _task(doc: DocumentText, item: _Item, task_id: str, context: TaskContext) -> Task:
    text = _own_text(item)
    if item.children:  # a list item whose sub-items are details, not tasks of their own
        text = " ".join([text, *(_own_text(child) for child in item.children)])
    attributes = " ".join(line.text for line in item.attributes)
    assignees, coordinators = _assignees(" ".join([text, attributes]) if attributes else text)
    node = item.parent
    while not assignees and node is not None and node.style != "root":
        assignees, _ = _assignees(_own_text(node) + " " + " ".join(line.text for line in node.attributes))
        node = node.parent
    start, end = _span_of(item)
    places = []
    for place in context.places:
        if any(start <= m.start < end for m in place.mentions) and place.name not in places:
            places.append(place.name)
    references = [r.code for r in context.references if any(start <= m.start < end for m in r.mentions)]
    span = doc.span(start, end)
    return Task(
        id=task_id,
        text=text,
        assignees=assignees,
        coordinators=coordinators,
        action=_action(text, assignees),
        places=places,
        references=references,
        deadline=_deadline(item, context),
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
        heading = re.match(r"^phu\s*luc\s*(?:so\s*)?([ivxlc]+\b|\d+\b)?", folded)
        if len(line.text) <= 80 and heading:
            starts.append(((heading.group(1) or "").upper(), line.index))
    parts = []
    for k, (label, first) in enumerate(starts):
        last = starts[k + 1][1] if k + 1 < len(starts) else end
        parts.append((label, first + 1, last))
    return parts


def extract_tasks(doc: DocumentText, layout: Layout, context: TaskContext) -> list[Task]:
    """The tasks of the body, then those of the appendices (ids "PL.7", or "PLII.3" with several)."""
    main_end = min(x for x in (layout.closing_start, layout.appendix_start, len(doc.lines)) if x is not None)
    body_lines = [line for line in doc.lines[layout.body_start : main_end] if line.index not in layout.skip]
    tasks = _build_tasks(doc, _build_tree(doc, body_lines), "", context)
    parts = _appendix_parts(doc, layout)
    for label, first, last in parts:
        lines = [line for line in doc.lines[first:last] if line.index not in layout.skip]
        prefix = f"PL{label}." if len(parts) > 1 else "PL."
        tasks += _build_tasks(doc, _build_tree(doc, lines), prefix, context)
    return tasks
