"""Abbreviations and codes in restored text: kept as written, but for a D that a source unable to write
Đ (English-model OCR, text typed without marks) put for one."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.restore import restore_text

ENGLISH_OCR = st.sampled_from(["ctia", "ngudi", "khdi", "lugng", "s6", "tién", "hién", "thyc", "néng", "cac", "tinh"])
ABBREVIATIONS = st.sampled_from(
    ["HDND", "UBND", "MTTQ", "TTDT", "QLDA", "BQL", "GD&DT", "DD&CN", "NN&PTNT", "KH&CN", "VH&DL", "CD", "VND"]
)
CODES = st.builds(
    lambda number, kind, issuer: f"{number}/{kind}-{issuer}",
    st.integers(1, 9999),
    st.sampled_from(["QD", "ND", "KH", "CV", "TB", "BC", "QĐ"]),
    st.sampled_from(["UBND", "TTg", "CP", "BTC", "SGDDT", "HDND"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ENGLISH_OCR, min_size=4, max_size=8),
    st.lists(st.one_of(ABBREVIATIONS, CODES), min_size=1, max_size=3),
    st.randoms(),
)
def test_restore_abbreviations_only_d_becomes_stroked(
    words: list[str], kept: list[str], rng: random.Random
) -> None:
    """Among English-model OCR words, an abbreviation or code (capitals joined by & included) comes out
    as it went in, except that a D may come out Đ: never read as a word (DD&CN as DỊCH)."""
    tokens = words + kept
    rng.shuffle(tokens)
    out = restore_text(" ".join(tokens)).text.split()
    assert len(out) == len(tokens)
    for token, restored in zip(tokens, out, strict=True):
        if token in kept:
            assert len(restored) == len(token), (tokens, out)
            assert all(a == b or (a, b) == ("D", "Đ") for a, b in zip(token, restored, strict=True)), (tokens, out)
