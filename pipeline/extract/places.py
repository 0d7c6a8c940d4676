"""Provinces, districts and communes named in a document, resolved against the gazetteer (pre-2025 units and
the 2025 reform) with lists, qualifiers ("xã Hồng Thái, huyện Bình Gia") and the issuer's area as context."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from rapidfuzz import fuzz, process

from pipeline.extract.text import DocumentText, fold_key
from pipeline.resources import current_resources
from pipeline.types import Place, Span
from pipeline.vietnamese import fold

PROVINCE, DISTRICT, COMMUNE = "province", "district", "commune"
LEGACY, REFORM = "legacy", "2025"
REFORM_DATE = "2025-07-01"  # the two-level local government took effect on this day
FUZZY_CUTOFF = 86
# How close (rapidfuzz ratio of folded names) an unresolved place of issue must be to a unit of the header to
# take its spelling: one or two letters misread in a name of two syllables.
PLACE_OF_ISSUE_RATIO = 85


@dataclass(frozen=True)
class Unit:
    """One administrative unit of the gazetteer."""

    era: str  # LEGACY (before 1 July 2025) or REFORM
    level: str
    code: str
    type: str  # "Tỉnh", "Thành phố", "Huyện", "Quận", "Thị xã", "Xã", "Phường", "Thị trấn", "Đặc khu"
    name: str  # short name, e.g. "Hữu Lũng"
    parent: str | None  # district code of a commune, province code of a district or of a 2025 commune
    new_code: str | None = None  # LEGACY commune/province → its 2025 successor


class Gazetteer:
    """The units of pipeline/data/gazetteer.json.gz, indexed by folded name (and former names)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.units: dict[tuple[str, str, str], Unit] = {}
        self.index: dict[str, list[tuple[Unit, bool]]] = defaultdict(list)  # key → (unit, is_former_name)
        for code, kind, name, new in data["provinces"]:
            self._add(Unit(LEGACY, PROVINCE, code, kind, name, None, new))
        for code, kind, name, province, former in data["districts"]:
            self._add(Unit(LEGACY, DISTRICT, code, kind, name, province), former)
        for code, kind, name, district, former, new in data["communes"]:
            self._add(Unit(LEGACY, COMMUNE, code, kind, name, district, new), former)
        for code, kind, name in data["new_provinces"]:
            self._add(Unit(REFORM, PROVINCE, code, kind, name, None))
        for code, kind, name, province in data["new_communes"]:
            self._add(Unit(REFORM, COMMUNE, code, kind, name, province))
        self._keys_by_level: dict[tuple[str, str | None], list[str]] = {}

    def _add(self, unit: Unit, former: Iterable[str] = ()) -> None:
        unit = Unit(unit.era, unit.level, unit.code, unit.type, _clean_name(unit.name), unit.parent, unit.new_code)
        self.units[(unit.era, unit.level, unit.code)] = unit
        self.index[fold_key(unit.name)].append((unit, False))
        if unit.name.isdigit():  # "Quận 1", "Phường 12": also reachable as "quan1"
            self.index[fold_key(unit.type + unit.name)].append((unit, False))
        for alias in former:
            self.index[alias].append((unit, True))

    def get(self, era: str, level: str, code: str | None) -> Unit | None:
        return self.units.get((era, level, code)) if code else None

    def district_of(self, unit: Unit) -> Unit | None:
        if unit.era == LEGACY and unit.level == COMMUNE:
            return self.get(LEGACY, DISTRICT, unit.parent)
        return unit if unit.level == DISTRICT else None

    def province_of(self, unit: Unit) -> Unit | None:
        if unit.level == PROVINCE:
            return unit
        if unit.era == REFORM:
            return self.get(REFORM, PROVINCE, unit.parent)
        district = self.district_of(unit)
        return self.get(LEGACY, PROVINCE, district.parent) if district else None

    def keys(self, level: str, province: str | None = None) -> list[str]:
        """Lookup keys of the units of a level (within one legacy province when given), for fuzzy matching."""
        cache_key = (level, province)
        if cache_key not in self._keys_by_level:
            keys = set()
            for key, entries in self.index.items():
                for unit, _former in entries:
                    if unit.level != level:
                        continue
                    p = self.province_of(unit)
                    if province is None or (p is not None and p.code == province and unit.era == LEGACY):
                        keys.add(key)
            self._keys_by_level[cache_key] = sorted(keys)
        return self._keys_by_level[cache_key]


def _clean_name(name: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", name).strip()  # "Cai Lậy (Huyện)" → "Cai Lậy"


def gazetteer() -> Gazetteer:
    """The gazetteer of this process's resources (pipeline.resources)."""
    return current_resources().gazetteer


def names_an_area(text: str) -> bool:
    """Whether `text` is the name of a province or a district ("Hà Tĩnh", "Hồ Chí Minh"), as a line may be."""
    return any(unit.level in (PROVINCE, DISTRICT) for unit, _former in gazetteer().index.get(fold_key(text), ()))


def load_gazetteer() -> Gazetteer:
    """Read pipeline/data/gazetteer.json.gz."""
    raw = resources.files("pipeline").joinpath("data", "gazetteer.json.gz").read_bytes()
    return Gazetteer(json.loads(gzip.decompress(raw)))


# --------------------------------------------------------------------------- mentions in text

# trigger word → (level, unit types it names); the first types are the expected ones
_TRIGGERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tinh": ((PROVINCE,), ("Tỉnh",)),
    "thanh pho": ((PROVINCE, DISTRICT), ("Thành phố",)),
    "tp": ((PROVINCE, DISTRICT), ("Thành phố",)),
    "huyen": ((DISTRICT,), ("Huyện",)),
    "quan": ((DISTRICT,), ("Quận",)),
    "thi xa": ((DISTRICT,), ("Thị xã",)),
    "tx": ((DISTRICT,), ("Thị xã",)),
    "xa": ((COMMUNE,), ("Xã",)),
    "phuong": ((COMMUNE,), ("Phường",)),
    "thi tran": ((COMMUNE,), ("Thị trấn",)),
    "dac khu": ((COMMUNE,), ("Đặc khu",)),
}
# Written with diacritics (any case); the distinctive words also with OCR's wrong or missing tone marks
# ("TĨNH NGHỆ AN", "huyen"), never "xa"/"quan", which are other words.
_TONES = {"i": "iìíỉĩị", "e": "eêèéẻẽẹềếểễệ", "o": "oôơòóỏõọồốổỗộờớởỡợ", "u": "uưùúủũụừứửữự",
          "a": "aăâàáảãạằắẳẵặầấẩẫậ", "y": "yỳýỷỹỵ"}


def _any_tone(word: str) -> str:
    return "".join(f"[{_TONES[ch]}]" if ch in _TONES else ch for ch in word)


_TRIGGER = re.compile(
    r"(?<![\w.])(?i:(?:tỉnh|thành\s+phố|tp\.|huyện|quận|thị\s+xã|tx\.|xã|phường|thị\s+trấn|đặc\s+khu)"
    rf"|{_any_tone('tinh')}|{_any_tone('thanh')}\s+{_any_tone('pho')}|{_any_tone('huyen')}|"
    rf"{_any_tone('thi')}\s+{_any_tone('xa')}|{_any_tone('phuong')}|{_any_tone('thi')}\s+{_any_tone('tran')})"
    r"(?P<uy>\s+(?i:ủy|uỷ))?(?![\w])"
)
_NAME_WORD = r"(?:[A-ZĐÀ-Ỹ][^\W\d_]*|\d{1,2}(?![\w/]))"
# Words of a name may be split by a line break ("xã Nội⏎Thôn"), list items too.
_GAP = r"(?:[ \t]+|[ \t]*\n[ \t]*)"
_NAME = re.compile(rf"[ \t]*:?[ \t]*\n?[ \t]*(?P<name>{_NAME_WORD}(?:(?:{_GAP}|[ \t]*-[ \t]*){_NAME_WORD}){{0,5}})")
_LIST_SEPARATOR = re.compile(r"[ \t]*(?:,|;|\bvà\b|\bva\b)[ \t]*\n?[ \t]*(?:(?:các|cac)[ \t]+)?")
_EXACT_TRIGGERS = frozenset({"tỉnh", "thành phố", "tp.", "huyện", "quận", "thị xã", "tx.", "xã", "phường",
                             "thị trấn", "đặc khu"})


def _exact_trigger(text: str) -> bool:
    return " ".join(text.lower().split()) in _EXACT_TRIGGERS


_NOT_A_NAME = re.compile(r"^(?:hoi chu nghia|uy ban|ubnd|so |nong thon|doan)")


@dataclass
class Mention:
    """A place name found in text, before resolution."""

    start: int  # of the name
    end: int
    name: str
    levels: tuple[str, ...]
    types: tuple[str, ...]
    trigger_start: int
    candidates: list[tuple[Unit, bool]] = field(default_factory=list)
    qualifiers: list[Mention] = field(default_factory=list)
    resolved: Unit | None = None


def _trigger_key(text: str) -> str:
    return " ".join(fold(text).replace(".", "").split())


def _lookup(words: list[str], levels: Sequence[str], trigger: str) -> tuple[int, list[tuple[Unit, bool]]]:
    """Longest prefix of `words` that names a unit of `levels`: (word count, candidates)."""
    index = gazetteer().index
    for count in range(len(words), 0, -1):
        key = fold_key("".join(words[:count]))
        found = [(u, former) for u, former in index.get(key, ()) if u.level in levels]
        if not found and count == 1 and words[0].isdigit():
            found = [(u, former) for u, former in index.get(fold_key(trigger + words[0]), ()) if u.level in levels]
        if found:
            return count, found
    return 0, []


def _fuzzy(words: list[str], levels: Sequence[str], provinces: Sequence[str]) -> tuple[int, list[tuple[Unit, bool]]]:
    """OCR-damaged names ("Hữu Lủng"): the closest unit name among those of the document's provinces."""
    g = gazetteer()
    for count in range(min(len(words), 4), 1, -1):
        query = fold_key("".join(words[:count]))
        if len(query) < 5:
            continue
        for level in levels:
            scopes: list[str | None] = list(provinces) if level != PROVINCE else [None]
            for province in scopes:
                if level == COMMUNE and province is None:
                    continue
                best = process.extractOne(query, g.keys(level, province), scorer=fuzz.ratio,
                                          score_cutoff=FUZZY_CUTOFF)
                if best is not None:
                    units = [(u, f) for u, f in g.index[best[0]] if u.level == level]
                    if units:
                        return count, units
    return 0, []


def _words(name: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in re.finditer(r"[^\s\-]+", name)]


def _case_fits(trigger: str) -> bool:
    """A trigger word in lower case, Title case or all capitals: not "Phương" inside a person's name (which
    has no tone error to forgive) — only written forms a dispatch uses."""
    letters = [ch for ch in trigger if ch.isalpha()]
    return trigger.islower() or trigger.isupper() or (letters[0].isupper() and "".join(letters[1:]).islower())


def find_mentions(doc: DocumentText, provinces: Sequence[str] = (), *, start: int = 0,
                  end: int | None = None) -> list[Mention]:
    """Place mentions of `doc.text[start:end]`: a trigger word, a name, list items and qualifiers after it."""
    text = doc.text
    end = len(text) if end is None else end
    mentions: list[Mention] = []
    position = start
    while True:
        trigger = _TRIGGER.search(text, position, end)
        if trigger is None:
            break
        position = trigger.end()
        if fold(text[trigger.start() : trigger.start() + 20]).startswith("xa hoi"):
            continue
        if not _case_fits(trigger.group()) or (trigger.group()[:1].isupper() and not _exact_trigger(trigger.group())
                                                and not trigger.group().isupper()):
            continue
        key = _trigger_key(text[trigger.start() : trigger.end() - len(trigger.group("uy") or "")])
        levels, types = _TRIGGERS[key]
        group = _read_list(doc, trigger.end(), end, levels, types, trigger.start(), key, provinces)
        if not group:
            continue
        mentions.extend(group)
        position = group[-1].end
        # qualifiers: "xã A, B huyện C tỉnh D" — the next mentions right after the list
        tail = _qualifiers(doc, position, end, provinces, group[0].levels)
        for qualifier in tail:
            for mention in group:
                mention.qualifiers.append(qualifier)
        if tail:
            mentions.extend(tail)
            position = tail[-1].end
    return mentions


def _read_list(doc: DocumentText, position: int, end: int, levels: tuple[str, ...], types: tuple[str, ...],
               trigger_start: int, trigger: str, provinces: Sequence[str]) -> list[Mention]:
    text = doc.text
    group: list[Mention] = []
    while True:
        match = _NAME.match(text, position, end)
        if match is None:
            break
        name = match.group("name")
        if _NOT_A_NAME.match(fold(name)):
            break
        words = _words(name)
        if group and _TRIGGER.match(name):
            break
        count, candidates = _lookup([w for w, _, _ in words], levels, trigger)
        if not count and not group:
            count, candidates = _fuzzy([w for w, _, _ in words], levels, provinces)
        if not count:
            break
        name_start = match.start("name")
        name_end = name_start + words[count - 1][2]
        mention = Mention(name_start, name_end, text[name_start:name_end], levels, types, trigger_start, candidates)
        if group and not _same_area(group[0], mention):
            break
        group.append(mention)
        separator = _LIST_SEPARATOR.match(text, name_end, end)
        if separator is None or separator.end() == name_end:
            break
        position = separator.end()
    return group


def _same_area(first: Mention, other: Mention) -> bool:
    """A list item must share a district (communes) or province (districts) with the list's first item."""
    g = gazetteer()

    def areas(mention: Mention) -> set[str]:
        out = set()
        for unit, _ in mention.candidates:
            parent = g.district_of(unit) if unit.level == COMMUNE and unit.era == LEGACY else g.province_of(unit)
            if parent is not None:
                out.add(parent.code)
        return out

    return bool(areas(first) & areas(other)) or first.levels == (PROVINCE,)


_RANK = {COMMUNE: 0, DISTRICT: 1, PROVINCE: 2}
_QUALIFIER_LEAD = re.compile(r"[ \t]*[,(–-]?[ \t]*")


def _qualifiers(doc: DocumentText, position: int, end: int, provinces: Sequence[str],
                below: tuple[str, ...]) -> list[Mention]:
    """Units right after a list that say where its items are ("xã A, B huyện C"): each of a higher level."""
    text = doc.text
    out: list[Mention] = []
    floor = max(_RANK[level] for level in below)
    while True:
        lead = _QUALIFIER_LEAD.match(text, position, end)
        start = lead.end() if lead else position
        trigger = _TRIGGER.match(text, start, end)
        if trigger is None:
            break
        key = _trigger_key(text[trigger.start() : trigger.end() - len(trigger.group("uy") or "")])
        levels, types = _TRIGGERS[key]
        group = _read_list(doc, trigger.end(), end, levels, types, trigger.start(), key, provinces)
        if len(group) != 1:
            break
        higher = [(u, f) for u, f in group[0].candidates if _RANK[u.level] > floor]
        if not higher:
            break
        group[0].candidates = higher
        out.extend(group)
        position = group[0].end
        floor = max(floor, min(_RANK[u.level] for u, _ in higher))
    return out


# --------------------------------------------------------------------------- resolution


@dataclass
class Context:
    """What the document says about its own area: the issuer's units, and every unit named unambiguously."""

    era: str = LEGACY
    home_province: str | None = None  # the issuer's province, as a name key (the same in both eras)
    home_district: str | None = None  # legacy district code of the issuer
    provinces: Counter[str] = field(default_factory=Counter)  # name key → mentions
    districts: Counter[str] = field(default_factory=Counter)  # legacy district code → mentions


def _score(unit: Unit, former: bool, mention: Mention, context: Context) -> float:
    g = gazetteer()
    province = g.province_of(unit)
    district = g.district_of(unit)
    score = 0.0
    if unit.type in mention.types:
        score += 3
    if unit.era == context.era:
        score += 6
    if former:
        score -= 1.5
    if unit.name.lower() == mention.name.lower():
        score += 1.5  # spelt with the same diacritics ("Trung Hạ", not "Trung Hà"), in any case ("XÃ TRUNG HẠ")
    for qualifier in mention.qualifiers:
        target = qualifier.resolved
        if target is not None and target in (district, province):
            score += 20
    if province is not None:
        key = fold_key(province.name)
        if key == context.home_province:
            score += 4
        score += math.log1p(context.provinces[key])
    if district is not None and unit.level == COMMUNE:
        if district.code == context.home_district:
            score += 5
        score += 2 * math.log1p(context.districts[district.code])
    return score


def _resolve(mention: Mention, context: Context) -> Unit | None:
    if not mention.candidates:
        return None
    ranked = sorted(mention.candidates, key=lambda c: (-_score(c[0], c[1], mention, context), c[0].code))
    return ranked[0][0]


def _count(unit: Unit, context: Context) -> None:
    g = gazetteer()
    province = g.province_of(unit)
    district = g.district_of(unit)
    if province is not None:
        context.provinces[fold_key(province.name)] += 1
    if district is not None:
        context.districts[district.code] += 1


def _place_of(unit: Unit, text: str) -> Place:
    g = gazetteer()
    province = g.province_of(unit)
    district = g.district_of(unit) if unit.level == COMMUNE else None
    new = None
    if unit.era == LEGACY:
        if unit.level == COMMUNE:
            successor = g.get(REFORM, COMMUNE, unit.new_code)
            if successor is not None:
                new_province = g.province_of(successor)
                new = {"level": COMMUNE, "name": successor.name, "type": successor.type, "code": successor.code,
                       "province": new_province.name if new_province else None}
        else:
            legacy_province = province if province is not None else None
            successor = g.get(REFORM, PROVINCE, legacy_province.new_code) if legacy_province else None
            if successor is not None:
                new = {"level": PROVINCE, "name": successor.name, "type": successor.type, "code": successor.code,
                       "province": successor.name}
    return Place(
        level=unit.level,
        name=unit.name,
        district=district.name if district else None,
        province=province.name if province else None,
        code=unit.code,
        text=text,
        new=new,
    )


def extract_places(doc: DocumentText, *, header_end: int = 0, place_of_issue: tuple[int, int] | None = None,
                   date: str | None = None) -> list[Place]:
    """Every unit named in the document (one Place each, with all its mentions), in order of first mention.

    `header_end`: offset where the header block ends (its units give the issuer's area); `place_of_issue`:
    the span of "Lạng Sơn" in "Lạng Sơn, ngày …"; `date`: the document date (after 1 July 2025 the 2025
    units come first)."""
    g = gazetteer()
    context = Context(era=REFORM if date and date >= REFORM_DATE else LEGACY)
    header = find_mentions(doc, end=header_end)
    for mention in header:
        mention.resolved = _resolve(mention, context)
        if mention.resolved is None:
            continue
        unit = mention.resolved
        province = g.province_of(unit)
        district = g.district_of(unit)
        if province is not None and (context.home_province is None or unit.level != PROVINCE):
            context.home_province = fold_key(province.name)  # the lowest unit of the header is the issuer's
        if district is not None:
            context.home_district = district.code
        _count(unit, context)
    if place_of_issue is not None:
        issue = _place_of_issue(doc, place_of_issue, header, context)
        if issue is not None:
            header.append(issue)
    provinces = [p.code for p in g.units.values()
                 if p.level == PROVINCE and p.era == LEGACY and fold_key(p.name) == context.home_province]
    body = find_mentions(doc, provinces, start=header_end)
    # unambiguous mentions first: they tell which districts the document is about
    for mention in body:
        if len({(u.era, u.code) for u, _ in mention.candidates}) == 1 and not mention.qualifiers:
            mention.resolved = mention.candidates[0][0]
            _count(mention.resolved, context)
    for mention in body:
        for qualifier in mention.qualifiers:
            if qualifier.resolved is None:
                qualifier.resolved = _resolve(qualifier, context)
        if mention.resolved is None:
            mention.resolved = _resolve(mention, context)
    places: dict[tuple[str, str, str], Place] = {}
    for mention in sorted([*header, *body], key=lambda m: m.start):
        if mention.resolved is None:
            continue
        key = (mention.resolved.era, mention.resolved.level, mention.resolved.code)
        if key not in places:
            places[key] = _place_of(mention.resolved, mention.name)
        places[key].mentions.append(doc.span(mention.start, mention.end))
    return list(places.values())


def _place_of_issue(doc: DocumentText, span: tuple[int, int], header: list[Mention],
                    context: Context) -> Mention | None:
    """'Lạng Sơn, ngày …' names the issuer's own unit: the header unit of that name, else a province, else a
    district of the issuer's province."""
    start, end = span
    name = doc.text[start:end]
    key = fold_key(name)
    for mention in header:
        if mention.resolved is not None and fold_key(mention.resolved.name) == key:
            return Mention(start, end, name, (mention.resolved.level,), (mention.resolved.type,), start,
                           [(mention.resolved, False)], resolved=mention.resolved)
    count, candidates = _lookup(name.split(), (PROVINCE, DISTRICT), "")
    if not count or count != len(name.split()):
        return None
    mention = Mention(start, end, name, (PROVINCE, DISTRICT), ("Tỉnh", "Thành phố"), start, candidates)
    mention.resolved = _resolve(mention, context)
    return mention


def places_in(places: Sequence[Place], start: int, end: int) -> list[Place]:
    """The places mentioned inside [start, end)."""
    return [p for p in places if any(start <= m.start < end for m in p.mentions)]


def spans_of(places: Sequence[Place]) -> list[Span]:
    return [m for p in places for m in p.mentions]


def canonical_place_of_issue(place: str | None, place_span: tuple[int, int] | None, places: Sequence[Place],
                             header_end: int) -> str | None:
    """The place of issue as the gazetteer spells it. 'Bình Giã, ngày …' (a diacritic misread) names the unit
    'Bình Gia': its spelling when the place of issue resolved to a unit that differs only in diacritics; when
    it resolved to none ('Lương Tòi'), the spelling of the header's unit it is closest to (the issuer's
    locality), if close enough; otherwise the place as written."""
    if place_span is None or place is None:
        return place
    for unit in places:
        if any(mention.start == place_span[0] for mention in unit.mentions):
            return unit.name if fold_key(unit.name) == fold_key(place) else place
    written = fold(place)
    scored = [(fuzz.ratio(fold(unit.name), written), unit.name) for unit in places
              if any(mention.start < header_end for mention in unit.mentions)]
    best = max(scored, default=None)
    if best is not None and best[0] >= PLACE_OF_ISSUE_RATIO and fold(best[1]) != written:
        return best[1]
    return place
