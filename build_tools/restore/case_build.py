"""The case model: how often the corpus writes each syllable capitalised where its place does not call for it."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from pipeline.restore.tokens import split_edges, word_case
from pipeline.vietnamese import is_valid, tone_key


def case_counts(documents: Iterable[tuple[Iterable[str], float]]) -> dict[str, tuple[float, float]]:
    """Per syllable (its tone key), the weighted count of its capitalised and of its lowercase uses in
    the places `tokens.word_case` says something about; `documents`: (lines, weight). Each line is a
    paragraph: its first word says nothing."""
    counts: dict[str, list[float]] = {}
    keys: dict[str, str | None] = {}
    for lines, weight in documents:
        for line in lines:
            previous: str | None = None
            for token in line.split():
                case = word_case(previous, token)
                previous = token
                if case is None:
                    continue
                lower = split_edges(token)[1].lower()
                if lower not in keys:
                    keys[lower] = tone_key(lower) if is_valid(lower) else None
                key = keys[lower]
                if key is None:
                    continue
                entry = counts.setdefault(key, [0.0, 0.0])
                entry[0 if case else 1] += weight
    return {k: (v[0], v[1]) for k, v in counts.items()}


def case_arrays(counts: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """The counts as arrays for the model file: words, capitalised, lowercase."""
    words = sorted(counts)
    return {
        "words": np.array(words),
        "capitalised": np.array([counts[w][0] for w in words], dtype=np.float32),
        "lowercase": np.array([counts[w][1] for w in words], dtype=np.float32),
    }
