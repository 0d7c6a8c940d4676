"""The archive: SQLite store with full-text search, task exports and searchable PDFs (works on records)."""

from __future__ import annotations

from pipeline.archive.store import SCHEMA_VERSION, Archive, StoredDocument, open_archive

__all__ = ["SCHEMA_VERSION", "Archive", "StoredDocument", "open_archive"]
