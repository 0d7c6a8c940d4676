"""Tests of the n-gram LM: Kneser–Ney estimation, pruning to backoff form, packing and hash lookup."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.restore.lm import BITS, BOS_ID, EOS_ID, HashIndex, NgramModel
from pipeline.restore.lm_build import EncodedCorpus, UnitEncoder, build_lm, build_vocabulary

LINES = [
    "ủy ban nhân dân tỉnh lạng sơn",
    "ủy ban nhân dân huyện hữu lũng",
    "chủ tịch ủy ban nhân dân tỉnh",
    "xây dựng nông thôn mới",
    "chương trình xây dựng nông thôn mới",
    "nhân dân các xã xây dựng nông thôn",
] * 3


def _model(thresholds: tuple[int, int]) -> NgramModel:
    encoder = UnitEncoder()
    corpus = EncodedCorpus("toy", 1, encoder.encode_lines(LINES))
    vocabulary = build_vocabulary(encoder.units, [corpus])
    return NgramModel(build_lm([corpus], vocabulary, 3, thresholds))


def _distribution(model: NgramModel, context: tuple[str, str]) -> np.ndarray:
    u, v = (model.id_of(w) if w != "<s>" else BOS_ID for w in context)
    words = np.arange(len(model.words), dtype=np.int64)
    words = words[words != BOS_ID]
    keys = (np.int64(u) << (2 * BITS)) | (np.int64(v) << BITS) | words
    return np.exp(model.score(keys).astype(np.float64))


@pytest.mark.parametrize("thresholds", [(1, 1), (2, 6)])
@pytest.mark.parametrize(
    "context", [("ủy", "ban"), ("<s>", "<s>"), ("nông", "thôn"), ("tỉnh", "xã"), ("mới", "ủy")]
)
def test_restore_lm_distributions_sum_to_one(thresholds: tuple[int, int], context: tuple[str, str]) -> None:
    total = _distribution(_model(thresholds), context).sum()
    assert total == pytest.approx(1.0, abs=0.03)  # log-probabilities are quantised to 256 levels


def test_restore_lm_prefers_seen_continuations() -> None:
    model = _model((1, 1))
    probabilities = _distribution(model, ("nhân", "dân"))
    words = [w for i, w in enumerate(model.words) if i != BOS_ID]
    best = words[int(np.argmax(probabilities))]
    assert best in ("tỉnh", "huyện", "các")
    eos = _distribution(model, ("thôn", "mới"))[EOS_ID - 1]
    assert eos > 0.5


def test_restore_lm_hash_index_matches_binary_search() -> None:
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(0, 1 << 45, 50_000))
    payload = np.arange(len(keys)) % (1 << 16)
    index = HashIndex(keys, payload)
    queries = np.concatenate([keys[rng.integers(0, len(keys), 20_000)], rng.integers(0, 1 << 45, 20_000)])
    position = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    expected = np.where(keys[position] == queries, payload[position], -1)
    assert np.array_equal(index.find(queries), expected)
    empty = np.zeros(0, np.int64)
    assert np.array_equal(HashIndex(empty, empty).find(queries[:5]), np.full(5, -1))
