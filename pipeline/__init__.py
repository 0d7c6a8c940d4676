"""congvan: digitize archived Vietnamese official dispatches (scan → OCR → restoration → records → archive)."""

from __future__ import annotations

__version__ = "0.1.0"
