"""Build the extraction tables in pipeline/data/: document types (Decree 30/2020 + legal + Party) and the gazetteer.

Usage: .venv/bin/python scripts/build_extract_data.py [--shared ../shared]

- `doc_types.json`: the Decree 30/2020/NĐ-CP abbreviation table (Phụ lục III, read from
  `<shared>/reference/nd30_2020/nd30_2020_abbreviations.json`), plus the legal-document types of the Law on
  legal documents (2015) and the Party document types (Hướng dẫn 36-HD/VPTW), which the decree does not list
  but dispatches cite constantly (`321/2025/NĐ-CP`, `29-NQ/TW`).
- `gazetteer.json.gz`: provinces, districts and communes before the 2025 reform (with the former names the
  package records as aliases), the 34 provinces / 3321 communes after it, and for every old commune the new
  commune it went to (the package's default when it was divided). Built from the `vietnamadminunits` data.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
import unicodedata
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "pipeline" / "data"

# Types not in Decree 30's table. Sources: Luật Ban hành văn bản quy phạm pháp luật 2015 (Điều 4) and its
# numbering rule (Điều 10: "số/năm/tên viết tắt loại văn bản-cơ quan"); Hướng dẫn 36-HD/VPTW (2018) on Party
# documents ("số-tên viết tắt loại/cơ quan"). abbr None: the type never appears in a code (a Luật is
# "59/2020/QH14").
LEGAL_TYPES = [
    ("Hiến pháp", None), ("Bộ luật", None), ("Luật", None), ("Pháp lệnh", "PL"), ("Lệnh", "L"),
    ("Nghị quyết", "NQ"), ("Nghị quyết liên tịch", "NQLT"), ("Nghị định", "NĐ"), ("Thông tư", "TT"),
    ("Thông tư liên tịch", "TTLT"), ("Quyết định", "QĐ"), ("Chỉ thị", "CT"), ("Văn bản hợp nhất", "VBHN"),
]
PARTY_TYPES = [
    ("Nghị quyết", "NQ"), ("Quyết định", "QĐ"), ("Chỉ thị", "CT"), ("Kết luận", "KL"), ("Quy định", "QĐi"),
    ("Quy chế", "QC"), ("Thông tri", "TT"), ("Hướng dẫn", "HD"), ("Báo cáo", "BC"), ("Kế hoạch", "KH"),
    ("Đề án", "ĐA"), ("Chương trình", "CTr"), ("Thông báo", "TB"), ("Tờ trình", "TTr"), ("Biên bản", "BB"),
    ("Công văn", "CV"), ("Thư", "T"),
]
# The record's contract: a công văn has no abbreviation in its code, but `type` is "CV".
CONG_VAN = ("Công văn", "CV")
# Words that name a document in running text without being a type of their own ("Văn bản số 12/UBND-VX").
GENERIC_NAMES = ["Văn bản"]


def _clean_name(name: str) -> str:
    name = name.split("(")[0].strip()  # "Nghị quyết (cá biệt)" → "Nghị quyết"
    return unicodedata.normalize("NFC", name.replace("uỷ", "ủy").replace("Uỷ", "Ủy"))


def build_doc_types(shared: Path) -> dict:
    source = shared / "reference" / "nd30_2020" / "nd30_2020_abbreviations.json"
    table = json.loads(source.read_text(encoding="utf-8"))
    types: dict[str, dict] = {}

    def add(name: str, abbr: str | None, family: str) -> None:
        name = _clean_name(name)
        entry = types.setdefault(f"{name}|{abbr}", {"name": name, "abbr": abbr, "families": []})
        if family not in entry["families"]:
            entry["families"].append(family)

    for item in table["administrative_document_types"]:
        add(item["name"], item["abbr"], "nd30")
    add(*CONG_VAN, "nd30")
    for name, abbr in LEGAL_TYPES:
        add(name, abbr, "legal")
    for name, abbr in PARTY_TYPES:
        add(name, abbr, "party")
    copies = [{"name": _clean_name(c["name"]), "abbr": c["abbr"]} for c in table["copy_types"]]
    return {
        "source": "Nghị định 30/2020/NĐ-CP Phụ lục III (" + source.name + "); Luật Ban hành VBQPPL 2015; "
                  "Hướng dẫn 36-HD/VPTW",
        "types": sorted(types.values(), key=lambda t: (t["name"], t["abbr"] or "")),
        "generic_names": GENERIC_NAMES,
        "copy_types": copies,
    }


def _alias_list(raw: str | None, type_keys: tuple[str, ...]) -> list[str]:
    """The package's former-name aliases without the ones that merely repeat the type ("huyenkyson")."""
    if not raw:
        return []
    out = []
    for alias in json.loads(raw):
        if alias.startswith(type_keys) or len(alias) < 4:
            continue
        if alias not in out:
            out.append(alias)
    return out


DISTRICT_TYPE_KEYS = ("huyen", "quan", "thixa", "tx", "thanhpho", "tp")
COMMUNE_TYPE_KEYS = ("xa", "phuong", "thitran", "tt")


def build_gazetteer() -> dict:
    import vietnamadminunits

    package_dir = Path(vietnamadminunits.__file__).parent
    db = sqlite3.connect(package_dir / "data" / "dataset.db")
    db.row_factory = sqlite3.Row
    converter = json.loads((package_dir / "data" / "converter_2025.json").read_text(encoding="utf-8"))

    provinces: dict[str, list] = {}
    districts: dict[str, list] = {}
    communes: dict[str, list] = {}
    old_commune_by_key: dict[str, str] = {}
    province_key_code: dict[str, str] = {}
    rows = db.execute("SELECT * FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode")
    for r in rows:
        p_code, d_code, w_code = r["provinceCode"], r["districtCode"], r["wardCode"]
        province_key_code[r["provinceKey"]] = p_code
        if p_code not in provinces:
            p_type = r["province"][: -len(r["provinceShort"])].strip()
            provinces[p_code] = [p_code, p_type, r["provinceShort"], None]
        if d_code and d_code not in districts:
            districts[d_code] = [d_code, r["districtType"], r["districtShort"], p_code,
                                 _alias_list(r["districtAlias"], DISTRICT_TYPE_KEYS)]
        if w_code and w_code not in communes:
            communes[w_code] = [w_code, r["wardType"], r["wardShort"], d_code,
                                _alias_list(r["wardAlias"], COMMUNE_TYPE_KEYS), None]
            old_commune_by_key[f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey']}"] = w_code

    new_provinces: dict[str, list] = {}
    new_communes: dict[str, list] = {}
    new_by_key: dict[tuple[str, str], str] = {}
    new_province_by_key: dict[str, str] = {}
    for r in db.execute("SELECT * FROM admin_units ORDER BY provinceCode, wardCode"):
        p_code = r["provinceCode"]
        new_province_by_key[r["provinceKey"]] = p_code
        if p_code not in new_provinces:
            p_type = r["province"][: -len(r["provinceShort"])].strip()
            new_provinces[p_code] = [p_code, p_type, r["provinceShort"]]
        new_communes[r["wardCode"]] = [r["wardCode"], r["wardType"], r["wardShort"], p_code]
        new_by_key[(r["provinceKey"], r["wardKey"])] = r["wardCode"]

    # old province → new province
    for new_key, old_keys in converter["DICT_PROVINCE"].items():
        for old_key in old_keys:
            if old_key in province_key_code:
                provinces[province_key_code[old_key]][3] = new_province_by_key[new_key]
    # old commune → new commune (undivided first, then the default part of a divided one)
    for new_province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward_key, old_keys in wards.items():
            new_code = new_by_key.get((new_province_key, new_ward_key))
            for old_key in old_keys:
                old_code = old_commune_by_key.get(old_key)
                if old_code and new_code:
                    communes[old_code][5] = new_code
    for new_province_key, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in divided.items():
            old_code = old_commune_by_key.get(old_key)
            default = next((p["newWardKey"] for p in parts if p["isDefaultNewWard"]), None)
            new_code = new_by_key.get((new_province_key, default)) if default else None
            if old_code and new_code and communes[old_code][5] is None:
                communes[old_code][5] = new_code

    return {
        "source": f"vietnamadminunits {metadata.version('vietnamadminunits')} (dataset.db, converter_2025.json)",
        "fields": {
            "provinces": ["code", "type", "name", "new_province_code"],
            "districts": ["code", "type", "name", "province_code", "former_names"],
            "communes": ["code", "type", "name", "district_code", "former_names", "new_commune_code"],
            "new_provinces": ["code", "type", "name"],
            "new_communes": ["code", "type", "name", "province_code"],
        },
        "provinces": list(provinces.values()),
        "districts": list(districts.values()),
        "communes": list(communes.values()),
        "new_provinces": list(new_provinces.values()),
        "new_communes": list(new_communes.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    doc_types = build_doc_types(args.shared)
    (DATA / "doc_types.json").write_text(json.dumps(doc_types, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")
    gazetteer = build_gazetteer()
    payload = json.dumps(gazetteer, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # mtime=0: the same data gives the same bytes, so rebuilding does not dirty the tree
    with open(DATA / "gazetteer.json.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(payload)
    print(f"doc_types.json: {len(doc_types['types'])} types; gazetteer.json.gz: "
          f"{len(gazetteer['provinces'])} provinces, {len(gazetteer['districts'])} districts, "
          f"{len(gazetteer['communes'])} communes, {len(gazetteer['new_communes'])} communes after 2025",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
