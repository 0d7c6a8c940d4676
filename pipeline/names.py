"""Vietnamese personal names (a signer's): how often each syllable is a family, middle or given name, and the
reading of a name that OCR damaged by a mark or a letter through those counts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.resources import current_resources
from pipeline.vietnamese import fold

NAMES_FILE = Path(__file__).resolve().parent / "data" / "person_names.json"

# Vietnamese family names: the commonest, which cover about nine Vietnamese in ten, then rarer ones and those of
# the northern minorities. A written family name among them is never read as another. The anchors the name model
# is counted from (scripts/build_name_model.py) are the first set: the others are also common words or places
# (Hà, Mai, Cao, Thái, Lò …), which would count "Hà Nội" or "Thái Bình Dương" as names. The middle names that
# are nothing else (Văn, Thị) mark the syllable before them as a family name.
ANCHOR_FAMILY_NAMES = frozenset({
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
    "Dương", "Lý", "Đào", "Đoàn", "Trịnh", "Trương", "Đinh", "Lương", "Phùng", "Quách", "Lại", "Kiều", "Nông",
    "Hứa", "Tạ",
})
FAMILY_NAMES = ANCHOR_FAMILY_NAMES | frozenset({
    "Vương", "Lâm", "Mai", "Tô", "Hà", "Cao", "Chu", "Lưu", "Thái", "Triệu", "Đàm", "Lò", "La", "Từ", "Thân", "Vi",
    "Cầm", "Lường", "Bế", "Mạc", "Khổng", "Doãn", "Phí", "Hầu", "Thào", "Sùng", "Giàng", "Vàng",
})
ANCHOR_MIDDLE_NAMES = frozenset({"Văn", "Thị"})
# Letters whose capital is their small letter enlarged (a "p" is a "P" set lower, its bowl at the x-height): OCR
# reads their case wrong (the start of a line gives no x-height to tell them by). Not "k" or "j", whose capitals
# differ in shape, as "h" and "H" do.
CASE_ALIKE = frozenset("copsuvwxz")
ROLES = ("family", "middle", "given")

# A family name that is none of FAMILY_NAMES and was seen at most RARE times as one is open to a reading LIKELIER times as often a family name and
# RIVAL times as often as any other reading as near: the marks alone (Lé → Lê), else one letter (Thạm → Phạm). The few hundred
# family names are a closed set; middle names take a reading by marks only, and only when the written syllable is
# no name syllable at all; given names, countless, are never changed.
RARE = 2
LIKELIER = 50
RIVAL = 2.0


@dataclass(frozen=True)
class NameModel:
    """Counts of syllables per role in the names of a corpus."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, role: str, syllable: str) -> int:
        return self.counts.get(role, {}).get(syllable, 0)

    def seen(self, syllable: str) -> bool:
        return any(self.count(role, syllable) > RARE for role in ROLES)


def load_name_model(path: Path = NAMES_FILE) -> NameModel:
    data = json.loads(path.read_text(encoding="utf-8"))
    return NameModel({role: {str(k): int(v) for k, v in data.get(role, {}).items()} for role in ROLES})


def _letters_apart(first: str, second: str) -> int:
    """Letters that differ between two words of the same length, marks ignored (fold: one character for one)."""
    return sum(a != b for a, b in zip(fold(first), fold(second), strict=True))


def _reading(word: str, role: str, model: NameModel) -> str:
    """The likeliest reading of a syllable in its role (marks first, then one letter), or the syllable."""
    if role == "given" or model.count(role, word) > RARE or (role == "middle" and model.seen(word)):
        return word
    if role == "family" and word in FAMILY_NAMES:
        return word
    names = model.counts.get(role, {})
    for apart in (0, 1) if role == "family" else (0,):
        near = sorted(((count, candidate) for candidate, count in names.items() if len(candidate) == len(word)
                       and candidate != word and _letters_apart(candidate, word) == apart), reverse=True)
        if not near or near[0][0] < LIKELIER * max(model.count(role, word), 1):
            continue
        return near[0][1] if len(near) == 1 or near[0][0] >= RIVAL * near[1][0] else word
    return word


def read_name(name: str, model: NameModel | None = None) -> str:
    """A person's name ("Tham Trường Thọ") with a family or middle name that is rare in its place replaced by a far
    likelier one a mark or a letter away ("Phạm Trường Thọ"); the name as written otherwise."""
    model = model or current_resources().person_names
    words = name.split()
    if (words and words[0][:1] in CASE_ALIKE and words[0].islower() and words[0].capitalize() in FAMILY_NAMES
            and all(w[:1].isupper() for w in words[1:])):
        # "phạm Trường Thọ": OCR read the family name's capital in lower case; not a word before a name ("cao cấp
        # Nguyễn Văn An"), which is no family name however it reads capitalised
        words[0] = words[0].capitalize()
        name = " ".join(words)
    if not 2 <= len(words) <= 5 or not all(w[:1].isupper() and w[1:] == w[1:].lower() for w in words):
        return name
    # words of rank before the name ("Đại Tá Nguyễn Văn An"): the name starts at a known family name; with none,
    # a name of more than four words cannot be told from its rank, and is left as written
    start = next((i for i, word in enumerate(words[:-1]) if word in FAMILY_NAMES), 0)
    if start == 0 and words[0] not in FAMILY_NAMES and len(words) > 4:
        return name
    person = words[start:]
    roles = ["family", *["middle"] * (len(person) - 2), "given"]
    read = (_reading(word, role, model) for word, role in zip(person, roles, strict=True))
    return " ".join([*words[:start], *read])
