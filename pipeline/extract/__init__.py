"""Extraction: one structured record per document (header, references, dates, places, tasks) and its schema.

The extractors are plain functions run in order over one `DocumentText`, each given what it needs of the
earlier ones: the layout (header block, body, closing, appendix), then the references (whose spans the dates
skip), the dates (the header's year completes "ngày 15/4"), the places (the place of issue among them), the
tasks, which point at all of them, the receiving stamp, and the review of the fields read apart (a
handwritten number or day: confidence, plausibility against the stamp's and the cited documents' dates)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from pipeline.extract.dates import iter_dates
from pipeline.extract.geometry import line_geometry
from pipeline.extract.header import parse_layout
from pipeline.extract.places import canonical_place_of_issue, extract_places
from pipeline.extract.references import extract_references
from pipeline.extract.review import review_fields
from pipeline.extract.stamps import extract_received
from pipeline.extract.tasks import TaskContext, extract_tasks
from pipeline.extract.text import DocumentText, normalize_text
from pipeline.types import PageResult, Record


def extract_record(text: str, pages: Sequence[PageResult] | None = None) -> Record:
    """The record of one document. `text` is its final text, pages joined by form feeds (span offsets refer
    to it after NFC normalization); when it is empty, the pages' texts are joined instead. Pages that carry
    the OCR words of that text give the extractors the lines' positions (columns, centred titles)."""
    if not text and pages:
        text = "\f".join(page.text for page in pages)
    document = DocumentText.from_text(normalize_text(text or ""))
    if pages:
        document.geometry = line_geometry(document, pages)
    layout = parse_layout(document)
    header = layout.header
    own_code = layout.own_code.code if layout.own_code else header.code
    own_year = header.date_parts.year if header.date_parts else None
    # a cited document is dated no later than the citing one; with neither its date nor its year read there is no
    # bound, and no damaged cited date is repaired (the record never depends on the day it is made)
    latest = header.date or (f"{own_year}-12-31" if own_year else None)
    references = extract_references(document, own_code=own_code, own_year=own_year, latest=latest)
    cited = [(mention.start, mention.end) for reference in references for mention in reference.mentions]
    dates = iter_dates(document, default_year=int(header.date[:4]) if header.date else None, exclude=cited)
    lines = document.lines
    header_end = lines[layout.header_end].start if layout.header_end < len(lines) else len(document.text)
    places = extract_places(document, header_end=header_end, place_of_issue=layout.place_span, date=header.date)
    header.place = canonical_place_of_issue(header.place, layout.place_span, places, header_end)
    tasks = extract_tasks(document, layout, TaskContext(references, dates, places))
    received = extract_received(document, pages)
    review = review_fields(header, pages or [], received, references, signer_by_position=layout.signer_by_position)
    return Record(header, references, dates, places, tasks, received=received, needs_review=review.needs_review,
                  fields_confidence=review.confidence)


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("pipeline").joinpath("data", "record.schema.json").read_text(encoding="utf-8")


def record_schema() -> dict[str, Any]:
    """The JSON Schema of `Record.to_dict()` (pipeline/data/record.schema.json)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


__all__ = ["extract_record", "record_schema"]
