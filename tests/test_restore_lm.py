"""Tests of the n-gram LM: Kneser–Ney estimation, pruning to backoff form, packing and hash lookup."""

from __future__ import annotations

import numpy as np
import pytest

from build_tools.restore.encode import EncodedCorpus, UnitEncoder
from build_tools.restore.lm_build import _interpolate, build_lm, build_vocabulary
from pipeline.restore.lm import BITS, BOS_ID, EOS_ID, HashIndex, NgramModel

LINES = [
    "ủy ban nhân dân tỉnh lạng sơn",
    "ủy ban nhân dân huyện hữu lũng",
    "chủ tịch ủy ban nhân dân tỉnh",
    "xây dựng nông thôn mới",
    "chương trình xây dựng nông thôn mới",
    "nhân dân các xã xây dựng nông thôn",
] * 3


def _model(thresholds: tuple[int, ...]) -> NgramModel:
    encoder = UnitEncoder()
    corpus = EncodedCorpus("toy", 1, encoder.encode_lines(LINES))
    vocabulary = build_vocabulary(encoder.units, [corpus])
    return NgramModel(build_lm([corpus], vocabulary, len(thresholds) + 1, thresholds))


def _distribution(model: NgramModel, context: tuple[str, ...]) -> np.ndarray:
    words = np.arange(len(model.words), dtype=np.int64)
    words = words[words != BOS_ID]
    keys = np.zeros(len(words), dtype=np.int64)
    for unit in context:
        keys = (keys << BITS) | np.int64(model.id_of(unit) if unit != "<s>" else BOS_ID)
    keys = (keys << BITS) | words
    return np.exp(model.score(keys, len(context) + 1).astype(np.float64))


@pytest.mark.parametrize("thresholds", [(1, 1), (2, 6), (1, 1, 1), (1, 2, 4)])
@pytest.mark.parametrize(
    "context",
    [("ủy", "ủy", "ban"), ("<s>", "<s>", "<s>"), ("xây", "nông", "thôn"), ("huyện", "tỉnh", "xã"), ("thôn", "mới", "ủy")],
)
def test_restore_lm_distributions_sum_to_one(thresholds: tuple[int, ...], context: tuple[str, ...]) -> None:
    total = _distribution(_model(thresholds), context[3 - len(thresholds) :]).sum()
    assert total == pytest.approx(1.0, abs=0.03)  # log-probabilities are quantised to 256 levels


def test_restore_lm_prefers_seen_continuations() -> None:
    model = _model((1, 1))
    probabilities = _distribution(model, ("nhân", "dân"))
    words = [w for i, w in enumerate(model.words) if i != BOS_ID]
    best = words[int(np.argmax(probabilities))]
    assert best in ("tỉnh", "huyện", "các")
    eos = _distribution(model, ("thôn", "mới"))[EOS_ID - 1]
    assert eos > 0.5


@pytest.mark.parametrize("bits", [45, 60])  # trigram keys share a slot with their payload; 4-gram keys do not
def test_restore_lm_hash_index_matches_binary_search(bits: int) -> None:
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(0, 1 << bits, 50_000))
    payload = np.arange(len(keys)) % (1 << 16)
    index = HashIndex(keys, payload)
    queries = np.concatenate([keys[rng.integers(0, len(keys), 20_000)], rng.integers(0, 1 << bits, 20_000)])
    position = np.minimum(np.searchsorted(keys, queries), len(keys) - 1)
    expected = np.where(keys[position] == queries, payload[position], -1)
    assert np.array_equal(index.find(queries), expected)
    empty = np.zeros(0, np.int64)
    assert np.array_equal(HashIndex(empty, empty).find(queries[:5]), np.full(5, -1))


def test_restore_lm_weighted_counts_keep_backoff_mass() -> None:
    """A context seen, in a corpus weighted 4, always with the same continuation still leaves mass to
    back off with: the discounts are those of occurrences, scaled by the weight."""
    rng = np.random.default_rng(3)
    contexts = np.arange(1, 4001, dtype=np.int64)
    words = rng.integers(1, 50, size=(4000, 3))
    keys = np.unique((np.repeat(contexts, 3) << BITS) | words.reshape(-1))
    occurrences = rng.geometric(0.45, size=len(keys)).astype(np.int64)  # most n-grams seen once or twice
    weights = rng.choice([1, 2, 4], size=len(keys))
    single = np.int64(5000) << BITS | 7  # a context of its own, one continuation, seen 6 times with weight 4
    keys = np.append(keys, single)
    occurrences = np.append(occurrences, 6)
    counts = occurrences * np.append(weights, 4)
    _, context_keys, gamma = _interpolate(keys, counts, np.full(len(keys), 0.01), occurrences)
    assert gamma[np.searchsorted(context_keys, single >> BITS)] > 0.05
