"""The archive: a store of processed documents (SQLite; the `ArchiveStore` interface for other backends),
search, task exports and searchable PDFs (works on records)."""

from __future__ import annotations

from pipeline.archive.store import ArchiveStore, StoredDocument, open_archive

__all__ = ["ArchiveStore", "StoredDocument", "open_archive"]
