"""The driver: walks inputs, runs every page through the stages on local processes or Dask, writes results.

options     ProcessOptions (a batch's settings) and PageSettings (what a worker needs of them)
stages      Stages: the stage functions the driver composes (tests pass fakes)
inputs      the files a batch processes (folders walked for the formats ingest reads)
naming      output stems in the --out folder
executors   local process pool or Dask cluster
worker      one page through the stages, one document's record (runs in the workers)
engine      pages in flight across documents, then each document's extraction
progress    progress bar or log lines
outcomes    what became of each input, the batch summary and its exit code
batch       process_inputs() and extract_file(): the whole batch, outputs and archive entries
"""

from __future__ import annotations

from pipeline.run.batch import extract_file, process_inputs
from pipeline.run.inputs import collect_inputs
from pipeline.run.options import ProcessOptions
from pipeline.run.outcomes import BatchSummary, DocumentOutcome
from pipeline.run.stages import Stages
from pipeline.run.worker import run_extract, run_page

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
