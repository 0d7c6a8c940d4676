"""Options are validated once, in ProcessOptions: the command line and library calls get the same UsageError
(exit code 2), before anything is read or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.defaults import PAGE_TIMEOUT_SECONDS
from pipeline.errors import EXIT_USAGE, UsageError
from pipeline.run import ProcessOptions, process_inputs
from pipeline.run.options import ExecutorKind

CLI_CASES = json.loads((Path(__file__).parent / "cases" / "cli_usage.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CLI_CASES, ids=[" ".join(case["argv"][:1] + case["argv"][2:]) for case in CLI_CASES])
def test_run_options_bad_command_line_exits_two_with_one_line(tmp_path, capsys, case):
    (tmp_path / "in").mkdir()
    argv = [arg.format(tmp=tmp_path / "in") for arg in case["argv"]]
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.startswith("congvan: usage: ") and captured.err.count("\n") == 1, captured.err
    assert case["message"] in captured.err and "[E001]" in captured.err and captured.out == ""
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == []  # nothing created


@pytest.mark.parametrize("options", [
    {},
    {"out_dir": Path("o"), "jobs": 0},
    {"out_dir": Path("o"), "jobs": 1.5},
    {"out_dir": Path("o"), "page_timeout": -1.0},
    {"db_path": "a.db", "pdf": True},
    {"out_dir": Path("o"), "executor": "threads"},
    {"out_dir": Path("o"), "executor": "dask"},
])
def test_run_options_library_calls_are_validated_too(options):
    with pytest.raises(UsageError) as error:
        process_inputs([], ProcessOptions(**options))
    assert error.value.exit_code == EXIT_USAGE


def test_run_options_defaults():
    options = ProcessOptions(out_dir=Path("o"), executor="dask", scheduler="tcp://127.0.0.1:8786")
    assert options.executor is ExecutorKind.DASK and options.jobs >= 1
    assert options.page_timeout == PAGE_TIMEOUT_SECONDS == options.page_settings().timeout
