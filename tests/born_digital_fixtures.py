"""PDFs that reproduce what real archives hold, built at test time from one generated dispatch: born-digital
and e-signed (number and day as signature-widget appearances, a publication stamp, signature dictionaries), a
scan whose text layer holds only a signature stamp, and a scan under an old invisible OCR layer."""

from __future__ import annotations

import datetime as dt
import random
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "samples"))
import born_digital
import generate

SIGNED = dt.datetime(2020, 4, 16, 17, 30, 49, tzinfo=born_digital.LOCAL)
SIGNER = "Trần Văn Bình"
ORGANISATION = "ỦY BAN NHÂN DÂN TỈNH LẠNG SƠN"
CENTRE = "TRUNG TÂM CÔNG BÁO VÀ TIN HỌC"
CENTRE_EMAIL = "ttcbth@langson.gov.vn"


@dataclass(frozen=True)
class Fixture:
    pages: list[generate.RenderedPage]
    spec: generate.Dispatch
    number: str
    day: str


@lru_cache(maxsize=1)
def dispatch() -> Fixture:
    """A one-page chỉ thị of a provincial People's Committee ("Số: NN/CT-UBND"), typeset at 150 dpi."""
    for seed in range(40):
        rng = random.Random(seed)
        spec = generate.random_dispatch(rng, kind="chi_thi", length="short", party=False)
        pages = generate.render_dispatch(spec, rng=rng, dpi=150.0)
        number, day = born_digital.field_values(pages)
        if len(pages) == 1 and number and day:
            return Fixture(pages, spec, number, day)
    raise AssertionError("no one-page dispatch with a number and a day among the seeds")


def signers(*, publication_stamp: str | None = "plain", person_page: int = 0) -> tuple[born_digital.Signer, ...]:
    person = born_digital.Signer(ORGANISATION, SIGNED, name=SIGNER, email="tvbinh@langson.gov.vn", unit="VĂN PHÒNG",
                                 page=person_page)
    if publication_stamp is None:
        return (person,)
    centre = born_digital.Signer(CENTRE, SIGNED + dt.timedelta(hours=16, minutes=50), email=CENTRE_EMAIL,
                                 stamp=publication_stamp)
    return person, centre


def esigned_pdf(path: Path, *, fields: bool = True, stamp: str | None = "plain") -> Path:
    return born_digital.write_born_digital_pdf(dispatch().pages, path,
                                               born_digital.ESign(signers(publication_stamp=stamp),
                                                                  number_and_day_fields=fields))


def plain_pdf(path: Path) -> Path:
    return born_digital.write_born_digital_pdf(dispatch().pages, path)


def scan_pdf(path: Path, *, stamp: str | None = "labelled", legacy: str | None = None) -> Path:
    """The page as a scanned image; e-signed afterwards with a visible stamp (its text is then the whole text
    layer), or under an old invisible OCR layer."""
    scan = path.with_suffix(".scan.pdf")
    generate.write_pdf(dispatch().pages, scan, text_layers=[legacy] if legacy is not None else None)
    if stamp is None:
        return scan.rename(path)
    return born_digital.add_signatures(scan.read_bytes(), path,
                                       born_digital.ESign(signers(publication_stamp=stamp), number_and_day_fields=False))
