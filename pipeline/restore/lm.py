"""The syllable n-gram LM at run time: compact packed arrays, vectorised backoff scoring, and the
hash tables built from them, cached on disk so that later loads read them instead of building them."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import MissingDependencyError
from pipeline.restore import kernels
from pipeline.restore.kernels import BITS as BITS  # the packed key layout, re-exported
from pipeline.restore.kernels import HASH_MULTIPLIER, PAYLOAD_SHIFT
from pipeline.restore.kernels import KEY_MASK as KEY_MASK
from pipeline.restore.tokens import ABBR, BOS, CODE, EOS, NUM, PUNCT, UNK, URL

ID_MASK = (1 << BITS) - 1
SPECIALS = (BOS, EOS, UNK, NUM, CODE, URL, PUNCT, ABBR)
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2
ABBR_ID = SPECIALS.index(ABBR)


class SpellingModel:
    """P(spelling | the word is outside the vocabulary): letters drawn one by one from the letters of
    the corpus's out-of-vocabulary words, geometric length. Symbols inside words are rare there, so a
    token like `ma&i` is a poor word and a likely OCR garbling."""

    def __init__(self, chars: dict[str, float], unseen: float, stop: float) -> None:
        self.chars = chars  # ln P(char)
        self.unseen = unseen  # ln P of a character never seen in such words
        self.stop = stop  # ln P(word ends after a character)
        self.go_on = float(np.log1p(-np.exp(stop)))

    def logp(self, word: str) -> float:
        chars = self.chars
        letters = sum(chars.get(c, self.unseen) for c in word)
        return letters + self.stop + self.go_on * max(len(word) - 1, 0)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> SpellingModel:
        chars = {
            str(c): float(v)
            for c, v in zip(arrays["spell_chars"], arrays["spell_logp"], strict=True)
            if str(c)
        }
        return cls(chars, float(arrays["spell_unseen"]), float(arrays["spell_stop"]))


LOAD_SPREAD = 2.0  # home slots per key: misses (most backoff queries) probe 2.5 slots on average


class HashIndex:
    """Open-addressing (linear probing) hash of packed n-gram keys, each with a small payload (the
    quantised scores): one random memory access per probe, instead of the ~20 of a binary search over
    millions of keys. Keys of up to 47 bits share one int64 slot with their payload; longer keys
    (4-grams) are held in a second array beside their payloads."""

    def __init__(self, keys: np.ndarray, payload: np.ndarray) -> None:
        """`payload`: one integer below 2^16 per key (so that a slot stays non-negative)."""
        self.slots = np.uint64(max(16, int(len(keys) * LOAD_SPREAD)))  # home slots: 0 .. slots − 1
        self.payload: np.ndarray | None
        home = self._home(keys)
        # keys by home slot; the order among keys of one home does not matter (a lookup compares
        # whole keys), so numpy's fast unstable sort of 32-bit values does
        order = np.argsort(home.astype(np.uint32)) if len(keys) else np.zeros(0, dtype=np.intp)
        rank = np.arange(len(keys), dtype=np.int64)
        # linear probing without wrap-around, in closed form: the k-th key by home slot lands on
        # max(its home, the previous key's slot + 1); one empty slot at the end stops every probe
        final = home[order]
        final -= rank
        np.maximum.accumulate(final, out=final)
        final += rank
        size = max(int(self.slots), int(final.max(initial=0)) + 1) + 1
        self.table = np.full(size, -1, dtype=np.int64)
        if not len(keys) or int(keys.max()) < KEY_MASK:
            packed = keys[order]
            packed |= payload[order].astype(np.int64) << PAYLOAD_SHIFT
            self.table[final] = packed
            self.payload = None
        else:
            self.table[final] = keys[order]
            self.payload = np.zeros(size, dtype=np.uint16)
            self.payload[final] = payload[order]

    @classmethod
    def stored(cls, slots: int, table: np.ndarray, payload: np.ndarray | None) -> HashIndex:
        """An index over tables an earlier one built (`arrays`), e.g. read from the LM's cache."""
        index = cls.__new__(cls)
        index.slots, index.table, index.payload = np.uint64(slots), table, payload
        return index

    def arrays(self) -> dict[str, np.ndarray]:
        """What `stored` needs to rebuild this index without building it."""
        arrays = {"slots": np.array(int(self.slots), dtype=np.int64), "table": self.table}
        if self.payload is not None:
            arrays["payload"] = self.payload
        return arrays

    def _home(self, keys: np.ndarray) -> np.ndarray:
        # the hash's top 32 bits scaled to the number of slots (no power-of-two table: less memory
        # to allocate and fill when the models load); keys are non-negative, so viewed as unsigned
        hashed = np.asarray(keys, dtype=np.int64).view(np.uint64) * HASH_MULTIPLIER
        hashed >>= np.uint64(32)
        hashed *= self.slots
        hashed >>= np.uint64(32)
        return hashed.view(np.int64)

    def find(self, queries: np.ndarray) -> np.ndarray:
        """Payload of every query key, −1 where absent (empty slots hold −1)."""
        queries = np.ascontiguousarray(queries, dtype=np.int64)
        return kernels.find_keys(self.table, self.packed_payload, self.slots, queries)

    @property
    def packed_payload(self) -> np.ndarray:
        """The payload array as the kernels take it: empty where payloads are packed in the slots."""
        return self.payload if self.payload is not None else _NO_PAYLOAD

    def fits(self, codes: int, backoff_codes: int) -> bool:
        """Whether the compiled lookups stay inside this index and its codebooks (`codes` log-probability
        entries; `backoff_codes` backoff entries, 0 for none): a flat int64 table longer than its home
        slots that ends with an empty slot (every probe stops there), no slot below −1 (empty), one
        payload per slot (or packed in it), every payload's codes within the codebooks. Checked once
        per load, so that the loops need no bounds check per lookup."""
        table = self.table
        if table.ndim != 1 or table.dtype != np.int64 or not 0 < int(self.slots) < len(table):
            return False
        if table[-1] != -1 or int(table.min()) < -1:
            return False
        if self.payload is None:
            payloads = table >> PAYLOAD_SHIFT  # −1 in empty slots
            top = int(table.max()) >> PAYLOAD_SHIFT  # the payload sits above the key: the largest slot's is largest
        elif self.payload.dtype != np.uint16 or self.payload.shape != table.shape:
            return False
        else:
            payloads = self.payload
            top = int(payloads.max())
        if backoff_codes and top >> 8 >= backoff_codes:
            return False
        if codes < 256:  # (else every 8-bit code is in the codebook)
            used = payloads[table != -1]
            return not len(used) or int((used & 0xFF).max()) < codes
        return True


_NO_PAYLOAD = np.zeros(0, dtype=np.uint16)


@dataclass
class _Order:
    index: HashIndex  # payload: log-probability code, backoff code << 8
    logp: np.ndarray  # float32 codebook of ln P(w | context)
    backoff: np.ndarray | None  # float32 codebook of ln backoff when the n-gram is a context


class NgramModel:
    """Backoff n-gram model over unit ids; `score` works on whole arrays of n-grams at once."""

    def __init__(self, arrays: Mapping[str, np.ndarray], indexes: Mapping[int, HashIndex] | None = None) -> None:
        """`arrays`: the model file's; `indexes`: its n-gram hash indexes by order, already built (see
        `load`), else they are built here."""
        self.words: list[str] = arrays["words"].tolist()
        self.index = dict(zip(self.words, range(len(self.words)), strict=True))
        self.is_syllable = arrays["is_syllable"].astype(bool)
        self.order = int(arrays["order"])
        self.uni_logp = arrays["uni_logp"].astype(np.float32)  # Kneser–Ney: a continuation probability
        self.freq_logp = arrays["freq_logp"].astype(np.float32)  # ln share of the corpus's units
        self.uni_bo = arrays["uni_bo"].astype(np.float32)
        self.spelling = SpellingModel.from_arrays(arrays)
        self.orders: dict[int, _Order] = {}
        for n in range(2, self.order + 1):
            index = indexes[n] if indexes is not None else build_index(arrays, n)
            backoff = arrays[f"boq{n}"].astype(np.float32) if f"boq{n}" in arrays else None
            self.orders[n] = _Order(index, arrays[f"lpq{n}"].astype(np.float32), backoff)
        if not self._fits():
            raise MissingDependencyError("restoration model damaged (tables out of range): run `make models`")
        # the unigram arrays as the compiled loops index them, with any key's unit
        self._padded_logp, self._padded_bo = _padded(self.uni_logp), _padded(self.uni_bo)
        kernels.prepare()  # the loops are about to run: their compiled code may be cached now

    def _fits(self) -> bool:
        """Whether every array the compiled loops index holds what they index it with (see
        `HashIndex.fits`): a vocabulary whose ids fit in a packed key, unigram arrays of its size, and
        orders whose keys fit in 63 bits."""
        vocabulary = len(self.words)
        if not 1 <= vocabulary <= 1 << BITS or not 2 <= self.order <= 63 // BITS:
            return False
        if any(len(a) != vocabulary for a in (self.is_syllable, self.uni_logp, self.freq_logp, self.uni_bo)):
            return False
        return all(
            o.index.fits(len(o.logp), len(o.backoff) if o.backoff is not None else 0) for o in self.orders.values()
        )

    @classmethod
    def load(cls, path: Path, cache: Path | None = None) -> NgramModel:
        """The model of `path`. With `cache` (a folder), its hash indexes are read from the files an
        earlier load wrote there for the same model file (keyed by its SHA-256 and TABLE_FORMAT), or
        built and written there for the next load (atomically; an unwritable cache is skipped)."""
        with np.load(path, allow_pickle=False) as data:
            if cache is None:
                return cls(data)
            folder = cache / f"lm-{_digest(path)}-v{TABLE_FORMAT}"
            indexes = _read_indexes(folder)
            if indexes is not None:
                try:
                    return cls(data, indexes)
                except MissingDependencyError:
                    pass  # tables that passed their checksum yet do not fit: rebuilt below, never used
            order = int(data["order"])
            indexes = {n: build_index(data, n) for n in range(2, order + 1)}
            model = cls(data, indexes)  # a damaged model file raises here, before the cache is touched
            _write_indexes(folder, indexes)  # (in place of a damaged copy)
            return model

    def id_of(self, unit: str) -> int:
        return self.index.get(unit, UNK_ID)

    def score(self, keys: np.ndarray, n: int | None = None) -> np.ndarray:
        """ln P(last | preceding n-1 units) for packed n-gram keys (int64), with backoff. A unit id the
        vocabulary lacks (below 2^BITS) scores as <unk>; keys of more than n units are refused."""
        n = self.order if n is None else n
        if not 1 <= n <= self.order:
            raise ValueError(f"no {n}-grams in a model of order {self.order}")
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        # one pass, not one check per lookup in the compiled loop: viewed unsigned, a negative key is huge
        if keys.size and int(keys.view(np.uint64).max()) >> (BITS * n):
            raise ValueError(f"{n}-gram keys out of range")
        if n == 1:
            return self._padded_logp[keys]
        return kernels.score_keys(keys, n, *self._kernel_tables)

    @functools.cached_property
    def _kernel_tables(self) -> tuple[Any, ...]:
        """The orders' tables as `kernels.score_keys` takes them: tuples indexed by order."""
        none_f = np.zeros(0, dtype=np.float32)
        none_i = np.zeros(1, dtype=np.int64)
        orders = [self.orders.get(m) for m in range(self.order + 1)]
        return (
            tuple(o.index.table if o else none_i for o in orders),
            tuple(o.index.packed_payload if o else _NO_PAYLOAD for o in orders),
            np.array([int(o.index.slots) if o else 0 for o in orders], dtype=np.uint64),
            tuple(o.logp if o else none_f for o in orders),
            tuple(o.backoff if o and o.backoff is not None else none_f for o in orders),
            self._padded_logp,
            self._padded_bo,
        )


def _padded(unigram: np.ndarray) -> np.ndarray:
    """A unigram array extended to every id a packed key can hold, the ids beyond the vocabulary
    scoring as <unk>: the compiled loops index it with any key's unit and never read past it."""
    padded = np.full(1 << BITS, unigram[UNK_ID], dtype=np.float32)
    padded[: len(unigram)] = unigram
    return padded


TABLE_FORMAT = 2  # the layout of HashIndex's tables: raise it when that changes, so that caches are rebuilt


def build_index(arrays: Mapping[str, np.ndarray], n: int) -> HashIndex:
    """The hash index of the model's n-grams of order `n` (payload: log-probability code, backoff
    code << 8), from the file's trie: context deltas, child counts, last ids."""
    contexts = np.cumsum(arrays[f"ctx{n}"].astype(np.int64))
    keys = np.repeat(contexts, arrays[f"cnt{n}"])
    keys <<= BITS
    keys |= arrays[f"w{n}"]
    payload = arrays[f"lp{n}"].astype(np.int64)
    if f"bo{n}" in arrays:
        payload |= arrays[f"bo{n}"].astype(np.int64) << 8
    return HashIndex(keys, payload)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:32]


def _read_indexes(folder: Path) -> dict[int, HashIndex] | None:
    """The indexes cached in `folder`; None when there are none, they cannot be read, or their checksum
    (written with them) does not match: a damaged copy is never used. They are read into memory
    rather than memory-mapped: numpy backs large arrays with huge pages, and lookups in the mapped
    file's 4 KiB pages were 3–6 % slower (TLB misses: every lookup is a random access)."""
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".npy"))
        arrays = {name[: -len(".npy")]: np.load(folder / name, allow_pickle=False) for name in names}
        expected = arrays.pop(CHECKSUM, None)
        if expected is None or expected.shape != () or int(expected) != _checksum(arrays):
            return None
    except (OSError, EOFError, TypeError, ValueError):  # (an empty file raises EOFError)
        return None
    indexes = {}
    try:
        for name, slots in arrays.items():
            if name.startswith("slots"):
                n = int(name[len("slots") :])
                indexes[n] = HashIndex.stored(int(slots), arrays[f"table{n}"], arrays.get(f"payload{n}"))
    except (KeyError, TypeError, ValueError):
        return None
    return indexes or None


CHECKSUM = "checksum"  # the cached file holding the CRC-32 of the others


def _checksum(arrays: Mapping[str, np.ndarray]) -> int:
    """CRC-32 of the arrays' names, types, shapes and bytes, in name order (~1 GB/s)."""
    crc = 0
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(f"{name}:{array.dtype.str}:{array.shape}".encode(), crc)
        crc = zlib.crc32(array.data, crc)
    return crc


STALE_WRITE_SECONDS = 3600  # a temporary folder this old was left by a writer that was killed


def _prune_cache(cache: Path, now: float) -> None:
    """Remove what no load will read again: tables of another TABLE_FORMAT, and temporary folders of
    writers killed mid-write (a live writer's folder is minutes old at most). Tables of other model
    files stay: another models folder (CONGVAN_MODELS) may still use them."""
    for entry in cache.glob("*lm-*"):
        temporary = entry.name.startswith(".lm-")
        if temporary:
            try:
                stale = now - entry.stat().st_mtime > STALE_WRITE_SECONDS
            except OSError:
                continue
        else:
            stale = not entry.name.endswith(f"-v{TABLE_FORMAT}")
        if stale and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def _write_indexes(folder: Path, indexes: Mapping[int, HashIndex]) -> None:
    """Write the indexes into `folder` as .npy files with their checksum: into a temporary folder beside
    it, renamed into place whole (replacing a damaged copy), so that a reader sees all of them or none
    (a concurrent writer's copy wins). What earlier writers left that no load reads again is pruned
    first."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _prune_cache(folder.parent, time.time())
        temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError:
        return  # a read-only place: every load builds the indexes
    try:
        arrays = {f"{name}{n}": array for n, index in indexes.items() for name, array in index.arrays().items()}
        arrays[CHECKSUM] = np.array(_checksum(arrays), dtype=np.int64)
        for name, array in arrays.items():
            with (temporary / f"{name}.npy").open("wb") as handle:
                np.save(handle, array)
                handle.flush()
                os.fsync(handle.fileno())  # on disk before the rename: a crash leaves no half file in place
        if folder.exists():  # a damaged copy (`load` writes only what it could not read)
            shutil.rmtree(folder, ignore_errors=True)
        os.rename(temporary, folder)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
