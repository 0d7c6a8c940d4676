"""Text inputs decode from the encodings Vietnamese offices actually produce, always to NFC."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import EmptyFileError, UnsupportedFormatError
from pipeline.ingest import open_document, read_text_file

CASES = json.loads((Path(__file__).parent / "cases" / "ingest_text.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[case["comment"][:40] for case in CASES])
def test_ingest_text_decodes(tmp_path: Path, case: dict[str, str]) -> None:
    path = tmp_path / "doc.txt"
    path.write_bytes(case["input"].encode(case["encoding"]))
    assert read_text_file(path) == case["expected"]
    info = open_document(path)
    assert (info.kind, info.page_count) == ("text", 1)


def test_ingest_text_empty_and_binary_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        read_text_file(empty)
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"abc\x00\x01\x02def")
    with pytest.raises(UnsupportedFormatError):
        read_text_file(binary)


# a leading U+FEFF would be read as a byte-order mark, rightly
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"), min_size=1,
                max_size=60)


@settings(max_examples=60, deadline=None)
@given(text=_TEXT, encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_ingest_text_unicode_round_trip_is_nfc(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                encoding: str) -> None:
    path = tmp_path_factory.mktemp("text") / "doc.txt"
    path.write_bytes(text.encode(encoding))
    assert read_text_file(path) == unicodedata.normalize("NFC", text)
