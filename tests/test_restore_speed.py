"""The restorer's speed-ups change no output: memoised readings serve every confidence bucket and
case of a token exactly as a cold lookup would, the hash index answers like a binary search at its
edges, the LM's cached hash tables are read on later loads (not built) and score as built ones do,
and scripts/restore_identity.py reports any page that differs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from build_tools.restore.encode import EncodedCorpus, UnitEncoder
from build_tools.restore.lm_build import build_lm, build_vocabulary
from pipeline.restore import decode as decode_module
from pipeline.restore import lm as lm_module
from pipeline.restore.decode import Restorer, _settled
from pipeline.restore.lm import BITS, KEY_MASK, HashIndex, NgramModel
from pipeline.restore.models import load_models
from pipeline.restore.regimes import Evidence, Lexicon

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


def _toy_model_file(folder: Path) -> Path:
    lines = ["ủy ban nhân dân tỉnh lạng sơn", "xây dựng nông thôn mới", "nhân dân các xã xây dựng nông thôn"] * 3
    encoder = UnitEncoder()
    corpus = EncodedCorpus("toy", 1, encoder.encode_lines(lines))
    arrays = build_lm([corpus], build_vocabulary(encoder.units, [corpus]), 4, (1, 1, 1))
    path = folder / "lm.npz"
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    return path


def _all_scores(model: NgramModel) -> list[np.ndarray]:
    """Every n-gram over the model's first units, each order, with backoff."""
    ids = np.arange(min(len(model.words), 12), dtype=np.int64)
    keys = ids
    scores = []
    for n in range(2, model.order + 1):
        keys = (keys[:, None] << BITS | ids[None, :]).ravel()
        scores.append(model.score(keys, n))
    return scores


def test_restore_speed_lm_tables_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first load builds the hash tables and writes them under the cache (keyed by the model
    file's hash); a second load reads them without building any, and both score as a model that
    never saw a cache."""
    path = _toy_model_file(tmp_path)
    cache = tmp_path / "cache"
    built: list[int] = []
    real_build = lm_module.build_index

    def counted_build(arrays: Mapping[str, np.ndarray], n: int) -> HashIndex:
        built.append(n)
        return real_build(arrays, n)

    monkeypatch.setattr(lm_module, "build_index", counted_build)
    plain = NgramModel.load(path)
    assert built == [2, 3, 4]
    first = NgramModel.load(path, cache)
    assert built == [2, 3, 4] * 2
    (folder,) = cache.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"{name}{n}.npy" for name in ("slots", "table") for n in (2, 3, 4)), "payload4.npy"]
    )
    second = NgramModel.load(path, cache)
    assert built == [2, 3, 4] * 2, "a cached model builds no table"
    scores = zip(_all_scores(plain), _all_scores(first), _all_scores(second), strict=True)
    for expected, got_first, got_second in scores:
        assert np.array_equal(expected, got_first) and np.array_equal(expected, got_second)
    # another model file gets tables of its own
    other = tmp_path / "other.npz"
    with np.load(path) as data:
        np.savez_compressed(other, **{**{k: data[k] for k in data.files}, "uni_bo": data["uni_bo"] + 0.5})
    NgramModel.load(other, cache)
    assert len(list(cache.iterdir())) == 2 and built[-3:] == [2, 3, 4]


def test_restore_speed_lm_cache_pruned_of_what_no_load_reads(tmp_path: Path) -> None:
    """Writing a model's tables removes a killed writer's old temporary folder and tables of another
    table format; a live writer's fresh temporary folder and other model files' tables stay."""
    path = _toy_model_file(tmp_path)
    cache = tmp_path / "cache"
    kept = [cache / f"lm-{'0' * 32}-v{lm_module.TABLE_FORMAT}", cache / f".lm-{'1' * 32}-v1-fresh"]
    pruned = [cache / f"lm-{'2' * 32}-v{lm_module.TABLE_FORMAT + 1}", cache / f".lm-{'3' * 32}-v1-killed"]
    for folder in kept + pruned:
        folder.mkdir(parents=True)
        (folder / "table2.npy").write_bytes(b"x")
    old = time.time() - lm_module.STALE_WRITE_SECONDS - 60
    os.utime(pruned[1], (old, old))
    NgramModel.load(path, cache)
    assert all(folder.exists() for folder in kept)
    assert not any(folder.exists() for folder in pruned)
    assert len(list(cache.glob("lm-*"))) == 2  # the other model's tables and this model's


def test_restore_speed_lm_cache_unwritable(tmp_path: Path) -> None:
    """A cache that cannot be written (a read-only place) is skipped: the model loads all the same."""
    path = _toy_model_file(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = NgramModel.load(path, blocker / "cache")
    assert [len(s) for s in _all_scores(model)] == [len(s) for s in _all_scores(NgramModel.load(path))]
    assert not (blocker / "cache").exists()


def test_restore_speed_viterbi_skips_settled_segments() -> None:
    """Viterbi steps skip the segments (shortest first) whose state settled n − 1 steps after their
    </s>; segments out of order of length are never skipped."""
    lengths = np.array([4, 4, 6, 9])
    assert _settled(lengths, 3) == [0, 0, 0, 0, 0, 0, 2, 2, 3]
    assert _settled(lengths, 1) == [0, 0, 0, 0, 2, 2, 3, 3, 3]
    assert _settled(np.array([6, 4, 9]), 3) == [0] * 9


def test_restore_speed_skipping_settled_segments_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of many segments of different lengths restore to the same words and confidences whether
    or not the settled segments are skipped."""
    page = "\n".join(TEXTS * 3) + "\nUy ban nhan dan tinh. Ve viec trien khai. Cac so, ban, nganh thuc hien nghiem tuc."
    restorer = _fresh()
    skipped = restorer.restore(page)
    monkeypatch.setattr(decode_module, "_settled", lambda lengths, n: [0] * int(lengths.max()))
    restorer.clear_cache()
    everything = restorer.restore(page)
    assert skipped.text == everything.text
    assert [t.confidence for t in skipped.tokens] == [t.confidence for t in everything.tokens]


def test_restore_speed_word_evidence_memoised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The regime evidence of a word is worked out once per word, however often it recurs, and the
    lines' regimes come out as without the memo."""
    restorer = _fresh()
    page = "\n".join(TEXTS * 4)
    words = {core for text in TEXTS for core in text.split()}
    calls: list[str] = []
    real = decode_module.token_evidence

    def counted(core: str, lexicon: Lexicon) -> list[Evidence]:
        calls.append(core)
        return real(core, lexicon)

    monkeypatch.setattr(decode_module, "token_evidence", counted)
    restored = restorer.restore(page)
    assert len(calls) == len(set(calls)) <= len(words), "each word's evidence is worked out once"
    restorer.restore(page)
    assert len(calls) == len(set(calls)), "and not again for the next page"
    restorer.clear_cache()
    assert not restorer._evidence_cache
    assert restorer.restore(page).text == restored.text
