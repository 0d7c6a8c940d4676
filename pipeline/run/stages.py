"""The seams between the driver and the stages: the stage functions it composes (`Stages`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.types import DocumentInfo, Record


@dataclass(frozen=True)
class Stages:
    """The stage functions the driver composes; tests pass small fakes with the same signatures."""

    open_document: Callable[[Path], DocumentInfo]
    load_page: Callable[[Path, int], Any]
    read_text_file: Callable[[Path], str]
    preprocess_page: Callable[[Any], Any]
    ocr_page: Callable[..., Any]
    check_tesseract: Callable[[str | None], Any]
    restore_text: Callable[..., Any]
    extract_record: Callable[..., Record]

    @classmethod
    def default(cls) -> Stages:
        from pipeline import ingest, ocr, preprocess
        from pipeline.extract import extract_record
        from pipeline.restore import restore_text

        return cls(
            open_document=ingest.open_document,
            load_page=ingest.load_page,
            read_text_file=ingest.read_text_file,
            preprocess_page=preprocess.preprocess_page,
            ocr_page=ocr.ocr_page,
            check_tesseract=ocr.check_tesseract,
            restore_text=restore_text,
            extract_record=extract_record,
        )
