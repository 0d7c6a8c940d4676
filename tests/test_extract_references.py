"""Tests of document-code parsing and references: JSON cases (OCR damage included) and Hypothesis."""

from __future__ import annotations

import pytest
from extract_helpers import load_cases
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.extract.references import extract_references, iter_codes, parse_code
from pipeline.extract.text import DocumentText


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_references"))
def test_extract_references_cases(text: str, expected: list[dict]) -> None:
    found = extract_references(DocumentText.from_text(text))
    assert [r.code for r in found] == [e["code"] for e in expected]
    for reference, wanted in zip(found, expected, strict=True):
        data = {**reference.__dict__, "count": reference.count}
        for key, value in wanted.items():
            assert data[key] == value, key


def test_extract_references_excludes_own_code() -> None:
    doc = DocumentText.from_text("Số: 45/KH-UBND\n(Kèm theo Kế hoạch số 45/KH-UBND) và Quyết định số 1/QĐ-UBND")
    assert [r.code for r in extract_references(doc, own_code="45/KH-UBND")] == ["1/QĐ-UBND"]


def test_extract_references_mentions_point_at_text() -> None:
    text = "Theo Quyết định số 539/QĐ-UBND, Quyết định số 539/QD-UBND."
    doc = DocumentText.from_text(text)
    (reference,) = extract_references(doc)
    assert [text[m.start : m.end] for m in reference.mentions] == ["539/QĐ-UBND", "539/QD-UBND"]


_STATE_TYPES = ["QĐ", "KH", "TB", "CT", "BC", "HD", "TTr", "NQ"]
_ISSUERS = ["UBND", "BTC", "SGDĐT", "VPĐP", "TTg", "BNV", "CP"]


@settings(max_examples=150, deadline=None)
@given(
    number=st.integers(min_value=1, max_value=99999),
    year=st.one_of(st.none(), st.integers(min_value=1990, max_value=2099)),
    doc_type=st.sampled_from(_STATE_TYPES),
    issuer=st.sampled_from(_ISSUERS),
    left=st.sampled_from(["", " ", "  "]),
    right=st.sampled_from(["", " ", "-\n", "\n"]),
    prefix=st.sampled_from(["số ", "Quyết định số ", "(", ""]),
    suffix=st.sampled_from(["", ";", ".", " ngày 02/4/2020", ", của UBND tỉnh"]),
)
def test_extract_references_state_codes_survive_spacing(number: int, year: int | None, doc_type: str, issuer: str,
                                                        left: str, right: str, prefix: str, suffix: str) -> None:
    dated = f"{year}/" if year else ""
    canonical = f"{number:02d}/{dated}{doc_type}-{issuer}"
    # spaces around the slash, a line break after the dash ("QĐ-⏎UBND") or after the slash
    separator = "-\n" if right == "-\n" else "-"
    slash = "/\n" if right == "\n" else f"{left}/{left}"
    written = f"{number:02d}{slash}{dated}{doc_type}{separator}{issuer}"
    found = parse_code(f"{prefix}{written}{suffix}")
    assert found is not None
    assert found.code == canonical


@settings(max_examples=100, deadline=None)
@given(number=st.integers(min_value=1, max_value=9999), doc_type=st.sampled_from(["NQ", "TB", "KL", "CT", "HD", "QĐi"]),
       issuer=st.sampled_from(["TW", "TU", "HU", "ĐU", "BTGTW"]))
def test_extract_references_party_codes(number: int, doc_type: str, issuer: str) -> None:
    found = parse_code(f"Nghị quyết số {number}-{doc_type}/{issuer} ngày 1/1/2020")
    assert found is not None and found.party
    assert found.code == f"{number}-{doc_type}/{issuer}"
    assert found.doc_type is not None and found.doc_type.abbr == doc_type


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_extract_references_never_crash_and_stay_in_bounds(garbage: str) -> None:
    """Any text: codes lie within it and look like codes; a code on a line of its own after the text is read
    whatever comes before it."""
    text = garbage + "\nQuyết định số 539/QĐ-UBND"
    codes = list(iter_codes(text))
    for code in codes:
        assert 0 <= code.start < code.end <= len(text)
        assert "/" in code.code or "-" in code.code
    assert codes, "the code after the text was not found"
    assert (codes[-1].code, codes[-1].end) == ("539/QĐ-UBND", len(text))
