"""The lexicon's patterns on the spellings and OCR readings its comments list (tests/cases/extract_lexicon.json):
matched on the folded text where the extractors fold it, as written otherwise."""

from __future__ import annotations

import json
import re

import pytest
from extract_helpers import CASES

from pipeline.extract import lexicon
from pipeline.vietnamese import fold

# The patterns the extractors match on folded text (`vietnamese.fold`); the others see the text as written. Those
# that may match inside a line are searched for, the others match at its start.
FOLDED = {"SUBJECT_LABEL", "NUMBER_LABEL", "RECIPIENTS", "DISTRIBUTION", "AUTHORITY", "AUTHORITY_OCR", "SIGNED",
          "UNIT_HEAD", "ASSIGNEE_LABEL_LINE", "COORDINATOR_LABEL_LINE", "BODY_START"}
LOWER = {"DIRECTIVE_VERB"}  # lower-cased, diacritics kept
SEARCHED = {"AUTHORITY_INSIDE", "DISTRIBUTION_NOTE", "DIRECTIVE_VERB"}


def _cases() -> list[object]:
    cases = json.loads((CASES / "extract_lexicon.json").read_text(encoding="utf-8"))
    return [pytest.param(case["pattern"], case["input"], case["expected"], id=f"{case['pattern']}: {case['input']}")
            for case in cases]


@pytest.mark.parametrize(("name", "text", "expected"), _cases())
def test_extract_lexicon_ocr_variants(name: str, text: str, expected: str | None) -> None:
    pattern: re.Pattern[str] = getattr(lexicon, name)
    subject = fold(text) if name in FOLDED else text.lower() if name in LOWER else text
    found = pattern.search(subject) if name in SEARCHED else pattern.match(subject)
    if expected is None:
        assert found is None, found
        return
    assert found is not None
    assert text[found.start() : found.end()] == expected  # folding keeps offsets: compare what was written


def test_extract_lexicon_alternation_folds_and_prefers_longer_phrases():
    assert lexicon.alternation(["để ", "Ban", "Ban Chỉ đạo"], folded=True) == r"ban\ chi\ dao|ban|de\s"
    assert "doc lap - tu do - hanh phuc" in lexicon.MOTTOS_FOLDED and "uy" in lexicon.OPEN_ENDINGS_FOLDED


def test_extract_lexicon_authorities_map_to_their_canonical_form():
    assert lexicon.AUTHORITY_BY_LETTERS == {"tm": "TM.", "kt": "KT.", "tl": "TL.", "tuq": "TUQ.", "q": "Q."}
    for authority in lexicon.AUTHORITIES:
        assert lexicon.AUTHORITY.match(fold(authority.canonical) + " chu tich")


def test_extract_lexicon_each_body_head_once():
    spellings = [head.spelling for head in lexicon.BODY_HEADS]
    assert len(spellings) == len(set(spellings))
    assert all(head.issuer or head.assignee for head in lexicon.BODY_HEADS)
