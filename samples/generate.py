"""Synthetic Vietnamese official dispatches: specs, page rendering, scan degradations, sample files with gold text."""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import math
import os
import random
import re
import subprocess
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
SENTENCE_POOL = HERE / "data" / "sentences.tsv.gz"

# =========================================================================== the Dispatch spec


@dataclass
class Dispatch:
    """One dispatch, as in the Dispatch JSON spec shared with the extraction gold set."""

    header_left: list[str]
    header_right: list[str]
    title: list[str]
    body: list[str]
    distribution: list[str]
    signature: list[str]

    def to_json(self) -> dict[str, list[str]]:
        return {key: list(value) for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> Dispatch:
        if isinstance(data, str):
            data = json.loads(data)
        assert isinstance(data, Mapping)
        return cls(**{name: [str(line) for line in data.get(name, [])] for name in _SPEC_FIELDS})


_SPEC_FIELDS = ("header_left", "header_right", "title", "body", "distribution", "signature")


def _as_dispatch(spec: Dispatch | Mapping[str, Any]) -> Dispatch:
    return spec if isinstance(spec, Dispatch) else Dispatch.from_json(spec)


def dispatch_text(spec: Dispatch | Mapping[str, Any]) -> str:
    """Gold text in reading order: header left, header right, title + body, distribution, signature,
    one line per spec line, blocks separated by a blank line (empty blocks are skipped)."""
    d = _as_dispatch(spec)
    blocks = [d.header_left, d.header_right, d.title + d.body, d.distribution, d.signature]
    return "\n\n".join("\n".join(block) for block in blocks if block)


def normalize_whitespace(text: str) -> str:
    """Text with every run of whitespace made one space: how gold texts compare 'modulo wrapping'."""
    return " ".join(text.split())


# =========================================================================== vocabulary


_SURNAMES = ["Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Lương", "Đinh", "Trịnh", "Đào", "Mai", "Hà", "Lâm", "Tạ", "Triệu", "Nông", "Lò", "Vi", "Hứa", "Chu", "Quách", "Cao", "Lưu", "Tô", "Kiều", "Thân"]
_MIDDLE_MALE = ["Văn", "Văn", "Đức", "Minh", "Quốc", "Hữu", "Thanh", "Xuân", "Công", "Đình", "Quang", "Mạnh", "Tiến", "Trọng", "Ngọc", "Hoàng", "Bá"]
_MIDDLE_FEMALE = ["Thị", "Thị", "Thu", "Hồng", "Ngọc", "Thanh", "Kim", "Minh", "Phương", "Bích", "Thúy", "Hải"]
_GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Hưng", "Khánh", "Khoa", "Long", "Nam", "Phong", "Phúc", "Quân", "Sơn", "Tâm", "Thắng", "Thành", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Hiếu", "Lâm", "Lợi", "Nghĩa", "Chiến", "Đông", "Thái", "Tú", "Hòa", "Huy", "Kiên", "Lực", "Quyết", "Tùng"]
_GIVEN_FEMALE = ["Anh", "Châu", "Dung", "Giang", "Hà", "Hằng", "Hạnh", "Hoa", "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "Nga", "Nhung", "Oanh", "Thảo", "Trang", "Vân", "Yến"]

_TOPICS = (
    "triển khai công tác phòng, chống thiên tai và tìm kiếm cứu nạn năm {y}",
    "tăng cường công tác phòng cháy, chữa cháy trong mùa hanh khô",
    "đẩy nhanh tiến độ giải ngân vốn đầu tư công năm {y}",
    "đẩy mạnh chuyển đổi số trong cơ quan hành chính nhà nước",
    "rà soát hộ nghèo, hộ cận nghèo giai đoạn {y}-{y5}",
    "tổ chức tuyển sinh vào lớp 10 trung học phổ thông năm học {y}-{y1}",
    "tăng cường phòng, chống bệnh sốt xuất huyết trên địa bàn",
    "bảo đảm trật tự, an toàn giao thông dịp Tết Nguyên đán",
    "tăng cường quản lý, bảo vệ rừng và phòng cháy, chữa cháy rừng",
    "thực hiện Chương trình mục tiêu quốc gia xây dựng nông thôn mới",
    "nâng cao Chỉ số cải cách hành chính của tỉnh năm {y}",
    "triển khai thực hiện Đề án phát triển ứng dụng dữ liệu về dân cư",
    "tổ chức các hoạt động kỷ niệm Ngày Quốc khánh 02 tháng 9",
    "thu ngân sách nhà nước và chống thất thu thuế",
    "quản lý, sử dụng đất công trên địa bàn",
    "tăng cường công tác quản lý an toàn thực phẩm",
    "triển khai tiêm chủng mở rộng cho trẻ em dưới 5 tuổi",
    "phòng, chống dịch tả lợn châu Phi",
    "chấn chỉnh công tác văn thư, lưu trữ tại các cơ quan, đơn vị",
    "thực hiện chính sách hỗ trợ người lao động bị mất việc làm",
    "kiểm tra, rà soát các công trình xây dựng không phép",
    "tổ chức Hội nghị tổng kết công tác thi đua, khen thưởng năm {y}",
    "bảo đảm an toàn hồ đập trong mùa mưa lũ",
    "tăng cường quản lý hoạt động khai thác khoáng sản",
    "triển khai kê khai tài sản, thu nhập năm {y}",
    "thực hiện công tác tiếp công dân, giải quyết khiếu nại, tố cáo",
    "tuyên truyền, phổ biến giáo dục pháp luật năm {y}",
    "rà soát, sắp xếp đơn vị hành chính cấp xã",
    "tổ chức thi tuyển công chức, viên chức năm {y}",
    "hỗ trợ phát triển sản xuất nông nghiệp hàng hóa",
)

_DEPARTMENTS = (
    ("SỞ NỘI VỤ", "Sở Nội vụ", "SNV", ("CCVC", "TCBM", "CCHC", "VP")),
    ("SỞ TÀI CHÍNH", "Sở Tài chính", "STC", ("QLNS", "TCĐT", "QLG", "VP")),
    ("SỞ KẾ HOẠCH VÀ ĐẦU TƯ", "Sở Kế hoạch và Đầu tư", "SKHĐT", ("TH", "ĐKKD", "KTN", "VP")),
    ("SỞ GIÁO DỤC VÀ ĐÀO TẠO", "Sở Giáo dục và Đào tạo", "SGDĐT", ("CTrTT", "GDTrH", "KTQLCL", "TCCB")),
    ("SỞ Y TẾ", "Sở Y tế", "SYT", ("NVY", "KHTC", "TCCB", "VP")),
    ("SỞ NÔNG NGHIỆP VÀ PHÁT TRIỂN NÔNG THÔN", "Sở Nông nghiệp và Phát triển nông thôn", "SNN", ("KHTC", "TTr", "VP")),
    ("SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG", "Sở Tài nguyên và Môi trường", "STNMT", ("QLĐĐ", "MT", "KS", "VP")),
    ("SỞ GIAO THÔNG VẬN TẢI", "Sở Giao thông vận tải", "SGTVT", ("QLVT", "KHTC", "TTr")),
    ("SỞ XÂY DỰNG", "Sở Xây dựng", "SXD", ("QLHĐXD", "QHKT", "VP")),
    ("SỞ LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI", "Sở Lao động - Thương binh và Xã hội", "SLĐTBXH", ("LĐVL", "BTXH", "NCC")),
    ("SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "Sở Thông tin và Truyền thông", "STTTT", ("BCVT", "CNTT", "TTBCXB")),
    ("SỞ TƯ PHÁP", "Sở Tư pháp", "STP", ("XDKTVB", "PBGDPL", "HCTP")),
)

_DISTRICT_OFFICES = (
    ("PHÒNG TÀI CHÍNH - KẾ HOẠCH", "Phòng Tài chính - Kế hoạch", "TCKH"),
    ("PHÒNG NỘI VỤ", "Phòng Nội vụ", "NV"),
    ("PHÒNG GIÁO DỤC VÀ ĐÀO TẠO", "Phòng Giáo dục và Đào tạo", "GDĐT"),
    ("PHÒNG TÀI NGUYÊN VÀ MÔI TRƯỜNG", "Phòng Tài nguyên và Môi trường", "TNMT"),
    ("PHÒNG VĂN HÓA VÀ THÔNG TIN", "Phòng Văn hóa và Thông tin", "VHTT"),
)

_UBND_FIELDS = ("KT", "VX", "NC", "TH", "XD", "KTN", "KGVX", "NNMT", "TCD")

_DOC_KINDS = {  # name on the title line, type abbreviation, how it is introduced in the body
    "cong_van": ("", ""),
    "quyet_dinh": ("QUYẾT ĐỊNH", "QĐ"),
    "ke_hoach": ("KẾ HOẠCH", "KH"),
    "thong_bao": ("THÔNG BÁO", "TB"),
    "bao_cao": ("BÁO CÁO", "BC"),
    "chi_thi": ("CHỈ THỊ", "CT"),
}

_CITED = (
    ("Nghị định", "NĐ-CP", "Chính phủ", True),
    ("Quyết định", "QĐ-TTg", "Thủ tướng Chính phủ", True),
    ("Chỉ thị", "CT-TTg", "Thủ tướng Chính phủ", True),
    ("Thông tư", "TT-BTC", "Bộ Tài chính", True),
    ("Thông tư", "TT-BNV", "Bộ Nội vụ", True),
    ("Công văn", "BNV-CCVC", "Bộ Nội vụ", False),
    ("Công văn", "BYT-DP", "Bộ Y tế", False),
    ("Công văn", "BGDĐT-GDTrH", "Bộ Giáo dục và Đào tạo", False),
    ("Kế hoạch", "KH-UBND", "{province_org}", False),
    ("Quyết định", "QĐ-UBND", "{province_org}", False),
    ("Công văn", "UBND-{field}", "{province_org}", False),
)


@lru_cache(maxsize=1)
def _admin_units() -> tuple[dict[str, str], ...]:
    """(province, district, commune) rows of the pre-2025 register shipped with `vietnamadminunits`."""
    from vietnamadminunits.database import query

    rows = query(
        "SELECT DISTINCT province, provinceShort, district, districtShort, districtType, ward, wardShort, wardType "
        "FROM admin_units_legacy WHERE ward IS NOT NULL AND wardType IS NOT NULL ORDER BY wardCode"
    )
    return tuple(rows)


@lru_cache(maxsize=1)
def _sentence_pool() -> dict[str, tuple[str, ...]]:
    """Corpus sentences by kind: 'S' sentence, 'I' list item, 'C' căn cứ (see build_sentences.py)."""
    pool: dict[str, list[str]] = {"S": [], "I": [], "C": []}
    with gzip.open(SENTENCE_POOL, "rt", encoding="utf-8") as handle:
        for line in handle:
            kind, _, text = line.rstrip("\n").partition("\t")
            if kind in pool and text:
                pool[kind].append(text)
    return {kind: tuple(items) for kind, items in pool.items()}


# =========================================================================== random dispatches


@dataclass(frozen=True)
class _Issuer:
    header: tuple[str, ...]  # lines above "Số:"
    symbol: str  # issuer part of the number symbol: UBND, SGDĐT, TU …
    fields: tuple[str, ...]  # drafting unit / field codes used in a công văn symbol
    place: str  # place on the date line
    name: str  # how the body refers to the issuer
    seal_ring: str  # text around the seal
    signatures: tuple[tuple[str, ...], ...]  # possible authority/title lines above the signer's name
    head: str = "Chủ tịch"  # title of the head who signs in their own name
    party: bool = False
    region: str = ""  # "tỉnh X" / "huyện Y": used in citations


def _u(text: str, rng: random.Random) -> str:
    """Both 'Ủy' and 'Uỷ' spellings occur in real documents."""
    if rng.random() < 0.15:
        return text.replace("ỦY", "UỶ").replace("Ủy", "Uỷ")
    return text


def _person(rng: random.Random) -> str:
    if rng.random() < 0.7:
        parts = [rng.choice(_SURNAMES), rng.choice(_MIDDLE_MALE), rng.choice(_GIVEN_MALE)]
    else:
        parts = [rng.choice(_SURNAMES), rng.choice(_MIDDLE_FEMALE), rng.choice(_GIVEN_FEMALE)]
    if rng.random() < 0.2:
        parts.insert(2, rng.choice(_MIDDLE_MALE if parts[1] in _MIDDLE_MALE else _MIDDLE_FEMALE))
    return " ".join(dict.fromkeys(parts))  # no repeated middle name


def _province_forms(row: Mapping[str, str]) -> tuple[str, str]:
    """('TỈNH LẠNG SƠN', 'tỉnh Lạng Sơn') for the province of an admin-unit row."""
    full = row["province"]
    kind = "thành phố" if full.startswith("Thành phố") else "tỉnh"
    return f"{kind.upper()} {row['provinceShort'].upper()}", f"{kind} {row['provinceShort']}"


def _district_forms(row: Mapping[str, str]) -> tuple[str, str]:
    kind = row["districtType"]
    return f"{kind.upper()} {row['districtShort'].upper()}", f"{kind.lower()} {row['districtShort']}"


def _ward_forms(row: Mapping[str, str]) -> tuple[str, str]:
    kind = row["wardType"]
    return f"{kind.upper()} {row['wardShort'].upper()}", f"{kind.lower()} {row['wardShort']}"


def _ubnd_signatures(head: str) -> tuple[tuple[str, ...], ...]:
    return (
        ("TM. ỦY BAN NHÂN DÂN", head),
        ("TM. ỦY BAN NHÂN DÂN", f"KT. {head}", f"PHÓ {head}"),
        (f"KT. {head}", f"PHÓ {head}"),
        (head,),
        (f"TL. {head}", "CHÁNH VĂN PHÒNG"),
    )


_DIRECTOR_SIGNATURES: tuple[tuple[str, ...], ...] = (
    ("KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"), ("GIÁM ĐỐC",), ("TUQ. CHỦ TỊCH UBND TỈNH", "GIÁM ĐỐC"))
_HEAD_OF_OFFICE_SIGNATURES: tuple[tuple[str, ...], ...] = (("TRƯỞNG PHÒNG",), ("KT. TRƯỞNG PHÒNG", "PHÓ TRƯỞNG PHÒNG"),
                                                          ("Q. TRƯỞNG PHÒNG",))
_PARTY_SIGNATURES: tuple[tuple[str, ...], ...] = (
    ("T/M BAN THƯỜNG VỤ", "BÍ THƯ"), ("T/M BAN THƯỜNG VỤ", "PHÓ BÍ THƯ"), ("T/L BAN THƯỜNG VỤ", "CHÁNH VĂN PHÒNG"))


def _random_issuer(rng: random.Random, party: bool | None = None) -> _Issuer:
    row = rng.choice(_admin_units())
    prov_up, prov = _province_forms(row)
    dist_up, dist = _district_forms(row)
    ward_up, ward = _ward_forms(row)
    levels = ["province", "department", "district", "district_office", "commune", "party"]
    weights = [28, 22, 18, 8, 12, 12]
    if party is not None:
        weights = [0, 0, 0, 0, 0, 1] if party else [*weights[:-1], 0]
    level = rng.choices(levels, weights=weights)[0]
    if level == "province":
        ring = f"ỦY BAN NHÂN DÂN {prov_up}"
        return _Issuer(("ỦY BAN NHÂN DÂN", prov_up), "UBND", _UBND_FIELDS, _place(row["provinceShort"]),
                       f"Ủy ban nhân dân {prov}", ring, _ubnd_signatures("CHỦ TỊCH"), region=prov)
    if level == "department":
        up, name, code, units = rng.choice(_DEPARTMENTS)
        return _Issuer((f"UBND {prov_up}", *_split_upper(up, rng)), code, units, _place(row["provinceShort"]),
                       name, f"{up} {prov_up}", _DIRECTOR_SIGNATURES, head="Giám đốc", region=prov)
    if level == "district":
        ring = f"ỦY BAN NHÂN DÂN {dist_up} {prov_up}"
        return _Issuer(("ỦY BAN NHÂN DÂN", dist_up), "UBND", _UBND_FIELDS[:5], row["districtShort"],
                       f"Ủy ban nhân dân {dist}", ring, _ubnd_signatures("CHỦ TỊCH"), region=dist)
    if level == "district_office":
        up, name, code = rng.choice(_DISTRICT_OFFICES)
        return _Issuer((f"UBND {dist_up}", up), code, ("", ), row["districtShort"], name,
                       f"{up} {dist_up}", _HEAD_OF_OFFICE_SIGNATURES, head="Trưởng phòng", region=dist)
    if level == "commune":
        ring = f"ỦY BAN NHÂN DÂN {ward_up} {dist_up}"
        commune = (f"UBND {dist_up}", f"UBND {ward_up}") if rng.random() < 0.5 else ("ỦY BAN NHÂN DÂN", ward_up)
        return _Issuer(commune, "UBND", ("",), row["wardShort"], f"Ủy ban nhân dân {ward}", ring,
                       _ubnd_signatures("CHỦ TỊCH"), region=ward)
    if rng.random() < 0.6:
        kind = prov_up.split(" ", 1)[0]  # TỈNH / THÀNH (phố) → Tỉnh ủy / Thành ủy
        header: tuple[str, ...] = (f"{kind} ỦY {row['provinceShort'].upper()}",)
        symbol, region = "TU", prov
        body_name = f"Ban Thường vụ {kind.capitalize()} ủy {row['provinceShort']}"
    else:
        kind = {"Huyện": "HUYỆN", "Quận": "QUẬN", "Thị xã": "THỊ", "Thành phố": "THÀNH"}[row["districtType"]]
        header = (f"ĐẢNG BỘ {prov_up}", f"{kind} ỦY {row['districtShort'].upper()}")
        symbol, region = "HU", dist
        body_name = f"Ban Thường vụ {kind.capitalize()} ủy {row['districtShort']}"
    return _Issuer(header, symbol, ("",), _place(row["provinceShort"]), body_name,
                   f"ĐẢNG CỘNG SẢN VIỆT NAM * {header[-1]}", _PARTY_SIGNATURES, head="", party=True, region=region)


def _place(name: str) -> str:
    """Decree 30: a unit named after a person is written in full on the date line."""
    return "Thành phố Hồ Chí Minh" if name == "Hồ Chí Minh" else name


def _split_upper(name: str, rng: random.Random) -> tuple[str, ...]:
    """Long issuer names are often set on two lines."""
    words = name.split()
    if len(words) >= 6 and rng.random() < 0.7:
        cut = len(words) // 2 + 1
        return " ".join(words[:cut]), " ".join(words[cut:])
    return (name,)


def _date(rng: random.Random, year: int | None = None) -> tuple[int, int, int]:
    year = year or rng.randint(2012, 2025)
    month = rng.randint(1, 12)
    return rng.randint(1, 28), month, year


def _long_date(day: int, month: int, year: int) -> str:
    """Decree 30 style: day < 10 and months 1, 2 take a leading zero."""
    month_text = f"{month:02d}" if month < 3 else str(month)
    return f"ngày {day:02d} tháng {month_text} năm {year}"


def _short_date(rng: random.Random, day: int, month: int, year: int) -> str:
    return f"{day}/{month}/{year}" if rng.random() < 0.6 else f"{day:02d}/{month:02d}/{year}"


def _any_date(rng: random.Random, day: int, month: int, year: int) -> str:
    return _long_date(day, month, year) if rng.random() < 0.5 else "ngày " + _short_date(rng, day, month, year)


def _number(rng: random.Random) -> str:
    n = rng.choice([rng.randint(1, 99), rng.randint(1, 999), rng.randint(100, 3500)])
    return f"{n:02d}"


def _citation(rng: random.Random, issuer: _Issuer, year: int) -> str:
    kind, symbol, org, dated_symbol = rng.choice(_CITED)
    cited_year = rng.randint(max(2010, year - 6), year)
    day, month, _ = _date(rng, cited_year)
    org = org.format(province_org=f"Ủy ban nhân dân {issuer.region}" if issuer.region else "Ủy ban nhân dân tỉnh")
    symbol = symbol.format(field=rng.choice(_UBND_FIELDS))
    number = f"{_number(rng)}/{cited_year}/{symbol}" if dated_symbol else f"{_number(rng)}/{symbol}"
    topic = _topic(rng, cited_year)
    return f"{kind} số {number} {_any_date(rng, day, month, cited_year)} của {org} về {topic}"


def _topic(rng: random.Random, year: int) -> str:
    return rng.choice(_TOPICS).format(y=year, y1=year + 1, y5=year + 4)


def _pool_sentence(rng: random.Random, kind: str) -> str:
    return rng.choice(_sentence_pool()[kind])


def _deadline(rng: random.Random, issuer: _Issuer, year: int) -> str:
    day, month, _ = _date(rng, year)
    when = _any_date(rng, day, month, year)
    options = (
        f"Thời gian hoàn thành: trước {when}.",
        f"Báo cáo kết quả thực hiện về {issuer.name} trước {when} để tổng hợp.",
        f"Thời gian thực hiện: từ nay đến hết {when}.",
        f"Gửi báo cáo về {issuer.name} (qua Văn phòng) trước {when}.",
        f"Hoàn thành trước {when}, báo cáo kết quả bằng văn bản.",
    )
    return rng.choice(options)


def _recipients(rng: random.Random, issuer: _Issuer, count: int) -> list[str]:
    options = [
        "Các sở, ban, ngành tỉnh",
        "Ủy ban nhân dân các huyện, thành phố",
        "Các cơ quan, đơn vị trực thuộc",
        "Sở Nội vụ", "Sở Tài chính", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Công an tỉnh",
        "Bộ Chỉ huy Quân sự tỉnh", "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh",
        "Các phòng, ban chuyên môn thuộc Ủy ban nhân dân huyện",
        "Ủy ban nhân dân các xã, thị trấn", "Trưởng các thôn, bản, khu phố",
        "Các trường trung học phổ thông trên địa bàn", "Kho bạc Nhà nước tỉnh",
        "Báo và Đài Phát thanh - Truyền hình tỉnh",
    ]
    chosen = rng.sample(options, count)
    return [_u(text, rng) for text in chosen]


def _item_text(rng: random.Random, issuer: _Issuer, year: int) -> str:
    """One task/list item: a corpus item, a templated instruction, or one with a deadline."""
    roll = rng.random()
    if roll < 0.55:
        return _pool_sentence(rng, "I")
    agencies = ["Sở Nội vụ", "Sở Tài chính", "Văn phòng Ủy ban nhân dân", "Phòng Tài chính - Kế hoạch",
                "Công an", "Các đơn vị, địa phương", "Phòng Nội vụ", "Sở Y tế", "Ban Chỉ đạo"]
    verbs = ["chủ trì, phối hợp với các cơ quan liên quan", "khẩn trương", "chịu trách nhiệm",
             "tổ chức kiểm tra, đôn đốc", "tham mưu cho " + issuer.name]
    tasks = ["rà soát, tổng hợp danh sách các trường hợp đủ điều kiện",
             "xây dựng kế hoạch chi tiết và phân công nhiệm vụ cụ thể cho từng cán bộ",
             "tuyên truyền sâu rộng đến cán bộ, công chức và Nhân dân",
             "bố trí kinh phí thực hiện theo quy định hiện hành",
             "kiểm tra, xử lý nghiêm các trường hợp vi phạm",
             "cập nhật số liệu lên hệ thống thông tin quản lý",
             f"thực hiện {_topic(rng, year)}"]
    text = f"{rng.choice(agencies)} {rng.choice(verbs)} {rng.choice(tasks)}"
    if roll < 0.8:
        day, month, _ = _date(rng, year)
        text += f"; hoàn thành trước {_any_date(rng, day, month, year)}"
    return text


def _with_end(text: str, end: str) -> str:
    return text.rstrip(" ;.:") + end


def _task_block(rng: random.Random, issuer: _Issuer, year: int, items: int, start: int = 1) -> list[str]:
    """Numbered items, some with lettered or bulleted sub-items and deadlines."""
    out: list[str] = []
    for number in range(start, start + items):
        out.append(f"{number}. {_with_end(_item_text(rng, issuer, year), '.')}")
        roll = rng.random()
        if roll < 0.3:
            subs = rng.randint(2, 3)
            for k in range(subs):
                out.append(f"{'abcdđeg'[k]}) {_with_end(_pool_sentence(rng, 'I'), ';' if k < subs - 1 else '.')}")
        elif roll < 0.55:
            bullet = rng.choice("-+")
            for _ in range(rng.randint(1, 3)):
                out.append(f"{bullet} {_with_end(_pool_sentence(rng, 'I'), ';')}")
            out[-1] = _with_end(out[-1], ".")
        if rng.random() < 0.35:
            out.append(_deadline(rng, issuer, year))
    return out


def random_dispatch(rng: random.Random, *, kind: str | None = None, length: str | None = None,
                    party: bool | None = None) -> Dispatch:
    """A realistic random dispatch. `kind`: cong_van, quyet_dinh, ke_hoach, thong_bao, bao_cao, chi_thi;
    `length`: 'short' (usually one page) or 'long' (two or three pages); `party`: a Party committee's
    document (TB/TU style) or a state body's; all random when None."""
    issuer = _random_issuer(rng, party)
    if kind is None:
        kinds = ["thong_bao", "ke_hoach", "bao_cao", "chi_thi"] if issuer.party else list(_DOC_KINDS)
        weights = [3, 3, 1, 1] if issuer.party else [8, 3, 3, 2, 1, 1]
        kind = rng.choices(kinds, weights=weights)[0]
    length = length or rng.choice(["short", "short", "long"])
    items = rng.randint(2, 4) if length == "short" else rng.randint(6, 10)
    day, month, year = _date(rng)
    type_name, type_abbr = _DOC_KINDS[kind]
    number = _number(rng)
    if issuer.party:  # Party style (Hướng dẫn 36-HD/VPTW): a công văn is numbered "123-CV/TU"
        number_line = f"Số {number}-{type_abbr or 'CV'}/{issuer.symbol}"
    elif kind == "cong_van":
        field_code = rng.choice(issuer.fields)
        number_line = f"Số: {number}/{issuer.symbol}-{field_code}" if field_code else f"Số: {number}/{issuer.symbol}"
    else:
        number_line = f"Số: {number}/{type_abbr}-{issuer.symbol}"
    topic = _topic(rng, year)
    header_left = [_u(line, rng) for line in issuer.header] + [number_line]
    if kind == "cong_van":
        header_left.append(f"V/v {topic}")
    motto = ["ĐẢNG CỘNG SẢN VIỆT NAM"] if issuer.party else \
        ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" if rng.random() < 0.8 else "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
         "Độc lập - Tự do - Hạnh phúc"]
    header_right = [*motto, f"{issuer.place}, {_long_date(day, month, year)}"]
    title = [] if kind == "cong_van" else [type_name, _title_summary(rng, kind, topic, issuer)]
    body = _body(rng, kind, issuer, year, items, topic)
    distribution = _distribution(rng, kind, issuer)
    signature = [*rng.choice(issuer.signatures), _person(rng)]
    return Dispatch(header_left, header_right, title, body, distribution, signature)


def _headed_name(issuer: _Issuer) -> str:
    """'Chủ tịch Ủy ban nhân dân tỉnh X', 'Giám đốc Sở Y tế', or the collective body itself."""
    return f"{issuer.head} {issuer.name}" if issuer.head else issuer.name


def _title_summary(rng: random.Random, kind: str, topic: str, issuer: _Issuer) -> str:
    if kind == "quyet_dinh":
        return rng.choice(["Về việc phê duyệt Kế hoạch ", "Về việc ban hành Quy chế ", "Về việc "]) + topic
    if kind == "thong_bao":
        return f"Kết luận của {_headed_name(issuer)} về {topic}"
    if kind == "bao_cao":
        return f"Kết quả {topic}"
    if kind == "chi_thi":
        return f"Về việc {topic}"
    return topic[0].upper() + topic[1:]


def _body(rng: random.Random, kind: str, issuer: _Issuer, year: int, items: int, topic: str) -> list[str]:
    body: list[str] = []
    if kind == "cong_van":
        recipients = _recipients(rng, issuer, rng.randint(1, 4))
        if len(recipients) == 1:
            body.append(f"Kính gửi: {recipients[0]}.")
        else:
            body.append("Kính gửi:")
            body += [f"- {name}{';' if k < len(recipients) - 1 else '.'}" for k, name in enumerate(recipients)]
        opener = rng.choice(["Thực hiện", "Căn cứ", "Triển khai"])
        body.append(f"{opener} {_citation(rng, issuer, year)}; {issuer.name} "
                    f"{rng.choice(['yêu cầu', 'đề nghị'])} các cơ quan, đơn vị thực hiện một số nội dung sau:")
        if rng.random() < 0.5:
            body.insert(len(body) - 1, _with_end(_pool_sentence(rng, "S"), "."))
        body += _task_block(rng, issuer, year, items)
        body.append(rng.choice([
            "Yêu cầu các cơ quan, đơn vị nghiêm túc triển khai thực hiện./.",
            f"Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, kịp thời báo cáo về {issuer.name} để xem xét, giải quyết./.",
            "Đề nghị các cơ quan, đơn vị quan tâm phối hợp thực hiện./.",
        ]))
        return body
    if kind in ("quyet_dinh", "chi_thi") and not issuer.party:
        if kind == "quyet_dinh":
            body.append(_u(_headed_name(issuer).upper(), rng))
            grounds = ["Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015"]
            grounds += [_pool_sentence(rng, "C") for _ in range(rng.randint(0, 2))]
            grounds += [f"Căn cứ {_citation(rng, issuer, year)}" for _ in range(rng.randint(1, 2))]
            body += [_with_end(text, ";") for text in grounds]
            body.append(f"Theo đề nghị của {rng.choice(['Giám đốc Sở Nội vụ', 'Giám đốc Sở Tài chính', 'Trưởng phòng Nội vụ', 'Chánh Văn phòng'])}.")
            body.append("QUYẾT ĐỊNH:")
            body.append(f"Điều 1. {_with_end(_pool_sentence(rng, 'S'), '.')}")
            body += _task_block(rng, issuer, year, max(1, items - 2))
            body.append(f"Điều 2. {_with_end(_pool_sentence(rng, 'S'), '.')}")
            body.append("Điều 3. Chánh Văn phòng, Thủ trưởng các cơ quan, đơn vị và các cá nhân có liên quan "
                        "chịu trách nhiệm thi hành Quyết định này./.")
            return body
        body.append(_with_end(_pool_sentence(rng, "S"), "."))
        body.append(f"Để {topic}, {_headed_name(issuer)} yêu cầu:")
        body += _task_block(rng, issuer, year, items)
        body.append("Yêu cầu Thủ trưởng các cơ quan, đơn vị nghiêm túc triển khai thực hiện Chỉ thị này./.")
        return body
    if kind == "thong_bao":
        day, month, _ = _date(rng, year)
        body.append(f"Ngày {_short_date(rng, day, month, year)}, {issuer.name} đã tổ chức họp về {topic}. "
                    f"{_with_end(_pool_sentence(rng, 'S'), '.')}")
        body.append("Sau khi nghe báo cáo và ý kiến của các đại biểu dự họp, kết luận như sau:")
        body += _task_block(rng, issuer, year, items)
        body.append(f"{issuer.name} thông báo để các cơ quan, đơn vị biết, thực hiện./.")
        return body
    # kế hoạch and báo cáo: sectioned with roman numerals
    body.append(f"Thực hiện {_citation(rng, issuer, year)}, {issuer.name} "
                f"{'ban hành Kế hoạch' if kind == 'ke_hoach' else 'báo cáo kết quả'} như sau:")
    sections = (["I. MỤC ĐÍCH, YÊU CẦU", "II. NỘI DUNG THỰC HIỆN", "III. TỔ CHỨC THỰC HIỆN"] if kind == "ke_hoach"
                else ["I. KẾT QUẢ THỰC HIỆN", "II. TỒN TẠI, HẠN CHẾ", "III. NHIỆM VỤ, GIẢI PHÁP"])
    split = [max(1, items // 3), max(1, items // 3), max(1, items - 2 * (items // 3))]
    for heading, count in zip(sections, split, strict=True):
        body.append(heading)
        if rng.random() < 0.5:
            body.append(_with_end(_pool_sentence(rng, "S"), "."))
        body += _task_block(rng, issuer, year, count)
    body.append(f"Trên đây là {'Kế hoạch' if kind == 'ke_hoach' else 'Báo cáo'} của {issuer.name}./.")
    return body


def _distribution(rng: random.Random, kind: str, issuer: _Issuer) -> list[str]:
    lines = ["Nơi nhận:"]
    if kind == "quyet_dinh":
        lines.append("- Như Điều 3;")
    elif kind == "cong_van":
        lines.append("- Như trên;")
    extra = ["- TT Tỉnh ủy, TT HĐND tỉnh (b/c);", "- Chủ tịch, các PCT UBND tỉnh;", "- Các sở, ban, ngành tỉnh;",
             "- UBND các huyện, thành phố;", "- Cổng Thông tin điện tử tỉnh;", "- Thường trực Huyện ủy;",
             "- Các Ban xây dựng Đảng;", "- Đảng ủy các xã, thị trấn;", "- Lãnh đạo Văn phòng;"]
    lines += [_u(text, rng) for text in rng.sample(extra, rng.randint(1, 4))]
    if issuer.party:
        lines.append("- Lưu Văn phòng.")
    else:
        code = rng.choice([c for c in issuer.fields if c] or ["VP"])
        lines.append(rng.choice([f"- Lưu: VT, {code}.", "- Lưu: VT.", f"- Lưu: VT, {code} ({rng.choice('ABCDHLNT')}).", ]))
    return lines


# =========================================================================== page rendering

_FONT_DIR = Path("/usr/share/fonts/truetype")
FONT_FAMILIES: dict[str, tuple[str, str, str, str]] = {  # regular, bold, italic, bold italic
    "Liberation Serif": ("liberation2/LiberationSerif-Regular.ttf", "liberation2/LiberationSerif-Bold.ttf",
                         "liberation2/LiberationSerif-Italic.ttf", "liberation2/LiberationSerif-BoldItalic.ttf"),
    "Liberation Sans": ("liberation2/LiberationSans-Regular.ttf", "liberation2/LiberationSans-Bold.ttf",
                        "liberation2/LiberationSans-Italic.ttf", "liberation2/LiberationSans-BoldItalic.ttf"),
    "Noto Serif": ("noto/NotoSerif-Regular.ttf", "noto/NotoSerif-Bold.ttf",
                   "noto/NotoSerif-Italic.ttf", "noto/NotoSerif-BoldItalic.ttf"),
    "Noto Sans": ("noto/NotoSans-Regular.ttf", "noto/NotoSans-Bold.ttf",
                  "noto/NotoSans-Italic.ttf", "noto/NotoSans-BoldItalic.ttf"),
    "DejaVu Serif": ("dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf",
                     "dejavu/DejaVuSerif-Italic.ttf", "dejavu/DejaVuSerif-BoldItalic.ttf"),
}
_FAMILY_WEIGHTS = {"Liberation Serif": 6, "Noto Serif": 2, "DejaVu Serif": 1, "Liberation Sans": 1, "Noto Sans": 1}
_FACES = ("regular", "bold", "italic", "bold_italic")


_VIETNAMESE_PROBE = "ơưạệỹĐđẮẫỳ"


def _covers_vietnamese(path: Path) -> bool:
    """True when every probe letter has a glyph (a missing one renders exactly like the .notdef box)."""
    font = ImageFont.truetype(str(path), 40)
    notdef = bytes(font.getmask("\ue000"))
    return all(bytes(font.getmask(ch)) != notdef for ch in _VIETNAMESE_PROBE)


@lru_cache(maxsize=1)
def available_font_families() -> tuple[str, ...]:
    """Installed font families whose four faces all cover Vietnamese (Debian fonts-liberation2,
    fonts-noto-core, fonts-dejavu-core; fonts-liberation 1.x lacks Vietnamese and is skipped)."""
    return tuple(name for name, files in FONT_FAMILIES.items()
                 if all((_FONT_DIR / f).is_file() and _covers_vietnamese(_FONT_DIR / f) for f in files))


@lru_cache(maxsize=256)
def _font(family: str, face: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONT_DIR / FONT_FAMILIES[family][_FACES.index(face)]), size_px)


@dataclass(frozen=True)
class Style:
    """How one document is typeset; drawn at random per document within Decree 30's ranges."""

    family: str = "Liberation Serif"
    body_pt: float = 14.0
    header_pt: float = 13.0
    title_pt: float = 14.0
    small_pt: float = 11.0
    line_spacing: float = 1.2  # line height as a multiple of the font size
    paragraph_pt: float = 6.0  # extra space before a paragraph
    margins_mm: tuple[float, float, float, float] = (20.0, 20.0, 30.0, 20.0)  # top, bottom, left, right
    indent_mm: float = 12.7
    left_column: float = 0.42  # share of the text width taken by the header's left column
    ink: int = 0  # grey level of the text
    italic_grounds: bool = True  # "Căn cứ …" lines in italics
    inline_recipient: bool = False  # first recipient on the "Kính gửi:" line
    page_numbers: bool = True
    signature_ink: tuple[int, int, int] = (25, 45, 160)
    seal_ink: tuple[int, int, int] = (215, 35, 45)
    seal_radius_mm: float = 19.0
    signature_space_mm: float = 26.0


def random_style(rng: random.Random) -> Style:
    families = available_font_families()
    family = rng.choices(families, weights=[_FAMILY_WEIGHTS.get(f, 1) for f in families])[0]
    body_pt = rng.choice([13.0, 13.0, 13.5, 14.0, 14.0])
    blue = rng.random() < 0.7
    return Style(
        family=family,
        body_pt=body_pt,
        header_pt=rng.choice([12.0, 12.5, 13.0]),
        title_pt=rng.choice([13.0, 14.0, 14.0]),
        small_pt=rng.choice([11.0, 11.0, 12.0]),
        line_spacing=rng.uniform(1.15, 1.45),
        paragraph_pt=rng.uniform(3.0, 8.0),
        margins_mm=(rng.uniform(20, 25), rng.uniform(20, 25), rng.uniform(30, 35), rng.uniform(15, 20)),
        indent_mm=rng.choice([10.0, 12.7]),
        left_column=rng.uniform(0.38, 0.46),
        ink=rng.randint(0, 45),
        italic_grounds=rng.random() < 0.8,
        inline_recipient=rng.random() < 0.5,
        page_numbers=rng.random() < 0.85,
        signature_ink=(rng.randint(10, 40), rng.randint(30, 70), rng.randint(140, 200)) if blue
        else (rng.randint(20, 50),) * 3,
        seal_ink=(rng.randint(195, 235), rng.randint(15, 60), rng.randint(25, 70)),
        seal_radius_mm=rng.uniform(17.0, 21.0),
        signature_space_mm=rng.uniform(22.0, 32.0),
    )


@dataclass(frozen=True)
class PlacedWord:
    """A word as typeset on a clean page: where its baseline starts (pixels), in which font file and size
    (pixels), in which grey; lets a born-digital PDF of the same page be written (samples/born_digital.py)."""

    text: str
    x: float
    baseline: float
    font_path: str
    size_px: float
    ink: int


@dataclass
class RenderedPage:
    """One page image with its gold text and the ground truth of how it was degraded.

    `skew`: degrees the content was rotated counter-clockwise (undo by rotating clockwise by it);
    `rotation`: 0/90/180/270, the quarter turns counter-clockwise applied on top of the skew."""

    image: Image.Image
    dpi: float
    text: str
    degradation: str = "clean300"
    skew: float = 0.0
    rotation: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    # The exact JPEG file when the last damage was a JPEG encoding, so writing it adds no second loss.
    jpeg: bytes | None = field(default=None, repr=False, compare=False)
    # What was typeset on the clean page (words, and rules as x, y, width, height): kept by render_dispatch,
    # dropped by degradations, which change the pixels.
    words: tuple[PlacedWord, ...] = field(default=(), repr=False, compare=False)
    rules: tuple[tuple[float, float, float, float], ...] = field(default=(), repr=False, compare=False)

    def gold(self) -> dict[str, Any]:
        return {"text": self.text, "degradation": self.degradation, "skew": round(self.skew, 4),
                "rotation": self.rotation, "dpi": self.dpi, "params": self.params}


_Word = tuple[str, ImageFont.FreeTypeFont]


class _Composer:
    """Places lines on A4 pages top to bottom, breaking pages, and records each page's gold lines in blocks."""

    def __init__(self, style: Style, dpi: float, rng: random.Random) -> None:
        self.style, self.dpi, self.rng = style, dpi, rng
        self.width, self.height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
        top, bottom, left, right = (self.mm(v) for v in style.margins_mm)
        self.top, self.bottom, self.left, self.right = top, self.height - bottom, left, self.width - right
        self.text_width = self.right - self.left
        self.images: list[Image.Image] = []
        self.blocks: list[list[list[str]]] = []  # per page: blocks of lines
        self.placed: list[list[PlacedWord]] = []  # per page: the words as drawn
        self.rules: list[list[tuple[float, float, float, float]]] = []
        self.ink = (style.ink,) * 3
        self.y = 0
        self.new_page()

    def mm(self, value: float) -> int:
        return round(value / 25.4 * self.dpi)

    def pt(self, value: float) -> int:
        return round(value / 72 * self.dpi)

    def font(self, face: str, size_pt: float) -> ImageFont.FreeTypeFont:
        return _font(self.style.family, face, self.pt(size_pt))

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        return ImageDraw.Draw(self.images[-1])

    def new_page(self) -> None:
        self.images.append(Image.new("RGB", (self.width, self.height), "white"))
        self.blocks.append([])
        self.placed.append([])
        self.rules.append([])
        self.y = self.top
        if len(self.images) > 1 and self.style.page_numbers:
            font = self.font("regular", self.style.body_pt)
            number = str(len(self.images))
            self.draw.text((self.width / 2, self.top * 0.6), number, font=font, fill=self.ink, anchor="ms")
            self.placed[-1].append(PlacedWord(number, self.width / 2 - font.getlength(number) / 2, self.top * 0.6,
                                              str(font.path), float(font.size), self.style.ink))
            self.blocks[-1].append([number])
        self.blocks[-1].append([])

    def start_block(self) -> None:
        if self.blocks[-1][-1]:
            self.blocks[-1].append([])

    def line_height(self, size_pt: float) -> int:
        return round(self.pt(size_pt) * self.style.line_spacing)

    def fits(self, height: float) -> bool:
        return self.y + height <= self.bottom

    def place_line(self, words: Sequence[_Word], x: float, width: float, size_pt: float, *,
                   align: str = "left", label: tuple[Sequence[_Word], float] | None = None) -> None:
        """Draws one line of words at self.y (breaking the page first if needed) and advances y.
        `label`: words set at their own x on the same line before it (e.g. "Kính gửi:")."""
        height = self.line_height(size_pt)
        if not self.fits(height):
            self.new_page()
        baseline = self.y + round(self.pt(size_pt) * 0.95)
        text = " ".join(word for word, _ in words)
        if label is not None:
            self.draw_words(label[0], label[1], width, baseline, "left")
            text = " ".join(word for word, _ in label[0]) + " " + text
        self.draw_words(words, x, width, baseline, align)
        self.blocks[-1][-1].append(text)
        self.y += height

    def draw_words(self, words: Sequence[_Word], x: float, width: float, baseline: float, align: str) -> float:
        lengths = [font.getlength(word) for word, font in words]
        spaces = [font.getlength(" ") for _, font in words[:-1]]
        natural = sum(lengths) + sum(spaces)
        gap_extra = 0.0
        if align == "center":
            x += (width - natural) / 2
        elif align == "right":
            x += width - natural
        elif align == "justify" and len(words) > 1:
            gap_extra = max(0.0, (width - natural) / (len(words) - 1))
        start = x
        draw = self.draw
        for k, ((word, font), length) in enumerate(zip(words, lengths, strict=True)):
            draw.text((x, baseline), word, font=font, fill=self.ink, anchor="ls")
            self.placed[-1].append(PlacedWord(word, x, baseline, str(font.path), float(font.size), self.style.ink))
            x += length + (spaces[k] + gap_extra if k < len(spaces) else 0)
        return x - start

    def rule(self, x_center: float, y: float, length: float) -> None:
        thickness = max(1, self.pt(0.75))
        self.draw.rectangle([x_center - length / 2, y, x_center + length / 2, y + thickness - 1], fill=self.ink)
        self.rules[-1].append((x_center - length / 2, y, length, thickness))


def _wrap(words: Sequence[_Word], width: float, first_width: float | None = None) -> list[list[_Word]]:
    """Greedy line filling; the first line may be narrower (indent)."""
    lines: list[list[_Word]] = [[]]
    used = 0.0
    limit = first_width if first_width is not None else width
    for word, font in words:
        length = font.getlength(word)
        extra = length + (font.getlength(" ") if lines[-1] else 0)
        if lines[-1] and used + extra > limit:
            lines.append([])
            used, limit, extra = 0.0, width, length
        lines[-1].append((word, font))
        used += extra
    return lines


def _words(text: str, font: ImageFont.FreeTypeFont) -> list[_Word]:
    return [(word, font) for word in text.split()]


def _is_upper(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


_ROMAN_HEADING = re.compile(r"^[IVX]+\.\s")
_ARTICLE = re.compile(r"^(Điều\s+\d+\.)\s")


def render_dispatch(spec: Dispatch | Mapping[str, Any], *, rng: random.Random, style: Style | None = None,
                    dpi: float = 300.0) -> list[RenderedPage]:
    """Typesets a dispatch in the Decree 30/2020 layout on A4 pages with a red seal and a signature."""
    d = _as_dispatch(spec)
    style = style or random_style(rng)
    comp = _Composer(style, dpi, rng)
    _render_header(comp, d)
    _render_title(comp, d.title)
    _render_body(comp, d.body, has_title=bool(d.title))
    _render_closing(comp, d)
    pages = []
    for image, blocks, placed, rules in zip(comp.images, comp.blocks, comp.placed, comp.rules, strict=True):
        text = "\n\n".join("\n".join(block) for block in blocks if block)
        pages.append(RenderedPage(image=image, dpi=dpi, text=text, params={"font": style.family},
                                  words=tuple(placed), rules=tuple(rules)))
    return pages


def _column_lines(comp: _Composer, text: str, face: str, size_pt: float, width: float) -> tuple[list[list[_Word]], float]:
    """A header line set in its column: shrunk down to 85% to fit, wrapped beyond that."""
    size = size_pt
    while size > size_pt * 0.85 and comp.font(face, size).getlength(text) > width:
        size -= 0.25
    return _wrap(_words(text, comp.font(face, size)), width), size


def _render_header(comp: _Composer, d: Dispatch) -> None:
    style = comp.style
    left_w = comp.text_width * style.left_column
    right_w = comp.text_width - left_w
    left_cx, right_cx = comp.left + left_w / 2, comp.left + left_w + right_w / 2
    number_at = next((k for k, line in enumerate(d.header_left) if line.startswith("Số")), len(d.header_left))
    issuer, number, subject = d.header_left[:number_at], d.header_left[number_at:number_at + 1], d.header_left[number_at + 1:]
    parent = 1 if len(issuer) >= 2 and issuer[0].startswith(("UBND", "ĐẢNG BỘ", "BỘ ", "TỔNG CỤC")) else 0
    left_lines: list[str] = []
    right_lines: list[str] = []
    top = comp.y

    def column(lines_out: list[str], text: str, face: str, size: float, cx: float, width: float, y: float) -> tuple[float, float]:
        wrapped, used = _column_lines(comp, text, face, size, width * 0.98)
        widest = 0.0
        for line in wrapped:
            widest = max(widest, sum(f.getlength(w) for w, f in line) + sum(f.getlength(" ") for _, f in line[:-1]))
            comp.draw_words(line, cx - width / 2, width, y + comp.pt(used) * 0.95, "center")
            lines_out.append(" ".join(w for w, _ in line))
            y += comp.line_height(used) * 0.92
        return y, widest

    y_left = float(top)
    widest = 0.0
    for k, text in enumerate(issuer):
        y_left, widest = column(left_lines, text, "regular" if k < parent else "bold", style.header_pt, left_cx, left_w, y_left)
    if issuer:
        comp.rule(left_cx, y_left + comp.pt(3), widest * comp.rng.uniform(0.33, 0.5))
        y_left += comp.pt(8)
    y_right = float(top)
    dates = [line for line in d.header_right if ", ngày" in line or line.endswith(")")]
    mottos = [line for line in d.header_right if line not in dates]
    for k, text in enumerate(mottos):
        size = style.header_pt if k == 0 else style.header_pt + 1
        y_right, widest = column(right_lines, text, "bold", size, right_cx, right_w, y_right)
    if mottos:
        comp.rule(right_cx, y_right + comp.pt(3), widest)
        y_right += comp.pt(8)
    y_row = max(y_left, y_right) + comp.pt(2)
    y_after_number = y_row
    for text in number:
        y_after_number, _ = column(left_lines, text, "regular", 13.0, left_cx, left_w, y_row)
    y_after_date = y_row
    for text in dates:
        y_after_date, _ = column(right_lines, text, "italic", style.header_pt + 1, right_cx, right_w, y_after_date)
    y_left = y_after_number + comp.pt(4)
    for text in subject:
        y_left, _ = column(left_lines, text, "regular", style.header_pt, left_cx, left_w * 0.95, y_left)
    comp.blocks[-1][-1].extend(left_lines)
    comp.blocks[-1].append(right_lines)
    comp.blocks[-1].append([])
    comp.y = round(max(y_left, y_after_date) + comp.pt(style.body_pt) * comp.rng.uniform(0.8, 1.6))


def _render_title(comp: _Composer, title: Sequence[str]) -> None:
    if not title:
        return
    style = comp.style
    width = comp.text_width * 0.82
    x = comp.left + (comp.text_width - width) / 2
    widest = 0.0
    for k, text in enumerate(title):
        size = style.title_pt + (1 if k == 0 and comp.rng.random() < 0.5 else 0)
        for line in _wrap(_words(text, comp.font("bold", size)), width):
            widest = max(widest, sum(f.getlength(w) for w, f in line))
            comp.place_line(line, x, width, size, align="center")
    comp.rule(comp.left + comp.text_width / 2, comp.y + comp.pt(1), widest * comp.rng.uniform(0.33, 0.5))
    comp.y += comp.pt(style.body_pt) // 2


def _render_body(comp: _Composer, body: Sequence[str], *, has_title: bool) -> None:
    style = comp.style
    regular, bold, italic = (comp.font(face, style.body_pt) for face in ("regular", "bold", "italic"))
    indent = comp.mm(style.indent_mm)
    in_recipients = False
    recipient_x = 0.0
    label: tuple[list[_Word], float] | None = None  # "Kính gửi:" waiting to share the first recipient's line
    for text in body:
        comp.y += comp.pt(style.paragraph_pt)
        if text.startswith("Kính gửi"):
            kinh_gui_words = _words(text, regular)
            if text.rstrip().endswith(":"):
                recipient_x = comp.left + comp.text_width * comp.rng.uniform(0.12, 0.25)
                if style.inline_recipient:
                    label = (kinh_gui_words, recipient_x)
                else:
                    comp.place_line(kinh_gui_words, recipient_x, comp.text_width, style.body_pt)
                recipient_x += regular.getlength("Kính gửi: ")
                in_recipients = True
            else:
                width = comp.text_width * 0.8
                for line in _wrap(kinh_gui_words, width):
                    comp.place_line(line, comp.left + comp.text_width * 0.1, width, style.body_pt, align="center")
            comp.y += comp.pt(style.paragraph_pt)
            continue
        if in_recipients and text.startswith("- "):
            comp.y -= comp.pt(style.paragraph_pt)
            width = comp.right - recipient_x
            for line in _wrap(_words(text, regular), width):
                comp.place_line(line, recipient_x, width, style.body_pt, label=label)
                label = None
            continue
        if label is not None:  # "Kính gửi:" with no recipient list after it
            comp.place_line(label[0], label[1], comp.text_width, style.body_pt)
            label = None
        if in_recipients:
            in_recipients = False
            comp.y += comp.pt(style.paragraph_pt)
        if _is_upper(text) and not _ROMAN_HEADING.match(text):
            for line in _wrap(_words(text, bold), comp.text_width * 0.9):
                comp.place_line(line, comp.left, comp.text_width, style.body_pt, align="center")
            continue
        words = _words(text, bold if _is_upper(text) else regular)
        article = _ARTICLE.match(text)
        if article:
            bold_count = len(article.group(1).split())
            words = [(w, bold) for w, _ in words[:bold_count]] + words[bold_count:]
        elif has_title and style.italic_grounds and text.startswith(("Căn cứ", "Theo đề nghị", "Xét đề nghị")):
            words = [(w, italic) for w, _ in words]
        lines = _wrap(words, comp.text_width, comp.text_width - indent)
        for k, line in enumerate(lines):
            x = comp.left + (indent if k == 0 else 0)
            width = comp.text_width - (indent if k == 0 else 0)
            comp.place_line(line, x, width, style.body_pt, align="justify" if k < len(lines) - 1 else "left")


def _render_closing(comp: _Composer, d: Dispatch) -> None:
    """'Nơi nhận' block (left, small) beside the signature block (right) with seal and signature."""
    style, rng = comp.style, comp.rng
    dist_w = comp.text_width * rng.uniform(0.40, 0.47)
    sig_w = comp.text_width * 0.52
    sig_cx = comp.right - sig_w / 2
    label, small = comp.font("bold_italic", 12.0), comp.font("regular", style.small_pt)
    dist_lines: list[tuple[list[_Word], float]] = []
    for k, text in enumerate(d.distribution):
        font, size = (label, 12.0) if k == 0 else (small, style.small_pt)
        dist_lines += [(line, size) for line in _wrap(_words(text, font), dist_w)]
    sig_font = comp.font("bold", style.body_pt)
    sig_lines = [line for text in d.signature[:-1] for line in _wrap(_words(text, sig_font), sig_w)]
    name_lines = _wrap(_words(d.signature[-1], sig_font), sig_w) if d.signature else []
    gap = comp.mm(style.signature_space_mm)
    sig_height = comp.line_height(style.body_pt) * (len(sig_lines) + len(name_lines)) + gap
    dist_height = sum(comp.line_height(size) * 0.9 for _, size in dist_lines)
    comp.y += comp.pt(style.paragraph_pt) + comp.pt(style.body_pt) // 2
    if not comp.fits(max(sig_height, dist_height) + comp.pt(4)):
        comp.new_page()
    comp.start_block()
    top = comp.y
    y = float(top + comp.pt(4))
    for line, size in dist_lines:
        comp.draw_words(line, comp.left, dist_w, y + comp.pt(size) * 0.95, "left")
        comp.blocks[-1][-1].append(" ".join(w for w, _ in line))
        y += comp.line_height(size) * 0.9
    comp.start_block()
    y = top
    for line in sig_lines:
        comp.draw_words(line, sig_cx - sig_w / 2, sig_w, y + comp.pt(style.body_pt) * 0.95, "center")
        comp.blocks[-1][-1].append(" ".join(w for w, _ in line))
        y += comp.line_height(style.body_pt)
    gap_top = y
    y += gap
    for line in name_lines:
        comp.draw_words(line, sig_cx - sig_w / 2, sig_w, y + comp.pt(style.body_pt) * 0.95, "center")
        comp.blocks[-1][-1].append(" ".join(w for w, _ in line))
        y += comp.line_height(style.body_pt)
    comp.y = round(max(y, top + dist_height))
    page = np.asarray(comp.images[-1], dtype=np.float32)
    signature = signature_mask(rng, comp.mm(rng.uniform(32, 48)), comp.mm(rng.uniform(10, 16)), comp.dpi)
    stamp(page, signature, style.signature_ink, (sig_cx + comp.mm(rng.uniform(-6, 8)), gap_top + gap * rng.uniform(0.4, 0.6)))
    radius = comp.mm(style.seal_radius_mm)
    ring = _seal_ring_text(d)
    seal = seal_mask(rng, radius, ring, comp.dpi)
    center = (sig_cx - radius * rng.uniform(0.35, 0.9), gap_top + gap * rng.uniform(0.25, 0.6))
    stamp(page, seal, style.seal_ink, center)
    comp.images[-1] = Image.fromarray(page.clip(0, 255).astype(np.uint8))


def _seal_ring_text(d: Dispatch) -> str:
    number_at = next((k for k, line in enumerate(d.header_left) if line.startswith("Số")), len(d.header_left))
    issuer = " ".join(d.header_left[:number_at]) or "ỦY BAN NHÂN DÂN"
    return re.sub(r"^UBND ", "ỦY BAN NHÂN DÂN ", issuer)


# =========================================================================== ink: seals, signatures, stamps


def _stamp_family() -> str:
    families = available_font_families()
    return "Liberation Sans" if "Liberation Sans" in families else families[0]


def stamp(page: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], center: tuple[float, float]) -> None:
    """Multiplies coloured ink (alpha `mask`, 0..1) onto a float RGB page in place: text under it stays dark."""
    h, w = mask.shape
    x0, y0 = round(center[0] - w / 2), round(center[1] - h / 2)
    px0, py0 = max(0, x0), max(0, y0)
    px1, py1 = min(page.shape[1], x0 + w), min(page.shape[0], y0 + h)
    if px1 <= px0 or py1 <= py0:
        return
    alpha = mask[py0 - y0:py1 - y0, px0 - x0:px1 - x0, None]
    tint = np.asarray(color, dtype=np.float32) / 255.0
    page[py0:py1, px0:px1] *= 1.0 - alpha * (1.0 - tint)


def _ink_texture(mask: np.ndarray, rng: random.Random, strength: float = 0.45) -> np.ndarray:
    """Uneven stamp-pad ink: smooth density variation plus small voids."""
    import cv2

    nrng = np.random.default_rng(rng.getrandbits(63))
    h, w = mask.shape
    coarse = nrng.random((max(2, h // 40), max(2, w // 40))).astype(np.float32)
    field_ = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = (nrng.random((h, w)) > 0.08).astype(np.float32)
    density = np.clip(1.0 - strength + strength * field_, 0.0, 1.0) * (0.75 + 0.25 * fine)
    return np.clip(mask * density * rng.uniform(0.8, 0.95), 0.0, 1.0)


def seal_mask(rng: random.Random, radius: int, ring_text: str, dpi: float) -> np.ndarray:
    """Round seal: double ring, the issuer's name around it, a star in the middle (alpha 0..1)."""
    size = 2 * radius + 8
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    c = size / 2
    draw.ellipse([c - radius, c - radius, c + radius, c + radius], outline=255, width=max(3, round(radius * 0.05)))
    inner = radius * rng.uniform(0.62, 0.7)
    draw.ellipse([c - inner, c - inner, c + inner, c + inner], outline=255, width=max(2, round(radius * 0.022)))
    band = radius * 0.93 - inner
    font = _font(_stamp_family(), "bold", max(8, round(band * 0.62)))
    text = ring_text.upper()
    arc = math.radians(rng.uniform(280, 320))
    text_radius = inner + band * 0.2
    total = sum(font.getlength(ch) for ch in text) * 1.05
    scale = arc / max(total / text_radius, 1e-6)  # letter-spacing so the text fills the arc
    angle = -arc / 2
    for ch in text:
        step = font.getlength(ch) * 1.05 / text_radius * scale
        theta = angle + step / 2
        angle += step
        if ch == " ":
            continue
        box = round(font.size * 2)
        glyph = Image.new("L", (box, box), 0)
        ImageDraw.Draw(glyph).text((font.size, font.size), ch, font=font, fill=255, anchor="ms")
        glyph = glyph.rotate(-math.degrees(theta), resample=Image.Resampling.BILINEAR)
        gx = c + text_radius * math.sin(theta) - font.size
        gy = c - text_radius * math.cos(theta) - font.size
        img.paste(255, (round(gx), round(gy)), glyph)
    star_r = inner * rng.uniform(0.3, 0.42)
    points = []
    for k in range(10):
        r = star_r if k % 2 == 0 else star_r * 0.4
        a = math.pi * k / 5 - math.pi / 2
        points.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(points, fill=255)
    mask = np.asarray(img, dtype=np.float32) / 255.0
    return _ink_texture(mask, rng)


def signature_mask(rng: random.Random, width: int, height: int, dpi: float) -> np.ndarray:
    """A handwritten-looking scrawl: a few smooth looping pen strokes (alpha 0..1)."""
    img = Image.new("L", (width + 20, height + 20), 0)
    draw = ImageDraw.Draw(img)
    pen = max(2, round(dpi / 300 * rng.uniform(3, 5)))
    for _stroke in range(rng.randint(2, 3)):
        n = rng.randint(5, 9)
        xs = sorted(rng.uniform(0, width) for _ in range(n))
        pts = [(10 + x, 10 + height * (0.5 + 0.45 * math.sin(rng.uniform(0, 6.3)))) for x in xs]
        for _ in range(3):  # Chaikin smoothing
            smooth = [pts[0]]
            for (x1, y1), (x2, y2) in itertools.pairwise(pts):
                smooth += [(0.75 * x1 + 0.25 * x2, 0.75 * y1 + 0.25 * y2), (0.25 * x1 + 0.75 * x2, 0.25 * y1 + 0.75 * y2)]
            pts = [*smooth, pts[-1]]
        loops = []
        for k, (x, y) in enumerate(pts):
            loops.append((x + math.sin(k * 0.9) * height * 0.12, y + math.cos(k * 0.9) * height * 0.25))
        draw.line(loops, fill=255, width=pen, joint="curve")
    mask = np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32) / 255.0
    return np.clip(mask * rng.uniform(0.85, 1.0), 0, 1)


def received_stamp_mask(rng: random.Random, dpi: float) -> np.ndarray:
    """The rectangular 'CÔNG VĂN ĐẾN' registry stamp put on incoming dispatches (alpha 0..1)."""
    w, h = round(48 / 25.4 * dpi), round(24 / 25.4 * dpi)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    line = max(2, round(dpi / 150))
    draw.rectangle([1, 1, w - 2, h - 2], outline=255, width=line)
    font_b = _font(_stamp_family(), "bold", round(h * 0.2))
    font = _font(_stamp_family(), "regular", round(h * 0.17))
    draw.text((w / 2, h * 0.25), "CÔNG VĂN ĐẾN", font=font_b, fill=255, anchor="ms")
    draw.text((w * 0.08, h * 0.5), f"Số: {rng.randint(1, 3000)}", font=font, fill=255, anchor="ls")
    draw.text((w * 0.08, h * 0.7), f"Ngày: {rng.randint(1, 28)}/{rng.randint(1, 12)}/{rng.randint(2012, 2025)}",
              font=font, fill=255, anchor="ls")
    draw.text((w * 0.08, h * 0.9), "Chuyển: ......................", font=font, fill=255, anchor="ls")
    img = img.rotate(rng.uniform(-6, 6), expand=True, resample=Image.Resampling.BILINEAR)
    return _ink_texture(np.asarray(img, dtype=np.float32) / 255.0, rng, 0.35)


# =========================================================================== degradations

DEGRADATIONS = ("clean300", "skew", "noise", "blur", "jpeg", "dpi150", "dpi75", "fade", "seal_over_text",
                "rotated", "hardest")


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(63))


def _array(page: RenderedPage) -> np.ndarray:
    return np.asarray(page.image.convert("RGB"), dtype=np.float32)


def _image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).round().astype(np.uint8), "RGB")


def _rotate(image: Image.Image, degrees: float) -> Image.Image:
    """Rotates counter-clockwise about the centre, growing the canvas so nothing is cut; white fill."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))


def _resample(image: Image.Image, dpi_from: float, dpi_to: float) -> Image.Image:
    scale = dpi_to / dpi_from
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX)


def _jpeg(image: Image.Image, quality: int, dpi: float) -> tuple[Image.Image, bytes]:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, dpi=(round(dpi), round(dpi)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), buffer.getvalue()


def _add_noise(array: np.ndarray, nrng: np.random.Generator, sigma: float, salt: float) -> np.ndarray:
    noisy = array + nrng.normal(0.0, sigma, array.shape[:2])[..., None]
    flips = nrng.random(array.shape[:2])
    noisy[flips < salt / 2] = 0.0
    noisy[flips > 1 - salt / 2] = 255.0
    return noisy


def _add_dust(array: np.ndarray, nrng: np.random.Generator, count: int, dpi: float) -> None:
    """Dark specks and short hairs left by dust on the scanner glass, in place."""
    h, w = array.shape[:2]
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(count):
        x, y = float(nrng.uniform(0, w)), float(nrng.uniform(0, h))
        if nrng.random() < 0.8:
            r = float(nrng.uniform(0.5, 2.5)) * dpi / 300
            draw.ellipse([x - r, y - r, x + r, y + r], fill=int(nrng.integers(120, 255)))
        else:
            dx, dy = (float(v) * dpi / 300 for v in nrng.uniform(-40, 40, 2))
            draw.line([(x, y), (x + dx, y + dy)], fill=int(nrng.integers(100, 200)), width=max(1, round(dpi / 300)))
    alpha = np.asarray(canvas, dtype=np.float32)[..., None] / 255.0
    array *= 1.0 - alpha


def _lighting(array: np.ndarray, nrng: np.random.Generator, depth: float) -> np.ndarray:
    """Uneven illumination of a phone photo: a smooth gradient plus a soft shadow from one edge."""
    h, w = array.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = nrng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    light = 1.0 - depth * ramp
    edge = nrng.integers(4)
    coord = [xx / w, 1 - xx / w, yy / h, 1 - yy / h][edge]
    width = nrng.uniform(0.08, 0.25)
    shadow = 1.0 - nrng.uniform(0.15, 0.35) * np.clip(1 - coord / width, 0, 1)
    return array * (light * shadow)[..., None]


def _seal_over_body(array: np.ndarray, rng: random.Random, dpi: float, color: tuple[int, int, int]) -> dict[str, Any]:
    h, w = array.shape[:2]
    radius = round(rng.uniform(17, 21) / 25.4 * dpi)
    center = (rng.uniform(0.25, 0.75) * w, rng.uniform(0.3, 0.75) * h)
    ring = rng.choice(["ỦY BAN NHÂN DÂN TỈNH", "VĂN PHÒNG ỦY BAN NHÂN DÂN", "SỞ NỘI VỤ", "ỦY BAN NHÂN DÂN HUYỆN"])
    ring += " " + rng.choice(_admin_units())["provinceShort"].upper()
    stamp(array, seal_mask(rng, radius, ring, dpi), color, center)
    return {"seal_center": [round(center[0]), round(center[1])], "seal_radius": radius}


def degrade(page: RenderedPage, degradation: str, rng: random.Random) -> RenderedPage:
    """A new page damaged like a scan/photo of class `degradation` (see DEGRADATIONS); the input is unchanged.
    The result records its parameters, ground-truth skew (degrees CCW) and rotation."""
    if degradation not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {degradation!r}; choose from {', '.join(DEGRADATIONS)}")
    nrng = _np_rng(rng)
    dpi, skew, rotation = page.dpi, page.skew, page.rotation
    image = page.image.convert("RGB")
    params: dict[str, Any] = dict(page.params)
    encoded: bytes | None = None
    if degradation == "clean300":
        if dpi != 300:
            image, dpi = _resample(image, dpi, 300.0), 300.0
    elif degradation == "skew":
        angle = rng.choice([-1, 1]) * rng.uniform(0.3, 10.0)
        image, skew = _rotate(image, angle), skew + angle
    elif degradation == "noise":
        sigma, salt = rng.uniform(5, 12), rng.uniform(0.001, 0.004)
        arr = _add_noise(_array(page), nrng, sigma, salt)
        dust = rng.randint(20, 80)
        _add_dust(arr, nrng, dust, dpi)
        image = _image(arr)
        params.update(noise_sigma=round(sigma, 2), salt_pepper=round(salt, 4), dust=dust)
    elif degradation == "blur":
        radius = rng.uniform(0.8, 1.8) * dpi / 300
        image = image.filter(ImageFilter.GaussianBlur(radius))
        params.update(blur_radius=round(radius, 2))
    elif degradation == "jpeg":
        quality = rng.randint(30, 60)
        image, encoded = _jpeg(image, quality, dpi)
        params.update(jpeg_quality=quality)
    elif degradation == "dpi150":
        image, dpi = _resample(image, dpi, 150.0), 150.0
    elif degradation == "dpi75":
        target = float(rng.randint(70, 100))
        angle = rng.uniform(-1.5, 1.5)
        depth = rng.uniform(0.15, 0.4)
        arr = _lighting(_array(page), nrng, depth)
        image = _rotate(_image(arr), angle).filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2) * dpi / 300))
        image, dpi, skew = _resample(image, dpi, target), target, skew + angle
        quality = rng.randint(70, 88)
        image, encoded = _jpeg(image, quality, dpi)
        params.update(light_depth=round(depth, 3), jpeg_quality=quality)
    elif degradation == "fade":
        gray = np.asarray(image.convert("L"), dtype=np.float32)
        contrast = rng.uniform(0.35, 0.6)
        paper = rng.uniform(205, 235)
        faded = paper - (paper - gray) * contrast * (255 / paper)
        dropout = nrng.random(gray.shape) < rng.uniform(0.05, 0.2)  # toner missing inside strokes
        faded[dropout & (gray < 128)] = paper * 0.9
        speckle = nrng.random(gray.shape) < rng.uniform(0.0001, 0.0006)
        faded[speckle] = rng.uniform(40, 110)
        image = Image.fromarray(np.clip(faded, 0, 255).astype(np.uint8), "L").convert("RGB")
        params.update(contrast=round(contrast, 3), paper=round(paper, 1), grayscale=True)
    elif degradation == "seal_over_text":
        arr = _array(page)
        marks: list[dict[str, Any]] = []
        seal_color = (rng.randint(195, 235), rng.randint(15, 60), rng.randint(25, 70))
        marks.append(_seal_over_body(arr, rng, dpi, seal_color))
        ink = (rng.randint(10, 40), rng.randint(30, 70), rng.randint(150, 210))
        received = received_stamp_mask(rng, dpi)
        where = (rng.uniform(0.2, 0.8) * arr.shape[1], rng.uniform(0.25, 0.5) * arr.shape[0])
        stamp(arr, received, seal_color if rng.random() < 0.5 else ink, where)
        marks.append({"received_stamp": [round(where[0]), round(where[1])]})
        for _ in range(rng.randint(1, 2)):
            scrawl = signature_mask(rng, round(rng.uniform(40, 70) / 25.4 * dpi), round(rng.uniform(10, 20) / 25.4 * dpi), dpi)
            where = (rng.uniform(0.3, 0.7) * arr.shape[1], rng.uniform(0.3, 0.8) * arr.shape[0])
            stamp(arr, scrawl, ink, where)
            marks.append({"signature": [round(where[0]), round(where[1])]})
        image = _image(arr)
        params.update(marks=marks)
    elif degradation == "rotated":
        rotation = rng.choice([90, 180, 270])
        image = image.transpose({90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                                 270: Image.Transpose.ROTATE_270}[rotation])
        rotation = (page.rotation + rotation) % 360
    elif degradation == "hardest":
        arr = _array(page)
        params.update(_seal_over_body(arr, rng, dpi, (rng.randint(195, 235), rng.randint(15, 60), rng.randint(25, 70))))
        angle = rng.choice([-1, 1]) * rng.uniform(3.0, 4.0)
        image, skew = _rotate(_image(arr), angle), skew + angle
        image, dpi = _resample(image, dpi, 150.0), 150.0
        quality = rng.randint(33, 37)
        image, encoded = _jpeg(image, quality, dpi)
        params.update(jpeg_quality=quality)
    return RenderedPage(image=image, dpi=dpi, text=page.text, degradation=degradation, skew=skew,
                        rotation=rotation, params=params, jpeg=encoded)


# =========================================================================== files


def write_image(page: RenderedPage, path: Path, *, quality: int = 90) -> Path:
    """PNG or JPEG (by suffix) carrying the page's DPI; a page whose damage was a JPEG encoding is
    written as exactly that JPEG file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dpi = (round(page.dpi), round(page.dpi))
    image = _storage_image(page)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        if page.jpeg is not None:
            path.write_bytes(page.jpeg)
        else:
            image.save(path, "JPEG", quality=quality, dpi=dpi)
    else:
        image.save(path, "PNG", dpi=dpi, optimize=True)
    return path


def _storage_image(page: RenderedPage) -> Image.Image:
    """Grey pages (photocopies) are stored with one channel."""
    return page.image.convert("L") if page.params.get("grayscale") else page.image


def write_tiff(pages: Sequence[RenderedPage], path: Path) -> Path:
    """Multi-page TIFF (deflate-compressed) with each page's DPI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first, rest = pages[0], pages[1:]
    _storage_image(first).save(path, "TIFF", save_all=True, append_images=[_storage_image(p) for p in rest],
                     compression="tiff_adobe_deflate", dpi=(first.dpi, first.dpi))
    # Pillow applies the first page's DPI to all frames; the pages of one document share it here.
    return path


def legacy_ocr_text(page: RenderedPage) -> str:
    """What an old OCR run with the English model made of the page: the real garbling (`néng`, `d6`,
    `ctia`…) that archives' text layers carry. Needs Tesseract's `eng` data (a dev-time tool only)."""
    encoded = io.BytesIO()
    _storage_image(page).save(encoded, "PNG", dpi=(page.dpi, page.dpi))
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", "eng", "--psm", "3"],
        input=encoded.getvalue(),
        capture_output=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        timeout=300,
    )
    return unicodedata.normalize("NFC", done.stdout.decode("utf-8", errors="replace")).strip()


@lru_cache(maxsize=1)
def _legacy_pdf_font() -> str:
    """A TrueType font for invisible text layers: any Unicode the old OCR produced stays extractable."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    family = _stamp_family()
    pdfmetrics.registerFont(TTFont("CongvanLegacyText", str(_FONT_DIR / FONT_FAMILIES[family][0])))
    return "CongvanLegacyText"


def write_pdf(pages: Sequence[RenderedPage], path: Path, *, text_layers: Sequence[str] | None = None,
              owner_password: str | None = None, jpeg_quality: int = 80) -> Path:
    """Image-only PDF (pages embedded as JPEG at their DPI). `text_layers`: per page, an invisible
    (render mode 3) text layer like an old OCR's; `owner_password`: encrypt so that opening needs no
    password but only printing is allowed."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pageCompression=1, invariant=1)  # invariant: no dates, stable ids
    pdf.setCreator("congvan sample generator")
    for k, page in enumerate(pages):
        width, height = page.image.width * 72 / page.dpi, page.image.height * 72 / page.dpi
        pdf.setPageSize((width, height))
        encoded = io.BytesIO(page.jpeg) if page.jpeg is not None else io.BytesIO()
        if page.jpeg is None:
            _storage_image(page).save(encoded, "JPEG", quality=jpeg_quality)
        encoded.seek(0)
        pdf.drawImage(ImageReader(encoded), 0, 0, width, height)
        if text_layers is not None:
            lines = text_layers[k].splitlines()
            text = pdf.beginText()
            text.setTextRenderMode(3)
            size = 10.0
            text.setFont(_legacy_pdf_font(), size)
            top = height - 72 * 0.8
            step = (height - 2 * 72 * 0.8) / max(len(lines), 40)
            for n, line in enumerate(lines):
                text.setTextOrigin(72 * 1.2, top - n * step)
                text.textOut(line)
            pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    if owner_password is None:
        path.write_bytes(buffer.getvalue())
        return path
    import pikepdf

    allow = pikepdf.Permissions(accessibility=True, extract=False, modify_annotation=False, modify_assembly=False,
                                modify_form=False, modify_other=False, print_lowres=True, print_highres=True)
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as document:
        document.save(path, encryption=pikepdf.Encryption(owner=owner_password, user="", allow=allow))
    return path


def write_gold(path: Path, pages: Sequence[RenderedPage], spec: Dispatch, **extra: Any) -> Path:
    """`<name>.gold.json`: per page gold text and degradation ground truth, plus the Dispatch spec."""
    data = {"pages": [page.gold() for page in pages], "spec": spec.to_json(), **extra}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def gold_path(document: Path) -> Path:
    return document.with_name(document.stem + ".gold.json")


# =========================================================================== sample and benchmark sets


@dataclass(frozen=True)
class SampleItem:
    """One committed sample document: its file stem, degradation class, file format and content."""

    name: str
    degradation: str
    fmt: str  # png | jpg | tif | pdf | pdf-ocrlayer | pdf-protected
    kind: str | None = None
    pages: int = 1  # pages wanted (the document is redrawn until it has exactly this many)
    party: bool | None = None
    quality: int = 85  # JPEG quality of a .jpg file whose damage was not itself a JPEG encoding


SAMPLE_PLAN = (
    SampleItem("01_cong_van_clean300", "clean300", "png", "cong_van"),
    SampleItem("02_quyet_dinh_skew", "skew", "jpg", "quyet_dinh"),
    SampleItem("03_thong_bao_noise", "noise", "jpg", "thong_bao", quality=70),
    SampleItem("04_ke_hoach_blur", "blur", "png", "ke_hoach"),
    SampleItem("05_cong_van_jpeg", "jpeg", "jpg", "cong_van"),
    SampleItem("06_bao_cao_dpi150", "dpi150", "tif", "bao_cao", pages=2),
    SampleItem("07_cong_van_phone75", "dpi75", "jpg", "cong_van"),
    SampleItem("08_ke_hoach_fade", "fade", "pdf", "ke_hoach", pages=2),
    SampleItem("09_thong_bao_tu_seal_over_text_oldocr", "seal_over_text", "pdf-ocrlayer", "thong_bao", party=True),
    SampleItem("10_cong_van_rotated_protected", "rotated", "pdf-protected", "cong_van"),
    SampleItem("11_chi_thi_hardest", "hardest", "jpg", "chi_thi"),
)
_FORMATS = ("png", "jpg", "tif", "pdf", "pdf-ocrlayer", "pdf-protected")
OWNER_PASSWORD = "congvan-owner"


def _document_with_pages(rng: random.Random, item: SampleItem, dpi: float) -> tuple[Dispatch, list[RenderedPage]]:
    """Draws documents until one renders on exactly `item.pages` pages (deterministic for a given rng)."""
    length = "short" if item.pages == 1 else "long"
    best: tuple[Dispatch, list[RenderedPage]] | None = None
    for _attempt in range(40):
        spec = random_dispatch(rng, kind=item.kind, length=length, party=item.party)
        pages = render_dispatch(spec, rng=rng, dpi=dpi)
        if len(pages) == item.pages:
            return spec, pages
        if best is None or abs(len(pages) - item.pages) < abs(len(best[1]) - item.pages):
            best = (spec, pages)
    assert best is not None
    return best


def write_document(pages: Sequence[RenderedPage], out: Path, name: str, fmt: str, spec: Dispatch,
                   rng: random.Random, *, quality: int = 85) -> Path:
    """Writes the pages in format `fmt` (see _FORMATS) as out/<name>.<ext> with <name>.gold.json beside it."""
    extra: dict[str, Any] = {"format": fmt}
    if fmt in ("png", "jpg"):
        if len(pages) != 1:
            raise ValueError(f"{name}: a {fmt} file holds one page, got {len(pages)}")
        path = write_image(pages[0], out / f"{name}.{fmt}", quality=quality)
    elif fmt == "tif":
        path = write_tiff(pages, out / f"{name}.tif")
    elif fmt == "pdf":
        path = write_pdf(pages, out / f"{name}.pdf")
    elif fmt == "pdf-ocrlayer":
        layers = [legacy_ocr_text(page) for page in pages]
        path = write_pdf(pages, out / f"{name}.pdf", text_layers=layers)
        extra["legacy_text"] = layers
    elif fmt == "pdf-protected":
        path = write_pdf(pages, out / f"{name}.pdf", owner_password=OWNER_PASSWORD)
        extra["owner_password"] = OWNER_PASSWORD
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(_FORMATS)}")
    write_gold(gold_path(path), pages, spec, **extra)
    return path


def sample_plan(count: int | None = None, classes: Sequence[str] | None = None) -> list[SampleItem]:
    """The curated plan (all classes and formats) or, with `classes`, `count` items cycling through them."""
    if classes is None:
        plan = list(SAMPLE_PLAN)
        count = len(plan) if count is None else count
        for k in range(len(plan), count):
            base = SAMPLE_PLAN[k % len(SAMPLE_PLAN)]
            plan.append(replace(base, name=f"{k + 1:02d}_{base.degradation}", kind=None, party=None))
        return plan[:count]
    count = len(classes) if count is None else count
    return [SampleItem(f"{k + 1:02d}_{classes[k % len(classes)]}", classes[k % len(classes)],
                       "png" if k % 3 else "pdf") for k in range(count)]


def generate_samples(out: Path, plan: Sequence[SampleItem], seed: int, *, dpi: float = 300.0) -> list[Path]:
    """Renders (at `dpi`), degrades and writes every item of `plan`; an item's content depends only on
    (seed, name)."""
    written = []
    for item in plan:
        rng = random.Random(f"sample:{seed}:{item.name}")
        spec, pages = _document_with_pages(rng, item, dpi)
        damaged = [degrade(page, item.degradation, rng) for page in pages]
        written.append(write_document(damaged, out, item.name, item.fmt, spec, rng, quality=item.quality))
    return written


@dataclass(frozen=True)
class BenchItem:
    """One benchmark page: the first page of document `document` degraded by class `degradation`.
    Rendered on demand (`render()`), so a large set does not sit in memory."""

    name: str
    degradation: str
    seed: int
    document: int
    dpi: float = 300.0  # render resolution before degradation

    def spec(self) -> Dispatch:
        return _bench_document(self.seed, self.document, self.dpi)[0]

    def render(self) -> RenderedPage:
        clean = _bench_document(self.seed, self.document, self.dpi)[1]
        return degrade(clean, self.degradation, random.Random(f"bench:{self.seed}:{self.document}:{self.degradation}"))

    def write(self, out: Path) -> Path:
        """out/<name>.png (lossless: the degradation is the only damage) and out/<name>.gold.json."""
        page = self.render()
        path = write_image(page, out / f"{self.name}.png")
        write_gold(gold_path(path), [page], self.spec(), format="png")
        return path


@lru_cache(maxsize=2)
def _bench_document(seed: int, document: int, dpi: float) -> tuple[Dispatch, RenderedPage]:
    rng = random.Random(f"bench:{seed}:{document}")
    spec = random_dispatch(rng)
    return spec, render_dispatch(spec, rng=rng, dpi=dpi)[0]


def generate_bench_set(classes: Sequence[str], per_class: int, seed: int, *, dpi: float = 300.0) -> list[BenchItem]:
    """`per_class` documents, each degraded by every class in `classes` (the same pages across classes,
    so classes compare fairly); deterministic given the seed. Ordered document by document."""
    for name in classes:
        if name not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {name!r}; choose from {', '.join(DEGRADATIONS)}")
    return [BenchItem(f"bench_{seed}_{k:03d}_{name}", name, seed, k, dpi) for k in range(per_class) for name in classes]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate synthetic scanned dispatches with gold text.")
    parser.add_argument("--out", type=Path, required=True, help="folder to write documents and .gold.json files")
    parser.add_argument("--count", type=int, default=None, help="number of documents (default: the curated plan)")
    parser.add_argument("--classes", nargs="+", choices=DEGRADATIONS, help="degradation classes to cycle through")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--dpi", type=float, default=300.0, help="render resolution before degradation")
    args = parser.parse_args(argv)
    plan = sample_plan(args.count, args.classes)
    for path in generate_samples(args.out, plan, args.seed, dpi=args.dpi):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
