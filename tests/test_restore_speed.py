"""The restorer's speed-ups change no output: memoised readings serve every confidence bucket and
case of a token exactly as a cold lookup would, the hash index answers like a binary search at its
edges, the LM's cached hash tables are read on later loads (not built) and score as built ones do,
and scripts/restore_identity.py reports any page that differs."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numba
import numpy as np
import pytest

from build_tools.restore.encode import EncodedCorpus, UnitEncoder
from build_tools.restore.lm_build import build_lm, build_vocabulary
from pipeline.errors import MissingDependencyError
from pipeline.restore import decode as decode_module
from pipeline.restore import kernels
from pipeline.restore import lm as lm_module
from pipeline.restore.channel import MAX_ALPHA, confidence_bucket, prefix_set
from pipeline.restore.decode import Restorer, _settled
from pipeline.restore.lm import BITS, KEY_MASK, HashIndex, NgramModel
from pipeline.restore.models import get_restorer, load_models
from pipeline.restore.regimes import Evidence, Lexicon
from pipeline.vietnamese import VOWEL_LETTERS

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
    assert warm._written_cache and warm._identity_cache, "so are words as written and identity readings"
    assert warm._mixture_cache, "and the channels' readings of each word, mixed"
    for text in TEXTS:
        for value in CONFIDENCES:
            assert warm.restore(text, _confidences(text, value)) == expected[text, str(value)]
    warm.clear_cache()
    assert not warm._readings_cache and not warm._edited_cache
    assert not warm._written_cache and not warm._identity_cache and not warm._mixture_cache


def test_restore_speed_mixture_made_once_per_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """The channels' readings of a token are gathered once per word (and what its case decides),
    whatever confidence buckets and cases it comes in: the candidates of every bucket are made from
    that one mixture."""
    restorer = _fresh()
    made: list[tuple[object, ...]] = []
    real = restorer._make_mixture

    def counted(*args: object) -> object:
        made.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(restorer, "_make_mixture", counted)
    for text in TEXTS:
        for value in CONFIDENCES:
            restorer.restore(text, _confidences(text, value))
            restorer.restore(text.upper(), _confidences(text, value))
    assert made and len(made) == len(set(made)), "no word's mixture is made twice"
    buckets = {confidence_bucket(value[0] if value else None) for value in CONFIDENCES}
    served = max(len(m.by_bucket) for m in restorer._mixture_cache.values())
    assert served == len(buckets) > 1, "one mixture serves every bucket of its word"


def test_restore_speed_search_space_precomputed() -> None:
    """The backward search's steps are table lookups built at load: every prefix one intended piece
    (one or two letters) past another, and the vowel letters that may follow each prefix in
    VOWEL_LETTERS order, exactly as string concatenation and a prefix set would give them; a cold
    pass (clear_cache) keeps them."""
    restorer = get_restorer()
    space = restorer.search_space
    prefixes = prefix_set(space.words)
    parents = prefixes | {""}
    # sound: each entry is its parent and piece joined, a prefix; complete: each prefix is there
    assert all(
        parent in parents and 1 <= len(piece) <= MAX_ALPHA and child == parent + piece and child in prefixes
        for parent, kids in space.children.items()
        for piece, child in kids.items()
    )
    assert all(
        space.children[q[:-size]][q[-size:]] == q for q in prefixes for size in range(1, min(MAX_ALPHA, len(q)) + 1)
    )
    expected_vowels = {p: tuple(p + v for v in VOWEL_LETTERS if p + v in prefixes) for p in parents}
    assert space.vowels_after == {p: v for p, v in expected_vowels.items() if v}
    tables = space.children, space.vowels_after
    restorer.clear_cache()
    assert (space.children, space.vowels_after) == tables


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
    lines = [
        "ủy ban nhân dân tỉnh lạng sơn",
        "xây dựng nông thôn mới",
        "nhân dân các xã xây dựng nông thôn",
    ] * 3
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
    built = _counting_builds(monkeypatch)
    plain = NgramModel.load(path)
    assert built == [2, 3, 4]
    first = NgramModel.load(path, cache)
    assert built == [2, 3, 4] * 2
    (folder,) = cache.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"{name}{n}.npy" for name in ("slots", "table") for n in (2, 3, 4)), "payload4.npy", "checksum.npy"]
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


def _counting_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    built: list[int] = []
    real_build = lm_module.build_index

    def counted_build(arrays: Mapping[str, np.ndarray], n: int) -> HashIndex:
        built.append(n)
        return real_build(arrays, n)

    monkeypatch.setattr(lm_module, "build_index", counted_build)
    return built


def _overflowing(table: np.ndarray) -> np.ndarray:
    """A packed table whose last slot is no longer empty: a probe there would run past the end."""
    table = table.copy()
    table[-1] = 7
    return table


def _bad_code(table: np.ndarray) -> np.ndarray:
    """A packed table with one payload's backoff code beyond the codebook."""
    table = table.copy()
    slot = int(np.flatnonzero(table >= 0)[0])
    table[slot] = (table[slot] & KEY_MASK) | (np.int64(0xFFFF) << kernels.PAYLOAD_SHIFT)
    return table


@pytest.mark.parametrize(
    "damage",
    [
        "flipped bit",  # the checksum catches it
        "truncated file",
        "empty file",  # (numpy raises EOFError)
        "missing checksum",
        "garbage checksum",
        "overflowing table",  # damage written with a matching checksum: the range checks catch it
        "payload code out of range",
    ],
)
def test_restore_speed_damaged_lm_cache_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """A damaged cache of the LM's hash tables is never used: the next load builds the tables again,
    scores as a model that never saw a cache, and writes a sound copy in its place."""
    path = _toy_model_file(tmp_path)
    cache = tmp_path / "cache"
    built = _counting_builds(monkeypatch)
    expected = _all_scores(NgramModel.load(path))
    NgramModel.load(path, cache)
    (folder,) = cache.iterdir()
    table = folder / "table2.npy"
    if damage == "flipped bit":  # in a key: the tables still fit, the checksum no longer matches
        keys = np.load(table)
        keys[int(np.flatnonzero(keys >= 0)[0])] ^= 1
        np.save(table, keys)
    elif damage == "truncated file":
        table.write_bytes(table.read_bytes()[:-100])
    elif damage == "empty file":
        table.write_bytes(b"")
    elif damage == "missing checksum":
        (folder / "checksum.npy").unlink()
    elif damage == "garbage checksum":
        np.save(folder / "checksum.npy", np.array("not a number"))
    else:
        arrays = {p.stem: np.load(p) for p in folder.glob("*.npy") if p.stem != "checksum"}
        arrays["table2"] = (_overflowing if damage == "overflowing table" else _bad_code)(arrays["table2"])
        np.save(table, arrays["table2"])
        np.save(folder / "checksum.npy", np.array(lm_module._checksum(arrays), dtype=np.int64))
    del built[:]
    rebuilt = NgramModel.load(path, cache)
    assert built == [2, 3, 4], "the damaged tables are built again"
    for want, got in zip(expected, _all_scores(rebuilt), strict=True):
        assert np.array_equal(want, got)
    NgramModel.load(path, cache)
    assert built == [2, 3, 4], "and the copy written in place of the damaged one is read"


def test_restore_speed_damaged_model_leaves_lm_cache_alone(tmp_path: Path) -> None:
    """A model file whose own tables do not fit is refused before the cache is touched: no tables are
    written for it."""
    path = _toy_model_file(tmp_path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    np.savez_compressed(path, **{**arrays, "uni_bo": arrays["uni_bo"][:-1]})  # type: ignore[arg-type]
    cache = tmp_path / "cache"
    with pytest.raises(MissingDependencyError):
        NgramModel.load(path, cache)
    assert not any(cache.glob("lm-*")), "no tables cached for a damaged model"


def test_restore_speed_tables_checked_at_load(tmp_path: Path) -> None:
    """What the compiled loops index without bounds checks is checked once, at load: a model whose
    tables or codebooks do not fit is refused (never scored with), keys of a unit id beyond the
    vocabulary score as <unk>, and keys longer than asked for are refused."""
    path = _toy_model_file(tmp_path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    model = NgramModel(arrays)
    for damaged in (
        {"lpq2": arrays["lpq2"][:1]},  # log-probability codes beyond the codebook
        {"boq2": arrays["boq2"][:1]},  # backoff codes beyond theirs
        {"uni_bo": arrays["uni_bo"][:-1]},
    ):
        with pytest.raises(MissingDependencyError):
            NgramModel({**arrays, **damaged})
    indexes = {n: order.index for n, order in model.orders.items()}
    indexes[2] = HashIndex.stored(int(indexes[2].slots), _overflowing(indexes[2].table), None)
    with pytest.raises(MissingDependencyError):
        NgramModel(arrays, indexes)
    vocabulary = len(model.words)
    beyond = np.array([vocabulary, (1 << BITS) - 1], dtype=np.int64)
    unknown = np.full(2, lm_module.UNK_ID, dtype=np.int64)
    for n in range(1, model.order + 1):
        assert np.array_equal(model.score(beyond, n), model.score(unknown, n))
    with pytest.raises(ValueError):
        model.score(np.array([1 << (2 * BITS)], dtype=np.int64), 2)
    with pytest.raises(ValueError):
        model.score(np.array([-1], dtype=np.int64), 2)
    with pytest.raises(ValueError):
        model.score(unknown, model.order + 1)


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
    page = (
        "\n".join(TEXTS * 3)
        + "\nUy ban nhan dan tinh. Ve viec trien khai. Cac so, ban, nganh thuc hien nghiem tuc."
    )
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


def _numpy_find(index: HashIndex, queries: np.ndarray) -> np.ndarray:
    """The hash lookup as whole-array passes (the code the compiled loop replaced)."""
    position = index._home(queries)
    payload = np.full(len(queries), -1, dtype=np.int64)
    active = np.arange(len(queries))
    while len(active):
        found = index.table[position]
        wanted = queries[active]
        if index.payload is None:
            hit = (found & KEY_MASK) == wanted
            payload[active[hit]] = found[hit] >> lm_module.PAYLOAD_SHIFT
        else:
            hit = found == wanted
            payload[active[hit]] = index.payload[position[hit]]
        going = ~(hit | (found == -1))
        active, position = active[going], position[going] + 1
    return payload


def _numpy_score(model: NgramModel, keys: np.ndarray, n: int) -> np.ndarray:
    """Backoff scoring as whole-array passes per order (the code the compiled loop replaced)."""
    if n == 1:
        return model.uni_logp[keys]
    table = model.orders[n]
    payload = _numpy_find(table.index, keys)
    hit = payload >= 0
    result = np.empty(len(keys), dtype=np.float32)
    result[hit] = table.logp[payload[hit] & 0xFF]
    miss = np.flatnonzero(~hit)
    missed = keys[miss]
    lower = _numpy_score(model, missed & ((1 << (BITS * (n - 1))) - 1), n - 1)
    contexts = missed >> BITS
    if n - 1 == 1:
        backoff = model.uni_bo[contexts]
    elif model.orders[n - 1].backoff is None:
        backoff = np.zeros(len(contexts), dtype=np.float32)
    else:
        found = _numpy_find(model.orders[n - 1].index, contexts)
        backoff = np.where(found >= 0, model.orders[n - 1].backoff[found >> 8], np.float32(0.0))  # type: ignore[index]
    result[miss] = lower + backoff.astype(np.float32)
    return result


def test_restore_speed_compiled_lm_scores_as_whole_array_code(tmp_path: Path) -> None:
    """The compiled lookup and backoff scoring give, to the last bit, what the whole-array numpy passes
    gave: on the toy model's n-grams of every order (hits, misses, backoffs) and on the real model's
    n-grams of frequent and rare units."""
    toy = NgramModel.load(_toy_model_file(tmp_path))
    ids = np.arange(min(len(toy.words), 12), dtype=np.int64)
    keys = ids
    for n in range(2, toy.order + 1):
        keys = (keys[:, None] << BITS | ids[None, :]).ravel()
        assert np.array_equal(toy.score(keys, n), _numpy_score(toy, keys, n))
    real = load_models().lm
    rng = np.random.default_rng(5)
    units = np.concatenate([np.arange(200), rng.integers(0, len(real.words), 200)]).astype(np.int64)
    for n in range(2, real.order + 1):
        keys = np.zeros(5000, dtype=np.int64)
        for _ in range(n):
            keys = keys << BITS | rng.choice(units, 5000)
        assert np.array_equal(real.score(keys, n), _numpy_score(real, keys, n))
        assert np.array_equal(real.orders[n].index.find(keys), _numpy_find(real.orders[n].index, keys))


_PURE_PYTHON_PROBE = """
import sys
import numpy as np
from pipeline.restore.lm import BITS, NgramModel
toy = NgramModel.load(sys.argv[1])
ids = np.arange(min(len(toy.words), 12), dtype=np.int64)
keys = ids
scores = {}
for n in range(2, toy.order + 1):
    keys = (keys[:, None] << BITS | ids[None, :]).ravel()
    scores[str(n)] = toy.score(keys, n)
np.savez(sys.argv[2], **scores)
"""


def test_restore_speed_lm_scores_without_compiling(tmp_path: Path) -> None:
    """With numba's compiler off (NUMBA_DISABLE_JIT=1, to debug the loops as Python) the LM scores as
    the whole-array code does: the prefetch hint, which only compiled code can give, is skipped."""
    toy_file = _toy_model_file(tmp_path)
    subprocess.run(
        [sys.executable, "-c", _PURE_PYTHON_PROBE, str(toy_file), str(tmp_path / "scores.npz")],
        env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    toy = NgramModel.load(toy_file)
    scores = np.load(tmp_path / "scores.npz")
    ids = np.arange(min(len(toy.words), 12), dtype=np.int64)
    keys = ids
    for n in range(2, toy.order + 1):
        keys = (keys[:, None] << BITS | ids[None, :]).ravel()
        assert np.array_equal(scores[str(n)], _numpy_score(toy, keys, n))


_PREFETCH_PROBE = """
import numba
import numpy as np
from pipeline.restore import kernels
from pipeline.restore.models import load_models
fresh = numba.njit(kernels.score_keys.py_func)  # compiled anew: cached code shows no LLVM IR
model = load_models().lm
fresh(np.arange(40, dtype=np.int64), model.order, *model._kernel_tables)
print(any("llvm.prefetch" in code for code in fresh.inspect_llvm().values()))
"""


def test_restore_speed_lm_lookups_prefetched() -> None:
    """The compiled LM lookup asks memory for the hash slots of the keys ahead of the one it probes
    (the tables exceed the CPU's caches): its code holds LLVM prefetches, and it scores as before
    (see the test above). (Compiled in a process of its own: numba's compiler leaves objects behind.)"""
    done = subprocess.run(
        [sys.executable, "-c", _PREFETCH_PROBE],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.split() == ["True"]


def test_restore_speed_compiled_recursions_as_numpy_steps() -> None:
    """The compiled Viterbi, pruning and back-tracking loops give what the numpy round trips per step
    gave, ties (many equal and −inf scores) broken alike, on the first of equal maxima."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        n_states, width = int(rng.integers(5, 60)), int(rng.integers(1, 5))
        bounds = np.unique(np.r_[0, rng.integers(1, n_states, 4), n_states])
        # a state comes from a state of an earlier step, or from none (the state `n_states`, −inf)
        came = np.full((n_states, width), n_states)
        for lo, hi in itertools.pairwise(bounds):
            came[lo:hi] = np.where(
                rng.random((hi - lo, width)) < 0.2, n_states, rng.integers(0, max(lo, 1), (hi - lo, width))
            )
        step_score = rng.choice([-np.inf, -1.0, -2.0, 0.0], (n_states, width))
        best = np.r_[rng.choice([-np.inf, -1.0, 0.0], n_states), -np.inf]
        expected_best, expected_back = best.copy(), np.zeros(n_states, dtype=np.intp)
        for lo, hi in itertools.pairwise(bounds[1:]):  # the first step stays as given
            total = expected_best[came[lo:hi]] + step_score[lo:hi]
            expected_back[lo:hi] = total.argmax(axis=1)
            expected_best[lo:hi] = total.max(axis=1)
        back = np.zeros(n_states, dtype=np.intp)
        kernels.viterbi_steps(best, came, step_score, back, bounds, 1)
        assert np.array_equal(best, expected_best) and np.array_equal(back, expected_back)

        steps, segments, rows = int(rng.integers(2, 8)), int(rng.integers(1, 5)), int(rng.integers(4, 30))
        pair = rng.choice([-np.inf, -1.0, -3.0, 0.0], (rows, width, width))
        starts = np.sort(rng.integers(0, rows, segments))
        settled = np.sort(rng.integers(0, segments + 1, steps))
        forward = np.full((steps, segments, width), -np.inf)
        forward[0, :, 0] = 0.0
        expected_forward, expected_pred = forward.copy(), np.zeros((steps, segments, width), dtype=np.intp)
        for i in range(1, steps):
            first = settled[i]
            total = expected_forward[i - 1, first:, :, None] + pair[np.minimum(starts[first:] + i, rows - 1)]
            expected_pred[i, first:] = total.argmax(axis=1)
            expected_forward[i, first:] = total.max(axis=1)
        predecessor = np.zeros((steps, segments, width), dtype=np.intp)
        kernels.bigram_steps(forward, predecessor, pair, starts, settled)
        assert np.array_equal(forward, expected_forward) and np.array_equal(predecessor, expected_pred)

        lengths = rng.integers(2, 9, segments)
        seg_starts = np.r_[0, np.cumsum(lengths)[:-1]]
        came_from = rng.integers(0, 40, 40)
        newest = rng.integers(0, 4, 40)
        current = rng.integers(0, 40, segments)
        expected_choice = np.zeros(int(lengths.sum()), dtype=np.int64)
        state = current.copy()
        for i in range(int(lengths.max()) - 1, 0, -1):
            going = np.flatnonzero(lengths > i)
            expected_choice[seg_starts[going] + i] = newest[state[going]]
            state[going] = came_from[state[going]]
        choice = np.zeros(int(lengths.sum()), dtype=np.int64)
        kernels.backtrack(current, came_from, newest, seg_starts, lengths, 1, choice)
        assert np.array_equal(choice, expected_choice)


def _numpy_links(counts: np.ndarray, segment: np.ndarray, span: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """`_Lattice._links` as whole-array passes (the code `kernels.links` replaced)."""
    n = len(counts)
    ends = np.arange(span - 1, n)
    ends = ends[segment[ends] == segment[ends - span + 1]]
    sizes = np.ones(len(ends), dtype=np.int64)
    for back in range(span):
        sizes *= counts[ends - back]
    owner = np.repeat(ends, sizes)
    local = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    offsets = np.cumsum(counts) - counts
    members: list[np.ndarray] = []
    for back in range(span):
        position = owner - back
        members.append(offsets[position] + local % counts[position])
        local = local // counts[position]
    return owner, members[::-1]


def _numpy_local_scores(
    decided: np.ndarray,
    within: np.ndarray,
    lengths: np.ndarray,
    segment: np.ndarray,
    counts: np.ndarray,
    choice: np.ndarray,
    link_start: np.ndarray,
    link_score: np.ndarray,
    n: int,
    k: int,
) -> np.ndarray:
    """The local posterior's scores of `_Lattice.viterbi` as whole-array passes (the code
    `kernels.local_scores` replaced)."""
    candidate = np.arange(k)
    local = np.zeros((len(decided), k))
    valid = candidate[None, :] < counts[decided][:, None]
    for t in range(n):
        inside = within[decided] + t < lengths[segment[decided]]
        end = np.where(inside, decided + t, decided)
        gram = end[:, None] + np.arange(1 - n, 1)
        stride = np.ones((len(decided), n), dtype=np.int64)
        stride[:, :-1] = np.cumprod(counts[gram][:, :0:-1], axis=1)[:, ::-1]
        held = choice[gram] * stride
        free = n - 1 - t
        link = held.sum(axis=1) - held[:, free] + link_start[end]
        link = link[:, None] + candidate[None, :] * stride[:, free][:, None]
        term = np.where(valid, link_score[np.where(valid & inside[:, None], link, 0)], -np.inf)
        local += np.where(inside[:, None], term, 0.0)
    return local


def test_restore_speed_compiled_lattice_set_up_as_numpy() -> None:
    """The compiled combinations of consecutive positions and local posterior scores give, to the
    last bit, what the whole-array numpy code gave: on random lattices of many segments, with equal,
    −inf and missing candidates."""
    rng = np.random.default_rng(7)
    for _ in range(30):
        segments = int(rng.integers(1, 6))
        lengths = rng.integers(1, 9, segments) + 3  # framed by <s> <s> … </s>
        segment = np.repeat(np.arange(segments), lengths)
        counts = rng.integers(1, 5, len(segment)).astype(np.int64)
        offsets = np.cumsum(counts) - counts
        for span in (2, 3, 4):
            owner, members = kernels.links(counts, segment, offsets, span)
            expected_owner, expected_members = _numpy_links(counts, segment, span)
            assert np.array_equal(owner, expected_owner)
            assert np.array_equal(members, np.array(expected_members).reshape(span, -1))
            starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
            within = np.arange(len(segment)) - starts[segment]
            link_start = np.searchsorted(owner, np.arange(len(segment)))
            link_score = rng.choice([-np.inf, -1.0, -2.5, 0.0, -0.3], len(owner))
            choice = np.array([rng.integers(0, c) for c in counts], dtype=np.int64)
            decided = np.flatnonzero(within >= span - 1)
            k = int(counts.max())
            got = kernels.local_scores(
                decided, within, lengths[segment], counts, choice, link_start, link_score, span, k
            )
            expected = _numpy_local_scores(
                decided, within, lengths, segment, counts, choice, link_start, link_score, span, k
            )
            assert np.array_equal(got, expected)


def test_restore_speed_decoding_runs_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restoring a page scores the LM, prunes, decodes and back-tracks through the compiled loops."""
    called: list[str] = []
    kernel_names = ("score_keys", "viterbi_steps", "bigram_steps", "backtrack", "links", "local_scores")
    for name in kernel_names:
        real = getattr(kernels, name)

        def counted(*args: object, _real: object = real, _name: str = name) -> object:
            called.append(_name)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(kernels, name, counted)
        assert isinstance(real, numba.core.registry.CPUDispatcher)
    _fresh().restore("\n".join(TEXTS))
    assert set(called) == set(kernel_names)


_CACHE_PROBE = """
import os, sys
import numpy as np
from pipeline.restore import kernels
import pipeline.restore.models  # importing the restorer creates no cache folder
print(os.path.exists(sys.argv[1]))
cached = kernels.prepare()
came = np.zeros((3, 2), dtype=np.int64)
kernels.viterbi_steps(np.zeros(4), came, np.zeros((3, 2)), np.zeros(3, dtype=np.intp), np.array([0, 1, 3]), 1)
stats = kernels.viterbi_steps.stats
print(cached, sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def _probe(environment: dict[str, str], folder: Path | str, *, numba_first: bool = False) -> list[str]:
    """In a new process: whether the cache `folder` exists after importing the restorer, whether
    `kernels.prepare` caches compiled code, and the kernel's cache hits and misses."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    done = subprocess.run(
        [sys.executable, "-c", ("import numba\n" if numba_first else "") + _CACHE_PROBE, str(folder)],
        env={**env, **environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout.split()


def test_restore_speed_compiled_code_cached_for_next_process(tmp_path: Path) -> None:
    """Importing the restorer creates no cache folder; the first process that runs the loops makes it,
    compiles them and caches the code there; the next one loads it from there instead of compiling.
    Where that folder cannot be made or written (a read-only place), the loops compile in every
    process and work all the same, and nothing is written there."""
    home = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    folder = tmp_path / "cache" / "congvan" / "numba"
    assert _probe(home, folder) == ["False", "True", "0", "1"]
    assert list(folder.rglob("kernels.viterbi_steps-*.nbi"))
    assert _probe(home, folder) == ["True", "True", "1", "0"], "the second process compiles nothing"
    # a caller that imported numba before the loops: still the user's cache
    early = tmp_path / "early" / "congvan" / "numba"
    assert _probe({"XDG_CACHE_HOME": str(tmp_path / "early")}, early, numba_first=True) == ["False", "True", "0", "1"]
    assert list(early.rglob("kernels.viterbi_steps-*.nbi"))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _probe({"XDG_CACHE_HOME": str(blocker)}, blocker) == ["True", "False", "0", "1"], "compiled, not cached"
    # a read-only file system (procfs): no folder can be made there
    read_only = "/proc/self/congvan-numba"
    assert _probe({"NUMBA_CACHE_DIR": read_only}, read_only) == ["False", "False", "0", "1"]
    assert not list((ROOT / "pipeline" / "restore").glob("__pycache__/kernels.*.nbi")), "nothing in the source tree"
