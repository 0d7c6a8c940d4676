"""Tests of the decoder's search: n-gram Viterbi over a lattice of candidates (trigram and 4-gram)
against brute force."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest

from build_tools.restore.encode import EncodedCorpus, UnitEncoder
from build_tools.restore.lm_build import build_lm, build_vocabulary
from pipeline.restore.decode import Candidates, _Lattice, _Part, _Segment
from pipeline.restore.lm import BITS, BOS_ID, EOS_ID, NgramModel

LINES = [
    "ủy ban nhân dân tỉnh lạng sơn",
    "ủy ban nhân dân huyện hữu lũng",
    "chủ tịch ủy ban nhân dân tỉnh",
    "xây dựng nông thôn mới",
    "chương trình xây dựng nông thôn mới",
    "nhân dân các xã xây dựng nông thôn",
    "theo dõi chặt chẽ việc xây dựng",
] * 3
THRESHOLDS = {3: (1, 1), 4: (1, 1, 1)}


@pytest.fixture(scope="module", params=[3, 4])
def lm(request: pytest.FixtureRequest) -> NgramModel:
    encoder = UnitEncoder()
    corpus = EncodedCorpus("toy", 1, encoder.encode_lines(LINES))
    vocabulary = build_vocabulary(encoder.units, [corpus])
    order = request.param
    return NgramModel(build_lm([corpus], vocabulary, order, THRESHOLDS[order]))


def _segments(lm: NgramModel, rng: np.random.Generator) -> list[_Segment]:
    """Random segments: parts with 1–3 candidates among the LM's words, now and then a fixed unit."""
    words = np.arange(3, len(lm.words))
    segments = []
    for _ in range(int(rng.integers(1, 4))):
        positions: list[_Part | int] = []
        for _ in range(int(rng.integers(1, 6))):
            if rng.random() < 0.2:
                positions.append(int(rng.choice(words)))
                continue
            ids = rng.choice(words, size=int(rng.integers(1, 4)), replace=False).astype(np.int64)
            emit = rng.normal(-2.0, 2.0, len(ids)).astype(np.float32)
            positions.append(_Part("x", Candidates(ids, emit, tuple(None for _ in ids))))
        segments.append(_Segment(positions))
    return segments


def _path_score(lm: NgramModel, ids: list[int]) -> float:
    order = lm.order
    units = [BOS_ID] * (order - 1) + ids + [EOS_ID]
    total = 0.0
    for end in range(order - 1, len(units)):
        key = 0
        for unit in units[end - order + 1 : end + 1]:
            key = (key << BITS) | unit
        total += float(lm.score(np.array([key], dtype=np.int64), order)[0])
    return total


def _best_by_brute_force(lm: NgramModel, segment: _Segment) -> float:
    options = [
        [(int(i), float(e)) for i, e in zip(p.candidates.ids, p.candidates.emit, strict=True)]
        if isinstance(p, _Part)
        else [(p, 0.0)]
        for p in segment.positions
    ]
    return max(
        _path_score(lm, [i for i, _ in path]) + sum(e for _, e in path) for path in itertools.product(*options)
    )


@pytest.mark.parametrize("seed", range(12))
def test_restore_decode_viterbi_matches_brute_force(lm: NgramModel, seed: int) -> None:
    segments = _segments(lm, np.random.default_rng(seed))
    lattice = _Lattice.build(segments, lm.order)
    lattice.viterbi(lm, lm.order)
    lattice.assign()
    for segment in segments:
        chosen = [
            (int(p.candidates.ids[p.choice]), float(p.candidates.emit[p.choice])) if isinstance(p, _Part) else (p, 0.0)
            for p in segment.positions
        ]
        score = _path_score(lm, [i for i, _ in chosen]) + sum(e for _, e in chosen)
        assert score == pytest.approx(_best_by_brute_force(lm, segment), abs=1e-3)
    parts = [p for s in segments for p in s.positions if isinstance(p, _Part)]
    assert all(0.0 <= p.confidence <= 1.0 for p in parts)


def test_restore_decode_viterbi_works_on_live_states_only(lm: NgramModel) -> None:
    """One position with many candidates among hundreds with one does not make Viterbi work on every
    combination of that many at every position: its memory follows the live states."""
    words = np.arange(3, len(lm.words))
    wide = _Part("x", Candidates(words[:6].astype(np.int64), np.zeros(6, np.float32), (None,) * 6))
    positions: list[_Part | int] = [int(words[k % len(words)]) for k in range(1000)]
    positions[500] = wide
    lattice = _Lattice.build([_Segment(positions)], lm.order)
    tracemalloc.start()
    lattice.viterbi(lm, lm.order)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # half of a table padded to 6 candidates everywhere: 1000 × 6^n scores of 8 bytes
    assert peak < 1000 * 6**lm.order * 8 / 2
    lattice.assign()
    ranked = lm.score(_keys(lm, positions, 500, words[:6]), lm.order)
    assert int(wide.candidates.ids[wide.choice]) == int(words[:6][int(np.argmax(ranked))])


def test_restore_decode_viterbi_ties_go_to_the_first_candidate(lm: NgramModel) -> None:
    """A candidate repeated (same word, same score) ties with its copy everywhere: the first copy wins,
    as an argmax over a padded table keeps the first, and the two share the confidence."""
    for seed in range(6):
        segments = _segments(lm, np.random.default_rng(seed))
        for segment in segments:
            for k, p in enumerate(segment.positions):
                if isinstance(p, _Part):
                    ids, emit = p.candidates.ids, p.candidates.emit
                    copies = Candidates(np.r_[ids, ids], np.r_[emit, emit], (None,) * (2 * len(ids)))
                    segment.positions[k] = _Part("x", copies)
        lattice = _Lattice.build(segments, lm.order)
        lattice.viterbi(lm, lm.order)
        lattice.assign()
        for segment in segments:
            for p in segment.positions:
                if isinstance(p, _Part):
                    assert p.choice < len(p.candidates.ids) // 2
                    assert p.confidence <= 0.5 + 1e-9


def _keys(lm: NgramModel, positions: list[_Part | int], at: int, options: np.ndarray) -> np.ndarray:
    """The n-gram keys ending at `at` with each of `options` there (fixed units before it)."""
    keys = np.zeros(len(options), dtype=np.int64)
    for unit in positions[at - lm.order + 1 : at]:
        assert isinstance(unit, int)
        keys = (keys << BITS) | unit
    return (keys << BITS) | options.astype(np.int64)
