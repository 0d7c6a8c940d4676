"""Tests of the header and closing block: issuer split, number, place/date, subject, recipients, signer."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from extract_helpers import load_cases

from pipeline.extract import extract_record


@pytest.mark.parametrize(("text", "expected"), load_cases("extract_header"))
def test_extract_header_cases(text: str, expected: dict) -> None:
    header = asdict(extract_record(text).document)
    for key, value in expected.items():
        assert header[key] == value, key
