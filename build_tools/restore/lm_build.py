"""Training of the syllable n-gram LM: corpus encoding, counting, interpolated modified Kneser–Ney, pruning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.restore.lm import ABBR_ID, BITS, BOS_ID, EOS_ID, SPECIALS, UNK_ID, SpellingModel, pack_model
from pipeline.restore.syllables import MARKED_LETTERS, could_be_syllable, is_valid, place_tone, tone_key
from pipeline.restore.tokens import is_caps_word, line_units

MIN_SYLLABLE_COUNT = 2  # weighted count a syllable needs to enter the vocabulary (drops one-off typos)
MIN_OTHER_COUNT = 40  # weighted count a non-syllable unit (abbreviation, foreign word) needs


@dataclass
class EncodedCorpus:
    """Lines of one corpus file as unit ids: each line is <s> <s> <s> units… </s>."""

    name: str
    weight: int
    ids: np.ndarray  # int32, provisional ids (index into `units`)


def is_unmarked_line(line: str) -> bool:
    """A line of several syllable-like words almost none of which carries a mark: Vietnamese typed
    without diacritics (file names, slugs) or English. Training on it would teach the LM that
    unmarked spellings are normal, so such lines are left out."""
    words = [w.lower() for w in line.split() if w.isalpha()]
    syllables = [w for w in words if any(c in MARKED_LETTERS for c in w) or could_be_syllable(w)]
    if len(syllables) < 4:
        return False
    marked = sum(any(c in MARKED_LETTERS for c in w) for w in syllables)
    return marked < 0.2 * len(syllables)


PAD = 3  # <s> tokens before every line: enough context padding for models up to 4-grams
_PADDING = [BOS_ID] * PAD


class UnitEncoder:
    """Gives every distinct unit string a provisional id while the corpus is read."""

    def __init__(self, units: Sequence[str] = SPECIALS) -> None:
        """`units`: ids given already (a cached encoding to continue), starting with the specials."""
        self.units: list[str] = list(units)
        self.index: dict[str, int] = {unit: i for i, unit in enumerate(self.units)}
        self._token_cache: dict[tuple[str, bool], tuple[str, ...]] = {}

    def encode_lines(self, lines: Iterable[str]) -> np.ndarray:
        out: list[int] = []
        index = self.index
        for line in lines:
            if is_unmarked_line(line):
                continue
            out.extend(_PADDING)
            for unit in line_units(line, self._token_cache):
                unit_id = index.get(unit)
                if unit_id is None:
                    unit_id = index[unit] = len(self.units)
                    self.units.append(unit)
                out.append(unit_id)
            out.append(EOS_ID)
        return np.asarray(out, dtype=np.int32)


@dataclass
class Vocabulary:
    """Final LM vocabulary: specials, then syllables (one entry per tone key), then other units."""

    words: list[str]  # the surface form the restorer writes
    is_syllable: np.ndarray  # bool per id
    remap: np.ndarray  # provisional id → final id
    spelling: SpellingModel  # how the words the LM calls <unk> are spelt


def build_vocabulary(units: Sequence[str], corpora: Sequence[EncodedCorpus]) -> Vocabulary:
    """Choose the vocabulary from weighted unit counts and map provisional ids onto it."""
    weighted = np.zeros(len(units), dtype=np.int64)
    for corpus in corpora:
        weighted += np.bincount(corpus.ids, minlength=len(units)).astype(np.int64) * corpus.weight
    key_total: Counter[str] = Counter()
    for unit_id, unit in enumerate(units):
        if unit_id >= len(SPECIALS) and is_valid(unit):
            key_total[tone_key(unit)] += int(weighted[unit_id])
    syllable_keys = sorted(
        (k for k, c in key_total.items() if c >= MIN_SYLLABLE_COUNT), key=lambda k: (-key_total[k], k)
    )
    others = sorted(
        u
        for i, u in enumerate(units)
        if i >= len(SPECIALS)
        and not is_valid(u)
        and weighted[i] >= MIN_OTHER_COUNT
        and not _stripped_syllable(u)
    )
    # the restorer writes the traditional tone placement (hòa, thủy), as in Decree 30's templates
    words = list(SPECIALS) + [place_tone(k[:-1], int(k[-1])) for k in syllable_keys] + others
    if len(words) >= 1 << BITS:
        raise ValueError(f"vocabulary of {len(words)} units does not fit in {BITS} bits")
    final_index = {w: i for i, w in enumerate(words)}
    key_index = {k: len(SPECIALS) + i for i, k in enumerate(syllable_keys)}
    remap = np.full(len(units), UNK_ID, dtype=np.int32)
    for unit_id, unit in enumerate(units):
        if unit_id < len(SPECIALS):
            remap[unit_id] = unit_id
        elif is_valid(unit):
            remap[unit_id] = key_index.get(tone_key(unit), UNK_ID)
        else:
            remap[unit_id] = final_index.get(unit, ABBR_ID if is_caps_word(unit) else UNK_ID)
    is_syllable = np.zeros(len(words), dtype=bool)
    is_syllable[len(SPECIALS) : len(SPECIALS) + len(syllable_keys)] = True
    unknown = [
        (u, int(weighted[i])) for i, u in enumerate(units) if i >= len(SPECIALS) and remap[i] == UNK_ID
    ]
    return Vocabulary(words, is_syllable, remap, SpellingModel.estimate(unknown))


def _stripped_syllable(unit: str) -> bool:
    """A Vietnamese syllable written without its marks (text typed without diacritics in the corpus):
    it must not become a word of its own, or the restorer would keep such spellings."""
    return unit.isascii() and unit.isalpha() and could_be_syllable(unit.lower())


def count_ngrams(ids: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted packed n-gram keys and their counts; n-grams ending in <s> (line joins) are skipped."""
    ids = ids.astype(np.int64)
    n = len(ids) - order + 1
    if n <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.zeros(n, dtype=np.int64)
    for offset in range(order):
        keys = (keys << BITS) | ids[offset : offset + n]
    keep = ids[order - 1 :] != BOS_ID
    unique, counts = np.unique(keys[keep], return_counts=True)
    return unique, counts.astype(np.int64)


def merge_counts(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum counts of the same keys over several (keys, counts) tables."""
    keys = np.concatenate([p[0] for p in parts])
    counts = np.concatenate([p[1] for p in parts])
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique, np.bincount(inverse, weights=counts, minlength=len(unique)).astype(np.int64)


def discounts(counts: np.ndarray) -> np.ndarray:
    """Modified Kneser–Ney discounts D(0)=0, D(1), D(2), D(3+) from counts of counts (Chen & Goodman)."""
    n = [int(np.count_nonzero(counts == k)) for k in (1, 2, 3, 4)]
    if min(n) == 0:
        return np.array([0.0, 0.5, 1.0, 1.5])
    y = n[0] / (n[0] + 2 * n[1])
    d = [0.0, 1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
    return np.clip(np.array(d), 0.0, None)


def _group_starts(context: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[True, context[1:] != context[:-1]])


@dataclass
class _Level:
    keys: np.ndarray  # sorted packed n-grams
    prob: np.ndarray  # interpolated probability (full model)
    counts: np.ndarray  # counts used at this level (raw at the top, continuation below)


def _interpolate(
    keys: np.ndarray, counts: np.ndarray, lower: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolated KN probabilities of `keys` given each key's lower-order probability `lower`.

    Returns (probabilities, context keys, backoff mass γ per context)."""
    d = discounts(counts)
    context = keys >> BITS
    starts = _group_starts(context)
    group = np.cumsum(np.r_[False, context[1:] != context[:-1]])
    total = np.add.reduceat(counts.astype(np.float64), starts)
    disc = d[np.minimum(counts, 3)]
    mass = np.add.reduceat(disc, starts)
    gamma = mass / total
    prob = (counts - disc) / total[group] + gamma[group] * lower
    return prob, context[starts], gamma


def _lookup(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray, default: float) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.full(len(queries), default)
    index = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return np.where(sorted_keys[index] == queries, values[index], default)


def estimate_kneser_ney(
    top_keys: np.ndarray, top_counts: np.ndarray, order: int, vocab_size: int
) -> list[_Level]:
    """Interpolated modified Kneser–Ney for every order 1..`order` from the top-order counts.

    Lower orders use continuation counts (distinct left extensions), except n-grams starting with
    <s>, which have no left context and keep the counts of their top-order padding."""
    counts_by_order: dict[int, tuple[np.ndarray, np.ndarray]] = {order: (top_keys, top_counts)}
    keys, counts = top_keys, top_counts
    for n in range(order - 1, 0, -1):
        suffix = keys & ((1 << (BITS * n)) - 1)
        lower_keys, continuation = np.unique(suffix, return_counts=True)
        continuation = continuation.astype(np.int64)
        if n > 1:
            # an n-gram starting with <s> has no left context: it keeps the count of its <s>-padded form
            starts_bos = (lower_keys >> (BITS * (n - 1))) == BOS_ID
            if starts_bos.any():
                pad = np.int64(0)
                for k in range(order - n):
                    pad |= np.int64(BOS_ID) << np.int64(BITS * (n + k))
                padded_counts = _lookup(top_keys, top_counts, lower_keys[starts_bos] | pad, 0)
                continuation[starts_bos] = np.maximum(padded_counts.astype(np.int64), 1)
        counts_by_order[n] = (lower_keys, continuation)
        keys, counts = lower_keys, continuation
    # unigrams: discounted continuation counts interpolated with the uniform distribution
    uni_keys, uni_counts = counts_by_order[1]
    d1 = discounts(uni_counts)
    unigram = np.zeros(vocab_size)
    unigram[uni_keys] = uni_counts - d1[np.minimum(uni_counts, 3)]
    total = uni_counts.sum()
    leftover = d1[np.minimum(uni_counts, 3)].sum()
    unigram = unigram / total + leftover / total / (vocab_size - 1)
    unigram[BOS_ID] = 0.0
    levels = [_Level(np.arange(vocab_size, dtype=np.int64), unigram, np.zeros(vocab_size, np.int64))]
    for n in range(2, order + 1):
        keys, counts = counts_by_order[n]
        lower = levels[-1]
        lower_prob = _lookup(lower.keys, lower.prob, keys & ((1 << (BITS * (n - 1))) - 1), 0.0)
        prob, _, _ = _interpolate(keys, counts, lower_prob)
        levels.append(_Level(keys, prob, counts))
    return levels


def prune_to_backoff(
    levels: list[_Level], thresholds: Sequence[int]
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """Keep n-grams whose count reaches the order's threshold (and every context of a kept longer
    n-gram, so each backoff weight has a home); turn the model into backoff form.

    Returns per order n≥1: (kept keys, probability) and per context order: (context keys, backoff)."""
    order = len(levels)
    keep: dict[int, np.ndarray] = {}
    # contexts that end in <s> (line starts) are never n-grams themselves: they get a zero-probability entry
    padding: dict[int, np.ndarray] = {}
    for n in range(order, 1, -1):
        level = levels[n - 1]
        mask = level.counts >= thresholds[n - 2]
        if n < order:
            higher = levels[n].keys[keep[n + 1]]
            contexts = np.unique(higher >> BITS)
            index = np.minimum(np.searchsorted(level.keys, contexts), len(level.keys) - 1)
            found = level.keys[index] == contexts
            mask[index[found]] = True
            padding[n] = contexts[~found]
        keep[n] = mask
    kept: list[tuple[np.ndarray, np.ndarray]] = [(levels[0].keys, levels[0].prob)]
    backoffs: list[tuple[np.ndarray, np.ndarray]] = []
    for n in range(2, order + 1):
        level = levels[n - 1]
        keys, prob = level.keys[keep[n]], level.prob[keep[n]]
        if n in padding and len(padding[n]):
            keys = np.concatenate([keys, padding[n]])
            prob = np.concatenate([prob, np.zeros(len(padding[n]))])
            order_index = np.argsort(keys, kind="stable")
            keys, prob = keys[order_index], prob[order_index]
        suffix = keys & ((1 << (BITS * (n - 1))) - 1)
        lower_of_kept = _backoff_prob(suffix, n - 1, kept, backoffs)
        context = keys >> BITS
        if len(keys):
            starts = _group_starts(context)
            kept_mass = np.add.reduceat(prob, starts)
            lower_mass = np.add.reduceat(lower_of_kept, starts)
            numerator = np.clip(1.0 - kept_mass, 1e-9, None)
            denominator = np.clip(1.0 - lower_mass, 1e-9, None)
            backoffs.append((context[starts], numerator / denominator))
        else:
            backoffs.append((np.zeros(0, np.int64), np.zeros(0)))
        kept.append((keys, prob))
    return kept, backoffs


def _backoff_prob(
    keys: np.ndarray,
    n: int,
    kept: list[tuple[np.ndarray, np.ndarray]],
    backoffs: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """P(w | context) of n-grams `keys` under the pruned backoff model built so far (orders ≤ n)."""
    if n == 1:
        return kept[0][1][keys]
    level_keys, level_prob = kept[n - 1]
    found = _lookup(level_keys, level_prob, keys, -1.0)
    context_keys, context_bo = backoffs[n - 2]
    bo = _lookup(context_keys, context_bo, keys >> BITS, 1.0)
    lower = _backoff_prob(keys & ((1 << (BITS * (n - 1))) - 1), n - 1, kept, backoffs)
    return np.where(found >= 0, found, bo * lower)


def build_lm(
    corpora: Sequence[EncodedCorpus], vocabulary: Vocabulary, order: int, thresholds: Sequence[int]
) -> dict[str, np.ndarray]:
    """Count, estimate, prune and pack the LM of `order` over the weighted corpora."""
    parts = []
    for corpus in corpora:
        ids = vocabulary.remap[corpus.ids]
        keys, counts = count_ngrams(ids, order)
        parts.append((keys, counts * corpus.weight))
    keys, counts = merge_counts(parts)
    levels = estimate_kneser_ney(keys, counts, order, len(vocabulary.words))
    kept, backoffs = prune_to_backoff(levels, thresholds)
    arrays = pack_model(vocabulary.words, vocabulary.is_syllable, kept, backoffs)
    arrays.update(vocabulary.spelling.to_arrays())
    return arrays
