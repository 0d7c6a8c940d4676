"""The rule that no test skips silently in CI: `require` fails there and skips elsewhere, and no test file
skips any other way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from components import require, require_file, require_module, require_program

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("value", ["true", "1", "TRUE", "yes"])
def test_components_missing_component_fails_in_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"needs the program 'no-such-program-congvan'.*missing in CI"):
        require_program("no-such-program-congvan", "apt-get install nothing")
    with pytest.raises(pytest.fail.Exception, match="Python package 'no_such_module_congvan'"):
        require_module("no_such_module_congvan", "pip install nothing")


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_components_missing_component_skips_outside_ci(monkeypatch, tmp_path, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=r"needs .*absent\.txt"):
        require_file(tmp_path / "absent.txt", "create it")


def test_components_present_component_goes_on(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    require(True, "anything", "nothing")
    present = tmp_path / "present.txt"
    present.write_text("x")
    assert require_file(present, "nothing") == present
    assert require_module("json", "nothing").__name__ == "json"


def test_components_tests_skip_only_through_require():
    skipping = re.compile(r"pytest\.(skip|importorskip|xfail)\(|mark\.(skip|skipif|xfail)\b")
    offenders = [f"{path.name}:{number}" for path in sorted(TESTS.glob("*.py")) if path.name != "components.py"
                 and path.name != Path(__file__).name
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if skipping.search(line)]
    assert offenders == []
