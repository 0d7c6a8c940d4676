"""Every error class has its own code and exit code, and the README's table documents both."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline.errors import ERROR_CLASSES, EXIT_INTERRUPTED, EXIT_MIXED, EXIT_OK, CongvanError

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_errors_codes_and_exit_codes_are_distinct_and_documented():
    documented = dict(re.findall(r"^\| (\d+) \| (E\d{3}) \|", README, re.MULTILINE))
    specific = [cls for cls in ERROR_CLASSES if cls is not CongvanError]
    assert len({cls.code for cls in ERROR_CLASSES}) == len(ERROR_CLASSES)
    assert len({cls.exit_code for cls in specific}) == len(specific)
    assert {cls.exit_code for cls in specific}.isdisjoint({EXIT_OK, EXIT_MIXED, EXIT_INTERRUPTED})
    assert {str(cls.exit_code): cls.code for cls in specific} == documented

