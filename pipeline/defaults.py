"""Defaults that the command line, the driver and the stages share, each written once."""

from __future__ import annotations

import os

# Seconds a page's OCR may run before Tesseract is killed (E201). Generous: a dense A3 page at 600 dpi on a
# busy machine takes about a minute.
PAGE_TIMEOUT_SECONDS = 180.0


def default_jobs() -> int:
    """Pages processed in parallel: one per CPU."""
    return os.cpu_count() or 1
