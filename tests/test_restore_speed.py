"""The restorer's speed-ups change no output: memoised readings serve every confidence bucket and
case of a token exactly as a cold lookup would, the hash index answers like a binary search at its
edges, and scripts/restore_identity.py reports any page that differs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from pipeline.restore.decode import Restorer
from pipeline.restore.lm import KEY_MASK, HashIndex
from pipeline.restore.models import load_models

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import restore_identity  # noqa: E402

# English-model OCR garblings, plain text and tone confusions, each read at several confidences
TEXTS = [
    "Ctia UBND tinh vé viéc tién d6 x4y dung nông thén méi",
    "Uy ban nhan dan xa hge tap trung chi dao",
    "Thực hiện Nghị quyết số 18/NQ-TW vê tinh gon bô máy",
]
CONFIDENCES = [None, [95.0], [40.0], [5.0]]


def _fresh() -> Restorer:
    models = load_models()
    return Restorer(models.lm, models.channels, models.readings, models.regimes)


def _confidences(text: str, value: list[float] | None) -> list[float | None] | None:
    return None if value is None else value * len(text.split())


def test_restore_speed_memoised_readings_match_cold_lookups() -> None:
    cold = _fresh()
    expected = {}
    for text in TEXTS:
        for value in CONFIDENCES:
            cold.clear_cache()
            expected[text, str(value)] = cold.restore(text, _confidences(text, value))
    warm = _fresh()
    # the same tokens met first in other buckets and other cases, then in the order above
    for text in TEXTS:
        for value in reversed(CONFIDENCES):
            warm.restore(text.upper(), _confidences(text, value))
    assert warm._readings_cache, "readings are memoised"
    for text in TEXTS:
        for value in CONFIDENCES:
            assert warm.restore(text, _confidences(text, value)) == expected[text, str(value)]
    warm.clear_cache()
    assert not warm._readings_cache and not warm._edited_cache


def test_restore_speed_hash_index_edges() -> None:
    """Keys up to just below the packed limit, and queries that look like an empty slot once masked
    (KEY_MASK) or lie beyond every key: found exactly where present."""
    rng = np.random.default_rng(11)
    keys = np.unique(np.concatenate([rng.integers(0, KEY_MASK, 20_000), [0, KEY_MASK - 1]]))
    payload = rng.integers(0, 1 << 16, len(keys))
    index = HashIndex(keys, payload)
    queries = np.concatenate([keys, [KEY_MASK, KEY_MASK + 1, 5], rng.integers(0, KEY_MASK, 5000)])
    position = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    expected = np.where(keys[position] == queries, payload[position], -1)
    assert np.array_equal(index.find(queries), expected)
    assert np.array_equal(index.find(queries[::-1].copy()), expected[::-1])  # any order, any stride


def test_restore_speed_identity_check_reports_differences() -> None:
    before = {"a": ["x y", "z"], "b": ["w"]}
    assert restore_identity.differences(before, {"a": ["x y", "z"], "b": ["w"]}) == []
    changed = restore_identity.differences(before, {"a": ["x y", "Z"], "c": ["w"]})
    assert changed == [
        "a: 1 of 2 pages differ (first: page [1])",
        "b: only in before",
        "c: only in after",
    ]
