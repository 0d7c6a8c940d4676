"""Vietnamese administrative unit names for the LM (build time): the `vietnamadminunits` gazetteer.

Place names are where a syllable LM trained on running text goes wrong most: `Bình Gia` reads like
`Bình Giã`, `Hoàng Văn Thụ` like `Hoàng Văn Thư`. The gazetteer of the `vietnamadminunits` package
(the units before the 2025 reform: provinces, districts, communes; and the 2025 units) gives their
real spellings in the contexts documents use them in: `xã X, huyện Y, tỉnh Z`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unit:
    kind: str  # type word as written in running text: "xã", "phường", "thị trấn", "huyện", "tỉnh"...
    name: str  # short name: "Hữu Lũng", "Lạng Sơn"


def _database() -> Path:
    import vietnamadminunits

    return Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"


def _province(full: str, short: str) -> Unit:
    """`Tỉnh Lạng Sơn`, `Lạng Sơn` → Unit("tỉnh", "Lạng Sơn")."""
    return Unit(full[: len(full) - len(short)].strip().lower(), short)


def unit_chains() -> Iterator[tuple[Unit, ...]]:
    """Every commune with its district and province (units before 2025), every 2025 commune with its
    province, and every district with its province: smallest unit first, no duplicates."""
    connection = sqlite3.connect(_database())
    try:
        seen: set[tuple[Unit, ...]] = set()
        legacy = connection.execute(
            "SELECT province, provinceShort, districtType, districtShort, wardType, wardShort "
            "FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
        )
        for province, province_short, district_type, district, ward_type, ward in legacy:
            top = _province(province, province_short)
            chains: list[tuple[Unit, ...]] = [(Unit(district_type.lower(), district), top)]
            if ward and ward_type:
                chains.append((Unit(ward_type.lower(), ward), *chains[0]))
            for chain in chains:
                if chain not in seen:
                    seen.add(chain)
                    yield chain
        current = connection.execute(
            "SELECT province, provinceShort, wardType, wardShort FROM admin_units ORDER BY provinceCode, wardCode"
        )
        for province, province_short, ward_type, ward in current:
            chain = (Unit(ward_type.lower(), ward), _province(province, province_short))
            if chain not in seen:
                seen.add(chain)
                yield chain
    finally:
        connection.close()


def gazetteer_lines() -> Iterator[str]:
    """The chains written as documents write them: `xã Nhật Tiến, huyện Hữu Lũng, tỉnh Lạng Sơn`, and
    each chain's first unit alone (`xã Nhật Tiến`): a name also ends a line or a sentence, and an LM
    that only ever saw a comma after it would give a line ending there no probability at all."""
    for chain in unit_chains():
        units = [f"{unit.kind} {unit.name}" for unit in chain]
        yield ", ".join(units)
        yield units[0]


def unit_names() -> dict[str, set[str]]:
    """Short name → the type words it goes with (`Bình Gia` → {"huyện"})."""
    names: dict[str, set[str]] = {}
    for chain in unit_chains():
        for unit in chain:
            names.setdefault(unit.name, set()).add(unit.kind)
    return names
