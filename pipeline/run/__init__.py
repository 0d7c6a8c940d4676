"""The driver: walks inputs, runs every page through the stages on local processes or Dask, writes results.

options     ProcessOptions (a batch's settings, validated once) and PageSettings (what a worker needs)
stages      Stages: the stage functions the driver composes, typed by Protocols (tests pass fakes)
inputs      the files a batch processes (folders walked for the formats ingest reads)
naming      output stems in the --out folder
executors   local process pool or Dask cluster
worker      one page through the stages, one document's record (runs in the workers)
engine      pages in flight across documents, then each document's extraction
progress    progress bar or log lines
outcomes    what became of each input, the batch summary and its exit code
batch       process_inputs() and extract_file(): the whole batch, outputs and archive entries

The names below are loaded on first use, so that `pipeline.run.options` stays cheap to import (the command
line builds its parser from it without loading the stages).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.run.batch import extract_file, process_inputs
    from pipeline.run.inputs import collect_inputs
    from pipeline.run.options import ProcessOptions
    from pipeline.run.outcomes import BatchSummary, DocumentOutcome
    from pipeline.run.stages import Stages
    from pipeline.run.worker import run_extract, run_page

_HOMES = {
    "BatchSummary": "outcomes",
    "DocumentOutcome": "outcomes",
    "ProcessOptions": "options",
    "Stages": "stages",
    "collect_inputs": "inputs",
    "extract_file": "batch",
    "process_inputs": "batch",
    "run_extract": "worker",
    "run_page": "worker",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BatchSummary",
    "DocumentOutcome",
    "ProcessOptions",
    "Stages",
    "collect_inputs",
    "extract_file",
    "process_inputs",
    "run_extract",
    "run_page",
]
