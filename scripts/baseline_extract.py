"""The extraction baseline: a few lines of regular expressions per record field, as a competent engineer would
write them in an afternoon from the Decree 30/2020 layout, with no model, no layout analysis, no OCR repair.

It fills every field the benchmarks score, so each of congvan's figures has a reference point; it reads the
same public tables congvan does (Decree 30 type names, the gazetteer file) but none of congvan's code. It was
written once against the layout rules, not tuned on any evaluation set. Per field:
- code: the text after "Số" on the first line that starts with it; number: its leading digits; symbol: the rest
  after the separator that follows them;
- type: the first line that is exactly a document type name in capitals (QUYẾT ĐỊNH → QĐ); else "CV" when a line
  starts with "V/v";
- issuer / parent_issuer: the lines above the "Số" line (a "*" line left out); when the first of them already
  names a place (TỈNH, HUYỆN, THÀNH PHỐ …) and more follow, it is the parent and the rest the issuer, otherwise
  all of them are the issuer;
- place and date: "<place>, ngày D tháng M năm YYYY" on one line;
- subject: the text after "V/v", else the line after the type-name line;
- recipients: "Kính gửi:" followed by one item on its line, or by "- " lines;
- signer: the lines after the distribution list: the last one the name, the last prefixed line (TM., KT., TL.,
  TUQ., Q., T/M) the authority, the lines between them the title;
- distribution: the "- " lines after "Nơi nhận:";
- references: every number/symbol code (state 539/QĐ-UBND, Party 45-KH/HU) other than the own code, with the date
  written right after it;
- dates: numeric and long-form dates, "tháng M/YYYY", "quý I/YYYY", "năm YYYY", "giai đoạn YYYY-YYYY"; a
  deadline when "trước", "chậm nhất", "hạn", "đến hết" or "hoàn thành trong" comes right before;
- places: a level word (tỉnh, huyện, xã …, any case) and up to three capitalised words after it, the longest
  run of them the gazetteer knows at that level, its first entry;
- tasks: every line that starts with "N." (id N); assignee: the words before "chủ trì" or before a colon, else the
  unit after "Giao"; deadline: the first deadline date of the line (a month or quarter: its last day).
"""

from __future__ import annotations

import calendar
import gzip
import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "pipeline" / "data"
HEADER_FIELDS = ("code", "number", "symbol", "type", "issuer", "parent_issuer", "place", "date", "subject",
                 "recipients", "signer", "distribution")

_CODE = re.compile(r"\b\d+(?:/\d{4})?/[A-ZĐ][A-Za-zĐđ]*(?:-[A-ZĐ][A-Za-zĐđ]*)*|\b\d+-[A-ZĐ][A-Za-zĐđ]*/[A-ZĐ][A-Za-zĐđ]*")
_NUMERIC = r"(\d{1,2})/(\d{1,2})/(\d{4})"
_LONG = r"(\d{1,2}) tháng (\d{1,2}) năm (\d{4})"
_DEADLINE_WORDS = r"(?:trước|chậm nhất|hạn|đến hết|hoàn thành trong|hoàn thành)\s+(?:ngày\s+|trong\s+)?$"
_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4}
_DATE_PATTERNS = (
    ("date", re.compile(rf"[Nn]gày {_NUMERIC}|[Nn]gày {_LONG}")),
    ("month", re.compile(r"tháng (\d{1,2})/(\d{4})")),
    ("quarter", re.compile(r"quý (IV|I{1,3})(?:/| năm )(\d{4})")),
    ("period", re.compile(r"(?:giai đoạn|năm học) (\d{4})\s*-\s*(\d{4})")),
    ("year", re.compile(r"năm (\d{4})")),
)
_LEVELS = {"tỉnh": ("province",), "thành phố": ("province", "district"), "huyện": ("district",),
           "quận": ("district",), "thị xã": ("district",), "xã": ("commune",), "phường": ("commune",),
           "thị trấn": ("commune",)}
_PLACE = re.compile(r"\b((?i:tỉnh|thành phố|huyện|quận|thị xã|thị trấn|xã|phường)) ((?:[A-ZĐ][\wÀ-ỹ]*[ ]?){1,3})")
_PLACE_WORDS = re.compile(r"\b(TỈNH|HUYỆN|THÀNH PHỐ|THỊ XÃ|QUẬN|XÃ|PHƯỜNG|THỊ TRẤN)\b")
_SIGN_PREFIX = re.compile(r"^(T/M|TM|KT|TL|TUQ|Q)\.?\s+")
_UNIT_START = re.compile(r"^((?:UBND|Ủy ban|Sở|Phòng|Ban|Văn phòng|Công an|Các|Đảng ủy|Trung tâm|Hội|Bộ|Cục|Chi cục|"
                         r"Trường|Huyện ủy|Tỉnh ủy)\b[^,:;]*?)(?: chủ trì|:)")
_GIAO = re.compile(r"\bGiao ((?:UBND|Ủy ban|Sở|Phòng|Ban|Văn phòng|Công an|Các)\b[^,:;]*?)(?: chủ trì|,|;| thực hiện| tổ chức)")


def _iso(day: str, month: str, year: str) -> str | None:
    try:
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}" if 1 <= int(month) <= 12 and 1 <= int(day) <= \
            calendar.monthrange(int(year), int(month))[1] else None
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _type_names() -> dict[str, str]:
    types = json.loads((DATA / "doc_types.json").read_text(encoding="utf-8"))["types"]
    return {t["name"].upper(): t["abbr"] for t in types if t["abbr"]}


@lru_cache(maxsize=1)
def _places() -> dict[tuple[str, str], dict[str, Any]]:
    """(level, lower-case name) → the first gazetteer unit of that name, with its district and province."""
    data = json.loads(gzip.decompress((DATA / "gazetteer.json.gz").read_bytes()))
    clean = lambda name: re.sub(r"\s*\([^)]*\)", "", name).strip()  # noqa: E731
    provinces = {code: clean(name) for code, _kind, name, _new in data["provinces"]}
    districts = {code: (clean(name), province) for code, _kind, name, province, _former in data["districts"]}
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def add(level: str, name: str, district: str | None, province: str | None) -> None:
        out.setdefault((level, name.lower()), {"level": level, "name": name, "district": district,
                                               "province": province})

    for name in provinces.values():
        add("province", name, None, name)
    for name, province in districts.values():
        add("district", name, None, provinces.get(province))
    for _code, _kind, name, district, _former, _new in data["communes"]:
        district_name, province = districts.get(district, (None, None))
        add("commune", clean(name), district_name, provinces.get(province) if province else None)
    return out


def _lines(text: str) -> list[str]:
    return [line.strip() for line in unicodedata.normalize("NFC", text).replace("\f", "\n").split("\n")]


def _item(line: str) -> str:
    return line.removeprefix("- ").strip().removesuffix("/.").rstrip(" ;.,")


def header(text: str) -> dict[str, Any]:
    lines = _lines(text)
    document: dict[str, Any] = {name: None for name in HEADER_FIELDS}
    document["recipients"], document["distribution"] = [], []
    number_at = next((k for k, line in enumerate(lines) if re.match(r"^Số\b", line)), None)
    if number_at is not None:
        code = re.sub(r"^Số\s*:?\s*", "", lines[number_at]).split(" ")[0].rstrip(".,;")
        digits = re.match(r"\d+", code)
        document.update(code=code or None, number=digits.group() if digits else None,
                        symbol=code[len(digits.group()) + 1:] if digits else code.lstrip("/") or None)
        units = [line for line in lines[:number_at] if line and line != "*"]
        if len(units) > 1 and _PLACE_WORDS.search(units[0]):
            document["parent_issuer"], units = units[0], units[1:]
        document["issuer"] = " ".join(units) or None
    title_at = next((k for k, line in enumerate(lines) if line in _type_names()), None)
    if title_at is not None:
        document["type"] = _type_names()[lines[title_at]]
        following = lines[title_at + 1] if title_at + 1 < len(lines) else ""
        document["subject"] = following or None
    subject = next((line for line in lines if line.startswith("V/v ")), None)
    if subject is not None:
        document["subject"] = subject[4:].strip()
        document["type"] = document["type"] or "CV"
    for line in lines:
        match = re.match(rf"^([^,\d]+), ngày {_LONG}", line)
        if match:
            document.update(place=match.group(1).strip(), date=_iso(match.group(2), match.group(3), match.group(4)))
            break
    to_at = next((k for k, line in enumerate(lines) if line.startswith("Kính gửi")), None)
    if to_at is not None:
        inline = lines[to_at].partition(":")[2].strip()
        if inline:
            document["recipients"] = [_item(inline)]
        else:
            for line in lines[to_at + 1:]:
                if not line.startswith("- "):
                    break
                document["recipients"].append(_item(line))
    sent_at = next((k for k, line in enumerate(lines) if line.startswith("Nơi nhận")), None)
    if sent_at is not None:
        end = sent_at + 1
        while end < len(lines) and lines[end].startswith("- "):
            document["distribution"].append(_item(lines[end]))
            end += 1
        closing = [line for line in lines[end:] if line]
        if closing:
            *above, name = closing
            prefixed = [k for k, line in enumerate(above) if _SIGN_PREFIX.match(line)]
            authority, title = None, above
            if prefixed:
                prefix = _SIGN_PREFIX.match(above[prefixed[-1]])
                assert prefix is not None
                authority = prefix.group(1).replace("/", "") + "."
                title = above[prefixed[-1] + 1:] or [above[prefixed[-1]][prefix.end():]]
            document["signer"] = {"authority": authority, "title": " ".join(title) or None, "name": name}
    return document


def _date_mentions(text: str) -> list[tuple[int, str, str]]:
    """(offset, kind, value) of every date expression, longer patterns first, no overlaps."""
    taken: list[tuple[int, int]] = []
    found = []
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            groups = [g for g in match.groups() if g]
            if kind == "date":
                value = _iso(*groups)
            elif kind == "month":
                value = f"{int(groups[1]):04d}-{int(groups[0]):02d}" if 1 <= int(groups[0]) <= 12 else None
            elif kind == "quarter":
                value = f"{groups[1]}-Q{_ROMAN[groups[0]]}"
            elif kind == "period":
                value = f"{groups[0]}/{groups[1]}"
            else:
                value = groups[0]
            if value is None:
                continue
            taken.append((match.start(), match.end()))
            deadline = re.search(_DEADLINE_WORDS, text[max(0, match.start() - 30):match.start()])
            found.append((match.start(), "deadline" if deadline else kind, value))
    return sorted(found)


def _deadline_day(value: str) -> str:
    """A deadline value as a day: a month or a quarter ends on its last day."""
    quarter = re.fullmatch(r"(\d{4})-Q(\d)", value)
    if quarter:
        year, month = int(quarter.group(1)), 3 * int(quarter.group(2))
        return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    month_only = re.fullmatch(r"(\d{4})-(\d{2})", value)
    if month_only:
        year, month = int(month_only.group(1)), int(month_only.group(2))
        return f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    return value


def baseline_record(text: str) -> dict[str, Any]:
    """The record as `Record.to_dict()` lays it out (the fields the benchmarks score)."""
    text = unicodedata.normalize("NFC", text)
    document = header(text)
    references: dict[str, dict[str, Any]] = {}
    for match in _CODE.finditer(text):
        code = match.group(0)
        if code == document["code"] or code in references:
            continue
        after = re.match(rf"\s+ngày {_NUMERIC}|\s+ngày {_LONG}", text[match.end():])
        date = _iso(*[g for g in after.groups() if g]) if after else None
        references[code] = {"code": code, "date": date}
    dates = [{"kind": kind, "value": value} for _offset, kind, value in _date_mentions(text)]
    places: list[dict[str, Any]] = []
    for match in _PLACE.finditer(text):
        words = match.group(2).split()
        found = (_places().get((level, " ".join(words[:size]).lower()))  # the longest name the gazetteer knows
                 for size in range(len(words), 0, -1) for level in _LEVELS[match.group(1).lower()])
        unit = next((unit for unit in found if unit is not None), None)
        if unit is not None and unit not in places:
            places.append(unit)
    tasks = []
    for line in _lines(text):
        numbered = re.match(r"^(\d+)\.\s+(.*)", line)
        if not numbered:
            continue
        body = numbered.group(2)
        unit = _UNIT_START.match(body) or _GIAO.search(body)
        deadlines = [value for _offset, kind, value in _date_mentions(body) if kind == "deadline"]
        tasks.append({"id": numbered.group(1), "assignees": [unit.group(1).strip()] if unit else [],
                      "deadline": _deadline_day(deadlines[0]) if deadlines else None})
    return {"document": document, "references": list(references.values()), "dates": dates, "places": places,
            "tasks": tasks}
