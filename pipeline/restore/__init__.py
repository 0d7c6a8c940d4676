"""Diacritic restoration of broken Vietnamese text (noisy channel + syllable n-gram LM): `restore_text`."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.types import Restoration

__all__ = ["restore_text"]


def restore_text(text: str, confidences: Sequence[float | None] | None = None) -> Restoration:
    """Repair the diacritics of `text` (OCR output or text typed without marks).

    `confidences` are OCR word confidences (0..100, None = unknown) aligned with `text.split()`; the
    result has one RestoredToken per `text.split()` token and the same lines as the input."""
    from pipeline.resources import current_resources

    return current_resources().restorer.restore(text, confidences)
