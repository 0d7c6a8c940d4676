"""Evaluation: the metrics every benchmark reports (text error rates, field scores), kept apart from the stages."""

from __future__ import annotations
