"""Extraction: one structured record per document (header, references, dates, places, tasks) and its schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from pipeline.extract.text import normalize_text
from pipeline.types import PageResult, Record


def extract_record(text: str, pages: Sequence[PageResult] | None = None) -> Record:
    """The record of one document. `text` is its final text, pages joined by form feeds (span offsets refer
    to it after NFC normalization); when it is empty, the pages' texts are joined instead."""
    from pipeline.extract.nlp import ExtractionState, run_pipeline

    if not text and pages:
        text = "\f".join(page.text for page in pages)
    doc = run_pipeline(normalize_text(text or ""), pages)
    state: ExtractionState = doc._.congvan
    return state.record()


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("pipeline").joinpath("data", "record.schema.json").read_text(encoding="utf-8")


def record_schema() -> dict[str, Any]:
    """The JSON Schema of `Record.to_dict()` (pipeline/data/record.schema.json)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


__all__ = ["extract_record", "record_schema"]
