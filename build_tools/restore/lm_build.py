"""Training of the syllable n-gram LM: corpus encoding, counting, interpolated modified Kneser–Ney, pruning."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from build_tools.restore.encode import EncodedCorpus
from pipeline.restore.lm import ABBR_ID, BITS, BOS_ID, ID_MASK, SPECIALS, UNK_ID, SpellingModel
from pipeline.restore.tokens import is_caps_word
from pipeline.vietnamese import could_be_syllable, is_valid, place_tone, tone_key

MIN_SYLLABLE_COUNT = 2  # weighted count a syllable needs to enter the vocabulary (drops one-off typos)
MIN_OTHER_COUNT = 40  # weighted count a non-syllable unit (abbreviation, foreign word) needs


LEVELS = 256  # quantisation levels of log-probabilities and backoff weights


def quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 codes and a float32 codebook (quantiles of the values, so dense regions get fine steps)."""
    if len(values) == 0:
        return np.zeros(0, np.uint8), np.zeros(1, np.float32)
    codebook = np.unique(np.quantile(values, np.linspace(0, 1, LEVELS)).astype(np.float32))
    mids = (codebook[1:] + codebook[:-1]) / 2
    codes = np.searchsorted(mids, values).astype(np.uint8)
    return codes, codebook


def pack_model(
    words: Sequence[str],
    is_syllable: np.ndarray,
    kept: Sequence[tuple[np.ndarray, np.ndarray]],
    backoffs: Sequence[tuple[np.ndarray, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Arrays to store with np.savez_compressed: a trie (contexts, child counts, last ids) per order."""
    order = len(kept)
    arrays: dict[str, np.ndarray] = {
        "words": np.array(list(words)),
        "is_syllable": is_syllable.astype(bool),
        "order": np.array(order),
        "uni_logp": np.log(np.clip(kept[0][1], 1e-30, None)).astype(np.float32),
    }
    uni_bo = np.zeros(len(words), dtype=np.float32)
    context_keys, context_bo = backoffs[0]
    uni_bo[context_keys] = np.log(context_bo)
    arrays["uni_bo"] = uni_bo
    for n in range(2, order + 1):
        keys, prob = kept[n - 1]
        context = keys >> BITS
        contexts, child_counts = np.unique(context, return_counts=True)
        codes, codebook = quantize(np.log(np.clip(prob, 1e-30, None)))
        arrays[f"ctx{n}"] = np.diff(contexts, prepend=np.int64(0)).astype(np.int64)
        arrays[f"cnt{n}"] = child_counts.astype(np.uint32)
        arrays[f"w{n}"] = (keys & ID_MASK).astype(np.uint16)
        arrays[f"lp{n}"] = codes
        arrays[f"lpq{n}"] = codebook
        if n < order:
            bo_keys, bo_values = backoffs[n - 1]
            # the contexts carrying a backoff weight at order n+1 are the kept n-grams themselves
            full = np.zeros(len(keys), dtype=np.float64)
            index = np.searchsorted(keys, bo_keys)
            if not np.array_equal(keys[np.minimum(index, len(keys) - 1)], bo_keys):
                raise ValueError(f"a backoff context of order {n} is missing from the kept n-grams")
            full[index] = np.log(bo_values)
            bo_codes, bo_codebook = quantize(full)
            arrays[f"bo{n}"] = bo_codes
            arrays[f"boq{n}"] = bo_codebook
    return arrays


def estimate_spelling(words: Sequence[tuple[str, int]]) -> SpellingModel:
    """How the words outside the vocabulary are spelt: letter frequencies and length, from (word, count)."""
    counts: dict[str, int] = {}
    total = tokens = 0
    for word, count in words:
        for char in word.lower():
            counts[char] = counts.get(char, 0) + count
        total += count * len(word)
        tokens += count
    if not total:
        return SpellingModel({}, float(np.log(1 / 64)), float(np.log(1 / 5)))
    chars = {c: float(np.log(n / (total + 1))) for c, n in counts.items()}
    return SpellingModel(chars, float(np.log(0.5 / (total + 1))), float(np.log(tokens / total)))


def spelling_arrays(model: SpellingModel) -> dict[str, np.ndarray]:
    """What `SpellingModel.from_arrays` reads back."""
    ordered = sorted(model.chars)
    return {
        "spell_chars": np.array(ordered if ordered else [""]),
        "spell_logp": np.array([model.chars[c] for c in ordered] if ordered else [model.unseen], np.float32),
        "spell_unseen": np.array(model.unseen),
        "spell_stop": np.array(model.stop),
    }


@dataclass
class Vocabulary:
    """Final LM vocabulary: specials, then syllables (one entry per tone key), then other units."""

    words: list[str]  # the surface form the restorer writes
    is_syllable: np.ndarray  # bool per id
    remap: np.ndarray  # provisional id → final id
    spelling: SpellingModel  # how the words the LM calls <unk> are spelt
    frequency: np.ndarray  # float64 per id: share of the weighted corpus's units (0 for the specials)


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
    counts = np.bincount(remap, weights=weighted, minlength=len(words))
    counts[: len(SPECIALS)] = 0.0
    return Vocabulary(words, is_syllable, remap, estimate_spelling(unknown), counts / max(counts.sum(), 1.0))


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
    keys: np.ndarray, counts: np.ndarray, lower: np.ndarray, occurrences: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolated KN probabilities of `keys` given each key's lower-order probability `lower`.

    `occurrences`: how often each n-gram occurs, where `counts` are weighted (the corpora count 1, 2
    or 4 times): the discounts are estimated on occurrences and scaled by each n-gram's weight, so
    that an n-gram seen once in a text weighted 4 keeps a singleton's discount (estimated on the
    weighted counts, the counts of counts are those of the weights, and the discount of frequent
    n-grams falls to 0: a context seen with one continuation would leave nothing to back off with).

    Returns (probabilities, context keys, backoff mass γ per context)."""
    context = keys >> BITS
    starts = _group_starts(context)
    group = np.cumsum(np.r_[False, context[1:] != context[:-1]])
    total = np.add.reduceat(counts.astype(np.float64), starts)
    if occurrences is None:
        disc = discounts(counts)[np.minimum(counts, 3)]
    else:
        disc = discounts(occurrences)[np.minimum(occurrences, 3)] * (counts / occurrences)
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
    top_keys: np.ndarray,
    top_counts: np.ndarray,
    order: int,
    vocab_size: int,
    top_occurrences: np.ndarray | None = None,
) -> list[_Level]:
    """Interpolated modified Kneser–Ney for every order 1..`order` from the top-order counts
    (weighted; `top_occurrences`: unweighted, see `_interpolate`).

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
        prob, _, _ = _interpolate(keys, counts, lower_prob, top_occurrences if n == order else None)
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
    weighted, occurring = [], []
    for corpus in corpora:
        ids = vocabulary.remap[corpus.ids]
        keys, counts = count_ngrams(ids, order)
        weighted.append((keys, counts * corpus.weight))
        occurring.append((keys, counts))
    keys, counts = merge_counts(weighted)
    _, occurrences = merge_counts(occurring)
    levels = estimate_kneser_ney(keys, counts, order, len(vocabulary.words), occurrences)
    kept, backoffs = prune_to_backoff(levels, thresholds)
    arrays = pack_model(vocabulary.words, vocabulary.is_syllable, kept, backoffs)
    arrays.update(spelling_arrays(vocabulary.spelling))
    # how often each word is used, for ranking a token's candidates: the Kneser–Ney unigram is a
    # continuation probability, low for words of fixed phrases (dõi, almost only in theo dõi)
    arrays["freq_logp"] = np.log(np.clip(vocabulary.frequency, 1e-12, None)).astype(np.float32)
    return arrays
