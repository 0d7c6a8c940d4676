"""Defaults that the command line, the driver and the stages share, each written once."""

from __future__ import annotations

import os
from pathlib import Path

# Seconds a page's OCR may run before Tesseract is killed (E201). Generous: a dense A3 page at 600 dpi on a
# busy machine takes about a minute.
PAGE_TIMEOUT_SECONDS = 180.0
# A value read apart with less than this share of the recognisers' votes is kept but listed for review.
REVIEW_BELOW = 0.6
# The most confidence a header field read apart holds when only a character's topology made its reading win
# (ocr._read_field): above ocr.MIN_FIELD_CONFIDENCE (0.34), the share a kept value needs, so that the value kept
# also passes that gate, and below REVIEW_BELOW, so that it is listed for review.
SHAPE_CHOSEN_CONFIDENCE = 0.5


def default_jobs() -> int:
    """Pages processed in parallel: one per CPU."""
    return os.cpu_count() or 1


def cache_dir() -> Path:
    """Where congvan keeps what it derives from its models to load them faster next time (the restoration
    LM's hash tables): $XDG_CACHE_HOME/congvan, else ~/.cache/congvan. Never needed: an unwritable one is
    skipped."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "congvan"
