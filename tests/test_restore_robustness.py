"""Robustness of restore_text: any Unicode in, valid NFC text out with the same lines and tokens;
protected tokens (numbers, dates, codes, abbreviations, URLs, e-mails) never change."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.restore import restore_text
from pipeline.restore.models import get_restorer
from pipeline.vietnamese import is_valid

PROTECTED = st.one_of(
    st.from_regex(r"\A[1-9][0-9]{0,4}/(QĐ|KH|CV|TB|NQ|CT|BC)-(UBND|TTg|BNV|HĐND|VPĐP|SNN)\Z"),
    st.from_regex(r"\A[1-9][0-9]{0,2}-(NQ|TB|CT|KL)/(TW|TU|HU)\Z"),
    st.from_regex(r"\A(0?[1-9]|[12][0-9]|3[01])/(0?[1-9]|1[0-2])/(19|20)[0-9]{2}\Z"),
    # numbers of three digits or more, or with thousands separators: a bare one- or two-digit token in
    # English-model OCR may be a misread word (6 for ở, 14 for là), as restore_real_ocr.json shows
    st.from_regex(r"\A([1-9][0-9]{2,3}|[0-9]{1,3}(\.[0-9]{3}){1,3})\Z"),
    st.sampled_from(["UBND", "MTQG", "PTNT", "HĐND", "COVID-19", "TW", "BCĐ", "UBMTTQ", "KT-XH"]),
    st.from_regex(r"\Ahttps?://[a-z]{2,10}\.(gov|com)\.vn(/[a-z0-9-]{1,12})?\Z"),
    st.from_regex(r"\A[a-z]{2,8}@[a-z]{2,8}\.gov\.vn\Z"),
)
WORDS = st.sampled_from(
    [
        "cua",
        "tinh",
        "huyen",
        "xa",
        "nguoi",
        "dan",
        "nong",
        "thon",
        "moi",
        "ke",
        "hoach",
        "quyet",
        "dinh",
        "so",
        "ngay",
        "thang",
        "nam",
        "thuc",
        "hien",
        "ctia",
        "ngudi",
        "khdi",
        "lugng",
        "16n",
        "s6",
        "d6",
        "x4",
        "ma&i",
        "tién",
        "hién",
        "néng",
        "chông",
        "khân",
        "triên",
        "phân",
        "bố",
        "Việt",
        "Nam",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_restore_robustness_any_unicode(text: str) -> None:
    result = restore_text(text)
    assert unicodedata.is_normalized("NFC", result.text)
    result.text.encode("utf-8")  # no lone surrogates
    assert len(result.text.splitlines()) == len(text.splitlines())
    assert len(result.tokens) == len(text.split())
    assert [t.original for t in result.tokens] == text.split()
    assert all(0.0 <= t.confidence <= 1.0 for t in result.tokens)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(
            st.one_of(WORDS.map(lambda w: (w, False)), PROTECTED.map(lambda w: (w, True))),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_restore_robustness_protected_tokens_unchanged(lines: list[list[tuple[str, bool]]]) -> None:
    text = "\n".join(" ".join(word for word, _ in line) for line in lines)
    result = restore_text(text)
    out_lines = result.text.split("\n")
    assert len(out_lines) == len(lines)
    for line_in, line_out in zip(lines, out_lines, strict=True):
        out = line_out.split()
        assert len(out) == len(line_in)
        for (word, protected), restored in zip(line_in, out, strict=True):
            if protected:
                assert restored == word


def test_restore_robustness_nfd_and_long_lines() -> None:
    nfd = unicodedata.normalize("NFD", "Ủy ban nhân dân tỉnh Lạng Sơn")
    assert restore_text(nfd).text == "Ủy ban nhân dân tỉnh Lạng Sơn"
    long_line = " ".join(["xay dung nong thon moi"] * 3000)
    result = restore_text(long_line)
    assert result.text.count("\n") == 0
    assert len(result.tokens) == 15000
    assert result.text.split()[:5] == ["xây", "dựng", "nông", "thôn", "mới"]


def test_restore_robustness_whitespace_and_controls_kept_in_place() -> None:
    text = "  Cong\tvan\r\nso\x00 18/KH-UBND\n\n\u2028ngay 15/4/2020  \n"
    result = restore_text(text)
    assert result.text == "  Công\tvăn\r\nsố 18/KH-UBND\n\n\u2028ngày 15/4/2020  \n"
    assert [t.original for t in result.tokens] == text.split()


CORRECT = json.loads((Path(__file__).parent / "cases" / "restore_correct_text.json").read_text(encoding="utf-8"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(CORRECT), min_size=1, max_size=6),
    st.lists(st.sampled_from(["\n", " ", "\n\n"]), min_size=6, max_size=6),
)
def test_restore_robustness_correct_text_unchanged(sentences: list[str], breaks: list[str]) -> None:
    """No harm: correct Vietnamese (names, codes, numbers, foreign words included), in any order and
    layout, comes out exactly as it went in."""
    text = "".join(sentence + gap for sentence, gap in zip(sentences, breaks, strict=False)).strip()
    assert restore_text(text).text == text


@pytest.mark.parametrize("sentence", CORRECT)
def test_restore_robustness_each_correct_sentence_unchanged(sentence: str) -> None:
    """Every correct sentence alone (foreign names such as Phnom Penh, Lev, Mach included) is kept."""
    assert restore_text(sentence).text == sentence


ENGLISH_OCR = st.sampled_from(["ctia", "ngudi", "khdi", "lugng", "s6", "d6", "tién", "hién", "thyc", "néng", "x4"])
SKELETONS = ["hoc", "tao", "duc", "muc", "ngay", "von", "giao", "biet", "thuc", "nghiep", "truong", "chinh"]


@st.composite
def garbled(draw: st.DrawFn) -> str:
    """A syllable's skeleton with one or two letters misread (for a letter, a digit or a symbol) or
    inserted: within reach of letter-level edits, as OCR garbles words (hge, thyfc, muyc)."""
    word = list(draw(st.sampled_from(SKELETONS)))
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(word) - 1))
        char = draw(st.sampled_from("abcdefghiklmnopqrstuvxy0123456&"))
        if draw(st.booleans()):
            word[at] = char
        else:
            word.insert(at, char)
    return "".join(word)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ENGLISH_OCR, min_size=6, max_size=10, unique=True), st.lists(garbled(), min_size=1, max_size=3), st.randoms())
def test_restore_robustness_english_ocr_leaves_no_broken_syllable(
    words: list[str], garbled: list[str], rng: random.Random
) -> None:
    """In a line of English-model OCR every word comes out a Vietnamese syllable or a word the
    vocabulary holds (a foreign word of the corpus): a token that is neither (hge, thyfc) is never
    kept as it is."""
    tokens = words + garbled
    rng.shuffle(tokens)
    out = restore_text(" ".join(tokens)).text.split()
    vocabulary = get_restorer().lm.index
    broken = [w for w in out if not is_valid(w.lower()) and w.lower() not in vocabulary]
    assert not broken, (tokens, out)
