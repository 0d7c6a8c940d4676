"""The syllable n-gram LM at run time: compact packed arrays, vectorised backoff scoring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.restore.tokens import ABBR, BOS, CODE, EOS, NUM, PUNCT, UNK, URL

BITS = 15  # bits per unit id inside a packed n-gram key (vocabulary < 32768)
ID_MASK = (1 << BITS) - 1
SPECIALS = (BOS, EOS, UNK, NUM, CODE, URL, PUNCT, ABBR)
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2
ABBR_ID = SPECIALS.index(ABBR)
LEVELS = 256  # quantisation levels of log-probabilities and backoff weights


def _quantize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        codes, codebook = _quantize(np.log(np.clip(prob, 1e-30, None)))
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
            bo_codes, bo_codebook = _quantize(full)
            arrays[f"bo{n}"] = bo_codes
            arrays[f"boq{n}"] = bo_codebook
    return arrays


class SpellingModel:
    """P(spelling | the word is outside the vocabulary): letters drawn one by one from the letters of
    the corpus's out-of-vocabulary words, geometric length. Symbols inside words are rare there, so a
    token like `ma&i` is a poor word and a likely OCR garbling."""

    def __init__(self, chars: dict[str, float], unseen: float, stop: float) -> None:
        self.chars = chars  # ln P(char)
        self.unseen = unseen  # ln P of a character never seen in such words
        self.stop = stop  # ln P(word ends after a character)
        self.go_on = float(np.log1p(-np.exp(stop)))

    @classmethod
    def estimate(cls, words: Sequence[tuple[str, int]]) -> SpellingModel:
        counts: dict[str, int] = {}
        total = tokens = 0
        for word, count in words:
            for char in word.lower():
                counts[char] = counts.get(char, 0) + count
            total += count * len(word)
            tokens += count
        if not total:
            return cls({}, float(np.log(1 / 64)), float(np.log(1 / 5)))
        chars = {c: float(np.log(n / (total + 1))) for c, n in counts.items()}
        return cls(chars, float(np.log(0.5 / (total + 1))), float(np.log(tokens / total)))

    def logp(self, word: str) -> float:
        chars = self.chars
        letters = sum(chars.get(c, self.unseen) for c in word)
        return letters + self.stop + self.go_on * max(len(word) - 1, 0)

    def to_arrays(self) -> dict[str, np.ndarray]:
        ordered = sorted(self.chars)
        return {
            "spell_chars": np.array(ordered if ordered else [""]),
            "spell_logp": np.array(
                [self.chars[c] for c in ordered] if ordered else [self.unseen], np.float32
            ),
            "spell_unseen": np.array(self.unseen),
            "spell_stop": np.array(self.stop),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SpellingModel:
        chars = {
            str(c): float(v)
            for c, v in zip(arrays["spell_chars"], arrays["spell_logp"], strict=True)
            if str(c)
        }
        return cls(chars, float(arrays["spell_unseen"]), float(arrays["spell_stop"]))


_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing


PAYLOAD_SHIFT = 47  # a hash slot holds a packed n-gram key (≤ 45 bits) and a 16-bit payload above it
KEY_MASK = (1 << PAYLOAD_SHIFT) - 1


class HashIndex:
    """Open-addressing (linear probing) hash of packed n-gram keys, each slot holding its key and a
    small payload (the quantised scores) in one int64: one random memory access per probe, instead
    of the ~20 of a binary search over millions of keys."""

    def __init__(self, keys: np.ndarray, payload: np.ndarray) -> None:
        """`payload`: one integer below 2^16 per key (so that a slot stays non-negative)."""
        self.bits = max(4, int(np.ceil(np.log2(max(1, len(keys)) * 1.6))))
        home = self._home(keys)
        order = _radix_order(home)
        rank = np.arange(len(keys), dtype=np.int64)
        # linear probing without wrap-around, in closed form: the k-th key by home slot lands on
        # max(its home, the previous key's slot + 1); one empty slot at the end stops every probe
        final = np.maximum.accumulate(home[order] - rank) + rank if len(keys) else rank
        self.table = np.full(max(1 << self.bits, int(final.max(initial=0)) + 1) + 1, -1, dtype=np.int64)
        self.table[final] = keys[order] | (payload[order].astype(np.int64) << PAYLOAD_SHIFT)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        hashed = keys.astype(np.uint64) * _HASH_MULTIPLIER
        return (hashed >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Payload of every query key, −1 where absent (empty slots hold −1)."""
        found_payload = np.full(len(queries), -1, dtype=np.int64)
        position = self._home(queries)
        active = np.arange(len(queries))
        table = self.table
        while len(active):
            found = table[position]
            wanted = queries[active]
            empty = found == -1
            hit = ((found & KEY_MASK) == wanted) & ~empty
            found_payload[active[hit]] = found[hit] >> PAYLOAD_SHIFT
            going = ~(hit | empty)
            active, position = active[going], position[going] + 1
        return found_payload


def _radix_order(values: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative ints below 2^32 by two 16-bit radix passes (numpy radix-sorts
    16-bit keys), several times faster than a comparison sort over millions of hash slots."""
    low = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
    high = np.argsort((values[low] >> 16).astype(np.uint16), kind="stable")
    return low[high]


@dataclass
class _Order:
    index: HashIndex  # payload: log-probability code, backoff code << 8
    logp: np.ndarray  # float32 codebook of ln P(w | context)
    backoff: np.ndarray | None  # float32 codebook of ln backoff when the n-gram is a context


class NgramModel:
    """Backoff n-gram model over unit ids; `score` works on whole arrays of n-grams at once."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.words: list[str] = [str(w) for w in arrays["words"]]
        self.index = {w: i for i, w in enumerate(self.words)}
        self.is_syllable = arrays["is_syllable"].astype(bool)
        self.order = int(arrays["order"])
        self.uni_logp = arrays["uni_logp"].astype(np.float32)
        self.uni_bo = arrays["uni_bo"].astype(np.float32)
        self.spelling = SpellingModel.from_arrays(arrays)
        self.orders: dict[int, _Order] = {}
        for n in range(2, self.order + 1):
            contexts = np.cumsum(arrays[f"ctx{n}"].astype(np.int64))
            keys = (np.repeat(contexts, arrays[f"cnt{n}"].astype(np.int64)) << BITS) | arrays[f"w{n}"].astype(
                np.int64
            )
            payload = arrays[f"lp{n}"].astype(np.int64)
            backoff = None
            if f"bo{n}" in arrays:
                payload |= arrays[f"bo{n}"].astype(np.int64) << 8
                backoff = arrays[f"boq{n}"].astype(np.float32)
            self.orders[n] = _Order(HashIndex(keys, payload), arrays[f"lpq{n}"].astype(np.float32), backoff)

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        with np.load(path, allow_pickle=False) as data:
            return cls({name: data[name] for name in data.files})

    def id_of(self, unit: str) -> int:
        return self.index.get(unit, UNK_ID)

    def score(self, keys: np.ndarray, n: int | None = None) -> np.ndarray:
        """ln P(last | preceding n-1 units) for packed n-gram keys (int64), with backoff."""
        n = self.order if n is None else n
        if n == 1:
            return self.uni_logp[keys]
        table = self.orders[n]
        payload = table.index.find(keys)
        hit = payload >= 0
        result = np.empty(len(keys), dtype=np.float32)
        result[hit] = table.logp[payload[hit] & 0xFF]
        miss = np.flatnonzero(~hit)
        if len(miss):
            missed = keys[miss]
            lower = self.score(missed & ((1 << (BITS * (n - 1))) - 1), n - 1)
            result[miss] = lower + self._backoff(missed >> BITS, n - 1)
        return result

    def _backoff(self, contexts: np.ndarray, n: int) -> np.ndarray:
        """ln backoff weight of n-gram contexts; 0 for contexts the model does not hold."""
        if n == 1:
            return self.uni_bo[contexts]
        table = self.orders[n]
        if table.backoff is None:
            return np.zeros(len(contexts), dtype=np.float32)
        payload = table.index.find(contexts)
        hit = payload >= 0
        result = np.zeros(len(contexts), dtype=np.float32)
        result[hit] = table.backoff[payload[hit] >> 8]
        return result
