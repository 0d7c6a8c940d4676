"""Shared helpers of the extraction tests: JSON case files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASES = Path(__file__).parent / "cases"


def load_cases(name: str) -> list[Any]:
    """pytest.param-ready cases of tests/cases/<name>.json (each: input, expected, comment)."""
    import pytest

    cases = json.loads((CASES / f"{name}.json").read_text(encoding="utf-8"))
    return [pytest.param(case["input"], case["expected"], id=case["comment"][:60]) for case in cases]
