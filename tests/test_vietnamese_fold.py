"""fold (lower case, no diacritics, same length) is skeleton lower-cased: one table for both."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.vietnamese import VIETNAMESE_LETTERS, fold, skeleton


@given(st.text(alphabet=st.characters(max_codepoint=0x1FFF)))
def test_vietnamese_fold_is_skeleton_lower_cased(text: str) -> None:
    assert fold(text) == skeleton(text).lower()


@given(st.text())
def test_vietnamese_fold_keeps_offsets(text: str) -> None:
    assert len(fold(text)) == len(text)


def test_vietnamese_fold_vietnamese_letters_to_ascii() -> None:
    assert all(fold(letter).isascii() and fold(letter).islower() for letter in VIETNAMESE_LETTERS if letter.isalpha())
    assert fold("Quyết định Số 539/QĐ-UBND") == "quyet dinh so 539/qd-ubnd"
    # OCR reads the capital Đ as the look-alike Icelandic Ð: it folds to d as skeleton has it
    assert fold("ÐỘC LẬP") == "doc lap"
